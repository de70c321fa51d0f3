"""Decisions made at the same moment by different officers get consecutive document numbers
(文号), with no gap and no repeat: the agency's counter row for the year is locked in each
deciding transaction (decision 0021). PostgreSQL with real threads; skipped on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case, ListType, RuleSet
from cases.seeds import seed_national_defaults
from documents.models import Letter
from tests import factories
from tests.flow_helpers import not_accept, submit
from tests.helpers import restorable_record
from tests.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _seeded(postgres_only, transactional_db):
    seed_national_defaults(ListType, RuleSet)


@pytest.fixture(scope="module", autouse=True)
def _reseed_for_later_tests(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            seed_national_defaults(ListType, RuleSet)
        connection.close()


def test_parallel_decisions_get_consecutive_numbers_without_gaps(company, agency, applicant):
    agency.document_number_pattern = "深市监信修〔{year}〕{seq}号"
    agency.save(update_fields=["document_number_pattern"])
    officers = [factories.officer("intake", agency) for _ in range(4)]
    cases = [
        submit(Case.Kind.RESTORATION, company, [restorable_record(company, agency)], applicant)
        for _ in officers
    ]

    def refuse(case, officer):
        def contender(start):
            start()
            return not_accept(case, officer, reasons="不属于本机关管辖。")

        return contender

    outcomes = race(*(refuse(c, o) for c, o in zip(cases, officers, strict=True)))

    assert [status for status, _ in outcomes] == ["ok"] * 4, outcomes
    year = timezone.localdate().year
    numbers = sorted(
        Letter.objects.filter(kind=Letter.Kind.NON_ACCEPTANCE).values_list(
            "document_number", flat=True
        )
    )
    assert numbers == sorted(f"深市监信修〔{year}〕{n}号" for n in range(1, 5))
