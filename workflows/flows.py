"""The route of a case, as DOMAIN.md draws it, on django-viewflow.

Both kinds of request share one route (``CaseRoute``); ``ObjectionFlow`` and
``RestorationFlow`` are the two processes built from it. Human steps are
``RoleView`` nodes (a role at the case's agency, four-eyes rules in the node);
the applicant's answers and platforms' acknowledgements resume ``Handle``
nodes; the legal clock drives timer boundaries (escalation, lapse). Each step
calls one case service, which checks, changes the case and records the event.
"""

from __future__ import annotations

import copy
import datetime

from dateutil.relativedelta import relativedelta
from django.utils import timezone
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.base import Node

from cases import services
from cases.models import Case, Role
from workflows.models import Deadline
from workflows.nodes import DeadlineMoment, RoleView, case_of, status_is

S = Case.Status
STEP = Deadline.Step

# Administrative reconsideration within 60 days, a lawsuit within 6 months: the
# case stays in its appeal window until the longer of the two has passed.
APPEAL_WINDOW = relativedelta(months=6)


def task_view(request, **kwargs):
    """Officers do tasks on the case page; viewflow's execute URL sends them there."""
    from workflows.views import task_execute

    return task_execute(request, **kwargs)


class CaseRoute:
    """The steps shared by objections and restorations (a mixin, not a flow itself)."""

    process_title = "Case"
    lock_impl = lock.select_for_update_lock

    def __init_subclass__(cls, **kwargs):
        # viewflow copies each node into the flow class shallowly, so two flows
        # built from one mixin would share a host node's list of boundary events
        # and arm every timer twice. Give each flow its own copies first.
        for name in dir(cls):
            node = getattr(cls, name, None)
            if isinstance(node, Node) and name not in cls.__dict__:
                own = copy.copy(node)
                own._boundary_events = []
                setattr(cls, name, own)
        super().__init_subclass__(**kwargs)

    start = flow.StartHandle(this.start_case).Next(this.acceptance_check)

    acceptance_check = (
        RoleView(task_view, role=Role.INTAKE, perform=this.do_acceptance_check)
        .Annotation(title="Acceptance check")
        .OnTimeout(
            DeadlineMoment(STEP.ACCEPTANCE, "near"), this.acceptance_near, interrupting=False
        )
        .OnTimeout(
            DeadlineMoment(STEP.ACCEPTANCE, "overdue"), this.acceptance_overdue, interrupting=False
        )
        .Next(this.after_acceptance_check)
    )
    after_acceptance_check = (
        flow.Switch()
        .Case(this.evidence_review, status_is(S.UNDER_REVIEW))
        .Case(this.await_materials, status_is(S.AWAITING_MATERIALS))
        .Default(this.decision_served)  # not accepted: a decision, served by its letter
    )

    await_materials = (
        flow.Handle(this.materials_received)
        .Annotation(title="Waiting for missing materials")
        .OnTimeout(DeadlineMoment(STEP.MATERIALS, "overdue"), this.lapse)
        .Next(this.after_materials)
    )
    after_materials = (
        flow.Switch()
        .Case(this.evidence_review, status_is(S.UNDER_REVIEW))
        .Default(this.acceptance_check)
    )
    lapse = flow.Function(this.lapse_case).Next(this.end)

    evidence_review = (
        RoleView(task_view, role=Role.CASE_OFFICER, perform=this.do_evidence_review)
        .Annotation(title="Evidence review")
        .OnTimeout(DeadlineMoment(STEP.DECISION, "near"), this.decision_near, interrupting=False)
        .OnTimeout(
            DeadlineMoment(STEP.DECISION, "overdue"), this.decision_overdue, interrupting=False
        )
        .Next(this.after_evidence_review)
    )
    after_evidence_review = (
        flow.Switch()
        .Case(this.await_materials, status_is(S.AWAITING_MATERIALS))
        .Case(this.legal_review, status_is(S.LEGAL_REVIEW))
        .Default(this.sign_off)
    )

    legal_review = (
        RoleView(
            task_view,
            role=Role.LEGAL_REVIEWER,
            perform=this.do_legal_review,
            barred=this.legal_review_barred,
        )
        .Annotation(title="Legal review")
        .Next(this.after_legal_review)
    )
    after_legal_review = (
        flow.Switch().Case(this.sign_off, status_is(S.SIGN_OFF)).Default(this.evidence_review)
    )

    sign_off = (
        RoleView(task_view, role=Role.SIGNER, perform=this.do_sign_off, barred=this.sign_off_barred)
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
    # ``workflows.services.letter_served``), then withdraws the records or opens the
    # appeal window. A letter stored before the route gets here is not waited for.
    decision_served = (
        flow.Switch().Case(this.after_letter, this.letter_is_stored).Default(this.await_letter)
    )
    await_letter = (
        flow.Handle(this.letter_stored)
        .Annotation(title="Decision letter")
        .OnTimeout(DeadlineMoment(STEP.LETTER, "overdue"), this.letter_overdue, interrupting=False)
        .Next(this.after_letter)
    )
    after_letter = (
        flow.Switch()
        .Case(this.await_removal, status_is(S.REMOVAL))
        .Case(this.appeal_window, status_is(S.APPEAL_WINDOW))
        .Default(this.end)
    )

    await_removal = (
        flow.Handle(this.removal_acknowledged)
        .Annotation(title="Withdrawal from every platform")
        .OnTimeout(
            DeadlineMoment(STEP.REMOVAL, "overdue"), this.removal_overdue, interrupting=False
        )
        .Next(this.appeal_window)
    )

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
            services.case_accept(case=case, officer=user, note=data.get("note", ""))
        elif decision == "request_materials":
            services.case_request_materials(
                case=case, officer=user, missing=data.get("missing", []), note=data.get("note", "")
            )
        elif decision == "not_accept":
            services.case_not_accept(case=case, officer=user, reasons=data.get("reasons", ""))
        else:
            raise services.InvalidInput(
                "Choose accept, request_materials or not_accept.", field="decision"
            )

    def do_evidence_review(self, activation, user, data: dict) -> None:
        case = case_of(activation)
        by_id = {e.pk: e for e in case.evidence.all()}
        for review in data.get("reviews", []):
            item = by_id.get(int(review.get("evidence", 0) or 0))
            if item is None:
                raise services.InvalidInput(
                    f"Evidence {review.get('evidence')!r} is not part of this case.",
                    field="reviews",
                )
            services.evidence_review(
                evidence=item,
                reviewer=user,
                outcome=review.get("outcome", ""),
                reason=review.get("reason", ""),
            )
        if data.get("action") == "request_materials":
            services.case_request_materials(
                case=case, officer=user, missing=data.get("missing", []), note=data.get("note", "")
            )
        else:
            services.case_review_complete(
                case=case,
                reviewer=user,
                recommendation=data.get("recommendation", ""),
                record_outcomes=data.get("record_outcomes"),
                corrections=data.get("corrections"),
                note=data.get("note", ""),
            )

    def legal_review_barred(self, user, case: Case) -> str | None:
        if user.pk in services.reviewers_of(case, legal=False):
            return "You did the evidence review of this case: another person does its legal review."
        return None

    def do_legal_review(self, activation, user, data: dict) -> None:
        services.case_legal_review(
            case=case_of(activation),
            reviewer=user,
            passed=data.get("decision") == "pass",
            note=data.get("note", ""),
        )

    def sign_off_barred(self, user, case: Case) -> str | None:
        if user.pk in services.reviewers_of(case):
            return "You reviewed this case: a different official signs it."
        if case.signatures.filter(round=case.signoff_round, signer=user).exists():
            return "You have signed this case already: a second official signs it."
        return None

    def do_sign_off(self, activation, user, data: dict) -> None:
        services.case_sign(
            case=case_of(activation),
            signer=user,
            decision=data.get("decision", ""),
            reasons=data.get("reasons", ""),
            record_outcomes=data.get("record_outcomes"),
            note=data.get("note", ""),
        )

    def materials_received(self, activation) -> None:
        """Resumed by ``workflows.services.case_resubmit`` after the service ran."""

    def letter_is_stored(self, activation) -> bool:
        from documents.selectors import decision_letter_issued

        return decision_letter_issued(case_of(activation))

    def letter_stored(self, activation) -> None:
        """Resumed by ``workflows.services.letter_served`` when the letter is stored."""

    def removal_acknowledged(self, activation) -> None:
        """Resumed by ``workflows.services.platform_acknowledge`` when all platforms have."""

    def lapse_case(self, activation) -> None:
        services.case_lapse(case=case_of(activation))

    def appeal_window_ends(self, activation) -> datetime.datetime:
        case = case_of(activation)
        decided = case.decided_at or timezone.now()
        return decided + APPEAL_WINDOW

    def close_case(self, activation) -> None:
        services.case_close(case=case_of(activation))

    def escalate(self, activation) -> None:
        boundary = activation.task.previous.first()
        moment = boundary.flow_task._delay if boundary is not None else None
        if isinstance(moment, DeadlineMoment):
            services.deadline_escalate(
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


FLOWS = {Case.Kind.OBJECTION: ObjectionFlow, Case.Kind.RESTORATION: RestorationFlow}
