"""What a letter says: the facts of the case, gathered once, and the HTML they make.

``letter_facts`` reads the case into plain values (strings, numbers, lists) in the
letter's language; ``letter_html`` renders them with the kind's template. Text that
a person typed (names, grounds, reasons, notes, file names) reaches the HTML only
through Django's autoescaping: it is printed, never interpreted. The HTML is
stored on the letter, so the facts are read exactly once, when the letter is
requested.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Prefetch
from django.template import engines
from django.template.loader import render_to_string
from django.utils import timezone, translation

from cases.clock import deadline_latest
from cases.errors import RedressError
from cases.law import INSTRUMENTS, Citation, citations_render
from cases.models import (
    Case,
    CaseRecord,
    Deadline,
    DecisionMeeting,
    Evidence,
    PenaltyType,
    Publication,
    Remedy,
    Revocation,
    Sector,
    Signature,
    Subject,
)
from cases.rules import REVOCATION_BAR_BASIS, case_governing_rule_set
from documents.fetcher import SEAL_SCHEME, SEALS_FOLDER, asset_bytes, asset_url
from documents.models import Letter

K = Letter.Kind
LANGUAGES = ("zh-hans", "en")
TEMPLATE_DIR = "letters"
SHARED_PARTS = (
    "base.html",
    "_records.html",
    "_record_label.html",
    "_evidence.html",
    "_appeal.html",
    "_review.html",
)
ASSETS_HASHED = ("seal.svg",)
SEAL_MAX_BYTES = 512 * 1024

# The remedies a deciding letter states (decision 0021): against an administrative act,
# reconsideration within 60 days (Administrative Reconsideration Law Art. 20) before the
# body Arts. 24-27 name, or a suit within 6 months (Administrative Litigation Law Art. 46);
# against a court's decision on its list of dishonest debtors, reconsideration by the
# next higher court applied for within 10 days of service (SPC rules Art. 12).
RECONSIDERATION_DAYS = 60
LAWSUIT_MONTHS = 6
HIGHER_COURT_DAYS = 10
RECONSIDERATION_BASIS = Citation("arl", 20)
LAWSUIT_BASIS = Citation("all", 46)
HIGHER_COURT_BASIS = Citation("spc_debtors", 12)
# Letters that decide something carry a remedy; notices (acceptance, missing materials)
# and the public withdrawal notice do not.
REMEDY_KINDS = (
    K.NON_ACCEPTANCE,
    K.APPROVAL,
    K.REJECTION,
    K.TEMPORARY_RESTORATION,
    K.PLAN_FAILED,
    K.REVOCATION,
)

TITLES = {
    "zh-hans": {
        K.ACCEPTANCE: "受理通知书",
        K.MATERIALS_REQUEST: "补正材料通知书",
        K.NON_ACCEPTANCE: "不予受理通知书",
        K.APPROVAL: "{kind}决定书",
        K.REJECTION: "{kind}决定书",
        K.WITHDRAWAL_NOTICE: "关于撤下公示信息的说明",
        K.REVOCATION: "撤销信用修复决定书",
        K.TEMPORARY_RESTORATION: "临时信用修复决定书",
        K.PLAN_FAILED: "恢复公示决定书",
    },
    "en": {
        K.ACCEPTANCE: "Notice of Acceptance",
        K.MATERIALS_REQUEST: "Request for Missing Materials",
        K.NON_ACCEPTANCE: "Notice of Non-acceptance",
        K.APPROVAL: "Decision on the {kind}",
        K.REJECTION: "Decision on the {kind}",
        K.WITHDRAWAL_NOTICE: "Notice of Withdrawal of Published Information",
        K.REVOCATION: "Decision to Revoke a Credit Restoration",
        K.TEMPORARY_RESTORATION: "Decision on Temporary Credit Restoration",
        K.PLAN_FAILED: "Decision to Restore Publication after a Failed Plan",
    },
}
CASE_KINDS = {
    "zh-hans": {
        Case.Kind.OBJECTION: "异议处理",
        Case.Kind.RESTORATION: "信用修复",
        Case.Kind.REORGANISATION: "临时信用修复",
    },
    "en": {
        Case.Kind.OBJECTION: "Objection",
        Case.Kind.RESTORATION: "Credit Restoration Request",
        Case.Kind.REORGANISATION: "Temporary Credit Restoration Request",
    },
}
CODE_LABELS = {
    "zh-hans": {Subject.Kind.LEGAL: "统一社会信用代码", Subject.Kind.NATURAL: "公民身份号码"},
    "en": {Subject.Kind.LEGAL: "Unified Social Credit Code", Subject.Kind.NATURAL: "Resident ID"},
}
SEVERITIES = {
    "zh-hans": {"minor": "轻微", "general": "一般", "serious": "严重"},
    "en": {"minor": "minor", "general": "general", "serious": "serious"},
}
PENALTIES = {
    "zh-hans": {
        "warning": "警告",
        "fine": "罚款",
        "confiscation": "没收违法所得",
        "listing": "列入名单",
        "suspension": "责令停产停业",
        "licence_revocation": "吊销许可证件",
        "practice_restriction": "限制从业",
    },
    "en": {
        "warning": "warning",
        "fine": "fine",
        "confiscation": "confiscation of unlawful gains",
        "listing": "listing",
        "suspension": "suspension of business",
        "licence_revocation": "licence revocation",
        "practice_restriction": "restriction of practice",
    },
}
MATERIALS = {
    "zh-hans": {
        "commitment_letter": "信用承诺书",
        "fulfilment_proof": "行政处罚履行完毕的证明材料",
        "training_certificate": "信用修复培训证明",
        "credit_report": "信用报告",
        "correction_evidence": "证明记录有误的材料",
        "identity_proof": "身份证明或授权委托书",
        "court_ruling": "人民法院批准重整计划或者认可和解协议的裁定书",
        "completion_ruling": "人民法院确认重整计划或者和解协议执行完毕的裁定书",
        "termination_ruling": "人民法院终止重整计划或者和解协议执行的裁定书",
        "other": "其他材料",
    },
    "en": {
        "commitment_letter": "credit commitment letter",
        "fulfilment_proof": "proof that the penalty was fulfilled",
        "training_certificate": "credit training certificate",
        "credit_report": "credit report",
        "correction_evidence": "evidence that the record is wrong",
        "identity_proof": "proof of identity or authorisation",
        "court_ruling": "court ruling approving the reorganisation plan or composition agreement",
        "completion_ruling": "court ruling confirming the plan or agreement was carried out",
        "termination_ruling": "court ruling terminating the plan or agreement",
        "other": "other material",
    },
}
EVIDENCE_OUTCOMES = {
    "zh-hans": {
        "pending": "未审查",
        "accepted": "采纳",
        "rejected": "不予采纳",
        "needs_more": "需补充",
    },
    "en": {
        "pending": "not reviewed",
        "accepted": "accepted",
        "rejected": "not accepted",
        "needs_more": "more needed",
    },
}
RECORD_OUTCOMES = {
    "zh-hans": {
        "pending": "待定",
        "upheld": "予以支持",
        "rejected": "不予支持，继续公示",
    },
    "en": {
        "pending": "pending",
        "upheld": "granted",
        "rejected": "refused: stays published",
    },
}
# Why a restoration was revoked (``RevocationGround``), as the revocation letter says it.
REVOCATION_GROUNDS = {
    "zh-hans": {
        "false_materials": "提供虚假材料",
        "untrue_commitment": "信用承诺严重不实",
        "commitment_not_performed": "故意不履行信用承诺",
    },
    "en": {
        "false_materials": "you provided false materials",
        "untrue_commitment": "your credit commitment was seriously untrue",
        "commitment_not_performed": "you deliberately failed to perform your credit commitment",
    },
}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def format_date(day: datetime.date | None, language: str) -> str:
    if day is None:
        return "—"
    if language == "en":
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


# Where a sentence a person typed already ends; else the letter ends it in the script the
# text ends in (a Chinese clause with "。", an English one with ".").
SENTENCE_ENDS = "。！？.!?；;…"


def sentence(text: str) -> str:
    """Typed text as a whole sentence: its own final stop, or the one its script takes."""
    text = text.strip().rstrip("，,、：: ")
    if not text or text.endswith(tuple(SENTENCE_ENDS)):
        return text
    return text + ("。" if "\u2e80" <= text[-1] <= "\uffef" else ".")


def local_day(at: datetime.datetime | None) -> datetime.date | None:
    return timezone.localdate(at) if at is not None else None


def verify_url(code: str) -> str:
    return f"{settings.REDRESS_SITE_URL.rstrip('/')}/verify/{code}/"


def masked_code(subject: Subject) -> str:
    """A natural person's ID is masked on a public notice; a company's code is public."""
    if subject.kind == Subject.Kind.NATURAL:
        return subject.code[:6] + "*" * 8 + subject.code[-4:]
    return subject.code


# --- templates ----------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateIdentity:
    name: str
    version: str
    sha256: str


def template_name(kind: str, language: str) -> str:
    return f"{TEMPLATE_DIR}/{language}/{kind}.html"


def template_identity(kind: str, language: str) -> TemplateIdentity:
    """The kind's template as it stands: its content hash and the version it makes.

    The hash covers every file the letter is made of (the kind's template, the
    shared layout and partials, the stylesheet and the packaged seal), as the
    template engine finds them; the version names the kind, the language and the
    first 12 hex digits of that hash, so any edit makes a new version.
    """
    engine = engines["django"]
    digest = hashlib.sha256()
    names = [
        template_name(kind, language),
        *(f"{TEMPLATE_DIR}/{language}/{part}" for part in SHARED_PARTS),
        f"{TEMPLATE_DIR}/letter.css",
    ]
    for name in names:
        source = engine.get_template(name).template.source
        digest.update(name.encode() + b"\0" + source.encode("utf-8") + b"\0")
    for asset in ASSETS_HASHED:
        digest.update(asset.encode() + b"\0" + asset_bytes(asset) + b"\0")
    sha = digest.hexdigest()
    return TemplateIdentity(
        name=template_name(kind, language), version=f"{kind}/{language}@{sha[:12]}", sha256=sha
    )


# --- facts ------------------------------------------------------------------------------


def rule_version(case: Case, on: datetime.date) -> tuple[str, str]:
    """(label, legal basis) of the rule version the case is judged by."""

    try:
        rule_set = case_governing_rule_set(case, on=on)
    except RedressError:
        return "—", ""
    return rule_set.label, rule_set.legal_basis


def rule_figures(case: Case, on: datetime.date, language: str) -> tuple[str, list[dict]]:
    """(instrument title and number, figures with their articles) of the case's version,
    in the letter's language."""
    try:
        rule_set = case_governing_rule_set(case, on=on)
    except RedressError:
        return "", []
    with translation.override(language):
        return rule_set.instrument_title, rule_set.figures_used(case.kind)


SPECIMEN_SEAL_SRC = asset_url("seal.svg")


def agency_seal(agency) -> tuple[bytes, str] | None:
    """(content, extension) of the agency's own seal image (PNG or JPEG, at most 512 KiB),
    or None when it has none that a letter can print."""
    seal = agency.seal
    if not seal:
        return None
    try:
        with seal.open("rb") as handle:
            content = handle.read(SEAL_MAX_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(content) > SEAL_MAX_BYTES:
        return None
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return content, "png"
    if content.startswith(b"\xff\xd8\xff"):
        return content, "jpg"
    return None


def seal_source(case: Case) -> str:
    """The agency's own seal (PNG or JPEG) if it has one, else the packaged specimen (样章).

    An agency's seal is copied once into the letters storage under its SHA-256
    (``seals/<sha256>.png``) and the letter names it by that hash, so the letter's
    HTML stays small and a later change of seal never alters an issued letter. The
    specimen is refused when a letter is rendered in production
    (``settings.REDRESS_SPECIMEN_SEAL``; decision 0021).
    """
    found = agency_seal(case.agency)
    if found is None:
        return SPECIMEN_SEAL_SRC
    content, extension = found
    name = f"{hashlib.sha256(content).hexdigest()}.{extension}"
    storage = Letter.storage()
    if not storage.exists(f"{SEALS_FOLDER}/{name}"):
        storage.save(f"{SEALS_FOLDER}/{name}", ContentFile(content))
    return SEAL_SCHEME + name


def _rule_set(case: Case, on: datetime.date):
    try:
        return case_governing_rule_set(case, on=on)
    except RedressError:
        return None


def citations_grouped(citations: list[Citation], language: str) -> str:
    """Articles joined the way a decision cites them, one instrument once:
    《信用修复管理办法》第十二条、第十六条第二款；《中华人民共和国行政处罚法》第五十八条."""
    order = {code: n for n, code in enumerate(INSTRUMENTS)}
    unique = sorted(
        set(citations),
        key=lambda c: (order[c.instrument], c.article, c.paragraph or 0, c.item or 0),
    )
    groups: dict[str, list[Citation]] = {}
    for citation in unique:
        groups.setdefault(citation.instrument, []).append(citation)
    if language == "en":
        parts = []
        for code, items in groups.items():
            source = INSTRUMENTS[code]
            articles = ", ".join(c.en.rsplit(", Art. ", 1)[1] for c in items)
            label = "Art." if len(items) == 1 else "Arts."
            parts.append(f"{source.title_en} ({source.number_en}), {label} {articles}")
        return "; ".join(parts)
    parts = []
    for code, items in groups.items():
        head = f"《{INSTRUMENTS[code].title}》"
        parts.append(head + "、".join(c.zh[len(head) :] for c in items))
    return "；".join(parts)


# Besides the periods the case ran on (``RuleSet.figures_used``), the values of the rule
# version each kind of letter rests on: their articles are the letter's legal basis.
BASIS_FIELDS = {
    K.MATERIALS_REQUEST: ("required_materials", "materials_days"),
    K.NON_ACCEPTANCE: ("barred_penalty_types", "no_early_repair_penalty_types"),
    K.APPROVAL: ("required_materials",),
    K.REJECTION: ("required_materials", "barred_penalty_types", "no_early_repair_penalty_types"),
    K.TEMPORARY_RESTORATION: ("temporary_restoration_days",),
    K.REVOCATION: ("revocation_publication_months", "revocation_bar_months"),
}


def rule_basis(rule_set, case: Case, kind: str, language: str) -> str:
    """The articles this letter rests on, as its legal basis: those of the case's rule
    version for the periods the case ran on and the values the kind applies, and the
    article of the act itself where no rule value carries it (a failed plan's)."""
    cited = [_plan_failed_article(case)] if kind == K.PLAN_FAILED else []
    if rule_set is not None:
        fields = [f["field"] for f in rule_set.figures_used(case.kind)]
        fields += BASIS_FIELDS.get(kind, ())
        cited += [c for field in fields for c in rule_set.cited(field)]
    return citations_grouped(cited, language)


# 《信用修复管理办法》第十六条第二款: what is missing is named at once (一次性告知).
MATERIALS_NOTICE_BASIS = Citation("ndrc36", 16, 2)


def _materials_basis(rule_set, language: str) -> str:
    cited = [MATERIALS_NOTICE_BASIS]
    if rule_set is not None:
        cited += rule_set.cited("required_materials")
    return citations_grouped(cited, language)


def agency_remedy_names(agency, language: str) -> tuple[str, str]:
    """The agency's reconsideration body and court as a letter in ``language`` names them:
    the English name where the agency has one."""
    if language == "en":
        return (
            agency.reconsideration_body_en or agency.reconsideration_body,
            agency.court_en or agency.court,
        )
    return agency.reconsideration_body, agency.court


def remedies(case: Case, language: str) -> list[dict]:
    """The routes against this decision, from data: the agency's reconsideration body and
    court (Administrative Reconsideration Law Arts. 24-27, Administrative Litigation Law
    Art. 18), and per list its route (a court's list of dishonest debtors: the next higher
    court, SPC rules Art. 12)."""
    routes = set(case.records.values_list("list_type__remedy", flat=True))
    if not routes and case.rule_set_id:
        routes = {case.rule_set.list_type.remedy}
    agency = case.agency
    en = language == "en"
    reconsideration_body, court = agency_remedy_names(agency, language)
    out = []
    if Remedy.HIGHER_COURT in routes:
        out.append(
            {
                "route": Remedy.HIGHER_COURT,
                "days": HIGHER_COURT_DAYS,
                "body": (agency.sector == Sector.COURT and reconsideration_body)
                or ("the people's court at the next higher level" if en else "上一级人民法院"),
                "basis": HIGHER_COURT_BASIS.render(language),
            }
        )
    if Remedy.ADMINISTRATIVE in routes or not out:
        out.append(
            {
                "route": Remedy.ADMINISTRATIVE,
                "days": RECONSIDERATION_DAYS,
                "months": LAWSUIT_MONTHS,
                "body": reconsideration_body
                or ("the competent reconsideration body" if en else "依法有管辖权的行政复议机关"),
                "court": court or ("the competent people's court" if en else "有管辖权的人民法院"),
                "basis": RECONSIDERATION_BASIS.render(language),
                "court_basis": LAWSUIT_BASIS.render(language),
            }
        )
    return out


def final_signers(case: Case) -> list[str]:
    """Usernames of the officials who signed the case's final sign-off round."""
    if not case.decision:
        return []
    return list(
        Signature.objects.filter(case=case, round=case.signoff_round, decision=case.decision)
        .order_by("signed_at", "id")
        .values_list("signer__username", flat=True)
    )


def _deadline(case: Case, step: str) -> Deadline | None:
    return deadline_latest(case, step)


def _event(case: Case, kind: str):
    return case.events.filter(kind=kind).order_by("-seq").first()


def _evidence(item: Evidence, language: str) -> dict:
    return {
        "name": item.original_name,
        "material": MATERIALS[language].get(item.material, item.material),
        "sha256": item.sha256[:16],
        "outcome": item.review_outcome,
        "outcome_label": EVIDENCE_OUTCOMES[language].get(item.review_outcome, item.review_outcome),
        "reason": item.review_reason,
        "reviewed_on": format_date(local_day(item.reviewed_at), language),
    }


def _platform_name(publication: Publication, language: str) -> str:
    platform = publication.platform
    return (platform.name_en or platform.name) if language == "en" else platform.name


def _records(case: Case, evidence: list[Evidence], language: str) -> list[dict]:
    rows = []
    case_records = (
        case.case_records.select_related("record__list_type", "record__agency")
        .prefetch_related(
            Prefetch(
                "record__publications",
                queryset=Publication.objects.select_related("platform").order_by("platform__code"),
            )
        )
        .order_by("record__listed_on", "record_id")
    )
    for cr in case_records:
        record = cr.record
        publications = list(record.publications.all())
        rows.append(
            {
                "list_type": (record.list_type.name_en or record.list_type.name)
                if language == "en"
                else record.list_type.name,
                "decision_no": record.decision_no,
                "agency": (record.agency.name_en or record.agency.name)
                if language == "en"
                else record.agency.name,
                "legal_basis": record.legal_basis,
                "severity": SEVERITIES[language].get(record.severity, record.severity),
                # A penalty is named by its type; a list by its name and its ground.
                "is_penalty": record.penalty_type != PenaltyType.LISTING,
                "penalty": ("、" if language != "en" else ", ").join(
                    PENALTIES[language].get(p, p)
                    for p in (record.penalty_types or [record.penalty_type])
                ),
                "listed_on": format_date(record.listed_on, language),
                "restorable_from": record.restorable_from,
                "expires_on": format_date(record.expires_on, language) if record.expires_on else "",
                "outcome": cr.outcome,
                "outcome_label": RECORD_OUTCOMES[language].get(cr.outcome, cr.outcome),
                "correction": cr.correction,
                "reason": cr.reason,
                # The reason as a finding of fact, a whole sentence (never "。。").
                "finding": sentence(cr.reason),
                "platforms": [_platform_name(p, language) for p in publications],
                "withdrawn_from": [
                    _platform_name(p, language)
                    for p in publications
                    if p.status
                    in (Publication.Status.WITHDRAWAL_REQUESTED, Publication.Status.WITHDRAWN)
                ],
                "evidence": [_evidence(e, language) for e in evidence if e.record_id == record.pk],
            }
        )
    return rows


def letter_facts(
    case: Case,
    kind: str,
    language: str,
    *,
    code: str,
    issued_at: datetime.datetime,
    reapply_from: datetime.date | None = None,
    document_number: str = "",
) -> dict:
    """Everything the letter prints, as plain values in the letter's language."""
    issued_on = local_day(issued_at)
    agency = case.agency
    en = language == "en"
    label, legal_basis = rule_version(case, issued_on)
    instrument_title, figures = rule_figures(case, issued_on, language)
    evidence = list(case.evidence.order_by("uploaded_at", "id"))
    records = _records(case, evidence, language)
    case_kind = CASE_KINDS[language][case.kind]
    partly = case.decision == Case.Decision.PARTLY_APPROVED
    rule_set = _rule_set(case, issued_on)
    facts = {
        "language": language,
        "kind": kind,
        "document_number": document_number,
        "title": TITLES[language][kind].format(kind=case_kind),
        "case_kind": case.kind,
        "case_kind_label": case_kind,
        "reference": case.reference,
        "submitted_on": format_date(local_day(case.submitted_at), language),
        "grounds": case.grounds,
        "subject": {
            "name": case.subject.name,
            "code": case.subject.code,
            "public_code": masked_code(case.subject),
            "code_label": CODE_LABELS[language][case.subject.kind],
            "is_person": case.subject.kind == Subject.Kind.NATURAL,
        },
        "agency": {
            "name": (agency.name_en or agency.name) if en else agency.name,
            "name_zh": agency.name,
            "address": (agency.address_en or agency.address) if en else agency.address,
            "reconsideration_body": agency_remedy_names(agency, language)[0],
            "court": agency_remedy_names(agency, language)[1],
        },
        "records": records,
        "rule_version": label,
        "legal_basis": legal_basis,
        "instrument_title": instrument_title,
        "rule_figures": figures,
        "basis": rule_basis(rule_set, case, kind, language),
        "issued_on": format_date(issued_on, language),
        "seal_src": seal_source(case),
        "code": code,
        "code_display": f"{code[:5]}-{code[5:]}",
        "verify_url": verify_url(code),
        "remedies": remedies(case, language) if kind in REMEDY_KINDS else [],
        "decision": case.decision,
        "partly": partly,
        "decided_on": format_date(local_day(case.decided_at), language),
        "reasons": case.decision_reasons,
        "objection_basis": REFUSAL_OBJECTION.render(language),
    }
    if kind == K.ACCEPTANCE:
        facts.update(_acceptance(case, evidence, language))
    elif kind == K.MATERIALS_REQUEST:
        facts.update(_materials_request(case, language))
    if kind in (K.APPROVAL, K.REJECTION):
        facts["review_record"] = review_record(case, language)
        facts["general_evidence"] = [
            _evidence(e, language) for e in evidence if e.record_id is None
        ]
    if kind == K.MATERIALS_REQUEST:
        facts["materials_basis"] = _materials_basis(rule_set, language)
    if kind == K.WITHDRAWAL_NOTICE:
        # The public explanation names the decision by its document number (文号).
        facts["decision_number"] = (
            case.letters.filter(kind=K.APPROVAL)
            .exclude(document_number="")
            .values_list("document_number", flat=True)
            .first()
            or ""
        )
    if kind in (K.APPROVAL, K.WITHDRAWAL_NOTICE):
        facts["upheld"] = [r for r in records if r["outcome"] == CaseRecord.Outcome.UPHELD]
        facts["refused"] = [r for r in records if r["outcome"] == CaseRecord.Outcome.REJECTED]
        facts["removal_days"] = case.rule_set.removal_days if case.rule_set_id else None
    elif kind == K.REJECTION:
        reapply_from = reapply_from or _earliest_reapplication(case, records, issued_on)
        facts["reapply_from"] = format_date(reapply_from, language) if reapply_from else ""
    elif kind == K.NON_ACCEPTANCE:
        facts.update(_non_acceptance(case, language))
    elif kind == K.TEMPORARY_RESTORATION:
        facts.update(_temporary_restoration(case, records, language))
    elif kind == K.PLAN_FAILED:
        facts.update(_plan_failed(case, records, language, issued_on=issued_on))
    elif kind == K.REVOCATION:
        event = _event(case, "revoked")
        facts["revoked_on"] = format_date(local_day(event.at) if event else issued_on, language)
        facts["revocation_reason"] = event.note if event else ""
        revocation = (
            Revocation.objects.filter(case=case, status=Revocation.Status.REVOKED)
            .select_related("decision_record")
            .first()
        )
        facts["revocation_ground"] = (
            REVOCATION_GROUNDS[language].get(revocation.ground, "") if revocation else ""
        )
        facts["revocation_basis"] = (
            _revocation_basis(revocation.basis, language) if revocation else ""
        )
        facts["reinstated"] = [r for r in records if r["outcome"] == CaseRecord.Outcome.UPHELD]
        # What follows (decision 0016): the period restarts with no early end, the decision
        # is published, and no new restoration is accepted before the bar's end.
        bar_ends_on = revocation.bar_ends_on if revocation else None
        facts["bar_ends_on"] = format_date(bar_ends_on, language) if bar_ends_on else ""
        decision_record = revocation.decision_record if revocation else None
        facts["published_until"] = (
            format_date(decision_record.expires_on, language)
            if decision_record and decision_record.expires_on
            else ""
        )
        facts["bar_basis"] = citations_render(REVOCATION_BAR_BASIS, language)
    return facts


# The articles a revocation stores as Chinese text (``REVOCATION_BASIS``), for the English letter.
REVOCATION_ARTICLES = {
    Citation("ndrc36", 25).zh: Citation("ndrc36", 25),
    Citation("samr107", 23).zh: Citation("samr107", 23),
}


def _revocation_basis(basis: str, language: str) -> str:
    if language != "en":
        return basis
    parts = [REVOCATION_ARTICLES.get(part.strip()) for part in basis.split("；") if part.strip()]
    return "; ".join(part.en for part in parts if part is not None)


def review_record(case: Case, language: str) -> dict:
    """How the decision was reviewed and made, as the decision letter records it: the legal
    review and its grounds (APL Art. 58), the collective decision meeting (APL Art. 57) and
    the party's statement on evidence from electronic monitoring (APL Arts. 41, 45)."""
    passed = _event(case, "legal_review_passed")
    meeting = (
        DecisionMeeting.objects.filter(case=case, round=case.signoff_round)
        .prefetch_related("participants")
        .first()
    )
    statements = [
        {
            "waived": event.kind == "statement_waived",
            "on": format_date(local_day(event.at), language),
        }
        for event in case.events.filter(kind__in=["statement_made", "statement_waived"]).order_by(
            "seq"
        )
    ]
    notices = [
        {
            "device": event.data.get("device", ""),
            "due_on": format_date(datetime.date.fromisoformat(event.data["due_on"]), language)
            if event.data.get("due_on")
            else "",
        }
        for event in case.events.filter(kind="monitoring_notified").order_by("seq")
    ]
    return {
        "legal_review": case.legal_review_required,
        "grounds": case.legal_review_grounds_text(language),
        "other_basis": case.legal_review_other_basis,
        "by_rule_set": bool(case.rule_set_id and case.rule_set.legal_review_required),
        "legal_review_on": format_date(local_day(passed.at), language) if passed else "",
        "meeting": {
            "held_on": format_date(meeting.held_on, language),
            "participants": [
                p.get_full_name() or p.get_username() for p in meeting.participants.all()
            ],
        }
        if meeting is not None
        else None,
        "notices": notices,
        "statements": statements,
    }


def _temporary_restoration(case: Case, records: list[dict], language: str) -> dict:
    """What a grant of temporary restoration during reorganisation says: the records
    shielded and where, the measures lifted, the article and the days it gives, and
    what follows (the plan carried out or failed)."""
    rule_set = case.rule_set
    cited = rule_set.citation_text("temporary_restoration_days", language) if rule_set else ""
    shielding = _deadline(case, Deadline.Step.REMOVAL)
    return {
        "shielded": [r for r in records if r["outcome"] == CaseRecord.Outcome.UPHELD],
        "refused": [r for r in records if r["outcome"] == CaseRecord.Outcome.REJECTED],
        "lifted_measures": sentence(case.lifted_measures),
        "article": cited or _temporary_restoration_article(case).render(language),
        "temporary_days": rule_set.temporary_restoration_days if rule_set else None,
        # The shielding is due within the same days of receipt (Art. 20), not within the
        # platforms' removal days of the decision: the day the clock shows.
        "removal_days": None,
        "shield_due_on": format_date(shielding.due_on, language) if shielding else "",
        "with_notice": case.agency.sector == Sector.MARKET_REGULATION,
    }


def _plan_failed(
    case: Case, records: list[dict], language: str, *, issued_on: datetime.date
) -> dict:
    """What the decision restoring publication after a failed plan says: the court's
    ruling, the records published again and where, the measures that apply again, and
    the article (《信用修复管理办法》第二十条第二款; SAMR Order 107 Art. 22 ¶3)."""
    event = _event(case, "plan_failed")
    data = event.data if event else {}
    named = set(data.get("records", []))
    article = _plan_failed_article(case)
    return {
        "failed_on": format_date(local_day(event.at) if event else issued_on, language),
        "court_ruling": sentence(event.note) if event else "",
        "republished": [r for r in records if r["decision_no"] in named],
        "measures_reinstated": sentence(data.get("measures_reinstated", case.lifted_measures)),
        "article": article.render(language),
    }


def _plan_failed_article(case: Case) -> Citation:
    """The article by which publication is restored after a failed plan: SAMR's for a
    market-regulation agency, otherwise Order 36's."""
    if case.agency.sector == Sector.MARKET_REGULATION:
        return Citation("samr107", 22, 3)
    return Citation("ndrc36", 20, 2)


def _temporary_restoration_article(case: Case) -> Citation:
    """The article that provides temporary restoration, where the rule version records
    none for its days: SAMR's for a market-regulation agency, otherwise Order 36's."""
    if case.agency.sector == Sector.MARKET_REGULATION:
        return Citation("samr107", 22)
    return Citation("ndrc36", 20)


def _acceptance(case: Case, evidence: list[Evidence], language: str) -> dict:
    decision = _deadline(case, Deadline.Step.DECISION)
    last_upload = max(
        (
            item.uploaded_at
            for item in evidence
            if case.accepted_at is None or item.uploaded_at <= case.accepted_at
        ),
        default=None,
    )
    complete_at = max(filter(None, [case.submitted_at, last_upload]))
    return {
        "received_on": format_date(local_day(case.submitted_at), language),
        "complete_on": format_date(local_day(complete_at), language),
        "accepted_on": format_date(local_day(case.accepted_at), language),
        "decision_due_on": format_date(decision.due_on if decision else None, language),
        "decision_working_days": decision.working_days if decision else None,
        # Counted in a year whose holiday schedule is not loaded: the letter says so.
        "decision_due_provisional": bool(decision and decision.provisional),
    }


def _materials_request(case: Case, language: str) -> dict:
    materials = _deadline(case, Deadline.Step.MATERIALS)
    # A later request names only what the applicant's resubmission made necessary, with
    # each item's reason (《信用修复管理办法》第十六条第二款 一次性告知).
    request = _event(case, "materials_requested")
    resubmission = None
    if request is not None and request.data.get("after_resubmission"):
        resubmission = case.events.filter(seq=request.data["after_resubmission"]).first()
    return {
        "missing": [
            {
                "label": MATERIALS[language].get(item.get("material"), item.get("material")),
                "detail": item.get("detail", ""),
                "reason": item.get("reason", ""),
            }
            for item in case.missing_materials
        ],
        "resubmitted_on": format_date(local_day(resubmission.at), language) if resubmission else "",
        "requested_on": format_date(local_day(case.materials_requested_at), language),
        "materials_due_on": format_date(materials.due_on if materials else None, language),
        "materials_working_days": materials.working_days if materials else None,
        "materials_due_provisional": bool(materials and materials.provisional),
        "resubmit_url": settings.REDRESS_SITE_URL.rstrip("/") + "/",
    }


# 《信用修复管理办法》第十八条: the applicant may object to a decision not to accept or not
# to grant a restoration (异议申诉), through Credit China or to the agency directly.
REFUSAL_OBJECTION = Citation("ndrc36", 18)


def _non_acceptance(case: Case, language: str) -> dict:
    """What the rules said of each record on the filing day (recorded with the decision),
    the earliest day to apply again, and whether the head approved the decision."""
    event = _event(case, "not_accepted")
    data = event.data if event is not None else {}
    findings = [_finding(f, language) for f in data.get("findings", [])]
    waiting = [f["earliest"] for f in data.get("findings", []) if f["finding"] == "not_yet"]
    barred = any(f["finding"] == "barred" for f in data.get("findings", []))
    reapply_from = max(datetime.date.fromisoformat(d) for d in waiting) if waiting else None
    approval_basis = ""
    if case.non_acceptance_approved_by_id:
        proposal = _event(case, "non_acceptance_proposed")
        if proposal is not None:
            approval_basis = citations_render(proposal.data.get("approval_basis", []), language)
    return {
        "findings": findings,
        "reapply_from": format_date(reapply_from, language) if reapply_from else "",
        "all_barred": barred and len(findings) == sum(1 for f in findings if f["barred"]),
        "approved_by_head": bool(case.non_acceptance_approved_by_id),
        "approval_basis": approval_basis,
    }


def _finding(finding: dict, language: str) -> dict:
    """One record's finding as the letter states it, with its articles."""
    citation = citations_render(finding.get("citations", []), language)
    en = language == "en"
    penalties = (", " if en else "、").join(
        PENALTIES[language].get(p, p) for p in finding.get("penalty_types", [])
    )
    kind = finding.get("finding")
    if kind == "not_yet":
        day = format_date(datetime.date.fromisoformat(finding["earliest"]), language)
        text = (
            f"the minimum publication period has not ended: a restoration may be requested "
            f"from {day}"
            if en
            else f"最短公示期尚未届满，自 {day} 起方可申请信用修复"
        )
    elif kind == "barred" and finding.get("ends_on"):
        day = format_date(datetime.date.fromisoformat(finding["ends_on"]), language)
        text = (
            f"a {penalties} allows no early restoration; its publication ends on {day}"
            if en
            else f"{penalties}不得提前修复，公示期至 {day} 届满"
        )
    elif kind == "barred":
        text = f"a {penalties} cannot be restored" if en else f"{penalties}不予信用修复"
    else:
        text = (
            "the record met the conditions as to time and penalty"
            if en
            else "该记录在公示期限和处罚种类方面符合申请条件"
        )
    if citation:
        text += f" ({citation})" if en else f"（依据：{citation}）"
    return {"decision_no": finding.get("decision_no", ""), "text": text, "barred": kind == "barred"}


def _earliest_reapplication(
    case: Case, records: list[dict], issued_on: datetime.date
) -> datetime.date | None:
    """The day a refused restoration may be requested again, where the rules give one: the
    end of a record's minimum publication period (《信用修复管理办法》第十二条) if it is still
    to come; else None.

    The rule sets carry no waiting period after a refusal, so none is invented: a new
    request may be filed at once with new evidence. An objection ("this record is wrong")
    has no restoration period and so no such date.
    """
    if case.kind != Case.Kind.RESTORATION:
        return None
    ends = [r["restorable_from"] for r in records if r["restorable_from"]]
    latest = max(ends, default=None)
    return latest if latest is not None and latest > issued_on else None


def letter_html(
    case: Case,
    kind: str,
    language: str,
    *,
    code: str,
    issued_at: datetime.datetime,
    reapply_from: datetime.date | None = None,
    document_number: str = "",
) -> tuple[str, TemplateIdentity, str]:
    """(HTML, template identity, rule version label) of the letter: same input, same HTML."""
    if language not in LANGUAGES:
        raise ValueError(f"Letters are written in {', '.join(LANGUAGES)}, not {language!r}.")
    facts = letter_facts(
        case,
        kind,
        language,
        code=code,
        issued_at=issued_at,
        reapply_from=reapply_from,
        document_number=document_number,
    )
    identity = template_identity(kind, language)
    with translation.override(language):
        html = render_to_string(identity.name, facts)
    return html, identity, facts["rule_version"]
