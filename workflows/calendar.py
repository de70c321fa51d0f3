"""Working days and deadlines under the national holiday calendar, with agency overrides.

Deadlines follow Chinese administrative practice: the day of the event is not counted,
day 1 is the first working day after it, and "within n working days" ends on the n-th.
Working days are those of the State Council holiday calendar (as the ``chinesecalendar``
package has it), including the weekend days declared working days (调休), corrected by
overrides the operator loads: an agency's own override beats a national one, which beats
the package.

A year the package does not know is never silently guessed: days in it are counted
Monday to Friday, and every result says so (``known=False``, ``provisional=True``) until
the operator loads that year through overrides and declares it known.

Pure Python on purpose: the admin-editable override rows are read by the caller and passed
in as ``DayOverride`` values, so this module can be used from services, tasks and tests
without a database.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import chinese_calendar
from django.utils.translation import gettext as _

from cases.errors import RedressError

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

_PLAIN_WEEKEND_REASONS = frozenset({"Saturday", "Sunday"})


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
class SkippedDay:
    """A non-working day passed over while counting, with why it does not count."""

    day: datetime.date
    reason: str


@dataclass(frozen=True)
class CountedDay:
    """A weekend day that counted because it was declared a working day (调休 or override)."""

    day: datetime.date
    reason: str


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

    def explain(self) -> str:
        """A short English account of the computation, one fact per line."""
        if self.working_days == 0:
            lines = [f"0 working days from {self.start}: due on {self.start} itself."]
        else:
            lines = [
                f"{self.working_days} working {'day' if self.working_days == 1 else 'days'} "
                f"from {self.start} "
                f"(the event day is not counted; day 1 is the next working day):"
            ]
            weekend_days = 0
            for first, last, reasons in _skipped_runs(self.skipped):
                if reasons == ("weekend",):
                    weekend_days += last.toordinal() - first.toordinal() + 1
                else:
                    lines.append(f"  skipped {_date_range(first, last)} {', '.join(reasons)}")
            if weekend_days:
                plural = "day" if weekend_days == 1 else "days"
                lines.append(f"  skipped {weekend_days} ordinary weekend {plural}")
            for counted in self.adjusted_working_days:
                lines.append(f"  counted {counted.day} ({counted.day:%A}): {counted.reason}")
            lines.append(f"Due {self.due} ({self.due:%A}).")
        if self.provisional:
            years = _years_text(self.unknown_years)
            verb = "is" if len(self.unknown_years) == 1 else "are"
            noun = "calendar" if len(self.unknown_years) == 1 else "calendars"
            lines.append(
                f"PROVISIONAL: the national holiday {noun} for {years} {verb} not loaded; "
                f"weekends only were skipped for those days — load the {years} {noun} "
                f"(admin: calendar overrides) to confirm."
            )
        return "\n".join(lines)


class _DayStatus(NamedTuple):
    working: bool
    reason: str
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
        return tuple(self._status(day))

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
                    counted.append(CountedDay(day, status.reason))
            else:
                skipped.append(SkippedDay(day, status.reason))
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
            reason = f"override: {override.name} ({override.scope})"
            return _DayStatus(override.is_working_day, reason, True)
        if self._package_knows(day.year):
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
            if is_holiday:
                return _DayStatus(False, _holiday_label(name) if name else _weekday(day), True)
            if name:  # a weekend day declared a working day to make up for a holiday
                return _DayStatus(
                    True, f"adjusted working day (调休) for {_holiday_label(name)}", True
                )
            return _DayStatus(True, "working day", True)
        known = day.year in self.known_years
        if day.weekday() >= 5:
            return _DayStatus(False, _weekday(day), known)
        if known:
            return _DayStatus(True, "working day", True)
        return _DayStatus(
            True, f"working day (assumed: {day.year} national calendar not loaded)", False
        )

    def _package_knows(self, year: int) -> bool:
        knows = self._package_years.get(year)
        if knows is None:
            try:
                chinese_calendar.get_holiday_detail(datetime.date(year, 1, 1))
            except NotImplementedError:
                knows = False
            else:
                knows = True
            self._package_years[year] = knows
        return knows


def _check_date(day: object) -> None:
    # A datetime is a date subclass, but an aware one may sit on another calendar day in
    # Beijing than in UTC: make the caller choose (timezone.localdate()).
    if isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
        raise TypeError(f"Expected a datetime.date, got {type(day).__name__}: {day!r}.")


def _holiday_label(name: str) -> str:
    chinese = _HOLIDAY_CHINESE_NAMES.get(name)
    if chinese is None:
        try:
            chinese = chinese_calendar.Holiday(name).chinese
        except ValueError:
            return name
    return f"{name} ({chinese})"


def _weekday(day: datetime.date) -> str:
    return f"{day:%A}"


def _years_text(years: tuple[int, ...]) -> str:
    names = [str(year) for year in years]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _years_listed(years: tuple[int, ...]) -> str:
    """``_years_text`` in the reader's language: for a message shown, never one stored."""
    names = [str(year) for year in years]
    if len(names) <= 1:
        return "".join(names)
    return _("%(years)s and %(last)s") % {"years": ", ".join(names[:-1]), "last": names[-1]}


def _date_range(first: datetime.date, last: datetime.date) -> str:
    if first == last:
        return str(first)
    if first.year == last.year:
        return f"{first}..{last:%m-%d}"
    return f"{first}..{last}"


def _skipped_runs(skipped: tuple[SkippedDay, ...]):
    """Group consecutive skipped days into ``(first, last, reasons)`` runs.

    Plain weekends form their own runs (reasons ``("weekend",)``); holidays and overrides
    next to each other form one run naming each reason once, in order.
    """
    runs: list[tuple[datetime.date, datetime.date, tuple[str, ...]]] = []
    for item in skipped:
        kind = "weekend" if item.reason in _PLAIN_WEEKEND_REASONS else item.reason
        if runs:
            first, last, reasons = runs[-1]
            same_group = (kind == "weekend") == (reasons == ("weekend",))
            if same_group and item.day - last == _ONE_DAY:
                if kind not in reasons:
                    reasons = (*reasons, kind)
                runs[-1] = (first, item.day, reasons)
                continue
        runs.append((item.day, item.day, (kind,)))
    return runs
