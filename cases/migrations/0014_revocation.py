"""A revocation keeps its ground, the articles it rests on, the reasons and its evidence.

Revocation had no way in before this (no page, API call or command reached it), so no
revoked case lacks its row in practice; one that does still has its ``revoked`` event.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0013_legal_clock_moved'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Revocation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ground', models.CharField(choices=[('false_materials', 'False materials were provided'), ('untrue_commitment', 'The credit commitment was seriously untrue'), ('commitment_not_performed', 'The subject deliberately failed to perform its credit commitment')], max_length=32)),
                ('basis', models.CharField(help_text='The articles the ground rests on, as they stood.', max_length=300)),
                ('reasons', models.TextField()),
                ('revoked_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('case', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='revocation', to='cases.case')),
                ('evidence', models.ManyToManyField(related_name='revocations', to='cases.evidence')),
                ('revoked_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]
