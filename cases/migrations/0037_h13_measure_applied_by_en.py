"""The body that applies a punishment measure, named in English (issue 14's leftover):
English pages and letters named it in Chinese. The seeded and demo measures get their
bodies' English names; a name an administrator set is kept."""

from django.db import migrations, models

from cases.seeds import APPLIED_BY_EN


def applied_by_in_english(apps, schema_editor):
    Measure = apps.get_model("cases", "Measure")
    for applied_by, applied_by_en in APPLIED_BY_EN.items():
        Measure.objects.filter(applied_by=applied_by, applied_by_en="").update(
            applied_by_en=applied_by_en
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0036_h14_names_in_english")]

    operations = [
        migrations.AddField(
            model_name="measure",
            name="applied_by_en",
            field=models.CharField(
                blank=True,
                help_text="The body that applies the measure, as English pages and letters name it.",
                max_length=200,
                verbose_name="applied by, in English",
            ),
        ),
        migrations.RunPython(applied_by_in_english, migrations.RunPython.noop),
    ]
