"""Rule sets: which version is in force, and what it implies for a record.

The version in force for (list type, severity) on a date is the one with the
latest ``effective_from`` on or before that date; an agency's own version wins
over the national one when both exist.
"""

from __future__ import annotations

import datetime

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils.translation import gettext as _

from cases.errors import RuleViolation
from cases.models import Agency, ListType, Record, RuleSet


def rule_set_in_force(
    *, list_type: ListType, severity: str, on: datetime.date, agency: Agency | None = None
) -> RuleSet:
    """The rule version that governs a record of this kind on this date.

    Raises ``RuleViolation`` (code ``no_rule_set``) when none is configured: a
    case is never judged by rules nobody wrote down.
    """
    candidates = RuleSet.objects.filter(
        list_type=list_type, severity=severity, effective_from__lte=on
    ).select_related("list_type", "agency")
    if agency is not None:
        own = candidates.filter(agency=agency).order_by("-effective_from").first()
        if own is not None:
            return own
    national = candidates.filter(agency__isnull=True).order_by("-effective_from").first()
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
) -> tuple[datetime.date, datetime.date | None]:
    """(restorable_from, expires_on) for a record listed on ``listed_on`` under ``rule_set``."""
    restorable_from = listed_on + relativedelta(months=rule_set.min_publication_months)
    expires_on = (
        listed_on + relativedelta(months=rule_set.max_publication_months)
        if rule_set.max_publication_months is not None
        else None
    )
    return restorable_from, expires_on


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
            )
            .values_list("version", flat=True)
        )
        current = max(versions, default=0)
        rule_set = RuleSet(version=current + 1, **fields)
        rule_set.full_clean()
        rule_set.save()
    return rule_set
