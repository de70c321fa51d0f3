"""System checks of what the cases app needs from its libraries to be safe."""

from __future__ import annotations

import openpyxl
from django.core.checks import Error, Tags, register


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
            id="cases.E001",
        )
    ]
