"""API tokens become django-rest-knox's: hashed, expiring, one per login.

REST framework's own tokens (``rest_framework.authtoken``) never expired and were kept in
clear: they are revoked here, not carried over (docs/decisions/0011). Their table is
dropped and the app's migration records removed, so that the database is what it would
be had that app never been installed. Every API client logs in again once.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.recorder import MigrationRecorder

REST_FRAMEWORK_TOKENS = "authtoken_token"


def revoke_rest_framework_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if REST_FRAMEWORK_TOKENS not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(REST_FRAMEWORK_TOKENS)}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_subject_tie"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("digest", models.CharField(max_length=128, unique=True)),
                ("token_key", models.CharField(db_index=True, max_length=25)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("expiry", models.DateTimeField(blank=True, null=True)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="auth_token_set",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "API token",
                "verbose_name_plural": "API tokens",
                "ordering": ["-created", "-id"],
            },
        ),
        migrations.RunPython(revoke_rest_framework_tokens, migrations.RunPython.noop),
    ]
