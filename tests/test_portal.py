"""The entity portal as a company's representative uses it: the records and when they can be
restored, filing an objection or a restoration with what the rules ask for, uploading
evidence, answering a request for missing materials, withdrawing, and following the case
(deadlines, the stopped clock, letters, notifications) in English or Chinese.

Officers act through ``workflows.actions`` (``tests.flow_helpers``) as they do in their
workspace; what is asserted is what the representative sees.
"""

from __future__ import annotations

import datetime
import gettext
import hashlib
import os
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases.clock import deadline_start
from cases.models import Case, Deadline, Evidence, Material, PortalAccount
from cases.rules import rule_set_add_version
from notifications.models import Notification
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import days_ago, pdf_bytes, png_upload, restorable_record

EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture(autouse=True)
def evidence_store(tmp_path, monkeypatch):
    """A private evidence store per test, so that stored files can be counted."""
    storage = Evidence._meta.get_field("file").storage
    monkeypatch.setattr(storage, "location", str(tmp_path))
    return tmp_path


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def early_record(company, agency, platforms):
    """Listed 20 days ago: its minimum publication period ends in 72 days."""
    return factories.RecordFactory(
        subject=company,
        agency=agency,
        listed_on=days_ago(20),
        restorable_from=days_ago(20) + datetime.timedelta(days=92),
        published_on=list(platforms),
    )


@pytest.fixture
def portal(client, applicant):
    client.force_login(applicant)
    return client


def url(name, *args) -> str:
    return reverse(f"portal:{name}", args=args)


def text(response) -> str:
    return response.content.decode()


def stored_files(root) -> list[str]:
    return [name for _folder, _dirs, names in os.walk(root) for name in names]


def file_from_portal(client, kind, records, grounds="The fine was paid.", token=None, **extra):
    return client.post(
        url("file"),
        {
            "subject": extra.pop("subject", records[0].subject_id),
            "kind": kind,
            "records": [r.pk for r in records],
            "grounds": grounds,
            "form_token": token or str(uuid.uuid4()),
            **extra,
        },
    )


def pdf(name="evidence.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes(name), content_type="application/pdf")


def upload(client, case, *files, material=Material.OTHER, record=None, **headers):
    return client.post(
        url("evidence_upload", case.pk),
        {"material": material, "record": record.pk if record else "", "files": list(files)},
        **headers,
    )


def restoration_waiting_for_materials(company, record, applicant, staff) -> Case:
    """Filed without materials; the intake officer asks for both at once."""
    case = flow.file_restoration(company, [record], applicant, with_materials=False)
    return flow.request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )


# --- records ----------------------------------------------------------------------------------------------


def test_the_records_page_shows_every_record_with_the_day_restoration_becomes_possible(
    portal, company, record, early_record, agency, platforms
):
    other = restorable_record(factories.SubjectFactory(), agency, platforms)

    body = text(portal.get(url("records")))

    assert record.decision_no in body and early_record.decision_no in body
    assert other.decision_no not in body
    assert "Restoration possible now" in body
    assert f"Restoration possible from {early_record.restorable_from:%Y-%m-%d}" in body
    assert f"{record.expires_on:%Y-%m-%d}" in body
    assert "信用中国" in body and "国家企业信用信息公示系统" in body  # the platforms
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert 'href="#main"' in body  # the skip link


def test_an_entity_never_sees_another_entitys_subject_records_or_cases(
    client, applicant, record, agency, platforms
):
    rival = factories.SubjectFactory(name="深圳市竞争对手有限公司")
    rival_record = restorable_record(rival, agency, platforms)
    rival_rep = factories.representative(rival, "rival")
    rival_case = flow.file_restoration(rival, [rival_record], rival_rep)
    client.force_login(applicant)

    assert rival_record.decision_no not in text(client.get(url("records")))
    assert rival.name not in text(client.get(url("cases")))
    assert client.get(url("case", rival_case.pk)).status_code == 404
    assert client.get(url("withdraw", rival_case.pk)).status_code == 404
    assert client.get(url("file") + f"?subject={rival.pk}").status_code == 404
    assert client.get(url("letter", rival_case.pk, 1)).status_code == 404
    assert upload(client, rival_case, pdf()).status_code == 404
    assert client.post(url("materials_supplied", rival_case.pk)).status_code == 404
    assert file_from_portal(client, "restoration", [rival_record]).status_code == 404
    own_subject = file_from_portal(client, "restoration", [rival_record], subject=record.subject_id)
    assert own_subject.status_code == 400  # not a record this person may choose
    assert Case.objects.filter(subject=rival).count() == 1


def test_officers_are_refused_the_portal_pages(client, staff, record, applicant, company):
    case = flow.file_restoration(company, [record], applicant)
    client.force_login(staff["intake"])

    for address in (url("records"), url("file"), url("case", case.pk)):
        assert client.get(address).status_code == 403, address
    # The portal's start page sends them where they work.
    assert client.get(url("index"))["Location"] == "/workflow/"
    assert upload(client, case, pdf()).status_code == 403


# --- filing -----------------------------------------------------------------------------------------------


def test_a_restoration_filed_from_the_portal_shows_the_materials_the_rules_require(
    portal, applicant, record
):
    form = text(portal.get(url("file")))
    response = file_from_portal(portal, "restoration", [record])
    case = Case.objects.get()
    page = text(portal.get(response["Location"]))

    assert "Credit commitment letter (信用承诺书)" in form
    assert "Proof the penalty was fulfilled" in form
    assert re.search(r"Rule set in force: .+ \(General\) · version 2, in force from", form)
    assert "penalty_publication/general" not in form
    assert response["Location"] == url("case", case.pk)
    assert (case.kind, case.channel, case.applicant) == ("restoration", "portal", applicant)
    assert f"Request {case.reference} filed" in page
    assert "Materials the rules require" in page
    assert "Credit commitment letter (信用承诺书)" in page
    assert "The agency is checking that your request is complete" in page
    assert url("evidence_upload", case.pk) in page


def test_an_objection_filed_from_the_portal_becomes_a_case_in_the_acceptance_check(portal, record):
    form = text(portal.get(url("file") + "?kind=objection"))
    response = file_from_portal(portal, "objection", [record], grounds="Wrong branch named.")
    case = Case.objects.get()

    assert "Upload the evidence that the record is wrong." in form
    assert 'value="objection" id="kind-objection" checked' in form
    assert response["Location"] == url("case", case.pk)
    assert case.kind == Case.Kind.OBJECTION
    assert flow.open_steps(case) == ["acceptance_check"]
    assert f"Already in open case {case.reference}." in text(portal.get(url("file")))


def test_an_early_or_barred_restoration_is_told_with_the_reason_before_filing_and_filed_anyway(
    portal, company, agency, early_record
):
    # Only a law, a regulation or a central policy bars a restoration (Order 36 Art. 2): the
    # agency's own version records such a bar.
    rule_set_add_version(
        list_type=factories.list_type(),
        severity="serious",
        agency=agency,
        effective_from=datetime.date(2026, 4, 1),
        min_publication_months=12,
        max_publication_months=36,
        barred_penalty_types=["licence_revocation"],
        legal_basis="a law that bars it",
    )
    barred = factories.RecordFactory(
        subject=company,
        agency=agency,
        severity="serious",
        penalty_type="licence_revocation",
        listed_on=days_ago(300),
    )
    early_finding = (
        f"Not yet: from {early_record.restorable_from:%Y-%m-%d}, "
        "Credit Restoration Measures (NDRC Order No. 36), Art. 12."
    )

    form = text(portal.get(url("file")))
    records_page = text(portal.get(url("records")))
    filed = file_from_portal(portal, "restoration", [early_record])
    filed_barred = file_from_portal(portal, "restoration", [barred])

    assert escape(early_finding) in form  # shown beside the record, before any upload
    assert escape(early_finding) in records_page
    assert "Barred: licence revocation cannot be restored." in form
    assert "You may file anyway" in form
    assert 'data-refusal-restoration=""' in form  # the page does not block the filing
    cases = list(Case.objects.order_by("id"))
    assert [filed["Location"], filed_barred["Location"]] == [url("case", c.pk) for c in cases]
    assert [flow.open_steps(c) for c in cases] == [["acceptance_check"], ["acceptance_check"]]


def test_a_double_submitted_form_files_one_case(portal, record):
    token = str(uuid.uuid4())

    first = file_from_portal(portal, "restoration", [record], token=token)
    second = file_from_portal(portal, "restoration", [record], token=token)

    assert Case.objects.count() == 1
    assert first["Location"] == second["Location"] == url("case", Case.objects.get().pk)


# --- evidence ---------------------------------------------------------------------------------------------


def test_several_files_at_once_pdf_and_png_accepted_a_renamed_executable_refused_leaving_nothing(
    portal, company, record, applicant, evidence_store
):
    case = flow.file_restoration(company, [record], applicant, with_materials=False)
    png = png_upload().read()

    response = upload(
        portal,
        case,
        pdf("commitment.pdf"),
        SimpleUploadedFile("receipt.png", png, content_type="image/png"),
        SimpleUploadedFile("invoice.pdf", EXECUTABLE, content_type="application/pdf"),
        material=Material.COMMITMENT_LETTER,
        record=record,
    )
    page = text(portal.get(response["Location"]))

    assert response["Location"] == url("case", case.pk) + "#evidence"
    assert sorted(case.evidence.values_list("original_name", flat=True)) == [
        "commitment.pdf",
        "receipt.png",
    ]
    assert len(stored_files(evidence_store)) == 2  # nothing of the executable
    assert f"SHA-256 {hashlib.sha256(png).hexdigest()}" in page
    assert "invoice.pdf refused: Only PDF, PNG and JPEG files are accepted" in page
    assert 'multiple accept=".pdf,.png,.jpg,.jpeg' in page  # several files at once


def test_the_upload_script_gets_each_files_result_as_json_and_a_repeat_is_recognised(
    portal, company, record, applicant
):
    case = flow.file_restoration(company, [record], applicant, with_materials=False)
    content = pdf_bytes("receipt")
    xhr = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}

    accepted = upload(portal, case, SimpleUploadedFile("r.pdf", content), **xhr)
    repeated = upload(portal, case, SimpleUploadedFile("again.pdf", content), **xhr)
    refused = upload(portal, case, SimpleUploadedFile("x.pdf", EXECUTABLE), **xhr)

    assert accepted.status_code == 200
    assert accepted.json()["results"][0]["sha256"] == hashlib.sha256(content).hexdigest()
    # The script shows "Accepted: <message>": the message says what happened, not "Accepted."
    # again ("Accepted: Accepted." in the demo).
    assert accepted.json()["results"][0]["message"] == "Added to the case."
    assert repeated.json()["results"][0]["duplicate"] is True
    assert refused.status_code == 400
    assert refused.json()["results"][0]["ok"] is False
    assert "Only PDF, PNG and JPEG files are accepted" in refused.json()["results"][0]["message"]
    assert case.evidence.count() == 1


# --- missing materials, withdrawal ----------------------------------------------------------------------------


def test_answering_a_request_for_missing_materials_returns_the_case_to_its_step(
    portal, company, record, applicant, staff
):
    case = restoration_waiting_for_materials(company, record, applicant, staff)
    materials = Deadline.objects.get(case=case, step=Deadline.Step.MATERIALS)

    page = text(portal.get(url("case", case.pk)))
    too_soon = portal.post(url("materials_supplied", case.pk), follow=True)
    upload(portal, case, pdf("letter.pdf"), material=Material.COMMITMENT_LETTER, record=record)
    upload(portal, case, pdf("receipt.pdf"), material=Material.FULFILMENT_PROOF)
    done = portal.post(url("materials_supplied", case.pk), follow=True)

    assert "Missing materials requested" in page
    assert "Please supply: commitment_letter." in page
    assert f"Supply them by {materials.due_on:%Y-%m-%d}." in page
    assert "Still missing" in text(too_soon)
    assert "the case is back with the agency" in text(done)
    assert flow.refresh(case).status == Case.Status.SUBMITTED
    assert flow.open_steps(case) == ["acceptance_check"]


def test_the_case_page_shows_each_deadline_with_its_computation_and_why_the_clock_stopped(
    portal, company, record, applicant, staff
):
    case = restoration_waiting_for_materials(company, record, applicant, staff)
    acceptance = Deadline.objects.get(case=case, step=Deadline.Step.ACCEPTANCE)
    stopped_on = timezone.localdate().isoformat()

    page = text(portal.get(url("case", case.pk)))

    assert acceptance.status == Deadline.Status.STOPPED
    assert escape(acceptance.computation) in page
    assert f"due {acceptance.due_on:%Y-%m-%d}" in page
    assert (
        f"The clock of “Acceptance check” is stopped since {stopped_on} because "
        "waiting for missing materials." in page
    )
    assert "Acceptance check: clock stopped on" in page
    assert 'Missing materials requested</strong> <span class="muted">(Intake officer)' in page
    assert staff["intake"].get_username() not in page  # roles, never officers' usernames


def test_a_deadline_across_the_golden_week_reads_in_the_representatives_language(
    portal, company, record, applicant
):
    case = flow.file_restoration(company, [record], applicant)
    decision = deadline_start(
        case, Deadline.Step.DECISION, working_days=5, actor=None, on=datetime.date(2026, 9, 30)
    )

    portal.post(url("language"), {"language": "zh-hans", "next": url("case", case.pk)})
    chinese = text(portal.get(url("case", case.pk)))
    portal.post(url("language"), {"language": "en", "next": url("case", case.pk)})
    english = text(portal.get(url("case", case.pk)))

    assert "自 2026-09-30 起 5 个工作日（事件当日不计入，次一工作日为第 1 日）：" in chinese
    assert "跳过 2026-10-01 至 10-07：国庆节" in chinese
    assert "计入 2026-10-10（星期六）：国庆节调休工作日" in chinese
    assert "截止日期：2026-10-13（星期二）。" in chinese
    assert "National Day" not in chinese and "working day" not in chinese
    assert escape(decision.computation) in english
    assert "skipped 2026-10-01..10-07 National Day (国庆节)" in english


def test_a_deadline_computed_before_its_facts_were_kept_shows_its_stored_text(
    portal, company, record, applicant
):
    case = flow.file_restoration(company, [record], applicant)
    stored = "3 working days from 2026-01-05 (as computed by an earlier version).\nDue 2026-01-08."
    Deadline.objects.filter(case=case).update(computation=stored, computation_facts={})

    portal.post(url("language"), {"language": "zh-hans", "next": url("case", case.pk)})
    page = text(portal.get(url("case", case.pk)))

    assert escape(stored) in page


def test_withdrawing_a_case_asks_for_confirmation_first(portal, company, record, applicant):
    case = flow.file_restoration(company, [record], applicant)

    question = portal.get(url("withdraw", case.pk))
    unconfirmed = portal.post(url("withdraw", case.pk), {"reason": "Filed by mistake."})
    confirmed = portal.post(
        url("withdraw", case.pk), {"reason": "Filed by mistake.", "confirm": "on"}
    )
    page = text(portal.get(url("case", case.pk)))

    assert 'type="checkbox" name="confirm"' in text(question)
    assert unconfirmed.status_code == 400
    assert confirmed["Location"] == url("case", case.pk)
    assert flow.refresh(case).status == Case.Status.WITHDRAWN
    assert "Withdrawn: you withdrew this request." in page
    assert url("withdraw", case.pk) not in page


# --- letters, notifications, language -------------------------------------------------------------------


def test_every_issued_letter_of_the_case_can_be_downloaded(portal, company, record, applicant):
    from documents.models import Letter

    case = flow.file_restoration(company, [record], applicant)
    letter = Letter(
        case=case,
        kind=Letter.Kind.ACCEPTANCE,
        language="zh-hans",
        status=Letter.Status.ISSUED,
        verification_code="ABCDE23456",
        issued_at=timezone.now(),
        template_version="test",
        template_sha256="0" * 64,
        html="<p>受理通知书</p>",
    )
    letter.pdf.save("acceptance.pdf", ContentFile(pdf_bytes("letter")), save=False)
    letter.save()

    page = text(portal.get(url("case", case.pk)))
    download = portal.get(url("letter", case.pk, letter.pk))

    assert url("letter", case.pk, letter.pk) in page
    assert "ABCDE-23456" in page
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    assert "Acceptance notice (受理通知书) (简体中文, PDF)" in page
    # In Chinese with Chinese punctuation (seen in the demo: "受理通知书 (简体中文, PDF)").
    portal.post(url("language"), {"language": "zh-hans", "next": url("case", case.pk)})
    assert "受理通知书（简体中文，PDF）" in text(portal.get(url("case", case.pk)))


def test_notifications_show_the_unread_count_and_can_be_marked_read(
    portal, company, record, applicant
):
    case = flow.file_restoration(company, [record], applicant)
    Notification.objects.filter(user=applicant).delete()
    first = Notification.objects.create(
        user=applicant, case=case, kind="accepted", title="Accepted"
    )
    Notification.objects.create(user=applicant, case=case, kind="decided", title="Decided")
    Notification.objects.create(user=applicant, kind="digest", title="Weekly digest")

    listing = text(portal.get(url("notifications")))
    portal.post(url("notifications"), {"id": first.pk})
    after_one = text(portal.get(url("notifications")))
    portal.post(url("notifications"), {"case": case.pk, "next": url("case", case.pk)})
    case_page = text(portal.get(url("case", case.pk)))

    assert "3 unread" in listing
    assert '<span class="badge" aria-label="3 unread">3</span>' in listing
    assert "2 unread" in after_one
    assert "No notification about this case." not in case_page
    assert Notification.objects.filter(user=applicant, read_at__isnull=True).count() == 1


def test_the_language_switch_shows_chinese_labels_and_is_remembered(portal, applicant, record):
    switched = portal.post(url("language"), {"language": "zh-hans", "next": url("records")})
    chinese = text(portal.get(url("records")))
    portal.post(url("language"), {"language": "en", "next": url("records")})
    english = text(portal.get(url("records")))

    assert switched["Location"] == url("records")
    assert '<html lang="zh-Hans">' in chinese
    assert "信用记录" in chinese and "可申请修复" in chinese
    assert "<h1>Records</h1>" in english
    assert PortalAccount.objects.get(user=applicant).language == "en"


def test_the_compiled_chinese_catalogue_matches_its_source():
    """The .mo file is committed so that no gettext tools are needed to run Redress; it
    must say what the .po says (recompile with ``manage.py compilemessages`` after edits)."""
    folder = Path(settings.BASE_DIR, "locale", "zh_Hans", "LC_MESSAGES")
    source = (folder / "django.po").read_text(encoding="utf-8")
    with (folder / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    entries = re.findall(
        r'^(?:msgctxt ((?:".*"\n)+))?msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', source + "\n", re.M
    )

    def unquote(block: str) -> str:
        return "".join(
            bytes(line[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode()
            for line in block.strip().split("\n")
        )

    translated = [
        (unquote(c) if c else None, unquote(i), unquote(s))
        for c, i, s in entries
        if unquote(i) and unquote(s)
    ]
    assert len(translated) > 100
    for context, msgid, msgstr in translated:
        found = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        assert found == msgstr, msgid


def test_an_officer_who_confirms_links_has_the_portal_page_for_it(client, staff):
    client.force_login(staff["supervisor"])

    response = client.get(url("officer_representations"))

    assert response.status_code == 200
    assert "No link waits for confirmation." in text(response)
    assert 'aria-current="page">Links to confirm</a>' in text(response)


def test_the_case_page_names_the_acceptance_date_as_acceptance_in_chinese(
    portal, company, record, applicant, staff
):
    # Seen in the demo: the date a case was accepted (受理) read "已接收" (received), the
    # word of an accepted piece of evidence.
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])

    portal.post(url("language"), {"language": "zh-hans", "next": url("case", case.pk)})
    chinese = portal.get(url("case", case.pk)).content.decode()
    assert "<dt>受理时间</dt>" in chinese
    assert "<dt>已接收</dt>" not in chinese
    portal.post(url("language"), {"language": "en", "next": url("case", case.pk)})
    assert "<dt>Accepted</dt>" in portal.get(url("case", case.pk)).content.decode()


def test_an_uploads_outcome_is_joined_to_its_message_with_the_languages_colon(
    portal, company, record, applicant
):
    # Seen in the demo: the Chinese upload list read "已接收: 本案已有相同内容的文件…".
    import json

    case = flow.file_restoration(company, [record], applicant)

    def texts():
        body = portal.get(url("case", case.pk)).content.decode()
        return json.loads(body.split('id="upload-texts">', 1)[1].split("</script>", 1)[0])

    assert texts()["outcome"] == "{state}: {message}"
    portal.post(url("language"), {"language": "zh-hans", "next": url("case", case.pk)})
    chinese = texts()
    assert chinese["outcome"] == "{state}：{message}"
    assert chinese["accepted"] == "已接收"
    script = (Path(settings.BASE_DIR) / "portal/static/portal/upload.js").read_text()
    assert "texts.outcome" in script and '+ ": " +' not in script
