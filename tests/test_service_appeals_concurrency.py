"""Service and appeals recorded twice at the same moment, on PostgreSQL with real threads
(decision 0023): a letter is served once, one appeal of a kind is pending at a time,
whatever the interleaving; the other caller is told why, never shown a crash."""

from __future__ import annotations

import pytest
from django.core.files.storage import storages
from django.utils import timezone

from cases.errors import RedressError
from cases.models import Appeal
from documents.models import Letter, LetterService
from tests import flow_helpers as flow
from tests.helpers import restorable_record
from tests.test_concurrency import _reseed_for_later_tests, _seeded, errors, race, successes, user
from workflows import actions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
__all__ = ["_reseed_for_later_tests", "_seeded"]  # the seeding fixtures, used here too


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


@pytest.fixture
def rejected(company, agency, platforms, applicant, staff):
    record = restorable_record(company, agency, platforms)
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.REJECTED)
    flow.sign(case, staff["signer"], flow.REJECTED)
    return flow.worker_renders_letters(case)


def test_two_officers_recording_the_service_of_one_letter_at_once_serve_it_once(rejected, staff):
    letter_pk = rejected.letters.get(kind=Letter.Kind.REJECTION).pk
    today = timezone.localdate()

    def officer(pk, receipt_by):
        def contender(start):
            letter = Letter.objects.get(pk=letter_pk)
            start()
            return actions.letter_serve(
                letter=letter,
                officer=user(pk),
                method="in_person",
                served_on=today,
                receipt_by=receipt_by,
            )

        return contender

    outcomes = race(officer(staff["case_officer"].pk, "张三"), officer(staff["intake"].pk, "李四"))

    assert len(successes(outcomes)) == 1
    (refused,) = errors(outcomes)
    assert isinstance(refused, RedressError)
    assert refused.code in {"already_served", "busy"}
    assert LetterService.objects.filter(letter_id=letter_pk).count() == 1


def test_an_appeal_recorded_twice_at_once_is_recorded_once(rejected, applicant, staff):
    case_pk = rejected.pk
    today = timezone.localdate()

    def recorder(pk):
        def contender(start):
            case = type(rejected).objects.get(pk=case_pk)
            start()
            return actions.appeal_record(
                case=case,
                by=user(pk),
                kind="reconsideration",
                body="深圳市人民政府",
                filed_on=today,
            )

        return contender

    outcomes = race(recorder(applicant.pk), recorder(staff["case_officer"].pk))

    assert len(successes(outcomes)) == 1
    (refused,) = errors(outcomes)
    assert isinstance(refused, RedressError)
    assert refused.code == "appeal_pending"
    assert Appeal.objects.filter(case_id=case_pk).count() == 1
