"""``{% record_periods record as p %}``: a record's earliest repair day and end of
publication with the articles they rest on (``cases.rules.record_periods``).

The dates shown are the record's own (what Redress acts on); the articles are those of
the version in force today. One rule-version lookup per kind of record and page.
"""

from django import template
from django.utils import timezone

from cases.errors import RedressError
from cases.law import citations_render
from cases.rules import record_periods as compute
from cases.rules import rule_set_for_record

register = template.Library()


@register.simple_tag(takes_context=True)
def record_periods(context, record):
    memo = context.render_context.setdefault("record_periods", {})
    versions = context.render_context.setdefault("record_periods_versions", {})
    if record.pk not in memo:
        kind = (record.list_type_id, record.severity, record.agency_id)
        try:
            if kind not in versions:
                versions[kind] = rule_set_for_record(record, on=timezone.localdate())
            found = compute(record, rule_set=versions[kind])
        except RedressError:
            found = None
        memo[record.pk] = _shown(record, found)
    return memo[record.pk]


def _shown(record, found) -> dict:
    shown = {
        "restorable_from": record.restorable_from,
        "expires_on": record.expires_on,
        "restorable_basis": "",
        "expires_basis": "",
        "published": True,
        "published_basis": "",
        "on_credit_china": True,
        "credit_china_basis": "",
        "no_early_repair": False,
    }
    if found is None:
        return shown
    shown.update(
        restorable_basis=_text(found.basis.get("restorable_from")),
        expires_basis=_text(found.basis.get("expires_on")),
        published=found.published,
        published_basis=_text(found.basis.get("published")),
        on_credit_china=found.on_credit_china,
        credit_china_basis=_text(found.basis.get("on_credit_china")),
        no_early_repair="no_early_repair" in found.notes,
    )
    return shown


def _text(citations) -> str:
    return citations_render([c.as_data() for c in citations or ()])
