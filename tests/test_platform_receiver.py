"""The reference platforms over HTTP: a decision closes with no manual call, and faults.

``backoffice.platform_receiver`` is what ``scripts/demo`` runs as Credit China, NECIPS and
a third-party agency. Here it runs on a port of its own and talks to a live Redress over
HTTP both ways: our worker's signed webhooks reach it, its signed acknowledgements and
holdings reports reach the API. The faults are a platform's: it answers 500 (retries,
then a dead letter, then "send again"), hangs (the worker times out and goes on),
acknowledges twice (counted once), acknowledges what it was never sent (refused, logged),
or reports holdings with a bad signature or malformed rows (refused, nothing applied).
"""

from __future__ import annotations

import logging
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from backoffice.management.commands.platform_receiver import copy_of
from backoffice.platform_receiver import Played, ReferencePlatforms, holding_key
from cases.models import Case, Platform, PublicationDefault, PublicationEffect, Record
from notifications import delivery
from notifications.models import HoldingMismatch, HoldingsReport, Message
from notifications.reconciliation import holdings_parse, holdings_reconcile
from tests.flow_helpers import (
    APPROVED,
    accept,
    event_kinds,
    file_restoration,
    legal_review,
    review,
    sign,
)
from tests.helpers import restorable_record

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = {"creditchina": "s3cret-creditchina-0123456789", "gsxt": "s3cret-gsxt-9876543210"}


@pytest.fixture
def site(live_server, settings):
    settings.REDRESS_SITE_URL = live_server.url
    settings.REDRESS_NOTIFY_BACKOFF_SECONDS = 0
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 3
    settings.REDRESS_WEBHOOK_TIMEOUT_SECONDS = 1
    return live_server.url


@pytest.fixture
def reference(site, platforms):
    """The reference platforms, playing both platforms with their own secrets."""
    played = {code: Played(code=code, secret=secret) for code, secret in SECRETS.items()}
    receiver = ReferencePlatforms(
        site, played, ack_delay=0.05, hang_seconds=5, hold_until_drain=True
    ).start()
    for platform in platforms:
        platform.webhook_secret = SECRETS[platform.code]
        platform.webhook_url = receiver.url(platform.code)
        platform.save(update_fields=["webhook_secret", "webhook_url"])
    yield receiver
    receiver.stop()


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms, decision_no="深市监罚〔2025〕12号")


def decided(company, record, applicant, staff) -> Case:
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    return sign(case, staff["signer"], APPROVED)


def worker_delivers(case=None, **filters) -> list[str]:
    """What the worker does: deliver every webhook that is due, once."""
    due = Message.objects.filter(channel=Message.Channel.WEBHOOK, **filters)
    if case is not None:
        due = due.filter(case=case)
    return [delivery.deliver(pk) for pk in due.order_by("pk").values_list("pk", flat=True)]


def status_of(case) -> str:
    return Case.objects.values_list("status", flat=True).get(pk=case.pk)


# --- the story: no manual call --------------------------------------------------------------


def test_a_decision_closes_when_the_reference_platforms_acknowledge_over_http(
    reference, company, record, applicant, staff
):
    case = decided(company, record, applicant, staff)
    assert status_of(case) == Case.Status.REMOVAL

    assert worker_delivers(case) == ["sent", "sent"]
    reference.drain()

    assert status_of(case) == Case.Status.APPEAL_WINDOW
    for code in SECRETS:
        [ack] = reference.platforms[code].acknowledged
        assert ack["status"] == 200, ack
        assert ack["answer"]["status"] == "withdrawn"
        held = reference.platforms[code].holdings[holding_key(record.decision_no, company.code)]
        assert held["state"] == "withdrawn"
    assert event_kinds(case).count("platform_acknowledged") == 2
    # Each webhook is marked acknowledged: the platform named our key in its call.
    assert not Message.objects.filter(
        case=case, channel=Message.Channel.WEBHOOK, acknowledged_at__isnull=True
    ).exists()


def test_the_reference_platforms_report_their_holdings_and_a_stale_copy_is_found(
    reference, company, record, applicant, staff, client
):
    case = decided(company, record, applicant, staff)
    worker_delivers(case)
    reference.drain()
    # Credit China's copy goes stale: it shows the record it acknowledged withdrawing.
    stale = reference.platforms["creditchina"]
    stale.holdings[holding_key(record.decision_no, company.code)]["state"] = "shown"

    status, answer = reference.report_holdings("creditchina")
    assert status == 200, answer
    assert [m["kind"] for m in answer["mismatches"]] == ["still_shown"]
    assert reference.report_holdings("gsxt")[1]["mismatches"] == []

    mismatch = HoldingMismatch.objects.get()
    client.force_login(staff["supervisor"])
    client.post(reverse("workspace:mismatch_resend", args=[mismatch.pk]))
    assert worker_delivers(case, platform__code="creditchina")[-1] == "sent"
    reference.drain()
    assert stale.holdings[holding_key(record.decision_no, company.code)]["state"] == "withdrawn"

    assert reference.report_holdings("creditchina")[1]["mismatches"] == []
    mismatch.refresh_from_db()
    assert mismatch.resolved_at is not None


# --- faults ----------------------------------------------------------------------------------------


def test_a_platform_answering_500_is_retried_then_dead_then_sent_again_and_closes(
    reference, company, record, applicant, staff, client
):
    reference.platforms["gsxt"].fault = "error"
    case = decided(company, record, applicant, staff)

    outcomes = [worker_delivers(case, platform__code="gsxt")[0] for _attempt in range(3)]
    assert outcomes == ["retrying", "retrying", "dead"]
    worker_delivers(case, platform__code="creditchina")
    reference.drain()
    assert status_of(case) == Case.Status.REMOVAL  # NECIPS has not done it

    dead = Message.objects.get(case=case, platform__code="gsxt", status=Message.Status.DEAD)
    assert "gsxt answered HTTP 500" in dead.last_error
    reference.platforms["gsxt"].fault = ""
    client.force_login(staff["supervisor"])
    client.post(reverse("workspace:message_retry", args=[dead.pk]))
    assert worker_delivers(case, platform__code="gsxt") == ["sent"]
    reference.drain()

    assert status_of(case) == Case.Status.APPEAL_WINDOW


def test_a_platform_that_hangs_times_out_and_the_worker_goes_on(
    reference, company, record, applicant, staff
):
    reference.platforms["creditchina"].fault = "hang"
    case = decided(company, record, applicant, staff)

    started = time.monotonic()
    outcomes = worker_delivers(case)
    elapsed = time.monotonic() - started

    assert outcomes == ["retrying", "sent"]  # creditchina timed out; gsxt was delivered
    assert elapsed < 5
    hung = Message.objects.get(case=case, platform__code="creditchina")
    assert "timed out" in hung.last_error.lower() or "timeout" in hung.last_error.lower()
    reference.drain()
    assert status_of(case) == Case.Status.REMOVAL


def test_an_acknowledgement_sent_twice_is_counted_once(
    reference, company, record, applicant, staff
):
    case = decided(company, record, applicant, staff)
    worker_delivers(case)
    reference.drain()
    publication = record.publications.get(platform__code="gsxt")

    again = {"publication": publication.pk, "status": "withdrawn"}
    assert reference.acknowledge("gsxt", again) == 200  # a new key: harmless, no change
    assert reference.acknowledge("gsxt", again) == 409  # the very same call: replayed

    assert event_kinds(case).count("platform_acknowledged") == 2  # one per platform


def test_acknowledging_a_record_never_sent_is_refused_and_logged(
    reference, company, agency, record, applicant, staff, caplog
):
    decided(company, record, applicant, staff)
    never = restorable_record(company, agency, [], decision_no="深市监罚〔2025〕99号")
    published = restorable_record(
        company,
        agency,
        [p for p in record.platforms.all() if p.code == "gsxt"],
        decision_no="深市监罚〔2025〕77号",
    ).publications.get()
    other_platforms = record.publications.get(platform__code="creditchina")

    with caplog.at_level(logging.WARNING, logger="api.platforms"):
        assert reference.acknowledge("gsxt", {"publication": other_platforms.pk}) == 404
        assert reference.acknowledge("gsxt", {"publication": published.pk}) == 409

    answers = [a["answer"] for a in reference.platforms["gsxt"].acknowledged]
    assert answers[0]["code"] == "not_found"
    assert answers[1]["code"] == "no_withdrawal_requested"
    refused = [r.getMessage() for r in caplog.records if r.name == "api.platforms"]
    assert len(refused) == 2 and all(m.startswith("Refused: gsxt") for m in refused)
    published.refresh_from_db()
    assert published.status == "published" and never.publications.count() == 0


def test_a_holdings_report_with_a_bad_signature_or_malformed_rows_changes_nothing(
    reference, company, record
):
    forger = ReferencePlatforms(
        reference.site_url, {"gsxt": Played(code="gsxt", secret="not-the-secret")}
    ).start()
    try:
        status, answer = forger.report_holdings("gsxt")
    finally:
        forger.stop()
    assert status == 401 and "does not match" in answer["message"]

    played = reference.platforms["gsxt"]
    played.holdings = {
        "a": {"decision_no": record.decision_no, "subject_code": company.code, "state": "shown"},
        "b": {"decision_no": "A-1", "subject_code": company.code, "state": "archived"},
        "c": {"decision_no": "A-2", "state": "shown"},
    }
    status, answer = reference.report_holdings("gsxt")

    assert status == 400
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [
        (2, "state"),
        (3, "subject_code"),
    ]
    assert not HoldingsReport.objects.exists()


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_points_its_platforms_at_the_receiver_and_one_copy_is_stale(settings, capsys):
    settings.DEBUG = True
    call_command("demo", "--subjects", "10")
    capsys.readouterr()

    platforms = Platform.objects.order_by("code")
    assert {p.code for p in platforms} >= {"creditchina", "gsxt", "thirdparty"}
    for platform in platforms:
        assert platform.webhook_url == f"http://127.0.0.1:8765/{platform.code}/webhook"
        assert platform.webhook_secret
    thirdparty = Platform.objects.get(code="thirdparty")
    # The approved restoration's record (records past their maximum were withdrawn before).
    [repaired] = thirdparty.publications.filter(status="withdrawn", record__status="removed")
    # It acknowledged at once: no withdrawal is left for the worker to send it.
    assert not Message.objects.filter(
        platform=thirdparty,
        kind="record_withdrawal_requested",
        status__in=[Message.Status.PENDING, Message.Status.RETRYING],
    ).exists()

    holdings = copy_of(thirdparty, stale=True)
    held = holdings[holding_key(repaired.record.decision_no, repaired.record.subject.code)]
    assert held["state"] == "shown"
    _report, mismatches = holdings_reconcile(
        platform=thirdparty,
        holdings=holdings_parse(list(holdings.values())),
        complete=True,
        source=HoldingsReport.Source.API,
    )
    # It shows the record, and shares it, after it acknowledged ending both.
    assert sorted((m.kind, m.publication_id) for m in mismatches) == [
        ("still_shared", repaired.pk),
        ("still_shown", repaired.pk),
    ]
    honest = copy_of(thirdparty, stale=False)
    assert (
        holdings_reconcile(
            platform=thirdparty,
            holdings=holdings_parse(list(honest.values())),
            complete=True,
            source=HoldingsReport.Source.API,
        )[1]
        == []
    )


def test_a_demo_served_on_another_receiver_port_points_its_platforms_there(
    settings, capsys, monkeypatch
):
    """scripts/serve starts the reference platforms on REDRESS_RECEIVER_PORT: the demo's
    webhooks go to that port (they went to 8765 whatever the port, and nothing arrived)."""
    settings.DEBUG = True
    monkeypatch.setenv("REDRESS_RECEIVER_PORT", "8865")
    call_command("demo", "--subjects", "10")
    capsys.readouterr()

    platforms = Platform.objects.order_by("code")
    assert platforms
    for platform in platforms:
        assert platform.webhook_url == f"http://127.0.0.1:8865/{platform.code}/webhook"


def test_a_newcomers_decision_in_the_demo_reaches_every_platform_with_no_dead_letter(
    site, settings, client, capsys
):
    settings.DEBUG = True
    call_command("demo", "--subjects", "10", "--receiver-url", "")
    capsys.readouterr()
    # The demo's records sit on their agency's default platforms and carry their measures.
    serious = Record.objects.get(decision_no__endswith="〕9005号")
    assert {m.code for m in serious.measures.all()} >= {"samr_key_supervision"}
    szamr_defaults = set(
        PublicationDefault.objects.filter(
            agency=serious.agency, list_type=serious.list_type
        ).values_list("platform__code", flat=True)
    )
    assert set(serious.publications.values_list("platform__code", flat=True)) <= szamr_defaults
    assert {"creditchina", "gsxt", "thirdparty"} <= szamr_defaults
    # The reference platforms play every demo platform, with the secrets the demo gave them.
    played = {
        p.code: Played(code=p.code, secret=p.webhook_secret, holdings=copy_of(p, stale=False))
        for p in Platform.objects.filter(is_active=True)
    }
    # Acknowledging after the worker is done: one writer at a time on the test database.
    receiver = ReferencePlatforms(
        site, played, ack_delay=0.05, hang_seconds=5, hold_until_drain=True
    ).start()
    try:
        for platform in Platform.objects.all():
            platform.webhook_url = receiver.url(platform.code)
            platform.save(update_fields=["webhook_url"])
        # A newcomer decides the restoration waiting at the acceptance check.
        case = Case.objects.get(case_records__record__decision_no__endswith="〕9001号")
        users = {u.username: u for u in get_user_model().objects.all()}
        accept(case, users["intake"])
        case = review(case, users["reviewer"], APPROVED)
        if case.status == Case.Status.LEGAL_REVIEW:
            legal_review(case, users["legal"])
        sign(case, users["signer"], APPROVED)
        asked = {p.platform.code for p in case.case_records.get().record.publications.all()}
        assert asked and status_of(case) == Case.Status.REMOVAL

        due = [Message.Status.PENDING, Message.Status.RETRYING]
        assert set(worker_delivers(status__in=due)) == {"sent"}
        receiver.drain()

        assert status_of(case) == Case.Status.APPEAL_WINDOW
        effects = PublicationEffect.objects.filter(deadline__case=case)
        assert {e.publication.platform.code for e in effects} == asked
        assert not effects.filter(acknowledged_at__isnull=True).exists()
        assert not Message.objects.filter(status=Message.Status.DEAD).exists()
        # The applicant reads each platform's progress in plain words.
        client.force_login(users["acme"])
        page = client.get(reverse("portal:case", args=[case.pk])).content.decode()
        for platform in Platform.objects.filter(code__in=asked):
            name = platform.name_en or platform.name
            assert f"{name} confirmed everything it was asked for." in page, name
        assert "notification failed" not in page.lower()
    finally:
        receiver.stop()
