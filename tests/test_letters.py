"""Letters as the people of a case receive them: each kind says what DOMAIN.md's "Letters"
asks, in real Chinese (or English) text, with page numbers, a verification code whose
public page compares an uploaded copy, and a hash on record in the case's event log.

A letter is requested in the transaction of a decision (pending), then rendered and
stored by a worker; these stories render it in-process with ``letter_render_now``.
"""

import datetime
import hashlib
import io
import shutil
from pathlib import Path

import pytest
from django.core.checks import Error
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from cases.errors import NotPermitted, WrongState
from cases.events import case_event_payloads, chain_verify
from cases.models import Agency, Case, CaseRecord, Deadline, Evidence, Material, Role
from documents import checks, services
from documents.content import letter_html
from documents.models import Letter
from documents.numbers import DECIDING_KINDS
from documents.selectors import letters_failed_for, letters_for_attachment
from documents.services import (
    letter_pdf,
    letter_render_now,
    letter_request,
    letter_retry,
    letters_render_pending,
)
from documents.signals import letter_stored
from documents.tasks import render_letter
from tests import factories
from tests.flow_helpers import (
    accept,
    add_evidence,
    not_accept,
    restoration_accepted,
    review,
    sign,
    step,
    submit,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import pdf_upload, restorable_record

K = Letter.Kind

pytestmark = pytest.mark.usefixtures("private_files")


# --- reading a letter as its recipient does -----------------------------------------------


def pdf_of(letter: Letter) -> bytes:
    with letter.pdf.open("rb") as handle:
        return handle.read()


def text_of(content: bytes) -> str:
    """The letter's text as a PDF reader extracts it (line breaks and runs of spaces folded)."""
    pages = PdfReader(io.BytesIO(content)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def flat(text: str) -> str:
    """Without any whitespace: Chinese has no spaces, but a wrapped line extracts with one."""
    return "".join(text.split())


def says(text: str, *phrases: str) -> bool:
    """Whether the letter says every phrase, wherever its lines wrap."""
    return all(flat(phrase) in flat(text) for phrase in phrases)


def issue(case, kind, *, language="zh-hans", **kwargs) -> tuple[Letter, str]:
    letter = letter_render_now(letter_request(case, kind, language=language, **kwargs))
    assert letter.status == Letter.Status.ISSUED, letter.last_error
    return letter, text_of(pdf_of(letter))


def assert_common_fields(letter: Letter, text: str, *, page_label="第 1 页") -> None:
    """What every letter carries (DOMAIN.md "Letters")."""
    case = letter.case
    agency = case.agency.name if letter.language == "zh-hans" else case.agency.name_en
    assert says(
        text,
        case.reference,
        case.subject.name,
        case.subject.code,
        *(cr.record.decision_no for cr in case.case_records.select_related("record")),
        agency,
        letter.code_display,
        page_label,
    ), text
    # The rule version is named by its articles, never by its internal label.
    assert letter.rule_version and not says(text, letter.rule_version), text
    # A letter that decides carries the agency's document number; a notice does not.
    if letter.kind in DECIDING_KINDS:
        assert letter.document_number and says(text, letter.document_number), text
    else:
        assert letter.document_number == ""


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def accepted(company, record, applicant, staff):
    return restoration_accepted(company, [record], applicant, staff)


# --- each kind of letter --------------------------------------------------------------------


def test_the_acceptance_notice_says_when_materials_were_complete_and_which_deadline_runs(
    accepted, staff
):
    letter, text = issue(accepted, K.ACCEPTANCE, decided_by=staff["intake"])

    assert_common_fields(letter, text)
    decision = Deadline.objects.get(case=accepted, step=Deadline.Step.DECISION)
    due = decision.due_on
    assert says(text, f"不迟于 {due.year}年{due.month}月{due.day}日")
    today = timezone.localdate()
    assert says(text, f"本机关于 {today.year}年{today.month}月{today.day}日 收到")
    assert says(text, "申请材料于", "齐全")
    assert letter.rule_version == accepted.rule_set.label


def test_the_materials_request_lists_every_missing_item_its_deadline_and_the_stopped_clock(
    company, record, applicant, staff
):
    case = submit(Case.Kind.RESTORATION, company, [record], applicant)
    case = step(
        case,
        "acceptance_check",
        staff["intake"],
        decision="request_materials",
        missing=[
            {"material": Material.COMMITMENT_LETTER, "detail": "每条记录一份"},
            {"material": Material.FULFILMENT_PROOF, "detail": "罚款缴纳凭证"},
        ],
    )

    letter, text = issue(case, K.MATERIALS_REQUEST, decided_by=staff["intake"])

    assert_common_fields(letter, text)
    assert says(text, "1. 信用承诺书：每条记录一份")
    assert says(text, "2. 行政处罚履行完毕的证明材料：罚款缴纳凭证")
    due = Deadline.objects.get(case=case, step=Deadline.Step.MATERIALS).due_on
    assert says(text, f"请于 {due.year}年{due.month}月{due.day}日 前")
    assert says(text, "办理期限中止计算")
    assert says(text, "补正方式", "补正依据")


def test_a_non_acceptance_notice_gives_the_reasons_and_the_right_of_appeal(
    company, record, applicant, staff
):
    case = submit(Case.Kind.RESTORATION, company, [record], applicant)
    case = not_accept(case, staff["intake"], reasons="该记录不属于本机关管辖。")

    letter, text = issue(case, K.NON_ACCEPTANCE, decided_by=staff["intake"])

    assert_common_fields(letter, text)
    assert says(text, "不予受理")
    assert says(text, "该记录不属于本机关管辖。")
    assert says(text, "60 日内向深圳市人民政府申请行政复议")


def test_a_partly_approved_restoration_says_what_is_removed_where_and_warns_about_false_commitments(
    company, agency, platforms, applicant, staff
):
    kept = restorable_record(company, agency, platforms)
    removed = restorable_record(company, agency, platforms)
    case = restoration_accepted(company, [removed, kept], applicant, staff)
    outcomes = {removed.pk: CaseRecord.Outcome.UPHELD, kept.pk: CaseRecord.Outcome.REJECTED}
    review(case, staff["case_officer"], Case.Decision.PARTLY_APPROVED, outcomes)
    CaseRecord.objects.filter(case=case, record=kept).update(reason="该处罚尚未履行完毕。")
    case = sign(
        case,
        staff["signer"],
        Case.Decision.PARTLY_APPROVED,
        reasons="一条记录准予修复，另一条不予修复。",
        record_outcomes=outcomes,
    )

    letter, text = issue(case, K.APPROVAL)

    assert_common_fields(letter, text)
    assert says(text, "部分予以支持")
    assert says(text, "将撤下该记录的平台：信用中国、国家企业信用信息公示系统")
    assert says(text, "该处罚尚未履行完毕。")
    decided = timezone.localdate(case.decided_at)
    assert says(text, f"本决定自 {decided.year}年{decided.month}月{decided.day}日 起生效")
    assert says(text, "虚假承诺", "撤销本决定")
    assert letter.signers == [staff["signer"].username]


def test_a_rejection_ties_each_reason_to_its_evidence_and_names_the_appeal_bodies(
    company, record, applicant, staff
):
    case = submit(Case.Kind.OBJECTION, company, [record], applicant)
    proof = add_evidence(case, applicant, Material.CORRECTION_EVIDENCE, record=record)
    case = accept(case, staff["intake"])
    review(
        case,
        staff["case_officer"],
        Case.Decision.REJECTED,
        reviews=[
            {
                "evidence": proof.pk,
                "outcome": Evidence.Outcome.REJECTED,
                "reason": "回执所载日期晚于公示日期。",
            }
        ],
    )
    CaseRecord.objects.filter(case=case).update(reason="记录所载分支机构与登记信息一致。")
    case = sign(
        case,
        staff["signer"],
        Case.Decision.REJECTED,
        reasons="申请人提交的证据不能证明记录有误。",
    )

    letter, text = issue(case, K.REJECTION)

    assert_common_fields(letter, text)
    assert says(text, "申请人提交的证据不能证明记录有误。")
    assert says(text, "理由：记录所载分支机构与登记信息一致。")
    # The reason rests on a named evidence item and its review.
    assert proof.sha256[:16] in text
    assert says(text, "不予采纳", "回执所载日期晚于公示日期。")
    assert says(text, "60 日内向深圳市人民政府申请行政复议")
    assert says(text, "6 个月内向深圳市福田区人民法院提起行政诉讼")
    assert says(text, "相关信用记录继续公示")
    # An objection ("this record is wrong") has no restoration period and no date from
    # which to apply again: the letter states none.
    assert not says(text, "重新提出申请")
    assert not says(text, "最短公示期")


def test_the_withdrawal_notice_explains_publicly_what_was_withdrawn_and_where(
    accepted, record, staff
):
    review(accepted, staff["case_officer"], Case.Decision.APPROVED)
    case = sign(accepted, staff["signer"], Case.Decision.APPROVED)

    letter, text = issue(case, K.WITHDRAWAL_NOTICE)

    assert_common_fields(letter, text)
    assert says(text, "关于撤下公示信息的说明")
    assert says(text, "撤下平台：信用中国、国家企业信用信息公示系统")


def test_a_revocation_decision_names_the_reason_and_the_records_published_again(
    accepted, record, staff
):
    review(accepted, staff["case_officer"], Case.Decision.APPROVED)
    sign(accepted, staff["signer"], Case.Decision.APPROVED)
    case = revoked_in_effect(
        case=accepted,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="信用承诺书所述整改情况不实。",
        evidence=[pdf_upload("revocation")],
    )

    letter, text = issue(case, K.REVOCATION, decided_by=staff["signer"])

    assert_common_fields(letter, text)
    assert says(text, "撤销信用修复决定书")
    assert says(text, "信用承诺书所述整改情况不实。")
    assert says(text, "恢复公示平台：信用中国、国家企业信用信息公示系统")
    assert says(text, "申请行政复议")


def test_an_english_rendering_carries_the_same_facts(accepted, staff):
    review(accepted, staff["case_officer"], Case.Decision.REJECTED)
    case = sign(
        accepted,
        staff["signer"],
        Case.Decision.REJECTED,
        reasons="The commitment letter is unsigned.",
    )

    letter, text = issue(case, K.REJECTION, language="en")

    assert_common_fields(letter, text, page_label="Page 1 of")
    assert says(text, "Decision on the Credit Restoration Request")
    assert says(text, "The commitment letter is unsigned.")
    assert says(text, "within 60 days", "within 6 months")
    assert says(text, "深圳市人民政府", "深圳市福田区人民法院")
    assert says(text, "the records stay published")
    assert letter.template_version.startswith("rejection/en@")


# --- the letter as a file: PDF/A, real glyphs, reproducible -----------------------------------


def test_a_letter_is_pdf_a_2u_with_its_issue_time_as_its_dates(accepted, staff):
    letter, text = issue(accepted, K.ACCEPTANCE)
    reader = PdfReader(io.BytesIO(pdf_of(letter)))

    xmp = reader.xmp_metadata.stream.get_data()
    assert b'pdfaid:part="2"' in xmp and b'pdfaid:conformance="U"' in xmp
    assert reader.metadata.creation_date == letter.issued_at
    assert reader.metadata.modification_date == letter.issued_at
    assert not reader.attachments
    # Real CJK glyphs: the embedded font is our cut of Noto Serif CJK SC, and the
    # Chinese text extracts.
    assert embedded_fonts(reader) == {"Redress-Serif-SC"}
    assert says(text, accepted.subject.name)


def embedded_fonts(reader: PdfReader) -> set[str]:
    return {
        str(font.get_object()["/BaseFont"]).split("+", 1)[-1]
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }


def test_a_rare_character_in_a_name_is_drawn_from_the_full_chinese_font(agency, platforms, staff):
    person = factories.PersonFactory(name="王喆堃")  # 喆 and 堃 are not in GB 2312
    record = restorable_record(person, agency, platforms)
    applicant = factories.representative(person, "wang")
    case = submit(Case.Kind.OBJECTION, person, [record], applicant)
    case = not_accept(case, staff["intake"], reasons="不属于本机关管辖。")

    letter, text = issue(case, K.NON_ACCEPTANCE)

    assert says(text, "王喆堃", person.code)
    reader = PdfReader(io.BytesIO(pdf_of(letter)))
    assert embedded_fonts(reader) == {"Redress-Serif-SC", "Noto-Serif-CJK-SC"}


def test_the_same_data_gives_the_same_bytes(accepted, staff):
    letter, _ = issue(accepted, K.ACCEPTANCE)

    # Rendering the issued letter again gives exactly the stored file.
    assert letter_pdf(letter) == pdf_of(letter)
    # And the letter's text, built again from the same case, is the same HTML.
    html, template, _ = letter_html(
        accepted,
        K.ACCEPTANCE,
        "zh-hans",
        code=letter.verification_code,
        issued_at=letter.issued_at,
    )
    assert html == letter.html
    assert template.sha256 == letter.template_sha256


def test_editing_a_template_changes_new_letters_but_never_an_issued_one(
    accepted, staff, settings, tmp_path
):
    issued, _ = issue(accepted, K.ACCEPTANCE)
    stored = pdf_of(issued)

    # An editor changes the acceptance notice (a template directory that wins over the app's).
    source = Path(__file__).resolve().parent.parent / "documents" / "templates"
    edited = tmp_path / "templates"
    shutil.copytree(source / "letters", edited / "letters")
    notice = edited / "letters" / "zh-hans" / "acceptance.html"
    notice.write_text(
        notice.read_text(encoding="utf-8").replace(
            "{% block body %}", "{% block body %}<p>本通知书已按新版格式印制。</p>"
        ),
        encoding="utf-8",
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [edited]}]

    assert letter_pdf(issued) == stored
    issued.refresh_from_db()
    assert "新版格式" not in issued.html

    newer, text = issue(accepted, K.ACCEPTANCE)
    assert says(text, "本通知书已按新版格式印制。")
    assert newer.template_sha256 != issued.template_sha256
    assert newer.template_version != issued.template_version


def png(colour: tuple) -> bytes:
    image = Image.new("RGB", (120, 120), colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_an_agencys_own_seal_is_printed_and_an_issued_letter_keeps_it(accepted, agency):
    agency = Agency.objects.get(pk=agency.pk)  # its seal field on the test's storage
    agency.seal.save("seal.png", ContentFile(png((200, 16, 46))))

    letter, _ = issue(accepted, K.ACCEPTANCE)

    digest = hashlib.sha256(png((200, 16, 46))).hexdigest()
    assert f'src="redress-seal:{digest}.png"' in letter.html  # by hash, not inlined
    reader = PdfReader(io.BytesIO(pdf_of(letter)))
    assert any(page.images for page in reader.pages)

    agency.seal.save("new-seal.png", ContentFile(png((0, 0, 200))))  # the agency changes it
    assert letter_pdf(letter) == pdf_of(letter)


# --- issuing: hash on record, signal, verification page --------------------------------------


def test_issuing_a_letter_records_its_hash_in_the_case_log_as_an_automated_step(
    accepted, staff, django_capture_on_commit_callbacks
):
    received = []

    def on_stored(sender, letter, case, **kwargs):
        received.append((letter.pk, case.pk, letter.status))

    letter_stored.connect(on_stored)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            letter = letter_request(accepted, K.ACCEPTANCE, decided_by=staff["intake"])
        assert letter.status == Letter.Status.PENDING
        with django_capture_on_commit_callbacks(execute=True):
            letter = letter_render_now(letter)
    finally:
        letter_stored.disconnect(on_stored)

    event = accepted.events.get(kind="letter_issued")
    assert event.automated and event.actor is None and event.actor_role == "system"
    assert event.data["sha256"] == letter.sha256
    assert event.data["verification_code"] == letter.verification_code
    assert event.data["template_version"] == letter.template_version
    assert event.data["decided_by"] == staff["intake"].username
    assert hashlib.sha256(pdf_of(letter)).hexdigest() == letter.sha256
    assert chain_verify(case_event_payloads(accepted)) is None
    assert received == [(letter.pk, accepted.pk, Letter.Status.ISSUED)]


def test_anyone_can_check_a_copy_of_a_letter_on_its_verification_page(client, accepted, staff):
    letter, _ = issue(accepted, K.ACCEPTANCE)
    url = f"/verify/{letter.verification_code}/"

    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert accepted.agency.name in body and accepted.reference in body
    assert letter.sha256 in body
    assert "受理通知书" in body or "Acceptance notice" in body
    # Nothing about the subject or the grounds.
    assert accepted.subject.name not in body and accepted.subject.code not in body
    assert accepted.grounds not in body

    genuine = client.post(url, {"file": SimpleUploadedFile("copy.pdf", pdf_of(letter))})
    assert "matches the letter as issued" in genuine.content.decode()

    altered = bytearray(pdf_of(letter))
    altered[len(altered) // 2] ^= 0x01  # one bit changed
    forged = client.post(url, {"file": SimpleUploadedFile("copy.pdf", bytes(altered))})
    assert "does NOT match" in forged.content.decode()

    # Typed from paper: lower case, with the dash.
    assert client.get(f"/verify/{letter.code_display.lower()}/").status_code == 200


def test_an_unknown_or_malformed_code_is_no_such_letter(client, accepted):
    pending = letter_request(accepted, K.ACCEPTANCE)  # requested, not yet rendered

    for code in ("ABCDE23456", "not-a-code", "0OIL100000", pending.verification_code):
        page = client.get(f"/verify/{code}/")
        assert page.status_code == 404
        assert "No such letter" in page.content.decode()


def test_the_outbox_can_attach_a_cases_issued_letters(accepted):
    letter, _ = issue(accepted, K.ACCEPTANCE)
    letter_request(accepted, K.ACCEPTANCE, language="zh-hans")  # pending: not attached

    attachments = letters_for_attachment(accepted, language="zh-hans")

    assert attachments == [(letter.file_name, pdf_of(letter))]


# --- failures and retries ------------------------------------------------------------------


def test_a_letter_that_keeps_failing_goes_to_failed_and_a_supervisor_requeues_it(
    client, accepted, staff, agency, other_agency, monkeypatch
):
    letter = letter_request(accepted, K.ACCEPTANCE)
    calls = []

    def broken_renderer(*args, **kwargs):
        calls.append(1)
        raise OSError("font cache unreadable")

    with monkeypatch.context() as patch:
        patch.setattr(services, "pdf_render", broken_renderer)
        render_letter.apply(args=[letter.pk])  # eager: the retries run at once

    letter.refresh_from_db()
    assert len(calls) == 6  # the first try and five retries
    assert letter.status == Letter.Status.FAILED
    assert "font cache unreadable" in letter.last_error
    failed = accepted.events.get(kind="letter_failed")
    assert failed.automated and failed.data["verification_code"] == letter.verification_code

    supervisor = staff[Role.SUPERVISOR]
    elsewhere = factories.officer(Role.SUPERVISOR, other_agency, username="sup-gz")
    assert list(letters_failed_for(supervisor)) == [letter]
    assert list(letters_failed_for(elsewhere)) == []

    with pytest.raises(NotPermitted):
        letter_retry(letter, by=staff[Role.INTAKE])
    # The supervisor's page has a button for it.
    client.force_login(supervisor)
    page = client.post(
        reverse("workspace:letter_retry", args=[letter.pk]), {"next": "/supervisor/"}
    )
    assert page.status_code == 302 and page["Location"] == "/supervisor/"
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PENDING
    assert accepted.events.filter(kind="letter_requeued", actor=supervisor).exists()
    with pytest.raises(WrongState):
        letter_retry(letter, by=supervisor)

    render_letter.apply(args=[letter.pk])  # the renderer works again
    letter.refresh_from_db()
    assert letter.status == Letter.Status.ISSUED
    assert list(letters_failed_for(supervisor)) == []


def test_a_letter_left_pending_by_a_broker_outage_is_rendered_by_the_sweep(
    accepted, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("redis://127.0.0.1:6379 refused the connection")

    monkeypatch.setattr(render_letter, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        letter = letter_request(accepted, K.ACCEPTANCE)
    assert "waits for the sweep" in caplog.text
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PENDING

    assert letters_render_pending() == 0  # less than a minute old: its task may still come
    later = timezone.now() + datetime.timedelta(minutes=2)
    # This one, and the acceptance notice the acceptance itself asked for.
    assert letters_render_pending(now=later) == 2
    letter.refresh_from_db()
    assert letter.status == Letter.Status.ISSUED


# --- the system check ------------------------------------------------------------------------


def test_the_system_check_fails_loudly_without_chinese_fonts(monkeypatch):
    assert checks.cjk_fonts_available() == []  # this machine has fonts-noto-cjk

    monkeypatch.setattr(checks, "cjk_font_families", lambda: [])
    [error] = checks.cjk_fonts_available()
    assert isinstance(error, Error) and error.id == "documents.E001"
    assert "fonts-noto-cjk" in error.hint

    monkeypatch.setattr(checks, "cjk_font_families", lambda: None)  # no fontconfig at all
    [error] = checks.cjk_fonts_available()
    assert error.id == "documents.E001" and "fonts-noto-cjk" in error.hint


def test_a_letter_names_the_instrument_and_each_figure_with_its_article(accepted, staff):
    """Issue 12 item 1: the letter says which version (Order 36, from 2026-04-01) and why."""
    _letter, text = issue(accepted, K.ACCEPTANCE, decided_by=staff["intake"])

    assert says(text, "《信用修复管理办法》（国家发展改革委令第36号）")
    assert says(text, "修复结果期限：7 个工作日（《信用修复管理办法》第十六条第三款）")
    assert says(text, "受理决定期限：3 个工作日（《信用修复管理办法》第十六条第二款）")
