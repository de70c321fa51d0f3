"""System checks of the case domain: the audit signing key must be there and be private.

Without the key no event can be recorded (each one signs its case's head), so
``manage.py check`` (and ``migrate``, ``runserver``, ``check --deploy``) fails first,
saying how to make one.
"""

from __future__ import annotations

import stat
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning

from cases import signing


def audit_key_available(app_configs=None, **kwargs):
    path = Path(settings.REDRESS_AUDIT_KEY_FILE)
    try:
        signing.private_key()
    except signing.KeyUnavailable as exc:
        return [
            Error(
                str(exc),
                hint="Create the key once with 'manage.py audit_key --generate' (keep it "
                "outside the database and its backups), or point REDRESS_AUDIT_KEY_FILE at it.",
                id="cases.E001",
            )
        ]
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            Warning(
                f"The audit signing key {path} can be read by other users (mode "
                f"{stat.filemode(mode)}): whoever reads it can sign a forged event chain.",
                hint=f"chmod 600 {path}",
                id="cases.W001",
            )
        ]
    return []
