"""Reconciliation: a platform reports what it holds, and Redress shows what is wrong.

A platform's signed holdings report (or a CSV loaded with ``reconcile_platform``) is
compared with what it should hold: a record still shown after repair, one shown that we
never sent it, one missing, one shown with different content. The supervisors see each
mismatch with an action (send the withdrawal again; resolve with a note), so does the
API; a bad report is refused whole with each row's error named. The supervisors' page and
the auditor's export show how long each platform takes to acknowledge.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import time
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.acknowledgement_times import summarise
from cases.models import Measure, PublicationEffect
from documents.exports import export_write
from notifications import signing
from notifications.models import HoldingMismatch, HoldingsReport, Message
from notifications.reconciliation import BadReport, holdings_parse
from tests import factories
from tests.flow_helpers import APPROVED, accept, file_restoration, refresh, review, sign
from tests.helpers import api_token, restorable_record
from workflows import actions

SECRET = "s3cret-creditchina-0123456789"
PAGE = "workspace:agency_problems"


@pytest.fixture
def creditchina(platforms):
    platform = platforms[0]
    platform.webhook_secret = SECRET
    platform.save(update_fields=["webhook_secret"])
    return platform


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms, decision_no="深市监罚〔2025〕12号")


@pytest.fixture
def repaired(company, record, applicant, staff, creditchina):
    """A restoration approved and acknowledged by every platform: the record is withdrawn."""
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    for publication in record.publications.order_by("platform__code"):
        actions.publication_acknowledge(publication=publication, note="Withdrawn.")
    return refresh(case)


def row(record, state="shown", **extra) -> dict:
    return {
        "decision_no": record.decision_no,
        "subject_code": record.subject.code,
        "state": state,
        **extra,
    }


def report(client, platform, holdings, *, complete=False, secret=SECRET, key=None, now=None):
    body = json.dumps({"complete": complete, "holdings": holdings}).encode()
    headers = signing.signed_headers(
        secret, body, idempotency_key=key or f"k{time.time_ns()}", now=now, version="v2"
    )
    return client.post(
        f"/api/v1/platforms/{platform.code}/holdings/",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


# --- what a report shows -----------------------------------------------------------------------


def test_a_platform_still_showing_a_repaired_record_is_a_mismatch_the_supervisor_sees(
    client, creditchina, record, repaired, staff
):
    response = report(client, creditchina, [row(record)])

    assert response.status_code == 200, response.content
    [mismatch] = response.json()["mismatches"]
    assert mismatch["kind"] == "still_shown"
    assert mismatch["decision_no"] == "深市监罚〔2025〕12号"
    assert mismatch["expected"]["state"] == "withdrawn"

    client.force_login(staff["supervisor"])
    page = client.get(reverse(PAGE)).content.decode()
    assert "Still shown after repair" in page
    assert "深市监罚〔2025〕12号" in page
    assert "Send the withdrawal again" in page


def test_sending_again_writes_a_new_signed_withdrawal_and_the_next_report_resolves_it(
    client, creditchina, record, repaired, staff
):
    report(client, creditchina, [row(record)])
    mismatch = HoldingMismatch.objects.get()
    before = Message.objects.filter(platform=creditchina, channel="webhook").count()
    client.force_login(staff["supervisor"])

    client.post(reverse("workspace:mismatch_resend", args=[mismatch.pk]))

    again = Message.objects.filter(platform=creditchina, channel="webhook").order_by("-pk")
    assert again.count() == before + 1
    payload = json.loads(again[0].body)
    assert payload["action"] == "record_withdrawal_requested"
    assert payload["reason"] == "reconciliation"
    mismatch.refresh_from_db()
    assert mismatch.resent_times == 1 and mismatch.resolved_at is None

    report(client, creditchina, [row(record, "withdrawn")])

    mismatch.refresh_from_db()
    assert mismatch.resolved_at is not None
    assert "shows the record as it should be" in mismatch.resolution_note
    assert f'data-mismatch="{mismatch.pk}"' not in client.get(reverse(PAGE)).content.decode()


def test_a_record_shown_but_never_sent_missing_or_different_is_named(
    client, creditchina, company, agency, record, staff
):
    elsewhere = restorable_record(company, agency, [], decision_no="深市监罚〔2025〕99号")

    response = report(
        client,
        creditchina,
        [
            row(elsewhere),  # we never sent it to this platform
            row(record, list_type="another_list"),  # ours, with another list type
        ],
    )
    kinds = {(m["kind"], m["decision_no"]) for m in response.json()["mismatches"]}
    assert kinds == {
        ("never_sent", "深市监罚〔2025〕99号"),
        ("different", "深市监罚〔2025〕12号"),
    }

    complete = report(client, creditchina, [row(elsewhere)], complete=True)
    kinds = {(m["kind"], m["decision_no"]) for m in complete.json()["mismatches"]}
    assert ("missing", "深市监罚〔2025〕12号") in kinds


def test_a_withdrawal_still_waiting_for_the_platform_is_no_mismatch(
    client, creditchina, company, record, applicant, staff
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)

    response = report(client, creditchina, [row(record)])

    assert response.json()["mismatches"] == []


def test_a_supervisor_resolves_a_mismatch_with_a_note_and_only_with_one(
    client, creditchina, record, repaired, staff
):
    report(client, creditchina, [row(record)])
    mismatch = HoldingMismatch.objects.get()
    client.force_login(staff["supervisor"])
    url = reverse("workspace:mismatch_resolve", args=[mismatch.pk])

    page = client.post(url, {"note": "  "}, follow=True).content.decode()
    assert "Say in a note how it was resolved." in page
    mismatch.refresh_from_db()
    assert mismatch.resolved_at is None

    client.post(url, {"note": "Called the platform: removed on 5 December."})
    mismatch.refresh_from_db()
    assert mismatch.resolved_by == staff["supervisor"]
    assert mismatch.resolution_note == "Called the platform: removed on 5 December."


def test_another_agencys_supervisor_neither_sees_nor_acts_on_a_mismatch(
    client, creditchina, record, repaired, other_agency
):
    report(client, creditchina, [row(record)])
    mismatch = HoldingMismatch.objects.get()
    outsider = factories.officer("supervisor", other_agency)
    client.force_login(outsider)

    assert "深市监罚〔2025〕12号" not in client.get(reverse(PAGE)).content.decode()
    response = client.post(reverse("workspace:mismatch_resend", args=[mismatch.pk]))
    assert response.status_code == 404

    headers = {"Authorization": f"Token {api_token(outsider)}"}
    assert client.get("/api/v1/reconciliation/mismatches/", headers=headers).json() == {
        "results": []
    }


def test_the_api_lists_the_mismatches_and_sends_the_withdrawal_again(
    client, creditchina, record, repaired, staff
):
    report(client, creditchina, [row(record)])
    headers = {"Authorization": f"Token {api_token(staff['supervisor'])}"}

    [listed] = client.get("/api/v1/reconciliation/mismatches/", headers=headers).json()["results"]
    assert listed["kind"] == "still_shown" and listed["platform"] == "creditchina"

    resent = client.post(
        f"/api/v1/reconciliation/mismatches/{listed['id']}/resend/", headers=headers
    )
    assert resent.status_code == 200 and resent.json()["resent_times"] == 1

    refused = client.post(
        f"/api/v1/reconciliation/mismatches/{listed['id']}/resolve/",
        data={"note": ""},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 400 and refused.json()["field"] == "note"
    resolved = client.post(
        f"/api/v1/reconciliation/mismatches/{listed['id']}/resolve/",
        data={"note": "Checked by phone."},
        content_type="application/json",
        headers=headers,
    )
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]


@pytest.fixture
def repaired_everywhere(company, record, applicant, staff, creditchina):
    """Credit China also shares and applies the record's measure; the restoration is
    approved and every effect acknowledged: it said sharing stopped and the measure lifted."""
    creditchina.shares = creditchina.applies_measures = True
    creditchina.save(update_fields=["shares", "applies_measures"])
    procurement = Measure.objects.create(
        list_type=record.list_type, code="procurement_t", name="限制政府采购", applied_by="财政部门"
    )
    record.measures.set([procurement])
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    for publication in record.publications.order_by("platform__code"):
        actions.publication_acknowledge(publication=publication, note="Done.")
    assert not PublicationEffect.objects.filter(acknowledged_at__isnull=True).exists()
    return refresh(case)


def test_still_shared_and_measure_still_applied_after_repair_are_found_and_sent_again(
    client, creditchina, record, repaired_everywhere, staff
):
    response = report(
        client,
        creditchina,
        [row(record, "withdrawn", sharing="shared", measures=["procurement_t", "other"])],
    )

    assert response.status_code == 200, response.content
    found = {m["kind"]: m for m in response.json()["mismatches"]}
    assert set(found) == {"still_shared", "measure_still_applied"}
    assert found["measure_still_applied"]["expected"]["measures_lifted"] == ["procurement_t"]
    assert found["still_shared"]["actions"] == ["resend", "resolve"]

    client.force_login(staff["supervisor"])
    page = client.get(reverse(PAGE)).content.decode()
    assert "Still shared after repair" in page
    assert "Measure still applied after repair (procurement_t)" in page
    assert page.count("Send the withdrawal again") == 2

    # Sent again, the withdrawal names the effects the platform acknowledged and left undone.
    sharing = PublicationEffect.objects.get(
        publication__platform=creditchina, kind="sharing_stopped"
    )
    mismatch = HoldingMismatch.objects.get(kind="still_shared")
    client.post(reverse("workspace:mismatch_resend", args=[mismatch.pk]))
    sent = Message.objects.filter(platform=creditchina, channel="webhook").order_by("-pk")[0]
    payload = json.loads(sent.body)
    assert payload["reason"] == "reconciliation"
    assert [(e["effect"], e["kind"]) for e in payload["effects"]] == [
        (sharing.pk, "sharing_stopped")
    ]
    headers = {"Authorization": f"Token {api_token(staff['supervisor'])}"}
    lifted = HoldingMismatch.objects.get(kind="measure_still_applied")
    assert (
        client.post(
            f"/api/v1/reconciliation/mismatches/{lifted.pk}/resend/", headers=headers
        ).status_code
        == 200
    )
    sent = Message.objects.filter(platform=creditchina, channel="webhook").order_by("-pk")[0]
    assert [e["measure"] for e in json.loads(sent.body)["effects"]] == ["procurement_t"]

    # The platform's next report shows sharing stopped and the measure lifted: both resolved.
    report(client, creditchina, [row(record, "withdrawn", sharing="stopped", measures=[])])
    assert not HoldingMismatch.objects.filter(resolved_at__isnull=True).exists()


def test_a_report_that_says_nothing_of_sharing_or_measures_is_not_checked_for_them(
    client, creditchina, record, repaired_everywhere
):
    assert report(client, creditchina, [row(record, "withdrawn")]).json()["mismatches"] == []


def test_sharing_and_measures_in_a_report_are_checked_row_by_row():
    rows = [
        {"decision_no": "A-1", "subject_code": "X", "state": "withdrawn", "measures": "a; b"},
        {"decision_no": "A-2", "subject_code": "X", "state": "withdrawn", "sharing": "maybe"},
        {"decision_no": "A-3", "subject_code": "X", "state": "withdrawn", "measures": [1]},
    ]
    with pytest.raises(BadReport) as refused:
        holdings_parse(rows)
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [
        (2, "sharing"),
        (3, "measures"),
    ]
    assert holdings_parse(rows[:1])[0].measures == ("a", "b")


# --- bad reports change nothing ----------------------------------------------------------------


def test_a_report_with_a_bad_signature_or_a_stale_timestamp_is_refused(
    client, creditchina, record, repaired
):
    forged = report(client, creditchina, [row(record)], secret="not-the-secret")
    stale = report(client, creditchina, [row(record)], now=time.time() - 3600)

    assert forged.status_code == 401
    assert "does not match" in forged.json()["message"]
    assert stale.status_code == 401
    assert "stale call" in stale.json()["message"]
    assert not HoldingsReport.objects.exists()
    assert not HoldingMismatch.objects.exists()


def test_the_same_report_twice_is_refused_the_second_time(client, creditchina, record, repaired):
    assert report(client, creditchina, [row(record)], key="same-key").status_code == 200
    again = report(client, creditchina, [row(record, "withdrawn")], key="same-key")

    assert again.status_code == 409
    assert HoldingsReport.objects.count() == 1
    assert HoldingMismatch.objects.get().resolved_at is None


def test_malformed_rows_are_each_named_and_nothing_is_applied(
    client, creditchina, record, repaired
):
    response = report(
        client,
        creditchina,
        [
            row(record),  # a good row: not applied either
            {"decision_no": "", "subject_code": "X", "state": "shown"},
            {"decision_no": "A-1", "subject_code": "X", "state": "gone"},
            "not a row",
            {"decision_no": "A-2", "subject_code": "X", "state": "shown", "publication": "x"},
            row(record),  # the same record twice
        ],
    )

    assert response.status_code == 400
    errors = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert errors == {
        (2, "decision_no"),
        (3, "state"),
        (4, "row"),
        (5, "publication"),
        (6, "decision_no"),
    }
    assert "5 row(s)" in response.json()["message"]
    assert not HoldingsReport.objects.exists()
    assert not HoldingMismatch.objects.exists()


# --- the command --------------------------------------------------------------------------------


def write_csv(tmp_path, rows, header=("decision_no", "subject_code", "state")):
    path = tmp_path / "holdings.csv"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_the_command_reconciles_a_file_like_a_report(
    creditchina, record, repaired, tmp_path, capsys
):
    path = write_csv(tmp_path, [[record.decision_no, record.subject.code, "shown"]])

    call_command("reconcile_platform", "creditchina", str(path))

    out = capsys.readouterr().out
    assert "Still shown after repair: 深市监罚〔2025〕12号" in out
    assert "1 mismatch(es) open" in out
    assert HoldingsReport.objects.get().source == HoldingsReport.Source.FILE


def test_the_command_refuses_a_file_with_bad_rows_naming_each(
    creditchina, record, repaired, tmp_path, capsys
):
    path = write_csv(
        tmp_path,
        [
            [record.decision_no, record.subject.code, "shown"],
            ["A-1", "X", "maybe"],
            ["A-2", "", "shown"],
            ["A-3", "X", "shown", "extra cell"],
        ],
    )

    with pytest.raises(CommandError, match="3 row"):
        call_command("reconcile_platform", "creditchina", str(path))

    err = capsys.readouterr().err
    assert "row 2, state" in err
    assert "row 3, subject_code" in err
    assert "row 4, row: This row has more cells than the header names." in err
    assert not HoldingsReport.objects.exists()


def test_the_command_refuses_a_file_without_the_columns(creditchina, tmp_path, capsys):
    path = write_csv(tmp_path, [["A-1", "shown"]], header=("decision", "state"))

    with pytest.raises(CommandError):
        call_command("reconcile_platform", "creditchina", str(path))

    assert "missing: decision_no, subject_code" in capsys.readouterr().err


# --- how long platforms take ---------------------------------------------------------------------


def test_the_times_per_platform_and_effect_are_median_p95_and_oldest_open_of_known_times():
    decided = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    now = decided + datetime.timedelta(hours=100)

    def answered(hours):
        return decided + datetime.timedelta(hours=hours)

    rows = [
        ("cc", "信用中国", "publication_ended", None, decided, answered(h)) for h in (2, 6, 10, 40)
    ] + [
        ("cc", "信用中国", "sharing_stopped", None, decided, answered(5)),
        ("cc", "信用中国", "sharing_stopped", None, decided + datetime.timedelta(hours=28), None),
        ("cc", "信用中国", "sharing_stopped", None, decided, None),
        ("gsxt", "公示系统", "measure_lifted", "bidding", decided, None),
    ]

    times = {(t.code, t.effect, t.measure): t for t in summarise(rows, now=now)}

    ended = times[("cc", "publication_ended", "")]
    assert (ended.acknowledged, ended.median_hours, ended.p95_hours) == (4, 8.0, 40.0)
    assert (ended.open, ended.oldest_open_hours) == (0, None)
    sharing = times[("cc", "sharing_stopped", "")]
    assert (sharing.acknowledged, sharing.median_hours, sharing.p95_hours) == (1, 5.0, 5.0)
    assert (sharing.open, sharing.oldest_open_hours) == (2, 100.0)
    lifted = times[("gsxt", "measure_lifted", "bidding")]
    assert (lifted.acknowledged, lifted.median_hours, lifted.open) == (0, None, 1)
    assert lifted.oldest_open_hours == 100.0
    assert [t.effect for t in summarise(rows, now=now)] == [
        "publication_ended",
        "sharing_stopped",
        "measure_lifted",
    ]


def test_time_from_decision_to_acknowledgement_per_platform_and_effect_everywhere(
    client, creditchina, company, record, applicant, staff, agency
):
    creditchina.shares = True
    creditchina.save(update_fields=["shares"])
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    case = refresh(case)
    decided = timezone.now() - datetime.timedelta(hours=30)
    type(case).objects.filter(pk=case.pk).update(decided_at=decided)
    ended = PublicationEffect.objects.get(
        publication__platform=creditchina, kind="publication_ended"
    )
    actions.effect_acknowledge(effect=ended)
    PublicationEffect.objects.filter(pk=ended.pk).update(
        acknowledged_at=decided + datetime.timedelta(hours=6)
    )

    client.force_login(staff["supervisor"])
    page = client.get(reverse(PAGE)).content.decode()
    assert 'data-platform="creditchina" data-effect="publication_ended"' in page
    assert 'data-platform="creditchina" data-effect="sharing_stopped"' in page
    assert 'data-platform="gsxt" data-effect="publication_ended"' in page

    api = APIClient()
    api.force_authenticate(staff["supervisor"])
    answer = api.get("/api/v1/reconciliation/acknowledgement-times/")
    assert answer.status_code == 200
    by_effect = {(r["code"], r["effect"]): r for r in answer.json()["results"]}
    assert set(by_effect) == {
        ("creditchina", "publication_ended"),
        ("creditchina", "sharing_stopped"),
        ("gsxt", "publication_ended"),
    }
    assert by_effect[("creditchina", "publication_ended")]["median_hours"] == 6.0
    assert by_effect[("creditchina", "sharing_stopped")]["open"] == 1
    assert by_effect[("creditchina", "sharing_stopped")]["oldest_open_hours"] >= 30
    # An applicant, or an officer of no agency that decided, reads nothing.
    api.force_authenticate(applicant)
    assert api.get("/api/v1/reconciliation/acknowledgement-times/").json()["results"] == []

    buffer = io.BytesIO()
    export_write(
        buffer,
        agency=agency,
        date_from=timezone.localdate() - datetime.timedelta(days=5),
        date_to=timezone.localdate(),
    )
    with zipfile.ZipFile(buffer) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read("platform_acknowledgements.csv").decode())))
        manifest = json.loads(zf.read("manifest.json"))
    by_effect = {(r["code"], r["effect"]): r for r in rows}
    done = by_effect[("creditchina", "publication_ended")]
    assert (done["acknowledged"], done["median_hours"], done["p95_hours"]) == ("1", "6.0", "6.0")
    assert by_effect[("gsxt", "publication_ended")]["open"] == "1"
    assert float(by_effect[("gsxt", "publication_ended")]["oldest_open_hours"]) >= 30
    assert {(r["code"], r["effect"]) for r in manifest["platform_acknowledgements"]} == set(
        by_effect
    )


def test_a_withdrawal_sent_again_asks_afresh_with_a_due_date_of_its_own(
    client, creditchina, record, repaired_everywhere, staff
):
    """The effect a platform acknowledged and did not carry out is asked again: open, with
    its own clock from the day it was sent again, acknowledged again through the API."""
    sharing = PublicationEffect.objects.get(
        publication__platform=creditchina, kind="sharing_stopped"
    )
    PublicationEffect.objects.filter(pk=sharing.pk).update(
        due_on=datetime.date(2020, 1, 3), escalated_at=timezone.now()
    )
    report(client, creditchina, [row(record, "withdrawn", sharing="shared")])
    mismatch = HoldingMismatch.objects.get(kind="still_shared")
    client.force_login(staff["supervisor"])

    client.post(reverse("workspace:mismatch_resend", args=[mismatch.pk]))

    sharing.refresh_from_db()
    assert sharing.acknowledged_at is None and sharing.escalated_at is None
    assert sharing.due_on > timezone.localdate()  # 3 working days from today
    assert timezone.localdate(sharing.requested_at) == timezone.localdate()
    ended = PublicationEffect.objects.get(
        publication__platform=creditchina, kind="publication_ended"
    )
    assert ended.acknowledged_at is not None  # only what was left undone is asked again
    page = client.get(reverse("workspace:case", args=[repaired_everywhere.pk])).content.decode()
    assert f"asked, due by {sharing.due_on:%Y-%m-%d}" in page

    body = json.dumps({"effect": sharing.pk, "note": "Stopped now."}).encode()
    headers = signing.signed_headers(SECRET, body, idempotency_key="again-1", now=time.time())
    response = client.post(
        f"/api/v1/platforms/{creditchina.code}/acknowledgements/",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    assert response.status_code == 200, response.content
    sharing.refresh_from_db()
    assert sharing.acknowledged_at is not None
    event = repaired_everywhere.events.filter(kind="platform_effect_acknowledged").last()
    assert event.data["again"] is True and event.data["kind"] == "sharing_stopped"
