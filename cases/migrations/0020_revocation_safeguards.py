"""A revocation is proposed, legally reviewed and signed before it takes effect; in
effect it names its published decision and the end of the bar on a new restoration,
which the records carry too (decision 0016). Publications can wait for a platform to
confirm it publishes a record again."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0019_temporary_restoration'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='record',
            name='restoration_barred_until',
            field=models.DateField(blank=True, help_text='After a revoked restoration: no new restoration is accepted before this date (《信用修复管理办法》第二十五条；《市场监督管理信用修复管理办法》第二十三条).', null=True),
        ),
        migrations.AddField(
            model_name='revocation',
            name='bar_ends_on',
            field=models.DateField(blank=True, help_text='No new restoration of the records is accepted before this date.', null=True),
        ),
        migrations.AddField(
            model_name='revocation',
            name='decision_record',
            field=models.OneToOneField(blank=True, help_text='The revocation decision as published (a record of its own).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='revocation_published', to='cases.record'),
        ),
        migrations.AddField(
            model_name='revocation',
            name='dropped_note',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='revocation',
            name='legal_review_note',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='revocation',
            name='legal_reviewed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='revocation',
            name='legal_reviewer',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='revocation',
            name='proposed_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name='revocation',
            name='proposed_by',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='revocation',
            name='signers',
            field=models.ManyToManyField(blank=True, related_name='revocations_signed', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='revocation',
            name='status',
            field=models.CharField(choices=[('proposed', 'Proposed: legal review'), ('sign_off', 'Legal review passed: sign-off'), ('revoked', 'In effect'), ('dropped', 'Not pursued')], default='revoked', max_length=10),
        ),
        # Revocations made before this change are in effect (the default above); a new
        # one starts as a proposal.
        migrations.AlterField(
            model_name='revocation',
            name='status',
            field=models.CharField(choices=[('proposed', 'Proposed: legal review'), ('sign_off', 'Legal review passed: sign-off'), ('revoked', 'In effect'), ('dropped', 'Not pursued')], default='proposed', max_length=10),
        ),
        migrations.AlterField(
            model_name='publication',
            name='status',
            field=models.CharField(choices=[('published', 'Published'), ('disputed', 'Flagged as disputed'), ('withdrawal_requested', 'Withdrawal requested'), ('withdrawn', 'Withdrawn (acknowledged)'), ('publication_requested', 'Publication requested')], default='published', max_length=24),
        ),
        migrations.AlterField(
            model_name='revocation',
            name='case',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='revocations', to='cases.case'),
        ),
        migrations.AlterField(
            model_name='revocation',
            name='revoked_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='revocation',
            name='revoked_by',
            field=models.ForeignKey(blank=True, help_text='The signing official whose signature made it take effect.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='revocation',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'dropped'), _negated=True), fields=('case',), name='revocation_one_pursued_per_case'),
        ),
    ]
