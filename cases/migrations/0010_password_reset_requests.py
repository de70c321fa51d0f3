"""Password reset requests are counted, to limit the mails per address and per e-mail
address typed (the address kept only as a keyed hash)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_api_tokens"),
    ]

    operations = [
        migrations.CreateModel(
            name="PasswordResetRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "requested_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                ),
                ("address", models.GenericIPAddressField(blank=True, db_index=True, null=True)),
                ("email_digest", models.CharField(db_index=True, max_length=64)),
            ],
        ),
    ]
