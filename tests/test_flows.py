"""Objections and restorations walked through the route as the people in them live it.

Every step here goes through ``workflows.actions``, as the officers' pages, the API and
the portal do: an officer finds the open task of the case, claims it and completes it;
the applicant resubmits or withdraws; each platform acknowledges. What is asserted is
what someone would notice: the case's status, the records and their publications, which
steps are open and for whom, the error a person is shown, the case's events and whether
the process has finished.
"""

import pytest
from django.http import Http404
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.timers import fire_due_timers

from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.models import Case, CaseEvent, Deadline, Evidence, Material, Publication, Record, Role
from documents import services as letters
from tests import factories
from tests.flow_helpers import (
    APPROVED,
    PARTLY_APPROVED,
    REJECTED,
    accept,
    acknowledge_everywhere,
    acknowledge_published_everywhere,
    claim,
    deadline,
    event_kinds,
    file_objection,
    file_restoration,
    last_event,
    let_materials_deadline_pass,
    missing,
    open_steps,
    open_task,
    process_status,
    publication_statuses,
    refresh,
    request_materials_at_acceptance,
    review,
    scheduled_timer,
    sign,
    step,
    supply,
    tasks_of,
    worker_renders_letters,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import pdf_upload, restorable_record, serious_record
from workflows import actions, selectors
from workflows.flows import APPEAL_WINDOW

S = Case.Status


@pytest.fixture
def second_signer(agency):
    return factories.officer(Role.SIGNER, agency, username="signer2-szamr")


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


ROUTE_EVENTS = {
    "submitted",
    "accepted",
    "not_accepted",
    "materials_requested",
    "materials_resubmitted",
    "review_completed",
    "legal_review_passed",
    "legal_review_sent_back",
    "signed",
    "signoff_disagreed",
    "decided",
    "platform_acknowledged",
    "withdrawn",
    "lapsed",
    "revoked",
    "closed",
}


def route_events(case) -> list[tuple[str, str]]:
    """The case's moves along the route and who made each (empty: nobody, automated)."""
    return [
        (kind, actor)
        for kind, actor in case.events.order_by("seq").values_list("kind", "actor_name")
        if kind in ROUTE_EVENTS
    ]


def scheduled_tasks(case) -> list[str]:
    return sorted(
        t.flow_task.name
        for t in Task.objects.filter(process_id=case.process_id, status=STATUS.SCHEDULED)
    )


# --- a restoration approved: acceptance, review, sign-off, removal on every platform -------


def test_an_approved_restoration_closes_only_when_every_platform_has_acknowledged(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    assert case.status == S.SUBMITTED
    assert open_steps(case) == ["acceptance_check"]
    assert process_status(case) == PROCESS.NEW

    case = accept(case, staff["intake"])
    assert case.status == S.UNDER_REVIEW
    assert open_steps(case) == ["evidence_review"]

    case = review(case, staff["case_officer"], APPROVED)
    # penalty_publication/general: no legal review, one signer.
    assert case.status == S.SIGN_OFF
    assert open_steps(case) == ["sign_off"]

    case = sign(case, staff["signer"], APPROVED)
    record.refresh_from_db()
    assert case.status == S.REMOVAL
    assert case.decision == APPROVED
    assert record.status == Record.Status.REMOVED
    assert publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}
    assert open_steps(case) == ["await_letter"]  # the decision is served by its letter

    case = worker_renders_letters(case)
    assert open_steps(case) == ["await_removal"]  # nothing for an officer: the platforms act

    first, second = record.publications.order_by("platform__code")
    actions.publication_acknowledge(publication=first, note="已撤下")
    assert refresh(case).status == S.REMOVAL
    assert open_steps(case) == ["await_removal"]
    assert "appeal_window" not in scheduled_tasks(case)

    actions.publication_acknowledge(publication=second, note="已撤下")
    case = refresh(case)
    assert case.status == S.APPEAL_WINDOW
    assert publication_statuses(record) == {Publication.Status.WITHDRAWN}
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]
    assert scheduled_timer(case, "appeal_window").scheduled == case.decided_at + APPEAL_WINDOW
    assert process_status(case) == PROCESS.NEW  # still waiting for the appeal window
    assert deadline(case, Deadline.Step.REMOVAL).status == Deadline.Status.MET
    assert route_events(case) == [
        ("submitted", "acme"),
        ("accepted", "intake-szamr"),
        ("review_completed", "case_officer-szamr"),
        ("decided", "signer-szamr"),
        ("platform_acknowledged", ""),
        ("platform_acknowledged", ""),
    ]


def test_the_route_waits_for_the_decision_letter_and_keeps_acknowledgements_that_come_first(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    case = sign(case, staff["signer"], APPROVED)
    assert open_steps(case) == ["await_letter"]

    acknowledge_everywhere(record)  # the platforms were quicker than the letter worker

    assert refresh(case).status == S.APPEAL_WINDOW
    assert open_steps(case) == ["await_letter"]
    assert "appeal_window" not in scheduled_tasks(case)

    case = worker_renders_letters(case)

    assert case.letters.get(kind="approval").status == "issued"
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]
    assert deadline(case, Deadline.Step.LETTER).status == Deadline.Status.MET
    # The clock's ledger names the letter by its code as printed and shown beside it on the
    # case page (it showed the code without its hyphen, seen in the demo).
    letter = case.letters.get(kind="approval")
    met = deadline(case, Deadline.Step.LETTER).entries.order_by("pk").last()
    assert met.reason == f"decision letter issued: {letter.code_display}"
    assert "-" in letter.code_display


def test_a_decision_letter_that_fails_to_render_holds_the_route_until_it_is_rendered_again(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    case = sign(case, staff["signer"], APPROVED)
    letter = case.letters.get(kind="approval")

    letters.letter_fail(letter, error="The renderer ran out of memory.")

    assert open_steps(case) == ["await_letter"]  # nothing lost, nothing skipped
    assert deadline(case, Deadline.Step.LETTER).status == Deadline.Status.RUNNING

    letters.letter_retry(letter, by=staff["supervisor"])
    case = worker_renders_letters(case)

    letter.refresh_from_db()
    assert letter.status == "issued"
    assert open_steps(case) == ["await_removal"]


def test_a_partly_approved_restoration_removes_one_record_and_keeps_the_other_published(
    company, agency, platforms, applicant, staff
):
    paid = restorable_record(company, agency, platforms)
    unpaid = restorable_record(company, agency, platforms)
    case = file_restoration(company, [paid, unpaid], applicant)
    accept(case, staff["intake"])
    outcomes = {paid.pk: "upheld", unpaid.pk: "rejected"}
    review(case, staff["case_officer"], PARTLY_APPROVED, record_outcomes=outcomes)

    case = sign(
        case,
        staff["signer"],
        PARTLY_APPROVED,
        reasons="The second fine is still unpaid.",
        record_outcomes=outcomes,
    )
    case = worker_renders_letters(case)

    paid.refresh_from_db()
    unpaid.refresh_from_db()
    assert case.decision == PARTLY_APPROVED
    assert case.status == S.REMOVAL
    assert paid.status == Record.Status.REMOVED
    assert publication_statuses(paid) == {Publication.Status.WITHDRAWAL_REQUESTED}
    assert unpaid.status == Record.Status.ACTIVE
    assert publication_statuses(unpaid) == {Publication.Status.PUBLISHED}

    acknowledge_everywhere(paid)

    assert refresh(case).status == S.APPEAL_WINDOW
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]
    assert publication_statuses(unpaid) == {Publication.Status.PUBLISHED}


def test_approving_a_record_published_nowhere_goes_straight_to_the_appeal_window(
    company, agency, applicant, staff
):
    unpublished = restorable_record(company, agency)
    case = file_restoration(company, [unpublished], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)

    case = sign(case, staff["signer"], APPROVED)
    case = worker_renders_letters(case)

    unpublished.refresh_from_db()
    assert unpublished.status == Record.Status.REMOVED
    assert case.status == S.APPEAL_WINDOW
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]


def test_a_rejected_restoration_keeps_the_record_published_and_waits_in_the_appeal_window(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], REJECTED)

    case = sign(case, staff["signer"], REJECTED)
    case = worker_renders_letters(case)

    record.refresh_from_db()
    assert case.status == S.APPEAL_WINDOW
    assert case.decision == REJECTED
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]
    assert process_status(case) == PROCESS.NEW
    decided = last_event(case, "decided")
    assert decided.actor == staff["signer"]
    assert decided.note == "The evidence does not show the conduct was corrected."


# --- cases that end early ----------------------------------------------------------------------


def test_a_case_not_accepted_ends_its_process_with_nothing_left_open(
    company, agency, platforms, applicant, staff, record
):
    case = file_objection(company, [record], applicant)

    case = step(
        case,
        "acceptance_check",
        staff["intake"],
        decision="not_accept",
        reasons="The record was made by another agency.",
    )
    assert case.status == S.NOT_ACCEPTED
    assert open_steps(case) == ["await_letter"]  # the refusal is served by its notice
    assert process_status(case) == PROCESS.NEW

    case = worker_renders_letters(case)

    assert case.letters.get(kind="non_acceptance").status == "issued"
    assert open_steps(case) == []
    assert scheduled_tasks(case) == []  # the acceptance timers were cancelled
    assert process_status(case) == PROCESS.DONE
    assert case.process.finished is not None
    refused = last_event(case, "not_accepted")
    assert refused.actor == staff["intake"]
    assert refused.automated is False
    assert refused.note == "The record was made by another agency."


def test_a_restoration_lapses_when_the_materials_deadline_passes_without_an_answer(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant, with_materials=False)
    case = request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    assert case.status == S.AWAITING_MATERIALS
    assert open_steps(case) == ["await_materials"]

    let_materials_deadline_pass(case)
    fire_due_timers()

    case = refresh(case)
    assert case.status == S.LAPSED
    assert open_steps(case) == []
    assert scheduled_tasks(case) == []
    assert process_status(case) == PROCESS.DONE
    lapsed = last_event(case, "lapsed")
    assert lapsed.automated is True
    assert lapsed.actor is None
    assert lapsed.actor_role == "system"
    assert route_events(case) == [
        ("submitted", "acme"),
        ("materials_requested", "intake-szamr"),
        ("lapsed", ""),
    ]
    assert deadline(case, Deadline.Step.MATERIALS).status == Deadline.Status.MISSED


def test_an_objection_that_lapses_during_review_is_no_longer_disputed_anywhere(
    company, agency, platforms, applicant, staff, record
):
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])
    item = case.evidence.get()
    step(
        case,
        "evidence_review",
        staff["case_officer"],
        reviews=[{"evidence": item.pk, "outcome": "needs_more", "reason": "Illegible scan."}],
        action="request_materials",
        missing=missing(Material.CORRECTION_EVIDENCE),
    )
    record.refresh_from_db()
    assert record.status == Record.Status.DISPUTED

    let_materials_deadline_pass(case)
    fire_due_timers()

    record.refresh_from_db()
    assert refresh(case).status == S.LAPSED
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert process_status(case) == PROCESS.DONE
    assert open_steps(case) == []


def _at_acceptance_check(case, staff, applicant):
    return case


def _awaiting_materials(case, staff, applicant):
    return request_materials_at_acceptance(case, staff["intake"], Material.CREDIT_REPORT)


def _under_evidence_review(case, staff, applicant):
    case = accept(case, staff["intake"])
    claim(case, "evidence_review", staff["case_officer"])  # an officer is working on it
    return case


@pytest.mark.parametrize(
    "reach",
    [_at_acceptance_check, _awaiting_materials, _under_evidence_review],
    ids=["at_acceptance_check", "awaiting_materials", "under_evidence_review"],
)
def test_the_applicant_withdraws_and_nothing_is_left_open(
    reach, company, agency, platforms, applicant, staff, record
):
    case = reach(file_objection(company, [record], applicant), staff, applicant)

    case = actions.case_withdraw(case=case, applicant=applicant, reason="Settled with the bureau.")

    record.refresh_from_db()
    assert case.status == S.WITHDRAWN
    assert open_steps(case) == []
    assert scheduled_tasks(case) == []
    assert process_status(case) == PROCESS.CANCELED
    assert refresh(case).process.finished is not None
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    withdrawn = last_event(case, "withdrawn")
    assert withdrawn.actor == applicant
    assert withdrawn.note == "Settled with the bureau."


def test_a_signer_revokes_a_restoration_obtained_by_a_false_commitment(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    worker_renders_letters(case)
    acknowledge_everywhere(record)
    assert scheduled_tasks(case) == ["appeal_window"]

    case = revoked_in_effect(
        case=case,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="The commitment letter was false.",
        evidence=[pdf_upload("revocation")],
    )

    record.refresh_from_db()
    assert case.status == S.REVOKED
    assert record.status == Record.Status.ACTIVE
    # Every platform is asked to publish it again, and says so.
    assert publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    acknowledge_published_everywhere(record)
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert open_steps(case) == []
    assert scheduled_tasks(case) == []  # the appeal window no longer waits to close it
    assert process_status(case) == PROCESS.CANCELED
    assert refresh(case).process.finished is not None
    revoked = last_event(case, "revoked")
    assert revoked.data["proposed_by"] == staff["signer"].username
    assert revoked.data["reinstated"] == [record.decision_no]
    assert revoked.data["ground"] == "untrue_commitment"


def test_a_restoration_revoked_while_platforms_are_withdrawing_stops_waiting_for_them(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    worker_renders_letters(case)
    assert open_steps(case) == ["await_removal"]

    case = revoked_in_effect(
        case=case,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="False commitment.",
        evidence=[pdf_upload("revocation")],
    )

    record.refresh_from_db()
    assert case.status == S.REVOKED
    assert record.status == Record.Status.ACTIVE
    # Every platform is asked to publish it again, and says so.
    assert publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    acknowledge_published_everywhere(record)
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert open_steps(case) == []
    assert scheduled_tasks(case) == []
    assert refresh(case).process.finished is not None


def test_a_step_of_a_withdrawn_case_can_no_longer_be_claimed(
    company, agency, platforms, applicant, staff, record
):
    case = accept(file_objection(company, [record], applicant), staff["intake"])
    review_task = open_task(case, "evidence_review")
    actions.case_withdraw(case=case, applicant=applicant)

    with pytest.raises(WrongState) as refused:
        actions.task_claim(task=review_task, user=staff["case_officer"])

    assert refused.value.code == "task_closed"
    assert refused.value.message == f"Task {review_task.pk} was cancelled: it cannot be claimed."


def test_a_decided_case_cannot_be_withdrawn_and_keeps_waiting_for_the_platforms(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    worker_renders_letters(case)

    with pytest.raises(WrongState) as refused:
        actions.case_withdraw(case=case, applicant=applicant)

    assert refused.value.code == "wrong_state"
    assert refresh(case).status == S.REMOVAL
    assert open_steps(case) == ["await_removal"]
    assert process_status(case) == PROCESS.NEW


# --- the materials loop --------------------------------------------------------------------------


def test_materials_requested_at_the_acceptance_check_bring_the_case_back_to_that_check(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant, with_materials=False)
    case = request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    first_check = tasks_of(case, "acceptance_check")[0]
    assert first_check.status == STATUS.DONE
    assert open_steps(case) == ["await_materials"]
    assert scheduled_tasks(case) == ["await_materials__timeout"]

    supply(case, applicant, Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF)
    case = actions.case_resubmit(case=case, applicant=applicant, note="Both attached.")

    assert case.status == S.SUBMITTED
    assert open_steps(case) == ["acceptance_check"]
    assert open_task(case, "acceptance_check").pk != first_check.pk
    assert "await_materials__timeout" not in scheduled_tasks(case)
    assert deadline(case, Deadline.Step.MATERIALS).status == Deadline.Status.MET

    case = accept(case, staff["intake"])
    assert case.status == S.UNDER_REVIEW
    assert open_steps(case) == ["evidence_review"]


def test_materials_requested_during_evidence_review_bring_the_case_back_to_the_review(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    proof = case.evidence.get(material=Material.FULFILMENT_PROOF)
    case = step(
        case,
        "evidence_review",
        staff["case_officer"],
        reviews=[
            {"evidence": proof.pk, "outcome": "needs_more", "reason": "The receipt is cut off."}
        ],
        action="request_materials",
        missing=missing(Material.FULFILMENT_PROOF),
    )
    assert case.status == S.AWAITING_MATERIALS
    assert open_steps(case) == ["await_materials"]
    assert deadline(case, Deadline.Step.DECISION).status == Deadline.Status.STOPPED

    supply(case, applicant, Material.FULFILMENT_PROOF)
    case = actions.case_resubmit(case=case, applicant=applicant)

    assert case.status == S.UNDER_REVIEW
    assert open_steps(case) == ["evidence_review"]
    assert deadline(case, Deadline.Step.DECISION).status == Deadline.Status.RUNNING
    proof.refresh_from_db()
    assert proof.review_outcome == Evidence.Outcome.PENDING  # looked at again with the new one

    case = review(case, staff["case_officer"], APPROVED)
    assert case.status == S.SIGN_OFF
    assert open_steps(case) == ["sign_off"]


def test_resubmitting_without_the_listed_material_keeps_the_case_waiting(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant, with_materials=False)
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    supply(case, applicant, Material.COMMITMENT_LETTER)

    with pytest.raises(WrongState) as refused:
        actions.case_resubmit(case=case, applicant=applicant)

    assert refused.value.code == "materials_missing"
    assert "Proof the penalty was fulfilled" in refused.value.message
    assert refresh(case).status == S.AWAITING_MATERIALS
    assert open_steps(case) == ["await_materials"]


# --- serious cases: legal review and a collective sign-off --------------------------------------


@pytest.fixture
def serious_case(company, agency, platforms, applicant, staff):
    """A serious penalty restoration (listed 500 days ago, restorable since 135), accepted."""
    record = serious_record(company, agency, platforms)
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    return case


def test_a_legal_reviewer_sends_a_serious_case_back_to_the_evidence_review(serious_case, staff):
    case = review(serious_case, staff["case_officer"], APPROVED)
    assert case.status == S.LEGAL_REVIEW
    assert open_steps(case) == ["legal_review"]

    case = step(
        case,
        "legal_review",
        staff["legal_reviewer"],
        decision="send_back",
        note="Check the fulfilment proof against the bank record.",
    )

    assert case.status == S.UNDER_REVIEW
    assert open_steps(case) == ["evidence_review"]
    sent_back = last_event(case, "legal_review_sent_back")
    assert sent_back.actor == staff["legal_reviewer"]
    assert sent_back.note == "Check the fulfilment proof against the bank record."

    case = review(case, staff["case_officer"], APPROVED)
    assert case.status == S.LEGAL_REVIEW
    assert open_steps(case) == ["legal_review"]


def test_a_serious_case_needs_two_different_signers_after_its_legal_review(
    serious_case, staff, second_signer
):
    review(serious_case, staff["case_officer"], APPROVED)
    case = step(serious_case, "legal_review", staff["legal_reviewer"], decision="pass")
    assert case.status == S.SIGN_OFF
    assert open_steps(case) == ["sign_off"]

    case = sign(case, staff["signer"], APPROVED)

    assert case.status == S.SIGN_OFF
    assert case.decision == ""
    assert open_steps(case) == ["sign_off"]  # a new task, for a second official
    second_task = open_task(case, "sign_off")
    with pytest.raises(NotPermitted) as refused:
        actions.task_claim(task=second_task, user=staff["signer"])
    assert refused.value.code == "not_eligible"
    assert refused.value.message == "You have signed this case already: a second official signs it."
    assert open_steps(case) == ["sign_off"]

    case = sign(case, second_signer, APPROVED)
    case = worker_renders_letters(case)

    assert case.status == S.REMOVAL
    assert case.decision == APPROVED
    assert open_steps(case) == ["await_removal"]
    assert last_event(case, "decided").data["signers"] == ["signer-szamr", "signer2-szamr"]
    assert route_events(case)[-4:] == [
        ("review_completed", "case_officer-szamr"),
        ("legal_review_passed", "legal_reviewer-szamr"),
        ("signed", "signer-szamr"),
        ("decided", "signer2-szamr"),
    ]


def test_signers_who_disagree_send_the_serious_case_back_to_the_evidence_review(
    serious_case, staff, second_signer
):
    review(serious_case, staff["case_officer"], APPROVED)
    step(serious_case, "legal_review", staff["legal_reviewer"], decision="pass")
    sign(serious_case, staff["signer"], APPROVED)

    case = sign(serious_case, second_signer, REJECTED, reasons="The harm is not remedied.")

    assert case.status == S.UNDER_REVIEW
    assert case.decision == ""
    assert case.signoff_round == 2
    assert open_steps(case) == ["evidence_review"]
    disagreed = last_event(case, "signoff_disagreed")
    assert disagreed.actor == second_signer
    assert disagreed.data == {"decision": REJECTED, "first": APPROVED}


def test_after_a_disagreement_both_signers_sign_afresh_in_a_new_round(
    serious_case, staff, second_signer
):
    review(serious_case, staff["case_officer"], APPROVED)
    step(serious_case, "legal_review", staff["legal_reviewer"], decision="pass")
    sign(serious_case, staff["signer"], APPROVED)
    sign(serious_case, second_signer, REJECTED, reasons="The harm is not remedied.")

    review(serious_case, staff["case_officer"], REJECTED)
    step(serious_case, "legal_review", staff["legal_reviewer"], decision="pass")
    sign(serious_case, second_signer, REJECTED, reasons="The harm is not remedied.")
    case = sign(serious_case, staff["signer"], REJECTED, reasons="Agreed: not remedied.")
    case = worker_renders_letters(case)

    assert case.status == S.APPEAL_WINDOW
    assert case.decision == REJECTED
    assert case.signatures.filter(round=2).count() == 2
    assert open_steps(case) == []


# --- objections -------------------------------------------------------------------------------


def test_accepting_an_objection_flags_its_records_disputed_on_every_platform(
    company, agency, platforms, applicant, staff
):
    first = restorable_record(company, agency, platforms)
    second = restorable_record(company, agency, platforms[:1])
    case = file_objection(company, [first, second], applicant)
    assert publication_statuses(first) == {Publication.Status.PUBLISHED}

    accept(case, staff["intake"])

    for record in (first, second):
        record.refresh_from_db()
        assert record.status == Record.Status.DISPUTED
        assert publication_statuses(record) == {Publication.Status.DISPUTED}
    assert first.publications.count() == 2


def test_an_upheld_objection_removes_the_record_and_closes_when_the_platforms_acknowledge(
    company, agency, platforms, applicant, staff, record
):
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    worker_renders_letters(case)
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    assert open_steps(case) == ["await_removal"]

    acknowledge_everywhere(record)

    assert refresh(case).status == S.APPEAL_WINDOW
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]


def test_a_rejected_objection_is_no_longer_disputed_and_waits_in_the_appeal_window(
    company, agency, platforms, applicant, staff, record
):
    case = file_objection(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], REJECTED)

    case = sign(case, staff["signer"], REJECTED, reasons="The decision names the right branch.")
    case = worker_renders_letters(case)

    record.refresh_from_db()
    assert case.status == S.APPEAL_WINDOW
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert open_steps(case) == []
    assert scheduled_tasks(case) == ["appeal_window"]


def test_every_decision_on_the_route_names_the_person_who_took_it(
    company, agency, platforms, applicant, staff, second_signer
):
    serious = file_restoration(company, [serious_record(company, agency, platforms)], applicant)
    accept(serious, staff["intake"])
    review(serious, staff["case_officer"], APPROVED)
    step(serious, "legal_review", staff["legal_reviewer"], decision="pass")
    sign(serious, staff["signer"], APPROVED)
    sign(serious, second_signer, APPROVED)
    revoked_in_effect(
        case=serious,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="False commitment.",
        evidence=[pdf_upload("revocation")],
    )
    refused = file_objection(company, [restorable_record(company, agency, platforms)], applicant)
    step(refused, "acceptance_check", staff["intake"], decision="not_accept", reasons="Not ours.")

    decisions = CaseEvent.objects.filter(
        kind__in=[
            "accepted",
            "review_completed",
            "legal_review_passed",
            "signed",
            "decided",
            "not_accepted",
            "revoked",
        ]
    )

    assert sorted(decisions.values_list("kind", flat=True)) == [
        "accepted",
        "decided",
        "legal_review_passed",
        "not_accepted",
        "review_completed",
        "revoked",
        "signed",
    ]
    for event in decisions:
        assert event.actor is not None, event.kind
        assert event.actor_name, event.kind
        assert event.automated is False, event.kind


# --- the engine's rules: who may take and do a task ---------------------------------------------


def test_an_officer_without_the_intake_role_cannot_claim_the_acceptance_check(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    task = open_task(case, "acceptance_check")

    with pytest.raises(NotPermitted) as refused:
        actions.task_claim(task=task, user=staff["case_officer"])

    assert refused.value.code == "not_eligible"
    assert "intake officer of SZAMR" in refused.value.message
    assert open_steps(case) == ["acceptance_check"]


def test_the_refusal_names_the_role_needed_in_plain_english(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)

    with pytest.raises(NotPermitted) as refused:
        claim(case, "acceptance_check", staff["case_officer"])

    assert refused.value.message == "This step needs an intake officer of SZAMR."


def test_an_intake_officer_of_another_agency_cannot_claim_the_acceptance_check(
    company, agency, other_agency, platforms, applicant, record
):
    outsider = factories.officer(Role.INTAKE, other_agency)
    case = file_restoration(company, [record], applicant)

    with pytest.raises(NotPermitted) as refused:
        claim(case, "acceptance_check", outsider)

    assert refused.value.code == "not_eligible"
    assert "SZAMR" in refused.value.message
    assert open_steps(case) == ["acceptance_check"]


@pytest.fixture
def all_rounder(agency):
    """A case officer who also holds the legal reviewer's and the signer's roles."""
    for role in (Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.SIGNER):
        user = factories.officer(role, agency, username="all-rounder")
    return user


def test_the_case_officer_who_reviewed_cannot_claim_the_legal_review(
    serious_case, staff, all_rounder
):
    case = review(serious_case, all_rounder, APPROVED)

    with pytest.raises(NotPermitted) as refused:
        claim(case, "legal_review", all_rounder)

    assert refused.value.code == "not_eligible"
    assert refused.value.message == (
        "You did the evidence review of this case: another person does its legal review."
    )
    assert open_steps(case) == ["legal_review"]


def test_the_case_officer_who_reviewed_cannot_claim_the_sign_off(
    company, agency, platforms, applicant, staff, record, all_rounder
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    case = review(case, all_rounder, APPROVED)

    with pytest.raises(NotPermitted) as refused:
        claim(case, "sign_off", all_rounder)

    assert refused.value.code == "not_eligible"
    assert refused.value.message == "You reviewed this case: a different official signs it."
    assert open_steps(case) == ["sign_off"]


def test_a_legal_reviewer_cannot_claim_the_sign_off_of_a_case_they_passed(
    serious_case, staff, agency
):
    legal_and_signer = factories.officer(Role.LEGAL_REVIEWER, agency, username="legal-signer")
    legal_and_signer = factories.officer(Role.SIGNER, agency, username="legal-signer")
    review(serious_case, staff["case_officer"], APPROVED)
    step(serious_case, "legal_review", legal_and_signer, decision="pass")

    with pytest.raises(NotPermitted) as refused:
        claim(serious_case, "sign_off", legal_and_signer)

    assert refused.value.code == "not_eligible"


def test_completing_a_task_someone_else_claimed_is_refused(
    company, agency, platforms, applicant, staff, record
):
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    case = file_restoration(company, [record], applicant)
    task = claim(case, "acceptance_check", staff["intake"])

    with pytest.raises(NotPermitted) as refused:
        actions.task_complete(task=task, user=colleague, data={"decision": "accept"})

    assert refused.value.code == "not_owner"
    assert refused.value.message == f"Task {task.pk} is assigned to intake-szamr."
    assert refresh(case).status == S.SUBMITTED
    assert open_steps(case) == ["acceptance_check@intake-szamr"]


def test_completing_an_unclaimed_task_asks_to_claim_it_first(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    task = open_task(case, "acceptance_check")

    with pytest.raises(NotPermitted) as refused:
        actions.task_complete(task=task, user=staff["intake"], data={"decision": "accept"})

    assert refused.value.code == "not_owner"
    assert refused.value.message == "Claim the task before completing it."
    assert refresh(case).status == S.SUBMITTED


def test_completing_a_task_twice_is_refused_the_second_time(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    task = claim(case, "acceptance_check", staff["intake"])
    actions.task_complete(task=task, user=staff["intake"], data={"decision": "accept"})

    with pytest.raises(WrongState) as refused:
        actions.task_complete(task=task, user=staff["intake"], data={"decision": "accept"})

    assert refused.value.code == "task_closed"
    assert refused.value.http_status == 409
    assert refused.value.message == f"Task {task.pk} is done: it cannot be completed."
    assert event_kinds(case).count("accepted") == 1
    assert open_steps(case) == ["evidence_review"]


def test_a_task_with_a_bad_decision_is_refused_and_stays_with_its_owner(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant)
    task = claim(case, "acceptance_check", staff["intake"])

    with pytest.raises(InvalidInput) as refused:
        actions.task_complete(task=task, user=staff["intake"], data={"decision": "maybe"})

    assert refused.value.field == "decision"
    assert open_steps(case) == ["acceptance_check@intake-szamr"]
    task.refresh_from_db()
    assert task.status == STATUS.ASSIGNED


def test_claiming_a_task_someone_already_claimed_names_who_has_it(
    company, agency, platforms, applicant, staff, record
):
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    case = file_restoration(company, [record], applicant)
    task = claim(case, "acceptance_check", staff["intake"])

    with pytest.raises(WrongState) as refused:
        actions.task_claim(task=task, user=colleague)

    assert refused.value.code == "already_claimed"
    assert refused.value.message == f"Task {task.pk} was already claimed by intake-szamr."
    assert open_steps(case) == ["acceptance_check@intake-szamr"]


def test_a_malformed_task_number_finds_no_task(staff):
    with pytest.raises(Http404, match="No such task"):
        selectors.task_for_officer(staff["intake"], "abc")


def test_an_unknown_task_number_finds_no_task(staff):
    with pytest.raises(Http404, match="No such task"):
        selectors.task_for_officer(staff["intake"], 987654)


def test_a_system_step_cannot_be_claimed_by_a_person(
    company, agency, platforms, applicant, staff, record
):
    case = file_restoration(company, [record], applicant, with_materials=False)
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )

    with pytest.raises(WrongState) as refused:
        actions.task_claim(task=open_task(case, "await_materials"), user=staff["intake"])

    assert refused.value.code == "not_a_task"


def test_an_officer_gives_a_claimed_task_back_to_the_queue(
    company, agency, platforms, applicant, staff, record
):
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    case = file_restoration(company, [record], applicant)
    task = claim(case, "acceptance_check", staff["intake"])

    with pytest.raises(NotPermitted):
        actions.task_release(task=task, user=colleague)
    assert open_steps(case) == ["acceptance_check@intake-szamr"]

    actions.task_release(task=task, user=staff["intake"])

    assert open_steps(case) == ["acceptance_check"]
    actions.task_claim(task=task, user=colleague)
    assert open_steps(case) == ["acceptance_check@intake2-szamr"]


# --- a supervisor assigns tasks in bulk ---------------------------------------------------------


def test_a_supervisor_assigns_tasks_in_bulk_and_sees_why_some_were_skipped(
    company, agency, other_agency, platforms, applicant, staff
):
    intake = staff["intake"]
    supervisor = staff["supervisor"]
    waiting = file_restoration(company, [restorable_record(company, agency, platforms)], applicant)
    claimed = file_restoration(company, [restorable_record(company, agency, platforms)], applicant)
    claim(claimed, "acceptance_check", intake)
    elsewhere = file_restoration(
        company, [restorable_record(company, other_agency, platforms)], applicant
    )
    in_review = file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )
    accept(in_review, intake)
    tasks = [
        open_task(waiting, "acceptance_check"),
        open_task(claimed, "acceptance_check"),
        open_task(elsewhere, "acceptance_check"),
        open_task(in_review, "evidence_review"),
    ]

    result = actions.tasks_assign(tasks=tasks, supervisor=supervisor, assignee=intake)

    assert result.done == [tasks[0].pk]
    assert result.skipped == {
        tasks[1].pk: "Already assigned to them.",
        tasks[2].pk: f"Not a task of your agency ({elsewhere.reference}).",
        tasks[3].pk: "This step needs a case officer of SZAMR.",
    }
    assert open_steps(waiting) == ["acceptance_check@intake-szamr"]
    assert open_steps(elsewhere) == ["acceptance_check"]
    assert open_steps(in_review) == ["evidence_review"]
    assigned = last_event(waiting, "task_assigned")
    assert assigned.actor == supervisor
    assert assigned.data["assignee"] == "intake-szamr"
    assert assigned.data["step"] == "acceptance_check"


def test_a_supervisor_reassigns_a_claimed_task_to_another_eligible_officer(
    company, agency, platforms, applicant, staff, record
):
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    case = file_restoration(company, [record], applicant)
    task = claim(case, "acceptance_check", staff["intake"])

    result = actions.tasks_assign(tasks=[task], supervisor=staff["supervisor"], assignee=colleague)

    assert result.done == [task.pk]
    assert result.skipped == {}
    assert open_steps(case) == ["acceptance_check@intake2-szamr"]
    case = actions.task_complete(task=task, user=colleague, data={"decision": "accept"})
    assert case.status == S.UNDER_REVIEW
    assert last_event(case, "accepted").actor == colleague


def test_a_supervisor_cannot_assign_the_sign_off_to_the_officer_who_reviewed(
    company, agency, platforms, applicant, staff, record, all_rounder
):
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, all_rounder, APPROVED)
    task = open_task(case, "sign_off")

    result = actions.tasks_assign(
        tasks=[task], supervisor=staff["supervisor"], assignee=all_rounder
    )

    assert result.done == []
    assert result.skipped == {task.pk: "You reviewed this case: a different official signs it."}
    assert open_steps(case) == ["sign_off"]
