"""The auditor's export: an agency's decisions of a period as one ZIP (letters, manifest,
case events), from the command line or the auditor's page, and verifiable offline: a
changed letter, a missing file or an altered event is named.
"""

import csv
import datetime
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cases import signing
from cases.events import event_payload
from cases.models import Case, CaseEvent, Role
from documents.exports import export_verify
from documents.models import Export, Letter
from documents.services import letter_render_now, letter_request
from documents.tasks import export_decisions
from tests import factories
from tests.flow_helpers import objection_accepted, restoration_accepted, review, sign
from tests.helpers import restorable_record

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("private_files")


def at(day: str, clock: str) -> datetime.datetime:
    """A moment in Redress's local time (Asia/Shanghai)."""
    return timezone.make_aware(datetime.datetime.fromisoformat(f"{day}T{clock}"))


def decide(case, staff, decision, when, **kwargs):
    review(case, staff["case_officer"], decision)
    if decision != Case.Decision.APPROVED:
        kwargs.setdefault("reasons", "The evidence does not show the record is wrong.")
    case = sign(case, staff["signer"], decision, **kwargs)
    Case.objects.filter(pk=case.pk).update(decided_at=when)
    case.refresh_from_db()
    return case


def issue(case, kind, language="zh-hans") -> Letter:
    letter = letter_render_now(letter_request(case, kind, language=language))
    assert letter.status == Letter.Status.ISSUED
    return letter


@pytest.fixture
def march(company, agency, platforms, applicant, staff):
    """Two cases decided in March 2026 (one at 23:30 on the 31st) and one on 1 April."""
    approved = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    approved = decide(approved, staff, Case.Decision.APPROVED, at("2026-03-10", "10:00"))
    rejected = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    rejected = decide(rejected, staff, Case.Decision.REJECTED, at("2026-03-31", "23:30"))
    april = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    april = decide(april, staff, Case.Decision.APPROVED, at("2026-04-01", "00:10"))
    letters = [
        issue(approved, Letter.Kind.APPROVAL),
        issue(approved, Letter.Kind.APPROVAL, language="en"),
        issue(rejected, Letter.Kind.REJECTION),
    ]
    return {"cases": [approved, rejected], "april": april, "letters": letters}


def export_to(tmp_path, agency, name="march.zip") -> Path:
    out = tmp_path / name
    call_command(
        "export_decisions",
        agency=agency.code,
        date_from="2026-03-01",
        date_to="2026-03-31",
        out=str(out),
        stdout=io.StringIO(),
    )
    return out


def rewrite(source: Path, target: Path, changes: dict) -> Path:
    """Copy an export, replacing (bytes) or dropping (None) some of its members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename in changes:
                if changes[item.filename] is not None:
                    new.writestr(item.filename, changes[item.filename])
            else:
                new.writestr(item, old.read(item.filename))
    return target


def verify_fails(path: Path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_export", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue()


# --- the export's contents -----------------------------------------------------------------


def test_an_export_holds_the_periods_letters_a_manifest_and_the_case_events(
    march, agency, staff, tmp_path
):
    out = export_to(tmp_path, agency)

    approved, rejected = march["cases"]
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        pdfs = sorted(n for n in names if n.startswith("letters/"))
        expected = sorted(
            f"letters/{letter.case.reference}/{letter.kind}-{letter.verification_code}.pdf"
            for letter in march["letters"]
        )
        assert pdfs == expected  # the 1 April decision is not in March
        for letter in march["letters"]:
            with letter.pdf.open("rb") as handle:
                assert zf.read(f"letters/{letter.case.reference}/{letter.file_name}") == (
                    handle.read()
                )

        rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode("utf-8"))))
        by_code = {row["verification_code"]: row for row in rows}
        first = by_code[march["letters"][0].verification_code]
        assert first["case_reference"] == approved.reference
        assert first["subject_name"] == approved.subject.name
        assert first["subject_code"] == approved.subject.code
        assert first["decision"] == "approved"
        assert first["signers"] == staff["signer"].username
        assert first["decided_on"] == "2026-03-10"
        assert first["letter_kind"] == "approval"
        assert first["sha256"] == march["letters"][0].sha256
        assert by_code[march["letters"][2].verification_code]["decided_on"] == "2026-03-31"

        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["agency"]["code"] == agency.code
        assert [c["reference"] for c in manifest["cases"]] == [
            approved.reference,
            rejected.reference,
        ]
        assert {(r["file"], r["sha256"]) for r in manifest["letters"]} == {
            (r["file"], r["sha256"]) for r in rows
        }

        lines = zf.read("events.jsonl").decode("utf-8").splitlines()
        events = CaseEvent.objects.filter(case__in=[approved, rejected]).order_by(
            "case__reference", "seq"
        )
        assert [json.loads(line) for line in lines] == [
            json.loads(json.dumps(event_payload(e, reference=e.case.reference))) for e in events
        ]


def test_an_export_verifies_offline_without_touching_the_database(
    march, agency, tmp_path, django_assert_num_queries
):
    out = export_to(tmp_path, agency)

    with django_assert_num_queries(0):
        report = export_verify(out)
    assert report.ok, report.problems
    assert (report.letters, report.cases) == (3, 2)

    # From a shell, with settings whose database does not exist.
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/no_such_database",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    done = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), "verify_export", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Export verified: 3 letters, 2 cases" in done.stdout


def test_verify_export_names_a_changed_letter_a_missing_file_and_an_altered_event(
    march, agency, tmp_path
):
    out = export_to(tmp_path, agency)
    letter = march["letters"][0]
    member = f"letters/{letter.case.reference}/{letter.file_name}"
    with zipfile.ZipFile(out) as zf:
        pdf = bytearray(zf.read(member))
        events = zf.read("events.jsonl").decode("utf-8").splitlines()
        manifest = json.loads(zf.read("manifest.json"))
    pdf[len(pdf) // 2] ^= 0x01

    changed = rewrite(out, tmp_path / "changed.zip", {member: bytes(pdf)})
    assert f"{member}: SHA-256 is" in verify_fails(changed)

    missing = rewrite(out, tmp_path / "missing.zip", {member: None})
    assert f"{member}: listed in the manifest but missing from the ZIP" in verify_fails(missing)

    payload = json.loads(events[1])
    payload["note"] = "Nothing to see here."
    events[1] = json.dumps(payload, ensure_ascii=False)
    altered = rewrite(
        out, tmp_path / "altered.zip", {"events.jsonl": "\n".join(events).encode() + b"\n"}
    )
    problems = verify_fails(altered)
    assert f"event chain broken: {payload['case']}: event #{payload['seq']}" in problems

    # Changing the letter and its manifest entry together is still caught: the hash the
    # letter_issued event recorded (in the chain) no longer agrees.
    forged_sha = hashlib.sha256(bytes(pdf)).hexdigest()
    for row in manifest["letters"]:
        if row["file"] == member:
            row["sha256"] = forged_sha
    rows = io.StringIO()
    writer = csv.DictWriter(rows, fieldnames=list(manifest["letters"][0]))
    writer.writeheader()
    writer.writerows(manifest["letters"])
    forged = rewrite(
        out,
        tmp_path / "forged.zip",
        {
            member: bytes(pdf),
            "manifest.json": json.dumps(manifest).encode(),
            "manifest.csv": rows.getvalue().encode(),
        },
    )
    assert f"{member}: the manifest's SHA-256 differs from the one its letter_issued" in (
        verify_fails(forged)
    )


# --- the auditor's page ----------------------------------------------------------------------


def test_an_auditor_exports_from_the_web_page_and_watches_its_progress(
    client, march, agency, staff, monkeypatch, django_capture_on_commit_callbacks
):
    auditor = factories.officer(Role.AUDITOR, agency, username="auditor")
    # The worker, run in-process when the export is queued.
    monkeypatch.setattr(
        export_decisions, "apply_async", lambda args, **kw: export_decisions.apply(args=args)
    )
    client.force_login(auditor)

    # The agency is offered by its name in the reader's language (seen in the demo: the
    # English page offered "SZAMR 深圳市市场监督管理局").
    english = client.get("/exports/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f">{agency.code} {agency.name_en}</option>" in english
    assert agency.name not in english
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get("/exports/").content.decode()
    assert f">{agency.code} {agency.name}</option>" in chinese
    del client.cookies["django_language"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exports/",
            {"agency": agency.pk, "date_from": "2026-03-01", "date_to": "2026-03-31"},
        )
    export = Export.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/exports/{export.pk}/"
    page = client.get(f"/exports/{export.pk}/")
    assert b"<progress" in page.content

    progress = client.get(f"/exports/{export.pk}/progress/").json()
    assert progress["status"] == "done" and progress["percent"] == 100
    assert (progress["done"], progress["total"]) == (3, 3)
    assert export.requested_by == auditor

    download = client.get(progress["download_url"])
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == progress["sha256"]
    assert export_verify(io.BytesIO(content)).ok

    # An officer who is not an auditor of the agency sees neither the page nor the export.
    client.force_login(staff[Role.CASE_OFFICER])
    assert client.get("/exports/").status_code == 403
    assert client.get(f"/exports/{export.pk}/progress/").status_code == 404


def test_an_export_written_before_chains_were_anchored_still_verifies_and_says_what_it_lacks(
    march, agency, tmp_path
):
    out = export_to(tmp_path, agency)
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    # As format 1 wrote it: no signed heads, no checkpoint, no revoked_on, raw CSV cells.
    manifest["format"] = "redress-decisions-export/1"
    for case in manifest["cases"]:
        del case["head"], case["revoked_on"]
    for row in manifest["letters"]:
        del row["revoked_on"]
    rows = io.StringIO()
    writer = csv.DictWriter(rows, fieldnames=list(manifest["letters"][0]))
    writer.writeheader()
    writer.writerows(manifest["letters"])
    old = rewrite(
        out,
        tmp_path / "format1.zip",
        {
            "manifest.json": json.dumps(manifest).encode(),
            "manifest.csv": rows.getvalue().encode(),
            "audit/checkpoint.json": None,
            "audit/public_key.pem": None,
        },
    )

    report = export_verify(old)
    assert report.ok, report.problems
    assert "no signed heads or checkpoint" in report.notes[0]
    strict = export_verify(old, public_key=signing.public_key())
    assert "carries no signatures" in strict.problems[0]
