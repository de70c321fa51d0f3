"""The legal clock of a case: deadlines in working days and their ledger.

Every start, stop (waiting for the applicant), resumption, extension and
recomputation writes a ``ClockEntry``; each ``Deadline`` keeps how its due date
was computed twice, in the same save: as English text (``computation``, the
audit record) and as facts (``computation_facts``) shown in the reader's
language. Callers are the case services, inside their transaction.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.calendar import (
    DeadlineComputation,
    WorkingCalendar,
    YearSchedule,
    explain_computation,
)
from cases.errors import RuleViolation
from cases.held import held_by_pk, held_memo_any
from cases.models import (
    Agency,
    CalendarOverride,
    CalendarYear,
    Case,
    ClockEntry,
    DayKind,
    Deadline,
    RuleSet,
)


def calendar_for(agency: Agency | None) -> WorkingCalendar:
    """The working calendar of an agency: national calendar, national and own overrides.

    Inside a step's completion (``cases.held``) it is read once: the calendar does not
    change within that transaction, and the case service and the route's timers each ask."""
    memo = held_memo_any()
    key = ("calendar", agency.pk if agency is not None else None)
    if memo is not None and key in memo:
        return memo[key]
    calendar = _calendar_read(agency)
    if memo is not None:
        memo[key] = calendar
    return calendar


def _calendar_read(agency: Agency | None) -> WorkingCalendar:
    rows = CalendarOverride.objects.filter(agency__isnull=True)
    if agency is not None:
        rows = CalendarOverride.objects.filter(
            agency__isnull=True
        ) | CalendarOverride.objects.filter(agency=agency)
    overrides = [row.as_day() for row in rows.select_related("agency")]
    known_years = CalendarYear.objects.values_list("year", flat=True)
    return WorkingCalendar(
        overrides, known_years=known_years, agency=agency.code if agency else None
    )


def schedule_store(schedule: YearSchedule, *, actor: AbstractBaseUser | None) -> dict[str, int]:
    """Write a year's national schedule: its days as national overrides, the year as known.

    A day already overridden nationally takes the schedule's kind and name; national
    overrides of the year the schedule does not list stay (``kept``: e.g. a day off the
    State Council declared later by a separate notice). Agency overrides are untouched.
    Run it in the caller's transaction, then recompute the open deadlines
    (``workflows.actions.calendar_load`` does both).
    """
    created = updated = 0
    listed = set()
    for day in schedule.days:
        listed.add(day.day)
        _row, new = CalendarOverride.objects.update_or_create(
            day=day.day,
            agency=None,
            defaults={"is_working_day": day.is_working_day, "name": day.name[:200]},
            create_defaults={
                "is_working_day": day.is_working_day,
                "name": day.name[:200],
                "created_by": actor,
            },
        )
        created += new
        updated += not new
    kept = (
        CalendarOverride.objects.filter(agency__isnull=True, day__year=schedule.year)
        .exclude(day__in=listed)
        .count()
    )
    CalendarYear.objects.update_or_create(
        year=schedule.year,
        defaults={"source": schedule.source[:300], "declared_by": actor},
    )
    return {"created": created, "updated": updated, "kept": kept}


def _today() -> datetime.date:
    return timezone.localdate()


def _computation(computed: DeadlineComputation, **prefix: Any) -> dict[str, Any]:
    """``computation`` (English) and ``computation_facts`` of a deadline, from one set of facts.

    ``prefix`` is what (re)started the count (see ``DeadlineComputation.as_facts``).
    """
    facts = computed.as_facts(prefix=prefix or None)
    return {
        "computation": explain_computation(facts, language="en"),
        "computation_facts": facts,
    }


def deadline_start(
    case: Case,
    step: str,
    *,
    working_days: int | None = None,
    rule_set: RuleSet | None = None,
    figure: str | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
    on: datetime.date | None = None,
    calendar: WorkingCalendar | None = None,
) -> Deadline:
    """Start counting for ``step`` from ``on`` (today by default).

    Either ``working_days``, or the ``figure`` (a ``*_days`` field) of ``rule_set``: its
    value and its kind of day (``RuleSet.day_kind``: the court list's 15 days are calendar
    days). An empty figure is refused (``no_rule_figure``): the version gives none.
    """
    day_kind = DayKind.WORKING
    if figure is not None:
        working_days = rule_figure(rule_set, figure)
        day_kind = rule_set.day_kind(figure)
    on = on or _today()
    calendar = calendar or calendar_for(case.agency)
    computed = calendar.add_days(on, working_days, day_kind)
    deadline = Deadline.objects.create(
        case=case,
        step=step,
        started_on=on,
        working_days=working_days,
        day_kind=day_kind,
        due_on=computed.due,
        provisional=computed.provisional,
        **_computation(computed),
    )
    _entry(
        deadline,
        ClockEntry.Kind.STARTED,
        actor=actor,
        reason=reason,
        days=working_days,
        due_after=computed.due,
    )
    started = _started_here(case.pk)
    if started is not None:
        started.append(deadline)
    return deadline


def _started_here(case_pk: int) -> list[Deadline] | None:
    """The deadlines started for ``case_pk`` inside the step that holds it locked
    (``cases.held``), oldest first, while none of the case's deadlines has changed since;
    None when the case is not held.

    Inside that one transaction, under the case's lock, the step's own reads of "the
    deadline just started" (the route's timers, the letter, the notice) are answered
    from here instead of the database. Any other change of a deadline of the case (every
    change writes its ledger entry, ``_entry``) forgets the list, and the next read goes
    to the database."""
    if held_by_pk(case_pk) is None:
        return None
    return held_memo_any().setdefault(("deadlines_started", case_pk), [])


def deadline_latest(case: Case, step: str | None = None) -> Deadline | None:
    """The case's newest deadline (of ``step``, or of any step), whatever its status."""
    started = _started_here(case.pk)
    for deadline in reversed(started or []):
        if step is None or deadline.step == step:
            return deadline
    rows = Deadline.objects.filter(case=case)
    if step is not None:
        rows = rows.filter(step=step)
    return rows.order_by("-id").first()


def deadlines_running(case: Case, *steps: str) -> dict[str, Deadline | None]:
    """``deadline_running`` of several steps in one query: step → its deadline or None."""
    found: dict[str, Deadline | None] = dict.fromkeys(steps)
    rows = Deadline.objects.filter(
        case=case, step__in=steps, status__in=[Deadline.Status.RUNNING, Deadline.Status.STOPPED]
    ).order_by("-id")
    for deadline in rows:
        if found[deadline.step] is None:
            deadline.case = case  # the caller's instance: no second read of the case
            found[deadline.step] = deadline
    return found


def deadline_running(case: Case, step: str) -> Deadline | None:
    """The newest running (or stopped) deadline of ``step``."""
    for deadline in reversed(_started_here(case.pk) or []):
        if deadline.step == step:  # just started, unchanged since: running
            return deadline
    return (
        Deadline.objects.filter(
            case=case, step=step, status__in=[Deadline.Status.RUNNING, Deadline.Status.STOPPED]
        )
        .order_by("-id")
        .first()
    )


def deadline_stop(deadline: Deadline, *, actor: AbstractBaseUser | None, reason: str) -> Deadline:
    """Stop the clock (e.g. waiting for the applicant); keeps the working days left.

    The day of the stop counts as used: the office worked on the case that day.
    """
    today = _today()
    calendar = calendar_for(deadline.case.agency)
    used = max(calendar.days_between(deadline.started_on, today, deadline.day_kind), 0)
    remaining = max(deadline.working_days - used, 0)
    deadline.status = Deadline.Status.STOPPED
    deadline.working_days = remaining
    deadline.save(update_fields=["status", "working_days"])
    _entry(
        deadline,
        ClockEntry.Kind.STOPPED,
        actor=actor,
        reason=reason,
        days=remaining,
        due_before=deadline.due_on,
    )
    return deadline


def deadline_resume(deadline: Deadline, *, actor: AbstractBaseUser | None, reason: str) -> Deadline:
    """Restart a stopped clock from today with the working days that were left."""
    today = _today()
    calendar = calendar_for(deadline.case.agency)
    computed = calendar.add_days(today, deadline.working_days, deadline.day_kind)
    before = deadline.due_on
    deadline.status = Deadline.Status.RUNNING
    deadline.started_on = today
    deadline.due_on = computed.due
    _set_computation(
        deadline,
        computed,
        kind="resumed",
        on=today.isoformat(),
        working_days=deadline.working_days,
        **_kind_prefix(deadline),
    )
    deadline.save(
        update_fields=[
            "status",
            "started_on",
            "due_on",
            "computation",
            "computation_facts",
            "provisional",
        ]
    )
    _entry(
        deadline,
        ClockEntry.Kind.RESUMED,
        actor=actor,
        reason=reason,
        days=deadline.working_days,
        due_before=before,
        due_after=computed.due,
    )
    return deadline


def deadline_extend(
    deadline: Deadline, *, days: int, approved_by: AbstractBaseUser, reason: str
) -> Deadline:
    """Extend a running deadline; names who approved it and why (DOMAIN: every extension)."""
    calendar = calendar_for(deadline.case.agency)
    before = deadline.due_on
    deadline.working_days += days
    deadline.extended_days += days
    computed = calendar.add_days(deadline.started_on, deadline.working_days, deadline.day_kind)
    deadline.due_on = computed.due
    _set_computation(
        deadline,
        computed,
        kind="extended",
        days=days,
        approved_by=approved_by.get_username(),
        reason=reason,
        **_kind_prefix(deadline),
    )
    deadline.escalated_at = None
    deadline.save(
        update_fields=[
            "working_days",
            "extended_days",
            "due_on",
            "computation",
            "computation_facts",
            "provisional",
            "escalated_at",
        ]
    )
    _entry(
        deadline,
        ClockEntry.Kind.EXTENDED,
        actor=approved_by,
        approved_by=approved_by,
        reason=reason,
        days=days,
        due_before=before,
        due_after=computed.due,
    )
    return deadline


def deadline_close(
    deadline: Deadline, *, actor: AbstractBaseUser | None, cancelled: bool = False, reason: str = ""
) -> Deadline:
    """Close a deadline: met (done on or before the due date), missed, or cancelled."""
    now = timezone.now()
    if cancelled:
        deadline.status = Deadline.Status.CANCELLED
        kind = ClockEntry.Kind.CANCELLED
    elif timezone.localdate(now) <= deadline.due_on:
        deadline.status = Deadline.Status.MET
        kind = ClockEntry.Kind.MET
    else:
        deadline.status = Deadline.Status.MISSED
        kind = ClockEntry.Kind.MISSED
    deadline.closed_at = now
    deadline.save(update_fields=["status", "closed_at"])
    _entry(deadline, kind, actor=actor, reason=reason, due_before=deadline.due_on)
    return deadline


def deadlines_close_all(case: Case, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Cancel every deadline of the case still running or stopped (withdrawal, lapse, ...)."""
    for deadline in Deadline.objects.filter(
        case=case, status__in=[Deadline.Status.RUNNING, Deadline.Status.STOPPED]
    ):
        deadline_close(deadline, actor=actor, cancelled=True, reason=reason)


def deadlines_recompute(
    *, agency: Agency | None = None, reason: str, cause: dict | None = None
) -> list[Deadline]:
    """Recompute running deadlines after a calendar change; returns those that moved.

    ``agency=None`` means a national change: every agency's deadlines are checked.
    ``cause`` (``calendar.recompute_cause``) lets the computation name the change in
    the reader's language; ``reason`` is the ledger's text.
    """
    running = Deadline.objects.filter(status=Deadline.Status.RUNNING).select_related("case__agency")
    if agency is not None:
        running = running.filter(case__agency=agency)
    calendars: dict[int, WorkingCalendar] = {}
    moved: list[Deadline] = []
    for deadline in running.iterator(chunk_size=500):
        agency_id = deadline.case.agency_id
        if agency_id not in calendars:
            calendars[agency_id] = calendar_for(deadline.case.agency)
        computed = calendars[agency_id].add_days(
            deadline.started_on, deadline.working_days, deadline.day_kind
        )
        if computed.due == deadline.due_on and computed.provisional == deadline.provisional:
            continue
        before = deadline.due_on
        deadline.due_on = computed.due
        prefix = {"kind": "recomputed", "reason": reason}
        if cause:
            prefix["cause"] = cause
        _set_computation(deadline, computed, **prefix)
        deadline.save(update_fields=["due_on", "computation", "computation_facts", "provisional"])
        _entry(
            deadline,
            ClockEntry.Kind.RECOMPUTED,
            actor=None,
            reason=reason,
            due_before=before,
            due_after=computed.due,
        )
        moved.append(deadline)
    return moved


def _kind_prefix(deadline: Deadline) -> dict:
    return {"day_kind": DayKind.CALENDAR} if deadline.day_kind == DayKind.CALENDAR else {}


def rule_figure(rule_set: RuleSet, name: str) -> int:
    """The figure ``name`` of ``rule_set``; refuses (``no_rule_figure``) when it is empty.

    A version leaves a figure empty where its instrument gives none that is confirmed
    (``cases.seeds``): the step waits for an administrator to configure it rather than
    run on a guess.
    """
    value = getattr(rule_set, name)
    if value is None:
        raise RuleViolation(
            _(
                "Rule version %(rule_set)s does not set %(field)s (the instrument gives no "
                "confirmed figure): an administrator must configure it before this step."
            )
            % {"rule_set": rule_set.title, "field": name},
            code="no_rule_figure",
        )
    return value


def _set_computation(deadline: Deadline, computed: DeadlineComputation, **prefix: Any) -> None:
    for name, value in _computation(computed, **prefix).items():
        setattr(deadline, name, value)
    deadline.provisional = computed.provisional


def _entry(
    deadline: Deadline,
    kind: str,
    *,
    actor,
    reason: str = "",
    days: int = 0,
    approved_by=None,
    due_before=None,
    due_after=None,
) -> ClockEntry:
    if kind != ClockEntry.Kind.STARTED:
        started = _started_here(deadline.case_id)
        if started:
            started.clear()  # a deadline of the case changed: read them again
    return ClockEntry.objects.create(
        case_id=deadline.case_id,
        deadline=deadline,
        kind=kind,
        at=timezone.now(),
        actor=actor,
        approved_by=approved_by,
        reason=reason,
        days=days,
        due_before=due_before,
        due_after=due_after,
    )
