"""Evidence review, legal review and sign-off: a named person at each step, never the same
person twice (four eyes), and a collective decision for serious cases.

Each step is taken as officers take it, through the route (``tests.flow_helpers``): a
four-eyes refusal is the step refused to that person when they try to take it.
"""

import pytest

from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.models import Case, CaseEvent, CaseRecord, Evidence, Material, Record, Signature
from tests import factories
from tests.flow_helpers import (
    add_evidence,
    claim,
    event_kinds,
    last_event,
    legal_review,
    not_accept,
    objection_accepted,
    open_steps,
    request_materials_in_review,
    restoration_accepted,
    review,
    sign,
    submit,
    supply,
)
from tests.flow_helpers import revoked as revoked_in_effect
from tests.helpers import pdf_upload, restorable_record, serious_record
from workflows import actions

APPROVED = Case.Decision.APPROVED
REJECTED = Case.Decision.REJECTED


@pytest.fixture
def second_signer(agency):
    return factories.officer("signer", agency, username="signer-2")


def serious_case_at_sign_off(company, agency, platforms, applicant, staff, records=None):
    """A serious restoration reviewed, recommended for approval and legally reviewed."""
    records = records or [serious_record(company, agency, platforms)]
    case = restoration_accepted(company, records, applicant, staff)
    review(case, staff["case_officer"], APPROVED)
    return legal_review(case, staff["legal_reviewer"])


# --- four eyes ----------------------------------------------------------------------------


def test_signer_cannot_sign_a_case_they_reviewed(company, agency, platforms, applicant, staff):
    factories.officer("case_officer", agency, username="li")
    li = factories.officer("signer", agency, username="li")
    case = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    review(case, li, APPROVED)

    with pytest.raises(NotPermitted) as refused:
        sign(case, li, APPROVED)

    case.refresh_from_db()
    assert refused.value.code == "not_eligible"
    assert refused.value.message == "You reviewed this case: a different official signs it."
    assert case.status == Case.Status.SIGN_OFF
    assert open_steps(case) == ["sign_off"]
    assert not case.signatures.exists()


def test_signer_cannot_sign_a_case_whose_evidence_they_reviewed(
    company, agency, platforms, applicant, staff
):
    factories.officer("case_officer", agency, username="li")
    li = factories.officer("signer", agency, username="li")
    case = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    # Li accepts every item and asks for one more; the case officer completes the review.
    request_materials_in_review(
        case,
        li,
        Material.CREDIT_REPORT,
        reviews=[{"evidence": item.pk, "outcome": "accepted"} for item in case.evidence.all()],
    )
    supply(case, applicant, Material.CREDIT_REPORT)
    actions.case_resubmit(case=case, applicant=applicant)
    review(case, staff["case_officer"], APPROVED)

    with pytest.raises(NotPermitted) as refused:
        sign(case, li, APPROVED)

    assert refused.value.code == "not_eligible"
    assert refused.value.message == "You reviewed this case: a different official signs it."
    assert not case.signatures.exists()


def test_signer_cannot_sign_a_case_they_legally_reviewed(
    company, agency, platforms, applicant, staff
):
    factories.officer("legal_reviewer", agency, username="wang")
    wang = factories.officer("signer", agency, username="wang")
    case = restoration_accepted(
        company, [serious_record(company, agency, platforms)], applicant, staff
    )
    review(case, staff["case_officer"], APPROVED)
    legal_review(case, wang)

    with pytest.raises(NotPermitted) as refused:
        sign(case, wang, APPROVED)

    assert refused.value.code == "not_eligible"
    assert refused.value.message == "You reviewed this case: a different official signs it."
    assert not case.signatures.exists()


def test_legal_reviewer_cannot_be_the_case_officer_who_reviewed_the_case(
    company, agency, platforms, applicant, staff
):
    factories.officer("case_officer", agency, username="zhao")
    zhao = factories.officer("legal_reviewer", agency, username="zhao")
    case = restoration_accepted(
        company, [serious_record(company, agency, platforms)], applicant, staff
    )
    case = review(case, zhao, APPROVED)
    assert case.status == Case.Status.LEGAL_REVIEW

    with pytest.raises(NotPermitted) as refused:
        legal_review(case, zhao)

    case.refresh_from_db()
    assert refused.value.code == "not_eligible"
    assert refused.value.message == (
        "You did the evidence review of this case: another person does its legal review."
    )
    assert case.status == Case.Status.LEGAL_REVIEW
    assert case.legal_reviewer is None


def test_legal_review_sends_a_case_back_only_with_a_reason(
    company, agency, platforms, applicant, staff
):
    case = restoration_accepted(
        company, [serious_record(company, agency, platforms)], applicant, staff
    )
    review(case, staff["case_officer"], APPROVED)
    task = claim(case, "legal_review", staff["legal_reviewer"])

    with pytest.raises(InvalidInput):
        actions.task_complete(
            task=task, user=staff["legal_reviewer"], data={"decision": "send_back"}
        )
    case = actions.task_complete(
        task=task,
        user=staff["legal_reviewer"],
        data={
            "decision": "send_back",
            "note": "The receipt does not match the decision number.",
        },
    )

    assert case.status == Case.Status.UNDER_REVIEW
    assert "legal_review_sent_back" in event_kinds(case)


# --- serious cases: collective decision --------------------------------------------------------


def test_a_serious_case_goes_through_legal_review_before_sign_off(
    company, agency, platforms, applicant, staff
):
    case = restoration_accepted(
        company, [serious_record(company, agency, platforms)], applicant, staff
    )

    case = review(case, staff["case_officer"], APPROVED)
    assert case.status == Case.Status.LEGAL_REVIEW
    assert case.rule_set.signers_required == 2

    case = legal_review(case, staff["legal_reviewer"])
    assert case.status == Case.Status.SIGN_OFF
    assert case.legal_reviewer == staff["legal_reviewer"]


def test_after_the_first_of_two_signatures_the_case_waits_and_the_record_is_unchanged(
    company, agency, platforms, applicant, staff
):
    record = serious_record(company, agency, platforms)
    case = serious_case_at_sign_off(company, agency, platforms, applicant, staff, [record])

    case = sign(case, staff["signer"], APPROVED)

    record.refresh_from_db()
    assert case.status == Case.Status.SIGN_OFF
    assert case.decision == ""
    assert record.status == Record.Status.ACTIVE
    signed = last_event(case, "signed")
    assert signed.actor == staff["signer"]
    assert signed.data == {"decision": "approved", "signatures": 1, "required": 2}


def test_the_same_signer_cannot_sign_a_serious_case_twice(
    company, agency, platforms, applicant, staff
):
    case = serious_case_at_sign_off(company, agency, platforms, applicant, staff)
    sign(case, staff["signer"], APPROVED)

    with pytest.raises(NotPermitted) as refused:
        sign(case, staff["signer"], APPROVED)

    case.refresh_from_db()
    assert refused.value.code == "not_eligible"
    assert refused.value.message == "You have signed this case already: a second official signs it."
    assert open_steps(case) == ["sign_off"]
    assert case.status == Case.Status.SIGN_OFF
    assert case.signatures.count() == 1


def test_a_second_signer_makes_the_serious_decision_take_effect(
    company, agency, platforms, applicant, staff, second_signer
):
    record = serious_record(company, agency, platforms)
    case = serious_case_at_sign_off(company, agency, platforms, applicant, staff, [record])
    sign(case, staff["signer"], APPROVED)

    case = sign(case, second_signer, APPROVED)

    record.refresh_from_db()
    assert case.status == Case.Status.REMOVAL
    assert case.decision == APPROVED
    assert record.status == Record.Status.REMOVED
    decided = last_event(case, "decided")
    assert decided.actor == second_signer
    assert decided.data["signers"] == ["signer-szamr", "signer-2"]


def test_a_second_signer_who_disagrees_sends_the_case_back_and_a_new_round_starts(
    company, agency, platforms, applicant, staff, second_signer
):
    record = serious_record(company, agency, platforms)
    case = serious_case_at_sign_off(company, agency, platforms, applicant, staff, [record])
    sign(case, staff["signer"], APPROVED)

    case = sign(case, second_signer, REJECTED, reasons="The commitment letter is unsigned.")

    record.refresh_from_db()
    assert case.status == Case.Status.UNDER_REVIEW
    assert case.signoff_round == 2
    assert case.decision == ""
    assert record.status == Record.Status.ACTIVE
    assert "signoff_disagreed" in event_kinds(case)

    # Round 2: reviewed again; the first signer may sign again in the new round.
    review(case, staff["case_officer"], APPROVED)
    legal_review(case, staff["legal_reviewer"])
    case = sign(case, staff["signer"], APPROVED)

    assert case.status == Case.Status.SIGN_OFF
    assert list(case.signatures.values_list("round", "signer__username")) == [
        (1, "signer-szamr"),
        (1, "signer-2"),
        (2, "signer-szamr"),
    ]


def test_two_signers_who_split_the_records_differently_have_not_agreed(
    company, agency, platforms, applicant, staff, second_signer
):
    first = serious_record(company, agency, platforms)
    second = serious_record(company, agency, platforms)
    case = serious_case_at_sign_off(company, agency, platforms, applicant, staff, [first, second])
    upheld, rejected = CaseRecord.Outcome.UPHELD, CaseRecord.Outcome.REJECTED
    sign(
        case,
        staff["signer"],
        Case.Decision.PARTLY_APPROVED,
        reasons="Only the first fine is paid.",
        record_outcomes={first.pk: upheld, second.pk: rejected},
    )

    case = sign(
        case,
        second_signer,
        Case.Decision.PARTLY_APPROVED,
        reasons="Only the second fine is paid.",
        record_outcomes={first.pk: rejected, second.pk: upheld},
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert case.status == Case.Status.UNDER_REVIEW
    assert first.status == second.status == Record.Status.ACTIVE


# --- evidence review --------------------------------------------------------------------------


def test_electronic_monitoring_evidence_cannot_be_accepted_without_a_review_note(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    reading = add_evidence(
        case,
        staff["case_officer"],
        Material.OTHER,
        source=Evidence.Source.ELECTRONIC_MONITORING,
        description="Emission monitor log, 2025-03.",
    )

    with pytest.raises(InvalidInput) as refused:
        review(case, staff["case_officer"], REJECTED)  # accepts every item, without a note

    reading.refresh_from_db()
    assert refused.value.field == "reason"
    assert "APL Art. 41" in refused.value.message
    assert reading.review_outcome == Evidence.Outcome.PENDING
    assert not reading.counts


def test_electronic_monitoring_evidence_counts_once_a_person_recorded_the_review(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    reading = add_evidence(
        case, staff["case_officer"], source=Evidence.Source.ELECTRONIC_MONITORING
    )

    review(
        case,
        staff["case_officer"],
        APPROVED,
        reviews=[
            {
                "evidence": item.pk,
                "outcome": Evidence.Outcome.ACCEPTED,
                "reason": "Calibration certificate checked; readings match the site visit."
                if item == reading
                else "",
            }
            for item in case.evidence.all()
        ],
    )

    reading.refresh_from_db()
    assert reading.counts
    assert reading.reviewed_by == staff["case_officer"]
    reviewed = last_event(case, "evidence_reviewed")
    assert reviewed.data["electronic_monitoring"] is True


def test_an_unreviewed_item_blocks_completing_the_review(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )

    with pytest.raises(WrongState) as refused:
        review(case, staff["case_officer"], REJECTED, reviews=[])

    case.refresh_from_db()
    assert refused.value.code == "evidence_unreviewed"
    assert case.status == Case.Status.UNDER_REVIEW


def test_a_request_cannot_be_upheld_without_accepted_evidence(
    company, agency, platforms, applicant, staff
):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    every_item_rejected = [
        {
            "evidence": item.pk,
            "outcome": Evidence.Outcome.REJECTED,
            "reason": "The extract is from another company.",
        }
        for item in case.evidence.all()
    ]

    with pytest.raises(WrongState) as refused:
        review(case, staff["case_officer"], APPROVED, reviews=every_item_rejected)

    case.refresh_from_db()
    assert refused.value.code == "no_accepted_evidence"
    assert case.status == Case.Status.UNDER_REVIEW


def test_rejecting_an_item_needs_a_reason(company, agency, platforms, applicant, staff):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )

    item = case.evidence.get()

    with pytest.raises(InvalidInput) as refused:
        review(
            case,
            staff["case_officer"],
            REJECTED,
            reviews=[{"evidence": item.pk, "outcome": Evidence.Outcome.REJECTED}],
        )

    item.refresh_from_db()
    assert refused.value.field == "reason"
    assert item.review_outcome == Evidence.Outcome.PENDING


# --- sign-off ----------------------------------------------------------------------------------


def test_a_rejection_must_state_its_reasons(company, agency, platforms, applicant, staff):
    case = objection_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    review(case, staff["case_officer"], REJECTED)

    with pytest.raises(InvalidInput) as refused:
        sign(case, staff["signer"], REJECTED, reasons=" ")

    case.refresh_from_db()
    assert refused.value.field == "reasons"
    assert case.status == Case.Status.SIGN_OFF
    assert not case.signatures.exists()


def test_only_a_signing_official_of_the_agency_can_sign(
    company, agency, platforms, applicant, staff
):
    case = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    review(case, staff["case_officer"], APPROVED)

    with pytest.raises(NotPermitted) as refused:
        sign(case, staff["supervisor"], APPROVED)

    assert refused.value.code == "not_eligible"
    assert refused.value.message == "This step needs a signing official of SZAMR."
    assert open_steps(case) == ["sign_off"]
    assert not Signature.objects.exists()


def test_every_decision_event_names_the_person_who_took_it(
    company, agency, platforms, applicant, staff
):
    approved = restoration_accepted(
        company, [restorable_record(company, agency, platforms)], applicant, staff
    )
    review(approved, staff["case_officer"], APPROVED)
    approved = sign(approved, staff["signer"], APPROVED)
    revoked_in_effect(
        case=approved,
        official=staff["signer"],
        ground="untrue_commitment",
        reasons="False commitment.",
        evidence=[pdf_upload("revocation")],
    )
    refused = submit(
        Case.Kind.OBJECTION, company, [restorable_record(company, agency, platforms)], applicant
    )
    not_accept(refused, staff["intake"], reasons="Out of our remit.")

    decisions = CaseEvent.objects.filter(
        kind__in=["accepted", "decided", "revoked", "not_accepted"]
    )

    assert sorted(decisions.values_list("kind", flat=True)) == [
        "accepted",
        "decided",
        "not_accepted",
        "revoked",
    ]
    for event in decisions:
        assert event.actor is not None, event.kind
        assert event.automated is False, event.kind
        assert event.actor_name, event.kind
