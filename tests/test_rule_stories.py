"""Issue 12's stories about the versions and the periods, end to end: the data migration
that replaced the 2019 defaults, the periods every page shows with their article, and a
licence revocation repaired under Order 36 but not early under SAMR Order 107."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from cases import rules
from cases.eligibility import Finding, case_eligibility
from cases.models import Case, Record, RuleSet, Sector
from tests import factories
from tests.flow_helpers import accept, file_restoration

D = datetime.date
pytestmark = pytest.mark.django_db
seeding = importlib.import_module("cases.migrations.0025_rules_seed_versions")
recomputing = importlib.import_module("cases.migrations.0026_rules_record_periods")


def licence_revoked(company, agency, **fields):
    record = factories.RecordFactory(
        subject=company,
        agency=agency,
        severity="serious",
        penalty_type="licence_revocation",
        penalty_types=["licence_revocation"],
        listed_on=D(2025, 6, 1),
        decided_on=D(2025, 6, 1),
        **fields,
    )
    rules.record_periods_apply(record)
    record.save()
    return record


# --- the data migration ------------------------------------------------------------------------


def test_the_migration_deletes_unused_2019_defaults_and_closes_those_a_case_used(case_factory):
    general = factories.list_type()
    unused = RuleSet.objects.create(
        list_type=general,
        severity="minor",
        version=9,
        effective_from=D(2019, 1, 1),
        min_publication_months=0,
        max_publication_months=3,
    )
    used = RuleSet.objects.create(
        list_type=general,
        severity="serious",
        version=9,
        effective_from=D(2019, 1, 1),
        min_publication_months=12,
        max_publication_months=36,
    )
    case = case_factory()
    Case.objects.filter(pk=case.pk).update(rule_set=used)
    seeded = RuleSet.objects.count()

    seeding.replace_defaults(apps, None)

    assert not RuleSet.objects.filter(pk=unused.pk).exists()
    used.refresh_from_db()
    assert used.effective_until == D(2023, 4, 30)  # the day before Order 58
    assert "kept only for the cases accepted under it" in used.note
    assert RuleSet.objects.count() == seeded - 1  # the seeds are not made twice
    assert Case.objects.get(pk=case.pk).rule_set == used


def test_the_migration_recomputes_the_periods_of_existing_records(company, agency):
    record = factories.RecordFactory(
        subject=company,
        agency=agency,
        severity="general",
        penalty_type="confiscation",
        listed_on=D(2026, 5, 20),
        decided_on=D(2026, 5, 10),
        restorable_from=D(2030, 1, 1),
        expires_on=None,
    )

    recomputing.recompute(apps, None)

    record.refresh_from_db()
    assert (record.restorable_from, record.expires_on) == (D(2026, 8, 10), D(2027, 5, 10))


@pytest.fixture
def case_factory(company, agency, applicant):
    def make():
        record = factories.RecordFactory(subject=company, agency=agency)
        return file_restoration(company, [record], applicant)

    return make


# --- a licence revocation, by a non-market regulator and by a market regulator ----------------


def test_a_licence_revocation_listed_in_2025_is_repairable_and_accepted_in_december_2026(
    company, agency, applicant, staff, client
):
    record = licence_revoked(company, agency)
    assert record.restorable_from == D(2026, 6, 1)  # serious: one year (Order 36 Art. 12)

    case = accept(file_restoration(company, [record], applicant), staff["intake"])

    assert case.status == Case.Status.UNDER_REVIEW
    assert case.rule_set.instrument == "ndrc36"


def test_the_same_penalty_by_a_market_regulator_is_not_repairable_early_and_says_when_it_ends(
    company, agency, applicant
):
    agency.sector = Sector.MARKET_REGULATION
    agency.save(update_fields=["sector"])
    record = licence_revoked(company, agency)

    assert record.restorable_from == record.expires_on == D(2028, 6, 1)  # SAMR Art. 8(3)
    # Filed anyway, it is a case (no silent refusal); the finding the applicant was shown
    # and the acceptance check reads says why and when publication ends.
    case = file_restoration(company, [record], applicant)
    (finding,) = case_eligibility(case)
    assert finding.finding == Finding.BARRED
    assert finding.ends_on == D(2028, 6, 1)
    with translation.override("en"):
        assert "publication ends on 2028-06-01" in finding.sentence
    assert "《市场监督管理信用修复管理办法》第八条" in finding.citation_text("zh-hans")


# --- both dates with their article, on every page --------------------------------------------


def test_the_portal_records_page_shows_both_dates_with_the_article(
    client, company, agency, applicant
):
    licence_revoked(company, agency)
    client.force_login(applicant)

    page = client.get(reverse("portal:records")).content.decode()

    assert "Repair from 2026-06-01" in page
    assert "Publication ends 2028-06-01" in page
    assert "Credit Restoration Measures (NDRC Order No. 36), Art. 12" in page


def test_the_officers_case_page_shows_both_dates_of_each_record(
    client, company, agency, applicant, staff
):
    record = licence_revoked(company, agency)
    case = file_restoration(company, [record], applicant)
    client.force_login(staff["intake"])

    page = client.get(reverse("workspace:case", args=[case.pk])).content.decode()

    assert "Repair from 2026-06-01" in page
    assert "Publication ends 2028-06-01" in page


def test_the_api_record_gives_both_dates_and_their_articles(company, agency, applicant):
    record = licence_revoked(company, agency)
    api = APIClient()
    api.force_authenticate(applicant)

    body = api.get(f"/api/v1/records/{record.pk}/").json()

    assert (body["restorable_from"], body["expires_on"]) == ("2026-06-01", "2028-06-01")
    assert body["periods"]["restorable_from_basis"][0]["zh"] == "《信用修复管理办法》第十二条"
    assert body["penalty_types"] == ["licence_revocation"]
    assert Record.objects.get(pk=record.pk).decided_on == D(2025, 6, 1)
