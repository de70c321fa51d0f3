"""The list a published revocation decision is a record of, and who proposed the
revocations made before revocation needed a proposal, a legal review and signers.

《信用修复管理办法》第二十五条 and 《市场监督管理信用修复管理办法》第二十三条 publish the
revocation decision for three years (decision 0016): it is a record of its own, on the
list ``revocation_decision``. A revocation from before this change was made by one
signing official at once: they proposed it too.
"""

from django.db import migrations
from django.db.models import F

LIST_TYPE = {
    "code": "revocation_decision",
    "name": "撤销信用修复决定",
    "name_en": "Revoked credit restoration",
    "description": (
        "撤销准予信用修复的决定，公示三年且不得提前停止公示"
        "（《信用修复管理办法》第二十五条；《市场监督管理信用修复管理办法》第二十三条）。"
    ),
}


def forwards(apps, schema_editor):
    ListType = apps.get_model("cases", "ListType")
    ListType.objects.update_or_create(code=LIST_TYPE["code"], defaults=LIST_TYPE)
    Revocation = apps.get_model("cases", "Revocation")
    Revocation.objects.filter(proposed_by__isnull=True).update(
        proposed_by=F("revoked_by"), proposed_at=F("revoked_at")
    )


def backwards(apps, schema_editor):
    ListType = apps.get_model("cases", "ListType")
    Record = apps.get_model("cases", "Record")
    if not Record.objects.filter(list_type__code=LIST_TYPE["code"]).exists():
        ListType.objects.filter(code=LIST_TYPE["code"]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0020_revocation_safeguards")]

    operations = [migrations.RunPython(forwards, backwards)]
