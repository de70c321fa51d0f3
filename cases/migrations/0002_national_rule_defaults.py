"""The list types. This migration once seeded invented 2019 rule defaults; the dated
versions are now seeded by 0025_rules_seed_versions (which also replaces those defaults
in a database this migration already ran on)."""

from django.db import migrations


def load(apps, schema_editor):
    from cases.seeds import LIST_TYPES

    ListType = apps.get_model("cases", "ListType")
    for code, name, name_en in LIST_TYPES:
        ListType.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en})


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
