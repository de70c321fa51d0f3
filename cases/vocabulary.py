"""What the case events are called: one vocabulary for every page, API and check.

Every kind of event the code records is an ``EventKind``: its code (stored in the
event and hashed into the case's chain, so it never changes), its label (English
source, Chinese in the catalogue) and what the applicant sees of it. ``event_record``
refuses a kind that is not here, so a new kind cannot be written without a label;
``tests/test_i18n.py`` checks that every kind the code writes is here and translated.

The applicant's side (the entity portal, the API read by an applicant) shows what the
applicant did or was told and each step their case took, including escalations and
assignments written for them; it leaves out the delivery mechanics of letters and
messages (failures, retries), which are the officers' to mend. An officer's note is
shown to the applicant only where the note is written to them (reasons, requests,
decisions); other notes are the officers' working notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Platform, Role
from cases.publications import platform_name


class EventKind(models.TextChoices):
    """Every kind of case event, with its label."""

    # The request and its intake (《信用修复管理办法》第十六条).
    SUBMITTED = "submitted", _("Request submitted")
    EVIDENCE_ADDED = "evidence_added", _("Evidence added")
    ACCEPTED = "accepted", _("Accepted: the decision clock started")
    MATERIALS_REQUESTED = "materials_requested", _("Missing materials requested")
    MATERIALS_RESUBMITTED = "materials_resubmitted", _("Missing materials supplied")
    LAPSED = "lapsed", _("Lapsed")
    NOT_ACCEPTED = "not_accepted", _("Not accepted")
    # SAMR Order 107 Art. 14(3): a non-acceptance needs the head's approval.
    NON_ACCEPTANCE_PROPOSED = (
        "non_acceptance_proposed",
        _("Non-acceptance proposed: awaiting the head's approval"),
    )
    NON_ACCEPTANCE_DECLINED = (
        "non_acceptance_declined",
        _("Non-acceptance not approved by the head: back to the acceptance check"),
    )
    # Evidence from electronic monitoring: the party is told and heard (APL Arts. 41, 45, 62).
    MONITORING_NOTIFIED = (
        "monitoring_notified",
        _("Party told of evidence from electronic monitoring: it may state its case and defend"),
    )
    STATEMENT_MADE = "statement_made", _("The party stated its case and defended")
    STATEMENT_WAIVED = "statement_waived", _("The party waived its statement and defence")
    # The review, four eyes and the decision.
    EVIDENCE_REVIEWED = "evidence_reviewed", _("Evidence reviewed")
    REVIEW_COMPLETED = "review_completed", _("Evidence review completed")
    LEGAL_REVIEW_GROUNDS_RECORDED = (
        "legal_review_grounds_recorded",
        _("Grounds for a legal review recorded (Administrative Penalties Law, Article 58)"),
    )
    LEGAL_REVIEW_PASSED = "legal_review_passed", _("Legal review passed")
    LEGAL_REVIEW_SENT_BACK = "legal_review_sent_back", _("Sent back by the legal review")
    DECISION_MEETING_RECORDED = (
        "decision_meeting_recorded",
        _("Collective decision meeting recorded (Administrative Penalties Law, Article 57)"),
    )
    SIGNED = "signed", _("Signed by an official")
    SIGNOFF_DISAGREED = "signoff_disagreed", _("The signing officials disagreed")
    DECIDED = "decided", _("Decided")
    # After the decision.
    PLATFORM_ACKNOWLEDGED = "platform_acknowledged", _("A platform confirmed the withdrawal")
    # One effect of the repair on one platform (《信用修复管理办法》第三条; decision 0024).
    PLATFORM_EFFECT_ACKNOWLEDGED = (
        "platform_effect_acknowledged",
        _("A platform confirmed one effect of the repair"),
    )
    # Publication ends by itself at the maximum period (《信用修复管理办法》第十二条): on the
    # record's own trail (``RecordEvent``) and on that of each open case of the record.
    PUBLICATION_EXPIRED = (
        "publication_expired",
        _("Publication ended by itself at the maximum period"),
    )
    WITHDRAWN = "withdrawn", _("Withdrawn by the applicant")
    REVOCATION_PROPOSED = "revocation_proposed", _("Revocation proposed")
    REVOCATION_LEGAL_REVIEW_PASSED = (
        "revocation_legal_review_passed",
        _("Revocation: legal review passed"),
    )
    REVOCATION_SIGNED = "revocation_signed", _("Revocation signed by an official")
    REVOCATION_DROPPED = "revocation_dropped", _("Revocation not pursued")
    REVOKED = "revoked", _("Restoration revoked")
    # Temporary restoration during reorganisation (《信用修复管理办法》第二十条).
    PLATFORM_SHIELDED = "platform_shielded", _("A platform confirmed the temporary shielding")
    PLAN_FAILED = "plan_failed", _("The plan failed: publication restored")
    PLATFORM_REPUBLISHED = "platform_republished", _("A platform confirmed it publishes again")
    PLATFORM_PUBLISHED = "platform_published", _("A platform confirmed the publication")
    CLOSED = "closed", _("Closed")
    # Service of letters and appeals (decision 0023).
    SERVICE_CONSENT_GIVEN = (
        "service_consent_given",
        _("Consent to electronic service given (SAMR Order 107, Article 19)"),
    )
    LETTER_SERVED = "letter_served", _("Letter served")
    APPEAL_RECORDED = "appeal_recorded", _("Appeal recorded")
    APPEAL_DECIDED = "appeal_decided", _("Outcome of the appeal recorded")
    # The clock and the supervisors.
    DEADLINE_EXTENDED = "deadline_extended", _("Deadline extended")
    DEADLINE_NEAR = "deadline_near", _("Deadline near: brought to a supervisor")
    DEADLINE_OVERDUE = "deadline_overdue", _("Deadline passed: brought to a supervisor")
    TASK_ASSIGNED = "task_assigned", _("Work assigned to an officer by a supervisor")
    TASK_ASSIGNMENT_UNDONE = (
        "task_assignment_undone",
        _("A supervisor undid an assignment: the work waits to be assigned again"),
    )
    # Letters (documents) and messages (notifications).
    LETTER_ISSUED = "letter_issued", _("Letter issued")
    LETTER_FAILED = "letter_failed", _("Letter could not be produced")
    LETTER_REQUEUED = "letter_requeued", _("Letter queued again by a supervisor")
    NOTIFICATION_QUEUED = "notification_queued", _("Notification queued")
    NOTIFICATION_SENT = "notification_sent", _("Notification delivered")
    NOTIFICATION_FAILED = "notification_failed", _("Notification not delivered: will try again")
    NOTIFICATION_DEAD = "notification_dead", _("Notification given up after repeated failures")
    NOTIFICATION_RETRIED = "notification_retried", _("Notification sent again by a supervisor")

    @property
    def shown_to_applicant(self) -> bool:
        """Whether the applicant's timeline (portal, API) lists events of this kind."""
        return self not in OFFICERS_ONLY

    @property
    def note_for_applicant(self) -> bool:
        """Whether the note of such an event is written to the applicant."""
        return self in NOTES_FOR_APPLICANT


# How letters and messages were produced and delivered: the officers' to watch and mend.
# (That a letter was issued, or a notification queued, is shown: the applicant was told.)
OFFICERS_ONLY = frozenset(
    {
        EventKind.LETTER_FAILED,
        EventKind.LETTER_REQUEUED,
        EventKind.NOTIFICATION_SENT,
        EventKind.NOTIFICATION_FAILED,
        EventKind.NOTIFICATION_DEAD,
        EventKind.NOTIFICATION_RETRIED,
        # The agency's internal approval of a non-acceptance: the applicant is told the
        # decision itself (``not_accepted``), with who approved it, in the letter.
        EventKind.NON_ACCEPTANCE_PROPOSED,
        EventKind.NON_ACCEPTANCE_DECLINED,
        # A revocation is deliberated inside the agency; the applicant is told when it
        # takes effect (``revoked``, with its letter).
        EventKind.REVOCATION_PROPOSED,
        EventKind.REVOCATION_LEGAL_REVIEW_PASSED,
        EventKind.REVOCATION_SIGNED,
        EventKind.REVOCATION_DROPPED,
    }
)

# Notes written to the applicant: the applicant's own, requests, reasons, decisions and
# why a deadline moved (《信用修复管理办法》第十六条: reasons for a refusal; an extension is
# told with its reason). Every other note is an officer's working note.
NOTES_FOR_APPLICANT = frozenset(
    {
        EventKind.SUBMITTED,
        EventKind.ACCEPTED,
        EventKind.MATERIALS_REQUESTED,
        EventKind.MATERIALS_RESUBMITTED,
        EventKind.STATEMENT_MADE,
        EventKind.STATEMENT_WAIVED,
        EventKind.NOT_ACCEPTED,
        EventKind.LAPSED,
        EventKind.DECIDED,
        EventKind.WITHDRAWN,
        EventKind.REVOKED,
        EventKind.PLAN_FAILED,
        EventKind.DEADLINE_EXTENDED,
        EventKind.CLOSED,
        EventKind.LETTER_SERVED,
        EventKind.APPEAL_RECORDED,
        EventKind.APPEAL_DECIDED,
    }
)

# Who acted: an officer's role, or one of the parties outside the agency.
ACTOR_ROLE_LABELS = {
    **dict(Role.choices),
    "applicant": _("Applicant"),
    "system": _("System"),
    "platform": _("Platform"),
}


def event_kind_check(kind: str) -> EventKind:
    """The vocabulary's entry for ``kind``; ``ValueError`` naming the fix if there is none."""
    try:
        return EventKind(kind)
    except ValueError:
        raise ValueError(
            f"Unknown event kind {kind!r}: add it to cases.vocabulary.EventKind with its "
            "label (and its Chinese translation) and whether the applicant sees it."
        ) from None


def event_label(kind: str) -> str:
    """What a person reads for an event of ``kind``, in the active language."""
    if kind in EventKind.values:
        return EventKind(kind).label
    # Not reachable through event_record; a row written around it still reads as words.
    return str(_("Other event"))


def event_shown_to_applicant(kind: str) -> bool:
    return kind in EventKind.values and EventKind(kind).shown_to_applicant


def event_note_for_applicant(kind: str) -> bool:
    return kind in EventKind.values and EventKind(kind).note_for_applicant


def actor_role_label(role: str) -> str:
    """What a person reads for the role an event was recorded under."""
    if role in ACTOR_ROLE_LABELS:
        return str(ACTOR_ROLE_LABELS[role])
    return str(_("Other role")) if role else ""


# --- the timeline as a person reads it ------------------------------------------------------------
# The chain keeps one event per message and per delivery attempt (the audit needs each). A
# page shows one row per notification of a step instead: the messages of one kind sent
# after the same step, folded together whatever their channel and recipients, with how
# their delivery ended. A message not yet delivered (or failed) has no row yet.

NOTIFICATION_OUTCOMES = {
    "notification_sent": _("Notification delivered"),
    "notification_failed": _("Notification not delivered yet: will try again"),
    "notification_dead": _("Notification not delivered: given up"),
}
NOTIFICATION_KINDS = frozenset({"notification_queued", *NOTIFICATION_OUTCOMES})


@dataclass
class TimelineRow:
    """One row of a case's timeline: an event, or the notifications of one step folded
    into the event that queued the first of them (``label`` and ``recipients`` set)."""

    event: object
    label: str = ""
    recipients: list[str] = field(default_factory=list)

    @property
    def what(self) -> str:
        return self.label or event_label(self.event.kind)


def notification_label(outcome: str, channel: str, recipients: list[str]) -> str:
    """``Notification delivered: by e-mail to a@b`` or ``…: to the platforms x, y``, each
    platform by its name in the reader's language (its code where no platform has it)."""
    if channel == "webhook":
        found = {p.code: platform_name(p) for p in Platform.objects.filter(code__in=recipients)}
        recipients = [found.get(code, code) for code in recipients]
    names = ", ".join(recipients)
    if channel == "webhook":
        how = _("to the platforms %(names)s") % {"names": names}
    else:
        how = _("by e-mail to %(names)s") % {"names": names}
    return _("%(outcome)s: %(how)s") % {"outcome": NOTIFICATION_OUTCOMES[outcome], "how": how}


def timeline_rows(events, *, applicant: bool = False) -> list[TimelineRow]:
    """The rows of a case's timeline from its events in order: every event as it is, but
    the notifications of each step (one message per recipient and channel, then one event
    per delivery attempt) folded into one row per kind of message and outcome, placed
    where the first was queued. Messages not yet delivered have no row (they are the
    supervisors' problem list's). The applicant sees only what was delivered, and only
    events meant for them (``shown_to_applicant``)."""
    events = list(events)
    outcome = {}
    for event in events:
        if event.kind in NOTIFICATION_OUTCOMES:
            outcome[event.data.get("message")] = event.kind
    rows: list[TimelineRow] = []
    folded: dict[tuple, TimelineRow] = {}
    step = 0
    for event in events:
        if event.kind not in NOTIFICATION_KINDS:
            if not applicant or event_shown_to_applicant(event.kind):
                rows.append(TimelineRow(event))
            step += 1
            continue
        if event.kind != "notification_queued":
            continue  # folded into the row of the message it delivered
        ended = outcome.get(event.data.get("message"))
        if ended is None or (applicant and ended != "notification_sent"):
            continue
        channel = event.data.get("channel", "")
        key = (step, channel, event.data.get("kind"), ended)
        row = folded.get(key)
        if row is None:
            row = folded[key] = TimelineRow(event)
            rows.append(row)
        recipient = event.data.get("to") or ""
        if recipient and recipient not in row.recipients:
            row.recipients.append(recipient)
        row.label = notification_label(ended, channel, row.recipients)
    return rows
