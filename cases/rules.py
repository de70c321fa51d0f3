"""Rule sets: which version is in force, and what it implies for a record.

The version in force for (list type, severity) on a date is the one with the
latest ``effective_from`` on or before that date; an agency's own version wins
over the national one when both exist.
"""

from __future__ import annotations

import datetime
import re

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import access, classification
from cases.errors import NotPermitted, RuleViolation, WrongState
from cases.law import cite
from cases.models import (
    Agency,
    Case,
    ListType,
    Material,
    Record,
    Revocation,
    Role,
    RuleSet,
    Subject,
)


def rule_set_in_force(
    *, list_type: ListType, severity: str, on: datetime.date, agency: Agency | None = None
) -> RuleSet:
    """The rule version that governs a record of this kind on this date.

    A version applies from ``effective_from`` to ``effective_until`` (inclusive). The
    most specific one wins: the agency's own, then the national version of the
    agency's sector (a sector standard prevails, 《信用修复管理办法》第十一条), then
    the national default. Raises ``RuleViolation`` (code ``no_rule_set``) when none is
    configured: a case is never judged by rules nobody wrote down.
    """
    national_q = Q(agency__isnull=True, sector="")
    scopes = national_q
    if agency is not None:
        scopes = Q(agency=agency) | Q(agency__isnull=True, sector=agency.sector) | national_q
    # The three scopes in one query (each used to be one), the most specific picked here.
    candidates = list(
        RuleSet.objects.filter(list_type=list_type, severity=severity, effective_from__lte=on)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gte=on))
        .filter(scopes)
        .select_related("list_type", "agency")
        .order_by("-effective_from", "-id")
    )
    if agency is not None:
        own = next((r for r in candidates if r.agency_id == agency.pk), None)
        if own is not None:
            return own
        sector = next(
            (r for r in candidates if r.agency_id is None and r.sector == agency.sector), None
        )
        if sector is not None:
            return sector
    national = next((r for r in candidates if r.agency_id is None and r.sector == ""), None)
    if national is None:
        raise RuleViolation(
            _(
                "No rule set is in force for %(list_type)s/%(severity)s on %(date)s: "
                "an administrator must add one before such cases can proceed."
            )
            % {"list_type": list_type.code, "severity": severity, "date": f"{on:%Y-%m-%d}"},
            code="no_rule_set",
        )
    return national


def rule_set_for_record(record: Record, *, on: datetime.date) -> RuleSet:
    return rule_set_in_force(
        list_type=record.list_type, severity=record.severity, on=on, agency=record.agency
    )


def publication_periods(
    rule_set: RuleSet, listed_on: datetime.date
) -> tuple[datetime.date | None, datetime.date | None]:
    """(restorable_from, expires_on) for a record listed on ``listed_on`` under ``rule_set``.

    The bare figures; ``record_periods`` applies everything else the rules say of a record.
    """
    restorable_from = (
        listed_on + relativedelta(months=rule_set.min_publication_months)
        if rule_set.min_publication_months is not None
        else None
    )
    expires_on = (
        listed_on + relativedelta(months=rule_set.max_publication_months)
        if rule_set.max_publication_months is not None
        else None
    )
    return restorable_from, expires_on


def record_period_start(record: Record) -> datetime.date:
    """Periods run from the decision document's date (《信用修复管理办法》第七条), else the
    listing date."""
    return record.decided_on or record.listed_on


def record_periods(
    record: Record, *, on: datetime.date | None = None, rule_set: RuleSet | None = None
) -> classification.Periods:
    """The record's earliest repair day and end of publication, with their articles.

    Computed under the version in force ``on`` (today by default): a record listed before
    2026-04-01 has, from that day, the periods of Order 36 (or its sector's standard),
    counted from its own decision date (docs/decisions/0020-rule-versions.md).
    ``rule_set``: that version, when the caller has looked it up already (a list of
    records looks each version up once).
    """
    on = on or timezone.localdate()
    rule_set = rule_set or rule_set_for_record(record, on=on)
    return classification.periods(
        rule_set,
        start=record_period_start(record),
        penalty_types=record_penalty_types(record),
        natural_person=record.subject.kind == Subject.Kind.NATURAL,
        term_ends_on=record.term_ends_on,
    )


def record_penalty_types(record: Record) -> list[str]:
    """Every penalty type of the record: the list, else the single type of older records."""
    return list(record.penalty_types or ([record.penalty_type] if record.penalty_type else []))


def record_periods_apply(record: Record, *, on: datetime.date | None = None) -> Record:
    """Set (not save) the record's ``restorable_from`` and ``expires_on`` from the rules."""
    found = record_periods(record, on=on)
    record.restorable_from = found.restorable_from
    record.expires_on = found.expires_on
    return record


def record_classification(
    record: Record, *, on: datetime.date | None = None
) -> classification.Classification:
    """The tier the rules give the record's data (``tier`` None: not derivable).

    The minor-fine limit is the one of the version the record's sector applies to its
    minor tier (SAMR Order 107 Art. 7: 50,000 on a business, 5,000 on a person).
    """
    on = on or timezone.localdate()
    limits = rule_set_in_force(
        list_type=record.list_type, severity="minor", on=on, agency=record.agency
    )
    return classification.classify(
        list_type=record.list_type.code,
        penalty_types=record_penalty_types(record),
        fine_amount=record.fine_amount,
        natural_person=record.subject.kind == Subject.Kind.NATURAL,
        procedure=record.procedure,
        minor_fine_limit_business=limits.minor_fine_limit_business,
        minor_fine_limit_person=limits.minor_fine_limit_person,
        market_regulation=limits.sector == "market_regulation" or limits.instrument == "samr107",
    )


def rule_set_add_version(**fields) -> RuleSet:
    """Create the next version of a rule set for its (list type, severity, agency) scope.

    Versions are numbered 1, 2, ... per scope. The new row is validated with
    ``full_clean`` and saved in one transaction that locks the scope's rows.
    """
    with transaction.atomic():
        versions = (
            RuleSet.objects.select_for_update()
            .filter(
                list_type=fields["list_type"],
                severity=fields["severity"],
                agency=fields.get("agency"),
                sector=fields.get("sector", ""),
            )
            .values_list("version", flat=True)
        )
        current = max(versions, default=0)
        rule_set = RuleSet(version=current + 1, **fields)
        rule_set.full_clean()
        rule_set.save()
    return rule_set


# --- what the rules say of a case and its records -------------------------------------

SUBMITTABLE_RECORD_STATUSES = {
    Case.Kind.OBJECTION: {Record.Status.ACTIVE, Record.Status.SUSPENDED, Record.Status.EXPIRED},
    # A shielded record is restored in full with the court's completion ruling
    # (《信用修复管理办法》第二十条第三款).
    Case.Kind.RESTORATION: {Record.Status.ACTIVE, Record.Status.SHIELDED},
    Case.Kind.REORGANISATION: {Record.Status.ACTIVE},
}

# What a request for temporary restoration during reorganisation carries: the court's
# ruling approving the plan or agreement (《信用修复管理办法》第二十条第一款,
# 《市场监督管理信用修复管理办法》第二十二条第一款); the restoration of a shielded
# record after the plan, the ruling that it was carried out (第二十条第三款, 第二十二条第二款).
REORGANISATION_MATERIALS = (Material.COURT_RULING,)
COMPLETION_MATERIALS = (Material.COMPLETION_RULING,)


def temporary_restoration_refusal(record: Record, *, on: datetime.date) -> str | None:
    """Why temporary restoration of ``record`` during a bankruptcy reorganisation or
    composition cannot be requested on ``on``, or None if it can.

    Only an enterprise goes through reorganisation or composition (《信用修复管理办法》
    第二十条: 重整企业或管理人); and only where the rule version in force offers it, i.e.
    gives its ``temporary_restoration_days``. No minimum publication period applies.
    """
    if record.subject.kind == Subject.Kind.NATURAL:
        return _(
            "Record %(decision_no)s: temporary restoration during reorganisation or "
            "composition is for an enterprise, not a natural person."
        ) % {"decision_no": record.decision_no}
    rule_set = rule_set_for_record(record, on=on)
    if rule_set.temporary_restoration_days is None:
        return _(
            "Record %(decision_no)s: rule set %(rule_set)s offers no temporary restoration "
            "during reorganisation or composition; ask %(agency)s, or request a restoration "
            "once the plan has been carried out."
        ) % {
            "decision_no": record.decision_no,
            "rule_set": rule_set.title,
            "agency": record.agency.localized_name(),
        }
    return None


SEVERITY_ORDER = {"minor": 0, "general": 1, "serious": 2}

# No new restoration for three years after a revocation: 《信用修复管理办法》第二十五条
# ("原失信信息3年内不得申请信用修复") and 总局令第107号第二十三条第二款.
REVOCATION_BAR_BASIS = [cite("ndrc36", 25), cite("samr107", 23, 2)]


def case_governing_rule_set(case: Case, *, on: datetime.date) -> RuleSet:
    """The rule set a case is judged by: that of its most severe record.

    Fixed on the case at acceptance; before acceptance it is looked up afresh so
    that the acceptance and materials deadlines follow the rules in force.
    """
    if case.rule_set_id:
        return case.rule_set
    records = sorted(
        (
            cr.record
            for cr in case.case_records.select_related("record__list_type", "record__agency")
        ),
        key=lambda r: (-SEVERITY_ORDER[r.severity], r.pk),
    )
    return rule_set_for_record(records[0], on=on)


def missing_required_materials(case: Case, rule_set: RuleSet) -> list[str]:
    """Required material codes with no evidence item in the case (restorations and
    temporary restorations only).

    The commitment letter is required per record (DOMAIN: 信用承诺书 per record); an
    item not tied to a record covers every record. A temporary restoration needs the
    court's ruling (``REORGANISATION_MATERIALS``); a restoration of a shielded record
    needs, besides the rule set's materials, the ruling that the plan was carried out.
    """
    if case.kind == Case.Kind.OBJECTION:
        return []
    have = list(case.evidence.values_list("material", "record_id"))
    if case.kind == Case.Kind.REORGANISATION:
        return [m for m in REORGANISATION_MATERIALS if m not in {m for m, _r in have}]
    record_ids = list(case.case_records.values_list("record_id", flat=True))
    required = list(rule_set.required_materials)
    if case.case_records.filter(status_before=Record.Status.SHIELDED).exists():
        required += [m for m in COMPLETION_MATERIALS if m not in required]
    missing = []
    for material in required:
        items = [rid for m, rid in have if m == material]
        if not items or (
            material == Material.COMMITMENT_LETTER
            and None not in items
            and any(rid not in items for rid in record_ids)
        ):
            missing.append(material)
    return missing


# A temporary restoration whose plan can still fail (《信用修复管理办法》第二十条第二款):
# granted, while the platforms shield the records, in the appeal window and after.
PLAN_FAILURE_STATUSES = (Case.Status.REMOVAL, Case.Status.APPEAL_WINDOW, Case.Status.CLOSED)


# --- revocation ------------------------------------------------------------------------

# A grant can be revoked once it is made: while the platforms withdraw the records, in
# the appeal window and after (SAMR Order 107 Art. 23 sets no time limit).
REVOCABLE_DECISIONS = (Case.Decision.APPROVED, Case.Decision.PARTLY_APPROVED)
REVOCABLE_STATUSES = (Case.Status.REMOVAL, Case.Status.APPEAL_WINDOW, Case.Status.CLOSED)


def revocation_refusal(
    case: Case, official, *, proposing: bool = True
) -> NotPermitted | WrongState | None:
    """Why ``official`` may not propose (or, ``proposing=False``, sign) the revocation of
    ``case`` now, or None if they may.

    Who first: a signing official of the case's agency with no tie to its subject
    (``NotPermitted``; APL Art. 43 bars the applicant and anyone else tied to it). Then
    what: an approved (or partly approved) restoration in ``REVOCABLE_STATUSES``
    (``WrongState``) and, for a proposal, none already pursued (``revocation_pending``).
    The case page offers the proposal only where this is None; the transition asks it
    again under the case's lock.
    """
    try:
        access.ensure_officer(
            official,
            Role.SIGNER,
            case,
            action=_("revoke a restoration") if proposing else _("sign a revocation"),
        )
    except NotPermitted as refusal:
        return refusal
    if case.kind != Case.Kind.RESTORATION or case.decision not in REVOCABLE_DECISIONS:
        return WrongState(_("Only an approved restoration can be revoked."), code="not_revocable")
    if case.status not in REVOCABLE_STATUSES:
        return WrongState(
            _("Case %(reference)s is %(status)s; it cannot %(action)s now.")
            % {
                "reference": case.reference,
                "status": case.get_status_display().lower(),
                "action": _("be revoked"),
            },
            code="wrong_state",
        )
    if proposing and case.revocations.exclude(status=Revocation.Status.DROPPED).exists():
        return WrongState(
            _(
                "A revocation of %(reference)s is already proposed: it waits for its legal "
                "review or its signatures."
            )
            % {"reference": case.reference},
            code="revocation_pending",
        )
    return None


def revocation_review_refusal(case: Case, user) -> NotPermitted | WrongState | None:
    """Why ``user`` may not do the legal review of the revocation proposed on ``case``:
    a legal reviewer of the agency, without a tie to the subject, who did not propose it."""
    try:
        access.ensure_officer(
            user, Role.LEGAL_REVIEWER, case, action=_("review a proposed revocation")
        )
    except NotPermitted as refusal:
        return refusal
    revocation = case.revocation
    if revocation is None or revocation.status != Revocation.Status.PROPOSED:
        return WrongState(
            _("No revocation of %(reference)s waits for this step.")
            % {"reference": case.reference},
            code="no_revocation",
        )
    if revocation.proposed_by_id == user.pk:
        return NotPermitted(
            _("You proposed this revocation: another person does its legal review."),
            code="four_eyes",
        )
    return None


def revocation_sign_refusal(case: Case, user) -> NotPermitted | WrongState | None:
    """Why ``user`` may not sign the revocation of ``case`` now: a signing official of
    the agency without a tie, not its legal reviewer, not one who signed it already."""
    refusal = revocation_refusal(case, user, proposing=False)
    if refusal is not None:
        return refusal
    revocation = case.revocation
    if revocation is None or revocation.status != Revocation.Status.SIGN_OFF:
        return WrongState(
            _("No revocation of %(reference)s waits for this step.")
            % {"reference": case.reference},
            code="no_revocation",
        )
    if revocation.legal_reviewer_id == user.pk:
        return NotPermitted(
            _("You did the legal review of this revocation: a different official signs it."),
            code="four_eyes",
        )
    if revocation.signers.filter(pk=user.pk).exists():
        return NotPermitted(
            _("You have signed this revocation already: another official signs it."),
            code="already_signed",
        )
    return None


# The court's list of dishonest judgment debtors: its remedy is reconsideration by the
# higher court within 10 days (最高人民法院关于公布失信被执行人名单信息的若干规定第十二条),
# not an administrative reconsideration or suit.
COURT_LIST = "dishonest_debtor"


def case_on_court_list(case: Case) -> bool:
    """Whether the case is about the court's list of dishonest judgment debtors."""
    if case.rule_set_id is not None:
        return case.rule_set.list_type.code == COURT_LIST
    return case.case_records.filter(record__list_type__code=COURT_LIST).exists()


_LABEL = re.compile(r"^(?P<list>[\w-]+)/(?P<severity>\w+) v(?P<version>\d+) \((?P<on>[\d-]+)\)$")


def rule_titles(labels) -> dict[str, str]:
    """Each rule version's code as the audit trail keeps it (``RuleSet.label``), mapped to
    the title a reader sees (``RuleSet.title``, in the active language); a code no version
    matches any more maps to itself."""
    titles = {}
    for label in {label for label in labels if label}:
        match = _LABEL.match(label)
        found = None
        if match:
            found = (
                RuleSet.objects.select_related("list_type")
                .filter(
                    list_type__code=match["list"],
                    severity=match["severity"],
                    version=int(match["version"]),
                    effective_from=match["on"],
                )
                .first()
            )
        titles[label] = found.title if found is not None else label
    return titles
