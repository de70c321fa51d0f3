"""Seed the rule version of the ``revocation_decision`` list (Order 36 Arts. 18 and 25).

Until now an objection to a published revocation decision found no rule version and was
refused with ``no_rule_set``. ``seed_rule_versions`` adds only what is missing, so a
database migrated before this gets the new version and nothing else changes.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from cases.seeds import seed_rule_versions

    seed_rule_versions(apps.get_model("cases", "ListType"), apps.get_model("cases", "RuleSet"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0026_rules_record_periods")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
