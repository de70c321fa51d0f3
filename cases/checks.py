"""System checks of the case domain.

- ``cases.E001``: the audit signing key must be there (without it no event can be
  recorded, since each one signs its case's head), and ``cases.W001``: be private.
- ``cases.E002``: openpyxl must parse imported workbooks with defusedxml.

``manage.py check`` (and ``migrate``, ``runserver``, ``check --deploy``) fails first,
saying how to fix it.
"""

from __future__ import annotations

import stat
from pathlib import Path

import openpyxl
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from cases import signing


@register("cases")
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


@register(Tags.security)
def xlsx_parser_check(app_configs, **kwargs) -> list[Error]:
    """openpyxl must parse workbooks with defusedxml.

    openpyxl uses defusedxml when it is installed and ``OPENPYXL_DEFUSEDXML`` is not
    "False"; without it an imported workbook's XML may declare entities (expat stops the
    billion laughs only by its amplification limit, with a traceback).
    """
    if openpyxl.DEFUSEDXML:
        return []
    return [
        Error(
            "openpyxl is not using defusedxml, so an imported workbook's XML may declare entities.",
            hint="Install the project's dependencies (defusedxml) and leave "
            "OPENPYXL_DEFUSEDXML unset.",
            id="cases.E002",
        )
    ]
