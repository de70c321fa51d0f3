"""System checks of the case domain.

- ``cases.E001``: the audit signing key must be there (without it no event can be
  recorded, since each one signs its case's head), and ``cases.W001``: be private.
- ``cases.E002``: openpyxl must parse imported workbooks with defusedxml.
- ``cases.W002``: the national holiday schedule of this year, and from 1 November of
  next year, must be known (the package's or loaded with ``manage.py load_calendar``);
  until then deadlines in that year are provisional.

``manage.py check`` (and ``migrate``, ``runserver``, ``check --deploy``) fails first,
saying how to fix it.
"""

from __future__ import annotations

import stat
from pathlib import Path

import openpyxl
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError
from django.utils import timezone

from cases import signing
from cases.calendar import package_knows
from cases.models import CalendarYear

# From this day of the year (month, day) on, next year's schedule is expected: the State
# Council publishes it in the autumn (late October or November).
SCHEDULE_EXPECTED_FROM = (11, 1)


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


@register("cases", Tags.database)
def holiday_schedule_loaded(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    """Warn while a year that deadlines reach has no schedule (``cases.W002``).

    A database check: it reads the loaded years, so it runs where a database is named
    (``migrate``, ``manage.py check --database default``), not at every import (a worker
    starting, a test collecting)."""
    if not databases:
        return []
    today = timezone.localdate()
    years = [today.year]
    if (today.month, today.day) >= SCHEDULE_EXPECTED_FROM:
        years.append(today.year + 1)
    missing = [year for year in years if not package_knows(year)]
    if not missing:
        return []
    try:
        loaded = set(CalendarYear.objects.filter(year__in=missing).values_list("year", flat=True))
    except DatabaseError:  # no tables yet (before migrate): nothing to say
        return []
    return [
        Warning(
            f"The national holiday schedule for {year} is not loaded: deadlines that reach "
            f"{year} skip weekends and the fixed statutory holidays only, and every page and "
            "letter marks them provisional.",
            hint=f"Load the State Council's notice for {year}: 'manage.py load_calendar FILE' "
            "(format: docs/calendar.md) or the admin's calendar years; or upgrade "
            "chinesecalendar to a release that has it.",
            id="cases.W002",
        )
        for year in missing
        if year not in loaded
    ]
