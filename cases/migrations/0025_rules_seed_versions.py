"""Replace the invented 2019 national defaults by the dated versions of ``cases.seeds``.

A 2019 default that no case was accepted under is deleted. One that a case used is kept
for that case (a case keeps the version it was accepted under) and closed: its
``effective_until`` becomes the day before the first seeded version of its scope, so
no new case is judged by it. See docs/decisions/0020-rule-versions.md.
"""

import datetime

from django.db import migrations

INVENTED_FROM = datetime.date(2019, 1, 1)


def replace_defaults(apps, schema_editor):
    from cases.seeds import seed_rows, seed_rule_versions

    ListType = apps.get_model("cases", "ListType")
    RuleSet = apps.get_model("cases", "RuleSet")
    Case = apps.get_model("cases", "Case")

    first_seeded: dict[tuple[str, str], datetime.date] = {}
    for row in seed_rows():
        if row["sector"]:
            continue
        key = (row["list_type"], row["severity"])
        first_seeded[key] = min(first_seeded.get(key, row["effective_from"]), row["effective_from"])

    invented = RuleSet.objects.filter(
        agency__isnull=True, sector="", effective_from=INVENTED_FROM
    ).select_related("list_type")
    used = set(Case.objects.filter(rule_set__in=invented).values_list("rule_set_id", flat=True))
    for rule_set in invented:
        if rule_set.pk not in used:
            rule_set.delete()
            continue
        first = first_seeded.get((rule_set.list_type.code, rule_set.severity))
        until = INVENTED_FROM
        if first is not None and first > INVENTED_FROM:
            until = first - datetime.timedelta(days=1)
        rule_set.effective_until = until
        rule_set.note = (
            f"{rule_set.note} Invented 2019 default, closed on {until:%Y-%m-%d} by migration "
            "0017 and kept only for the cases accepted under it."
        ).strip()
        rule_set.save(update_fields=["effective_until", "note"])

    seed_rule_versions(ListType, RuleSet)


class Migration(migrations.Migration):
    dependencies = [("cases", "0024_rules_unconfirmed_figures")]

    operations = [migrations.RunPython(replace_defaults, migrations.RunPython.noop)]
