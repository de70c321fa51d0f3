"""The legal clock moves from the route's app (``workflows``) to the domain (``cases``).

The working-day calendar, the deadlines and the clock ledger are domain facts (docs/
decisions/0014): the case transitions start and stop the clock, so its models belong
beside the case. The rows stay where they are; the tables are renamed to the app's own
names, and the content types (and so the admin permissions granted on them) follow.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("calendaryear", "deadline", "clockentry", "calendaroverride")


def content_types_follow(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if ContentType.objects.filter(app_label="cases", model=model).exists():
            continue
        ContentType.objects.filter(app_label="workflows", model=model).update(app_label="cases")


def content_types_return(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="cases", model__in=MOVED).update(app_label="workflows")


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0012_anchored_event_chain"),
        ("workflows", "0002_deadline_computation_facts"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='CalendarYear',
                    fields=[
                        ('year', models.PositiveIntegerField(primary_key=True, serialize=False)),
                        ('source', models.CharField(help_text='The State Council notice the overrides were taken from.', max_length=300)),
                        ('declared_at', models.DateTimeField(auto_now_add=True)),
                        ('declared_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'workflows_calendaryear'},
                ),
                migrations.CreateModel(
                    name='Deadline',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('step', models.CharField(choices=[('acceptance', 'Acceptance check'), ('materials', 'Applicant to supply missing materials'), ('decision', 'Decision'), ('letter', 'Serve the decision letter'), ('removal', 'Withdrawal from every platform')], max_length=12)),
                        ('status', models.CharField(choices=[('running', 'Running'), ('stopped', 'Stopped'), ('met', 'Met'), ('missed', 'Missed'), ('cancelled', 'No longer applies')], default='running', max_length=10)),
                        ('started_on', models.DateField(help_text='The day counting (re)started from.')),
                        ('working_days', models.PositiveIntegerField(help_text='Working days counted from started_on (the remainder after a stop).')),
                        ('due_on', models.DateField()),
                        ('computation', models.TextField(help_text='How due_on was computed, in English: the audit record.')),
                        ('computation_facts', models.JSONField(blank=True, default=dict, help_text="The same computation as codes and parameters, shown in the reader's language (empty for deadlines computed before it was kept).")),
                        ('provisional', models.BooleanField(default=False, help_text='A year in the span has no loaded national calendar.')),
                        ('extended_days', models.PositiveIntegerField(default=0)),
                        ('escalated_at', models.DateTimeField(blank=True, null=True)),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deadlines', to='cases.case')),
                    ],
                    options={
                        'db_table': 'workflows_deadline',
                        'ordering': ['created_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='ClockEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('started', 'Started'), ('stopped', 'Stopped'), ('resumed', 'Resumed'), ('extended', 'Extended'), ('recomputed', 'Recomputed after a calendar change'), ('met', 'Met'), ('missed', 'Missed'), ('cancelled', 'Cancelled')], max_length=12)),
                        ('at', models.DateTimeField()),
                        ('reason', models.TextField(blank=True)),
                        ('days', models.IntegerField(default=0)),
                        ('due_before', models.DateField(blank=True, null=True)),
                        ('due_after', models.DateField(blank=True, null=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='clock_entries', to='cases.case')),
                        ('deadline', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='cases.deadline')),
                    ],
                    options={
                        'db_table': 'workflows_clockentry',
                        'verbose_name_plural': 'clock entries',
                        'ordering': ['at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='CalendarOverride',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('is_working_day', models.BooleanField()),
                        ('name', models.CharField(max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('agency', models.ForeignKey(blank=True, help_text='Leave empty for a national override.', null=True, on_delete=django.db.models.deletion.CASCADE, to='cases.agency')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'workflows_calendaroverride',
                        'ordering': ['day'],
                        'constraints': [models.UniqueConstraint(fields=('day', 'agency'), name='calendaroverride_unique'), models.UniqueConstraint(condition=models.Q(('agency__isnull', True)), fields=('day',), name='calendaroverride_national')],
                    },
                ),
                migrations.AddIndex(
                    model_name='deadline',
                    index=models.Index(fields=['status', 'due_on'], name='workflows_d_status_de9293_idx'),
                ),
            ],
        ),
        migrations.AlterModelTable(name="calendaryear", table=None),
        migrations.AlterModelTable(name="deadline", table=None),
        migrations.AlterModelTable(name="clockentry", table=None),
        migrations.AlterModelTable(name="calendaroverride", table=None),
        migrations.RenameIndex(
            model_name="deadline",
            new_name="cases_deadl_status_737d37_idx",
            old_name="workflows_d_status_de9293_idx",
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
