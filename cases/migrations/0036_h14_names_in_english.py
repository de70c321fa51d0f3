"""English names for the seeded and demo reference data where a database has none.

Rows created before their English name was kept (or by an earlier demo loader, whose
``get_or_create`` never updates) showed their Chinese name on English pages. Only blank
``name_en`` values are filled; a name an administrator set is kept.
"""

from django.db import migrations

from cases.seeds import LIST_TYPES, MEASURES, SYSTEM_LIST_TYPES

AGENCIES = {
    "SZAMR": "Shenzhen Administration for Market Regulation",
    "SZTAX": "Shenzhen Tax Service, SAT",
    "GZAMR": "Guangzhou Administration for Market Regulation",
}
PLATFORMS = {
    "creditchina": "Credit China",
    "creditsz": "Credit China (Shenzhen)",
    "gsxt": "National Enterprise Credit Information Publicity System",
    "thirdparty": "A third-party credit agency (demo)",
}
DEMO_MEASURES = {
    "samr_key_supervision": "Key supervision: more frequent inspections",
    "samr_no_commitment": "No notification-and-commitment procedure",
    "samr_no_honours": "No honours of market regulation authorities",
}


def _fill(model, names: dict, **extra) -> None:
    for code, name_en in names.items():
        model.objects.filter(code=code, name_en="", **extra).update(name_en=name_en)


def names_in_english(apps, schema_editor):
    _fill(apps.get_model("cases", "Agency"), AGENCIES)
    _fill(apps.get_model("cases", "Platform"), PLATFORMS)
    list_types = {code: name_en for code, _name, name_en in LIST_TYPES}
    list_types.update({code: name_en for code, _name, name_en, _d in SYSTEM_LIST_TYPES})
    _fill(apps.get_model("cases", "ListType"), list_types)
    Measure = apps.get_model("cases", "Measure")
    for list_code, code, _name, name_en, _by, _basis in MEASURES:
        _fill(Measure, {code: name_en}, list_type__code=list_code)
    _fill(Measure, DEMO_MEASURES, list_type__code="serious_dishonesty")


class Migration(migrations.Migration):
    dependencies = [("cases", "0035_h14_effect_deadlines")]

    operations = [migrations.RunPython(names_in_english, migrations.RunPython.noop)]
