"""Deadlines per rule version and per kind of day (issue 12 item 6), and the version a case
is governed by (item 1): Order 36 from 2026-04-01, SAMR Order 107 for market regulation,
the court list's calendar days; each deadline shows how it was computed."""

import datetime

import pytest
from django.urls import reverse

from cases.calendar import WorkingCalendar
from cases.clock import deadline_start
from cases.errors import InvalidInput, NotPermitted, RuleViolation, WrongState
from cases.models import Case, Deadline, RuleSet, Sector
from cases.rules import case_governing_rule_set
from tests import factories
from tests.flow_helpers import (
    accept,
    deadline,
    file_objection,
    file_restoration,
    restoration_accepted,
)
from workflows import actions

D = datetime.date
pytestmark = pytest.mark.django_db
DECISION, ACCEPTANCE = Deadline.Step.DECISION, Deadline.Step.ACCEPTANCE


@pytest.fixture
def market_regulator(agency):
    agency.sector = Sector.MARKET_REGULATION
    agency.save(update_fields=["sector"])
    return agency


def record_of(company, agency, **fields):
    return factories.RecordFactory(
        subject=company, agency=agency, listed_on=D(2025, 1, 6), **fields
    )


# --- the version a case is governed by ---------------------------------------------------------


def test_a_case_is_governed_by_order_58_before_2026_04_01_and_by_order_36_from_that_day(
    company, agency, applicant
):
    case = file_objection(company, [record_of(company, agency)], applicant)

    assert case_governing_rule_set(case, on=D(2026, 3, 31)).instrument == "ndrc58"
    assert case_governing_rule_set(case, on=D(2026, 4, 1)).instrument == "ndrc36"


def test_a_case_keeps_the_version_it_was_accepted_under(company, agency, applicant, staff):
    case = accept(file_objection(company, [record_of(company, agency)], applicant), staff["intake"])
    accepted_under = case.rule_set

    later = RuleSet.objects.create(
        list_type=accepted_under.list_type,
        severity=accepted_under.severity,
        version=99,
        effective_from=D(2026, 12, 1),
        min_publication_months=1,
        max_publication_months=2,
        instrument="ndrc36",
    )

    assert case_governing_rule_set(case, on=D(2026, 12, 5)) == accepted_under != later


def test_an_order_58_figure_nobody_confirmed_is_never_guessed(company, agency, applicant):
    """GUIDE §12: Order 58's deadlines are only in secondary sources; they stay empty."""
    case = file_objection(company, [record_of(company, agency)], applicant)
    order_58 = case_governing_rule_set(case, on=D(2026, 3, 20))

    with pytest.raises(RuleViolation) as refused:
        deadline_start(
            case, DECISION, rule_set=order_58, figure="objection_review_days", actor=None
        )

    assert refused.value.code == "no_rule_figure"
    assert "objection_review_days" in refused.value.message


def test_the_case_page_names_the_instrument_and_each_figure_with_its_article(
    client, company, agency, applicant, staff
):
    case = restoration_accepted(company, [record_of(company, agency)], applicant, staff)

    client.force_login(staff["case_officer"])
    page = client.get(reverse("workspace:case", args=[case.pk])).content.decode()

    assert "Credit Restoration Measures (NDRC Order No. 36)" in page
    assert "Restoration result: 7 working days" in page
    assert "Art. 16(3)" in page
    # The version is named for a reader, not by its internal code.
    assert case.rule_set.title in page
    assert case.rule_set.label not in page
    assert "penalty_publication" not in page


def test_the_api_names_the_version_and_its_figures(company, agency, applicant, staff):
    from rest_framework.test import APIClient

    case = restoration_accepted(company, [record_of(company, agency)], applicant, staff)
    api = APIClient()
    api.force_authenticate(applicant)

    detail = api.get(f"/api/v1/cases/{case.pk}/").json()["rule_version_detail"]

    assert detail["instrument"] == "ndrc36"
    assert detail["title"].startswith("Credit Restoration Measures (NDRC Order No. 36) · ")
    assert "version 1" in detail["title"] or "version 2" in detail["title"]
    chinese = api.get(f"/api/v1/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    title = chinese["rule_version_detail"]["title"]
    assert title.startswith("《信用修复管理办法》") and "版" in title, title
    assert "penalty_publication" not in title
    figures = {f["field"]: f for f in detail["figures"]}
    assert figures["acceptance_days"]["value"] == 3
    assert figures["restoration_review_days"]["citation"].endswith("Art. 16(3)")


# --- deadlines per version ---------------------------------------------------------------------


def test_order_36_acceptance_3_and_result_7_working_days(company, agency, applicant, staff):
    case = file_restoration(company, [record_of(company, agency)], applicant)
    assert deadline(case, ACCEPTANCE).working_days == 3

    case = accept(case, staff["intake"])

    decision = deadline(case, DECISION)
    assert (decision.working_days, decision.day_kind) == (7, "working")


def test_samr_acceptance_2_and_decision_7_working_days(company, market_regulator, applicant, staff):
    case = file_restoration(company, [record_of(company, market_regulator)], applicant)
    assert deadline(case, ACCEPTANCE).working_days == 2

    case = accept(case, staff["intake"])

    assert case.rule_set.instrument == "samr107"
    assert deadline(case, DECISION).working_days == 7


def test_the_court_lists_15_days_are_calendar_days_and_say_so(company, agency, applicant, staff):
    record = record_of(
        company, agency, list_type=factories.list_type("dishonest_debtor"), penalty_type="listing"
    )
    case = accept(file_objection(company, [record], applicant), staff["intake"])

    decision = deadline(case, DECISION)

    assert (decision.working_days, decision.day_kind) == (15, "calendar")
    expected = WorkingCalendar().add_calendar_days(decision.started_on, 15).due
    assert decision.due_on == expected
    assert decision.computation.startswith(f"15 calendar days from {decision.started_on}")
    assert decision.computation_facts["day_kind"] == "calendar"


def test_a_calendar_period_ending_on_a_holiday_ends_on_the_next_working_day():
    computed = WorkingCalendar().add_calendar_days(D(2026, 9, 16), 15)  # 10-01 National Day

    assert computed.due == D(2026, 10, 8)
    assert "the period ends on the next working day" in computed.explain()


# --- one extension ------------------------------------------------------------------------------


def test_order_36_allows_one_extension_of_at_most_10_working_days(
    company, agency, applicant, staff
):
    case = restoration_accepted(company, [record_of(company, agency)], applicant, staff)

    with pytest.raises(InvalidInput) as too_long:
        actions.deadline_extend(
            case=case, supervisor=staff["supervisor"], step=DECISION, days=11, reason="Complex."
        )
    assert "at most 10" in too_long.value.message
    actions.deadline_extend(
        case=case, supervisor=staff["supervisor"], step=DECISION, days=10, reason="Complex."
    )
    with pytest.raises(WrongState) as again:
        actions.deadline_extend(
            case=case, supervisor=staff["supervisor"], step=DECISION, days=1, reason="Still."
        )

    assert again.value.code == "already_extended"
    assert deadline(case, DECISION).extended_days == 10


def test_under_samr_rules_only_the_head_extends_the_decision_deadline(
    company, market_regulator, applicant, staff
):
    case = restoration_accepted(company, [record_of(company, market_regulator)], applicant, staff)

    with pytest.raises(NotPermitted):
        actions.deadline_extend(
            case=case, supervisor=staff["supervisor"], step=DECISION, days=10, reason="Checks."
        )
    extended = actions.deadline_extend(
        case=case, supervisor=staff["signer"], step=DECISION, days=10, reason="Checks."
    )

    assert extended.entries.last().approved_by == staff["signer"]
    assert extended.computation.startswith("Extended by 10 working days (approved by signer-")


def test_a_case_from_before_stays_on_its_version_when_case_kind_is_objection(
    company, agency, applicant, staff
):
    case = accept(file_objection(company, [record_of(company, agency)], applicant), staff["intake"])

    assert case.kind == Case.Kind.OBJECTION
    assert deadline(case, DECISION).working_days == 7  # Order 36 Art. 18
