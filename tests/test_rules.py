"""Rule sets: versions per scope, the version in force on a date, and the seeded defaults.

The dated national versions (Order 58, then Order 36 for penalties; the lists' own
instruments) are seeded by the data migration from ``cases.seeds``; tests/test_rule_seeds.py
pins each seeded figure to its article. Penalty publication/general has two seeded
national versions: 1 (Order 58, 2023-05-01 to 2026-03-31) and 2 (Order 36, from 2026-04-01).
"""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases.errors import RuleViolation
from cases.models import RuleSet
from cases.rules import publication_periods, rule_set_add_version, rule_set_in_force
from cases.seeds import ORDER_58
from tests import factories
from tests.flow_helpers import accept, file_objection

D = datetime.date

pytestmark = pytest.mark.django_db


def add_version(*, list_type="penalty_publication", severity="general", agency=None, **fields):
    """Add the next version of a scope as an administrator would, with plausible figures."""
    values = {
        "effective_from": D(2025, 7, 1),
        "min_publication_months": 6,
        "max_publication_months": 12,
        "required_materials": ["commitment_letter"],
        "barred_penalty_types": ["licence_revocation"],
        **fields,
    }
    return rule_set_add_version(
        list_type=factories.list_type(list_type), severity=severity, agency=agency, **values
    )


def in_force(on, *, list_type="penalty_publication", severity="general", agency=None):
    return rule_set_in_force(
        list_type=factories.list_type(list_type), severity=severity, on=on, agency=agency
    )


# --- versions ------------------------------------------------------------------------------


def test_new_national_versions_are_numbered_after_the_seeded_ones():
    third = add_version(effective_from=D(2024, 1, 1))
    fourth = add_version(effective_from=D(2025, 1, 1))

    assert (third.version, fourth.version) == (3, 4)
    versions = RuleSet.objects.filter(
        list_type__code="penalty_publication", severity="general", agency=None, sector=""
    ).values_list("version", flat=True)
    assert sorted(versions) == [1, 2, 3, 4]


def test_versions_are_numbered_per_list_type_severity_and_agency(agency, other_agency):
    national = add_version(effective_from=D(2024, 1, 1))
    own_first = add_version(agency=agency, effective_from=D(2024, 1, 1))
    own_second = add_version(agency=agency, effective_from=D(2025, 1, 1))
    neighbour = add_version(agency=other_agency, effective_from=D(2025, 1, 1))
    serious = add_version(severity="serious", effective_from=D(2025, 1, 1))

    assert national.version == 3
    assert (own_first.version, own_second.version) == (1, 2)
    assert neighbour.version == 1
    assert serious.version == 3


def test_two_versions_of_a_scope_cannot_take_effect_on_the_same_day():
    add_version(effective_from=D(2025, 7, 1))

    with pytest.raises(ValidationError):
        add_version(effective_from=D(2025, 7, 1))

    assert (
        RuleSet.objects.filter(
            list_type__code="penalty_publication", severity="general", sector=""
        ).count()
        == 3
    )


# --- the version in force on a date ------------------------------------------------------------


def test_the_old_version_governs_until_the_day_the_new_one_takes_effect():
    first = in_force(D(2025, 1, 1))
    second = add_version(effective_from=D(2025, 7, 1))

    assert in_force(D(2025, 6, 30)) == first
    assert in_force(D(2025, 7, 1)) == second
    assert in_force(D(2026, 3, 15)) == second


def test_the_latest_version_already_in_force_wins():
    add_version(effective_from=D(2023, 1, 1))
    latest = add_version(effective_from=D(2024, 1, 1))
    add_version(effective_from=D(2030, 1, 1))  # announced, not yet in force

    assert in_force(D(2025, 1, 1)) == latest


def test_an_agencys_own_version_governs_that_agencys_records_only(agency, other_agency):
    national = in_force(D(2025, 1, 1))
    own = add_version(agency=agency, effective_from=D(2024, 1, 1), min_publication_months=9)

    assert in_force(D(2025, 1, 1), agency=agency) == own
    assert in_force(D(2025, 1, 1), agency=other_agency) == national
    assert in_force(D(2025, 1, 1)) == national


def test_before_an_agencys_own_version_takes_effect_the_national_one_governs(agency):
    national = in_force(D(2023, 6, 1))
    add_version(agency=agency, effective_from=D(2024, 1, 1))

    assert in_force(D(2023, 6, 1), agency=agency) == national


def test_an_agencys_own_version_wins_over_a_later_national_one(agency):
    own = add_version(agency=agency, effective_from=D(2024, 1, 1))
    add_version(effective_from=D(2025, 1, 1))

    assert in_force(D(2025, 6, 1), agency=agency) == own


def test_no_rule_set_is_in_force_before_the_seeded_defaults_took_effect():
    assert in_force(D(2023, 5, 1)).effective_from == ORDER_58.effective_from

    with pytest.raises(RuleViolation) as raised:
        in_force(D(2023, 4, 30))

    assert raised.value.code == "no_rule_set"
    assert "penalty_publication/general on 2023-04-30" in raised.value.message


def test_an_agencys_version_does_not_apply_before_any_national_one_exists(agency):
    """Only the agency's own version is in force in 2018; the national one is not yet."""
    own = add_version(agency=agency, effective_from=D(2018, 1, 1))

    assert in_force(D(2018, 6, 1), agency=agency) == own
    with pytest.raises(RuleViolation):
        in_force(D(2018, 6, 1))


# --- what a version implies for a record ---------------------------------------------------------


@pytest.mark.parametrize(
    ("listed_on", "min_months", "max_months", "restorable_from", "expires_on"),
    [
        (D(2025, 1, 31), 3, 12, D(2025, 4, 30), D(2026, 1, 31)),  # no 31 April: last day
        (D(2024, 2, 29), 12, 36, D(2025, 2, 28), D(2027, 2, 28)),  # leap day
        (D(2025, 1, 6), 0, 3, D(2025, 1, 6), D(2025, 4, 6)),  # minor: restorable at once
        (D(2025, 8, 31), 6, None, D(2026, 2, 28), None),  # no automatic expiry
    ],
)
def test_publication_periods_count_calendar_months_from_the_listing_date(
    listed_on, min_months, max_months, restorable_from, expires_on
):
    rule_set = RuleSet(min_publication_months=min_months, max_publication_months=max_months)

    assert publication_periods(rule_set, listed_on) == (restorable_from, expires_on)


# --- what an administrator cannot save --------------------------------------------------------------


def test_a_version_cannot_ask_for_an_unknown_material():
    with pytest.raises(ValidationError) as raised:
        add_version(required_materials=["commitment_letter", "notarised_apology"])

    assert "notarised_apology" in str(raised.value.message_dict["required_materials"])
    assert not RuleSet.objects.filter(effective_from=D(2025, 7, 1)).exists()


def test_a_version_cannot_bar_an_unknown_penalty_type():
    with pytest.raises(ValidationError) as raised:
        add_version(barred_penalty_types=["public_shaming"])

    assert "public_shaming" in str(raised.value.message_dict["barred_penalty_types"])


def test_a_version_cannot_end_publication_before_restoration_is_allowed():
    with pytest.raises(ValidationError) as raised:
        add_version(min_publication_months=12, max_publication_months=6)

    assert "shorter than the minimum" in str(raised.value.message_dict["max_publication_months"])


def test_a_version_no_case_used_can_still_be_corrected():
    version = add_version()
    version.legal_basis = "《信用修复管理办法》第十二条"

    version.full_clean()
    version.save()

    saved = RuleSet.objects.get(pk=version.pk)
    assert saved.legal_basis == "《信用修复管理办法》第十二条"
    # Corrected in place: the same version 2, its figures and date as they were.
    assert saved.version == 3
    assert saved.label == "penalty_publication/general v3 (2025-07-01)"
    assert (saved.effective_from, saved.agency) == (D(2025, 7, 1), None)
    assert (saved.min_publication_months, saved.max_publication_months) == (6, 12)
    assert saved.required_materials == ["commitment_letter"]
    assert saved.barred_penalty_types == ["licence_revocation"]
    assert not saved.is_in_use()
    assert sorted(
        RuleSet.objects.filter(
            list_type__code="penalty_publication", severity="general", agency=None, sector=""
        ).values_list("version", flat=True)
    ) == [1, 2, 3]


def test_a_version_a_case_was_accepted_under_cannot_change(company, agency, applicant, staff):
    version = add_version(effective_from=D(2026, 6, 1))
    record = factories.RecordFactory(subject=company, agency=agency)
    case = accept(file_objection(company, [record], applicant, grounds="Paid."), staff["intake"])
    assert case.rule_set == version  # the version in force on the day of acceptance

    version.refresh_from_db()
    version.min_publication_months = 1

    assert version.is_in_use()
    with pytest.raises(ValidationError, match="add a new version"):
        version.full_clean()


# --- the seeded versions (each figure's article: tests/test_rule_seeds.py) ---------------------


def test_serious_dishonesty_needs_a_year_ends_at_three_legal_review_and_two_signers():
    rules = in_force(D(2025, 1, 1), list_type="serious_dishonesty", severity="serious")

    assert rules.instrument == "samr44"
    assert rules.agency is None
    assert rules.min_publication_months == 12
    assert rules.max_publication_months == 36
    assert rules.legal_review_required is True
    assert rules.signers_required == 2


@pytest.mark.parametrize("severity", ["minor", "general", "serious"])
def test_an_abnormal_operations_listing_can_be_objected_to_within_30_days(severity):
    rules = in_force(D(2026, 12, 1), list_type="abnormal_operations", severity=severity)

    assert rules.objection_window_days == 30
    assert rules.max_publication_months is None


def test_a_minor_penalty_is_not_published_and_at_most_for_3_months():
    rules = in_force(D(2026, 12, 1), list_type="penalty_publication", severity="minor")

    assert rules.published is False
    assert rules.min_publication_months == 0
    assert rules.max_publication_months == 3


@pytest.mark.parametrize("severity", ["minor", "general", "serious"])
def test_no_penalty_type_is_barred_from_restoration_under_order_36(severity):
    """Only a law, a regulation or a central policy can bar a restoration (Art. 2)."""
    rules = in_force(D(2026, 12, 1), list_type="penalty_publication", severity=severity)

    assert rules.barred_penalty_types == []
    assert rules.citation_text("barred_penalty_types", "zh-hans") == "《信用修复管理办法》第二条"


@pytest.mark.parametrize(
    "list_type",
    [
        "penalty_publication",
        "serious_dishonesty",
        "abnormal_operations",
        "dishonest_debtor",
        "sector_blacklist",
    ],
)
@pytest.mark.parametrize("severity", ["minor", "general", "serious"])
def test_every_list_type_and_tier_has_a_national_version_in_force_today(list_type, severity):
    rules = in_force(D(2026, 12, 5), list_type=list_type, severity=severity)

    assert rules.sector == ""
    rules.full_clean()  # the seeds themselves pass the admin's checks
