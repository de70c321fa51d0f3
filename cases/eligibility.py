"""Whether a record qualifies for a restoration on a day, and if not, why and until when.

One finding, computed here and nowhere else, is what the applicant reads before filing
(portal, API), what the intake officer reads at the acceptance check, and what a
non-acceptance letter states. It never refuses by itself: an applicant may file
anyway, and a person decides (《信用修复管理办法》第十六条第二款: a non-acceptance is
told with its reasons).

The finding reads the record's own dates (``Record.restorable_from``, ``expires_on``,
computed by the rules when the record is imported) and the rule version in force
(``cases.rules.rule_set_for_record``); each finding names the articles its rule value
rests on (``RuleSet.citations``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.law import Citation, citations_render
from cases.models import Case, PenaltyType, Record, RuleSet
from cases.rules import REVOCATION_BAR_BASIS, rule_set_for_record


class Finding(models.TextChoices):
    QUALIFIES = "qualifies", gettext_lazy("Qualifies for restoration")
    NOT_YET = "not_yet", gettext_lazy("Not yet restorable")
    BARRED = "barred", gettext_lazy("Barred from restoration")


@dataclass(frozen=True)
class Eligibility:
    """What the rules say of restoring ``record`` on ``on``.

    ``earliest``: the first day a restoration may be asked for (NOT_YET; for QUALIFIES
    the day it became possible, when known). ``ends_on``: for a penalty with no early
    repair, the day publication ends by itself. ``citations``: the articles the finding
    rests on; ``basis`` the rule field they are recorded under.
    """

    record: Record
    on: datetime.date
    finding: str
    rule_set: RuleSet
    earliest: datetime.date | None = None
    ends_on: datetime.date | None = None
    penalty_types: tuple[str, ...] = ()
    basis: str = ""
    citations: tuple[Citation, ...] = field(default=())

    @property
    def qualifies(self) -> bool:
        return self.finding == Finding.QUALIFIES

    def citation_text(self, language: str | None = None) -> str:
        return citations_render([c.as_data() for c in self.citations], language)

    @property
    def sentence(self) -> str:
        """The finding as the applicant and the officer read it, in the active language."""
        citation = self.citation_text()
        if self.finding == Finding.NOT_YET:
            if citation:
                return _("Not yet: from %(date)s, %(citation)s.") % {
                    "date": f"{self.earliest:%Y-%m-%d}",
                    "citation": citation,
                }
            return _("Not yet: from %(date)s, when the minimum publication period ends.") % {
                "date": f"{self.earliest:%Y-%m-%d}"
            }
        if self.finding == Finding.BARRED and self.basis == "revocation_bar_months":
            text = _(
                "Barred: a restoration of this record was revoked; no new restoration may be "
                "requested before %(date)s."
            ) % {"date": f"{self.earliest:%Y-%m-%d}"}
            return f"{text} {citation}" if citation else text
        if self.finding == Finding.BARRED:
            penalties = ", ".join(str(PenaltyType(p).label).lower() for p in self.penalty_types)
            if self.ends_on is not None:
                text = _(
                    "Barred: no early restoration for %(penalty)s; publication ends on %(date)s."
                ) % {"penalty": penalties, "date": f"{self.ends_on:%Y-%m-%d}"}
            else:
                text = _("Barred: %(penalty)s cannot be restored.") % {"penalty": penalties}
            return f"{text} {citation}" if citation else text
        return _("Qualifies: a restoration can be requested now.")

    def as_data(self) -> dict:
        """The finding as plain values: stored in a case event, read by the letter."""
        return {
            "record": self.record.pk,
            "decision_no": self.record.decision_no,
            "finding": self.finding,
            "on": self.on.isoformat(),
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "penalty_types": list(self.penalty_types),
            "basis": self.basis,
            "citations": [c.as_data() for c in self.citations],
            "rule_set": self.rule_set.label,
        }


def penalty_types_of(record: Record) -> list[str]:
    """Every penalty type of the record's decision (the list, else the single type)."""
    types = list(record.penalty_types or [])
    if record.penalty_type and record.penalty_type not in types:
        types.insert(0, record.penalty_type)
    return types


def restoration_eligibility(
    record: Record, *, on: datetime.date, rule_set: RuleSet | None = None
) -> Eligibility:
    """Whether ``record`` may be restored on ``on``, by the rule version in force then.

    Barred while a revocation's bar runs (``Record.restoration_barred_until``); barred
    where the rule version bars a penalty type of the record (a law, regulation
    or central policy says so, 《信用修复管理办法》第二条) or allows it no early repair (SAMR
    Order 107 Art. 8(3): publication ends at the maximum period); not yet before
    ``record.restorable_from`` (the minimum publication period, and any term of the
    penalty itself); otherwise it qualifies. Raises ``RuleViolation`` (``no_rule_set``)
    when no rule version is in force. ``rule_set``: the version in force for the record
    on ``on``, when the caller has looked it up already.
    """
    rule_set = rule_set or rule_set_for_record(record, on=on)
    if record.restoration_barred_until and on < record.restoration_barred_until:
        # A restoration of it was revoked: no new one for the bar's length
        # (《信用修复管理办法》第二十五条, 《市场监督管理信用修复管理办法》第二十三条第二款).
        cited = rule_set.cited("revocation_bar_months") or [
            Citation.parse(c) for c in REVOCATION_BAR_BASIS
        ]
        return Eligibility(
            record,
            on,
            Finding.BARRED,
            rule_set,
            earliest=record.restoration_barred_until,
            basis="revocation_bar_months",
            citations=tuple(cited),
        )
    types = penalty_types_of(record)
    barred = [t for t in types if t in rule_set.barred_penalty_types]
    if barred:
        return Eligibility(
            record,
            on,
            Finding.BARRED,
            rule_set,
            penalty_types=tuple(barred),
            basis="barred_penalty_types",
            citations=tuple(rule_set.cited("barred_penalty_types")),
        )
    late = [t for t in types if t in rule_set.no_early_repair_penalty_types]
    if late:
        return Eligibility(
            record,
            on,
            Finding.BARRED,
            rule_set,
            ends_on=record.expires_on,
            penalty_types=tuple(late),
            basis="no_early_repair_penalty_types",
            citations=tuple(rule_set.cited("no_early_repair_penalty_types")),
        )
    citations = tuple(rule_set.cited("min_publication_months"))
    if record.restorable_from and on < record.restorable_from:
        return Eligibility(
            record,
            on,
            Finding.NOT_YET,
            rule_set,
            earliest=record.restorable_from,
            basis="min_publication_months",
            citations=citations,
        )
    return Eligibility(
        record,
        on,
        Finding.QUALIFIES,
        rule_set,
        earliest=record.restorable_from,
        basis="min_publication_months",
        citations=citations,
    )


def case_eligibility(case: Case) -> list[Eligibility]:
    """What the rules say of each record of a restoration on the day it was filed (the
    acceptance check judges the request as filed); nothing for an objection."""
    if case.kind != Case.Kind.RESTORATION:
        return []
    filed_on = timezone.localdate(case.submitted_at)
    case_records = case.case_records.select_related("record__list_type", "record__agency")
    return [
        restoration_eligibility(cr.record, on=filed_on)
        for cr in case_records.order_by("record__listed_on", "record_id")
    ]
