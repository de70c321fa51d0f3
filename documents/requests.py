"""Which letter each step of a case calls for, requested in that step's transaction.

Connected to ``case_event_recorded`` (like the notifications outbox), so every
path that accepts, asks for materials, refuses, decides, revokes or completes a
withdrawal gets its letter, and none can forget it. The letter's text is fixed
now; a worker renders the PDF after the commit.
"""

from __future__ import annotations

from cases.models import Case, CaseEvent
from documents.models import Letter
from documents.services import letter_kind_for_decision, letter_request


def on_case_event(sender, *, case: Case, event: CaseEvent, **kwargs) -> None:
    kind = _kind_for(case, event)
    if kind is not None:
        letter_request(case, kind, decided_by=event.actor)


def _kind_for(case: Case, event: CaseEvent) -> str | None:
    if event.kind == "accepted":
        return Letter.Kind.ACCEPTANCE
    if event.kind == "materials_requested":
        return Letter.Kind.MATERIALS_REQUEST
    if event.kind == "not_accepted":
        return Letter.Kind.NON_ACCEPTANCE
    if event.kind == "decided":
        return letter_kind_for_decision(case)
    if event.kind == "revoked":
        return Letter.Kind.REVOCATION
    if event.kind == "plan_failed":
        # Order 36 Art. 20 ¶2: publication is restored by a decision the party can contest.
        return Letter.Kind.PLAN_FAILED
    if (
        event.kind == "platform_acknowledged"
        and event.after.get("status") == Case.Status.APPEAL_WINDOW
    ):
        # Every platform has withdrawn the record: the public explanation is issued.
        return Letter.Kind.WITHDRAWAL_NOTICE
    return None
