"""Which running deadlines are likely to be missed in the next ten working days, and why.

The model, stated on the supervisors' forecast page (``MODEL``) and kept simple enough for
a supervisor to redo by hand:

1. A deadline is looked at when its case waits at a step done by a person (an open task)
   and it falls due within the next ``HORIZON`` working days of the agency's calendar;
   the party's own periods (its statement) are not the agency's to meet.
2. The queue ahead of the case is the open tasks of the same step at the same agency that
   fall due earlier (or on the same day and waited longer). A task already given to an
   officer only queues behind that officer's own tasks of the step.
3. The officers who can take it are those ``cases.access.assignable`` lets take the step
   of this case (role, no tie to its subject, the legal qualification, four eyes), or its
   owner if it is assigned. An officer is counted on each working day they have not
   declared absent.
4. Each officer's throughput is measured: the tasks of that step they completed over the
   last ``WINDOW`` working days, divided by ``WINDOW``; no more than the cases a day they
   declared (``WorkProfile.capacity``) when they declared it.
5. Walking the working days from today to the due date, the officers' daily throughput
   is added up; the case is done at the step on the first day that total reaches the
   queue ahead plus the case itself.
6. The steps still ahead of the case before its deadline is met are counted the same
   way, one after the other (``LATER_STEPS``: after the evidence review, the legal review
   when the case needs one and the sign-off; after the legal review, the sign-off): the
   queue ahead at a later step is its open tasks at the agency due earlier, as they stand
   today; its officers are those allowed to take it for this case, at their throughput
   of that step; the case is done there on the first day, after the day it left the step
   before, by which their throughput added up from today reaches that queue plus the case.
   (``stages_to_clear``.) The queue ahead at a later step is projected, not taken as it
   stands today: it also holds the cases due earlier that wait at a step before it today
   and reach it no later than this case does. When each of them reaches it is walked the
   same way, through the steps before at the pace of all their officers together, each
   case taken earliest deadline first among those that have arrived (``arrivals``).
7. The deadline is likely missed if the last step is not done by the due date. The
   bottleneck named in the reason is the step that is not done in time, or else the one
   where the case waits longest.
"""

from __future__ import annotations

import datetime
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import access
from cases.calendar import WorkingCalendar
from cases.clock import calendar_for
from cases.models import Agency, Role
from notifications.services import idempotency_key, notify_user, recipient_language
from workflows.balancing import absent_days
from workflows.flows import FLOWS
from workflows.models import WorkProfile
from workflows.nodes import STEP_LABELS, step_label
from workflows.selectors import OPEN_TASK_STATUSES, running_due_on

HORIZON = 10  # working days ahead
WINDOW = 20  # working days of completions that make an officer's throughput

MODEL = gettext_lazy(
    "How the forecast is made: for each deadline due in the next %(horizon)s working days "
    "of a case waiting at a step done by a person, the queue ahead of it is the open tasks "
    "of the same step at the agency due earlier (for a task already assigned, its owner's "
    "own tasks of the step). The officers who can take it are those allowed to (role, no "
    "tie to the subject, legal qualification, four eyes), or its owner; each counts on the "
    "working days they are not absent, at their throughput: the tasks of that step they "
    "completed in the last %(window)s working days, divided by %(window)s (no more than the "
    "cases a day they declared). The deadline is "
    "likely missed if, by its due date, their throughput added up day by day is short of "
    "the queue ahead plus the case itself. The steps still ahead of the case before its "
    "deadline is met (after the evidence review: the legal review where the case needs one, "
    "and the sign-off) are counted one after the other in the same way: each one's open "
    "tasks due earlier are the queue ahead there, together with the cases due earlier that "
    "wait at a step before it today and, at the pace of all that step's officers, reach it "
    "no later than this case; its officers work through it from today, "
    "and the case is done there no sooner than the working day after it left the step "
    "before. The reason names the bottleneck: the step not done in time, or else the one "
    "where the case waits longest."
)

# The steps a case still goes through after ``step`` before the deadline it waits on is
# met (the decision deadline runs until the sign-off). The legal review only where the case
# needs one (``Case.legal_review_required``).
LATER_STEPS = {
    "evidence_review": ("legal_review", "sign_off"),
    "legal_review": ("sign_off",),
}
FLOW_ORDER = ("evidence_review", "legal_review", "sign_off")


def path_of(case, step: str) -> tuple[str, ...]:
    """The steps ``case`` still goes through before its deadline, from ``step``."""
    later = LATER_STEPS.get(step, ())
    if not case.legal_review_required:
        later = tuple(s for s in later if s != "legal_review")
    return (step, *later)


# "1 legal reviewer available": one whole phrase per role and number, for each language.
def _available_text(role: str, n: int) -> str:
    if role == Role.INTAKE:
        text = ngettext("%(n)s intake officer available", "%(n)s intake officers available", n)
    elif role == Role.CASE_OFFICER:
        text = ngettext("%(n)s case officer available", "%(n)s case officers available", n)
    elif role == Role.LEGAL_REVIEWER:
        text = ngettext("%(n)s legal reviewer available", "%(n)s legal reviewers available", n)
    else:
        text = ngettext("%(n)s signing official available", "%(n)s signing officials available", n)
    return text % {"n": n}


@dataclass(frozen=True)
class OfficerRate:
    """One officer who can take the case, their throughput and the days they are away."""

    user_id: int
    per_day: float
    absent: frozenset[datetime.date] = frozenset()


def days_to_clear(
    position: int, officers: Sequence[OfficerRate], days: Iterable[datetime.date]
) -> int | None:
    """On which of ``days`` (1 = the first) the officers' throughput, added up day by day
    (an absent officer adds nothing that day), reaches ``position`` (the queue ahead plus
    the case); None if it never does within ``days``."""
    done = 0.0
    for n, day in enumerate(days, 1):
        done += sum(o.per_day for o in officers if day not in o.absent)
        if done + 1e-9 >= position:
            return n
    return None


@dataclass(frozen=True)
class Stage:
    """One step the case still goes through before its deadline: the queue ahead of it
    there and the officers who can take it."""

    step: str
    ahead: int
    officers: Sequence[OfficerRate]
    # The days (1 = the first) the cases due earlier, waiting at a step before this one
    # today, are forecast to reach it (``arrivals``).
    inflow: Sequence[int] = ()
    # The same counted by day, as the page gives it (``Queues.arrived``): ``arrived[d]``
    # of them reach it on day ``d`` or before.
    arrived: Sequence[int] = ()

    def ahead_on(self, day: int) -> int:
        """The queue ahead of a case reaching this step on ``day``: the cases here today
        due earlier and those due earlier that have reached it by then."""
        ahead = self.ahead + sum(1 for arrived in self.inflow if arrived <= day)
        if self.arrived:
            ahead += self.arrived[min(day, len(self.arrived) - 1)]
        return ahead


def stages_to_clear(
    stages: Sequence[Stage], days: Sequence[datetime.date]
) -> tuple[int | None, int, list[int | None]]:
    """Walk ``stages`` in order over ``days`` (model points 5 to 7): the day (1 = the
    first) the case is done at the last stage, or None if not within ``days``; the index
    of the bottleneck stage; and the day it is done at each stage (None from the first
    that is not done in time)."""
    done_on: list[int | None] = []
    start = 1  # the first day the case can be done at this stage
    bottleneck, longest = 0, -1
    for index, stage in enumerate(stages):
        cleared = days_to_clear(stage.ahead_on(start) + 1, stage.officers, days)
        if cleared is not None:
            cleared = max(cleared, start)
            if cleared > len(days):
                cleared = None
        if cleared is None:
            done_on.extend([None] * (len(stages) - index))
            return None, index, done_on
        done_on.append(cleared)
        if cleared - start > longest:
            bottleneck, longest = index, cleared - start
        start = cleared + 1
    return (done_on[-1] if done_on else None), bottleneck, done_on


@dataclass(frozen=True)
class Waiting:
    """An open case as the projection sees it: its place in the earliest-deadline-first
    order, and the steps it still goes through, from the one it waits at today."""

    order: tuple
    path: tuple[str, ...]


def arrivals(
    waiting: Sequence[Waiting],
    pace: dict[str, Sequence[OfficerRate]],
    days: Sequence[datetime.date],
    steps: Sequence[str],
) -> dict[tuple, dict[str, int]]:
    """The day (1 = the first of ``days``) each waiting case is forecast to reach each
    later step of its path, when within ``days`` (model point 6).

    ``steps`` in the order cases go through them. At each step the cases there today
    (from day 1) and those arriving from the step before (the working day after they are
    done there) are taken earliest deadline first among those that have arrived, at the
    pace of all the step's officers together (``pace``): a case is done on the first day,
    not before it arrived, by which that pace reaches the cases ahead of it plus itself.
    """
    reached: dict[tuple, dict[str, int]] = {w.order: {} for w in waiting}
    done: dict[tuple, dict[str, int]] = {w.order: {} for w in waiting}
    for step in steps:
        entrants = []
        for w in waiting:
            if step not in w.path:
                continue
            at = w.path.index(step)
            if at == 0:
                entrants.append((w.order, 1))
                continue
            before = done[w.order].get(w.path[at - 1])
            if before is not None and before < len(days):
                entrants.append((w.order, before + 1))
        entrants.sort()
        arrived_on = [0] * (len(days) + 1)  # entrants due earlier, by the day they arrive
        for order, day in entrants:
            reached[order][step] = day
            position = sum(arrived_on[: day + 1])
            arrived_on[day] += 1
            cleared = days_to_clear(position + 1, pace.get(step, ()), days)
            if cleared is not None:
                done[order][step] = max(cleared, day)
    return reached


class Queues:
    """The queues ahead of every open task of an agency, counted once (model points 2 and
    6): each queue's tasks sorted by their place in it, and the cases arriving at each
    later step sorted likewise, so that the place of one task is a bisection. A forecast of
    n open tasks costs O(n log n), not the n² of counting every other task for each."""

    def __init__(self, tasks, flowing: Sequence[Waiting], reached, day_count: int):
        own: dict[tuple[str, int | None], list[tuple]] = defaultdict(list)
        every: dict[str, list[tuple]] = defaultdict(list)
        for t in tasks:
            if t.due_on is None:
                continue
            place = (t.due_on, t.created, t.pk)
            own[t.flow_task.name, t.owner_id].append(place)
            every[t.flow_task.name].append(place)
        self._own = {key: sorted(places) for key, places in own.items()}
        self._every = {step: sorted(places) for step, places in every.items()}
        entering: dict[str, list[tuple[tuple, int]]] = defaultdict(list)
        for w in flowing:
            for step, day in reached[w.order].items():
                if w.path[0] != step:
                    entering[step].append((w.order, day))
        # Per later step: the arrivals' places in order, and after the first i of them,
        # how many have arrived by each day (0 to ``day_count`` + 1).
        self._entering: dict[str, tuple[list[tuple], list[tuple[int, ...]]]] = {}
        for step, rows in entering.items():
            rows.sort()
            by_day = [0] * (day_count + 2)
            counts = [tuple(by_day)]
            for _order, day in rows:
                for d in range(min(day, day_count + 1), day_count + 2):
                    by_day[d] += 1
                counts.append(tuple(by_day))
            self._entering[step] = ([order for order, _day in rows], counts)

    def ahead(self, step: str, owner_id: int | None, place: tuple) -> int:
        """Open tasks of ``step`` held by ``owner_id`` (None: not yet assigned) before
        ``place`` (due earlier, or on the same day and waiting longer)."""
        return bisect_left(self._own.get((step, owner_id), ()), place)

    def ahead_at(self, step: str, place: tuple) -> int:
        """Open tasks of ``step``, whoever holds them, before ``place``."""
        return bisect_left(self._every.get(step, ()), place)

    def arrived(self, step: str, place: tuple) -> tuple[int, ...]:
        """Of the cases before ``place`` waiting at a step before ``step`` today, how many
        are forecast to reach it by each day (``Stage.arrived``)."""
        if step not in self._entering:
            return ()
        orders, counts = self._entering[step]
        return counts[bisect_left(orders, place)]


@dataclass(frozen=True)
class Forecast:
    """The forecast of one running deadline of a case waiting at a step."""

    task_id: int
    case_id: int
    reference: str
    agency_code: str
    step: str  # the flow node's name
    step_text: str  # as people call it, in the language it was made in
    role: str
    due_on: datetime.date
    ahead: int
    officers: int  # available today (or on the first working day)
    per_day: float  # their throughput added up
    days_left: int  # working days from today to the due date, both counted
    cleared_on_day: int | None  # the working day the case is forecast to be done
    # The bottleneck (model point 7): ``ahead``, ``officers``, ``per_day`` and ``role``
    # are its figures; the same as ``step`` when the case has no later step to go through.
    bottleneck: str = ""
    bottleneck_text: str = ""
    path_text: tuple[str, ...] = ()  # the steps from this one to the deadline, as named

    @property
    def breach(self) -> bool:
        return self.cleared_on_day is None

    @property
    def reason(self) -> str:
        """Why, in the active language: "7 cases ahead in the legal review queue; 1 legal
        reviewer available; 2.1 per day; 3 working days left", the queue being the
        bottleneck's; with the steps still to go through when there are several."""
        parts = [
            ngettext(
                "%(n)s case ahead in the %(step)s queue",
                "%(n)s cases ahead in the %(step)s queue",
                self.ahead,
            )
            % {"n": self.ahead, "step": self.bottleneck_text or self.step_text},
            _available_text(self.role, self.officers),
            _("%(rate)s per day") % {"rate": number_format(self.per_day, 1)},
            ngettext("%(n)s working day left", "%(n)s working days left", self.days_left)
            % {"n": self.days_left},
        ]
        if len(self.path_text) > 1:
            parts.append(
                _("still to go through before the deadline: %(steps)s")
                % {"steps": " → ".join(self.path_text)}
            )
        return _("; ").join(parts)


def _nodes(step: str) -> list:
    return [getattr(flow.instance, step) for flow in FLOWS.values() if hasattr(flow.instance, step)]


def working_days_from(
    calendar: WorkingCalendar, start: datetime.date, count: int
) -> list[datetime.date]:
    """The first ``count`` working days from ``start`` (``start`` itself if it is one)."""
    days, day = [], start
    while len(days) < count:
        if calendar.is_working_day(day):
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


def working_days_until(
    calendar: WorkingCalendar, start: datetime.date, end: datetime.date
) -> list[datetime.date]:
    """The working days from ``start`` to ``end``, both counted."""
    days, day = [], start
    while day <= end:
        if calendar.is_working_day(day):
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


def throughputs(
    agency: Agency, steps: Iterable[str], since: datetime.date, window: int = WINDOW
) -> dict[str, dict[int, float]]:
    """Step → officer id → tasks of that step at ``agency`` they completed since the start
    of ``since`` (in the current time zone, as ``finished__date`` reads it), per working day
    of the window. One query for every step: one a step scanned the done tasks once each
    (four times 0.5 s at a 250,000-case agency, bench/RESULTS.md), and the bound is a
    plain comparison of ``finished``, not its date computed row by row."""
    steps = list(steps)
    nodes = [node for step in steps for node in _nodes(step)]
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    rows = (
        Task.objects.filter(
            status=STATUS.DONE,
            flow_task__in=nodes,
            process__case__agency=agency,
            finished__gte=start,
            owner__isnull=False,
        )
        .values("flow_task", "owner_id")
        .annotate(done=Count("id"))
        .order_by()
    )
    rates: dict[str, dict[int, float]] = {step: {} for step in steps}
    for row in rows:
        per_step = rates[row["flow_task"].name]
        per_step[row["owner_id"]] = per_step.get(row["owner_id"], 0.0) + row["done"] / window
    return rates


AbsenceReader = Callable[[Iterable[int], datetime.date, datetime.date], dict[int, set]]


def forecast_for(
    supervisor: AbstractBaseUser,
    *,
    today: datetime.date | None = None,
    absences: AbsenceReader | None = None,
) -> list[Forecast]:
    """The forecast of every running deadline due within ``HORIZON`` working days at the
    agencies ``supervisor`` supervises, breaches first, then by due date."""
    return forecast_agencies(
        Agency.objects.filter(pk__in=access.agencies_of(supervisor, Role.SUPERVISOR)),
        today=today,
        absences=absences,
    )


def forecast_agencies(
    agencies: Iterable[Agency],
    *,
    today: datetime.date | None = None,
    absences: AbsenceReader | None = None,
) -> list[Forecast]:
    today = today or timezone.localdate()
    if absences is None:
        absences = absent_days
    results: list[Forecast] = []
    for agency in agencies:
        results.extend(_forecast_agency(agency, today, absences))
    results.sort(key=lambda f: (not f.breach, f.due_on, f.reference))
    return results


def _forecast_agency(agency: Agency, today: datetime.date, absences: AbsenceReader):
    calendar = calendar_for(agency)
    horizon_days = working_days_from(calendar, today, HORIZON)
    horizon_end = horizon_days[-1]
    window_start = _window_start(calendar, today)
    tasks = list(
        Task.objects.filter(
            status__in=OPEN_TASK_STATUSES,
            flow_task_type="HUMAN",
            process__case__agency=agency,
        )
        .annotate(due_on=running_due_on())
        .select_related("process__case__agency", "process__case__subject")
        .order_by("created", "id")
    )
    declared = declared_capacities()
    # Every step a person does, counted in one query (each officer capped at the cases a
    # day they declared).
    rates = {
        step: {pk: min(rate, declared.get(pk, rate)) for pk, rate in measured.items()}
        for step, measured in throughputs(agency, access.STEP_ROLES, window_start).items()
    }

    def rate_of(step: str) -> dict[int, float]:
        return rates.get(step, {})

    # Model point 6: when the cases waiting at a step today reach the steps after it.
    flowing = [
        (t, Waiting((t.due_on, t.created, t.pk), path_of(t.process.case, t.flow_task.name)))
        for t in tasks
        if t.due_on is not None and t.flow_task.name in FLOW_ORDER
    ]
    pace = {}
    for step in FLOW_ORDER:
        away = absences(rate_of(step), today, horizon_end)
        pace[step] = [
            OfficerRate(pk, rate, frozenset(away.get(pk, ()))) for pk, rate in rate_of(step).items()
        ]
    reached = arrivals([w for _t, w in flowing], pace, horizon_days, FLOW_ORDER)
    queues = Queues(tasks, [w for _t, w in flowing], reached, len(horizon_days))

    due = [
        task
        for task in tasks
        if task.due_on is not None
        and today <= task.due_on <= horizon_end
        and access.STEP_ROLES.get(task.flow_task.name) is not None
    ]
    # Who may take each step of these cases, and who is away, read for all of them at once
    # (asked task by task, two queries a task: 1,649 at a 250,000-case agency).
    allowed: dict[str, dict[int, list[int]]] = {}
    cases = list({task.process.case.pk: task.process.case for task in due}.values())

    def people_for(case, step: str) -> list[int]:
        if step not in allowed:
            allowed[step] = access.assignable_for_cases(cases, step)
        return allowed[step][case.pk]

    away_before = AwayBefore(absences, today, horizon_end)

    for task in due:
        step = task.flow_task.name
        case = task.process.case
        place = (task.due_on, task.created, task.pk)
        people = [task.owner_id] if task.owner_id is not None else people_for(case, step)
        ahead = queues.ahead(step, task.owner_id, place)
        days = working_days_until(calendar, today, task.due_on)
        away = away_before(people, task.due_on)
        officers = [
            OfficerRate(pk, rate_of(step).get(pk, 0.0), frozenset(away.get(pk, ())))
            for pk in people
        ]
        stages = [Stage(step, ahead, officers)]
        for later in path_of(case, step)[1:]:
            people = people_for(case, later)
            stages.append(
                _later_stage(
                    task, later, queues, rate_of(later), people, away_before(people, task.due_on)
                )
            )
        first_day = days[0] if days else today
        cleared_on_day, worst, done_on = stages_to_clear(stages, days)
        neck = stages[worst]
        neck_ahead = neck.ahead_on(done_on[worst - 1] + 1 if worst and done_on[worst - 1] else 1)
        present = [o for o in neck.officers if first_day not in o.absent]
        texts = tuple(str(STEP_LABELS.get(s.step, s.step)).lower() for s in stages)
        yield Forecast(
            task_id=task.pk,
            case_id=case.pk,
            reference=case.reference,
            agency_code=agency.code,
            step=step,
            step_text=step_label(task).lower(),
            role=access.STEP_ROLES[neck.step],
            due_on=task.due_on,
            ahead=neck_ahead,
            officers=len(present),
            per_day=round(sum(o.per_day for o in present), 2),
            days_left=len(days),
            cleared_on_day=cleared_on_day,
            bottleneck=neck.step,
            bottleneck_text=texts[worst],
            path_text=texts,
        )


def _later_stage(task, step: str, queues: Queues, rates, people: list[int], away) -> Stage:
    """A step ``task``'s case still goes through before its deadline (model point 6): its
    open tasks at the agency due before this case's deadline, the days the cases due
    earlier waiting before it reach it, and ``people``, who may take it for this case."""
    place = (task.due_on, task.created, task.pk)
    return Stage(
        step,
        queues.ahead_at(step, place),
        [OfficerRate(pk, rates.get(pk, 0.0), frozenset(away.get(pk, ()))) for pk in people],
        arrived=queues.arrived(step, place),
    )


class AwayBefore:
    """``away_before(people, due_on)``: what ``absences(people, today, due_on)`` answers,
    read once per person up to the horizon's last day and cut at each deadline."""

    def __init__(self, absences: AbsenceReader, today: datetime.date, end: datetime.date):
        self.absences, self.today, self.end = absences, today, end
        self.read: set[int] = set()
        self.days: dict[int, set[datetime.date]] = {}

    def __call__(self, people: Iterable[int], due_on: datetime.date) -> dict[int, set]:
        people = list(people)
        unread = [pk for pk in people if pk not in self.read]
        if unread:
            self.days.update(self.absences(unread, self.today, self.end))
            self.read.update(unread)
        return {
            pk: {day for day in self.days[pk] if day <= due_on}
            for pk in people
            if self.days.get(pk)
        }


def declared_capacities() -> dict[int, float]:
    """Officer id → the cases a working day they declared (times their share), for those
    who declared it: the most their measured throughput is counted at."""
    return {
        profile.user_id: profile.capacity()
        for profile in WorkProfile.objects.filter(cases_per_day__isnull=False)
    }


def _window_start(calendar: WorkingCalendar, today: datetime.date) -> datetime.date:
    """The first of the ``WINDOW`` working days before ``today``."""
    day, counted = today, 0
    while counted < WINDOW:
        day -= datetime.timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def needed_days(ahead: int, per_day: float) -> int | None:
    """Working days to clear ``ahead`` cases and this one at ``per_day``."""
    if per_day <= 0:
        return None
    return math.ceil((ahead + 1) / per_day - 1e-9)


# --- the supervisors' daily digest ----------------------------------------------------------------


def forecast_digests_send(*, today: datetime.date | None = None) -> int:
    """Tell each supervisor, through the outbox, which cases of their agencies are forecast
    to miss a deadline in the next ten working days, each with the reason. A supervisor
    with none forecast is not written to."""
    today = today or timezone.localdate()
    sent = 0
    for supervisor in access.people_holding(Role.SUPERVISOR).iterator():
        with translation.override(recipient_language(supervisor, None)):
            breaches = [f for f in forecast_for(supervisor, today=today) if f.breach]
            if not breaches:
                continue
            lines = "\n".join(
                f"- {f.reference} ({f.due_on:%Y-%m-%d}): {f.reason}" for f in breaches
            )
        with transaction.atomic():
            notify_user(
                user=supervisor,
                case=None,
                kind="breach_forecast",
                context={"count": len(breaches), "lines": lines, "url": _page_url()},
                key=idempotency_key("breach_forecast", today.isoformat(), supervisor.pk),
            )
        sent += 1
    return sent


def _page_url() -> str:
    try:
        return reverse("workspace:agency_forecast")
    except NoReverseMatch:  # pragma: no cover - the workspace is always mounted
        return ""
