from django.db import migrations


def load(apps, schema_editor):
    from cases.seeds import seed_national_defaults

    seed_national_defaults(apps.get_model("cases", "ListType"), apps.get_model("cases", "RuleSet"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
