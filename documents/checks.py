"""System checks: letters need Chinese fonts (and render 3x faster with HarfBuzz's subsetter).

Without a CJK font WeasyPrint draws every Chinese character as an empty box and
the letter is worthless, yet nothing fails: so ``manage.py check`` (and every
``runserver``, ``migrate``) fails instead, naming the package to install.
"""

from __future__ import annotations

import shutil
import subprocess

from django.conf import settings
from django.core.checks import Error, Warning
from django.db import DatabaseError

from cases.models import Agency
from documents.content import agency_seal
from documents.fonts import SOURCE_FAMILY, _harfbuzz, source_font

FONT_PACKAGE = "fonts-noto-cjk"
WANTED_FAMILIES = ("Noto Serif CJK SC", "Noto Sans CJK SC")


def cjk_font_families() -> list[str] | None:
    """Font families fontconfig knows that cover Chinese; None when fontconfig is missing."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [fc_list, ":lang=zh", "family"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    families = set()
    for line in result.stdout.splitlines():
        families.update(name.strip() for name in line.split(",") if name.strip())
    return sorted(families)


def cjk_fonts_available(app_configs=None, **kwargs):
    families = cjk_font_families()
    if families is None:
        return [
            Error(
                "fontconfig (fc-list) is not available, so no Chinese font can be found: "
                "letters would print empty boxes instead of Chinese text.",
                hint=f"Install fontconfig and {FONT_PACKAGE}: apt-get install fontconfig "
                f"{FONT_PACKAGE} (scripts/setup does this).",
                id="documents.E001",
            )
        ]
    if not families:
        return [
            Error(
                "No font with Chinese glyphs is installed: letters would print empty boxes "
                "instead of Chinese text.",
                hint=f"Install the Debian package {FONT_PACKAGE}: apt-get install {FONT_PACKAGE} "
                "(scripts/setup does this).",
                id="documents.E001",
            )
        ]
    if not any(family in families for family in WANTED_FAMILIES):
        return [
            Warning(
                f"Neither {' nor '.join(WANTED_FAMILIES)} is installed; letters fall back to "
                f"{families[0]}.",
                hint=f"Install the Debian package {FONT_PACKAGE} for the letters' designed fonts.",
                id="documents.W001",
            )
        ]
    return []


def pdf_subsetter_available(app_configs=None, **kwargs):
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except (ImportError, OSError) as exc:
        return [
            Error(
                f"WeasyPrint cannot load its libraries ({exc}): no letter can be rendered.",
                hint="Install libpango-1.0-0 and libpangoft2-1.0-0 (scripts/setup does this).",
                id="documents.E002",
            )
        ]
    if not harfbuzz_subset:
        return [
            Warning(
                "HarfBuzz's font subsetter is missing: WeasyPrint subsets the Chinese fonts with "
                "fontTools, about three times slower per letter.",
                hint="Install the Debian package libharfbuzz-subset0.",
                id="documents.W002",
            )
        ]
    return []


def letter_font_available(app_configs=None, **kwargs):
    """The letters' own cut of Noto Serif CJK SC can be made (else letters are ~2x slower)."""

    if source_font() is None:
        return []  # documents.E001 / W001 already say what is missing
    try:
        _harfbuzz()
    except (OSError, ImportError) as exc:
        return [
            Warning(
                f"HarfBuzz's subsetter cannot be loaded ({exc}): letters embed the full "
                f"{SOURCE_FAMILY}, about twice as slow and twice as large.",
                hint="Install the Debian package libharfbuzz-subset0.",
                id="documents.W003",
            )
        ]
    return []


def agencies_have_seals(app_configs=None, **kwargs):
    """In production every active agency prints its own seal: the specimen (样章) is refused
    when a letter is rendered, so an agency without one could issue no letter at all."""
    if getattr(settings, "REDRESS_SPECIMEN_SEAL", True):
        return []
    try:
        agencies = list(Agency.objects.filter(is_active=True).order_by("code"))
    except DatabaseError:
        return []  # not migrated yet: nothing can be issued either
    return [
        Error(
            f"Agency {agency.code} ({agency.name}) has no seal image of its own: its letters "
            "would be refused (production does not print the specimen seal).",
            hint="Upload the agency's seal (PNG or JPEG, at most 512 KiB) in the admin under "
            "Agencies.",
            obj=agency,
            id="documents.E003",
        )
        for agency in agencies
        if agency_seal(agency) is None
    ]
