"""Working days and deadlines under the national holiday calendar, with agency overrides.

Deadlines follow Chinese administrative practice: the day of the event is not counted,
day 1 is the first working day after it, and "within n working days" ends on the n-th.
Working days are those of the State Council holiday calendar (as the ``chinesecalendar``
package has it), including the weekend days declared working days (调休), corrected by
overrides the operator loads: an agency's own override beats a national one, which beats
the package.

A year the package does not know is never silently guessed: days in it are counted
Monday to Friday less the statutory holidays whose dates 《全国年节及纪念日放假办法》
fixes (``statutory_holidays``), and every result says so (``known=False``,
``provisional=True``) until the operator loads that year's State Council schedule
(``parse_schedule``, ``manage.py load_calendar``) and so declares it known.

A computation is kept twice: as an English text, the audit record, and as *facts* (codes
and parameters, no sentences: ``DeadlineComputation.as_facts``), which
``explain_computation`` says in the reader's language. The English text is that same
rendering with English active, so the two cannot drift apart.

Pure Python on purpose: the admin-editable override rows are read by the caller and passed
in as ``DayOverride`` values, so this module can be used from services, tasks and tests
without a database (it needs Django's settings only for translations).
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import chinese_calendar
from django.utils import translation
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from lunardate import LunarDate

from cases.errors import InvalidInput, RedressError

NATIONAL = "national"

_ONE_DAY = datetime.timedelta(days=1)

# The package names holidays in English; letters and audit views need the statutory name.
_HOLIDAY_CHINESE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}

# The codes of ``DayReason``.
WORKING_DAY = "working_day"
ASSUMED_WORKING_DAY = "assumed_working_day"
WEEKEND = "weekend"
HOLIDAY = "holiday"
ADJUSTED_WORKING_DAY = "adjusted_working_day"
OVERRIDE = "override"

# How a provisional computation counted the days of a year not loaded: Monday to Friday
# less the fixed statutory holidays (``statutory_holidays``).
STATUTORY_FALLBACK = "statutory_holidays"

# The version of the facts ``DeadlineComputation.as_facts`` writes; ``explain_computation``
# reads this version (and refuses others, so a stored record is never misread).
FACTS_VERSION = 1


class CalendarYearUnknown(RedressError):
    """A day falls in a year whose national holiday calendar is not loaded.

    Raised only by a calendar built with ``strict=True``; by default such days are counted
    Monday to Friday and the result is marked provisional instead.
    """

    code = "calendar_year_unknown"
    http_status = 409

    def __init__(self, years: Iterable[int]):
        self.years = tuple(sorted(set(years)))
        super().__init__(
            _(
                "The national holiday calendar for %(years)s is not loaded; "
                "load it (admin: calendar overrides) before computing this deadline."
            )
            % {"years": _years_listed(self.years)}
        )


@dataclass(frozen=True)
class DayOverride:
    """One day declared working or non-working by the operator.

    ``scope`` is ``"national"`` (e.g. a State Council notice the package does not have yet)
    or an agency code such as ``"SZAMR"`` (a local holiday, an agency's own closure).
    """

    day: datetime.date
    is_working_day: bool
    name: str
    scope: str


@dataclass(frozen=True)
class DayReason:
    """Why a day counts or not, as a code and its parameters: the same in every language.

    ``code`` is one of

    - ``working_day``;
    - ``assumed_working_day``: Monday to Friday in ``year``, whose calendar is not loaded;
    - ``weekend``: a day off for its ``weekday`` (0 is Monday), as the package has it;
    - ``holiday``: the statutory holiday ``name`` as the package spells it ("National Day");
    - ``adjusted_working_day``: a weekend day worked to make up for holiday ``name`` (调休);
    - ``override``: declared by the operator, ``name`` as entered, ``scope`` ``"national"``
      or an agency code.

    ``day_reason_text`` says it in the active language.
    """

    code: str
    name: str = ""
    scope: str = ""
    year: int | None = None
    weekday: int | None = None

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> DayReason:
        return cls(
            **{
                key: facts[key]
                for key in ("code", "name", "scope", "year", "weekday")
                if key in facts
            }
        )

    def as_facts(self) -> dict[str, Any]:
        """The code and the parameters that are set, JSON-ready."""
        facts: dict[str, Any] = {"code": self.code}
        for key in ("name", "scope", "year", "weekday"):
            value = getattr(self, key)
            if value is not None and value != "":
                facts[key] = value
        return facts

    @property
    def is_plain_weekend(self) -> bool:
        """A Saturday or Sunday off, nothing more to say about it."""
        return self.code == WEEKEND and self.weekday is not None and self.weekday >= 5


# The reason of a run of plain weekend days in a computation's facts.
_PLAIN_WEEKEND = DayReason(WEEKEND)


@dataclass(frozen=True)
class SkippedDay:
    """A non-working day passed over while counting, with why it does not count.

    ``reason`` is the English text of ``cause`` (what ``day_status`` says); the calendar
    sets both.
    """

    day: datetime.date
    reason: str
    cause: DayReason | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CountedDay:
    """A weekend day that counted because it was declared a working day (调休 or override).

    ``reason`` is the English text of ``cause``; the calendar sets both.
    """

    day: datetime.date
    reason: str
    cause: DayReason | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DeadlineComputation:
    """How a deadline was computed: the answer and everything needed to show the working.

    ``start`` is the event day (not counted); ``due`` is the ``working_days``-th working day
    after it, or ``start`` itself when ``working_days`` is 0. ``skipped`` and
    ``adjusted_working_days`` cover the days after ``start`` up to ``due``. ``provisional``
    is true when any of those days fell in a year whose national calendar is not loaded;
    ``unknown_years`` names those years.
    """

    start: datetime.date
    working_days: int
    due: datetime.date
    skipped: tuple[SkippedDay, ...]
    adjusted_working_days: tuple[CountedDay, ...]
    provisional: bool
    unknown_years: tuple[int, ...]
    # Calendar days (the court list's 15 and 10 days, GUIDE §0.2): ``working_days`` is then
    # the count of calendar days, and ``skipped`` the non-working days the last day was
    # moved past (a period ending on a holiday ends on the next working day).
    calendar_days: bool = False

    @property
    def day_kind(self) -> str:
        return "calendar" if self.calendar_days else "working"

    def explain(self) -> str:
        """A short English account of the computation, one fact per line."""
        return explain_computation(self.as_facts(), language="en")

    def as_facts(self, *, prefix: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The computation as JSON-ready facts for ``explain_computation``.

        Dates are ISO strings. ``skipped`` holds runs of consecutive skipped days, each
        with the reasons of its days (``DayReason.as_facts``; a run of plain weekend days
        has the single reason ``{"code": "weekend"}``); ``counted`` the weekend days that
        counted, each with its reason. ``prefix`` says what (re)started the count, one of
        ``{"kind": "started"}`` (the default), ``{"kind": "resumed", "on": <date>,
        "working_days": <left>}``, ``{"kind": "extended", "days": <n>, "approved_by":
        <username>, "reason": <text>}``, ``{"kind": "recomputed", "reason": <text>}``.
        """
        facts = {
            "version": FACTS_VERSION,
            "prefix": dict(prefix or {"kind": "started"}),
            "start": self.start.isoformat(),
            "working_days": self.working_days,
            "due": self.due.isoformat(),
            "skipped": [
                {
                    "first": first.isoformat(),
                    "last": last.isoformat(),
                    "reasons": [reason.as_facts() for reason in reasons],
                }
                for first, last, reasons in _skipped_runs(self.skipped)
            ],
            "counted": [
                {"day": counted.day.isoformat(), "reason": counted.cause.as_facts()}
                for counted in self.adjusted_working_days
            ],
            "provisional": self.provisional,
            "unknown_years": list(self.unknown_years),
        }
        if self.calendar_days:
            facts["day_kind"] = "calendar"
        if self.provisional:
            # Computations stored before the statutory fallback skipped weekends only;
            # their facts lack this key and read as they did.
            facts["fallback"] = STATUTORY_FALLBACK
        return facts


def explain_computation(facts: Mapping[str, Any], *, language: str | None = None) -> str:
    """How a deadline was computed, one fact per line, in the active language.

    ``facts`` is what ``DeadlineComputation.as_facts`` returned (possibly through JSON).
    ``language`` renders in that language instead; with ``"en"`` the result is the English
    audit text stored as ``Deadline.computation``. Names the operator entered (an
    override's, a reason) are shown as entered. Facts of another version raise
    ``ValueError``.
    """
    if language is not None:
        with translation.override(language):
            return explain_computation(facts)
    if facts.get("version") != FACTS_VERSION:
        raise ValueError(f"Unknown version of computation facts: {facts.get('version')!r}.")
    lines = []
    prefix = _prefix_text(facts["prefix"])
    if prefix:
        lines.append(prefix)
    start = facts["start"]
    working_days = facts["working_days"]
    if facts.get("day_kind") == "calendar":
        lines.extend(_calendar_days_text(facts))
    elif working_days == 0:
        lines.append(
            _("0 working days from %(start)s: due on %(start)s itself.") % {"start": start}
        )
    else:
        lines.append(
            ngettext(
                "%(count)s working day from %(start)s "
                "(the event day is not counted; day 1 is the next working day):",
                "%(count)s working days from %(start)s "
                "(the event day is not counted; day 1 is the next working day):",
                working_days,
            )
            % {"count": working_days, "start": start}
        )
        weekend_days = 0
        separator = pgettext("list separator", ", ")
        for run in facts["skipped"]:
            first = datetime.date.fromisoformat(run["first"])
            last = datetime.date.fromisoformat(run["last"])
            if run["reasons"] == [_PLAIN_WEEKEND.as_facts()]:
                weekend_days += last.toordinal() - first.toordinal() + 1
                continue
            reasons = separator.join(day_reason_text(reason) for reason in run["reasons"])
            lines.append(
                "  "
                + _("skipped %(dates)s %(reasons)s")
                % {"dates": _date_range(first, last), "reasons": reasons}
            )
        if weekend_days:
            lines.append(
                "  "
                + ngettext(
                    "skipped %(count)s ordinary weekend day",
                    "skipped %(count)s ordinary weekend days",
                    weekend_days,
                )
                % {"count": weekend_days}
            )
        for counted in facts["counted"]:
            day = datetime.date.fromisoformat(counted["day"])
            lines.append(
                "  "
                + _("counted %(day)s (%(weekday)s): %(reason)s")
                % {
                    "day": day.isoformat(),
                    "weekday": _weekday(day),
                    "reason": day_reason_text(counted["reason"]),
                }
            )
        due = datetime.date.fromisoformat(facts["due"])
        lines.append(
            _("Due %(day)s (%(weekday)s).") % {"day": due.isoformat(), "weekday": _weekday(due)}
        )
    if facts["provisional"] and facts.get("fallback") == STATUTORY_FALLBACK:
        years = tuple(facts["unknown_years"])
        lines.append(
            ngettext(
                "PROVISIONAL: the national holiday calendar for %(years)s is not loaded; "
                "for those days only weekends and the fixed statutory holidays "
                "(全国年节及纪念日放假办法) were skipped, and the State Council's schedule "
                "may move days off and working days — load the %(years)s schedule "
                "(admin: calendar years, or manage.py load_calendar) to confirm.",
                "PROVISIONAL: the national holiday calendars for %(years)s are not loaded; "
                "for those days only weekends and the fixed statutory holidays "
                "(全国年节及纪念日放假办法) were skipped, and the State Council's schedules "
                "may move days off and working days — load the %(years)s schedules "
                "(admin: calendar years, or manage.py load_calendar) to confirm.",
                len(years),
            )
            % {"years": _years_listed(years)}
        )
    elif facts["provisional"]:
        years = tuple(facts["unknown_years"])
        lines.append(
            ngettext(
                "PROVISIONAL: the national holiday calendar for %(years)s is not loaded; "
                "weekends only were skipped for those days — load the %(years)s calendar "
                "(admin: calendar overrides) to confirm.",
                "PROVISIONAL: the national holiday calendars for %(years)s are not loaded; "
                "weekends only were skipped for those days — load the %(years)s calendars "
                "(admin: calendar overrides) to confirm.",
                len(years),
            )
            % {"years": _years_listed(years)}
        )
    return "\n".join(lines)


def _calendar_days_text(facts: Mapping[str, Any]) -> list[str]:
    """The lines of a calendar-day computation (``explain_computation``)."""
    days, start = facts["working_days"], facts["start"]
    lines = [
        ngettext(
            "%(count)s calendar day from %(start)s (the event day is not counted; "
            "every day counts, holidays included):",
            "%(count)s calendar days from %(start)s (the event day is not counted; "
            "every day counts, holidays included):",
            days,
        )
        % {"count": days, "start": start}
    ]
    separator = pgettext("list separator", ", ")
    for run in facts["skipped"]:
        first = datetime.date.fromisoformat(run["first"])
        last = datetime.date.fromisoformat(run["last"])
        if run["reasons"] == [_PLAIN_WEEKEND.as_facts()]:
            reasons = _("weekend")
        else:
            reasons = separator.join(day_reason_text(reason) for reason in run["reasons"])
        lines.append(
            "  "
            + _(
                "the last day fell on %(dates)s, not a working day (%(reasons)s): the period "
                "ends on the next working day"
            )
            % {"dates": _date_range(first, last), "reasons": reasons}
        )
    due = datetime.date.fromisoformat(facts["due"])
    lines.append(
        _("Due %(day)s (%(weekday)s).") % {"day": due.isoformat(), "weekday": _weekday(due)}
    )
    return lines


def _prefix_text(prefix: Mapping[str, Any]) -> str:
    kind = prefix.get("kind", "started")
    if kind == "started":
        return ""
    # "working days" even for 1: the English text is the stored audit record and has
    # always read so.
    if kind == "resumed" and prefix.get("day_kind") == "calendar":
        return _("Resumed on %(day)s with %(days)s calendar days left.") % {
            "day": prefix["on"],
            "days": prefix["working_days"],
        }
    if kind == "extended" and prefix.get("day_kind") == "calendar":
        return _("Extended by %(days)s calendar days (approved by %(approver)s: %(reason)s).") % {
            "days": prefix["days"],
            "approver": prefix["approved_by"],
            "reason": prefix["reason"],
        }
    if kind == "resumed":
        return _("Resumed on %(day)s with %(days)s working days left.") % {
            "day": prefix["on"],
            "days": prefix["working_days"],
        }
    if kind == "extended":
        return _("Extended by %(days)s working days (approved by %(approver)s: %(reason)s).") % {
            "days": prefix["days"],
            "approver": prefix["approved_by"],
            "reason": prefix["reason"],
        }
    if kind == "recomputed":
        cause = prefix.get("cause")
        reason = recompute_cause_text(cause) if cause else prefix["reason"]
        return _("Recomputed: %(reason)s.") % {"reason": reason}
    raise ValueError(f"Unknown kind of computation prefix: {kind!r}.")


def recompute_cause(
    code: str,
    *,
    year: int | None = None,
    override: DayOverride | None = None,
    source: str = "",
) -> dict[str, Any]:
    """Why open deadlines were recomputed, as facts: ``override_saved`` or
    ``override_removed`` (with the override's day, kind, name and scope),
    ``year_declared`` (a national calendar year declared complete) or
    ``schedule_loaded`` (a year's State Council schedule loaded, ``source`` naming it)."""
    if code == "year_declared":
        return {"code": code, "year": year}
    if code == "schedule_loaded":
        return {"code": code, "year": year, "source": source}
    if code in ("override_saved", "override_removed") and override is not None:
        return {
            "code": code,
            "day": override.day.isoformat(),
            "working": override.is_working_day,
            "name": override.name,
            "scope": override.scope,
        }
    raise ValueError(f"Unknown recompute cause {code!r} or missing override.")


def recompute_cause_text(cause: Mapping[str, Any]) -> str:
    """A recompute cause in the active language (the English is the clock ledger's reason)."""
    code = cause["code"]
    if code == "year_declared":
        return _("national calendar for %(year)s declared") % {"year": cause["year"]}
    if code == "schedule_loaded":
        return _("national holiday schedule for %(year)s loaded (%(source)s)") % {
            "year": cause["year"],
            "source": cause["source"],
        }
    label = _("%(day)s %(kind)s: %(name)s (%(scope)s)") % {
        "day": cause["day"],
        "kind": _("working day") if cause["working"] else _("holiday"),
        "name": cause["name"],
        "scope": (
            pgettext("calendar override scope", "national")
            if cause["scope"] == NATIONAL
            else cause["scope"]
        ),
    }
    if code == "override_saved":
        return _("calendar override %(override)s") % {"override": label}
    if code == "override_removed":
        return _("calendar override removed: %(override)s") % {"override": label}
    raise ValueError(f"Unknown recompute cause: {code!r}.")


def day_reason_text(reason: DayReason | Mapping[str, Any]) -> str:
    """Why a day counts or not, in the active language ("National Day (国庆节)", "国庆节")."""
    if not isinstance(reason, DayReason):
        reason = DayReason.from_facts(reason)
    if reason.code == WORKING_DAY:
        return _("working day")
    if reason.code == ASSUMED_WORKING_DAY:
        return _("working day (assumed: %(year)s national calendar not loaded)") % {
            "year": reason.year
        }
    if reason.code == WEEKEND:
        return str(WEEKDAYS[reason.weekday])
    if reason.code == HOLIDAY:
        return _holiday_label(reason.name)
    if reason.code == ADJUSTED_WORKING_DAY:
        return _("adjusted working day (调休) for %(holiday)s") % {
            "holiday": _holiday_label(reason.name)
        }
    if reason.code == OVERRIDE:
        scope = pgettext("calendar override scope", "national")
        return _("override: %(name)s (%(scope)s)") % {
            "name": reason.name,
            "scope": scope if reason.scope == NATIONAL else reason.scope,
        }
    raise ValueError(f"Unknown day reason: {reason.code!r}.")


@functools.cache
def _english(reason: DayReason) -> str:
    # The reason kept on SkippedDay/CountedDay and given by day_status: the audit language.
    with translation.override("en"):
        return day_reason_text(reason)


class _DayStatus(NamedTuple):
    working: bool
    cause: DayReason
    known: bool


class WorkingCalendar:
    """Answers "is this a working day?" and computes deadlines in working days.

    ``overrides``: operator-declared days. For the same day an agency-scope override wins
    over a national-scope one, which wins over the package. Pass the national overrides
    plus those of one agency; if the rows of several agencies are passed, name the one
    whose calendar this is with ``agency`` (the others are ignored). Two overrides of the
    same scope and day that disagree are refused with ``ValueError``.

    ``known_years``: years the package does not know but the operator has loaded completely
    through overrides; in such a year a day without an override follows Monday to Friday
    and counts as known. (For a year the package knows, this changes nothing.)

    ``strict``: raise ``CalendarYearUnknown`` instead of guessing Monday to Friday for a day
    in an unknown year. ``day_status`` never raises; it reports ``known=False``.

    Day statuses are cached on the instance: build a new calendar when overrides change.
    """

    def __init__(
        self,
        overrides: Iterable[DayOverride] = (),
        *,
        known_years: Iterable[int] = (),
        agency: str | None = None,
        strict: bool = False,
    ):
        self.agency = agency
        self.known_years = frozenset(known_years)
        self.strict = strict
        self._national: dict[datetime.date, DayOverride] = {}
        self._agency: dict[datetime.date, DayOverride] = {}
        overrides = list(overrides)
        agency_scopes = {o.scope for o in overrides if o.scope != NATIONAL}
        if agency is None and len(agency_scopes) > 1:
            raise ValueError(
                f"Overrides of several agencies were passed ({', '.join(sorted(agency_scopes))}); "
                f"pass agency= to say whose calendar this is."
            )
        for override in overrides:
            _check_date(override.day)
            if override.scope == NATIONAL:
                target = self._national
            elif agency is None or override.scope == agency:
                target = self._agency
            else:
                continue
            existing = target.get(override.day)
            if existing is not None and existing.is_working_day != override.is_working_day:
                raise ValueError(
                    f"Conflicting {override.scope} overrides for {override.day}: "
                    f"{existing.name!r} and {override.name!r}."
                )
            target.setdefault(override.day, override)
        self._days: dict[datetime.date, _DayStatus] = {}
        self._package_years: dict[int, bool] = {}

    def is_working_day(self, day: datetime.date) -> bool:
        """Whether ``day`` is a working day (Monday to Friday guess in an unknown year)."""
        status = self._status(day)
        if self.strict and not status.known:
            raise CalendarYearUnknown([day.year])
        return status.working

    def day_status(self, day: datetime.date) -> tuple[bool, str, bool]:
        """``(working?, reason, known?)`` for ``day``.

        ``reason`` is what a person would be told: "working day", "Saturday",
        "National Day (国庆节)", "adjusted working day (调休) for National Day (国庆节)",
        "override: Shenzhen municipal holiday (SZAMR)". ``known`` is false when the answer
        is a Monday-to-Friday guess because the day's year is not loaded.
        """
        status = self._status(day)
        return status.working, _english(status.cause), status.known

    def add_working_days(self, start: datetime.date, n: int) -> DeadlineComputation:
        """The deadline ``n`` working days after the event on ``start``.

        Day 1 is the first working day after ``start``. ``n == 0`` means due on ``start``
        itself (whatever kind of day it is), with nothing skipped. Negative ``n`` raises
        ``ValueError``.
        """
        _check_date(start)
        if n < 0:
            raise ValueError(f"A deadline needs 0 or more working days, not {n}.")
        skipped: list[SkippedDay] = []
        counted: list[CountedDay] = []
        unknown_years: set[int] = set()
        day = start
        remaining = n
        while remaining:
            day += _ONE_DAY
            status = self._status(day)
            if not status.known:
                unknown_years.add(day.year)
            if status.working:
                remaining -= 1
                if day.weekday() >= 5:
                    counted.append(CountedDay(day, _english(status.cause), status.cause))
            else:
                skipped.append(SkippedDay(day, _english(status.cause), status.cause))
        if self.strict and unknown_years:
            raise CalendarYearUnknown(unknown_years)
        return DeadlineComputation(
            start=start,
            working_days=n,
            due=day,
            skipped=tuple(skipped),
            adjusted_working_days=tuple(counted),
            provisional=bool(unknown_years),
            unknown_years=tuple(sorted(unknown_years)),
        )

    def add_calendar_days(self, start: datetime.date, n: int) -> DeadlineComputation:
        """The deadline ``n`` calendar days after the event on ``start``.

        Every day counts; the event day does not. A period whose last day is not a working
        day ends on the next working day (the Civil Procedure Law's rule on periods, which
        the court's list follows; GUIDE §0.2).
        """
        _check_date(start)
        if n < 0:
            raise ValueError(f"A deadline needs 0 or more days, not {n}.")
        day = start + datetime.timedelta(days=n)
        skipped: list[SkippedDay] = []
        unknown_years: set[int] = set()
        if n:
            while True:
                status = self._status(day)
                if not status.known:
                    unknown_years.add(day.year)
                if status.working:
                    break
                skipped.append(SkippedDay(day, _english(status.cause), status.cause))
                day += _ONE_DAY
        if self.strict and unknown_years:
            raise CalendarYearUnknown(unknown_years)
        return DeadlineComputation(
            start=start,
            working_days=n,
            due=day,
            skipped=tuple(skipped),
            adjusted_working_days=(),
            provisional=bool(unknown_years),
            unknown_years=tuple(sorted(unknown_years)),
            calendar_days=True,
        )

    def add_days(self, start: datetime.date, n: int, kind: str = "working") -> DeadlineComputation:
        """``add_calendar_days`` for ``kind == "calendar"``, else ``add_working_days``."""
        if kind == "calendar":
            return self.add_calendar_days(start, n)
        return self.add_working_days(start, n)

    def days_between(self, start: datetime.date, end: datetime.date, kind: str = "working") -> int:
        """Days of ``kind`` in ``(start, end]`` (see ``working_days_between``)."""
        if kind == "calendar":
            return end.toordinal() - start.toordinal()
        return self.working_days_between(start, end)

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """The number of working days in ``(start, end]``.

        Consistent with ``add_working_days``: ``working_days_between(s,
        add_working_days(s, n).due) == n``. When ``end`` is before ``start`` the result is
        minus the working days in ``(end, start]`` (e.g. how far past a deadline a case is).
        """
        _check_date(start)
        _check_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        unknown_years: set[int] = set()
        day = start
        while day < end:
            day += _ONE_DAY
            status = self._status(day)
            if not status.known:
                unknown_years.add(day.year)
            count += status.working
        if self.strict and unknown_years:
            raise CalendarYearUnknown(unknown_years)
        return count

    def unknown_years_in(self, start: datetime.date, end: datetime.date) -> tuple[int, ...]:
        """Years with a day in ``[start, end]`` whose status is a Monday-to-Friday guess."""
        _check_date(start)
        _check_date(end)
        if end < start:
            start, end = end, start
        years = set()
        day = start
        while day <= end:
            if day.year in years:
                # Jump to the next year: the rest of this one cannot add anything.
                day = datetime.date(day.year + 1, 1, 1)
                continue
            if not self._status(day).known:
                years.add(day.year)
            day += _ONE_DAY
        return tuple(sorted(years))

    def _status(self, day: datetime.date) -> _DayStatus:
        status = self._days.get(day)
        if status is None:
            _check_date(day)
            status = self._days[day] = self._compute_status(day)
        return status

    def _compute_status(self, day: datetime.date) -> _DayStatus:
        override = self._agency.get(day) or self._national.get(day)
        if override is not None:
            reason = DayReason(OVERRIDE, name=override.name, scope=override.scope)
            return _DayStatus(override.is_working_day, reason, True)
        if self._package_knows(day.year):
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
            if is_holiday:
                if name:
                    return _DayStatus(False, DayReason(HOLIDAY, name=name), True)
                return _DayStatus(False, DayReason(WEEKEND, weekday=day.weekday()), True)
            if name:  # a weekend day declared a working day to make up for a holiday
                return _DayStatus(True, DayReason(ADJUSTED_WORKING_DAY, name=name), True)
            return _DayStatus(True, DayReason(WORKING_DAY), True)
        known = day.year in self.known_years
        if not known:
            name = statutory_holidays(day.year).get(day)
            if name is not None:
                return _DayStatus(False, DayReason(HOLIDAY, name=name), False)
        if day.weekday() >= 5:
            return _DayStatus(False, DayReason(WEEKEND, weekday=day.weekday()), known)
        if known:
            return _DayStatus(True, DayReason(WORKING_DAY), True)
        return _DayStatus(True, DayReason(ASSUMED_WORKING_DAY, year=day.year), False)

    def _package_knows(self, year: int) -> bool:
        knows = self._package_years.get(year)
        if knows is None:
            knows = self._package_years[year] = package_knows(year)
        return knows


def package_knows(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the State Council schedule of ``year``."""
    try:
        chinese_calendar.get_holiday_detail(datetime.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


# --- the statutory holidays, for a year whose schedule is not loaded -------------------------

# 《全国年节及纪念日放假办法》第二条 (as amended by the State Council decision of
# 2024-11-10, in force 2025-01-01): the holidays of all citizens and their days. The names are the package's, so a day reads the
# same whether the package or this fallback knows it.
NEW_YEARS_DAY = "New Year's Day"
SPRING_FESTIVAL = "Spring Festival"
TOMB_SWEEPING_DAY = "Tomb-sweeping Day"
LABOUR_DAY = "Labour Day"
DRAGON_BOAT_FESTIVAL = "Dragon Boat Festival"
MID_AUTUMN_FESTIVAL = "Mid-autumn Festival"
NATIONAL_DAY = "National Day"


@functools.cache
def statutory_holidays(year: int) -> dict[datetime.date, str]:
    """The days 《全国年节及纪念日放假办法》 Art. 2 gives all citizens off in ``year``.

    New Year's Day 1 day (1 January); Spring Festival 4 days (the lunar New Year's Eve and
    the first three days of the first lunar month); Tomb-sweeping Day 1 (the day of the
    清明 solar term); Labour Day 2 (1 and 2 May); Dragon Boat Festival 1 (5th day of the
    5th lunar month); Mid-autumn Festival 1 (15th day of the 8th lunar month); National
    Day 3 (1 to 3 October). Lunar dates come from ``lunardate`` (1900 to 2099), the
    solar term from ``chinese_calendar``; a date either cannot give is left out.

    Only the dates the law fixes: the State Council's yearly schedule adds the days in
    lieu (补假, Art. 6), the bridging days and the weekend days worked (调休), which no
    rule predicts, so a deadline counted on these alone stays provisional.
    """
    days = {
        datetime.date(year, 1, 1): NEW_YEARS_DAY,
        datetime.date(year, 5, 1): LABOUR_DAY,
        datetime.date(year, 5, 2): LABOUR_DAY,
        datetime.date(year, 10, 1): NATIONAL_DAY,
        datetime.date(year, 10, 2): NATIONAL_DAY,
        datetime.date(year, 10, 3): NATIONAL_DAY,
    }
    try:
        new_year = LunarDate(year, 1, 1).to_solar_date()
        days.update({new_year + datetime.timedelta(days=i): SPRING_FESTIVAL for i in range(-1, 3)})
        days[LunarDate(year, 5, 5).to_solar_date()] = DRAGON_BOAT_FESTIVAL
        days[LunarDate(year, 8, 15).to_solar_date()] = MID_AUTUMN_FESTIVAL
    except ValueError:  # outside the lunar tables
        pass
    april = chinese_calendar.get_solar_terms(datetime.date(year, 4, 1), datetime.date(year, 4, 10))
    days.update({day: TOMB_SWEEPING_DAY for day, term in april if term == "清明"})
    # New Year's Eve may fall in the previous solar year (never in practice: the lunar New
    # Year is from 21 January on), so keep only this year's days.
    return {day: name for day, name in sorted(days.items()) if day.year == year}


# --- a year's schedule as the operator loads it ---------------------------------------------

# The kinds of day a schedule file lists, with the Chinese words the notices use.
SCHEDULE_KINDS = {"holiday": False, "休": False, "working_day": True, "班": True}
SCHEDULE_HEADER = ("date", "kind", "name")


@dataclass(frozen=True)
class YearSchedule:
    """The State Council's holiday schedule of one year (national days off and worked).

    ``days`` are national ``DayOverride`` values; ``source`` names the notice.
    """

    year: int
    source: str
    days: tuple[DayOverride, ...]

    @property
    def holidays(self) -> int:
        return sum(not day.is_working_day for day in self.days)

    @property
    def working_days(self) -> int:
        return sum(day.is_working_day for day in self.days)


def parse_schedule(data: str | bytes, *, source: str = "") -> YearSchedule:
    """Read a year's schedule file (``docs/calendar.md``); refuses with every problem at once.

    CSV in UTF-8: comment lines start with ``#`` (``# source: <the notice>`` names the
    notice, unless ``source`` is given); then the header ``date,kind,name`` and one row a
    day: ISO date, ``holiday`` (or 休) or ``working_day`` (or 班), and a name (optional).
    Every day in one year; each day once; a working day is a Saturday or Sunday (a weekday
    is worked anyway); and every statutory holiday of the year (``statutory_holidays``) is
    among the days off, as in every notice — a file that misses one is of another year or
    incomplete. Raises ``InvalidInput`` (``field="file"``) naming the lines.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(
                _("The schedule file is not UTF-8 text: save it as CSV (UTF-8) and try again."),
                field="file",
            ) from None
    data = data.removeprefix("\ufeff")
    problems: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            key, _colon, value = stripped.lstrip("#").partition(":")
            if key.strip().lower() == "source" and not source:
                source = value.strip()
            continue
        if stripped:
            rows.append((number, next(csv.reader(io.StringIO(line)))))
    if not rows or tuple(cell.strip().lower() for cell in rows[0][1][:3]) not in (
        SCHEDULE_HEADER,
        SCHEDULE_HEADER[:2],
    ):
        raise InvalidInput(
            _("The schedule file must start with the header line “date,kind,name”."),
            field="file",
        )
    days: dict[datetime.date, tuple[int, bool, str]] = {}
    for number, cells in rows[1:]:
        cells = [cell.strip() for cell in cells] + ["", ""]
        text, kind, name = cells[0], cells[1], cells[2]
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            problems.append(
                _("line %(line)s: “%(value)s” is not a date (write 2027-01-01)")
                % {"line": number, "value": text}
            )
            continue
        working = SCHEDULE_KINDS.get(kind.lower())
        if working is None:
            problems.append(
                _("line %(line)s: “%(value)s” is neither holiday (休) nor working_day (班)")
                % {"line": number, "value": kind}
            )
            continue
        if day in days:
            problems.append(
                _("line %(line)s: %(day)s is listed twice (first on line %(first)s)")
                % {"line": number, "day": day.isoformat(), "first": days[day][0]}
            )
            continue
        if working and day.weekday() < 5:
            problems.append(
                _(
                    "line %(line)s: %(day)s is a %(weekday)s, a working day anyway: only a "
                    "Saturday or Sunday can be declared worked"
                )
                % {"line": number, "day": day.isoformat(), "weekday": _weekday(day)}
            )
            continue
        days[day] = (number, working, name)
    years = sorted({day.year for day in days})
    if len(years) > 1:
        problems.append(
            _("the days are of %(years)s: a schedule file holds one year")
            % {"years": _years_listed(tuple(years))}
        )
    elif not years and not problems:
        problems.append(_("the file lists no day"))
    if len(years) == 1:
        off = {day for day, (_line, working, _name) in days.items() if not working}
        for day, name in statutory_holidays(years[0]).items():
            if day not in off:
                problems.append(
                    _(
                        "%(day)s (%(holiday)s) is a statutory holiday "
                        "(全国年节及纪念日放假办法) but is not listed as a holiday"
                    )
                    % {"day": day.isoformat(), "holiday": _holiday_label(name)}
                )
    if not source.strip():
        problems.append(
            _("name the State Council notice the schedule comes from (a “# source:” line)")
        )
    if problems:
        raise InvalidInput(
            _("The schedule file was not loaded:")
            + "\n"
            + "\n".join(f"- {problem}" for problem in problems),
            field="file",
        )
    return YearSchedule(
        year=years[0],
        source=source.strip(),
        days=tuple(
            DayOverride(
                day=day,
                is_working_day=working,
                name=name or (_default_name(day, working)),
                scope=NATIONAL,
            )
            for day, (_line, working, name) in sorted(days.items())
        ),
    )


def _default_name(day: datetime.date, working: bool) -> str:
    # The words of the notices, stored as the override's name (shown as entered).
    if working:
        return "调休上班"
    statutory = statutory_holidays(day.year).get(day)
    return _HOLIDAY_CHINESE_NAMES.get(statutory, "放假")


def _check_date(day: object) -> None:
    # A datetime is a date subclass, but an aware one may sit on another calendar day in
    # Beijing than in UTC: make the caller choose (timezone.localdate()).
    if isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
        raise TypeError(f"Expected a datetime.date, got {type(day).__name__}: {day!r}.")


def _holiday_label(name: str) -> str:
    """The holiday's statutory (Chinese) name; in English, the package's name before it."""
    chinese = _HOLIDAY_CHINESE_NAMES.get(name)
    if chinese is None:
        try:
            chinese = chinese_calendar.Holiday(name).chinese
        except ValueError:
            return name
    if (translation.get_language() or "").lower().startswith("zh"):
        return chinese
    return f"{name} ({chinese})"


def _weekday(day: datetime.date) -> str:
    return str(WEEKDAYS[day.weekday()])


def _years_listed(years: tuple[int, ...]) -> str:
    """ "2027", "2027 and 2028", "2027, 2028 and 2029", in the active language."""
    names = [str(year) for year in years]
    if len(names) <= 1:
        return "".join(names)
    return _("%(years)s and %(last)s") % {"years": ", ".join(names[:-1]), "last": names[-1]}


def _date_range(first: datetime.date, last: datetime.date) -> str:
    if first == last:
        return first.isoformat()
    last_text = f"{last:%m-%d}" if first.year == last.year else last.isoformat()
    # Translators: a range of days, e.g. 2026-10-01..10-07 (the year is not repeated).
    return pgettext("range of days", "%(first)s..%(last)s") % {
        "first": first.isoformat(),
        "last": last_text,
    }


def _skipped_runs(skipped: tuple[SkippedDay, ...]):
    """Group consecutive skipped days into ``(first, last, reasons)`` runs.

    Plain weekends form their own runs (reasons ``(_PLAIN_WEEKEND,)``); holidays and
    overrides next to each other form one run naming each reason once, in order.
    """
    runs: list[tuple[datetime.date, datetime.date, tuple[DayReason, ...]]] = []
    for item in skipped:
        kind = _PLAIN_WEEKEND if item.cause.is_plain_weekend else item.cause
        if runs:
            first, last, reasons = runs[-1]
            same_group = (kind == _PLAIN_WEEKEND) == (reasons == (_PLAIN_WEEKEND,))
            if same_group and item.day - last == _ONE_DAY:
                if kind not in reasons:
                    reasons = (*reasons, kind)
                runs[-1] = (first, item.day, reasons)
                continue
        runs.append((item.day, item.day, (kind,)))
    return runs
