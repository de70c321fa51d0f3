"""The legal clock of a case as officers and auditors see it: each deadline's date and how
it was computed, and a ledger entry for every start, stop, restart, extension and
recomputation, naming who approved an extension and why.
"""

import datetime

import pytest
from django.utils import timezone, translation

from cases.calendar import DayOverride, WorkingCalendar, explain_computation
from cases.clock import deadline_start
from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.models import CalendarOverride, Case, ClockEntry, Deadline, Material
from tests.flow_helpers import (
    accept,
    add_evidence,
    add_restoration_materials,
    last_event,
    objection_accepted,
    request_materials_in_review,
    restoration_accepted,
    step,
    submit,
)
from tests.helpers import restorable_record
from workflows import actions

DECISION = Deadline.Step.DECISION


def weekday(day) -> str:
    return ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"][day.weekday()]


def deadline(case, step):
    return Deadline.objects.filter(case=case, step=step).latest("id")


def ledger(deadline):
    return list(deadline.entries.order_by("id").values_list("kind", flat=True))


def in_chinese(deadline) -> str:
    """How the deadline was computed, as a Chinese reader is shown it."""
    deadline.refresh_from_db()  # the facts as stored, read back from JSON
    with translation.override("zh-hans"):
        return deadline.computation_text


def assert_text_and_facts_agree(case):
    """The English audit text of every deadline is what its stored facts say in English."""
    for row in Deadline.objects.filter(case=case):
        assert row.computation_facts, row
        assert row.computation == explain_computation(row.computation_facts, language="en")
        with translation.override("en"):
            assert row.computation_text == row.computation


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


# --- starting and closing ---------------------------------------------------------------------


def test_submission_starts_the_acceptance_deadline_with_its_computation(company, record, applicant):
    today = timezone.localdate()

    case = submit(Case.Kind.RESTORATION, company, [record], applicant)

    acceptance = deadline(case, Deadline.Step.ACCEPTANCE)
    assert acceptance.status == Deadline.Status.RUNNING
    assert acceptance.started_on == today
    assert acceptance.working_days == 3  # acceptance_days of penalty_publication/general
    assert acceptance.computation.startswith(f"3 working days from {today}")
    assert f"Due {acceptance.due_on}" in acceptance.computation
    assert acceptance.due_on > today
    assert ledger(acceptance) == [ClockEntry.Kind.STARTED]


def test_accepting_a_restoration_meets_the_acceptance_deadline_and_starts_the_decision_clock(
    company, record, applicant, staff
):
    case = restoration_accepted(company, [record], applicant, staff)

    acceptance = deadline(case, Deadline.Step.ACCEPTANCE)
    decision = deadline(case, DECISION)
    assert acceptance.status == Deadline.Status.MET
    assert ledger(acceptance) == [ClockEntry.Kind.STARTED, ClockEntry.Kind.MET]
    assert decision.status == Deadline.Status.RUNNING
    assert decision.working_days == case.rule_set.restoration_review_days == 7
    entry = decision.entries.get()
    with translation.override("zh-hans"):
        assert entry.reason_text == "已受理：审查期限依现行规则版本确定"


def test_accepting_an_objection_starts_the_objection_review_clock(
    company, record, applicant, staff
):
    case = objection_accepted(company, [record], applicant, staff)

    decision = deadline(case, DECISION)
    assert decision.working_days == case.rule_set.objection_review_days == 7
    assert decision.computation.startswith(f"7 working days from {timezone.localdate()}")


def test_a_decision_clock_across_the_2026_golden_week_reads_in_chinese_and_in_english(
    company, record, applicant, staff
):
    case = restoration_accepted(company, [record], applicant, staff)

    running = deadline_start(
        case, DECISION, working_days=5, actor=None, on=datetime.date(2026, 9, 30)
    )

    assert running.due_on == datetime.date(2026, 10, 13)
    assert in_chinese(running) == "\n".join(
        [
            "自 2026-09-30 起 5 个工作日（事件当日不计入，次一工作日为第 1 日）：",
            "  跳过 2026-10-01 至 10-07：国庆节",
            "  跳过普通周末 1 天",
            "  计入 2026-10-10（星期六）：国庆节调休工作日",
            "截止日期：2026-10-13（星期二）。",
        ]
    )
    assert running.computation == "\n".join(
        [
            "5 working days from 2026-09-30 "
            "(the event day is not counted; day 1 is the next working day):",
            "  skipped 2026-10-01..10-07 National Day (国庆节)",
            "  skipped 1 ordinary weekend day",
            "  counted 2026-10-10 (Saturday): adjusted working day (调休) for National Day (国庆节)",
            "Due 2026-10-13 (Tuesday).",
        ]
    )
    assert_text_and_facts_agree(case)


def test_a_deadline_computed_before_its_facts_were_kept_reads_as_it_was_stored(
    company, record, applicant
):
    case = submit(Case.Kind.RESTORATION, company, [record], applicant)
    old = deadline(case, Deadline.Step.ACCEPTANCE)
    Deadline.objects.filter(pk=old.pk).update(computation_facts={})

    assert in_chinese(old) == old.computation
    assert old.computation.startswith("3 working days from ")


# --- stopping and resuming --------------------------------------------------------------------


def test_the_clock_stops_with_the_working_days_left_and_resumes_from_the_resume_day(
    company, record, applicant, staff
):
    calendar = WorkingCalendar()
    today = timezone.localdate()
    case = objection_accepted(company, [record], applicant, staff)
    # The review began a week ago: the working days since then are used up.
    started = today - datetime.timedelta(days=7)
    Deadline.objects.filter(case=case, step=DECISION).update(started_on=started)
    left = 7 - calendar.working_days_between(started, today)

    request_materials_in_review(case, staff["case_officer"], Material.CORRECTION_EVIDENCE)

    stopped = deadline(case, DECISION)
    assert stopped.status == Deadline.Status.STOPPED
    assert stopped.working_days == left
    assert stopped.entries.last().days == left

    add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)
    actions.case_resubmit(case=case, applicant=applicant)

    resumed = deadline(case, DECISION)
    assert resumed.pk == stopped.pk
    assert resumed.status == Deadline.Status.RUNNING
    assert resumed.started_on == today
    assert resumed.due_on == calendar.add_working_days(today, left).due
    assert resumed.computation.startswith(f"Resumed on {today} with {left} working days left.")
    assert in_chinese(resumed).startswith(
        f"{today} 恢复计时，剩余 {left} 个工作日。\n自 {today} 起 {left} 个工作日"
    )
    assert_text_and_facts_agree(case)
    assert ledger(resumed) == [
        ClockEntry.Kind.STARTED,
        ClockEntry.Kind.STOPPED,
        ClockEntry.Kind.RESUMED,
    ]


def test_the_acceptance_clock_stops_while_materials_are_missing(company, record, applicant, staff):
    case = submit(Case.Kind.RESTORATION, company, [record], applicant)

    step(
        case,
        "acceptance_check",
        staff["intake"],
        decision="request_materials",
        missing=[
            {"material": Material.COMMITMENT_LETTER, "detail": "Signed."},
            {"material": Material.FULFILMENT_PROOF, "detail": "Bank receipt."},
        ],
    )

    acceptance = deadline(case, Deadline.Step.ACCEPTANCE)
    materials = deadline(case, Deadline.Step.MATERIALS)
    assert acceptance.status == Deadline.Status.STOPPED
    assert ledger(acceptance) == [ClockEntry.Kind.STARTED, ClockEntry.Kind.STOPPED]
    assert materials.working_days == 10  # materials_days
    assert materials.status == Deadline.Status.RUNNING

    add_restoration_materials(case, applicant)
    actions.case_resubmit(case=case, applicant=applicant)
    accept(case, staff["intake"])

    acceptance.refresh_from_db()
    assert acceptance.status == Deadline.Status.MET
    assert ledger(acceptance)[-2:] == [ClockEntry.Kind.RESUMED, ClockEntry.Kind.MET]


# --- extension --------------------------------------------------------------------------------


def test_a_supervisor_extends_a_deadline_naming_who_approved_it_and_why(
    company, record, applicant, staff
):
    case = restoration_accepted(company, [record], applicant, staff)
    before = deadline(case, DECISION)
    reason = "Site inspection needed; the bureau's inspector is away."

    extended = actions.deadline_extend(
        case=case, supervisor=staff["supervisor"], step=DECISION, days=5, reason=reason
    )

    assert extended.working_days == 12
    assert extended.extended_days == 5
    assert extended.due_on == WorkingCalendar().add_working_days(before.started_on, 12).due
    assert extended.due_on > before.due_on
    assert extended.computation.startswith(
        f"Extended by 5 working days (approved by supervisor-szamr: {reason})."
    )
    entry = extended.entries.last()
    assert entry.kind == ClockEntry.Kind.EXTENDED
    assert entry.approved_by == staff["supervisor"]
    assert entry.reason == reason
    assert (entry.due_before, entry.due_after) == (before.due_on, extended.due_on)
    event = last_event(case, "deadline_extended")
    assert event.actor == staff["supervisor"]
    assert event.note == reason
    assert event.after == {"step": "decision", "due_on": extended.due_on.isoformat()}
    assert_text_and_facts_agree(case)


def test_an_extended_deadline_names_in_chinese_who_approved_it_and_why(
    company, record, applicant, staff
):
    case = restoration_accepted(company, [record], applicant, staff)
    reason = "需现场核查，核查人员出差。"

    extended = actions.deadline_extend(
        case=case, supervisor=staff["supervisor"], step=DECISION, days=5, reason=reason
    )

    started = extended.started_on
    assert in_chinese(extended).startswith(
        f"延长 5 个工作日（批准人：supervisor-szamr；理由：{reason}）。\n"
        f"自 {started} 起 12 个工作日（事件当日不计入，次一工作日为第 1 日）："
    )
    assert in_chinese(extended).endswith(
        f"截止日期：{extended.due_on}（{weekday(extended.due_on)}）。"
    )
    # The audit record stays in English, whatever the reader's language.
    assert extended.computation.startswith(
        f"Extended by 5 working days (approved by supervisor-szamr: {reason}).\n"
        f"12 working days from {started} "
    )


def test_only_a_supervisor_can_extend_a_deadline(company, record, applicant, staff):
    case = restoration_accepted(company, [record], applicant, staff)
    due_on = deadline(case, DECISION).due_on

    with pytest.raises(NotPermitted) as refused:
        actions.deadline_extend(
            case=case, supervisor=staff["case_officer"], step=DECISION, days=5, reason="Busy."
        )

    assert refused.value.code == "role_required"
    assert deadline(case, DECISION).due_on == due_on
    assert "deadline_extended" not in case.events.values_list("kind", flat=True)


def test_an_extension_needs_a_reason(company, record, applicant, staff):
    case = restoration_accepted(company, [record], applicant, staff)

    with pytest.raises(InvalidInput) as refused:
        actions.deadline_extend(
            case=case, supervisor=staff["supervisor"], step=DECISION, days=5, reason="  "
        )

    assert refused.value.field == "reason"
    assert deadline(case, DECISION).extended_days == 0


def test_a_stopped_deadline_cannot_be_extended(company, record, applicant, staff):
    case = objection_accepted(company, [record], applicant, staff)
    request_materials_in_review(case, staff["case_officer"], Material.CORRECTION_EVIDENCE)

    with pytest.raises(WrongState) as refused:
        actions.deadline_extend(
            case=case, supervisor=staff["supervisor"], step=DECISION, days=5, reason="Waiting."
        )

    assert refused.value.code == "no_running_deadline"


# --- calendar changes -------------------------------------------------------------------------


def test_a_new_national_holiday_moves_a_running_deadline_by_one_working_day(
    company, record, applicant
):
    today = timezone.localdate()
    case = submit(Case.Kind.RESTORATION, company, [record], applicant)
    before = deadline(case, Deadline.Step.ACCEPTANCE)
    # The first working day of the running span becomes a holiday.
    holiday = WorkingCalendar().add_working_days(today, 1).due
    CalendarOverride.objects.create(day=holiday, is_working_day=False, name="Typhoon closure")

    actions.calendar_changed(reason="typhoon closure declared")

    after = deadline(case, Deadline.Step.ACCEPTANCE)
    assert after.due_on == WorkingCalendar().add_working_days(before.due_on, 1).due
    expected = WorkingCalendar(
        [DayOverride(holiday, is_working_day=False, name="Typhoon closure", scope="national")]
    ).add_working_days(today, 3)
    assert after.due_on == expected.due
    assert after.computation.startswith("Recomputed: typhoon closure declared.")
    assert "Typhoon closure (national)" in after.computation
    assert in_chinese(after).startswith("重新计算：typhoon closure declared。\n")
    assert "Typhoon closure（人工调整，全国）" in in_chinese(after)
    assert_text_and_facts_agree(case)
    assert ledger(after) == [ClockEntry.Kind.STARTED, ClockEntry.Kind.RECOMPUTED]
    entry = after.entries.last()
    assert entry.actor is None
    assert (entry.due_before, entry.due_after) == (before.due_on, after.due_on)


def test_a_holiday_after_a_deadline_moves_nothing(company, record, applicant):
    case = submit(Case.Kind.RESTORATION, company, [record], applicant)
    before = deadline(case, Deadline.Step.ACCEPTANCE)
    later = before.due_on + datetime.timedelta(days=30)
    CalendarOverride.objects.create(day=later, is_working_day=False, name="Local holiday")

    actions.calendar_changed(reason="local holiday declared")

    assert deadline(case, Deadline.Step.ACCEPTANCE).due_on == before.due_on
    assert ledger(before) == [ClockEntry.Kind.STARTED]
