"""A record's tier and periods as the rules write them (Order 36 Arts. 7–12, SAMR Order
107 Arts. 6–9), each rule with its article; then the stories through the seeded versions."""

import datetime
from decimal import Decimal

import pytest

from cases import rules
from cases.classification import classify
from cases.models import Sector
from tests import factories

D = datetime.date
pytestmark = pytest.mark.django_db
SAMR_LIMITS = dict(
    minor_fine_limit_business=Decimal(50000),
    minor_fine_limit_person=Decimal(5000),
    market_regulation=True,
)


def tier(**kwargs):
    kwargs.setdefault("list_type", "penalty_publication")
    return classify(**kwargs).tier


@pytest.mark.parametrize(
    ("kwargs", "expected", "article"),
    [
        # Order 36 Art. 8(1), APL Art. 51: the simplified procedure is minor
        (dict(penalty_types=["fine"], procedure="simplified"), "minor", "第八条第（一）项"),
        # Art. 8(2): a warning or circulated criticism under the ordinary procedure
        (dict(penalty_types=["warning"]), "minor", "第八条第（二）项"),
        (dict(penalty_types=["criticism"]), "minor", "第八条第（二）项"),
        # Art. 9(2): confiscation is general
        (dict(penalty_types=["confiscation"]), "general", "第九条第（二）项"),
        # Art. 10(2): licence revocation, suspension, closure ... are serious
        (dict(penalty_types=["licence_revocation"]), "serious", "第十条第（二）项"),
        (dict(penalty_types=["licence_suspension"]), "serious", "第十条第（二）项"),
        (dict(penalty_types=["practice_restriction"]), "serious", "第十条第（二）项"),
        # Art. 12: several penalties, the longest period: the highest tier
        (dict(penalty_types=["warning", "confiscation"]), "general", "第九条第（二）项"),
        (dict(penalty_types=["fine", "closure"]), "serious", "第十条第（二）项"),
        # lists: Art. 10(3) serious list; Art. 8(3) abnormal list
        (dict(list_type="serious_dishonesty", penalty_types=[]), "serious", "第十条第（三）项"),
        (dict(list_type="abnormal_operations", penalty_types=[]), "minor", "第八条第（三）项"),
    ],
)
def test_order_36_tiers(kwargs, expected, article):
    found = classify(**{"list_type": "penalty_publication", **kwargs})

    assert found.tier == expected
    assert any(c.zh == f"《信用修复管理办法》{article}" for c in found.basis)


@pytest.mark.parametrize(
    ("amount", "person", "expected"),
    [
        (Decimal("50000"), False, "minor"),  # at most 50,000 on a business
        (Decimal("50000.01"), False, "general"),
        (Decimal("5000"), True, "minor"),  # at most 5,000 on a person
        (Decimal("5001"), True, "general"),
    ],
)
def test_a_samr_fine_is_minor_up_to_the_limit_of_order_107_article_7(amount, person, expected):
    found = classify(
        list_type="penalty_publication",
        penalty_types=["fine"],
        fine_amount=amount,
        natural_person=person,
        **SAMR_LIMITS,
    )

    assert found.tier == expected
    expected_article = "第七条第（三）项" if expected == "minor" else "第九条"
    assert found.basis[0].zh == f"《市场监督管理信用修复管理办法》{expected_article}"


def test_a_fine_without_a_sector_limit_is_not_classified_by_redress():
    """Order 36 leaves smaller, larger and huge fines to each sector (Arts. 8–11)."""
    assert tier(penalty_types=["fine"], fine_amount=Decimal(1000)) is None
    assert tier(penalty_types=["fine", "licence_revocation"], fine_amount=Decimal(1)) == "serious"


def test_the_court_list_has_no_tier():
    assert tier(list_type="dishonest_debtor", penalty_types=["listing"]) is None


# --- periods of a record under the seeded versions --------------------------------------------


def record(agency_sector=Sector.OTHER, *, severity, penalty_types, person=False, **fields):
    agency = factories.AgencyFactory(code=f"AG-{agency_sector}", sector=agency_sector)
    subject = factories.PersonFactory() if person else factories.SubjectFactory()
    return factories.RecordFactory(
        agency=agency,
        subject=subject,
        severity=severity,
        penalty_type=penalty_types[0],
        penalty_types=penalty_types,
        **fields,
    )


def test_a_licence_revocation_by_a_non_market_regulator_is_repairable_after_a_year():
    """Order 36 Art. 12: serious, 1 year minimum, 3 years maximum, from the decision."""
    r = record(severity="serious", penalty_types=["licence_revocation"], listed_on=D(2025, 6, 1))

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert (found.restorable_from, found.expires_on) == (D(2026, 6, 1), D(2028, 6, 1))
    assert [c.zh for c in found.basis["restorable_from"]] == ["《信用修复管理办法》第十二条"]


def test_the_same_penalty_by_a_market_regulator_has_no_early_repair_and_ends_at_3_years():
    """SAMR Order 107 Art. 8(3)."""
    r = record(
        Sector.MARKET_REGULATION,
        severity="serious",
        penalty_types=["licence_revocation"],
        listed_on=D(2025, 6, 1),
    )

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.restorable_from == found.expires_on == D(2028, 6, 1)
    assert "no_early_repair" in found.notes
    assert (
        found.basis["restorable_from"][0].zh == "《市场监督管理信用修复管理办法》第八条第（三）项"
    )


def test_a_samr_warning_is_never_published():
    r = record(Sector.MARKET_REGULATION, severity="minor", penalty_types=["warning"])

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.published is False
    assert "never_published" in found.notes
    assert found.basis["published"][0].zh == "《市场监督管理信用修复管理办法》第七条"


def test_other_minor_samr_information_ends_after_3_months():
    r = record(
        Sector.MARKET_REGULATION,
        severity="minor",
        penalty_types=["fine"],
        fine_amount=Decimal(2000),
        decided_on=D(2026, 9, 1),
        listed_on=D(2026, 9, 3),
    )

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.published is True
    assert found.expires_on == D(2026, 12, 1)  # from the decision date (Order 36 Art. 7)


def test_minor_information_is_not_published_in_principle_under_order_36():
    r = record(severity="minor", penalty_types=["criticism"], listed_on=D(2026, 9, 1))

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.published is False
    assert (found.restorable_from, found.expires_on) == (D(2026, 9, 1), D(2026, 12, 1))


def test_a_natural_person_is_not_shown_on_credit_china():
    r = record(severity="general", penalty_types=["confiscation"], person=True)

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.on_credit_china is False
    assert found.basis["on_credit_china"][0].zh == "《信用修复管理办法》第十二条"


def test_a_penalty_with_its_own_term_is_not_ended_or_repaired_before_the_term():
    r = record(
        severity="serious",
        penalty_types=["practice_restriction"],
        listed_on=D(2026, 5, 1),
        term_ends_on=D(2030, 5, 1),
    )

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.restorable_from == D(2030, 5, 1)
    assert found.expires_on == D(2030, 5, 1)
    assert "own_term" in found.notes


def test_a_general_penalty_decided_in_october_is_repairable_from_january():
    r = record(severity="general", penalty_types=["confiscation"], decided_on=D(2026, 10, 1))

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.restorable_from == D(2027, 1, 1)
    assert found.expires_on == D(2027, 10, 1)


def test_a_record_of_the_court_list_ends_with_its_term():
    """SPC Art. 10(2): deleted when the term the court set is over."""
    r = record(
        severity="general",
        penalty_types=["listing"],
        list_type=factories.list_type("dishonest_debtor"),
        listed_on=D(2025, 3, 1),
        term_ends_on=D(2027, 3, 1),
    )

    found = rules.record_periods(r, on=D(2026, 12, 5))

    assert found.expires_on == D(2027, 3, 1)
    assert found.restorable_from == D(2025, 3, 1)


def test_the_record_tier_uses_its_sectors_minor_fine_limit():
    business = record(
        Sector.MARKET_REGULATION,
        severity="general",
        penalty_types=["fine"],
        fine_amount=Decimal(30000),
    )
    elsewhere = record(severity="general", penalty_types=["fine"], fine_amount=Decimal(30000))

    assert rules.record_classification(business, on=D(2026, 12, 5)).tier == "minor"
    assert rules.record_classification(elsewhere, on=D(2026, 12, 5)).tier is None
