"""Recompute every record's earliest repair day and end of publication under the
version in force today (docs/decisions/0020-rule-versions.md): from its decision date
(or listing date), with its own term, no early repair where the sector says so. A
record whose version is not known (no version in force for it) keeps its dates."""

from django.db import migrations
from django.db.models import Q
from django.utils import timezone


def _in_force(RuleSet, record, on):
    candidates = (
        RuleSet.objects.filter(
            list_type_id=record.list_type_id, severity=record.severity, effective_from__lte=on
        )
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gte=on))
        .order_by("-effective_from")
    )
    return (
        candidates.filter(agency_id=record.agency_id).first()
        or candidates.filter(agency__isnull=True, sector=record.agency.sector).first()
        or candidates.filter(agency__isnull=True, sector="").first()
    )


def recompute(apps, schema_editor):
    from cases.classification import periods

    Record = apps.get_model("cases", "Record")
    RuleSet = apps.get_model("cases", "RuleSet")
    on = timezone.localdate()
    for record in Record.objects.select_related("agency", "subject").iterator(chunk_size=500):
        rules = _in_force(RuleSet, record, on)
        if rules is None:
            continue
        found = periods(
            rules,
            start=record.decided_on or record.listed_on,
            penalty_types=record.penalty_types or [record.penalty_type],
            natural_person=record.subject.kind == "natural",
            term_ends_on=record.term_ends_on,
        )
        if (found.restorable_from, found.expires_on) != (record.restorable_from, record.expires_on):
            record.restorable_from = found.restorable_from
            record.expires_on = found.expires_on
            record.save(update_fields=["restorable_from", "expires_on"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0025_rules_seed_versions")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
