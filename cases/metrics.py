"""The supervisors' figures, computed once from the cases, the clock ledger and the effects.

One pass over an agency's history turns it into *facts*: counts keyed by a figure and the
dimensions a supervisor filters by (week, step, list, officer, kind of case, tier,
platform) and a ``value`` in working days. Every figure the dashboard, its downloads and
``GET /api/v1/metrics/`` show is a sum over these facts (``workflows.metrics``), so each
number has one definition, written here.

Days are **working days on the agency's calendar** (``cases.clock.calendar_for``: the
national calendar with its adjusted working days, national and the agency's own
overrides), counted like the legal clock counts them: the working days in ``(start,
end]``. The clock's stops are counted apart: a case waiting for the applicant's missing
materials (``ClockEntry`` *stopped* … *resumed*, 《市场监督管理信用修复管理办法》第十四条
第二款) is not ageing at the agency, so its paused working days are taken out of its age
and its cycle time and reported as their own figure.

Figures (``Figure``):

``open``      each open case now; ``step`` its status, ``value`` its net age.
``opened``    each case by the week it was submitted.
``closed``    each case by the week it left the open steps (decided, not accepted,
              withdrawn or lapsed).
``cycle``     each decided case by the week of its decision; ``value`` its net working
              days from submission to decision.
``paused``    each stop for missing materials by the week it began; ``value`` its
              working days (to today while it lasts).
``met``       each deadline kept, by the week it fell due; ``step`` the deadline's step.
``missed``    each deadline missed, by the week it fell due, or still running past its
              due day (a breach already, whatever happens next).
``ack``       each effect a platform acknowledged, by the week it was asked; ``value``
              the working days from the request to the acknowledgement.
``ack_open``  each effect still waiting; ``value`` the working days waited so far.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.calendar import WorkingCalendar
from cases.clock import calendar_for
from cases.models import Agency, Case, CaseRecord, ClockEntry, Deadline, PublicationEffect


class Figure:
    OPEN = "open"
    OPENED = "opened"
    CLOSED = "closed"
    CYCLE = "cycle"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"
    ACK = "ack"
    ACK_OPEN = "ack_open"


# Ages of the open cases, in net working days: the ageing distribution's bars.
AGE_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 5, _("0–5 working days")),
    (6, 10, _("6–10 working days")),
    (11, 20, _("11–20 working days")),
    (21, 40, _("21–40 working days")),
    (41, None, _("more than 40 working days")),
)


@dataclass(frozen=True)
class Fact:
    """One cell of an agency's history: ``count`` things with these dimensions."""

    figure: str
    week: datetime.date | None = None
    step: str = ""
    list_code: str = ""
    officer_id: int | None = None
    kind: str = ""
    tier: str = ""
    platform: str = ""
    value: int = 0


def week_of(day: datetime.date) -> datetime.date:
    """The Monday of ``day``'s week: weeks are named by their first day."""
    return day - datetime.timedelta(days=day.weekday())


def local_day(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


class WorkingDayCount:
    """``working_days_between`` of one calendar, answered from a running count.

    The calendar asks about each day; a pass over a hundred thousand cases asks about
    the same days again and again, so the count of working days up to each day of the
    span is taken once and every question is a subtraction.
    """

    def __init__(self, calendar: WorkingCalendar, first: datetime.date, last: datetime.date):
        self.first = first
        self.running = [0]
        day = first
        while day < last:
            day += datetime.timedelta(days=1)
            self.running.append(self.running[-1] + calendar.is_working_day(day))
        self.last = day

    def _upto(self, day: datetime.date) -> int:
        offset = min(max((day - self.first).days, 0), len(self.running) - 1)
        return self.running[offset]

    def between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days in ``(start, end]``; 0 when ``end`` is not after ``start``."""
        if end <= start:
            return 0
        return self._upto(end) - self._upto(start)


def _pauses(entries: Iterable[tuple[int, str, datetime.datetime]], today: datetime.date):
    """The case's stops for missing materials as (first day, last day) pairs.

    Several deadlines stop together when materials are asked for; the case is paused
    from the first stop until the last of them runs again (or ends: met, missed,
    cancelled), and until today while one is still stopped.
    """
    stopped: set[int] = set()
    began: datetime.date | None = None
    for deadline_id, kind, at in entries:
        if kind == ClockEntry.Kind.STOPPED:
            if not stopped:
                began = local_day(at)
            stopped.add(deadline_id)
        elif deadline_id in stopped and kind != ClockEntry.Kind.EXTENDED:
            stopped.discard(deadline_id)
            if not stopped:
                yield began, local_day(at)
    if stopped:
        yield began, today


def agency_facts(agency: Agency, *, today: datetime.date | None = None) -> Counter[Fact]:
    """Every fact of one agency's history as of ``today`` (the local date by default)."""
    today = today or timezone.localdate()
    facts: Counter[Fact] = Counter()
    cases = list(
        Case.objects.filter(agency=agency)
        .order_by()
        .values_list(
            "pk",
            "kind",
            "status",
            "review_officer_id",
            "submitted_at",
            "decided_at",
            "closed_at",
            "updated_at",
        )
    )
    if not cases:
        return facts
    # The list and tier of a case: those of its first record (a case is about one
    # subject's records of one agency; they share a list in practice).
    about: dict[int, tuple[str, str]] = {}
    for case_id, list_code, severity in (
        CaseRecord.objects.filter(case__agency=agency)
        .order_by("case_id", "id")
        .values_list("case_id", "record__list_type__code", "record__severity")
    ):
        about.setdefault(case_id, (list_code, severity))
    entries: dict[int, list] = {}
    for case_id, deadline_id, kind, at in (
        ClockEntry.objects.filter(case__agency=agency)
        .order_by("case_id", "at", "id")
        .values_list("case_id", "deadline_id", "kind", "at")
    ):
        entries.setdefault(case_id, []).append((deadline_id, kind, at))

    first = min(local_day(row[4]) for row in cases) - datetime.timedelta(days=1)
    days = WorkingDayCount(calendar_for(agency), first, today)
    officers: dict[int, int | None] = {}
    dims: dict[int, dict] = {}
    for pk, kind, status, officer_id, submitted_at, decided_at, closed_at, updated_at in cases:
        list_code, tier = about.get(pk, ("", ""))
        officers[pk] = officer_id
        # Each figure keeps only the dimensions it is shown or filtered by: fewer rows.
        common = {"list_code": list_code, "officer_id": officer_id}
        dims[pk] = common
        submitted = local_day(submitted_at)
        paused_total = 0
        for began, ended in _pauses(entries.get(pk, ()), today):
            paused = days.between(began, ended)
            paused_total += paused
            facts[Fact(Figure.PAUSED, week=week_of(began), value=paused, kind=kind, **common)] += 1
        facts[Fact(Figure.OPENED, week=week_of(submitted), **common)] += 1
        if status in Case.OPEN_STATUSES:
            age = max(days.between(submitted, today) - paused_total, 0)
            facts[Fact(Figure.OPEN, step=status, value=age, **common)] += 1
        else:
            left = local_day(closed_at or decided_at or updated_at)
            facts[Fact(Figure.CLOSED, week=week_of(left), **common)] += 1
        if decided_at is not None:
            decided = local_day(decided_at)
            # Only the pauses before the decision are taken out of its cycle time.
            paused_before = sum(
                days.between(began, min(ended, decided))
                for began, ended in _pauses(entries.get(pk, ()), decided)
                if began < decided
            )
            cycle = max(days.between(submitted, decided) - paused_before, 0)
            facts[
                Fact(
                    Figure.CYCLE, week=week_of(decided), value=cycle, kind=kind, tier=tier, **common
                )
            ] += 1

    for case_id, step, status, due_on in (
        Deadline.objects.filter(case__agency=agency)
        .exclude(status__in=[Deadline.Status.CANCELLED, Deadline.Status.STOPPED])
        .order_by()
        .values_list("case_id", "step", "status", "due_on")
    ):
        if status == Deadline.Status.MET:
            figure = Figure.MET
        elif status == Deadline.Status.MISSED or due_on < today:
            figure = Figure.MISSED
        else:
            continue  # running, not yet due
        facts[Fact(figure, week=week_of(due_on), step=step, **dims[case_id])] += 1

    for list_code, platform, requested_at, acknowledged_at in (
        PublicationEffect.objects.filter(publication__record__agency=agency)
        .order_by()
        .values_list(
            "publication__record__list_type__code",
            "publication__platform__code",
            "requested_at",
            "acknowledged_at",
        )
    ):
        requested = local_day(requested_at)
        if acknowledged_at is None:
            figure, until = Figure.ACK_OPEN, today
        else:
            figure, until = Figure.ACK, local_day(acknowledged_at)
        facts[
            Fact(
                figure,
                week=week_of(requested),
                list_code=list_code,
                platform=platform,
                value=days.between(requested, until),
            )
        ] += 1
    return facts
