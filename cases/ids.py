"""Numbers people and programs send us: ids in paths, query strings, forms and bodies.

One rule for every interface: a number is written in ASCII digits (``0-9``) only, and an
id is a positive 64-bit integer (what a PostgreSQL ``bigint`` key holds). Python's
``int()`` also reads other scripts' digits (``int("٣") == 3``) and ``str.isdigit()``
says yes to characters ``int()`` refuses (``"²"``); both let malformed input reach the
database or crash a view. Anything else is simply not a number: the caller answers
400 (input) or 404 (an address) in its own shape.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ID_MIN = 1
ID_MAX = 2**63 - 1
ID_LIMITS = {"min_value": ID_MIN, "max_value": ID_MAX}
"""For DRF's and Django's integer fields: ``IntegerField(**ID_LIMITS)``."""

_ASCII_DIGITS = frozenset("0123456789")
_MOST_DIGITS = 30  # more than any bound we check needs; int() is never fed a huge string


def whole_number(
    value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """``value`` as an int within ``minimum``..``maximum`` (each optional), or None.

    Accepts an int (not a bool) or a string of ASCII digits, nothing else: no sign, no
    spaces, no other script's digits, no decimal point.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= _MOST_DIGITS and set(value) <= _ASCII_DIGITS:
        number = int(value)
    else:
        return None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return None
    return number


def id_parse(value: object) -> int | None:
    """The database id ``value`` names (ASCII digits, 1 to 2**63-1), or None."""
    return whole_number(value, minimum=ID_MIN, maximum=ID_MAX)


# -- Django form fields ------------------------------------------------------------------


class IdFormField(forms.Field):
    """One id, e.g. a list filter's ``?case=12``; cleans to an int."""

    default_error_messages = {
        "invalid": _("Enter an id: a whole number from %(min)s to %(max)s, in digits 0-9."),
    }

    def to_python(self, value) -> int | None:
        if value in self.empty_values:
            return None
        number = id_parse(value)
        if number is None:
            raise ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"min": ID_MIN, "max": ID_MAX},
            )
        return number


class IdChoiceField(forms.ModelChoiceField):
    """``ModelChoiceField`` that takes only an id in ASCII digits: ``"٣"`` is not row 3."""

    def to_python(self, value):
        if (
            value in self.empty_values
            or self.to_field_name
            or isinstance(value, self.queryset.model)
        ):
            return super().to_python(value)
        if id_parse(value) is None:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return super().to_python(value)
