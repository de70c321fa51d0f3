"""A non-acceptance is a decision: it gets ``decided_at``; a revocation gets ``revoked_at``.

Existing rows take the moment from the event that recorded the step (the chain is the
record of what happened), else from ``closed_at``.
"""

from django.db import migrations, models


def dates_from_events(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    CaseEvent = apps.get_model("cases", "CaseEvent")
    for field, status, kind in (
        ("decided_at", "not_accepted", "not_accepted"),
        ("revoked_at", "revoked", "revoked"),
    ):
        undated = Case.objects.filter(status=status, **{f"{field}__isnull": True})
        for case in undated.only("pk", "closed_at").iterator():
            event = (
                CaseEvent.objects.filter(case_id=case.pk, kind=kind).order_by("seq").first()
            )
            moment = event.at if event is not None else case.closed_at
            if moment is not None:
                Case.objects.filter(pk=case.pk).update(**{field: moment})


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0010_password_reset_requests"),
    ]

    operations = [
        migrations.AlterField(
            model_name="case",
            name="decided_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the agency decided the request: approved, rejected or not accepted.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="revoked_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When a signing official revoked the approved restoration.",
                null=True,
            ),
        ),
        migrations.RunPython(dates_from_events, migrations.RunPython.noop),
    ]
