"""Loading a year's State Council holiday schedule (issue 13, item 5).

An administrator loads the notice's days from a file, by ``manage.py load_calendar`` or
in the admin; the open cases' deadlines are recomputed at once, each with a ledger entry
naming the schedule, and stop being provisional. A wrong file is refused with every
problem named, and nothing is written. ``manage.py check`` warns from 1 November while
next year's schedule is missing.
"""

import datetime
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation

from cases.calendar import parse_schedule, statutory_holidays
from cases.clock import deadline_start
from cases.errors import InvalidInput
from cases.models import CalendarOverride, CalendarYear, ClockEntry, Deadline
from tests.flow_helpers import file_restoration
from tests.helpers import restorable_record

D = datetime.date
EXAMPLE = Path(settings.BASE_DIR) / "docs" / "calendar" / "2027-statutory-example.csv"
SOURCE = "国务院办公厅关于2027年部分节假日安排的通知（测试用）"


def schedule_text(*extra_rows: str, source: str = SOURCE) -> str:
    """The 2027 example with a source line and the rows ``extra_rows``.

    The extra rows stand for what a notice adds; they are test data, not the notice.
    """
    lines = [f"# source: {source}"] if source else []
    lines.append(EXAMPLE.read_text(encoding="utf-8"))
    lines.extend(extra_rows)
    return "\n".join(lines) + "\n"


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def case(company, record, applicant):
    return file_restoration(company, [record], applicant)


# --- the file ------------------------------------------------------------------------------


def test_the_example_file_lists_the_2027_statutory_holidays_and_needs_its_notice_named():
    with pytest.raises(InvalidInput) as refused:
        parse_schedule(EXAMPLE.read_bytes())
    assert "source" in refused.value.message

    schedule = parse_schedule(EXAMPLE.read_bytes(), source=SOURCE)

    assert schedule.year == 2027
    assert schedule.source == SOURCE
    assert {day.day for day in schedule.days} == set(statutory_holidays(2027))
    assert all(not day.is_working_day and day.scope == "national" for day in schedule.days)
    assert schedule.days[0].name == "元旦"


def test_a_schedule_reads_the_notices_own_words_and_a_bom():
    text = "\ufeff" + schedule_text("2027-02-09,休,春节", "2027-02-20,班,春节调休")

    schedule = parse_schedule(text.encode("utf-8"))

    worked = [day for day in schedule.days if day.is_working_day]
    assert [(day.day, day.name) for day in worked] == [(D(2027, 2, 20), "春节调休")]
    assert (schedule.holidays, schedule.working_days) == (14, 1)


def test_a_wrong_file_is_refused_naming_every_line_in_the_readers_language():
    text = schedule_text(
        "2027-13-01,holiday,typo",
        "2027-03-03,sometimes,",
        "2027-03-01,working_day,a Monday",
        "2027-01-01,holiday,元旦 again",
    ).replace("2027-10-02,holiday,国庆节\n", "")

    with translation.override("zh-hans"), pytest.raises(InvalidInput) as refused:
        parse_schedule(text)

    message = refused.value.message
    assert message.startswith("节假日安排文件未载入：")
    assert "第 23 行：“2027-13-01”不是日期" in message, message
    assert "第 24 行：“sometimes”既不是 holiday（休）也不是 working_day（班）" in message
    assert "第 25 行：2027-03-01 是星期一" in message
    assert "第 26 行：2027-01-01 重复列出（首次见第 10 行）" in message
    assert "2027-10-02（国庆节）是《全国年节及纪念日放假办法》规定的法定节假日" in message
    assert refused.value.field == "file"


def test_a_file_of_two_years_or_without_a_header_is_refused():
    with pytest.raises(InvalidInput, match="one year"):
        parse_schedule(schedule_text("2028-01-01,holiday,元旦"))
    with pytest.raises(InvalidInput, match="header"):
        parse_schedule("2027-01-01,holiday,元旦\n")


# --- loading it ----------------------------------------------------------------------------


def test_loading_the_schedule_confirms_a_provisional_deadline_and_says_so_in_its_ledger(
    case, tmp_path
):
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=10, actor=None, on=D(2026, 12, 24)
    )
    assert (running.due_on, running.provisional) == (D(2027, 1, 8), True)
    path = tmp_path / "2027.csv"
    # Test data standing for a notice that gives 4 January off in lieu (补假).
    path.write_text(schedule_text("2027-01-04,holiday,元旦补假"), encoding="utf-8")

    out = io.StringIO()
    call_command("load_calendar", str(path), stdout=out)

    running.refresh_from_db()
    assert running.provisional is False
    assert running.due_on == D(2027, 1, 11)
    assert "PROVISIONAL" not in running.computation
    assert running.computation.startswith(
        f"Recomputed: national holiday schedule for 2027 loaded ({SOURCE})."
    )
    entry = running.entries.last()
    assert entry.kind == ClockEntry.Kind.RECOMPUTED
    assert (entry.due_before, entry.due_after) == (D(2027, 1, 8), D(2027, 1, 11))
    assert CalendarYear.objects.get(year=2027).source == SOURCE
    assert CalendarOverride.objects.filter(day__year=2027, agency=None).count() == 14
    assert "14 days off" in out.getvalue() and "1 open deadlines recomputed" in out.getvalue()


def test_loading_it_again_changes_nothing_more(case, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text(schedule_text(), encoding="utf-8")
    call_command("load_calendar", str(path), stdout=io.StringIO())

    out = io.StringIO()
    call_command("load_calendar", str(path), stdout=out)

    assert "0 overrides created, 13 updated" in out.getvalue()
    assert CalendarOverride.objects.filter(day__year=2027).count() == 13


def test_a_refused_file_writes_nothing(case, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text(schedule_text("2027-03-01,working_day,"), encoding="utf-8")

    with pytest.raises(CommandError, match="2027-03-01"):
        call_command("load_calendar", str(path), stdout=io.StringIO())

    assert not CalendarOverride.objects.exists()
    assert not CalendarYear.objects.exists()


def test_a_dry_run_writes_nothing(case, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text(schedule_text(), encoding="utf-8")
    out = io.StringIO()

    call_command("load_calendar", str(path), "--dry-run", stdout=out)

    assert "Would load 2027" in out.getvalue()
    assert not CalendarYear.objects.exists()


def test_an_administrator_loads_the_schedule_in_the_admin(admin_client, case):
    running = deadline_start(
        case, Deadline.Step.DECISION, working_days=10, actor=None, on=D(2026, 12, 24)
    )
    page = reverse("admin:cases_calendaryear_load")
    assert page in admin_client.get(reverse("admin:cases_calendaryear_changelist")).text

    response = admin_client.post(
        page,
        {
            "file": SimpleUploadedFile("2027.csv", schedule_text(source="").encode()),
            "source": SOURCE,
        },
        follow=True,
    )

    assert "Loaded the 2027 schedule" in response.text
    running.refresh_from_db()
    assert running.provisional is False
    year = CalendarYear.objects.get(year=2027)
    assert year.declared_by.is_superuser


def test_a_wrong_file_in_the_admin_is_shown_on_the_form_and_nothing_is_written(admin_client):
    response = admin_client.post(
        reverse("admin:cases_calendaryear_load"),
        {"file": SimpleUploadedFile("2027.csv", b"2027-01-01,holiday\n"), "source": SOURCE},
    )

    assert response.status_code == 200
    assert "header line" in response.text
    assert not CalendarYear.objects.exists()


# --- the system check ----------------------------------------------------------------------


def schedule_warnings() -> list[str]:
    return [
        m.msg
        for m in checks.run_checks(tags=["cases"], databases=["default"])
        if m.id == "cases.W002"
    ]


@pytest.mark.django_db
def test_from_1_november_the_check_warns_that_next_years_schedule_is_missing(monkeypatch):
    real_now = timezone.now

    def on(day):
        moment = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.UTC)
        monkeypatch.setattr(timezone, "now", lambda: moment)

    on(D(2026, 10, 31))
    assert schedule_warnings() == []
    on(D(2026, 11, 1))
    assert schedule_warnings() == [
        "The national holiday schedule for 2027 is not loaded: deadlines that reach 2027 skip "
        "weekends and the fixed statutory holidays only, and every page and letter marks them "
        "provisional."
    ]
    on(D(2027, 3, 1))  # a year running without its schedule is warned about too
    assert len(schedule_warnings()) == 1

    CalendarYear.objects.create(year=2027, source=SOURCE)
    assert schedule_warnings() == []
    monkeypatch.setattr(timezone, "now", real_now)
