"""The supervisors' figures on a small hand-built history where every number is known.

March 2025 has no holiday: its working days are Monday to Friday. "Today" is Friday
14 March 2025. Four cases of one agency, two officers (see ``history``):

* A (objection, Olga): submitted Mon 3 Mar, decided Fri 7 Mar — 4 working days.
* B (restoration, Oscar): submitted Mon 3 Mar, clock stopped for materials Tue 4 to
  Thu 6 Mar (2 working days), decided Wed 12 Mar — 7 working days less 2 = 5.
* C (restoration, Olga): open under review since Mon 24 Feb — 14 working days old.
* D (objection, nobody yet): submitted Mon 10 Mar, waiting for materials since Tue 11
  Mar — 4 working days less 3 paused = 1.
"""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from cases.models import (
    Case,
    CaseRecord,
    ClockEntry,
    Deadline,
    Membership,
    Publication,
    PublicationEffect,
    Role,
)
from tests import factories
from tests.helpers import api_token
from workflows.metrics import (
    MetricsFilters,
    facts_sum,
    facts_sum_each,
    groups_add,
    metrics_refresh,
    metrics_report,
    summaries_read,
)
from workflows.models import MetricsScopeSummary, MetricsSnapshot
from workflows.tasks import metrics_refresh as refresh_task

TODAY = datetime.date(2025, 3, 14)


def at(day: str, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.fromisoformat(day).replace(hour=hour))


def _case(agency, record, reference, kind, status, submitted, officer=None, decided=None):
    case = Case.objects.create(
        reference=reference,
        kind=kind,
        subject=record.subject,
        agency=agency,
        applicant=factories.UserFactory(username="applicant"),
        filed_by=factories.UserFactory(username="applicant"),
        status=status,
        submitted_at=at(submitted),
        decided_at=at(decided) if decided else None,
        closed_at=at(decided) if decided and status == Case.Status.CLOSED else None,
        review_officer=officer,
    )
    CaseRecord.objects.create(case=case, record=record, status_before=record.status)
    return case


def _deadline(case, step, status, due, started="2025-03-03"):
    return Deadline.objects.create(
        case=case,
        step=step,
        status=status,
        started_on=datetime.date.fromisoformat(started),
        working_days=5,
        due_on=datetime.date.fromisoformat(due),
        computation="-",
    )


@pytest.fixture
def history(db):
    return build_history()


def build_history(code: str = "SZAMR"):
    """The module's history at a new agency ``code``, its figures refreshed as of TODAY."""
    agency = factories.AgencyFactory(code=code)
    olga = factories.officer(Role.CASE_OFFICER, agency, f"olga-{code}", first_name="Olga")
    oscar = factories.officer(Role.CASE_OFFICER, agency, f"oscar-{code}", first_name="Oscar")
    platform = factories.PlatformFactory(
        code="credit-china", name="信用中国", name_en="Credit China"
    )
    general = factories.RecordFactory(agency=agency, severity="general")
    serious = factories.RecordFactory(agency=agency, severity="serious")
    objection, restoration = Case.Kind.OBJECTION, Case.Kind.RESTORATION
    a = _case(
        agency,
        general,
        f"{code}-A",
        objection,
        Case.Status.CLOSED,
        "2025-03-03",
        olga,
        "2025-03-07",
    )
    b = _case(
        agency,
        serious,
        f"{code}-B",
        restoration,
        Case.Status.APPEAL_WINDOW,
        "2025-03-03",
        oscar,
        "2025-03-12",
    )
    c = _case(
        agency, general, f"{code}-C", restoration, Case.Status.UNDER_REVIEW, "2025-02-24", olga
    )
    d = _case(agency, general, f"{code}-D", objection, Case.Status.AWAITING_MATERIALS, "2025-03-10")

    _deadline(a, Deadline.Step.ACCEPTANCE, Deadline.Status.MET, "2025-03-05")
    _deadline(a, Deadline.Step.DECISION, Deadline.Status.MET, "2025-03-14")
    stopped = _deadline(b, Deadline.Step.DECISION, Deadline.Status.MISSED, "2025-03-12")
    ClockEntry.objects.create(case=b, deadline=stopped, kind="stopped", at=at("2025-03-04"))
    ClockEntry.objects.create(case=b, deadline=stopped, kind="resumed", at=at("2025-03-06"))
    _deadline(c, Deadline.Step.DECISION, Deadline.Status.RUNNING, "2025-03-13")
    waiting = _deadline(d, Deadline.Step.ACCEPTANCE, Deadline.Status.STOPPED, "2025-03-17")
    ClockEntry.objects.create(case=d, deadline=waiting, kind="stopped", at=at("2025-03-11"))
    _deadline(d, Deadline.Step.MATERIALS, Deadline.Status.RUNNING, "2025-03-20")

    for record, requested, acknowledged in (
        (general, "2025-03-07", "2025-03-11"),
        (serious, "2025-03-12", None),
    ):
        publication = Publication.objects.create(record=record, platform=platform)
        PublicationEffect.objects.create(
            publication=publication,
            kind=PublicationEffect.Kind.PUBLICATION_ENDED,
            requested_at=at(requested),
            acknowledged_at=at(acknowledged) if acknowledged else None,
        )
    metrics_refresh([agency], today=TODAY)
    return agency


def tables(report) -> dict[str, list[list]]:
    return {
        table.key: [[str(cell) for cell in row] for row in table.rows] for table in report.tables()
    }


def test_the_figures_of_a_known_history(history):
    figures = tables(metrics_report([history.pk]))

    assert figures["backlog_by_step"] == [
        ["Submitted: acceptance check", "0"],
        ["Waiting for missing materials", "1"],
        ["Evidence review", "1"],
        ["Legal review", "0"],
        ["Sign-off", "0"],
        ["List removal in progress", "0"],
    ]
    assert figures["ageing"][0] == ["0–5 working days", "1"]  # D: 4 less 3 paused
    assert figures["ageing"][2] == ["11–20 working days", "1"]  # C: 14
    assert sum(int(n) for _label, n in figures["ageing"]) == 2
    assert figures["officer_load"] == [["Olga", "1"], ["Not yet assigned", "1"]]
    assert figures["trend"][-3:] == [
        # week, submitted, left, backlog at the end, deadlines met, missed
        ["2025-02-24", "1", "0", "1", "0", "0"],
        ["2025-03-03", "2", "1", "2", "1", "0"],
        ["2025-03-10", "1", "1", "2", "1", "2"],
    ]
    assert figures["cycle_by_kind"] == [
        ["Objection (异议)", "1", "4", "4"],
        ["Credit restoration (信用修复)", "1", "5", "5"],
    ]
    # Lists and platforms named in the reader's language, as everywhere else.
    list_name = factories.list_type().name_en
    assert figures["cycle_by_list"] == [[list_name, "2", "4", "5"]]
    assert figures["cycle_by_tier"] == [["General", "1", "4", "4"], ["Serious", "1", "5", "5"]]
    assert figures["paused"] == [
        ["Objection (异议)", "1", "3", "3", "3"],  # D, still waiting: to today
        ["Credit restoration (信用修复)", "1", "2", "2", "2"],
    ]
    assert figures["deadlines_by_step"] == [
        ["Acceptance check", "1", "0", "100%"],
        ["Decision", "1", "2", "33%"],  # B missed; C still running past its due day
    ]
    assert figures["deadlines_by_officer"] == [["Olga", "2", "1", "67%"], ["Oscar", "0", "1", "0%"]]
    assert figures["acknowledgements"] == [["Credit China", "1", "2", "2", "1", "2"]]


def test_filters_narrow_the_figures_they_have_a_dimension_for(history):
    olga = factories.UserFactory(username="olga-SZAMR")
    report = metrics_report([history.pk], MetricsFilters(officer_id=olga.pk))
    figures = tables(report)
    assert figures["officer_load"] == [["Olga", "1"]]
    assert figures["cycle_by_kind"] == [["Objection (异议)", "1", "4", "4"]]
    # A platform's acknowledgements belong to no officer: the officer filter leaves them.
    assert figures["acknowledgements"] == [["Credit China", "1", "2", "2", "1", "2"]]

    one_week = tables(
        metrics_report(
            [history.pk],
            MetricsFilters(start=datetime.date(2025, 3, 3), end=datetime.date(2025, 3, 7)),
        )
    )
    assert one_week["trend"] == [["2025-03-03", "2", "1", "2", "1", "0"]]
    assert one_week["cycle_by_kind"] == [["Objection (异议)", "1", "4", "4"]]

    decisions = tables(metrics_report([history.pk], MetricsFilters(step="decision")))
    assert decisions["deadlines_by_step"] == [["Decision", "1", "2", "33%"]]


def test_the_dashboard_its_downloads_and_the_api_show_the_same_numbers(client, history):
    supervisor = factories.officer(Role.SUPERVISOR, history, "sue")
    client.force_login(supervisor)
    page = client.get(reverse("workspace:metrics"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Backlog and breaches by week" in body
    assert "As of" in body
    assert "<svg" in body

    rows = list(
        csv.reader(io.StringIO(client.get(reverse("workspace:metrics_csv")).content.decode()))
    )
    assert ["Cycle time by kind of case", "Credit restoration (信用修复)", "1", "5", "5"] in rows

    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(reverse("workspace:metrics_xlsx")).content)
    )
    sheet = workbook["cycle_by_kind"]
    assert [c.value for c in sheet[3]] == ["Credit restoration (信用修复)", 1, 5, 5]

    answer = client.get(
        "/api/v1/metrics/", HTTP_AUTHORIZATION=f"Token {api_token(supervisor)}"
    ).json()
    by_key = {t["key"]: t for t in answer["tables"]}
    assert by_key["cycle_by_kind"]["rows"][1] == ["Credit restoration (信用修复)", 1, 5, 5]
    # An English answer names the agency in English, as its titles and rows.
    assert answer["agencies"] == [{"code": "SZAMR", "name": history.name_en}]


def test_a_supervisor_of_two_agencies_sees_them_together_and_each_alone(client, history):
    other = build_history("GZAMR")
    supervisor = factories.officer(Role.SUPERVISOR, history, "sue")
    factories.officer(Role.SUPERVISOR, other, "sue")
    client.force_login(supervisor)

    both = client.get(reverse("workspace:metrics"))
    assert both.status_code == 200
    assert 'name="agency"' in both.content.decode()
    both_rows = list(
        csv.reader(io.StringIO(client.get(reverse("workspace:metrics_csv")).content.decode()))
    )
    assert [
        "Cycle time by kind of case",
        "Credit restoration (信用修复)",
        "2",
        "5",
        "5",
    ] in both_rows

    alone = client.get(reverse("workspace:metrics_csv"), {"agency": "GZAMR"}).content.decode()
    assert "Cycle time by kind of case,Credit restoration (信用修复),1,5,5" in alone


def test_a_filter_not_understood_is_said_and_nothing_is_guessed(client, history):
    supervisor = factories.officer(Role.SUPERVISOR, history, "sue")
    client.force_login(supervisor)
    page = client.get(reverse("workspace:metrics"), {"start": "3 March", "officer": "12abc"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Give a date as YYYY-MM-DD" in body
    assert "No such officer at these agencies." in body

    answer = client.get("/api/v1/metrics/", {"end": "2025-02-30"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_input"
    assert answer.json()["field"] == "end"


def test_the_page_reads_in_chinese(client, history):
    supervisor = factories.officer(Role.SUPERVISOR, history, "sue")
    client.force_login(supervisor)
    client.cookies["django_language"] = "zh-hans"
    body = client.get(reverse("workspace:metrics"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "每周积压与超期" in body
    assert "机关统计数据" in body
    # The list and the platform by their Chinese names (the English ones on an English page).
    assert factories.list_type().name in body
    assert "信用中国" in body


def test_the_worker_refreshes_the_figures_on_its_schedule(client, settings, history):
    schedule = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "workflows.metrics_refresh" in schedule
    newcomer = factories.AgencyFactory(code="NEWAMR")
    supervisor = factories.officer(Role.SUPERVISOR, newcomer, "nina")
    client.force_login(supervisor)
    assert "not computed yet" in client.get(reverse("workspace:metrics")).content.decode()

    refresh_task()

    assert "not computed yet" not in client.get(reverse("workspace:metrics")).content.decode()
    assert MetricsSnapshot.objects.filter(agency=newcomer).exists()


def _facts_read(queries) -> bool:
    return any("workflows_metricsfact" in q["sql"] for q in queries)


def _summaries_read(queries) -> bool:
    """Whether some agency's own summaries were read (not a scope's sum of several)."""
    return any('"workflows_metricssummary"' in q["sql"] for q in queries)


def test_a_view_the_refresh_summed_is_read_without_summing_the_facts(history):
    """The refresh sums the first view and each filter alone, and keeps weekly running
    totals for any period of the unfiltered figures; a request for one of them, of one
    agency or of the agencies a supervisor reads together, reads the summaries, never the
    facts (of several agencies: their sum, one row, not each agency's)."""
    from django.core.cache import cache

    other = build_history("GZAMR")
    chief = factories.officer(Role.SUPERVISOR, history, "chief")
    Membership.objects.create(user=chief, agency=other, role=Role.SUPERVISOR)
    metrics_refresh([history, other], today=TODAY)
    olga = factories.UserFactory(username="olga-SZAMR")
    views = [
        MetricsFilters(),
        MetricsFilters(officer_id=olga.pk),
        MetricsFilters(step="decision"),
        MetricsFilters(list_code=factories.list_type().code),
        MetricsFilters(start=datetime.date(2025, 1, 6)),
        MetricsFilters(start=datetime.date(2025, 3, 3), end=datetime.date(2025, 3, 9)),
    ]
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for filters in views:
                for agencies in ([history.pk], [history.pk, other.pk]):
                    cache.clear()
                    with CaptureQueriesContext(connection) as counted:
                        metrics_report(agencies, filters).tables()
                    assert not _facts_read(counted), (filters, agencies)
                    assert len(counted) <= 8, [q["sql"][:150] for q in counted]
                    if len(agencies) > 1:
                        assert not _summaries_read(counted), filters


def test_a_view_first_asked_for_is_summed_once_then_read_by_every_process(
    history, django_assert_max_num_queries
):
    from django.core.cache import cache

    olga = factories.UserFactory(username="olga-SZAMR")
    view = MetricsFilters(officer_id=olga.pk, step="decision", start=datetime.date(2025, 3, 3))
    with django_assert_max_num_queries(30) as first:
        figures = tables(metrics_report([history.pk], view))
    assert _facts_read(first)
    cache.clear()  # another web process: its own cache is empty
    with django_assert_max_num_queries(8) as again:
        assert tables(metrics_report([history.pk], view)) == figures
    assert not _facts_read(again)
    assert figures["deadlines_by_officer"] == [["Olga", "1", "1", "50%"]]


def test_a_filter_with_a_chosen_period_sums_from_the_facts_only_the_figures_it_narrows(history):
    """A step filtered over a chosen period narrows the backlog and the deadlines: only
    those three figures are summed from the facts (of that step); the others are the
    period's unfiltered sums, read from the refresh's running totals."""
    view = MetricsFilters(step="decision", start=datetime.date(2025, 1, 6))
    with CaptureQueriesContext(connection) as counted:
        figures = tables(metrics_report([history.pk], view))
    summed = [q["sql"] for q in counted if "workflows_metricsfact" in q["sql"]]
    assert len(summed) == 3 and all("decision" in sql for sql in summed), summed
    assert figures["deadlines_by_step"] == [["Decision", "1", "2", "33%"]]
    assert figures["cycle_by_kind"] == [
        ["Objection (异议)", "1", "4", "4"],
        ["Credit restoration (信用修复)", "1", "5", "5"],
    ]


def sorted_groups(groups):
    """Figure groups compared without regard to the order of their rows."""
    return {k: sorted(v, key=str) for k, v in groups.items()}


def test_the_summaries_add_up_to_the_facts_summed_directly(history):
    """Every view, of one agency or two, gives from the summaries what one sum over all
    the agencies' facts gives."""
    other = build_history("GZAMR")
    olga = factories.UserFactory(username="olga-SZAMR")
    views = [
        MetricsFilters(),
        MetricsFilters(officer_id=olga.pk),
        MetricsFilters(step="decision"),
        MetricsFilters(step="under_review"),
        MetricsFilters(list_code=factories.list_type().code),
        MetricsFilters(start=datetime.date(2025, 3, 3), end=datetime.date(2025, 3, 7)),
        MetricsFilters(officer_id=olga.pk, step="decision", start=datetime.date(2025, 1, 6)),
        MetricsFilters(start=datetime.date(2024, 1, 1)),
        MetricsFilters(start=datetime.date(2025, 3, 10), end=datetime.date(2025, 6, 30)),
        MetricsFilters(start=datetime.date(2025, 3, 4), end=datetime.date(2025, 3, 4)),
        MetricsFilters(end=datetime.date(2024, 6, 30)),
    ]
    for filters in views:
        for agencies in ([history.pk], [history.pk, other.pk]):
            report = metrics_report(agencies, filters)
            first, last = report.first_week, report.last_week
            summed = summaries_read(report._snapshots, filters, first, last)
            direct = groups_add([facts_sum(agencies, filters, first, last)])
            assert sorted_groups(summed) == sorted_groups(direct), (filters, agencies)
            each = facts_sum_each(agencies, filters, first, last)
            for pk in agencies:
                alone = facts_sum([pk], filters, first, last)
                assert sorted_groups(each[pk]) == sorted_groups(alone)
    # Two agencies' figures are each agency's added up: two cases decided per kind.
    both = tables(metrics_report([history.pk, other.pk]))
    assert both["cycle_by_kind"] == [
        ["Objection (异议)", "2", "4", "4"],
        ["Credit restoration (信用修复)", "2", "5", "5"],
    ]


def test_the_sums_of_several_agencies_are_their_facts_summed_directly(history):
    """The agencies a supervisor reads together are added up at the refresh (the first
    views and the weekly running totals) or on a view's first request, and kept as one
    sum: read back, every view gives what one sum over their facts gives; a refresh of
    either agency makes it summed anew."""
    other = build_history("GZAMR")
    chief = factories.officer(Role.SUPERVISOR, history, "chief")
    Membership.objects.create(user=chief, agency=other, role=Role.SUPERVISOR)
    metrics_refresh([history, other], today=TODAY)
    olga = factories.UserFactory(username="olga-SZAMR")
    views = [
        MetricsFilters(),
        MetricsFilters(officer_id=olga.pk),
        MetricsFilters(step="decision"),
        MetricsFilters(step="awaiting_materials"),
        MetricsFilters(list_code=factories.list_type().code),
        MetricsFilters(start=datetime.date(2025, 3, 3), end=datetime.date(2025, 3, 7)),
        MetricsFilters(officer_id=olga.pk, step="decision", start=datetime.date(2025, 1, 6)),
        MetricsFilters(start=datetime.date(2024, 1, 1)),
        MetricsFilters(start=datetime.date(2025, 3, 10), end=datetime.date(2025, 6, 30)),
        MetricsFilters(start=datetime.date(2025, 3, 4), end=datetime.date(2025, 3, 4)),
        MetricsFilters(end=datetime.date(2024, 6, 30)),
    ]
    both = [history.pk, other.pk]

    def check():
        for filters in views:
            report = metrics_report(both, filters)
            first, last = report.first_week, report.last_week
            direct = sorted_groups(groups_add([facts_sum(both, filters, first, last)]))
            for _time in ("first", "again"):  # added up, then read back as one sum
                summed = summaries_read(report._snapshots, filters, first, last)
                assert sorted_groups(summed) == direct, (filters, _time)

    check()
    assert MetricsScopeSummary.objects.values("scope").distinct().count() == 1
    scope = MetricsScopeSummary.objects.first().scope
    _case(
        history,
        factories.RecordFactory(agency=history, severity="general"),
        "SZAMR-E",
        Case.Kind.OBJECTION,
        Case.Status.CLOSED,
        "2025-03-03",
        olga,
        "2025-03-13",
    )
    metrics_refresh([history], today=TODAY)
    # The sums of the earlier refresh are gone; the new ones hold the new case.
    assert not MetricsScopeSummary.objects.filter(scope=scope).exists()
    check()
    assert tables(metrics_report(both))["cycle_by_kind"][0] == ["Objection (异议)", "3", "4", "8"]


def test_a_summary_of_an_earlier_refresh_is_not_read(history):
    """A case decided after the refresh counts once the worker refreshes again, in views
    summed at the refresh and in views first asked for before it."""
    olga = factories.UserFactory(username="olga-SZAMR")
    view = MetricsFilters(officer_id=olga.pk, step="decision")
    assert tables(metrics_report([history.pk], view))["cycle_by_kind"] == [
        ["Objection (异议)", "1", "4", "4"]
    ]
    record = factories.RecordFactory(agency=history, severity="general")
    _case(
        history,
        record,
        "SZAMR-E",
        Case.Kind.OBJECTION,
        Case.Status.CLOSED,
        "2025-03-03",
        olga,
        "2025-03-13",
    )
    metrics_refresh([history], today=TODAY)
    for filters in (view, MetricsFilters()):
        figures = tables(metrics_report([history.pk], filters))
        assert figures["cycle_by_kind"][0] == ["Objection (异议)", "2", "4", "8"]


def test_an_auditor_reads_the_figures_of_the_agencies_they_audit_and_no_other(client, history):
    other = build_history("GZAMR")
    auditor = factories.officer(Role.AUDITOR, history, "audrey")
    token = {"HTTP_AUTHORIZATION": f"Token {api_token(auditor)}"}

    answer = client.get("/api/v1/metrics/", **token)
    assert answer.status_code == 200
    assert answer.json()["agencies"] == [{"code": "SZAMR", "name": history.name_en}]
    by_key = {t["key"]: t for t in answer.json()["tables"]}
    assert by_key["cycle_by_kind"]["rows"][1] == ["Credit restoration (信用修复)", 1, 5, 5]
    assert client.get("/api/v1/metrics/", {"agency": "GZAMR"}, **token).status_code == 404

    # A supervisor of the other agency alone sees its figures, not the audited one's.
    sue = factories.officer(Role.SUPERVISOR, other, "sue")
    client.force_login(sue)
    assert client.get(reverse("workspace:metrics_csv"), {"agency": "SZAMR"}).status_code == 404
    alone = client.get(reverse("workspace:metrics_csv")).content.decode()
    assert "Cycle time by kind of case,Credit restoration (信用修复),1,5,5" in alone
    # An officer who neither supervises nor audits reads no figures.
    client.force_login(factories.UserFactory(username="olga-SZAMR"))
    assert client.get(reverse("workspace:metrics")).status_code == 403


def test_the_english_page_filters_and_the_api_name_lists_and_agencies_in_english(client, history):
    # Seen in the demo: the English dashboard's List filter offered the lists by their
    # Chinese names, and the API named the agencies in Chinese beside English titles.
    supervisor = factories.officer(Role.SUPERVISOR, history, "sue")
    client.force_login(supervisor)
    client.cookies["django_language"] = "en"
    listed = factories.list_type()
    body = client.get(reverse("workspace:metrics"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    options = body.split('id="m-list"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{listed.code}">{listed.name_en}</option>' in options
    assert listed.name not in options

    answer = client.get("/api/v1/metrics/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert answer["agencies"] == [{"code": history.code, "name": history.name_en}]

    client.cookies["django_language"] = "zh-hans"
    body = client.get(reverse("workspace:metrics"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    options = body.split('id="m-list"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{listed.code}">{listed.name}</option>' in options
    answer = client.get("/api/v1/metrics/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert answer["agencies"] == [{"code": history.code, "name": history.name}]
