"""Letters read as a court or an auditor reads an administrative decision (issue 13, items
1-4): every letter that decides carries the agency's document number (文号), drawn without
gaps per agency and year; a decision states the parties, the facts found per record with
the evidence relied on, its legal basis as articles, what it does where and from when,
the remedy (from the agency's and the list's data: none on a mere notice), the agency,
date and seal; a Chinese letter holds no internal code or English word, an English one
no internal label; production issues no letter under the specimen seal.

Set ``REDRESS_LETTERS_OUT=/some/dir`` to keep every rendered PDF there (to look at them
with ``pdftoppm -png``).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from backoffice.management.commands import demo
from cases.law import cite
from cases.models import Agency, Case, CaseRecord, Deadline, Material, PenaltyType, Publication
from cases.rules import rule_set_in_force
from documents.models import Letter
from documents.selectors import letters_failed_for
from documents.services import letter_render_now, letter_request, letter_retry
from tests import factories
from tests.flow_helpers import (
    accept,
    add_evidence,
    add_restoration_materials,
    not_accept,
    restoration_accepted,
    review,
    sign,
    step,
    submit,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.flow_helpers import submit as flow_submit
from tests.helpers import agency_rules, days_ago, pdf_upload, restorable_record
from workflows import actions

K = Letter.Kind
pytestmark = pytest.mark.usefixtures("private_files")

PATTERN = "深市监信修〔{year}〕{seq}号"


def pdf_of(letter: Letter) -> bytes:
    with letter.pdf.open("rb") as handle:
        content = handle.read()
    out = os.environ.get("REDRESS_LETTERS_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"{letter.kind}-{letter.language}.pdf").write_bytes(content)
    return content


def text_of(letter: Letter) -> str:
    pages = PdfReader(io.BytesIO(pdf_of(letter))).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def links_of(letter: Letter) -> set[str]:
    """The addresses the letter's link annotations point to."""
    links = set()
    for page in PdfReader(io.BytesIO(pdf_of(letter))).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            if action.get("/URI"):
                links.add(str(action["/URI"]))
    return links


URL = re.compile(r"https?://\S+")


def urls_standing_apart(text: str) -> list[str]:
    """Each address printed, failing on one that Chinese text runs into or on from: a
    reader (or a viewer that links addresses) would take the Chinese as part of it."""
    for found in URL.finditer(text):
        before = text[found.start() - 1] if found.start() else " "
        assert before in " :：", f"{text[max(0, found.start() - 8) : found.end()]!r} runs on"
        assert found.group().isascii(), f"{found.group()!r} runs on into the text"
    return [found.group() for found in URL.finditer(text)]


# A record as a letter lists it: its number, the label that fits it (a penalty's type; a
# list's name and ground), then its decision number.
RECORD_ITEM = {
    "zh-hans": r"(\d+)\.{name}（(?:处罚种类：{penalty}|列入事由及依据：)(?:(?!决定文书号).)*?"
    r"决定文书号：{no}",
    "en": r"(\d+)\.{name}\((?:penalty:{penalty}|groundandbasisofthelisting:)"
    r"(?:(?!decisionnumber).)*?decisionnumber:?{no}",
}


def numbered_records(text: str, case: Case, language: str) -> list[int]:
    """The numbers the letter gives the case's records it lists, in the order printed;
    fails on a record listed without its number or its label."""
    rest = flat(text)
    found = []
    for cr in case.case_records.select_related("record__list_type"):
        record = cr.record
        no = flat(record.decision_no)
        if f"{no}" not in rest.replace(f"决定文书号{no}", "").replace(f"Decision{no}", ""):
            continue  # not listed in this letter (only in a finding)
        name = record.list_type.name if language == "zh-hans" else record.list_type.name_en
        penalty = "罚款" if language == "zh-hans" else "fine"
        pattern = RECORD_ITEM[language].format(
            name=re.escape(flat(name)), penalty=penalty, no=re.escape(no)
        )
        match = re.search(pattern, rest, flags=re.IGNORECASE)
        assert match, f"{record.decision_no} not numbered and labelled: {text}"
        found.append((match.start(), int(match.group(1))))
    return [number for _at, number in sorted(found)]


def flat(text: str) -> str:
    return "".join(text.split())


def says(text: str, *phrases: str) -> bool:
    return all(flat(phrase) in flat(text) for phrase in phrases)


def issue(case, kind, language, **kwargs) -> tuple[Letter, str]:
    letter = letter_render_now(letter_request(case, kind, language=language, **kwargs))
    assert letter.status == Letter.Status.ISSUED, letter.last_error
    return letter, text_of(letter)


@pytest.fixture
def numbered(agency):
    """The demo's SZAMR as the demo loader sets it up: its pattern, and its names, its
    reconsideration body's and its court's in both languages."""
    (name, name_en) = next((a[1], a[2]) for a in demo.AGENCIES if a[0] == agency.code)
    agency.name, agency.name_en = name, name_en
    agency.reconsideration_body, agency.reconsideration_body_en = demo.DEMO_REMEDY_BODIES[
        agency.code
    ]
    agency.court, agency.court_en = demo.DEMO_COURTS[agency.region_code]
    agency.document_number_pattern = PATTERN
    agency.save()
    return agency


@pytest.fixture
def named_platforms(platforms):
    """The platforms named as the demo loader names them."""
    names = {code: (name, name_en) for code, name, name_en, _kind in demo.PLATFORMS}
    for platform in platforms:
        platform.name, platform.name_en = names[platform.code]
        platform.save(update_fields=["name", "name_en"])
    return platforms


def every_letter(company, agency, platforms, applicant, staff) -> list[tuple[str, Case, dict]]:
    """One case per kind of letter, as people made it: (kind, case, request kwargs)."""

    def fine():
        return restorable_record(company, agency, platforms)

    def listed(**fields):
        return restorable_record(
            company,
            agency,
            platforms,
            list_type=factories.list_type("abnormal_operations"),
            penalty_type=PenaltyType.LISTING,
            penalty_types=[PenaltyType.LISTING],
            legal_basis="通过登记的住所无法联系（《企业经营异常名录管理办法》第十条）",
            **fields,
        )

    def submit(kind, subject, records, applicant):
        return flow_submit(
            kind, subject, records, applicant, grounds="罚款已缴清，失信行为已纠正。"
        )

    def restoration_accepted(subject, records, applicant, staff):
        case = submit(Case.Kind.RESTORATION, subject, records, applicant)
        add_restoration_materials(case, applicant)
        return accept(case, staff["intake"])

    cases = []

    accepted = restoration_accepted(company, [fine()], applicant, staff)
    cases.append((K.ACCEPTANCE, accepted, {"decided_by": staff["intake"]}))

    short = submit(Case.Kind.RESTORATION, company, [fine()], applicant)
    short = step(
        short,
        "acceptance_check",
        staff["intake"],
        decision="request_materials",
        missing=[
            {"material": Material.COMMITMENT_LETTER, "detail": "每条记录一份"},
            {"material": Material.FULFILMENT_PROOF, "detail": "罚款缴纳凭证"},
        ],
    )
    cases.append((K.MATERIALS_REQUEST, short, {"decided_by": staff["intake"]}))

    refused = not_accept(
        submit(Case.Kind.RESTORATION, company, [fine()], applicant),
        staff["intake"],
        reasons="该记录不属于本机关管辖。",
    )
    cases.append((K.NON_ACCEPTANCE, refused, {"decided_by": staff["intake"]}))

    # Several records, each numbered with its facts found and evidence (APL Art. 59).
    paid, also_paid, unreachable = fine(), fine(), listed()
    granted = restoration_accepted(company, [paid, also_paid, unreachable], applicant, staff)
    outcomes = {
        paid.pk: CaseRecord.Outcome.UPHELD,
        also_paid.pk: CaseRecord.Outcome.UPHELD,
        unreachable.pk: CaseRecord.Outcome.REJECTED,
    }
    review(granted, staff["case_officer"], Case.Decision.PARTLY_APPROVED, outcomes)
    CaseRecord.objects.filter(case=granted, record=paid).update(
        reason="罚款已于期限内缴清，失信行为已纠正。"
    )
    CaseRecord.objects.filter(case=granted, record=unreachable).update(reason="住所仍无法联系。")
    granted = sign(
        granted,
        staff["signer"],
        Case.Decision.PARTLY_APPROVED,
        reasons="两条记录准予修复，一条不予修复。",
        record_outcomes=outcomes,
    )
    cases.append((K.APPROVAL, granted, {}))
    cases.append((K.WITHDRAWAL_NOTICE, granted, {}))

    wrong = listed(listed_on=days_ago(10))
    objection = submit(Case.Kind.OBJECTION, company, [wrong], applicant)
    add_evidence(objection, applicant, Material.CORRECTION_EVIDENCE, record=wrong)
    objection = accept(objection, staff["intake"])
    review(objection, staff["case_officer"], Case.Decision.REJECTED)
    objection = sign(
        objection, staff["signer"], Case.Decision.REJECTED, reasons="证据不能证明记录有误。"
    )
    cases.append((K.REJECTION, objection, {}))

    revoked = restoration_accepted(company, [fine()], applicant, staff)
    review(revoked, staff["case_officer"], Case.Decision.APPROVED)
    sign(revoked, staff["signer"], Case.Decision.APPROVED)
    revoked = revoked_in_effect(
        case=revoked,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="信用承诺书所述整改情况不实。",
        evidence=[pdf_upload("revocation")],
    )
    cases.append((K.REVOCATION, revoked, {"decided_by": staff["signer"]}))

    # The agency's own version keeps the national one's articles (every letter states them).
    national = rule_set_in_force(
        list_type=factories.list_type(), severity="general", on=timezone.localdate()
    )
    agency_rules(
        agency,
        temporary_restoration_days=10,
        citations={**national.citations, "temporary_restoration_days": [cite("ndrc36", 20)]},
        signers_required=1,
        legal_review_required=False,
    )
    plan = submit(Case.Kind.REORGANISATION, company, [fine()], applicant)
    add_evidence(plan, applicant, Material.COURT_RULING)
    plan = accept(plan, staff["intake"])
    review(plan, staff["case_officer"], Case.Decision.APPROVED)
    plan = sign(plan, staff["signer"], Case.Decision.APPROVED, lifted_measures="限制参加招投标")
    cases.append((K.TEMPORARY_RESTORATION, plan, {}))

    # A plan the court ended: the records are published again (Order 36 Art. 20 ¶2).
    failing = submit(Case.Kind.REORGANISATION, company, [fine()], applicant)
    add_evidence(failing, applicant, Material.COURT_RULING)
    failing = accept(failing, staff["intake"])
    review(failing, staff["case_officer"], Case.Decision.APPROVED)
    failing = sign(failing, staff["signer"], Case.Decision.APPROVED, lifted_measures="限制融资")
    for publication in Publication.objects.filter(record__case_records__case=failing):
        actions.publication_acknowledge(publication=publication, status="shielded")
    failing = actions.case_plan_fail(
        case=Case.objects.get(pk=failing.pk),
        officer=staff["case_officer"],
        reasons="人民法院裁定终止重整计划的执行。",
        ruling=pdf_upload("termination-ruling", name="ruling.pdf"),
    )
    cases.append((K.PLAN_FAILED, failing, {}))
    return cases


# Internal codes a reader must never meet: rule-version labels and their parts, the
# models' snake_case codes, the list and penalty codes.
INTERNAL = [
    re.compile(r"\bv\d+\b"),
    re.compile(r"/(?:minor|general|serious)\b"),
    re.compile(r"\b[a-z]+_[a-z_]+\b"),
]


def allowed_ascii(letter: Letter) -> list[str]:
    """What a Chinese letter may print in ASCII: its numbers and codes, the verification
    address, the digest algorithm's name and the fingerprints and names of the files."""
    case = letter.case
    return [
        letter.document_number,
        case.reference,
        letter.code_display,
        f"/verify/{letter.verification_code}/",
        case.subject.code,
        "SHA-256",
        *(cr.record.decision_no for cr in case.case_records.select_related("record")),
        *(e.original_name for e in case.evidence.all()),
        *(e.sha256[:16] for e in case.evidence.all()),
    ]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_letter_kind_reads_as_an_administrative_document_in_its_language(
    language, company, numbered, named_platforms, applicant, staff
):
    agency = numbered
    seen = set()
    for kind, case, kwargs in every_letter(company, agency, named_platforms, applicant, staff):
        letter, text = issue(case, kind, language, **kwargs)
        seen.add(kind)
        where = f"{kind}/{language}: {text}"

        # No doubled punctuation where a typed reason ends a sentence the letter ends too,
        # and no sentence said twice.
        assert not re.search(r"[。．.；;，,]{2}", flat(text).replace("…", "")), (
            f"doubled in {where}"
        )
        sentences = [flat(s) for s in re.split(r"(?<=[。])", text) if len(flat(s)) > 15]
        repeated = {s for s in sentences if sentences.count(s) > 1}
        assert not repeated, f"{repeated} repeated in {where}"

        # Every address stands apart from the text and is a link to itself.
        urls = urls_standing_apart(text)
        assert urls and set(urls) <= links_of(letter), f"{urls} not linked in {kind}"

        # Every record listed is numbered, in order, and labelled to fit it.
        numbers = numbered_records(text, case, language)
        assert numbers == list(range(1, len(numbers) + 1)), f"{numbers} in {where}"
        if kind in (K.APPROVAL, K.REJECTION, K.TEMPORARY_RESTORATION, K.PLAN_FAILED):
            assert len(numbers) == case.case_records.count(), where

        # An objection ("this record is wrong") has no restoration period, no date to
        # apply again and no objection to a refused restoration (Order 36 Art. 18).
        if case.kind == Case.Kind.OBJECTION:
            for phrase in (
                "最短公示期",
                "最长公示期",
                "重新提出申请",
                "Minimum publication",
                "Maximum publication",
                "apply again",
                "file again",
                "异议申诉",
                "you may object",
            ):
                assert not says(text, phrase), f"{phrase} in {where}"
        assert not re.search(r"(?<!\d)0(?:months|个月)", flat(text)), where

        # No internal code in either language.
        for pattern in INTERNAL:
            assert not pattern.search(text), f"{pattern.pattern} in {where}"
        assert not says(text, letter.rule_version), where

        if language == "zh-hans":
            rest = flat(text)
            for allowed in sorted(allowed_ascii(letter), key=len, reverse=True):
                rest = rest.replace(flat(allowed), "")
            rest = re.sub(r"https?://[\x21-\x7e]+", "", rest)  # addresses stand apart
            assert not re.findall(r"[A-Za-z]{2,}", rest), f"English in {where}"
        else:
            # Chinese only in genuinely Chinese data: the subject's name, the numbers and
            # what people typed. No label and no seeded name (agency, reconsideration body,
            # court, platform, list type) in Chinese: those have English names.
            rest = flat(text)
            typed = [
                case.subject.name,
                case.grounds,
                case.decision_reasons,
                case.lifted_measures,
                *(item.get("detail", "") for item in case.missing_materials),
                *case.letters.values_list("document_number", flat=True),
                *(e.original_name for e in case.evidence.all()),
                *(e.review_reason for e in case.evidence.all()),
                *(event.note for event in case.events.all()),
                *(c for e in case.events.filter(kind="revoked") for c in [e.note]),
            ]
            for cr in case.case_records.select_related("record"):
                typed += [cr.record.decision_no, cr.record.legal_basis, cr.reason, cr.correction]
                typed.append(cr.reason.rstrip("。"))  # a finding the letter ends itself
            for allowed in sorted(filter(None, typed), key=len, reverse=True):
                rest = rest.replace(flat(allowed), "")
            leftover = re.findall(r"[\u4e00-\u9fff]+", rest)
            assert not leftover, f"Chinese {leftover} in {where}"

        # The number that decides, or only the case reference on a notice.
        if kind in (K.ACCEPTANCE, K.MATERIALS_REQUEST, K.WITHDRAWAL_NOTICE):
            assert letter.document_number == ""
        else:
            assert re.fullmatch(r"深市监信修〔\d{4}〕\d+号", letter.document_number)
            assert says(text, letter.document_number), where

        # A remedy only where something is decided.
        remedy = "权利告知" if language == "zh-hans" else "Your rights"
        decides = kind not in (K.ACCEPTANCE, K.MATERIALS_REQUEST, K.WITHDRAWAL_NOTICE)
        assert says(text, remedy) == decides, where

        # Labels fit the list: a penalty's type, a list's name and ground.
        if kind == K.APPROVAL:
            # Each record with its facts found and the evidence relied on (APL Art. 59).
            facts = "经审查查明：" if language == "zh-hans" else "Facts found:"
            assert flat(text).count(flat(facts)) == 3, where
        if kind == K.APPROVAL:
            # A restoration refused in part may be objected to (《信用修复管理办法》第十八条).
            objection = "第十八条，通过" if language == "zh-hans" else "you may object under"
            assert says(text, objection), where
        if kind == K.WITHDRAWAL_NOTICE:
            # The public explanation names the decision by its number.
            numbers = set(
                case.letters.filter(kind=K.APPROVAL).values_list("document_number", flat=True)
            )
            assert len(numbers) == 1 and says(text, numbers.pop()), where
        if kind == K.TEMPORARY_RESTORATION:
            # What an officer typed ends as a sentence does.
            assert says(text, "限制参加招投标。"), where
        if kind == K.PLAN_FAILED:
            assert says(text, "限制融资。"), where
            # The legal basis names the article of the act itself (Order 36 Art. 20 ¶2).
            basis = re.search(r"法律依据：([^。]*)。|Legalbasis:(.*?)Periodsthatapply", flat(text))
            assert basis and re.search(r"第二十条第二款|20\(2\)", basis.group(0)), where
        if kind == K.APPROVAL and language == "zh-hans":
            assert says(text, "经审查查明：住所仍无法联系。")
            assert says(text, "行政处罚信息公示（处罚种类：罚款")
            assert says(text, "经营异常名录（列入事由及依据：通过登记的住所无法联系")
            assert not says(text, "经营异常名录（处罚种类")
            # Facts found per record, with the evidence relied on, and the effect.
            assert says(text, "经审查查明：罚款已于期限内缴清，失信行为已纠正。")
            assert says(text, "证据：信用承诺书")
            assert says(text, "将撤下该记录的平台：信用中国、国家企业信用信息公示系统")
            assert says(text, "法律依据：《信用修复管理办法》第十二条")
            assert says(text, "申请人：", case.subject.name)
        if kind == K.APPROVAL and language == "en":
            assert says(text, "Abnormal business operations (ground and basis of the listing")
            assert says(text, "Published administrative penalty (penalty: fine")
            assert says(text, "Legal basis: Credit Restoration Measures (NDRC Order No. 36)")
    assert seen == set(K.values)


def test_decision_numbers_run_per_agency_and_year_and_a_copy_keeps_its_number(
    company, numbered, other_agency, platforms, applicant, staff
):
    year = timezone.localdate().year
    first = not_accept(
        submit(Case.Kind.RESTORATION, company, [restorable_record(company, numbered)], applicant),
        staff["intake"],
        reasons="不属于本机关管辖。",
    )
    second = not_accept(
        submit(Case.Kind.RESTORATION, company, [restorable_record(company, numbered)], applicant),
        staff["intake"],
        reasons="不属于本机关管辖。",
    )
    numbers = [
        first.letters.get(kind=K.NON_ACCEPTANCE).document_number,
        second.letters.get(kind=K.NON_ACCEPTANCE).document_number,
    ]
    assert numbers == [f"深市监信修〔{year}〕1号", f"深市监信修〔{year}〕2号"]
    # The acceptance notice of an accepted case decides nothing: no number is used up.
    accepted = restoration_accepted(
        company, [restorable_record(company, numbered)], applicant, staff
    )
    assert accepted.letters.get(kind=K.ACCEPTANCE).document_number == ""
    # An English copy of the same decision has the same number.
    copy = letter_request(second, K.NON_ACCEPTANCE, language="en")
    assert copy.document_number == numbers[1]
    # Another agency counts on its own, in the default pattern.
    elsewhere = factories.officer("intake", other_agency)
    third = not_accept(
        submit(
            Case.Kind.RESTORATION, company, [restorable_record(company, other_agency)], applicant
        ),
        elsewhere,
        reasons="不属于本机关管辖。",
    )
    assert third.letters.get(kind=K.NON_ACCEPTANCE).document_number == f"〔{year}〕1号"


def test_a_bad_pattern_is_refused_with_the_reason(numbered):
    numbered.document_number_pattern = "深市监信修〔{year}〕号"
    with pytest.raises(Exception) as refused:
        numbered.full_clean()
    assert "{seq}" in str(refused.value)
    numbered.document_number_pattern = "深市监信修〔{year}〕{seq}-{number}号"
    with pytest.raises(Exception) as refused:
        numbered.full_clean()
    assert "{year} and {seq}" in str(refused.value)


def test_a_court_debtor_list_decision_names_the_higher_court_within_10_days(
    company, agency, platforms, applicant, staff
):
    debt = restorable_record(
        company,
        agency,
        platforms,
        list_type=factories.list_type("dishonest_debtor"),
        penalty_type=PenaltyType.LISTING,
        penalty_types=[PenaltyType.LISTING],
        legal_basis="有履行能力而拒不履行生效法律文书确定义务",
    )
    case = not_accept(
        submit(Case.Kind.OBJECTION, company, [debt], applicant),
        staff["intake"],
        reasons="申请材料不能证明已履行。",
    )

    _, text = issue(case, K.NON_ACCEPTANCE, "zh-hans")

    assert says(text, "自本决定书送达之日起 10 日内向上一级人民法院申请复议")
    assert says(text, "《最高人民法院关于公布失信被执行人名单信息的若干规定》第十二条")
    assert not says(text, "提起行政诉讼")
    assert not says(text, "60 日内")
    # An objection not accepted is not a restoration refused: no Order 36 Art. 18 route.
    assert not says(text, "异议申诉")

    _, text = issue(case, K.NON_ACCEPTANCE, "en")

    assert says(
        text,
        "you may apply to the people's court at the next higher level for reconsideration "
        "within 10 days of its service",
    )
    assert says(text, "SPC Provisions on Publishing the List of Dishonest Judgment Debtors")
    assert not says(text, "lawsuit") and not says(text, "60 days")
    assert not says(text, "you may object")


# --- seals ------------------------------------------------------------------------------


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 120), (200, 16, 46)).save(out, format="PNG")
    return out.getvalue()


def test_production_refuses_the_specimen_seal_and_supervisors_see_why(
    settings, company, agency, platforms, applicant, staff, client
):
    settings.REDRESS_SPECIMEN_SEAL = False
    case = not_accept(
        submit(Case.Kind.RESTORATION, company, [restorable_record(company, agency)], applicant),
        staff["intake"],
        reasons="不属于本机关管辖。",
    )
    letter = case.letters.get(kind=K.NON_ACCEPTANCE)

    with pytest.raises(Exception):  # noqa: B017 - the render fails, once and for all
        letter_render_now(letter)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.FAILED
    assert agency.name in letter.last_error and "seal" in letter.last_error
    assert letter in letters_failed_for(staff["supervisor"])
    client.force_login(staff["supervisor"])
    page = client.get(reverse("workspace:agency_problems")).content.decode()
    assert agency.name in page and "specimen seal" in page

    # The agency uploads its seal; the supervisor renders the letter again: issued under it.
    agency = Agency.objects.get(pk=agency.pk)
    agency.seal.save("seal.png", ContentFile(png()))
    letter = letter_render_now(letter_retry(letter, by=staff["supervisor"]))
    assert letter.status == Letter.Status.ISSUED
    assert "redress-seal:" in letter.html and "redress-asset:seal.svg" not in letter.html


def test_the_deploy_check_names_each_agency_without_its_own_seal(settings, agency, other_agency):
    settings.REDRESS_SPECIMEN_SEAL = False
    Agency.objects.filter(pk=other_agency.pk).update(is_active=True)
    sealed = Agency.objects.get(pk=other_agency.pk)
    sealed.seal.save("seal.png", ContentFile(png()))

    with pytest.raises(SystemCheckError) as failed:
        call_command("check", "--deploy", "--tag", "documents")
    assert "documents.E003" in str(failed.value)
    assert agency.code in str(failed.value) and agency.name in str(failed.value)
    assert other_agency.code not in str(failed.value)

    settings.REDRESS_SPECIMEN_SEAL = True  # development and the demo print the specimen
    call_command("check", "--deploy", "--tag", "documents")


def test_the_specimen_seal_says_specimen():
    svg = (Path(__file__).resolve().parent.parent / "documents/assets/seal.svg").read_text()
    assert "样章" in svg


def test_the_seeded_and_demo_names_an_english_letter_prints_are_english():
    """What an English letter names comes from data: every seeded list type and every
    demo agency, reconsideration body, court, platform and measure has an English name
    with no Chinese in it."""
    from cases.seeds import APPLIED_BY_EN, LIST_TYPES, MEASURES

    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    english = [
        *(name_en for _code, _name, name_en in LIST_TYPES),
        *(a[2] for a in demo.AGENCIES),
        *(en for _zh, en in demo.DEMO_REMEDY_BODIES.values()),
        *(en for _zh, en in demo.DEMO_COURTS.values()),
        *(p[2] for p in demo.PLATFORMS),
        *(m[2] for m in demo.DEMO_MEASURES),
        # The bodies that apply the seeded measures (the demo's: market regulation).
        *(APPLIED_BY_EN[m[4]] for m in MEASURES),
        APPLIED_BY_EN["市场监督管理部门"],
    ]
    assert all(english), english
    assert not [name for name in english if cjk.search(name)]
    assert {a[0] for a in demo.AGENCIES} <= set(demo.DEMO_REMEDY_BODIES)
    assert {a[3] for a in demo.AGENCIES} <= set(demo.DEMO_COURTS)


def test_a_refused_restoration_states_no_date_the_rules_do_not_give(
    company, numbered, platforms, applicant, staff
):
    """The rule sets give no waiting period after a refusal: with every record's minimum
    publication period over, the letter says a new request may follow, and names no day."""
    case = restoration_accepted(
        company, [restorable_record(company, numbered, platforms)], applicant, staff
    )
    review(case, staff["case_officer"], Case.Decision.REJECTED)
    case = sign(case, staff["signer"], Case.Decision.REJECTED, reasons="未提交罚款缴纳凭证。")

    _, text = issue(case, K.REJECTION, "zh-hans")

    assert says(text, "符合条件后，你（单位）可以重新提出申请。")
    assert says(text, "依据《信用修复管理办法》第十八条，通过“信用中国”网站")
    assert not says(text, "最早可于")
    assert says(text, "申请修复前的最短公示期：3 个月")


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-hans", "国务院节假日安排尚未公布，该日期系按《全国年节及纪念日放假办法》"),
        ("en", "The State Council has not yet published the holidays of that date's year"),
    ],
)
def test_a_date_beyond_the_known_calendar_is_stated_as_one_to_be_confirmed(
    language, words, company, numbered, platforms, applicant, staff
):
    """A deadline counted into a year whose holiday schedule is not loaded is provisional
    (decision 0022): the letter stating it says it will be confirmed, and which date."""
    case = restoration_accepted(
        company, [restorable_record(company, numbered, platforms)], applicant, staff
    )
    decision = Deadline.objects.get(case=case, step=Deadline.Step.DECISION)
    decision.provisional = True
    decision.save(update_fields=["provisional"])

    _, text = issue(case, K.ACCEPTANCE, language)

    due = decision.due_on
    day = f"{due.year}年{due.month}月{due.day}日" if language == "zh-hans" else f"{due.day}"
    assert says(text, day) and says(text, words), text
    assert says(text, "待安排公布后确认" if language == "zh-hans" else "will be confirmed")

    decision.provisional = False
    decision.save(update_fields=["provisional"])
    _, text = issue(case, K.ACCEPTANCE, language)
    assert not says(text, words)
