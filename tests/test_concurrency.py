"""Two people acting on one case at the same moment, on PostgreSQL with real threads.

Each contender runs in its own thread with its own database connection, and all of them
are released together by a barrier. What must hold whatever the interleaving: one of two
officers gets a task, the other is told who has it; a double submission moves the case
once; a repeated filing makes one case; whoever meets a case that another worker holds
(a timer firing, an officer's request) is told to try again, never shown a crash. These
need PostgreSQL's row locks (on SQLite they are skipped with the reason); CI always runs
them.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from viewflow.workflow.status import PROCESS, STATUS

from cases.errors import RedressError, WrongState
from cases.models import Case, CaseEvent, ListType, Material, Role, RuleSet
from cases.seeds import seed_national_defaults
from tests import factories
from tests.flow_helpers import (
    accept,
    claim,
    file_restoration,
    open_steps,
    open_task,
    process_status,
    refresh,
    request_materials_at_acceptance,
    review,
    sign,
    supply,
    worker_renders_letters,
)
from tests.helpers import restorable_record
from workflows import actions, selectors
from workflows.flows import FLOWS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _seeded(postgres_only, transactional_db):
    """The national list types and rule sets are there for every test: a data migration
    made them, and an earlier transactional test may have flushed them away."""
    seed_national_defaults(ListType, RuleSet)


@pytest.fixture(scope="module", autouse=True)
def _reseed_for_later_tests(django_db_setup, django_db_blocker):
    """Put the seeded rows back after this module's last flush, for the transactional
    tests of other modules that expect what the migrations made."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            seed_national_defaults(ListType, RuleSet)
        connection.close()


def race(*contenders, timeout: float = 60) -> list[tuple[str, object]]:
    """Run each contender in its own thread and connection, released together.

    A contender is ``contender(start)``: it loads what it needs, calls ``start()`` to wait
    for the others, then acts. Returns ``("ok", result)`` or ``("error", exception)`` per
    contender, in order.
    """
    barrier = threading.Barrier(len(contenders))
    outcomes: list[tuple[str, object]] = [("missing", None)] * len(contenders)

    def run(index, contender):
        try:
            outcomes[index] = ("ok", contender(lambda: barrier.wait(timeout=timeout)))
        except Exception as exc:  # noqa: BLE001 - the test asserts every outcome
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, contender), daemon=True)
        for index, contender in enumerate(contenders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a contender hung"
    return outcomes


@contextmanager
def process_lock_held_elsewhere(case):
    """Another worker (a timer firing, an officer's request) holds the case's process lock
    for as long as the block runs."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with FLOWS[case.kind].lock(case.process_id):
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(10), "could not take the process lock"
    try:
        yield
    finally:
        release.set()
        holder.join(30)


def user(pk):
    return get_user_model().objects.get(pk=pk)


def errors(outcomes):
    return [value for kind, value in outcomes if kind == "error"]


def successes(outcomes):
    return [value for kind, value in outcomes if kind == "ok"]


@pytest.fixture
def colleague(agency):
    """A second intake officer of the same agency."""
    return factories.officer(Role.INTAKE, agency, username="intake2-szamr")


@pytest.fixture
def case(company, agency, platforms, applicant):
    return file_restoration(company, [restorable_record(company, agency, platforms)], applicant)


# --- claiming -----------------------------------------------------------------------------


def test_two_officers_claiming_one_task_at_once_one_gets_it_the_other_is_told_who(
    case, staff, colleague
):
    task_pk = open_task(case, "acceptance_check").pk

    def claimer(user_pk):
        def contender(start):
            officer = user(user_pk)
            task = selectors.task_for_officer(officer, task_pk)  # the task as a page finds it
            start()
            actions.task_claim(task=task, user=officer)
            return officer.get_username()

        return contender

    outcomes = race(claimer(staff["intake"].pk), claimer(colleague.pk))

    (winner,) = successes(outcomes)
    (refused,) = errors(outcomes)
    assert isinstance(refused, WrongState), refused
    assert refused.code in {"already_claimed", "busy"}
    if refused.code == "already_claimed":
        assert refused.message == f"Task {task_pk} was already claimed by {winner}."
    else:
        assert refused.message == actions.BUSY_MESSAGE
    task = selectors.task_for_officer(staff["supervisor"], task_pk)
    assert task.status == STATUS.ASSIGNED
    assert task.owner.get_username() == winner
    assert open_steps(case) == [f"acceptance_check@{winner}"]


def test_a_claim_while_the_case_is_busy_elsewhere_says_to_try_again(case, staff):
    task = open_task(case, "acceptance_check")

    with process_lock_held_elsewhere(case), pytest.raises(WrongState) as refused:
        actions.task_claim(task=task, user=staff["intake"])

    assert refused.value.code == "busy"
    assert refused.value.message == actions.BUSY_MESSAGE
    assert open_steps(case) == ["acceptance_check"]


# --- completing -----------------------------------------------------------------------------


def test_an_officer_who_submits_the_acceptance_twice_at_once_moves_the_case_once(case, staff):
    intake_pk = staff["intake"].pk
    task_pk = claim(case, "acceptance_check", staff["intake"]).pk

    def submit(start):
        officer = user(intake_pk)
        task = selectors.task_for_officer(officer, task_pk)
        start()
        return actions.task_complete(task=task, user=officer, data={"decision": "accept"}).status

    outcomes = race(submit, submit)

    assert successes(outcomes) == [Case.Status.UNDER_REVIEW]
    (refused,) = errors(outcomes)
    assert isinstance(refused, WrongState), refused
    assert refused.code in {"task_closed", "busy"}
    assert refused.http_status == 409
    case = refresh(case)
    assert case.status == Case.Status.UNDER_REVIEW
    assert CaseEvent.objects.filter(case=case, kind="accepted").count() == 1
    assert open_steps(case) == ["evidence_review"]


def test_two_platforms_acknowledging_at_once_close_the_case_into_its_appeal_window_once(
    case, staff
):
    accept(case, staff["intake"])
    review(case, staff["case_officer"])
    sign(case, staff["signer"])
    worker_renders_letters(case)  # the decision is served; removal begins
    record = case.records.get()
    publication_pks = list(record.publications.values_list("pk", flat=True))

    def acknowledger(pk):
        def contender(start):
            publication = record.publications.get(pk=pk)
            start()
            return actions.publication_acknowledge(publication=publication).status

        return contender

    outcomes = race(*(acknowledger(pk) for pk in publication_pks))

    assert errors(outcomes) == []
    case = refresh(case)
    assert case.status == Case.Status.APPEAL_WINDOW
    assert CaseEvent.objects.filter(case=case, kind="platform_acknowledged").count() == 2
    assert open_steps(case) == []
    waiting = case.process.task_set.filter(status=STATUS.SCHEDULED)
    assert [t.flow_task.name for t in waiting] == ["appeal_window"]
    assert process_status(case) == PROCESS.NEW


# --- filing ---------------------------------------------------------------------------------


def _file_twice_with_one_key(company, agency, platforms, applicant):
    record = restorable_record(company, agency, platforms)

    def filer(start):
        start()
        return actions.case_submit(
            kind=Case.Kind.RESTORATION,
            subject=company,
            records=[record],
            applicant=applicant,
            grounds="The fine was paid.",
            idempotency_key="portal-7f3a",
        ).pk

    return race(filer, filer)


def test_a_filing_repeated_at_once_with_the_same_key_makes_one_case(
    company, agency, platforms, applicant
):
    outcomes = _file_twice_with_one_key(company, agency, platforms, applicant)

    assert Case.objects.count() == 1
    assert Case.objects.get().pk in successes(outcomes)
    assert all(isinstance(e, RedressError) for e in errors(outcomes)), errors(outcomes)


def test_both_callers_of_a_filing_repeated_at_once_get_the_same_case(
    company, agency, platforms, applicant
):
    outcomes = _file_twice_with_one_key(company, agency, platforms, applicant)

    assert errors(outcomes) == []
    first, second = successes(outcomes)
    assert first == second == Case.objects.get().pk


# --- the applicant's and the platforms' side while the case is busy ----------------------------

BUSY_BUG = (
    "BUG: {entry} takes viewflow's process lock inside its own transaction.atomic (after the "
    "case row lock, the reverse of task_complete's order); on PostgreSQL the failed NOWAIT "
    "poisons the outer transaction and InternalError 'current transaction is aborted' "
    "escapes instead of WrongState busy"
)


def test_a_withdrawal_while_the_case_is_busy_elsewhere_says_to_try_again(case, applicant):
    with process_lock_held_elsewhere(case), pytest.raises(WrongState) as refused:
        actions.case_withdraw(case=case, applicant=applicant, reason="Settled.")

    assert refused.value.code == "busy"
    assert refused.value.message == actions.BUSY_MESSAGE
    assert refresh(case).status == Case.Status.SUBMITTED
    assert open_steps(case) == ["acceptance_check"]


def test_a_resubmission_while_the_case_is_busy_elsewhere_says_to_try_again(case, staff, applicant):
    request_materials_at_acceptance(case, staff["intake"], Material.CREDIT_REPORT)
    supply(case, applicant, Material.CREDIT_REPORT)

    with process_lock_held_elsewhere(case), pytest.raises(WrongState) as refused:
        actions.case_resubmit(case=case, applicant=applicant)

    assert refused.value.code == "busy"
    assert refresh(case).status == Case.Status.AWAITING_MATERIALS
    assert open_steps(case) == ["await_materials"]


def test_the_last_acknowledgement_while_the_case_is_busy_elsewhere_says_to_try_again(case, staff):
    accept(case, staff["intake"])
    review(case, staff["case_officer"])
    sign(case, staff["signer"])
    worker_renders_letters(case)  # the decision is served; removal begins
    first, last = case.records.get().publications.order_by("platform__code")
    actions.publication_acknowledge(publication=first)

    with process_lock_held_elsewhere(case), pytest.raises(WrongState) as refused:
        actions.publication_acknowledge(publication=last)

    assert refused.value.code == "busy"
    last.refresh_from_db()
    assert last.status == "withdrawal_requested"  # the platform retries its callback
    assert refresh(case).status == Case.Status.REMOVAL
    assert open_steps(case) == ["await_removal"]
