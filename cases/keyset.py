"""Pages of a list by key, not by OFFSET: the cost of a page does not grow with its depth.

A page is the ``size`` rows that follow (or precede) the last row shown, in the list's
ordering, found by a condition on the ordering's columns (``created > x OR (created = x
AND id > y)``) that an index on those columns answers directly. OFFSET would read and
throw away every row before the page (issue 16: page 40 of a 100,000-case queue cost
twice page 1).

The position travels in an opaque cursor, signed with the site's key (``django.core.
signing``) and salted with the list's name, so a cursor of one list is refused by
another, and an edited one is refused rather than trusted: ``BadCursor``, which the
pages answer with 400. The ordering must end in a unique column (``id``) so that every
row has one place. Rows added between two pages appear in their place and no row is
shown twice or skipped (a row inserted before the current position shows on the pages
behind it). The page number shown is the count of "next" steps taken, carried in the
cursor: bounded by how far a person clicks, never used to find the rows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

CURSOR_PARAMETER = "cursor"
MAX_CURSOR_LENGTH = 512


class BadCursor(ValueError):
    """A cursor that this list did not issue (edited, truncated, of another list)."""

    message = _(
        "This page link is not valid (it was changed or belongs to another list). "
        "Go back to the first page of the list."
    )


@dataclass
class KeysetPage:
    """One page of rows and the cursors of the pages before and after it."""

    rows: list
    number: int = 1
    next_cursor: str = ""
    previous_cursor: str = ""
    first: bool = field(default=True)

    @property
    def has_next(self) -> bool:
        return bool(self.next_cursor)

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_cursor) or not self.first


def _encode(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def _after(ordering: list[str], key: list, model, *, backwards: bool) -> Q:
    """Rows strictly after ``key`` in ``ordering`` (or before it, ``backwards``)."""
    condition = Q()
    equal = Q()
    for name, raw in zip(ordering, key, strict=True):
        column = name.lstrip("-")
        value = model._meta.get_field(column).to_python(raw)
        descending = name.startswith("-") != backwards
        step = Q(**{f"{column}__{'lt' if descending else 'gt'}": value})
        condition |= equal & step
        equal &= Q(**{column: value})
    # The first column bounds the range too, so that the index is read from the position on.
    first = ordering[0].lstrip("-")
    first_value = model._meta.get_field(first).to_python(key[0])
    descending = ordering[0].startswith("-") != backwards
    return Q(**{f"{first}__{'lte' if descending else 'gte'}": first_value}) & condition


def _reverse(ordering: list[str]) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]


def read_cursor(raw: str | None, salt: str) -> dict | None:
    """The position a cursor holds, or ``None`` for the first page; ``BadCursor`` if forged."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_LENGTH:
        raise BadCursor
    try:
        data = signing.loads(raw, salt=f"keyset:{salt}")
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise BadCursor from exc
    if (
        not isinstance(data, dict)
        or data.get("d") not in ("n", "p")
        or not isinstance(data.get("k"), list)
        or not isinstance(data.get("n"), int)
        or data["n"] < 1
    ):
        raise BadCursor
    return data


def _cursor(salt: str, key: list, direction: str, number: int) -> str:
    return signing.dumps(
        {"k": [_encode(v) for v in key], "d": direction, "n": number}, salt=f"keyset:{salt}"
    )


def page_window(
    raw_cursor: str | None, *, salt: str, ordering: list[str], model, size: int
) -> tuple[Q, list[str], int]:
    """What each branch of a list made of several must hold for the page at ``raw_cursor``:
    the rows after the position (``Q()`` on the first page), in the page's own order (the
    list's, reversed for a "previous" link), and how many (``size + 1``).

    A list that is the union of a few branches (a company's cases, the applicant's own),
    each cut to this window and walked by its own index, holds the page and the row that
    says another follows, however many rows each branch has; ``page_by_key`` then picks the
    page from those. ``BadCursor`` as ``page_by_key``."""
    position = read_cursor(raw_cursor, salt)
    if position is None:
        return Q(), list(ordering), size + 1
    if len(position["k"]) != len(ordering):
        raise BadCursor
    backwards = position["d"] == "p"
    try:
        condition = _after(ordering, position["k"], model, backwards=backwards)
    except (ValueError, TypeError, ValidationError) as exc:  # a key not of its column's type
        raise BadCursor from exc
    return condition, _reverse(ordering) if backwards else list(ordering), size + 1


def page_by_key(queryset: QuerySet, raw_cursor: str | None, *, salt: str, size: int) -> KeysetPage:
    """The page of ``queryset`` (ordered, ending in a unique column) at ``raw_cursor``."""
    ordering = list(queryset.query.order_by)
    if not ordering or ordering[-1].lstrip("-") not in ("id", "pk"):
        raise ValueError("A keyset list is ordered and ends in its id.")
    ordering = [name.replace("pk", "id") if name.lstrip("-") == "pk" else name for name in ordering]
    columns = [name.lstrip("-") for name in ordering]
    position = read_cursor(raw_cursor, salt)
    model = queryset.model
    if position is not None and len(position["k"]) != len(ordering):
        raise BadCursor
    try:
        if position is None:
            rows = list(queryset[: size + 1])
            backwards, number = False, 1
        else:
            backwards = position["d"] == "p"
            number = position["n"]
            condition = _after(ordering, position["k"], model, backwards=backwards)
            shown = queryset.filter(condition)
            if backwards:
                shown = shown.order_by(*_reverse(ordering))
            rows = list(shown[: size + 1])
    except (ValueError, TypeError, ValidationError) as exc:  # a key not of its column's type
        raise BadCursor from exc
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def key_of(row) -> list:
        return [getattr(row, column) for column in columns]

    page = KeysetPage(rows=rows, number=number, first=number == 1)
    if not rows:
        return page
    if backwards:
        has_after, has_before = True, more
    else:
        has_after, has_before = more, position is not None
    if has_after:
        page.next_cursor = _cursor(salt, key_of(rows[-1]), "n", number + 1)
    if has_before:
        page.previous_cursor = _cursor(salt, key_of(rows[0]), "p", max(number - 1, 1))
    page.first = not page.previous_cursor
    return page
