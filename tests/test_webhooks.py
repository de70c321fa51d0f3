"""Platforms and Redress talking by signed webhooks, both ways.

Outgoing: each platform that holds a record is told, as JSON signed with HMAC-SHA256 over
the timestamp and the body with its own secret, to flag the record disputed, withdraw it
or publish it again; every call carries the message's ``Idempotency-Key`` so that a
platform keeps one of each however often it arrives. ``tests/receiver.py`` is a
reference receiver that does what a platform must: verify, refuse stale calls, and
de-duplicate on the key.

Incoming: a platform confirms a withdrawal with ``POST /api/v1/platforms/<code>/
acknowledgements/``, signed the same way. The acknowledgement of the last platform
completes the case's removal step (``await_removal``) and opens the appeal window; a
replay, a stale or forged call, or a call about someone else's publication changes
nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import time

import pytest
import urllib3
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from viewflow.workflow.status import STATUS

from cases.models import (
    Case,
    CaseRecord,
    Measure,
    Publication,
    PublicationEffect,
    Role,
)
from notifications import delivery, signing
from notifications.models import Message, WebhookReceipt
from tests import factories
from tests.flow_helpers import (
    APPROVED,
    PARTLY_APPROVED,
    REJECTED,
    accept,
    file_objection,
    file_restoration,
    open_steps,
    publication_statuses,
    refresh,
    review,
    sign,
    tasks_of,
    worker_renders_letters,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import pdf_upload, restorable_record
from tests.notification_helpers import free_port, messages_of, notification_timeline
from tests.receiver import WebhookReceiver
from workflows import actions

SECRETS = {"creditchina": "s3cret-creditchina-0123456789", "gsxt": "s3cret-gsxt-9876543210"}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def receivers(platforms):
    """A running receiver per platform, each with the platform's own secret."""
    running = {}
    for platform in platforms:
        receiver = WebhookReceiver(SECRETS[platform.code]).start()
        platform.webhook_secret = SECRETS[platform.code]
        platform.webhook_url = receiver.url
        platform.save(update_fields=["webhook_secret", "webhook_url"])
        running[platform.code] = receiver
    yield running
    for receiver in running.values():
        receiver.stop()


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


def webhooks_of(case, **filters) -> list[Message]:
    return messages_of(case, channel=Message.Channel.WEBHOOK, **filters)


def deliver_all(messages) -> list[str]:
    return [delivery.deliver(m.pk) for m in messages]


def approved(company, record, applicant, staff) -> Case:
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    return sign(case, staff["signer"], APPROVED)


# --- signing ----------------------------------------------------------------------------------


NOW = 1_760_000_000


def test_the_signature_covers_the_timestamp_and_the_exact_body():
    body = b'{"action":"record_disputed"}'
    expected = hmac.new(b"k", f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()

    assert signing.signature("k", NOW, body) == f"v1={expected}"
    assert signing.signature("k", NOW + 1, body) != signing.signature("k", NOW, body)
    assert signing.signature("k", NOW, body + b" ") != signing.signature("k", NOW, body)
    assert signing.signature("other", NOW, body) != signing.signature("k", NOW, body)


def test_signed_headers_verify_with_the_same_secret_and_no_other():
    body = b'{"publication": 1}'
    headers = signing.signed_headers("k", body, idempotency_key="abc", now=NOW)

    assert headers[signing.IDEMPOTENCY_HEADER] == "abc"
    assert headers["Content-Type"] == "application/json"

    def check(key="k", *, body=body, now=NOW, **changes):
        sent = {**headers, **changes}
        return signing.verify(
            key,
            timestamp=sent[signing.TIMESTAMP_HEADER],
            signature_value=sent[signing.SIGNATURE_HEADER],
            body=body,
            now=now,
        )

    assert check() == signing.Verdict(True)
    assert "does not match" in check("other").reason
    assert "does not match" in check(body=body.replace(b"1", b"2")).reason
    assert "does not match" in check(**{signing.TIMESTAMP_HEADER: str(NOW - 1)}).reason
    assert "does not match" in check(**{signing.SIGNATURE_HEADER: "v1=" + "0" * 64}).reason
    assert "no shared secret" in check("").reason


@pytest.mark.parametrize(
    ("skew", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (-86400, False)]
)
def test_a_call_more_than_the_tolerance_away_from_our_clock_is_stale(skew, ok):
    body = b"{}"
    headers = signing.signed_headers("k", body, idempotency_key="abc", now=NOW + skew)

    verdict = signing.verify(
        "k",
        timestamp=headers[signing.TIMESTAMP_HEADER],
        signature_value=headers[signing.SIGNATURE_HEADER],
        body=body,
        now=NOW,
    )

    assert verdict.ok is ok
    if not ok:
        assert verdict.reason == "stale call: the timestamp is more than 300 s off"


def test_the_tolerance_can_be_tightened():
    headers = signing.signed_headers("k", b"{}", idempotency_key="abc", now=NOW - 10)
    verdict = signing.verify(
        "k",
        timestamp=headers[signing.TIMESTAMP_HEADER],
        signature_value=headers[signing.SIGNATURE_HEADER],
        body=b"{}",
        now=NOW,
        tolerance=5,
    )
    assert verdict.ok is False
    assert "5 s" in verdict.reason


@pytest.mark.parametrize(
    ("timestamp", "signature_value", "reason"),
    [
        (None, "v1=00", "missing X-Redress-Timestamp or X-Redress-Signature"),
        (str(NOW), None, "missing X-Redress-Timestamp or X-Redress-Signature"),
        ("", "", "missing X-Redress-Timestamp or X-Redress-Signature"),
        ("yesterday", "v1=00", "X-Redress-Timestamp is not a Unix time"),
        (f"{NOW}.5", "v1=00", "X-Redress-Timestamp is not a Unix time"),
    ],
)
def test_a_call_without_a_usable_timestamp_or_signature_is_refused(
    timestamp, signature_value, reason
):
    verdict = signing.verify(
        "k", timestamp=timestamp, signature_value=signature_value, body=b"{}", now=NOW
    )
    assert verdict == signing.Verdict(False, reason)


def test_signatures_are_compared_in_constant_time(monkeypatch):
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        as_text = [x.decode() if isinstance(x, bytes) else x for x in (a, b)]
        compared.append(tuple(as_text))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    good = signing.signature("k", NOW, b"{}")

    assert signing.verify("k", timestamp=str(NOW), signature_value=good, body=b"{}", now=NOW).ok
    assert not signing.verify(
        "k", timestamp=str(NOW), signature_value="v1=" + "f" * 64, body=b"{}", now=NOW
    ).ok
    assert compared == [(good, good), (good, "v1=" + "f" * 64)]


def test_a_signature_with_non_ascii_characters_is_refused_not_a_crash():
    verdict = signing.verify("k", timestamp=str(NOW), signature_value="v1=é", body=b"{}", now=NOW)
    assert verdict.ok is False


# --- outgoing: what each platform is sent -----------------------------------------------------


def test_accepting_an_objection_flags_the_record_disputed_on_every_platform_by_signed_webhook(
    company, agency, platforms, applicant, staff, record, receivers
):
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])
    sent = webhooks_of(case)
    assert sorted(m.platform.code for m in sent) == ["creditchina", "gsxt"]
    assert {m.kind for m in sent} == {"record_disputed"}

    assert deliver_all(sent) == ["sent", "sent"]

    for message in sent:
        [call] = receivers[message.platform.code].requests
        assert call.answered == 200 and call.verdict == "processed"  # the signature verified
        assert call.headers["Content-Type"] == "application/json"
        assert call.key == message.idempotency_key
        publication = record.publications.get(platform=message.platform)
        assert call.json == {
            "action": "record_disputed",
            "case": case.reference,
            "publication": publication.pk,
            "record": {
                "decision_no": record.decision_no,
                "list_type": "penalty_publication",
                "subject_code": company.code,
                "subject_name": company.name,
                "agency": agency.code,
                "status": "disputed",
                "corrected_text": "",
                "expires_on": record.expires_on.isoformat(),
            },
            "acknowledge_url": f"http://127.0.0.1:8000/api/v1/platforms/{message.platform.code}"
            "/acknowledgements/",
            "idempotency_key": message.idempotency_key,
        }
        assert notification_timeline(case, message) == ["notification_queued", "notification_sent"]
        sent_event = case.events.get(kind="notification_sent", data__message=message.pk)
        assert sent_event.data["to"] == message.platform.code
        assert sent_event.data["channel"] == "webhook"


def test_each_platform_signs_with_its_own_secret(
    company, platforms, applicant, staff, record, receivers
):
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])
    creditchina = next(m for m in webhooks_of(case) if m.platform.code == "creditchina")
    # Point creditchina's webhook at gsxt's receiver: signed with creditchina's secret, it
    # does not verify there.
    platforms[0].webhook_url = receivers["gsxt"].url
    platforms[0].save(update_fields=["webhook_url"])

    assert delivery.deliver(creditchina.pk) == "retrying"

    [call] = receivers["gsxt"].requests
    assert (call.answered, call.verdict) == (
        401,
        "the signature does not match the body and timestamp",
    )
    creditchina.refresh_from_db()
    assert creditchina.last_error == "DeliveryFailed: creditchina answered HTTP 401"


def test_an_approved_restoration_asks_every_platform_to_withdraw_the_record(
    company, applicant, staff, record, receivers
):
    case = approved(company, record, applicant, staff)
    withdrawals = webhooks_of(case, kind="record_withdrawal_requested")

    assert deliver_all(withdrawals) == ["sent", "sent"]

    for message in withdrawals:
        [call] = receivers[message.platform.code].requests
        assert call.json["action"] == "record_withdrawal_requested"
        assert call.json["record"]["status"] == "removed"
        assert call.json["acknowledge_url"].endswith(
            f"/api/v1/platforms/{message.platform.code}/acknowledgements/"
        )


def test_a_platform_that_receives_the_same_message_twice_processes_it_once(
    company, applicant, staff, record, receivers
):
    case = approved(company, record, applicant, staff)
    message = webhooks_of(case)[0]
    receiver = receivers[message.platform.code]
    assert delivery.deliver(message.pk) == "sent"

    # As a worker that died after the platform processed the call leaves it: being sent,
    # its lease run out. The sweep sends it again, with the same key.
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING, locked_until="2000-01-01T00:00:00Z"
    )
    assert message.pk in delivery.due_message_ids()
    assert delivery.deliver(message.pk) == "sent"

    assert receiver.keys_received() == [message.idempotency_key] * 2
    assert receiver.processed == [message.idempotency_key]
    assert [r.verdict for r in receiver.requests] == ["processed", "duplicate"]


def test_a_platform_answering_500_is_retried_until_it_answers(
    company, applicant, staff, record, receivers, settings
):
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 5
    case = approved(company, record, applicant, staff)
    message = webhooks_of(case)[0]
    receiver = receivers[message.platform.code]
    receiver.fail_first = 2

    outcomes = []
    for _ in range(3):
        outcomes.append(delivery.deliver(message.pk))
        Message.objects.filter(pk=message.pk).update(next_attempt_at="2000-01-01T00:00:00Z")

    assert outcomes == ["retrying", "retrying", "sent"]
    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert receiver.processed == [message.idempotency_key]
    assert notification_timeline(case, message) == [
        "notification_queued",
        "notification_failed",
        "notification_failed",
        "notification_sent",
    ]
    failed = case.events.filter(kind="notification_failed", data__message=message.pk).first()
    assert failed.note == f"DeliveryFailed: {message.platform.code} answered HTTP 500"


def test_a_platform_without_a_webhook_address_or_out_of_reach_is_retried_with_the_reason(
    company, applicant, staff, record, platforms
):
    case = approved(company, record, applicant, staff)
    creditchina, gsxt = sorted(webhooks_of(case), key=lambda m: m.platform.code)
    platforms[0].webhook_url = ""
    platforms[0].webhook_secret = "x"
    platforms[0].save(update_fields=["webhook_url", "webhook_secret"])
    platforms[1].webhook_url = f"http://127.0.0.1:{free_port()}/hook"
    platforms[1].webhook_secret = "x"
    platforms[1].save(update_fields=["webhook_url", "webhook_secret"])

    assert deliver_all([creditchina, gsxt]) == ["retrying", "retrying"]

    creditchina.refresh_from_db()
    gsxt.refresh_from_db()
    assert creditchina.last_error == (
        "DeliveryFailed: platform creditchina has no webhook URL configured"
    )
    assert gsxt.last_error.startswith(f"DeliveryFailed: could not reach {platforms[1].webhook_url}")


def test_a_platform_without_a_shared_secret_is_never_sent_an_unsigned_webhook(
    company, applicant, staff, record, receivers, platforms
):
    case = approved(company, record, applicant, staff)
    message = next(m for m in webhooks_of(case) if m.platform.code == "creditchina")
    platforms[0].webhook_secret = ""
    platforms[0].save(update_fields=["webhook_secret"])

    delivery.deliver(message.pk)

    assert receivers["creditchina"].calls() == 0


def test_rejecting_an_objection_tells_every_platform_to_lift_the_dispute_flag(
    company, applicant, staff, record, receivers
):
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], REJECTED)
    sign(case, staff["signer"], REJECTED)
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}

    after_decision = [m for m in webhooks_of(case) if m.kind != "record_disputed"]

    assert sorted(m.platform.code for m in after_decision) == ["creditchina", "gsxt"]


def test_revoking_a_partly_approved_restoration_republishes_only_what_was_withdrawn(
    company, agency, platforms, applicant, staff
):
    paid = restorable_record(company, agency, platforms)
    unpaid = restorable_record(company, agency, platforms)
    case = file_restoration(company, [paid, unpaid], applicant)
    accept(case, staff["intake"])
    outcomes = {paid.pk: "upheld", unpaid.pk: "rejected"}
    review(case, staff["case_officer"], PARTLY_APPROVED, record_outcomes=outcomes)
    sign(
        case,
        staff["signer"],
        PARTLY_APPROVED,
        reasons="Second fine unpaid.",
        record_outcomes=outcomes,
    )
    assert case.case_records.get(record=unpaid).outcome == CaseRecord.Outcome.REJECTED

    revoked_in_effect(
        case=case,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="The commitment was false.",
        evidence=[pdf_upload("revocation")],
    )

    republished = webhooks_of(case, kind="record_republished")
    assert {m.payload["record"]["decision_no"] for m in republished} == {paid.decision_no}


def test_the_reference_receiver_refuses_stale_or_forged_calls_and_keeps_one_of_each_key():
    http = urllib3.PoolManager(retries=False)
    body = b'{"action": "record_disputed"}'
    with WebhookReceiver("k") as receiver:

        def post(headers) -> int:
            return http.request("POST", receiver.url, body=body, headers=headers).status

        fresh = signing.signed_headers("k", body, idempotency_key="a")
        assert post(fresh) == 200
        assert post(fresh) == 200  # delivered again: answered, not processed again
        stale = signing.signed_headers("k", body, idempotency_key="b", now=time.time() - 301)
        assert post(stale) == 401
        assert post(signing.signed_headers("guess", body, idempotency_key="c")) == 401

    assert receiver.processed == ["a"]
    assert [r.verdict for r in receiver.requests] == [
        "processed",
        "duplicate",
        "stale call: the timestamp is more than 300 s off",
        "the signature does not match the body and timestamp",
    ]


# --- incoming: a platform acknowledges a withdrawal -------------------------------------------


ACK_URL = "/api/v1/platforms/{code}/acknowledgements/"


def ack(client, platform, body, *, key="ack-1", secret=None, timestamp=None, raw=None):
    """POST a signed acknowledgement as ``platform`` would."""
    content = raw if raw is not None else json.dumps(body).encode()
    headers = signing.signed_headers(
        secret if secret is not None else platform.webhook_secret,
        content,
        idempotency_key=key,
        now=timestamp if timestamp is not None else time.time(),
    )
    if key is None:
        headers.pop(signing.IDEMPOTENCY_HEADER)
    return client.post(
        ACK_URL.format(code=platform.code),
        data=content,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


@pytest.fixture
def removal(company, applicant, staff, record, platforms):
    """A restoration approved: both platforms asked to withdraw the record."""
    for platform in platforms:
        platform.webhook_secret = SECRETS[platform.code]
        platform.save(update_fields=["webhook_secret"])
    case = worker_renders_letters(approved(company, record, applicant, staff))
    assert case.status == Case.Status.REMOVAL
    return case


def publication_on(record, platform) -> Publication:
    return record.publications.get(platform=platform)


def test_the_last_platforms_acknowledgement_completes_removal_and_opens_the_appeal_window(
    client, removal, record, platforms, applicant
):
    creditchina, gsxt = platforms
    request = {m.platform.code: m for m in webhooks_of(removal, kind="record_withdrawal_requested")}

    first = ack(
        client,
        creditchina,
        {
            "publication": publication_on(record, creditchina).pk,
            "status": "withdrawn",
            "idempotency_key": request["creditchina"].idempotency_key,
            "note": "已撤下",
        },
        key="cc-1",
    )

    assert first.status_code == 200
    assert first.json() == {
        "status": "withdrawn",
        "publication": publication_on(record, creditchina).pk,
    }
    assert refresh(removal).status == Case.Status.REMOVAL
    assert open_steps(removal) == ["await_removal"]
    request["creditchina"].refresh_from_db()
    assert request["creditchina"].acknowledged_at is not None
    assert request["gsxt"].acknowledged_at is None

    second = ack(client, gsxt, {"publication": publication_on(record, gsxt).pk}, key="gs-1")

    assert second.status_code == 200
    case = refresh(removal)
    assert case.status == Case.Status.APPEAL_WINDOW
    assert publication_statuses(record) == {Publication.Status.WITHDRAWN}
    [await_removal] = tasks_of(case, "await_removal")
    assert await_removal.status == STATUS.DONE
    acknowledged = case.events.filter(kind="platform_acknowledged").order_by("seq")
    assert [(e.data["platform"], e.automated, e.actor_role) for e in acknowledged] == [
        ("creditchina", True, "platform"),
        ("gsxt", True, "platform"),
    ]
    assert acknowledged[0].note == "已撤下"
    assert set(WebhookReceipt.objects.values_list("platform__code", "idempotency_key")) == {
        ("creditchina", "cc-1"),
        ("gsxt", "gs-1"),
    }
    assert [m.recipient_user for m in messages_of(case, kind="removal_done")] == [applicant] * 2
    assert "platform_acknowledged" in notification_timeline(case)


def state_of(case, record) -> tuple:
    return (
        refresh(case).status,
        sorted(publication_statuses(record)),
        case.events.count(),
        WebhookReceipt.objects.count(),
    )


def test_a_replayed_acknowledgement_is_refused_and_changes_nothing(
    client, removal, record, platforms
):
    creditchina = platforms[0]
    body = {"publication": publication_on(record, creditchina).pk}
    assert ack(client, creditchina, body, key="cc-1").status_code == 200
    before = state_of(removal, record)

    again = ack(client, creditchina, body, key="cc-1")

    assert again.status_code == 409
    assert again.json()["code"] == "replayed"
    assert state_of(removal, record) == before


def test_an_acknowledgement_with_a_bad_signature_is_refused(client, removal, record, platforms):
    creditchina = platforms[0]
    before = state_of(removal, record)

    forged = ack(
        client, creditchina, {"publication": publication_on(record, creditchina).pk}, secret="guess"
    )

    assert forged.status_code == 401
    assert forged.json() == {
        "code": "bad_signature",
        "message": "Refused: the signature does not match the body and timestamp.",
    }
    assert state_of(removal, record) == before


def test_an_acknowledgement_signed_over_another_body_is_refused(client, removal, record, platforms):
    creditchina = platforms[0]
    signed = json.dumps({"publication": 0}).encode()
    headers = signing.signed_headers(creditchina.webhook_secret, signed, idempotency_key="k")
    body = json.dumps({"publication": publication_on(record, creditchina).pk}).encode()

    response = client.post(
        ACK_URL.format(code="creditchina"),
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )

    assert response.status_code == 401


def test_an_acknowledgement_with_a_garbled_signature_header_is_refused(
    client, removal, record, platforms
):
    creditchina = platforms[0]
    body = json.dumps({"publication": publication_on(record, creditchina).pk}).encode()

    response = client.post(
        ACK_URL.format(code="creditchina"),
        data=body,
        content_type="application/json",
        headers={
            signing.TIMESTAMP_HEADER: str(int(time.time())),
            signing.SIGNATURE_HEADER: "v1=é",
            signing.IDEMPOTENCY_HEADER: "k",
        },
    )

    assert response.status_code == 401


def test_a_stale_acknowledgement_is_refused(client, removal, record, platforms):
    creditchina = platforms[0]
    before = state_of(removal, record)

    stale = ack(
        client,
        creditchina,
        {"publication": publication_on(record, creditchina).pk},
        timestamp=time.time() - 301,
    )

    assert stale.status_code == 401
    assert "stale call" in stale.json()["message"]
    assert state_of(removal, record) == before


@pytest.mark.parametrize("key", [None, "", "k" * 65])
def test_an_acknowledgement_without_a_usable_idempotency_key_is_refused(
    client, removal, record, platforms, key
):
    creditchina = platforms[0]
    before = state_of(removal, record)

    response = ack(
        client, creditchina, {"publication": publication_on(record, creditchina).pk}, key=key
    )

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key"
    assert state_of(removal, record) == before


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "publication"),
        (b"", "publication"),
        (b"[1, 2]", "publication"),
        (b'{"publication": "first"}', "publication"),
        (b'{"record": 1}', "publication"),
        (b"\xff\xfe", "publication"),
    ],
)
def test_a_malformed_acknowledgement_is_refused(client, removal, record, platforms, raw, field):
    before = state_of(removal, record)

    response = ack(client, platforms[0], None, raw=raw)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["field"] == field
    assert state_of(removal, record) == before


def test_only_a_withdrawal_or_a_publication_can_be_acknowledged(client, removal, record, platforms):
    creditchina = platforms[0]
    before = state_of(removal, record)
    publication = publication_on(record, creditchina).pk

    other = ack(client, creditchina, {"publication": publication, "status": "deleted"})
    # "published" answers a request to publish (after a revocation), not a withdrawal.
    published = ack(client, creditchina, {"publication": publication, "status": "published"})

    assert other.status_code == 400
    assert other.json()["field"] == "status"
    assert published.status_code == 400  # it was asked to withdraw, not to publish
    assert published.json()["field"] == "status"
    assert state_of(removal, record) == before


def test_a_platform_cannot_acknowledge_another_platforms_publication(
    client, removal, record, platforms
):
    creditchina, gsxt = platforms
    before = state_of(removal, record)

    response = ack(client, creditchina, {"publication": publication_on(record, gsxt).pk})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert state_of(removal, record) == before


def test_an_unknown_or_inactive_platform_is_not_found(client, removal, record, platforms):
    gsxt = platforms[1]
    body = json.dumps({"publication": publication_on(record, gsxt).pk}).encode()
    headers = signing.signed_headers("whatever", body, idempotency_key="k")
    unknown = client.post(
        ACK_URL.format(code="nosuchplatform"),
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    gsxt.is_active = False
    gsxt.save(update_fields=["is_active"])
    inactive = ack(client, gsxt, {"publication": publication_on(record, gsxt).pk})

    assert unknown.status_code == 404
    assert inactive.status_code == 404
    assert publication_on(record, gsxt).status == Publication.Status.WITHDRAWAL_REQUESTED


def test_an_unknown_publication_number_is_not_found(client, removal, record, platforms):
    for number in (0, 999_999, 2**63):
        response = ack(client, platforms[0], {"publication": number}, key=f"k{number}")
        assert response.status_code == 404, number


def test_acknowledging_what_was_never_asked_to_be_withdrawn_is_refused_and_burns_no_key(
    client, company, applicant, staff, record, platforms
):
    creditchina = platforms[0]
    creditchina.webhook_secret = SECRETS["creditchina"]
    creditchina.save(update_fields=["webhook_secret"])
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])  # disputed, not withdrawn
    body = {"publication": publication_on(record, creditchina).pk}

    response = ack(client, creditchina, body, key="early")

    assert response.status_code == 409
    assert response.json()["code"] == "no_withdrawal_requested"
    assert publication_on(record, creditchina).status == Publication.Status.DISPUTED
    assert not WebhookReceipt.objects.exists()  # the key can be used once it means something


def test_the_acknowledgement_endpoint_only_takes_post(client, platforms):
    assert client.get(ACK_URL.format(code=platforms[0].code)).status_code == 405


# --- each effect of a repair, acknowledged on its own (decision 0024) --------------------


@pytest.fixture
def effects_removal(company, applicant, staff, record, platforms):
    """Credit China publishes and shares; the NECIPS stand-in also applies the record's
    two measures: a restoration approved asks for five effects in all."""
    creditchina, gsxt = platforms
    creditchina.shares = True
    gsxt.applies_measures = True
    for platform in platforms:
        platform.webhook_secret = SECRETS[platform.code]
        platform.save()
    procurement = Measure.objects.create(
        list_type=record.list_type, code="procurement_t", name="限制政府采购", applied_by="财政部门"
    )
    bidding = Measure.objects.create(
        list_type=record.list_type, code="bidding_t", name="限制招标投标", applied_by="发改部门"
    )
    record.measures.set([procurement, bidding])
    case = worker_renders_letters(approved(company, record, applicant, staff))
    assert case.status == Case.Status.REMOVAL
    return case


def effects_asked(case, platform) -> list[dict]:
    [message] = webhooks_of(case, kind="record_withdrawal_requested", platform=platform)
    return message.payload["effects"]


def test_the_withdrawal_names_each_effect_the_platform_is_responsible_for(
    effects_removal, platforms
):
    creditchina, gsxt = platforms
    removal_due = effects_removal.deadlines.get(step="removal").due_on

    assert [(e["kind"], e["measure"]) for e in effects_asked(effects_removal, creditchina)] == [
        ("publication_ended", None),
        ("sharing_stopped", None),
    ]
    assert sorted((e["kind"], e["measure"]) for e in effects_asked(effects_removal, gsxt)) == [
        ("measure_lifted", "bidding_t"),
        ("measure_lifted", "procurement_t"),
        ("publication_ended", None),
    ]
    # Each within the removal deadline of the rule (3 working days after the decision).
    assert {effect.due_on for effect in PublicationEffect.objects.all()} == {removal_due}


def test_each_effect_is_acknowledged_on_its_own_once_and_the_case_closes_with_the_last(
    client, effects_removal, record, platforms, caplog
):
    creditchina, gsxt = platforms
    asked = {p.code: effects_asked(effects_removal, p) for p in platforms}
    ended = asked["creditchina"][0]["effect"]

    first = ack(client, creditchina, {"effect": ended}, key="e-1")
    again = ack(client, creditchina, {"effect": ended, "note": "again"}, key="e-2")

    assert first.status_code == again.status_code == 200
    assert (
        again.json()
        == first.json()
        == {
            "status": "withdrawal_requested",
            "publication": publication_on(record, creditchina).pk,
            "effect": ended,
            "kind": "publication_ended",
            "acknowledged": True,
        }
    )
    events = effects_removal.events.filter(kind="platform_effect_acknowledged")
    assert [(e.data["platform"], e.data["kind"], e.data["pending"]) for e in events] == [
        ("creditchina", "publication_ended", 1)
    ]
    assert refresh(effects_removal).status == Case.Status.REMOVAL

    # An effect asked of another platform, or none at all, is refused and logged.
    stolen = ack(client, creditchina, {"effect": asked["gsxt"][0]["effect"]}, key="e-3")
    unknown = ack(client, creditchina, {"effect": 999_999}, key="e-4")
    assert (stolen.status_code, unknown.status_code) == (404, 404)
    assert "never asked for" in caplog.text

    ack(client, creditchina, {"effect": asked["creditchina"][1]["effect"]}, key="e-5")
    for n, effect in enumerate(asked["gsxt"]):
        assert refresh(effects_removal).status == Case.Status.REMOVAL
        assert ack(client, gsxt, {"effect": effect["effect"]}, key=f"g-{n}").status_code == 200

    case = refresh(effects_removal)
    assert case.status == Case.Status.APPEAL_WINDOW
    assert publication_statuses(record) == {Publication.Status.WITHDRAWN}
    assert not PublicationEffect.objects.filter(acknowledged_at__isnull=True).exists()
    assert [e.data["platform"] for e in case.events.filter(kind="platform_acknowledged")] == [
        "creditchina",
        "gsxt",
    ]


def test_an_old_client_acknowledging_the_publication_acknowledges_all_its_effects(
    client, effects_removal, record, platforms
):
    for platform in platforms:
        response = ack(client, platform, {"publication": publication_on(record, platform).pk})
        assert response.status_code == 200

    assert refresh(effects_removal).status == Case.Status.APPEAL_WINDOW
    assert not PublicationEffect.objects.filter(acknowledged_at__isnull=True).exists()
    gsxt_event = effects_removal.events.get(kind="platform_acknowledged", data__platform="gsxt")
    assert len(gsxt_event.data["effects"]) == 3


def test_a_platform_owing_all_three_effects_acknowledges_each_and_the_case_closes_with_the_last(
    client, company, applicant, staff, record, platforms
):
    """Order 36 Art. 3: one platform that publishes, shares and applies a measure ends the
    publication, stops sharing and lifts the measure, each confirmed on its own."""
    creditchina, gsxt = platforms
    creditchina.shares = creditchina.applies_measures = True
    for platform in platforms:
        platform.webhook_secret = SECRETS[platform.code]
        platform.save()
    consumption = Measure.objects.create(
        list_type=record.list_type, code="consumption_t", name="限制高消费", applied_by="人民法院"
    )
    record.measures.set([consumption])
    case = worker_renders_letters(approved(company, record, applicant, staff))
    asked = effects_asked(case, creditchina)
    assert sorted((e["kind"], e["measure"] or "") for e in asked) == [
        ("measure_lifted", "consumption_t"),
        ("publication_ended", ""),
        ("sharing_stopped", ""),
    ]
    for effect in effects_asked(case, gsxt):
        assert (
            ack(client, gsxt, {"effect": effect["effect"]}, key=f"g{effect['effect']}").status_code
            == 200
        )

    for n, effect in enumerate(asked):
        assert refresh(case).status == Case.Status.REMOVAL
        assert publication_on(record, creditchina).status == "withdrawal_requested"
        response = ack(client, creditchina, {"effect": effect["effect"]}, key=f"c-{n}")
        assert response.status_code == 200
        assert PublicationEffect.objects.get(pk=effect["effect"]).acknowledged_at is not None

    assert refresh(case).status == Case.Status.APPEAL_WINDOW
    assert publication_on(record, creditchina).status == Publication.Status.WITHDRAWN
    confirmed = [
        e.data["kind"]
        for e in case.events.filter(
            kind="platform_effect_acknowledged", data__platform="creditchina"
        )
    ]
    assert confirmed == [e["kind"] for e in asked[:2]]
    # The third, the last, withdraws the publication and names itself.
    last = case.events.get(kind="platform_acknowledged", data__platform="creditchina")
    assert [e["effect"] for e in last.data["effects"]] == [asked[2]["effect"]]


def test_each_platforms_effects_escalate_on_their_own_due_date(
    client, effects_removal, record, platforms, staff
):
    """Credit China confirms in time; the NECIPS stand-in does not: only its effects are
    escalated, once, with an event on the case and word to the supervisors."""
    creditchina, gsxt = platforms
    for n, effect in enumerate(effects_asked(effects_removal, creditchina)):
        assert (
            ack(client, creditchina, {"effect": effect["effect"]}, key=f"t-{n}").status_code == 200
        )
    late = PublicationEffect.objects.filter(publication__platform=gsxt)
    due = timezone.localdate() - datetime.timedelta(days=10)
    late.update(due_on=due)

    assert actions.effects_overdue_escalate() == 3
    assert actions.effects_overdue_escalate() == 0  # once

    assert set(late.values_list("escalated_at", flat=True)) != {None}
    assert not PublicationEffect.objects.filter(
        publication__platform=creditchina, escalated_at__isnull=False
    ).exists()
    [event] = effects_removal.events.filter(kind="deadline_overdue")
    assert event.data["platform"] == "gsxt" and event.data["due_on"] == due.isoformat()
    assert sorted(e["kind"] for e in event.data["effects"]) == [
        "measure_lifted",
        "measure_lifted",
        "publication_ended",
    ]
    assert event.automated and "escalated to the supervisors" in event.note
    assert Message.objects.filter(kind="escalation", case=effects_removal).exists()

    # The supervisors see which platform owes what since when; the case page says it too.
    client.force_login(staff["supervisor"])
    page = client.get(reverse("workspace:agency_problems")).content.decode()
    assert "Effects overdue on platforms" in page
    overdue_table = page.split("Effects overdue on platforms")[-1].split("</table>")[0]
    assert "国家企业信用信息公示系统" in overdue_table and "信用中国" not in overdue_table
    assert f"overdue since {due:%Y-%m-%d}" in page
    case_page = client.get(reverse("workspace:case", args=[effects_removal.pk])).content.decode()
    assert f"overdue since {due:%Y-%m-%d}" in case_page
    # The applicant reads it on the timeline and per effect, in plain words.
    client.force_login(effects_removal.applicant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    portal = client.get(reverse("portal:case", args=[effects_removal.pk])).content.decode()
    said = portal.split(f"has not confirmed by {due:%Y-%m-%d}: ")[1].split("</")[0]
    assert "Publication ended" in said and "Measure lifted" in said
    assert f"asked, overdue since {due:%Y-%m-%d}" in portal


def test_the_removal_timer_escalates_only_what_a_platform_has_not_confirmed(
    client, effects_removal, platforms
):
    """The route's removal timer (the case's deadline) escalates per platform too."""
    creditchina, gsxt = platforms
    for n, effect in enumerate(effects_asked(effects_removal, creditchina)):
        assert (
            ack(client, creditchina, {"effect": effect["effect"]}, key=f"r-{n}").status_code == 200
        )
    PublicationEffect.objects.filter(publication__platform=gsxt).update(
        due_on=timezone.localdate() - datetime.timedelta(days=1)
    )

    actions.deadline_escalate(case=effects_removal, step="removal", overdue=True)

    [event] = effects_removal.events.filter(kind="deadline_overdue")
    assert event.data["platform"] == "gsxt"
    assert effects_removal.deadlines.get(step="removal").escalated_at is not None


def test_the_applicant_reads_each_platforms_progress_in_plain_words(
    client, effects_removal, record, platforms, applicant
):
    creditchina, _gsxt = platforms
    [ended, _sharing] = effects_asked(effects_removal, creditchina)
    ack(client, creditchina, {"effect": ended["effect"]}, key="p-1")
    due = effects_removal.deadlines.get(step="removal").due_on

    client.force_login(applicant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("portal:case", args=[effects_removal.pk])).content.decode()

    assert "信用修复在各平台的进展" in page
    assert "终止公示: 已于" in page
    assert f"停止共享和使用: 已通知，应于 {due:%Y-%m-%d} 前完成" in page
    assert "解除惩戒措施：限制政府采购" in page
    assert "信用中国 已确认：终止公示；尚有 1 项待确认。" in page


def test_the_case_in_the_api_says_per_platform_and_effect_where_the_repair_stands(
    client, effects_removal, record, platforms, applicant, other_agency
):
    creditchina, _gsxt = platforms
    [ended, _sharing] = effects_asked(effects_removal, creditchina)
    ack(client, creditchina, {"effect": ended["effect"]}, key="r-1")
    removal = effects_removal.deadlines.get(step="removal")
    api = APIClient()
    api.force_authenticate(applicant)

    def repair() -> dict:
        response = api.get(f"/api/v1/cases/{effects_removal.pk}/")
        assert response.status_code == 200
        return {
            row["platform"]: {(e["kind"], e["measure"]): e for e in row["effects"]}
            for row in response.json()["repair"]
        }

    shown = repair()
    assert set(shown) == {"creditchina", "gsxt"}
    done = shown["creditchina"][("publication_ended", None)]
    assert done["state"] == "acknowledged" and done["acknowledged_at"]
    asked = shown["creditchina"][("sharing_stopped", None)]
    assert (asked["state"], asked["acknowledged_at"]) == ("requested", None)
    assert asked["due_on"] == removal.due_on.isoformat()
    assert set(shown["gsxt"]) == {
        ("publication_ended", None),
        ("measure_lifted", "procurement_t"),
        ("measure_lifted", "bidding_t"),
    }

    # Past each effect's own due date, what is still open is overdue; what was confirmed
    # stays so.
    PublicationEffect.objects.filter(deadline=removal).update(
        due_on=removal.due_on.replace(year=2020)
    )
    shown = repair()
    assert shown["creditchina"][("sharing_stopped", None)]["state"] == "overdue"
    assert shown["creditchina"][("sharing_stopped", None)]["overdue_since"] == "2020-" + (
        f"{removal.due_on:%m-%d}"
    )
    assert shown["creditchina"][("publication_ended", None)]["overdue_since"] is None
    assert {e["state"] for e in shown["gsxt"].values()} == {"overdue"}
    assert shown["creditchina"][("publication_ended", None)]["state"] == "acknowledged"

    # Another entity cannot tell the case exists; an officer of another agency neither.
    stranger = factories.representative(factories.SubjectFactory(name="其他公司"), "other")
    elsewhere = factories.officer(Role.SUPERVISOR, other_agency, "elsewhere-sup")
    for user in (stranger, elsewhere):
        api.force_authenticate(user)
        assert api.get(f"/api/v1/cases/{effects_removal.pk}/").status_code == 404
