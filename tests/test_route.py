"""The route of a case, as the applicant, the intake officer, the case officer and the
signing official live it: submission, acceptance check, missing materials, review,
decision, list removal on every platform, and the ways a case ends early.

Every step goes the public way (``workflows.actions``, through ``tests.flow_helpers``):
an officer claims the open task of the case and completes it, the applicant answers or
withdraws, a platform acknowledges, the clock's timers fire. A refusal is asserted as
the person meets it there: the step refused to them, or no such step open at all.
"""

import datetime

import pytest
from django.utils import timezone

from cases.errors import Duplicate, InvalidInput, NotPermitted, RuleViolation, WrongState
from cases.models import Case, CaseRecord, Deadline, Evidence, Material, Publication, Record
from cases.rules import rule_set_add_version
from tests import factories
from tests.flow_helpers import (
    accept,
    acknowledge_published_everywhere,
    add_evidence,
    add_restoration_materials,
    claim,
    deadline,
    event_kinds,
    fire,
    last_event,
    missing,
    not_accept,
    objection_accepted,
    open_steps,
    open_task,
    publication_statuses,
    refresh,
    request_materials_in_review,
    restoration_accepted,
    review,
    scheduled_timer,
    sign,
    step,
    submit,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import days_ago, pdf_upload, restorable_record
from workflows import actions

RESTORATION = Case.Kind.RESTORATION
OBJECTION = Case.Kind.OBJECTION


def approved_restoration(company, agency, platforms, applicant, staff):
    """A restoration of one record on both platforms, approved and signed."""
    record = restorable_record(company, agency, platforms)
    case = restoration_accepted(company, [record], applicant, staff)
    review(case, staff["case_officer"], Case.Decision.APPROVED)
    case = sign(case, staff["signer"], Case.Decision.APPROVED)
    return case, record


def rejected_objection(company, agency, platforms, applicant, staff):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)
    review(case, staff["case_officer"], Case.Decision.REJECTED)
    case = sign(
        case,
        staff["signer"],
        Case.Decision.REJECTED,
        reasons="The decision names the right branch.",
    )
    return case, record


# --- restoration approved, end to end ------------------------------------------------


def test_an_approved_restoration_removes_the_record_and_waits_for_every_platform(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = submit(RESTORATION, company, [record], applicant)
    assert case.status == Case.Status.SUBMITTED
    assert case.reference.startswith(f"RD-{timezone.localdate().year}-")

    add_restoration_materials(case, applicant)
    case = accept(case, staff["intake"])
    assert case.status == Case.Status.UNDER_REVIEW
    assert case.rule_set.label.startswith("penalty_publication/general v2")
    assert case.rule_set.instrument == "ndrc36"

    case = review(case, staff["case_officer"], Case.Decision.APPROVED)
    # The general rule set has no legal review and one signer.
    assert case.status == Case.Status.SIGN_OFF

    case = sign(case, staff["signer"], Case.Decision.APPROVED)

    record.refresh_from_db()
    assert case.status == Case.Status.REMOVAL
    assert case.decision == Case.Decision.APPROVED
    assert record.status == Record.Status.REMOVED
    assert publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}
    assert deadline(case, Deadline.Step.REMOVAL).status == Deadline.Status.RUNNING


def test_the_case_closes_into_the_appeal_window_when_every_platform_acknowledged(
    company, agency, platforms, applicant, staff
):
    case, record = approved_restoration(company, agency, platforms, applicant, staff)
    first, second = record.publications.order_by("platform__code")

    actions.publication_acknowledge(publication=first)
    case.refresh_from_db()
    assert case.status == Case.Status.REMOVAL

    actions.publication_acknowledge(publication=second)
    case.refresh_from_db()
    assert case.status == Case.Status.APPEAL_WINDOW
    assert case.closed_at is not None
    assert publication_statuses(record) == {Publication.Status.WITHDRAWN}
    assert deadline(case, Deadline.Step.REMOVAL).status == Deadline.Status.MET
    assert event_kinds(case).count("platform_acknowledged") == 2


def test_a_repeated_acknowledgement_changes_nothing(company, agency, platforms, applicant, staff):
    case, record = approved_restoration(company, agency, platforms, applicant, staff)
    for publication in record.publications.all():
        actions.publication_acknowledge(publication=publication)
    publication = record.publications.first()
    publication.refresh_from_db()
    acknowledged_at = publication.acknowledged_at
    events_before = case.events.count()

    again = actions.publication_acknowledge(publication=publication)

    case.refresh_from_db()
    assert again.status == Publication.Status.WITHDRAWN
    assert again.acknowledged_at == acknowledged_at
    assert case.status == Case.Status.APPEAL_WINDOW
    assert case.events.count() == events_before


def test_a_platform_cannot_acknowledge_a_withdrawal_nobody_requested(
    company, agency, platforms, applicant
):
    record = restorable_record(company, agency, platforms)

    with pytest.raises(WrongState) as refused:
        actions.publication_acknowledge(publication=record.publications.first())

    assert refused.value.code == "no_withdrawal_requested"
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}


# --- objections -----------------------------------------------------------------------


def test_accepting_an_objection_flags_the_record_disputed_on_every_platform(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)

    case = objection_accepted(company, [record], applicant, staff)

    record.refresh_from_db()
    assert case.status == Case.Status.UNDER_REVIEW
    assert record.status == Record.Status.DISPUTED
    assert publication_statuses(record) == {Publication.Status.DISPUTED}


def test_an_upheld_objection_removes_the_record_from_every_platform(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)
    review(case, staff["case_officer"], Case.Decision.APPROVED)

    case = sign(case, staff["signer"], Case.Decision.APPROVED)

    record.refresh_from_db()
    assert case.status == Case.Status.REMOVAL
    assert record.status == Record.Status.REMOVED
    assert publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}


def _uphold_with_correction(company, agency, platforms, applicant, staff):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)
    review(
        case,
        staff["case_officer"],
        Case.Decision.APPROVED,
        corrections={record.pk: "Branch: 福田分公司 (not 南山分公司)."},
    )
    case = sign(case, staff["signer"], Case.Decision.APPROVED)
    record.refresh_from_db()
    return case, record


def test_an_objection_upheld_with_a_correction_keeps_the_record_active_with_the_corrected_text(
    company, agency, platforms, applicant, staff
):
    case, record = _uphold_with_correction(company, agency, platforms, applicant, staff)

    assert case.decision == Case.Decision.APPROVED
    assert case.status == Case.Status.APPEAL_WINDOW
    assert record.status == Record.Status.ACTIVE
    assert record.corrected_text == "Branch: 福田分公司 (not 南山分公司)."


def test_a_corrected_record_is_no_longer_flagged_disputed_on_the_platforms(
    company, agency, platforms, applicant, staff
):
    _, record = _uphold_with_correction(company, agency, platforms, applicant, staff)

    assert publication_statuses(record) == {Publication.Status.PUBLISHED}


def test_the_case_officer_states_the_correction_when_completing_the_review(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)

    step(
        case,
        "evidence_review",
        staff["case_officer"],
        reviews=[
            {"evidence": item.pk, "outcome": Evidence.Outcome.ACCEPTED}
            for item in case.evidence.all()
        ],
        recommendation=Case.Decision.APPROVED,
        corrections={record.pk: "Branch: 福田分公司."},
    )
    sign(case, staff["signer"], Case.Decision.APPROVED)

    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE
    assert record.corrected_text == "Branch: 福田分公司."


def test_a_rejected_objection_returns_the_record_to_active_and_published(
    company, agency, platforms, applicant, staff
):
    case, record = rejected_objection(company, agency, platforms, applicant, staff)

    record.refresh_from_db()
    assert case.status == Case.Status.APPEAL_WINDOW
    assert case.decision == Case.Decision.REJECTED
    assert case.decision_reasons == "The decision names the right branch."
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}


# --- partial approval -------------------------------------------------------------------


def test_a_partial_approval_removes_one_record_and_keeps_the_other(
    company, agency, platforms, applicant, staff
):
    upheld = restorable_record(company, agency, platforms)
    kept = restorable_record(company, agency, platforms)
    case = restoration_accepted(company, [upheld, kept], applicant, staff)
    outcomes = {upheld.pk: CaseRecord.Outcome.UPHELD, kept.pk: CaseRecord.Outcome.REJECTED}
    review(case, staff["case_officer"], Case.Decision.PARTLY_APPROVED, record_outcomes=outcomes)

    case = sign(
        case,
        staff["signer"],
        Case.Decision.PARTLY_APPROVED,
        reasons="The second fine is still unpaid.",
        record_outcomes=outcomes,
    )

    upheld.refresh_from_db()
    kept.refresh_from_db()
    assert case.decision == Case.Decision.PARTLY_APPROVED
    assert case.status == Case.Status.REMOVAL
    assert upheld.status == Record.Status.REMOVED
    assert publication_statuses(upheld) == {Publication.Status.WITHDRAWAL_REQUESTED}
    assert kept.status == Record.Status.ACTIVE
    assert publication_statuses(kept) == {Publication.Status.PUBLISHED}


def test_a_partial_recommendation_must_name_every_record(
    company, agency, platforms, applicant, staff
):
    upheld = restorable_record(company, agency, platforms)
    unnamed = restorable_record(company, agency, platforms)
    case = restoration_accepted(company, [upheld, unnamed], applicant, staff)

    with pytest.raises(InvalidInput) as refused:
        review(
            case,
            staff["case_officer"],
            Case.Decision.PARTLY_APPROVED,
            record_outcomes={upheld.pk: CaseRecord.Outcome.UPHELD},
        )

    case.refresh_from_db()
    assert refused.value.field == "record_outcomes"
    assert "for every record" in refused.value.message
    assert case.status == Case.Status.UNDER_REVIEW
    assert open_steps(case) == ["evidence_review@case_officer-szamr"]


def test_a_signer_can_sign_the_recommended_partial_approval_as_it_stands(
    company, agency, platforms, applicant, staff
):
    upheld = restorable_record(company, agency, platforms)
    kept = restorable_record(company, agency, platforms)
    case = restoration_accepted(company, [upheld, kept], applicant, staff)
    review(
        case,
        staff["case_officer"],
        Case.Decision.PARTLY_APPROVED,
        record_outcomes={upheld.pk: CaseRecord.Outcome.UPHELD, kept.pk: "rejected"},
    )

    case = sign(
        case,
        staff["signer"],
        Case.Decision.PARTLY_APPROVED,
        reasons="The second fine is still unpaid.",
    )

    upheld.refresh_from_db()
    kept.refresh_from_db()
    assert upheld.status == Record.Status.REMOVED
    assert kept.status == Record.Status.ACTIVE


# --- acceptance check -------------------------------------------------------------------


def test_not_accepting_a_case_needs_reasons(company, agency, platforms, applicant, staff):
    case = submit(OBJECTION, company, [restorable_record(company, agency, platforms)], applicant)

    with pytest.raises(InvalidInput) as refused:
        not_accept(case, staff["intake"], reasons="  ")

    case.refresh_from_db()
    assert refused.value.field == "reasons"
    assert case.status == Case.Status.SUBMITTED
    assert open_steps(case) == ["acceptance_check@intake-szamr"]


def test_a_case_not_accepted_is_closed_with_its_reasons(
    company, agency, platforms, applicant, staff
):
    case = submit(OBJECTION, company, [restorable_record(company, agency, platforms)], applicant)

    case = not_accept(case, staff["intake"], reasons="The record belongs to another agency.")

    assert case.status == Case.Status.NOT_ACCEPTED
    assert case.decision_reasons == "The record belongs to another agency."
    assert case.closed_at is not None
    assert deadline(case, Deadline.Step.ACCEPTANCE).status == Deadline.Status.CANCELLED
    assert last_event(case, "not_accepted").actor == staff["intake"]


def test_accepting_a_restoration_without_a_commitment_letter_for_each_record_is_refused(
    company, agency, platforms, applicant, staff
):
    covered = restorable_record(company, agency, platforms)
    uncovered = restorable_record(company, agency, platforms)
    case = submit(RESTORATION, company, [covered, uncovered], applicant)
    add_evidence(case, applicant, Material.COMMITMENT_LETTER, record=covered)
    add_evidence(case, applicant, Material.FULFILMENT_PROOF)

    with pytest.raises(WrongState) as refused:
        accept(case, staff["intake"])

    case.refresh_from_db()
    assert refused.value.code == "materials_missing"
    assert "Credit commitment letter" in refused.value.message
    assert "Proof the penalty was fulfilled" not in refused.value.message
    assert case.status == Case.Status.SUBMITTED


def test_an_intake_officer_of_another_agency_cannot_accept_the_case(
    company, agency, other_agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = submit(OBJECTION, company, [record], applicant)
    stranger = factories.officer("intake", other_agency, username="intake-guangzhou")

    with pytest.raises(NotPermitted) as refused:
        accept(case, stranger)

    case.refresh_from_db()
    assert refused.value.code == "not_eligible"
    assert "SZAMR" in refused.value.message
    assert case.status == Case.Status.SUBMITTED
    assert open_steps(case) == ["acceptance_check"]


# --- missing materials ----------------------------------------------------------------------


def _request_all_restoration_materials(case, officer):
    return step(
        case,
        "acceptance_check",
        officer,
        decision="request_materials",
        missing=[
            {"material": Material.COMMITMENT_LETTER, "detail": "One per record, signed."},
            {"material": Material.FULFILMENT_PROOF, "detail": "Bank receipt of the fine."},
        ],
    )


def test_missing_materials_are_requested_in_one_list_and_stop_the_acceptance_clock(
    company, agency, platforms, applicant, staff
):
    case = submit(RESTORATION, company, [restorable_record(company, agency, platforms)], applicant)

    case = _request_all_restoration_materials(case, staff["intake"])

    assert case.status == Case.Status.AWAITING_MATERIALS
    assert [item["material"] for item in case.missing_materials] == [
        "commitment_letter",
        "fulfilment_proof",
    ]
    assert deadline(case, Deadline.Step.ACCEPTANCE).status == Deadline.Status.STOPPED
    assert deadline(case, Deadline.Step.MATERIALS).status == Deadline.Status.RUNNING
    assert "materials_requested" in event_kinds(case)


def test_a_second_request_for_materials_while_one_is_open_is_refused(
    company, agency, platforms, applicant, staff
):
    case = submit(RESTORATION, company, [restorable_record(company, agency, platforms)], applicant)
    check = open_task(case, "acceptance_check")
    _request_all_restoration_materials(case, staff["intake"])

    # The acceptance check that asked is done; the case waits for the applicant, with no
    # step open for an officer to ask again.
    assert open_steps(case) == ["await_materials"]
    with pytest.raises(WrongState) as refused:
        actions.task_complete(
            task=check,
            user=staff["intake"],
            data={"decision": "request_materials", "missing": missing(Material.CREDIT_REPORT)},
        )

    assert refused.value.code == "task_closed"
    assert [m["material"] for m in refresh(case).missing_materials] == [
        "commitment_letter",
        "fulfilment_proof",
    ]


def test_a_request_for_materials_that_leaves_out_a_missing_required_material_is_refused(
    company, agency, platforms, applicant, staff
):
    case = submit(RESTORATION, company, [restorable_record(company, agency, platforms)], applicant)

    with pytest.raises(InvalidInput) as refused:
        step(
            case,
            "acceptance_check",
            staff["intake"],
            decision="request_materials",
            missing=[{"material": Material.COMMITMENT_LETTER, "detail": "One per record."}],
        )

    assert "Proof the penalty was fulfilled" in refused.value.message
    assert refresh(case).status == Case.Status.SUBMITTED


def test_resubmitting_without_a_listed_material_is_refused_naming_it(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = submit(RESTORATION, company, [record], applicant)
    _request_all_restoration_materials(case, staff["intake"])
    add_evidence(case, applicant, Material.COMMITMENT_LETTER, record=record)

    with pytest.raises(WrongState) as refused:
        actions.case_resubmit(case=case, applicant=applicant)

    case.refresh_from_db()
    assert refused.value.code == "materials_missing"
    assert "Proof the penalty was fulfilled" in refused.value.message
    assert "Credit commitment letter" not in refused.value.message
    assert case.status == Case.Status.AWAITING_MATERIALS


def test_resubmitting_every_listed_material_returns_the_case_to_the_acceptance_check(
    company, agency, platforms, applicant, staff
):
    case = submit(RESTORATION, company, [restorable_record(company, agency, platforms)], applicant)
    _request_all_restoration_materials(case, staff["intake"])
    add_restoration_materials(case, applicant)

    case = actions.case_resubmit(case=case, applicant=applicant)

    assert case.status == Case.Status.SUBMITTED
    assert case.missing_materials == []
    assert deadline(case, Deadline.Step.ACCEPTANCE).status == Deadline.Status.RUNNING
    assert deadline(case, Deadline.Step.MATERIALS).status == Deadline.Status.MET
    assert accept(case, staff["intake"]).status == Case.Status.UNDER_REVIEW


def test_an_item_that_needs_more_goes_back_to_review_once_the_applicant_supplied_more(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    item = case.evidence.get()
    case = request_materials_in_review(
        case,
        staff["case_officer"],
        Material.CORRECTION_EVIDENCE,
        reviews=[
            {
                "evidence": item.pk,
                "outcome": Evidence.Outcome.NEEDS_MORE,
                "reason": "The bank receipt is cut off.",
            }
        ],
    )
    assert case.status == Case.Status.AWAITING_MATERIALS
    assert deadline(case, Deadline.Step.DECISION).status == Deadline.Status.STOPPED

    add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)
    case = actions.case_resubmit(case=case, applicant=applicant)

    item.refresh_from_db()
    assert case.status == Case.Status.UNDER_REVIEW
    assert item.review_outcome == Evidence.Outcome.PENDING
    assert deadline(case, Deadline.Step.DECISION).status == Deadline.Status.RUNNING


def test_completing_a_review_with_an_item_that_needs_more_is_refused(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    item = case.evidence.get()

    with pytest.raises(WrongState) as refused:
        review(
            case,
            staff["case_officer"],
            Case.Decision.REJECTED,
            reviews=[
                {
                    "evidence": item.pk,
                    "outcome": Evidence.Outcome.NEEDS_MORE,
                    "reason": "The bank receipt is cut off.",
                }
            ],
        )

    assert refused.value.code == "evidence_needs_more"
    assert refresh(case).status == Case.Status.UNDER_REVIEW


# --- lapse ------------------------------------------------------------------------------------


def _objection_waiting_for_materials(company, agency, platforms, applicant, staff):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)
    request_materials_in_review(case, staff["case_officer"], Material.CORRECTION_EVIDENCE)
    return case, record


def test_a_case_lapses_after_the_materials_deadline_and_the_records_come_back(
    company, agency, platforms, applicant, staff
):
    case, record = _objection_waiting_for_materials(company, agency, platforms, applicant, staff)
    Deadline.objects.filter(case=case, step=Deadline.Step.MATERIALS).update(due_on=days_ago(1))

    fire(scheduled_timer(case, "await_materials__timeout"))  # the clock reached the moment

    case = refresh(case)
    record.refresh_from_db()
    assert case.status == Case.Status.LAPSED
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert deadline(case, Deadline.Step.MATERIALS).status == Deadline.Status.MISSED
    assert deadline(case, Deadline.Step.DECISION).status == Deadline.Status.CANCELLED
    lapsed = last_event(case, "lapsed")
    assert lapsed.automated is True
    assert lapsed.actor is None


def test_a_case_cannot_lapse_before_its_materials_deadline(
    company, agency, platforms, applicant, staff
):
    case, _ = _objection_waiting_for_materials(company, agency, platforms, applicant, staff)
    due_on = deadline(case, Deadline.Step.MATERIALS).due_on

    fired = fire()  # the timer sweep runs today, long before the deadline

    # The lapse is armed for the first moment after the deadline, not before.
    lapse_at = timezone.localtime(scheduled_timer(case, "await_materials__timeout").scheduled)
    assert lapse_at == timezone.make_aware(
        datetime.datetime.combine(due_on + datetime.timedelta(days=1), datetime.time.min)
    )
    assert fired == 0
    assert refresh(case).status == Case.Status.AWAITING_MATERIALS
    assert open_steps(case) == ["await_materials"]
    assert "lapsed" not in event_kinds(case)


# --- withdrawal -------------------------------------------------------------------------------


def test_the_applicant_withdraws_an_objection_and_the_record_is_no_longer_disputed(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)

    case = actions.case_withdraw(case=case, applicant=applicant, reason="Settled with the bureau.")

    record.refresh_from_db()
    assert case.status == Case.Status.WITHDRAWN
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert deadline(case, Deadline.Step.DECISION).status == Deadline.Status.CANCELLED
    assert "withdrawn" in event_kinds(case)


def test_a_decided_case_cannot_be_withdrawn(company, agency, platforms, applicant, staff):
    case, _ = rejected_objection(company, agency, platforms, applicant, staff)

    with pytest.raises(WrongState) as refused:
        actions.case_withdraw(case=case, applicant=applicant)

    assert refused.value.code == "wrong_state"
    assert refused.value.http_status == 409


def test_a_stranger_cannot_withdraw_someone_elses_case(
    company, agency, platforms, applicant, staff
):
    case = submit(OBJECTION, company, [restorable_record(company, agency, platforms)], applicant)
    stranger = factories.representative(factories.SubjectFactory(), "someone-else")

    with pytest.raises(NotPermitted) as refused:
        actions.case_withdraw(case=case, applicant=stranger)

    case.refresh_from_db()
    assert refused.value.code == "not_applicant"
    assert case.status == Case.Status.SUBMITTED


# --- revocation -------------------------------------------------------------------------------


def test_revoking_an_approved_restoration_republishes_the_record_everywhere(
    company, agency, platforms, applicant, staff
):
    case, record = approved_restoration(company, agency, platforms, applicant, staff)
    for publication in record.publications.all():
        actions.publication_acknowledge(publication=publication)

    case = revoked_in_effect(
        case=case,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="The commitment letter was false.",
        evidence=[pdf_upload("revocation")],
    )

    record.refresh_from_db()
    assert case.status == Case.Status.REVOKED
    assert record.status == Record.Status.ACTIVE
    assert publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    acknowledge_published_everywhere(record)
    assert publication_statuses(record) == {Publication.Status.PUBLISHED}
    revoked = last_event(case, "revoked")
    assert revoked.data["proposed_by"] == staff["signer"].username
    assert revoked.data["reinstated"] == [record.decision_no]


def test_an_objection_cannot_be_revoked(company, agency, platforms, applicant, staff):
    record = restorable_record(company, agency, platforms)
    case = objection_accepted(company, [record], applicant, staff)
    review(case, staff["case_officer"], Case.Decision.APPROVED)
    case = sign(case, staff["signer"], Case.Decision.APPROVED)

    with pytest.raises(WrongState) as refused:
        actions.case_revocation_propose(
            case=case,
            official=staff["signer"],
            ground="untrue_commitment",
            reasons="Changed our mind.",
            evidence=[pdf_upload("revocation")],
        )

    assert refused.value.code == "not_revocable"


def test_a_rejected_restoration_cannot_be_revoked(company, agency, platforms, applicant, staff):
    record = restorable_record(company, agency, platforms)
    case = restoration_accepted(company, [record], applicant, staff)
    review(case, staff["case_officer"], Case.Decision.REJECTED)
    case = sign(case, staff["signer"], Case.Decision.REJECTED, reasons="The fine is unpaid.")

    with pytest.raises(WrongState) as refused:
        actions.case_revocation_propose(
            case=case,
            official=staff["signer"],
            ground="untrue_commitment",
            reasons="The commitment was false.",
            evidence=[pdf_upload("revocation")],
        )

    case.refresh_from_db()
    assert refused.value.code == "not_revocable"
    assert case.status == Case.Status.APPEAL_WINDOW


# --- submission refused -----------------------------------------------------------------------


def test_a_restoration_before_the_minimum_period_is_filed_with_the_date_on_record(
    company, agency, platforms, applicant
):
    restorable_from = timezone.localdate() + datetime.timedelta(days=30)
    record = restorable_record(
        company, agency, platforms, listed_on=days_ago(60), restorable_from=restorable_from
    )

    case = submit(RESTORATION, company, [record], applicant)

    [finding] = last_event(case, "submitted").data["eligibility"]
    assert (finding["finding"], finding["earliest"]) == ("not_yet", f"{restorable_from:%Y-%m-%d}")
    assert open_steps(case) == ["acceptance_check"]  # a person decides


def test_a_licence_revocation_can_be_restored_under_order_36(company, agency, platforms, applicant):
    """Only a law, a regulation or a central policy bars a restoration (Order 36 Art. 2)."""
    record = restorable_record(
        company, agency, platforms, penalty_type="licence_revocation", severity="serious"
    )

    case = submit(RESTORATION, company, [record], applicant)

    assert case.status == Case.Status.SUBMITTED


def test_a_penalty_type_its_version_bars_is_filed_with_the_bar_on_record(
    company, agency, platforms, applicant
):
    rule_set_add_version(
        list_type=factories.list_type(),
        severity="serious",
        agency=agency,
        effective_from=datetime.date(2026, 4, 1),
        min_publication_months=12,
        max_publication_months=36,
        barred_penalty_types=["licence_revocation"],
        legal_basis="a law that bars it",
    )
    record = restorable_record(
        company, agency, platforms, penalty_type="licence_revocation", severity="serious"
    )

    case = submit(RESTORATION, company, [record], applicant)

    [finding] = last_event(case, "submitted").data["eligibility"]
    assert (finding["finding"], finding["penalty_types"]) == ("barred", ["licence_revocation"])
    assert case.status == Case.Status.SUBMITTED


def test_an_objection_to_an_abnormal_operations_listing_after_30_days_is_refused(
    company, agency, applicant
):
    record = factories.RecordFactory(
        subject=company,
        agency=agency,
        list_type=factories.list_type("abnormal_operations"),
        listed_on=days_ago(31),
    )

    with pytest.raises(RuleViolation) as refused:
        submit(OBJECTION, company, [record], applicant)

    assert refused.value.code == "objection_window_passed"
    assert "within 30 days" in refused.value.message


def test_an_objection_to_an_abnormal_operations_listing_within_30_days_is_filed(
    company, agency, applicant
):
    record = factories.RecordFactory(
        subject=company,
        agency=agency,
        list_type=factories.list_type("abnormal_operations"),
        listed_on=days_ago(30),
    )

    case = submit(OBJECTION, company, [record], applicant)

    assert case.status == Case.Status.SUBMITTED


def test_a_record_already_in_an_open_case_of_the_same_kind_is_refused(
    company, agency, platforms, applicant
):
    record = restorable_record(company, agency, platforms)
    first = submit(OBJECTION, company, [record], applicant)

    with pytest.raises(Duplicate) as refused:
        submit(OBJECTION, company, [record], applicant, grounds="Again.")

    assert refused.value.code == "record_in_open_case"
    assert first.reference in refused.value.message
    assert Case.objects.count() == 1


def test_a_repeated_submission_with_the_same_idempotency_key_returns_the_same_case(
    company, agency, platforms, applicant
):
    record = restorable_record(company, agency, platforms)
    first = submit(OBJECTION, company, [record], applicant, idempotency_key="req-42")

    again = submit(OBJECTION, company, [record], applicant, idempotency_key="req-42")

    assert again.pk == first.pk
    assert Case.objects.count() == 1
    assert event_kinds(first).count("submitted") == 1


def test_an_outsider_repeating_the_applicants_idempotency_key_does_not_get_the_case(
    company, agency, other_agency, platforms, applicant
):
    record = restorable_record(company, agency, platforms)
    submit(OBJECTION, company, [record], applicant, idempotency_key="req-42")
    outsider = factories.officer("intake", other_agency, username="intake-guangzhou")

    with pytest.raises(NotPermitted) as refused:
        submit(
            OBJECTION,
            company,
            [record],
            applicant,
            filed_by=outsider,
            channel=Case.Channel.OFFICER,
            idempotency_key="req-42",
        )

    assert refused.value.code == "role_required"


def test_records_of_two_agencies_cannot_be_in_one_case(
    company, agency, other_agency, platforms, applicant
):
    ours = restorable_record(company, agency, platforms)
    theirs = restorable_record(company, other_agency, platforms)

    with pytest.raises(InvalidInput) as refused:
        submit(OBJECTION, company, [ours, theirs], applicant)

    assert refused.value.field == "records"
    assert "same agency" in refused.value.message
    assert not Case.objects.exists()


def test_a_user_who_is_not_a_confirmed_representative_cannot_file(company, agency, platforms):
    unconfirmed = factories.representative(company, "not-yet", confirmed=False)
    record = restorable_record(company, agency, platforms)

    with pytest.raises(NotPermitted) as refused:
        submit(OBJECTION, company, [record], unconfirmed)

    assert refused.value.code == "not_representative"
    assert not Case.objects.exists()


def test_an_officer_files_a_case_on_the_subjects_behalf(
    company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)

    case = submit(
        OBJECTION,
        company,
        [record],
        applicant,
        filed_by=staff["intake"],
        channel=Case.Channel.OFFICER,
    )

    assert case.status == Case.Status.SUBMITTED
    assert case.channel == Case.Channel.OFFICER
    assert case.filed_by == staff["intake"]
    submitted = case.events.get(kind="submitted")
    assert submitted.actor == staff["intake"]
    assert submitted.data["on_behalf_of"] == "acme"


# --- wrong state --------------------------------------------------------------------------------


def test_signing_a_case_still_under_review_is_a_conflict(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )

    # There is no sign-off to take yet: the one open step is the review, not the signer's.
    assert open_steps(case) == ["evidence_review"]
    with pytest.raises(NotPermitted) as refused:
        claim(case, "evidence_review", staff["signer"])

    assert refused.value.code == "not_eligible"
    assert refused.value.http_status == 403
    assert refused.value.message == "This step needs a case officer of SZAMR."
    assert refresh(case).status == Case.Status.UNDER_REVIEW
    assert not case.signatures.exists()


def test_accepting_a_case_twice_is_a_conflict(company, agency, platforms, applicant, staff):
    case = submit(OBJECTION, company, [restorable_record(company, agency, platforms)], applicant)
    add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)
    check = claim(case, "acceptance_check", staff["intake"])
    actions.task_complete(task=check, user=staff["intake"], data={"decision": "accept"})

    with pytest.raises(WrongState) as refused:
        actions.task_complete(task=check, user=staff["intake"], data={"decision": "accept"})

    assert refused.value.code == "task_closed"
    assert refused.value.http_status == 409
    assert event_kinds(case).count("accepted") == 1


def test_evidence_cannot_be_reviewed_before_the_case_is_accepted(
    company, agency, platforms, applicant, staff
):
    case = submit(OBJECTION, company, [restorable_record(company, agency, platforms)], applicant)
    item = add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)

    # The evidence review is not open yet: the one open step is the intake officer's.
    assert open_steps(case) == ["acceptance_check"]
    with pytest.raises(NotPermitted) as refused:
        claim(case, "acceptance_check", staff["case_officer"])

    item.refresh_from_db()
    assert refused.value.code == "not_eligible"
    assert refused.value.http_status == 403
    assert item.review_outcome == Evidence.Outcome.PENDING
