"""The route of a case, as DOMAIN.md draws it, on django-viewflow.

Every kind of request shares one route (``CaseRoute``); ``ObjectionFlow``,
``RestorationFlow`` and ``ReorganisationFlow`` are the processes built from it (what
differs by kind is what the case services do at each step, not the steps). Human steps are ``RoleView``
nodes: the step's role at the case's agency (``cases.access.STEP_ROLES``, by the
step's name), no tie to the subject, four eyes (``cases.access.step_refusal``); the
applicant's answers and platforms' acknowledgements resume ``Handle`` nodes; the legal
clock drives timer boundaries (escalation, lapse). Each step calls one case service,
which checks, changes the case and records the event.
"""

from __future__ import annotations

import datetime

from dateutil.relativedelta import relativedelta
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.base import Node

from cases import transitions
from cases.models import Case, Deadline
from documents.selectors import appeal_window, decision_letter_issued
from workflows.nodes import (
    DeadlineMoment,
    DeadlineTimer,
    RoleView,
    case_of,
    route_node_copy,
    status_is,
    task_page,
)

S = Case.Status
STEP = Deadline.Step

# Administrative reconsideration within 60 days, a lawsuit within 6 months, counted from
# the service of the decision's letter (decision 0023): the case stays in its appeal
# window until the longer of the two has passed. Until the letter is served the timer
# waits this long from the decision, and moves when the service is recorded.
APPEAL_WINDOW = relativedelta(months=6)


def appeal_window_end(case: Case) -> datetime.datetime:
    """When the case's appeal window ends: the day after its last day, counted from the
    service of the decision's letter; while it is not served, ``APPEAL_WINDOW`` after the
    decision."""
    ends_on = appeal_window(case).ends_on
    if ends_on is None:
        return (case.decided_at or timezone.now()) + APPEAL_WINDOW
    day_after = ends_on + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day_after, datetime.time.min))


class CaseRoute:
    """The steps shared by objections and restorations (a mixin, not a flow itself)."""

    process_title = "Case"
    lock_impl = lock.select_for_update_lock

    def __init_subclass__(cls, **kwargs):
        # Each flow built from the route gets its own copy of every step, so that it
        # arms only its own timers (see ``route_node_copy``).
        for name in dir(cls):
            node = getattr(cls, name, None)
            if isinstance(node, Node) and name not in cls.__dict__:
                setattr(cls, name, route_node_copy(node))
        super().__init_subclass__(**kwargs)

    start = flow.StartHandle(this.start_case).Next(this.acceptance_check)

    # A ``RoleView`` step is done by whoever holds its role at the case's agency
    # (``cases.access.STEP_ROLES``: acceptance check → intake officer, evidence review →
    # case officer, legal review → legal reviewer with the legal qualification on record,
    # APL Art. 58 ¶2, sign-off → signing official). The case goes to legal review when the
    # rule set asks for it or the case officer recorded a ground of APL Art. 58 ¶1
    # (``Case.legal_review_required``).

    acceptance_check = (
        RoleView(task_page, perform=this.do_acceptance_check)
        .Annotation(title="Acceptance check")
        .Next(this.after_acceptance_check)
    )
    # The deadline timers keep the names viewflow gave them when they were chained with
    # ``.OnTimeout``: stored tasks name their node.
    acceptance_check__timeout = DeadlineTimer(
        this.acceptance_check, DeadlineMoment(STEP.ACCEPTANCE, "near"), interrupting=False
    ).Next(this.acceptance_near)
    acceptance_check__timeout_2 = DeadlineTimer(
        this.acceptance_check, DeadlineMoment(STEP.ACCEPTANCE, "overdue"), interrupting=False
    ).Next(this.acceptance_overdue)
    after_acceptance_check = (
        flow.Switch()
        .Case(this.evidence_review, status_is(S.UNDER_REVIEW))
        .Case(this.await_materials, status_is(S.AWAITING_MATERIALS))
        .Case(this.refusal_approval, this.non_acceptance_awaits_approval)
        .Default(this.decision_served)  # not accepted: a decision, served by its letter
    )

    # Where the rules need the head's approval of a non-acceptance (SAMR Order 107
    # Art. 14(3)), the intake officer's "not accept" is a proposal: a signing official
    # other than the proposer approves it (then it is served) or sends the case back to
    # the acceptance check. The acceptance deadline keeps running meanwhile.
    refusal_approval = (
        RoleView(task_page, perform=this.do_refusal_approval)
        .Annotation(title="Approval of a non-acceptance")
        .Next(this.after_refusal_approval)
    )
    refusal_approval__timeout = DeadlineTimer(
        this.refusal_approval, DeadlineMoment(STEP.ACCEPTANCE, "overdue"), interrupting=False
    ).Next(this.acceptance_overdue)
    after_refusal_approval = (
        flow.Switch()
        .Case(this.acceptance_check, status_is(S.SUBMITTED))
        .Default(this.decision_served)
    )

    await_materials = (
        flow.Handle(this.materials_received)
        .Annotation(title="Waiting for missing materials")
        .Next(this.after_materials)
    )
    await_materials__timeout = DeadlineTimer(
        this.await_materials, DeadlineMoment(STEP.MATERIALS, "overdue")
    ).Next(this.lapse)
    after_materials = (
        flow.Switch()
        .Case(this.evidence_review, status_is(S.UNDER_REVIEW))
        .Default(this.acceptance_check)
    )
    lapse = flow.Function(this.lapse_case).Next(this.end)

    evidence_review = (
        RoleView(task_page, perform=this.do_evidence_review)
        .Annotation(title="Evidence review")
        .Next(this.after_evidence_review)
    )
    evidence_review__timeout = DeadlineTimer(
        this.evidence_review, DeadlineMoment(STEP.DECISION, "near"), interrupting=False
    ).Next(this.decision_near)
    evidence_review__timeout_2 = DeadlineTimer(
        this.evidence_review, DeadlineMoment(STEP.DECISION, "overdue"), interrupting=False
    ).Next(this.decision_overdue)
    after_evidence_review = (
        flow.Switch()
        .Case(this.await_materials, status_is(S.AWAITING_MATERIALS))
        .Case(this.legal_review, status_is(S.LEGAL_REVIEW))
        .Default(this.sign_off)
    )

    legal_review = (
        RoleView(task_page, perform=this.do_legal_review)
        .Annotation(title="Legal review")
        .Next(this.after_legal_review)
    )
    after_legal_review = (
        flow.Switch().Case(this.sign_off, status_is(S.SIGN_OFF)).Default(this.evidence_review)
    )

    sign_off = (
        RoleView(task_page, perform=this.do_sign_off)
        .Annotation(title="Sign-off")
        .Next(this.after_sign_off)
    )
    after_sign_off = (
        flow.Switch()
        .Case(this.sign_off, status_is(S.SIGN_OFF))  # a collective decision needs another signer
        .Case(this.evidence_review, status_is(S.UNDER_REVIEW))  # signers disagreed
        .Default(this.decision_served)
    )

    # The decision takes effect for the applicant when its letter is served: the
    # route waits until the worker has stored the PDF (resumed by
    # ``workflows.actions.letter_served``), then withdraws the records or opens the
    # appeal window. A letter stored before the route gets here is not waited for.
    decision_served = (
        flow.Switch().Case(this.after_letter, this.letter_is_stored).Default(this.await_letter)
    )
    await_letter = (
        flow.Handle(this.letter_stored).Annotation(title="Decision letter").Next(this.after_letter)
    )
    await_letter__timeout = DeadlineTimer(
        this.await_letter, DeadlineMoment(STEP.LETTER, "overdue"), interrupting=False
    ).Next(this.letter_overdue)
    after_letter = (
        flow.Switch()
        .Case(this.await_removal, status_is(S.REMOVAL))
        .Case(this.appeal_window, status_is(S.APPEAL_WINDOW))
        .Default(this.end)
    )

    await_removal = (
        flow.Handle(this.removal_acknowledged)
        .Annotation(title="Withdrawal from every platform")
        .Next(this.appeal_window)
    )
    await_removal__timeout = DeadlineTimer(
        this.await_removal, DeadlineMoment(STEP.REMOVAL, "overdue"), interrupting=False
    ).Next(this.removal_overdue)

    appeal_window = flow.Timer(this.appeal_window_ends).Next(this.close)
    close = flow.Function(this.close_case).Next(this.end)

    acceptance_near = flow.Function(this.escalate).Next(this.escalation_end)
    acceptance_overdue = flow.Function(this.escalate).Next(this.escalation_end)
    decision_near = flow.Function(this.escalate).Next(this.escalation_end)
    decision_overdue = flow.Function(this.escalate).Next(this.escalation_end)
    removal_overdue = flow.Function(this.escalate).Next(this.escalation_end)
    letter_overdue = flow.Function(this.escalate).Next(this.escalation_end)
    escalation_end = flow.End()

    end = flow.End()

    # --- what each step does ---------------------------------------------------------

    def start_case(self, activation, case: Case):
        # Save the process first so the case can point at it before any node
        # (and its deadline timers) is created.
        activation.process.artifact = case
        activation.process.save()
        Case.objects.filter(pk=case.pk).update(process=activation.process)
        case.process = activation.process
        return activation.process

    def do_acceptance_check(self, activation, user, data: dict) -> None:
        case = case_of(activation)
        decision = data.get("decision")
        if decision == "accept":
            transitions.accept(case=case, officer=user, note=data.get("note", ""))
        elif decision == "request_materials":
            transitions.request_materials(
                case=case, officer=user, missing=data.get("missing", []), note=data.get("note", "")
            )
        elif decision == "not_accept":
            transitions.not_accept(case=case, officer=user, reasons=data.get("reasons", ""))
        else:
            raise transitions.InvalidInput(
                _("Choose to accept the case, to request missing materials or not to accept it."),
                field="decision",
            )

    def non_acceptance_awaits_approval(self, activation) -> bool:
        case = case_of(activation)
        return case.status == S.SUBMITTED and case.non_acceptance_proposed_by_id is not None

    def do_refusal_approval(self, activation, user, data: dict) -> None:
        decision = data.get("decision")
        if decision not in ("approve", "decline"):
            raise transitions.InvalidInput(
                _("Choose to approve or to decline the proposed non-acceptance."),
                field="decision",
            )
        transitions.non_acceptance_approve(
            case=case_of(activation),
            head=user,
            approve=decision == "approve",
            note=data.get("note", ""),
        )

    def do_evidence_review(self, activation, user, data: dict) -> None:
        case = case_of(activation)
        by_id = {e.pk: e for e in case.evidence.all()}
        for review in data.get("reviews", []):
            item = by_id.get(int(review.get("evidence", 0) or 0))
            if item is None:
                raise transitions.InvalidInput(
                    _("Evidence %(evidence)s is not part of this case.")
                    % {"evidence": review.get("evidence")},
                    field="reviews",
                )
            transitions.review_evidence(
                evidence=item,
                reviewer=user,
                outcome=review.get("outcome", ""),
                reason=review.get("reason", ""),
            )
        if data.get("action") == "request_materials":
            transitions.request_materials(
                case=case, officer=user, missing=data.get("missing", []), note=data.get("note", "")
            )
        else:
            transitions.complete_review(
                case=case,
                reviewer=user,
                recommendation=data.get("recommendation", ""),
                record_outcomes=data.get("record_outcomes"),
                corrections=data.get("corrections"),
                note=data.get("note", ""),
                legal_review_grounds=data.get("legal_review_grounds"),
                legal_review_other_basis=data.get("legal_review_other_basis", ""),
            )

    def do_legal_review(self, activation, user, data: dict) -> None:
        transitions.legal_review(
            case=case_of(activation),
            reviewer=user,
            passed=data.get("decision") == "pass",
            note=data.get("note", ""),
        )

    def do_sign_off(self, activation, user, data: dict) -> None:
        transitions.sign(
            case=case_of(activation),
            signer=user,
            decision=data.get("decision", ""),
            reasons=data.get("reasons", ""),
            record_outcomes=data.get("record_outcomes"),
            note=data.get("note", ""),
            lifted_measures=data.get("lifted_measures", ""),
        )

    def materials_received(self, activation) -> None:
        """Resumed by ``workflows.actions.case_resubmit`` after the service ran."""

    def letter_is_stored(self, activation) -> bool:

        return decision_letter_issued(case_of(activation))

    def letter_stored(self, activation) -> None:
        """Resumed by ``workflows.actions.letter_served`` when the letter is stored."""

    def removal_acknowledged(self, activation) -> None:
        """Resumed by ``workflows.actions.publication_acknowledge`` when all platforms have."""

    def lapse_case(self, activation) -> None:
        transitions.lapse(case=case_of(activation))

    def appeal_window_ends(self, activation) -> datetime.datetime:
        return appeal_window_end(case_of(activation))

    def close_case(self, activation) -> None:
        transitions.close(case=case_of(activation))

    def escalate(self, activation) -> None:
        """Escalate the deadline whose timer led here (the task's previous one)."""
        timer = activation.task.previous.first()
        if timer is not None and isinstance(timer.flow_task, DeadlineTimer):
            moment = timer.flow_task.moment
            transitions.escalate_deadline(
                case=case_of(activation), step=moment.step, overdue=moment.when == "overdue"
            )


class ObjectionFlow(CaseRoute, flow.Flow):
    """Objection (异议)

    The record is wrong, incomplete, past its term, or should have been removed.
    On acceptance every record of the case is flagged as disputed.
    """

    process_title = "Objection"


class RestorationFlow(CaseRoute, flow.Flow):
    """Credit restoration (信用修复)

    The conduct was corrected: remove the record early or stop publishing it.
    """

    process_title = "Credit restoration"


class ReorganisationFlow(CaseRoute, flow.Flow):
    """Temporary restoration in reorganisation or composition (临时信用修复)

    While a court-approved reorganisation plan or composition agreement is carried out,
    the records are shielded on every platform and the measures that hinder the plan
    lifted (《信用修复管理办法》第二十条, 《市场监督管理信用修复管理办法》第二十二条). The
    same steps as a restoration; the grant shields instead of removing, and "withdrawal
    from every platform" waits for each platform to confirm the shielding.
    """

    process_title = "Temporary restoration"


FLOWS = {
    Case.Kind.OBJECTION: ObjectionFlow,
    Case.Kind.RESTORATION: RestorationFlow,
    Case.Kind.REORGANISATION: ReorganisationFlow,
}
