"""Who may take which step: one answer for the engine, the queue and the supervisors' lists.

A serious restoration goes round twice: a first case officer reviews it, the legal
reviewer sends it back, a second case officer completes the review again, a colleague
passes the legal review and two officials sign. Around it stand the people a supervisor
might think of: colleagues with the right role, the first-round reviewer (who is no
longer the case's review officer but reviewed it all the same), an officer with a tie to
the company, one who holds the roles at another agency only, one whose account was
disabled, an auditor. At every step the supervisor's choice of assignee offers exactly
the people the assignment then accepts (both ways), a person's queue offers exactly the
tasks they can claim, and the engine and the case services give the same reason for a
four-eyes refusal, in the reader's language.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.urls import reverse
from viewflow.workflow.models import Task

from cases import access
from cases.errors import NotPermitted
from cases.models import Case, Role, SubjectTie
from tests import factories
from tests.flow_helpers import (
    APPROVED,
    accept,
    claim,
    file_restoration,
    open_task,
    review,
    sign,
    step,
)
from tests.helpers import restorable_record, serious_record
from workflows import actions
from workflows.selectors import tasks_queue

S = Case.Status


def officer(username: str, agency, *roles: str, **fields):
    """A person holding each of ``roles`` at ``agency``."""
    user = None
    for role in roles:
        user = factories.officer(role, agency, username=username, **fields)
    return user


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def everyone() -> list:
    """Every account there is, each read afresh (no roles cached from an earlier step)."""
    return list(get_user_model().objects.order_by("username"))


def assignment_accepts(task: Task, supervisor, person) -> bool:
    """Whether ``tasks_assign`` gives ``task`` to ``person``; undone either way."""
    with transaction.atomic():
        result = actions.tasks_assign(
            tasks=[Task.objects.get(pk=task.pk)], supervisor=supervisor, assignee=person
        )
        transaction.set_rollback(True)
    return result.done == [task.pk]


def accepted_for(task: Task, supervisor) -> set[str]:
    return {p.username for p in everyone() if assignment_accepts(task, supervisor, p)}


def offered_on_the_case_page(supervisor, case, task: Task) -> set[str]:
    """The choice of assignee the case page shows the supervisor for ``task``."""
    page = browser(supervisor).get(reverse("workspace:case", args=[case.pk]))
    assert page.status_code == 200
    row = next(r for r in page.context["task_rows"] if r.task.pk == task.pk)
    return {u.username for u in row.assign_form.fields["assignee"].queryset}


def claimable_by(person) -> set[int]:
    """The waiting tasks ``person`` can claim (tried on each, undone)."""
    claimable = set()
    for task in Task.objects.filter(status="NEW", owner__isnull=True, flow_task_type="HUMAN"):
        with transaction.atomic():
            try:
                actions.task_claim(task=task, user=get_user_model().objects.get(pk=person.pk))
            except NotPermitted:
                pass
            else:
                claimable.add(task.pk)
            transaction.set_rollback(True)
    return claimable


@pytest.fixture
def people(agency, other_agency, company, staff):
    """Everyone a supervisor of SZAMR might think of for the steps of a serious case."""
    insider = officer("insider", agency, Role.LEGAL_REVIEWER, Role.SIGNER)
    SubjectTie.objects.create(
        user=insider, subject=company, kind=SubjectTie.Kind.CLOSE_RELATIVE, recorded_by=insider
    )
    return {
        **{str(role): user for role, user in staff.items()},
        # Reviews the case in its first round, and holds the later steps' roles too.
        "first_reviewer": officer(
            "first-reviewer", agency, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.SIGNER
        ),
        # Does the first legal review (sends the case back) and may also sign.
        "sender_back": officer("sender-back", agency, Role.LEGAL_REVIEWER, Role.SIGNER),
        "signer2": officer("signer2", agency, Role.SIGNER),
        "insider": insider,  # a close relative at the company (APL Art. 43)
        "outsider": officer("outsider", other_agency, Role.LEGAL_REVIEWER, Role.SIGNER),
        "disabled": officer("disabled", agency, Role.LEGAL_REVIEWER, Role.SIGNER, is_active=False),
        "auditor": officer("auditor", agency, Role.AUDITOR),
    }


@pytest.fixture
def second_round(company, agency, platforms, applicant, people):
    """A serious restoration reviewed twice, waiting for its second legal review."""
    case = file_restoration(company, [serious_record(company, agency, platforms)], applicant)
    accept(case, people["intake"])
    review(case, people["first_reviewer"], APPROVED)
    step(
        case,
        "legal_review",
        people["sender_back"],
        decision="send_back",
        note="The receipt does not match the decision number.",
    )
    case = review(case, people["case_officer"], APPROVED)
    assert case.status == S.LEGAL_REVIEW
    assert case.review_officer == people["case_officer"]  # no longer the first reviewer
    return case


# --- the case page's choice of assignee --------------------------------------------------------


def test_the_case_page_offers_exactly_the_people_the_assignment_accepts_at_every_step(
    second_round, people
):
    case, supervisor = second_round, people["supervisor"]

    # The second legal review: not for whoever reviewed the evidence, in either round.
    task = open_task(case, "legal_review")
    offered = offered_on_the_case_page(supervisor, case, task)
    assert offered == accepted_for(task, supervisor)
    assert offered == {"legal_reviewer-szamr", "sender-back"}

    # The sign-off: not for any reviewer or legal reviewer of any round.
    case = step(case, "legal_review", people["legal_reviewer"], decision="pass")
    task = open_task(case, "sign_off")
    offered = offered_on_the_case_page(supervisor, case, task)
    assert offered == accepted_for(task, supervisor)
    assert offered == {"signer-szamr", "signer2"}

    # The second signature of the collective decision: not for the first signer.
    case = sign(case, people["signer"], APPROVED)
    assert case.status == S.SIGN_OFF
    task = open_task(case, "sign_off")
    offered = offered_on_the_case_page(supervisor, case, task)
    assert offered == accepted_for(task, supervisor)
    assert offered == {"signer2"}

    # Claimed: it is theirs already, so it can only be given to someone else (nobody here).
    task = claim(case, "sign_off", people["signer2"])
    offered = offered_on_the_case_page(supervisor, case, task)
    assert offered == accepted_for(task, supervisor) == set()


def test_everyone_offered_on_the_case_page_is_assigned_when_chosen(second_round, people):
    task = open_task(second_round, "legal_review")
    offered = offered_on_the_case_page(people["supervisor"], second_round, task)
    assert offered

    for username in sorted(offered):
        chosen = get_user_model().objects.get(username=username)
        with transaction.atomic():
            response = browser(people["supervisor"]).post(
                reverse("workspace:task_assign", args=[task.pk]), {"assignee": chosen.pk}
            )
            said = [str(m) for m in get_messages(response.wsgi_request)]
            task.refresh_from_db()
            assert task.owner_id == chosen.pk, said
            transaction.set_rollback(True)


def test_the_first_round_reviewer_is_not_offered_and_the_assignment_says_why(second_round, people):
    task = open_task(second_round, "legal_review")
    assert "first-reviewer" not in offered_on_the_case_page(
        people["supervisor"], second_round, task
    )

    response = browser(people["supervisor"]).post(
        reverse("workspace:task_assign", args=[task.pk]),
        {"assignee": people["first_reviewer"].pk},
    )

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [
        "You did the evidence review of this case: another person does its legal review."
    ]
    task.refresh_from_db()
    assert task.owner_id is None


# --- the agency queue's bulk assignment --------------------------------------------------------


def test_the_bulk_assignment_offers_exactly_the_people_accepted_for_some_task_of_the_page(
    second_round, company, agency, other_agency, platforms, applicant, people
):
    supervisor = people["supervisor"]
    waiting = file_restoration(company, [restorable_record(company, agency, platforms)], applicant)
    elsewhere = file_restoration(
        company, [restorable_record(company, other_agency, platforms)], applicant
    )
    mine = [open_task(second_round, "legal_review"), open_task(waiting, "acceptance_check")]

    page = browser(supervisor).get(reverse("workspace:agency_tasks"))

    assert [task.pk for task, _label in page.context["rows"]] == [t.pk for t in mine]
    offered = {u.username for u in page.context["form"].fields["assignee"].queryset}
    accepted = {name for task in mine for name in accepted_for(task, supervisor)}
    assert offered == accepted
    assert offered == {"intake-szamr", "legal_reviewer-szamr", "sender-back"}
    assert not accepted_for(open_task(elsewhere, "acceptance_check"), supervisor)


def test_a_bulk_assignment_to_an_offered_person_gives_them_what_they_may_take(
    second_round, company, agency, platforms, applicant, people
):
    waiting = file_restoration(company, [restorable_record(company, agency, platforms)], applicant)
    tasks = [open_task(second_round, "legal_review"), open_task(waiting, "acceptance_check")]

    response = browser(people["supervisor"]).post(
        reverse("workspace:tasks_assign"),
        {"tasks": [t.pk for t in tasks], "assignee": people["sender_back"].pk},
    )

    assert response.status_code == 302
    for task in tasks:
        task.refresh_from_db()
    assert [t.owner_id for t in tasks] == [people["sender_back"].pk, None]
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.startswith(f"Skipped #{tasks[1].pk}") for m in said), said


# --- a person's queue --------------------------------------------------------------------------


def test_each_persons_queue_offers_exactly_the_tasks_they_can_claim(
    second_round, company, agency, platforms, applicant, people
):
    file_restoration(company, [restorable_record(company, agency, platforms)], applicant)

    for name, person in people.items():
        queue = {task.pk for task in tasks_queue(person)}
        assert queue == claimable_by(person), name

    legal_review = open_task(second_round, "legal_review").pk
    assert legal_review not in {t.pk for t in tasks_queue(people["first_reviewer"])}
    assert legal_review in {t.pk for t in tasks_queue(people["sender_back"])}


# --- one reason, from the engine and from the case services, in the reader's language ---------


def test_the_engine_and_the_services_check_give_the_same_four_eyes_reason(second_round, people):
    case = step(second_round, "legal_review", people["legal_reviewer"], decision="pass")

    with pytest.raises(NotPermitted) as by_the_engine:
        claim(case, "sign_off", people["first_reviewer"])
    # The check the sign service runs under the case's lock (a story cannot reach it
    # past the engine, which refuses first: the point is that both say the same).
    with pytest.raises(NotPermitted) as by_the_service:
        access.ensure_four_eyes(people["first_reviewer"], case, "sign_off")

    assert by_the_engine.value.message == by_the_service.value.message
    assert by_the_service.value.message == "You reviewed this case: a different official signs it."
    assert by_the_service.value.code == "four_eyes"  # the services name the rule
    assert by_the_engine.value.code == "not_eligible"  # the engine's answer, as before


def test_a_four_eyes_refusal_reads_in_chinese_on_the_case_page(second_round, people):
    case = step(second_round, "legal_review", people["legal_reviewer"], decision="pass")

    response = browser(people["first_reviewer"]).get(
        reverse("workspace:case", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    text = response.content.decode()
    assert "您审查过本案，须由其他负责人签发。" in text
    assert "a different official signs it" not in text


def test_a_disabled_account_is_neither_offered_nor_assigned(second_round, people):
    task = open_task(second_round, "legal_review")

    result = actions.tasks_assign(
        tasks=[task], supervisor=people["supervisor"], assignee=people["disabled"]
    )

    assert result.done == []
    assert result.skipped == {task.pk: "The account of disabled is disabled: it can take no task."}
    assert "disabled" not in offered_on_the_case_page(people["supervisor"], second_round, task)


def test_the_people_who_may_take_a_step_read_for_many_cases_are_those_asked_case_by_case(
    second_round, people, agency, platforms, applicant, company
):
    """The breach forecast reads who may take each step of thousands of cases at once
    (``access.assignable_for_cases``); it must leave out exactly whom ``assignable`` leaves
    out of each: the tied, the barred by four eyes, the unqualified."""
    same_subject = file_restoration(
        company, [serious_record(company, agency, platforms)], applicant
    )
    other = factories.SubjectFactory(name="另一家公司")
    elsewhere = file_restoration(
        other, [serious_record(other, agency, platforms)], factories.representative(other)
    )
    cases = [second_round, same_subject, elsewhere]
    for name in access.STEP_ROLES:
        asked_one_by_one = {
            case.pk: list(access.assignable(case, name).values_list("pk", flat=True))
            for case in cases
        }
        assert access.assignable_for_cases(cases, name) == asked_one_by_one, name

    sign_off = access.assignable_for_cases(cases, "sign_off")
    # A close relative at the company signs nothing of its cases, and may sign another's.
    assert people["insider"].pk not in sign_off[second_round.pk]
    assert people["insider"].pk not in sign_off[same_subject.pk]
    assert people["insider"].pk in sign_off[elsewhere.pk]
    # The first round's reviewer does not sign the case they reviewed (four eyes).
    assert people["first_reviewer"].pk not in sign_off[second_round.pk]
    assert people["first_reviewer"].pk in sign_off[same_subject.pk]
