"""Working-day deadlines under the State Council holiday calendar and agency overrides.

Every date below was checked against the ``chinesecalendar`` package (1.11.0):
- 2025 Spring Festival: off 2025-01-28..02-04; worked Sun 2025-01-26 and Sat 2025-02-08.
- 2025 National Day + Mid-autumn: off 2025-10-01..10-08 (10-06 is Mid-autumn);
  worked Sun 2025-09-28 and Sat 2025-10-11.
- 2026 Spring Festival: off 2026-02-15..02-23; worked Sat 2026-02-14 and Sat 2026-02-28.
- 2026 Mid-autumn: off 2026-09-25..09-27. 2026 National Day: off 2026-10-01..10-07;
  worked Sun 2026-09-20 and Sat 2026-10-10.
- 2027 is not in the package.
"""

import datetime
import json

import chinese_calendar
import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.calendar import (
    CalendarYearUnknown,
    CountedDay,
    DayOverride,
    DayReason,
    SkippedDay,
    WorkingCalendar,
    day_reason_text,
    explain_computation,
    statutory_holidays,
)
from cases.models import CalendarYear

D = datetime.date

NATIONAL_CALENDAR = WorkingCalendar()


def days(first, last):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


# --- the national calendar as the package has it ---------------------------------------


def test_a_deadline_across_the_2026_spring_festival_skips_it_and_counts_both_adjusted_saturdays():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 2, 10), 10)

    # Day 1..4 = Feb 11, 12, 13, Sat 14 (调休); Feb 15..23 off; 5..9 = Feb 24..28 (Sat 28 调休);
    # Sun Mar 1 off; day 10 = Mon Mar 2.
    assert deadline.due == D(2026, 3, 2)
    assert [skip.day for skip in deadline.skipped] == [
        *days(D(2026, 2, 15), D(2026, 2, 23)),
        D(2026, 3, 1),
    ]
    assert {skip.reason for skip in deadline.skipped[:-1]} == {"Spring Festival (春节)"}
    assert deadline.skipped[-1] == SkippedDay(D(2026, 3, 1), "Sunday")
    assert deadline.adjusted_working_days == (
        CountedDay(D(2026, 2, 14), "adjusted working day (调休) for Spring Festival (春节)"),
        CountedDay(D(2026, 2, 28), "adjusted working day (调休) for Spring Festival (春节)"),
    )
    assert not deadline.provisional
    assert deadline.unknown_years == ()


def test_a_case_accepted_the_friday_before_the_2026_spring_festival_runs_on_the_saturday():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 2, 13), 1)

    assert deadline.due == D(2026, 2, 14)  # a Saturday, but a working day (调休)
    assert deadline.skipped == ()


def test_a_deadline_across_the_2025_spring_festival_counts_the_sunday_before_it():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2025, 1, 24), 5)

    # Sat Jan 25 off; day 1 = Sun Jan 26 (调休); day 2 = Jan 27; Jan 28..Feb 4 off;
    # days 3..5 = Feb 5, 6, 7.
    assert deadline.due == D(2025, 2, 7)
    assert [skip.day for skip in deadline.skipped] == [
        D(2025, 1, 25),
        *days(D(2025, 1, 28), D(2025, 2, 4)),
    ]
    assert [counted.day for counted in deadline.adjusted_working_days] == [D(2025, 1, 26)]


def test_a_deadline_across_the_2025_national_day_skips_eight_days_and_counts_both_weekend_days():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2025, 9, 26), 10)

    # Sat Sep 27 off; days 1..3 = Sun Sep 28 (调休), Sep 29, 30; Oct 1..8 off;
    # days 4..6 = Oct 9, 10, Sat 11 (调休); Sun Oct 12 off; days 7..10 = Oct 13..16.
    assert deadline.due == D(2025, 10, 16)
    assert [skip.day for skip in deadline.skipped] == [
        D(2025, 9, 27),
        *days(D(2025, 10, 1), D(2025, 10, 8)),
        D(2025, 10, 12),
    ]
    assert SkippedDay(D(2025, 10, 6), "Mid-autumn Festival (中秋节)") in deadline.skipped
    assert deadline.adjusted_working_days == (
        CountedDay(D(2025, 9, 28), "adjusted working day (调休) for National Day (国庆节)"),
        CountedDay(D(2025, 10, 11), "adjusted working day (调休) for National Day (国庆节)"),
    )


def test_a_deadline_across_the_2026_national_day_skips_mid_autumn_and_the_golden_week():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 9, 25), 20)

    assert deadline.due == D(2026, 10, 29)
    assert [skip.day for skip in deadline.skipped] == [
        D(2026, 9, 26),
        D(2026, 9, 27),
        *days(D(2026, 10, 1), D(2026, 10, 7)),
        D(2026, 10, 11),
        D(2026, 10, 17),
        D(2026, 10, 18),
        D(2026, 10, 24),
        D(2026, 10, 25),
    ]
    assert deadline.adjusted_working_days == (
        CountedDay(D(2026, 10, 10), "adjusted working day (调休) for National Day (国庆节)"),
    )


def test_the_explanation_lists_the_holiday_as_a_range_and_the_adjusted_working_day():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 9, 25), 20)

    assert deadline.explain() == "\n".join(
        [
            "20 working days from 2026-09-25 "
            "(the event day is not counted; day 1 is the next working day):",
            "  skipped 2026-09-26..09-27 Mid-autumn Festival (中秋节)",
            "  skipped 2026-10-01..10-07 National Day (国庆节)",
            "  skipped 5 ordinary weekend days",
            "  counted 2026-10-10 (Saturday): "
            "adjusted working day (调休) for National Day (国庆节)",
            "Due 2026-10-29 (Thursday).",
        ]
    )


def test_the_explanation_keeps_national_day_and_mid_autumn_in_one_range_in_2025():
    text = NATIONAL_CALENDAR.add_working_days(D(2025, 9, 30), 5).explain()

    assert "  skipped 2025-10-01..10-08 National Day (国庆节), Mid-autumn Festival (中秋节)" in text
    assert "  counted 2025-10-11 (Saturday): adjusted working day (调休)" in text
    assert text.endswith("Due 2025-10-14 (Tuesday).")
    assert "PROVISIONAL" not in text


def test_every_statutory_holiday_is_named_in_english_and_chinese():
    reasons = {
        NATIONAL_CALENDAR.day_status(day)[1]
        for day in days(D(2025, 1, 1), D(2025, 12, 31))
        if not NATIONAL_CALENDAR.is_working_day(day) and day.weekday() < 5
    }

    assert reasons == {
        "New Year's Day (元旦)",
        "Spring Festival (春节)",
        "Tomb-sweeping Day (清明节)",
        "Labour Day (劳动节)",
        "Dragon Boat Festival (端午节)",
        "Mid-autumn Festival (中秋节)",
        "National Day (国庆节)",
    }


def test_day_status_says_why_a_day_counts_or_not():
    assert NATIONAL_CALENDAR.day_status(D(2026, 10, 9)) == (True, "working day", True)
    assert NATIONAL_CALENDAR.day_status(D(2026, 10, 17)) == (False, "Saturday", True)
    assert NATIONAL_CALENDAR.day_status(D(2026, 10, 1)) == (False, "National Day (国庆节)", True)
    assert NATIONAL_CALENDAR.day_status(D(2026, 10, 10)) == (
        True,
        "adjusted working day (调休) for National Day (国庆节)",
        True,
    )


# --- overrides -------------------------------------------------------------------------

SHENZHEN_HOLIDAY = DayOverride(
    day=D(2026, 3, 10),  # a Tuesday, an ordinary working day nationally
    is_working_day=False,
    name="Shenzhen municipal holiday",
    scope="SZAMR",
)


def test_a_local_holiday_pushes_the_deadline_by_one_day_for_that_agency_only():
    shenzhen = WorkingCalendar([SHENZHEN_HOLIDAY], agency="SZAMR")
    guangzhou = WorkingCalendar([SHENZHEN_HOLIDAY], agency="GZAMR")

    assert NATIONAL_CALENDAR.add_working_days(D(2026, 3, 2), 10).due == D(2026, 3, 16)
    assert guangzhou.add_working_days(D(2026, 3, 2), 10).due == D(2026, 3, 16)
    deadline = shenzhen.add_working_days(D(2026, 3, 2), 10)
    assert deadline.due == D(2026, 3, 17)
    assert SkippedDay(D(2026, 3, 10), "override: Shenzhen municipal holiday (SZAMR)") in (
        deadline.skipped
    )
    assert "  skipped 2026-03-10 override: Shenzhen municipal holiday (SZAMR)" in (
        deadline.explain()
    )


def test_an_agency_override_beats_a_national_override_for_the_same_day():
    national_closure = DayOverride(
        D(2026, 3, 10), False, "State Council special holiday", "national"
    )
    shenzhen_on_duty = DayOverride(D(2026, 3, 10), True, "SZAMR on duty", "SZAMR")
    overrides = [national_closure, shenzhen_on_duty]

    shenzhen = WorkingCalendar(overrides, agency="SZAMR")
    everyone_else = WorkingCalendar(overrides, agency="GZAMR")

    assert shenzhen.day_status(D(2026, 3, 10)) == (True, "override: SZAMR on duty (SZAMR)", True)
    assert shenzhen.add_working_days(D(2026, 3, 2), 10).due == D(2026, 3, 16)
    assert everyone_else.day_status(D(2026, 3, 10)) == (
        False,
        "override: State Council special holiday (national)",
        True,
    )
    assert everyone_else.add_working_days(D(2026, 3, 2), 10).due == D(2026, 3, 17)


def test_a_national_override_beats_the_package():
    # E.g. a State Council notice extending the 2026 golden week by a day.
    extended = WorkingCalendar(
        [DayOverride(D(2026, 10, 8), False, "golden week extended", "national")]
    )

    assert NATIONAL_CALENDAR.add_working_days(D(2026, 9, 30), 1).due == D(2026, 10, 8)
    assert extended.add_working_days(D(2026, 9, 30), 1).due == D(2026, 10, 9)


def test_overrides_of_several_agencies_need_the_agency_named():
    other = DayOverride(D(2026, 3, 11), False, "Guangzhou closure", "GZAMR")

    with pytest.raises(ValueError, match="pass agency="):
        WorkingCalendar([SHENZHEN_HOLIDAY, other])
    # With one agency's rows only, naming it is optional.
    assert WorkingCalendar([SHENZHEN_HOLIDAY]).add_working_days(D(2026, 3, 2), 10).due == D(
        2026, 3, 17
    )


def test_two_overrides_that_disagree_about_the_same_day_are_refused():
    working = DayOverride(D(2026, 3, 10), True, "on duty", "SZAMR")

    with pytest.raises(ValueError, match="Conflicting SZAMR overrides for 2026-03-10"):
        WorkingCalendar([SHENZHEN_HOLIDAY, working])


# --- years the package does not know ---------------------------------------------------


def test_a_deadline_running_into_2027_is_provisional_and_names_2027():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 12, 20), 20)

    # Weekends and the fixed statutory holidays: New Year's Day 2027 is not a working day,
    # whatever the State Council's schedule adds around it.
    assert deadline.due == D(2027, 1, 18)
    assert SkippedDay(D(2027, 1, 1), "New Year's Day (元旦)") in deadline.skipped
    assert deadline.provisional
    assert deadline.unknown_years == (2027,)
    assert deadline.explain().endswith(
        "PROVISIONAL: the national holiday calendar for 2027 is not loaded; for those days "
        "only weekends and the fixed statutory holidays (全国年节及纪念日放假办法) were "
        "skipped, and the State Council's schedule may move days off and working days — "
        "load the 2027 schedule (admin: calendar years, or manage.py load_calendar) to "
        "confirm."
    )


def test_an_acceptance_in_december_2026_never_falls_due_on_new_years_day_2027():
    # Every start in December whose count ends around the turn of the year.
    for start in days(D(2026, 12, 1), D(2026, 12, 31)):
        for working_days in (1, 5, 10, 15, 20):
            due = NATIONAL_CALENDAR.add_working_days(start, working_days).due
            assert due != D(2027, 1, 1), (start, working_days)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (D(2027, 1, 1), "New Year's Day (元旦)"),
        (D(2027, 2, 5), "Spring Festival (春节)"),  # lunar New Year's Eve (除夕)
        (D(2027, 2, 8), "Spring Festival (春节)"),  # the third day of the first month
        (D(2027, 4, 5), "Tomb-sweeping Day (清明节)"),  # the 清明 solar term
        (D(2027, 5, 1), "Labour Day (劳动节)"),
        (D(2027, 5, 2), "Labour Day (劳动节)"),  # a Sunday, off anyway
        (D(2027, 6, 9), "Dragon Boat Festival (端午节)"),  # 5th of the 5th lunar month
        (D(2027, 9, 15), "Mid-autumn Festival (中秋节)"),  # 15th of the 8th lunar month
        (D(2027, 10, 1), "National Day (国庆节)"),
        (D(2027, 10, 3), "National Day (国庆节)"),
    ],
)
def test_a_year_not_loaded_skips_the_statutory_holidays_and_says_it_is_unsure(day, name):
    assert NATIONAL_CALENDAR.day_status(day) == (False, name, False)


def test_the_statutory_fallback_agrees_with_the_state_councils_schedules_it_has():
    # For the years the package has, every day the law fixes is a day off in the schedule.
    for year in (2025, 2026):
        fixed = statutory_holidays(year)
        assert len(fixed) == 13  # 1 + 4 + 1 + 2 + 1 + 1 + 3 days (the 2025 amendment)
        for day, name in fixed.items():
            assert chinese_calendar.get_holiday_detail(day) == (True, name), day


def test_the_day_after_the_spring_festival_in_2027_is_a_guessed_working_day():
    working, reason, known = NATIONAL_CALENDAR.day_status(D(2027, 2, 9))

    assert (working, known) == (True, False)
    assert "2027 national calendar not loaded" in reason


def test_a_day_in_2027_is_guessed_monday_to_friday_but_reported_unknown():
    an_ordinary_monday = D(2027, 1, 4)

    assert NATIONAL_CALENDAR.is_working_day(an_ordinary_monday) is True
    working, reason, known = NATIONAL_CALENDAR.day_status(an_ordinary_monday)
    assert (working, known) == (True, False)
    assert "2027 national calendar not loaded" in reason
    assert NATIONAL_CALENDAR.day_status(D(2027, 1, 2)) == (False, "Saturday", False)
    assert NATIONAL_CALENDAR.unknown_years_in(D(2026, 6, 1), D(2028, 2, 1)) == (2027, 2028)
    assert NATIONAL_CALENDAR.unknown_years_in(D(2025, 1, 1), D(2026, 12, 31)) == ()


def test_loading_2027_and_declaring_it_known_makes_the_deadline_final():
    new_years_day = DayOverride(D(2027, 1, 1), False, "New Year's Day (元旦)", "national")
    loaded = WorkingCalendar([new_years_day], known_years=[2027])

    deadline = loaded.add_working_days(D(2026, 12, 20), 20)

    assert deadline.due == D(2027, 1, 18)
    assert not deadline.provisional
    assert deadline.unknown_years == ()
    assert "PROVISIONAL" not in deadline.explain()
    assert loaded.day_status(D(2027, 1, 4)) == (True, "working day", True)


def test_overrides_alone_do_not_make_2027_known():
    new_years_day = DayOverride(D(2027, 1, 1), False, "New Year's Day (元旦)", "national")
    partly_loaded = WorkingCalendar([new_years_day])

    deadline = partly_loaded.add_working_days(D(2026, 12, 20), 20)

    assert deadline.due == D(2027, 1, 18)
    assert deadline.provisional
    assert deadline.unknown_years == (2027,)


def test_a_strict_calendar_refuses_to_guess_2027():
    strict = WorkingCalendar(strict=True)

    assert strict.add_working_days(D(2026, 12, 1), 5).due == D(2026, 12, 8)
    with pytest.raises(CalendarYearUnknown) as raised:
        strict.add_working_days(D(2026, 12, 20), 20)
    assert raised.value.years == (2027,)
    assert raised.value.code == "calendar_year_unknown"
    assert "2027" in raised.value.message
    with pytest.raises(CalendarYearUnknown):
        strict.is_working_day(D(2027, 1, 4))
    assert strict.day_status(D(2027, 1, 4))[2] is False


# --- the same computation in the reader's language -----------------------------------------


def in_chinese(computed) -> str:
    with translation.override("zh-hans"):
        return explain_computation(computed.as_facts())


def test_the_golden_week_deadline_reads_in_chinese_with_the_statutory_holiday_names():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 9, 25), 20)

    assert in_chinese(deadline) == "\n".join(
        [
            "自 2026-09-25 起 20 个工作日（事件当日不计入，次一工作日为第 1 日）：",
            "  跳过 2026-09-26 至 09-27：中秋节",
            "  跳过 2026-10-01 至 10-07：国庆节",
            "  跳过普通周末 5 天",
            "  计入 2026-10-10（星期六）：国庆节调休工作日",
            "截止日期：2026-10-29（星期四）。",
        ]
    )


def test_the_facts_are_codes_and_parameters_that_survive_json():
    facts = NATIONAL_CALENDAR.add_working_days(D(2026, 9, 25), 20).as_facts()

    assert json.loads(json.dumps(facts)) == facts
    assert (facts["start"], facts["working_days"], facts["due"]) == ("2026-09-25", 20, "2026-10-29")
    assert facts["prefix"] == {"kind": "started"}
    assert facts["skipped"][:3] == [
        {
            "first": "2026-09-26",
            "last": "2026-09-27",
            "reasons": [{"code": "holiday", "name": "Mid-autumn Festival"}],
        },
        {
            "first": "2026-10-01",
            "last": "2026-10-07",
            "reasons": [{"code": "holiday", "name": "National Day"}],
        },
        {"first": "2026-10-11", "last": "2026-10-11", "reasons": [{"code": "weekend"}]},
    ]
    assert facts["counted"] == [
        {"day": "2026-10-10", "reason": {"code": "adjusted_working_day", "name": "National Day"}}
    ]
    assert (facts["provisional"], facts["unknown_years"]) == (False, [])


@pytest.mark.parametrize(
    ("calendar", "start", "working_days"),
    [
        (NATIONAL_CALENDAR, D(2026, 2, 10), 10),
        (NATIONAL_CALENDAR, D(2026, 2, 13), 1),
        (NATIONAL_CALENDAR, D(2025, 1, 24), 5),
        (NATIONAL_CALENDAR, D(2025, 9, 26), 10),
        (NATIONAL_CALENDAR, D(2026, 9, 25), 20),
        (NATIONAL_CALENDAR, D(2025, 9, 30), 5),
        (WorkingCalendar([SHENZHEN_HOLIDAY], agency="SZAMR"), D(2026, 3, 2), 10),
        (
            WorkingCalendar(
                [
                    DayOverride(D(2026, 3, 10), False, "State Council special holiday", "national"),
                    DayOverride(D(2026, 3, 10), True, "SZAMR on duty", "SZAMR"),
                ],
                agency="SZAMR",
            ),
            D(2026, 3, 2),
            10,
        ),
        (
            WorkingCalendar(
                [DayOverride(D(2026, 10, 8), False, "golden week extended", "national")]
            ),
            D(2026, 9, 30),
            1,
        ),
        (NATIONAL_CALENDAR, D(2026, 12, 20), 20),
        (
            WorkingCalendar(
                [DayOverride(D(2027, 1, 1), False, "New Year's Day (元旦)", "national")],
                known_years=[2027],
            ),
            D(2026, 12, 20),
            20,
        ),
        (NATIONAL_CALENDAR, D(2027, 12, 20), 30),
        (NATIONAL_CALENDAR, D(2026, 10, 1), 0),
    ],
)
def test_stored_facts_give_back_the_english_audit_text_whatever_the_readers_language(
    calendar, start, working_days
):
    computed = calendar.add_working_days(start, working_days)
    stored = json.loads(json.dumps(computed.as_facts()))

    with translation.override("zh-hans"):
        english = computed.explain()
        assert explain_computation(stored, language="en") == english
        chinese = explain_computation(stored)
    assert "个工作日" in chinese and "working day" not in chinese
    assert "个工作日" not in english


def test_an_override_keeps_the_name_the_operator_entered_in_chinese():
    shenzhen = WorkingCalendar([SHENZHEN_HOLIDAY], agency="SZAMR")
    longer_golden_week = WorkingCalendar(
        [DayOverride(D(2026, 10, 8), False, "国庆假期延长一天", "national")]
    )

    assert "  跳过 2026-03-10：Shenzhen municipal holiday（人工调整，SZAMR）" in in_chinese(
        shenzhen.add_working_days(D(2026, 3, 2), 10)
    )
    assert "  跳过 2026-10-01 至 10-08：国庆节、国庆假期延长一天（人工调整，全国）" in in_chinese(
        longer_golden_week.add_working_days(D(2026, 9, 30), 1)
    )


def test_a_provisional_deadline_says_in_chinese_which_year_to_load():
    text = in_chinese(NATIONAL_CALENDAR.add_working_days(D(2026, 12, 20), 20))

    assert "  跳过 2027-01-01：元旦" in text
    assert "截止日期：2027-01-18（星期一）。" in text
    assert text.endswith(
        "暂定：2027 年度的国务院节假日安排尚未载入，这些日期仅跳过了周末和"
        "《全国年节及纪念日放假办法》规定的法定节假日，国务院的安排可能调整放假和调休上班的日期——"
        "请在管理后台的“日历年度”中或以 manage.py load_calendar 载入 2027 年度的安排以确认。"
    )
    # The admin section by the name the Chinese admin shows (it said "Calendar years").
    with translation.override("zh-hans"):
        assert f"“{CalendarYear._meta.verbose_name_plural}”" in text


def test_a_computation_stored_before_the_statutory_fallback_reads_as_it_was_written():
    # Facts stored when a year not loaded was counted Monday to Friday say so still.
    facts = NATIONAL_CALENDAR.add_working_days(D(2026, 12, 20), 20).as_facts()
    del facts["fallback"]

    assert explain_computation(facts, language="en").endswith(
        "PROVISIONAL: the national holiday calendar for 2027 is not loaded; weekends only were "
        "skipped for those days — load the 2027 calendar (admin: calendar overrides) to confirm."
    )


def test_zero_working_days_reads_in_chinese():
    assert in_chinese(NATIONAL_CALENDAR.add_working_days(D(2026, 10, 1), 0)) == (
        "自 2026-10-01 起 0 个工作日：于 2026-10-01 当日到期。"
    )


def test_every_reason_a_day_counts_or_not_reads_in_chinese():
    reasons = [
        DayReason("working_day"),
        DayReason("assumed_working_day", year=2027),
        DayReason("weekend", weekday=5),
        DayReason("holiday", name="Spring Festival"),
        DayReason("adjusted_working_day", name="National Day"),
        DayReason("override", name="Typhoon closure", scope="national"),
    ]

    with translation.override("zh-hans"):
        chinese = [day_reason_text(reason) for reason in reasons]
    english = [day_reason_text(reason.as_facts()) for reason in reasons]

    assert chinese == [
        "工作日",
        "工作日（推定：2027 年度国家法定节假日安排尚未载入）",
        "星期六",
        "春节",
        "国庆节调休工作日",
        "Typhoon closure（人工调整，全国）",
    ]
    assert english == [
        "working day",
        "working day (assumed: 2027 national calendar not loaded)",
        "Saturday",
        "Spring Festival (春节)",
        "adjusted working day (调休) for National Day (国庆节)",
        "override: Typhoon closure (national)",
    ]


# --- edge cases ------------------------------------------------------------------------


def test_zero_working_days_is_due_on_the_event_day_itself():
    deadline = NATIONAL_CALENDAR.add_working_days(D(2026, 10, 1), 0)

    assert deadline.due == D(2026, 10, 1)
    assert deadline.skipped == ()
    assert deadline.adjusted_working_days == ()
    assert not deadline.provisional
    assert deadline.explain() == "0 working days from 2026-10-01: due on 2026-10-01 itself."


def test_a_negative_number_of_working_days_is_refused():
    with pytest.raises(ValueError, match="0 or more working days, not -1"):
        NATIONAL_CALENDAR.add_working_days(D(2026, 3, 2), -1)


def test_a_datetime_is_refused_so_the_caller_picks_the_local_day():
    with pytest.raises(TypeError, match=r"Expected a datetime\.date"):
        NATIONAL_CALENDAR.add_working_days(datetime.datetime(2026, 3, 2, 23, 30), 5)


def test_working_days_between_counts_after_the_start_up_to_and_including_the_end():
    assert NATIONAL_CALENDAR.working_days_between(D(2026, 9, 30), D(2026, 10, 8)) == 1
    assert NATIONAL_CALENDAR.working_days_between(D(2026, 9, 30), D(2026, 9, 30)) == 0
    # A case 2 working days overdue.
    assert NATIONAL_CALENDAR.working_days_between(D(2026, 10, 14), D(2026, 10, 12)) == -2


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 12, 31)),
    n=st.integers(min_value=0, max_value=60),
)
def test_working_days_between_agrees_with_add_working_days(start, n):
    due = NATIONAL_CALENDAR.add_working_days(start, n).due

    assert NATIONAL_CALENDAR.working_days_between(start, due) == n
    if n > 0:
        assert NATIONAL_CALENDAR.is_working_day(due)
        # ...and it is the first such day: one day earlier is one working day short.
        assert NATIONAL_CALENDAR.working_days_between(start, due - datetime.timedelta(days=1)) == (
            n - 1
        )
