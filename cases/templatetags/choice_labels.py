"""``{{ case|label:"status" }}``: a field's choice label, as ``get_status_display`` shows it,
from a table of the field's labels built once per language.

Django's ``get_FOO_display`` hashes every choice of the field on each call, and hashing a
lazy label translates it: the case status's twenty-odd labels were translated for every
row of a list, ~500 ``gettext`` calls and about a fifth of the queue page's time
(bench/RESULTS.md, issue 16). Labels do not change while the process runs, so the table is
kept per field and language.
"""

from __future__ import annotations

import functools

from django import template
from django.utils.translation import get_language

register = template.Library()


@functools.cache
def _labels(field, language: str | None) -> dict:
    return {value: str(text) for value, text in field.flatchoices}


@register.filter
def label(obj, name: str) -> str:
    """The label of ``obj``'s choice field ``name`` in the active language (the value
    itself if it is not one of the choices, as ``get_FOO_display`` does)."""
    field = obj._meta.get_field(name)
    value = getattr(obj, field.attname)
    try:
        return _labels(field, get_language()).get(value, value)
    except TypeError:  # an unhashable value: never one of the choices
        return value
