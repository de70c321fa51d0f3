"""The legal clock drives the route's timers.

Each human step with a deadline arms two timers when its task is created: "near" on the
morning of the last working day before the due date, and "overdue" at midnight after it
(Asia/Shanghai). They escalate to the agency's supervisors without taking the task away
from its officer. Extensions and calendar changes move the armed timers; completing the
task cancels them. viewflow fires due timers from its dispatcher (``fire_due_timers``);
here a timer is made due by moving its ``scheduled`` moment into the past.

The 2026 calendar used below, as the ``chinesecalendar`` package has it: Spring Festival
off 02-15..02-23, Saturdays 02-14 and 02-28 worked; Mid-autumn off 09-25..09-27;
National Day off 10-01..10-07, Sunday 09-20 and Saturday 10-10 worked. 2027 is not loaded.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.timers import fire_due_timers

from cases.calendar import DayOverride, WorkingCalendar
from cases.clock import deadline_start
from cases.models import (
    CalendarOverride,
    CalendarYear,
    Case,
    ClockEntry,
    Deadline,
    Material,
    Publication,
    Record,
)
from tests.flow_helpers import (
    APPROVED,
    accept,
    acknowledge_published_everywhere,
    deadline,
    event_kinds,
    file_objection,
    file_restoration,
    last_event,
    open_steps,
    open_task,
    process_status,
    refresh,
    request_materials_at_acceptance,
    review,
    scheduled_timer,
    sign,
    supply,
    timers,
    worker_renders_letters,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import pdf_upload, restorable_record
from workflows import actions
from workflows.nodes import DeadlineMoment

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = datetime.date
S = Case.Status
NEAR = "acceptance_check__timeout"
OVERDUE = "acceptance_check__timeout_2"


def at(day: datetime.date, hour: int = 0) -> datetime.datetime:
    """A moment on the legal clock (Beijing time)."""
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=SHANGHAI)


def near_day(due: datetime.date, started: datetime.date, calendar: WorkingCalendar):
    """The last working day before ``due`` (not before the start): when "near" fires."""
    day = due - datetime.timedelta(days=1)
    while day > started and not calendar.is_working_day(day):
        day -= datetime.timedelta(days=1)
    return day


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def case(company, record, applicant):
    """A restoration just filed, waiting at the acceptance check."""
    return file_restoration(company, [record], applicant)


# --- arming -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Case.Kind.OBJECTION, Case.Kind.RESTORATION])
def test_an_acceptance_check_arms_its_near_and_overdue_timers_once_at_the_deadline_moments(
    kind, company, record, applicant
):
    today = timezone.localdate()
    filed = file_objection if kind == Case.Kind.OBJECTION else file_restoration
    case = filed(company, [record], applicant)

    due = WorkingCalendar().add_working_days(today, 3).due  # acceptance_days of the rule set
    acceptance = deadline(case, Deadline.Step.ACCEPTANCE)
    assert acceptance.due_on == due
    # One timer of each kind: the two flows do not share (and double-arm) boundary events.
    assert [t.flow_task.name for t in timers(case, NEAR)] == [NEAR]
    assert [t.flow_task.name for t in timers(case, OVERDUE)] == [OVERDUE]
    near, overdue = scheduled_timer(case, NEAR), scheduled_timer(case, OVERDUE)
    assert near.scheduled == at(near_day(due, today, WorkingCalendar()), 9)
    assert overdue.scheduled == at(due + datetime.timedelta(days=1))
    assert near.previous.get() == open_task(case, "acceptance_check")


def test_the_near_timer_of_a_deadline_after_the_spring_festival_fires_on_the_working_saturday(
    case,
):
    # A decision clock started on Thursday 2026-02-12 with 3 working days: Fri 13, Sat 14
    # (调休), then the festival, Tue 24. The last working day before it is Saturday the 14th.
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=3, actor=None, on=D(2026, 2, 12)
    )

    assert running.due_on == D(2026, 2, 24)
    assert DeadlineMoment(Deadline.Step.DECISION, "near").at(case) == at(D(2026, 2, 14), 9)
    assert DeadlineMoment(Deadline.Step.DECISION, "overdue").at(case) == at(D(2026, 2, 25))


def test_the_near_timer_before_national_day_fires_on_the_working_sunday(case):
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=2, actor=None, on=D(2026, 9, 18)
    )

    assert running.due_on == D(2026, 9, 21)  # Sun 20 (调休) is day 1, Mon 21 day 2
    assert DeadlineMoment(Deadline.Step.DECISION, "near").at(case) == at(D(2026, 9, 20), 9)


# --- firing: escalation without taking the task away ------------------------------------


def test_the_near_timer_escalates_and_leaves_the_acceptance_check_with_its_officer(case, staff):
    task = actions.task_claim(task=open_task(case, "acceptance_check"), user=staff["intake"])
    near = scheduled_timer(case, NEAR)
    near.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    near.save(update_fields=["scheduled"])

    assert fire_due_timers() == 1

    near.refresh_from_db()
    assert near.status == STATUS.DONE
    warned = last_event(case, "deadline_near")
    assert warned.automated is True
    assert warned.actor is None
    assert warned.data == {
        "step": "acceptance",
        "due_on": deadline(case, Deadline.Step.ACCEPTANCE).due_on.isoformat(),
    }
    assert "escalated to the supervisors of SZAMR" in warned.note
    assert deadline(case, Deadline.Step.ACCEPTANCE).escalated_at is not None
    assert open_steps(case) == ["acceptance_check@intake-szamr"]
    assert scheduled_timer(case, OVERDUE).status == STATUS.SCHEDULED
    assert refresh(case).status == S.SUBMITTED
    assert process_status(case) == PROCESS.NEW

    case = actions.task_complete(task=task, user=staff["intake"], data={"decision": "accept"})
    assert case.status == S.UNDER_REVIEW
    assert timers(case, OVERDUE)[0].status == STATUS.CANCELED


def test_the_overdue_timer_escalates_and_the_officer_can_still_decide(case, staff):
    overdue = scheduled_timer(case, OVERDUE)
    overdue.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    overdue.save(update_fields=["scheduled"])

    assert fire_due_timers() == 1

    escalated = last_event(case, "deadline_overdue")
    assert escalated.automated is True
    assert escalated.actor is None
    assert escalated.actor_role == "system"
    assert escalated.data["step"] == "acceptance"
    assert deadline(case, Deadline.Step.ACCEPTANCE).escalated_at is not None
    assert "deadline_near" not in event_kinds(case)
    assert open_steps(case) == ["acceptance_check"]
    assert scheduled_timer(case, NEAR).status == STATUS.SCHEDULED

    case = accept(case, staff["intake"])
    assert case.status == S.UNDER_REVIEW
    assert open_steps(case) == ["evidence_review"]


def test_timers_not_yet_due_do_not_fire(case):
    assert fire_due_timers() == 0

    assert "deadline_near" not in event_kinds(case)
    assert deadline(case, Deadline.Step.ACCEPTANCE).escalated_at is None


def test_completing_a_task_cancels_its_timers_and_arms_those_of_the_next_step(case, staff):
    case = accept(case, staff["intake"])

    assert [t.status for t in timers(case, NEAR) + timers(case, OVERDUE)] == [
        STATUS.CANCELED,
        STATUS.CANCELED,
    ]
    decision = deadline(case, Deadline.Step.DECISION)
    review_near = scheduled_timer(case, "evidence_review__timeout")
    review_overdue = scheduled_timer(case, "evidence_review__timeout_2")
    assert review_near.scheduled == at(
        near_day(decision.due_on, decision.started_on, WorkingCalendar()), 9
    )
    assert review_overdue.scheduled == at(decision.due_on + datetime.timedelta(days=1))
    assert fire_due_timers() == 0
    assert "deadline_near" not in event_kinds(case)


def test_timers_of_a_new_acceptance_check_follow_the_resumed_clock(
    company, record, applicant, staff
):
    case = file_restoration(company, [record], applicant, with_materials=False)
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    supply(case, applicant, Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF)

    actions.case_resubmit(case=case, applicant=applicant)

    resumed = deadline(case, Deadline.Step.ACCEPTANCE)
    assert resumed.status == Deadline.Status.RUNNING
    assert scheduled_timer(case, OVERDUE).scheduled == at(
        resumed.due_on + datetime.timedelta(days=1)
    )
    assert [t.status for t in timers(case, OVERDUE)] == [STATUS.CANCELED, STATUS.SCHEDULED]


# --- the clock changes: the armed timers move ---------------------------------------------


def test_a_supervisor_extension_moves_the_armed_timers_to_the_new_due_date(case, staff):
    before = deadline(case, Deadline.Step.ACCEPTANCE)

    extended = actions.deadline_extend(
        case=case,
        supervisor=staff["supervisor"],
        step=Deadline.Step.ACCEPTANCE,
        days=2,
        reason="The applicant's records are held in the archive.",
    )

    calendar = WorkingCalendar()
    assert extended.due_on == calendar.add_working_days(before.started_on, 5).due
    assert extended.due_on > before.due_on
    assert scheduled_timer(case, OVERDUE).scheduled == at(
        extended.due_on + datetime.timedelta(days=1)
    )
    assert scheduled_timer(case, NEAR).scheduled == at(
        near_day(extended.due_on, extended.started_on, calendar), 9
    )
    entry = extended.entries.last()
    assert entry.kind == ClockEntry.Kind.EXTENDED
    assert entry.approved_by == staff["supervisor"]
    assert last_event(case, "deadline_extended").actor == staff["supervisor"]


def test_a_new_national_holiday_moves_the_deadline_a_working_day_and_rearms_its_timers(case):
    before = deadline(case, Deadline.Step.ACCEPTANCE)
    # The first working day of the running span becomes a holiday.
    closure = WorkingCalendar().add_working_days(before.started_on, 1).due
    CalendarOverride.objects.create(day=closure, is_working_day=False, name="Typhoon closure")

    moved = actions.calendar_changed(reason="typhoon closure declared")

    after = deadline(case, Deadline.Step.ACCEPTANCE)
    with_closure = WorkingCalendar(
        [DayOverride(closure, is_working_day=False, name="Typhoon closure", scope="national")]
    )
    assert moved == 1
    assert after.due_on == WorkingCalendar().add_working_days(before.due_on, 1).due
    assert after.due_on == with_closure.add_working_days(before.started_on, 3).due
    assert "Typhoon closure (national)" in after.computation
    assert scheduled_timer(case, OVERDUE).scheduled == at(after.due_on + datetime.timedelta(days=1))
    assert scheduled_timer(case, NEAR).scheduled == at(
        near_day(after.due_on, after.started_on, with_closure), 9
    )
    assert after.entries.last().kind == ClockEntry.Kind.RECOMPUTED


def test_an_override_added_in_the_admin_is_named_in_each_readers_language(case, admin_client):
    from django.urls import reverse
    from django.utils import translation

    before = deadline(case, Deadline.Step.ACCEPTANCE)
    closure = WorkingCalendar().add_working_days(before.started_on, 1).due

    admin_client.post(
        reverse("admin:cases_calendaroverride_add"),
        {"day": closure.isoformat(), "agency": "", "is_working_day": "", "name": "台风停工"},
    )

    after = deadline(case, Deadline.Step.ACCEPTANCE)
    assert after.due_on > before.due_on
    english = f"Recomputed: calendar override {closure} holiday: 台风停工 (national)."
    assert after.computation.startswith(english)  # the audit record, as the ledger has it
    assert after.entries.last().reason == english.removeprefix("Recomputed: ")[:-1]
    with translation.override("zh-hans"):
        chinese = after.computation_text
    assert chinese.startswith(f"重新计算：日历调整 {closure} 节假日：台风停工（全国）。")
    assert "calendar override" not in chinese and "holiday" not in chinese


def test_a_holiday_outside_every_running_span_moves_no_timer(case):
    overdue_at = scheduled_timer(case, OVERDUE).scheduled
    later = deadline(case, Deadline.Step.ACCEPTANCE).due_on + datetime.timedelta(days=40)
    CalendarOverride.objects.create(day=later, is_working_day=False, name="Local fair")

    assert actions.calendar_changed(reason="local fair") == 0

    assert scheduled_timer(case, OVERDUE).scheduled == overdue_at


# --- removal and the appeal window ----------------------------------------------------------


@pytest.fixture
def signed(case, record, staff):
    """The restoration approved and signed; its decision letter not yet rendered."""
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    return sign(case, staff["signer"], APPROVED)


@pytest.fixture
def approved(signed):
    """The decision letter served: both platforms are asked to withdraw the record."""
    return worker_renders_letters(signed)


def test_a_decision_letter_not_stored_by_its_deadline_escalates_and_the_route_keeps_waiting(
    signed,
):
    case = signed
    letter_deadline = deadline(case, Deadline.Step.LETTER)
    overdue = scheduled_timer(case, "await_letter__timeout")
    assert overdue.scheduled == at(letter_deadline.due_on + datetime.timedelta(days=1))
    overdue.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    overdue.save(update_fields=["scheduled"])

    assert fire_due_timers() == 1

    escalated = last_event(case, "deadline_overdue")
    assert escalated.data["step"] == Deadline.Step.LETTER
    assert deadline(case, Deadline.Step.LETTER).escalated_at is not None
    assert open_steps(case) == ["await_letter"]

    case = worker_renders_letters(case)

    # Stored before its due day (only the timer was brought forward): met.
    assert deadline(case, Deadline.Step.LETTER).status == Deadline.Status.MET
    assert open_steps(case) == ["await_removal"]


def test_a_letter_stored_while_the_route_could_not_move_is_picked_up_by_the_timer_sweep(
    signed,
):
    from documents import services as letters
    from workflows.tasks import fire_timers

    case = signed
    # The worker stores the letter but dies before its commit hook moves the route on.
    letters.letter_render_now(case.letters.get(kind="approval"))
    assert open_steps(case) == ["await_letter"]

    fire_timers()

    assert open_steps(case) == ["await_removal"]
    assert deadline(case, Deadline.Step.LETTER).status == Deadline.Status.MET
    fire_timers()  # nothing left to pick up: the route stays where it is
    assert open_steps(case) == ["await_removal"]


def test_removal_escalates_when_a_platform_has_not_acknowledged_within_the_deadline(
    approved, record
):
    case = approved
    removal = deadline(case, Deadline.Step.REMOVAL)
    overdue = scheduled_timer(case, "await_removal__timeout")
    assert overdue.scheduled == at(removal.due_on + datetime.timedelta(days=1))
    first, second = record.publications.order_by("platform__code")
    actions.publication_acknowledge(publication=first)
    overdue.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    overdue.save(update_fields=["scheduled"])

    assert fire_due_timers() == 1

    escalated = last_event(case, "deadline_overdue")
    assert escalated.automated is True
    assert escalated.actor is None
    assert escalated.data["step"] == Deadline.Step.REMOVAL
    assert deadline(case, Deadline.Step.REMOVAL).escalated_at is not None
    assert refresh(case).status == S.REMOVAL
    assert open_steps(case) == ["await_removal"]  # still waiting for the second platform

    actions.publication_acknowledge(publication=second)

    assert refresh(case).status == S.APPEAL_WINDOW
    assert set(record.publications.values_list("status", flat=True)) == {
        Publication.Status.WITHDRAWN
    }


def test_the_appeal_window_timer_closes_the_case_and_ends_its_process(approved, record):
    case = approved
    for publication in record.publications.all():
        actions.publication_acknowledge(publication=publication)
    window = scheduled_timer(case, "appeal_window")
    # Reconsideration within 60 days, a lawsuit within 6 months: the longer one counts.
    assert window.scheduled == refresh(case).decided_at + relativedelta(months=6)
    window.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    window.save(update_fields=["scheduled"])

    assert fire_due_timers() == 1

    case = refresh(case)
    assert case.status == S.CLOSED
    assert process_status(case) == PROCESS.DONE
    assert case.process.finished is not None
    assert open_steps(case) == []
    closed = last_event(case, "closed")
    assert closed.automated is True
    assert closed.actor is None
    assert closed.note == "Appeal window ended."


def test_a_restoration_revoked_after_its_appeal_window_closed_is_republished(
    approved, record, staff
):
    case = approved
    for publication in record.publications.all():
        actions.publication_acknowledge(publication=publication)
    window = scheduled_timer(case, "appeal_window")
    window.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    window.save(update_fields=["scheduled"])
    fire_due_timers()

    case = revoked_in_effect(
        case=case,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="False commitment.",
        evidence=[pdf_upload("revocation")],
    )

    record.refresh_from_db()
    assert case.status == S.REVOKED
    assert record.status == Record.Status.ACTIVE
    assert set(record.publications.values_list("status", flat=True)) == {
        Publication.Status.PUBLICATION_REQUESTED
    }
    acknowledge_published_everywhere(record)
    assert set(record.publications.values_list("status", flat=True)) == {
        Publication.Status.PUBLISHED
    }
    assert process_status(case) == PROCESS.DONE
    assert open_steps(case) == []


def test_a_closed_case_has_no_deadline_still_running(approved, record):
    case = approved
    for publication in record.publications.all():
        actions.publication_acknowledge(publication=publication)
    window = scheduled_timer(case, "appeal_window")
    window.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    window.save(update_fields=["scheduled"])
    fire_due_timers()
    assert refresh(case).status == S.CLOSED

    running = Deadline.objects.filter(
        case=case, status__in=[Deadline.Status.RUNNING, Deadline.Status.STOPPED]
    )

    assert list(running.values_list("step", flat=True)) == []


# --- the clock across the 2026 holidays, as a case's deadline shows it ---------------------


def test_a_deadline_across_the_2026_spring_festival_counts_both_working_saturdays(case):
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=10, actor=None, on=D(2026, 2, 10)
    )

    assert running.due_on == D(2026, 3, 2)
    assert running.provisional is False
    assert "skipped 2026-02-15..02-23 Spring Festival (春节)" in running.computation
    assert (
        "counted 2026-02-14 (Saturday): adjusted working day (调休) for Spring Festival (春节)"
        in running.computation
    )
    assert (
        "counted 2026-02-28 (Saturday): adjusted working day (调休) for Spring Festival (春节)"
        in running.computation
    )
    assert running.computation.endswith("Due 2026-03-02 (Monday).")
    started = running.entries.get()
    assert (started.kind, started.due_after, started.days) == (
        ClockEntry.Kind.STARTED,
        running.due_on,
        10,
    )


def test_a_case_filed_the_friday_before_the_spring_festival_is_due_on_the_working_saturday(case):
    running = deadline_start(
        case, Deadline.Step.ACCEPTANCE, working_days=1, actor=None, on=D(2026, 2, 13)
    )

    assert running.due_on == D(2026, 2, 14)
    assert "counted 2026-02-14 (Saturday)" in running.computation


def test_a_deadline_across_the_2026_national_day_skips_the_golden_week(case):
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=5, actor=None, on=D(2026, 9, 30)
    )

    # Oct 1..7 off; Thu 8, Fri 9, Sat 10 (调休), Mon 12, Tue 13.
    assert running.due_on == D(2026, 10, 13)
    assert "skipped 2026-10-01..10-07 National Day (国庆节)" in running.computation
    assert (
        "counted 2026-10-10 (Saturday): adjusted working day (调休) for National Day (国庆节)"
        in running.computation
    )


def test_a_deadline_before_the_2026_national_day_counts_the_working_sunday(case):
    running = deadline_start(
        case, Deadline.Step.ACCEPTANCE, working_days=3, actor=None, on=D(2026, 9, 18)
    )

    assert running.due_on == D(2026, 9, 22)
    assert (
        "counted 2026-09-20 (Sunday): adjusted working day (调休) for National Day (国庆节)"
        in running.computation
    )


def test_a_deadline_running_into_2027_is_provisional_until_2027_is_loaded(case):
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=10, actor=None, on=D(2026, 12, 24)
    )

    # Weekends and New Year's Day (the fixed statutory holiday) skipped in 2027.
    assert running.due_on == D(2027, 1, 8)
    assert running.provisional is True
    assert "PROVISIONAL" in running.computation
    assert "2027" in running.computation

    # The operator loads the 2027 New Year holiday and declares the year.
    CalendarOverride.objects.create(day=D(2027, 1, 1), is_working_day=False, name="元旦")
    CalendarYear.objects.create(year=2027, source="国务院办公厅关于2027年部分节假日安排的通知")
    moved = actions.calendar_changed(reason="national calendar for 2027 declared")

    running.refresh_from_db()
    assert moved >= 1
    assert running.provisional is False
    assert running.due_on == D(2027, 1, 8)
    assert "PROVISIONAL" not in running.computation
    assert "元旦 (national)" in running.computation


def test_a_one_day_deadline_reads_in_the_singular(case):
    running = deadline_start(
        case, Deadline.Step.ACCEPTANCE, working_days=1, actor=None, on=D(2026, 2, 13)
    )

    assert running.computation.startswith("1 working day from 2026-02-13 ")


def test_an_overdue_deadline_that_is_extended_is_watched_again_at_its_new_due_date(case, staff):
    overdue = scheduled_timer(case, OVERDUE)
    overdue.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    overdue.save(update_fields=["scheduled"])
    fire_due_timers()
    assert deadline(case, Deadline.Step.ACCEPTANCE).escalated_at is not None

    extended = actions.deadline_extend(
        case=case,
        supervisor=staff["supervisor"],
        step=Deadline.Step.ACCEPTANCE,
        days=5,
        reason="Archive records requested from the district office.",
    )

    assert extended.escalated_at is None  # the escalation is cleared ...
    # ... so the new due date needs a timer of its own, or its passing goes unnoticed.
    assert scheduled_timer(case, OVERDUE).scheduled == at(
        extended.due_on + datetime.timedelta(days=1)
    )
