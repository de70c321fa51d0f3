"""Writing messages to the outbox, in the transaction of the change that causes them.

``on_case_event`` maps the case's audit events to the messages DOMAIN.md and
the issue ask for (acceptance, missing materials, decision, removal, ...), so
no service or view can forget one. Delivery is ``notifications.delivery``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from cases import access
from cases.broker import task_send
from cases.clock import deadline_latest
from cases.events import event_record
from cases.held import held_by_pk
from cases.models import (
    Case,
    CaseEvent,
    CaseRecord,
    Deadline,
    Material,
    Platform,
    Publication,
    Record,
    RecordEvent,
    Role,
    Sector,
)
from cases.publications import effect_payload
from cases.selectors import case_correspondents, subject_correspondents
from notifications import texts
from notifications.models import Message, Notification, WebhookReceipt, WebhookSignature
from notifications.selectors import notifications_for
from notifications.signing import DEFAULT_TOLERANCE, Verdict

logger = logging.getLogger(__name__)

# Events that change what a platform shows about a record.
PLATFORM_ACTIONS = {
    "accepted": ("record_disputed", "objection"),
    "decided": ("record_withdrawal_requested", None),
    "revoked": ("record_republished", None),
    "plan_failed": ("record_republication_requested", None),
}

# What a platform is asked when a temporary restoration is granted (《信用修复管理办法》
# 第二十条): shield the record. Market-regulation records carry SAMR's statement
# (《市场监督管理信用修复管理办法》第二十二条).
SHIELD_ACTION = "record_shield_requested"
# What a platform is asked when a record is repaired or its publication ends: every
# effect it is responsible for (《信用修复管理办法》第三条; decision 0024).
WITHDRAWAL_ACTION = "record_withdrawal_requested"
REORGANISATION_NOTICE = {
    "text": "重整计划或者和解协议执行中",
    "basis": "《市场监督管理信用修复管理办法》第二十二条",
}


def idempotency_key(*parts) -> str:
    """A stable key for one message: the same cause and recipient give the same key."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def case_url(case: Case) -> str:
    try:
        path = reverse("portal:case", args=[case.pk])
    except NoReverseMatch:
        path = f"/cases/{case.pk}/"
    return settings.REDRESS_SITE_URL.rstrip("/") + path


def outbox_enqueue(
    *,
    case: Case | None,
    kind: str,
    channel: str,
    key: str,
    recipient_user=None,
    recipient_email: str = "",
    platform: Platform | None = None,
    language: str = "zh-hans",
    subject: str = "",
    body: str = "",
    payload: dict | None = None,
) -> Message:
    """Write one message to the outbox; the same ``key`` twice gives the same message.

    Must run inside the transaction of the change that causes the message. After
    the commit the dispatcher is asked to deliver it; if that ask fails (broker
    down), the periodic sweep delivers it later.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the transaction of its cause")
    message, created = _once(
        Message,
        case,
        {"idempotency_key": key},
        {
            "case": case,
            "kind": kind,
            "channel": channel,
            "recipient_user": recipient_user,
            "recipient_email": recipient_email,
            "platform": platform,
            "language": language,
            "subject": subject,
            "body": body,
            "payload": payload or {},
        },
    )
    if created:
        if case is not None:
            event_record(
                case,
                "notification_queued",
                actor=None,
                role="system",
                automated=True,
                data={
                    "message": message.pk,
                    "kind": kind,
                    "channel": channel,
                    "to": message.recipient_label,
                },
            )
        transaction.on_commit(lambda: message_dispatch(message.pk))
    return message


def _once(model, case: Case | None, lookup: dict, defaults: dict):
    """``get_or_create``: the row with ``lookup``, made with ``defaults`` if there is none.

    Inside a step that holds ``case`` locked (``cases.held``) it takes no savepoint: the
    keys of a case's messages are made from an event of that case, appended under the same
    lock, so no other transaction can write the same key meanwhile (should one, the whole
    step rolls back: nothing is lost or sent twice)."""
    if case is None or held_by_pk(case.pk) is None:
        return model.objects.get_or_create(**lookup, defaults=defaults)
    found = model.objects.filter(**lookup).first()
    if found is not None:
        return found, False
    return model.objects.create(**lookup, **defaults), True


def message_dispatch(message_id: int) -> None:
    """Ask a worker to deliver the message now; if the broker is down, the sweep will."""
    # By name: notifications.tasks imports the delivery, which queues through here.
    deliver = current_app.tasks["notifications.deliver"]
    try:
        # Fail fast when the broker is down (kombu would otherwise retry for seconds
        # inside the request that changed the case); the sweep sends the row later.
        task_send(deliver, (message_id,))
    except Exception:  # noqa: BLE001 - broker down: the sweep picks the row up later
        logger.warning("Broker unavailable; message %s waits for the sweep", message_id)


def notify_user(
    *, user, case: Case | None, kind: str, context: dict, key: str, email: bool = True
) -> None:
    """Tell a person: an in-app notification and, if they have an address, an email."""
    language = recipient_language(user, case)
    with translation.override(language):
        subject, body = texts.render(kind, language, **context)
    subject = subject[:300]  # a subject's name can be 300 characters on its own
    _once(
        Notification,
        case,
        {"user": user, "key": idempotency_key(key, "inapp", user.pk)},
        {
            "case": case,
            "kind": kind,
            "title": subject,
            "body": body,
            "url": context.get("url", ""),
        },
    )
    if email and user.email:
        outbox_enqueue(
            case=case,
            kind=kind,
            channel=Message.Channel.EMAIL,
            key=idempotency_key(key, "email", user.pk),
            recipient_user=user,
            recipient_email=user.email,
            language=language,
            subject=subject,
            body=body,
            payload={"attach_letters": kind in LETTER_KINDS},
        )


# Messages that go with a letter of the same step: the email carries the PDF.
LETTER_KINDS = {"accepted", "materials_requested", "not_accepted", "decided", "revoked"}


def recipient_language(user, case: Case | None) -> str:
    """The applicant reads the language they filed in; others the language they chose."""
    if case is not None and case.applicant_id == user.pk:
        return case.language
    account = getattr(user, "portal_account", None)
    return account.language if account is not None else settings.LANGUAGE_CODE


def platform_notify(
    *,
    case: Case | None,
    publication: Publication,
    action: str,
    key: str,
    reason: str = "",
    effects=None,
) -> Message:
    """Tell a platform what to do with a record it holds, as a signed webhook.

    ``case`` is None where no case causes it (publication ended at its maximum period):
    the payload then names no case, and ``reason`` says why (``publication_expired``).
    A request to shield a market-regulation record carries the statement the platform
    shows in its place (``notice``, SAMR Order 107 Art. 22)."""
    record = publication.record
    payload = {
        "action": action,
        "case": case.reference if case is not None else "",
        "publication": publication.pk,
        "record": {
            "decision_no": record.decision_no,
            "list_type": record.list_type.code,
            "subject_code": record.subject.code,
            "subject_name": record.subject.name,
            "agency": record.agency.code,
            "status": record.status,
            "corrected_text": record.corrected_text,
            # Published until (a revocation restarts the period, with no early end).
            "expires_on": record.expires_on.isoformat() if record.expires_on else None,
        },
        "acknowledge_url": settings.REDRESS_SITE_URL.rstrip("/")
        + f"/api/v1/platforms/{publication.platform.code}/acknowledgements/",
    }
    if reason:
        payload["reason"] = reason
    if action == WITHDRAWAL_ACTION:
        # Each effect the platform is responsible for, acknowledged one by one with its
        # id, or all at once by the publication (decision 0024; the wire contract).
        if effects is None:
            effects = publication.effects.filter(acknowledged_at__isnull=True).select_related(
                "measure"
            )
        payload["effects"] = [effect_payload(effect) for effect in effects]
    if action == SHIELD_ACTION and record.agency.sector == Sector.MARKET_REGULATION:
        payload["notice"] = REORGANISATION_NOTICE
    message_key = idempotency_key(key, "platform", publication.pk, action)
    payload["idempotency_key"] = message_key
    return outbox_enqueue(
        case=case,
        kind=action,
        channel=Message.Channel.WEBHOOK,
        key=message_key,
        platform=publication.platform,
        payload=payload,
        body=json.dumps(payload, ensure_ascii=False, sort_keys=True),
    )


# --- what each case event sends --------------------------------------------------------------


def on_case_event(sender, *, case: Case, event: CaseEvent, **kwargs) -> None:
    """Queue the messages a case event calls for (connected in NotificationsConfig.ready)."""
    handler = _HANDLERS.get(event.kind)
    if handler is not None:
        handler(case, event)


def _context(case: Case, **extra) -> dict:

    latest = deadline_latest(case)
    decision = (
        {
            "due_on": latest.due_on,
            "working_days": latest.working_days,
            "provisional": latest.provisional,
        }
        if latest is not None
        else None
    )
    provisional = bool(decision and decision["provisional"])
    return {
        "reference": case.reference,
        "subject_name": case.subject.name,
        "agency": case.agency.name,
        "agency_en": case.agency.localized_name("en"),
        "kind_zh": texts.KIND_ZH[case.kind],
        "kind_en": texts.KIND_EN[case.kind],
        "deadline": f"{decision['due_on']:%Y-%m-%d}" if decision else "",
        "deadline_days": decision["working_days"] if decision else "",
        # A date counted in a year whose holiday schedule is not loaded says so (issue 13).
        "deadline_note_zh": texts.PROVISIONAL_NOTE_ZH if provisional else "",
        "deadline_note_en": texts.PROVISIONAL_NOTE_EN if provisional else "",
        "url": case_url(case),
        **extra,
    }


def _to_applicant(kind: str, **extra):
    """The applicant is told; if they have left the company account, whoever acts for the
    subject now (``cases.selectors.case_correspondents``)."""

    def handler(case: Case, event: CaseEvent) -> None:

        context = _context(case, **{k: f(case, event) for k, f in extra.items()})
        for user in case_correspondents(case):
            notify_user(
                user=user,
                case=case,
                kind=kind,
                context=context,
                key=idempotency_key(case.reference, event.seq, kind),
            )

    return handler


def _missing(case: Case, event: CaseEvent) -> str:
    return _missing_lines(case, event.data.get("missing"))


def _missing_lines(case: Case, items: list | None = None) -> str:
    """The list of missing items, in the applicant's language."""
    lines = []
    with translation.override(case.language):
        for item in items or case.missing_materials:
            label = str(Material(item["material"]).label)
            lines.append(f"- {label}{': ' + item['detail'] if item.get('detail') else ''}")
    return "\n".join(lines)


def _on_accepted(case: Case, event: CaseEvent) -> None:
    _to_applicant("accepted")(case, event)
    if case.kind == Case.Kind.OBJECTION:
        _platforms(case, event, "record_disputed")


def _on_monitoring_notified(case: Case, event: CaseEvent) -> None:
    """APL Art. 41 ¶3: the party is told of evidence from electronic monitoring and of its
    period to state its case and defend (the event's facts, not the latest deadline)."""
    data = event.data
    _to_applicant(
        "monitoring_notified",
        device=lambda c, e: data.get("device", ""),
        location=lambda c, e: data.get("location", ""),
        approval_ref=lambda c, e: data.get("approval_ref", ""),
        approval_on=lambda c, e: data.get("approval_on", ""),
        statement_due=lambda c, e: data.get("due_on", ""),
        statement_days=lambda c, e: data.get("working_days", ""),
    )(case, event)


def _on_decided(case: Case, event: CaseEvent) -> None:
    _to_applicant(
        "decided",
        decision_zh=lambda c, e: texts.DECISION_ZH[c.decision],
        decision_en=lambda c, e: texts.DECISION_EN[c.decision],
        reasons=lambda c, e: c.decision_reasons,
    )(case, event)
    if case.kind == Case.Kind.REORGANISATION:
        _platforms(case, event, SHIELD_ACTION)
    else:
        _platforms(case, event, "record_withdrawal_requested")
    _lift_dispute(case, event)


def _lift_dispute(case: Case, event: CaseEvent) -> None:
    """An accepted objection that ends without removal: platforms drop the dispute flag
    (and show the correction where the record was corrected)."""
    if case.kind == Case.Kind.OBJECTION and case.accepted_at is not None:
        _platforms(case, event, "record_dispute_lifted", statuses=[Publication.Status.PUBLISHED])


def _on_lapsed_or_withdrawn(kind: str):
    notify = _to_applicant(kind)

    def handler(case: Case, event: CaseEvent) -> None:
        notify(case, event)
        _lift_dispute(case, event)

    return handler


def _on_revoked(case: Case, event: CaseEvent) -> None:
    """The applicant is told; every platform that held a record publishes it again, and
    publishes the revocation decision (decision 0016); each acknowledges like a
    withdrawal (``status`` published)."""
    _to_applicant("revoked", reasons=lambda c, e: e.note)(case, event)
    _platforms(
        case,
        event,
        "record_republished",
        statuses=[Publication.Status.PUBLICATION_REQUESTED],
        upheld_only=True,
    )
    revocation = case.revocation
    if revocation is None or revocation.decision_record_id is None:
        return
    for publication in Publication.objects.filter(
        record=revocation.decision_record_id, status=Publication.Status.PUBLICATION_REQUESTED
    ).select_related("platform", "record__list_type", "record__subject", "record__agency"):
        platform_notify(
            case=case,
            publication=publication,
            action="revocation_published",
            key=idempotency_key(case.reference, event.seq),
        )


def _on_plan_failed(case: Case, event: CaseEvent) -> None:
    _to_applicant("plan_failed", reasons=lambda c, e: e.note)(case, event)
    _platforms(case, event, "record_republication_requested")


def _platforms(case, event, action, statuses=None, *, upheld_only: bool = False) -> None:
    statuses = (
        statuses
        or {
            "record_disputed": [Publication.Status.DISPUTED],
            "record_withdrawal_requested": [Publication.Status.WITHDRAWAL_REQUESTED],
            SHIELD_ACTION: [Publication.Status.SHIELD_REQUESTED],
            "record_republication_requested": [Publication.Status.PUBLICATION_REQUESTED],
        }[action]
    )
    # One filter() call: the outcome must be that of this case's link to the record.
    link = {"record__case_records__case": case}
    if upheld_only:
        link["record__case_records__outcome"] = CaseRecord.Outcome.UPHELD
    publications = Publication.objects.filter(status__in=statuses, **link).select_related(
        "platform", "record__list_type", "record__subject", "record__agency"
    )
    for publication in publications:
        platform_notify(
            case=case,
            publication=publication,
            action=action,
            key=idempotency_key(case.reference, event.seq),
        )


def _on_platform_acknowledged(case: Case, event: CaseEvent) -> None:
    platform = Platform.objects.filter(code=event.data.get("platform")).first()
    _to_applicant(
        "removal_done",
        platform=lambda c, e: platform.name if platform else e.data.get("platform", ""),
        platform_en=lambda c, e: (
            platform.localized_name("en") if platform else e.data.get("platform", "")
        ),
        record=lambda c, e: e.data.get("record", ""),
    )(case, event)


def _on_platform_shielded(case: Case, event: CaseEvent) -> None:
    platform = Platform.objects.filter(code=event.data.get("platform")).first()
    _to_applicant(
        "shield_done",
        platform=lambda c, e: platform.name if platform else e.data.get("platform", ""),
        platform_en=lambda c, e: (
            platform.localized_name("en") if platform else e.data.get("platform", "")
        ),
        record=lambda c, e: e.data.get("record", ""),
    )(case, event)


def _on_escalation(case: Case, event: CaseEvent) -> None:

    step = event.data.get("step", "")
    overdue = event.kind == "deadline_overdue"
    context = _context(
        case,
        step=Deadline.Step(step).label if step in Deadline.Step.values else step,
        deadline=event.data.get("due_on", ""),
        state="已逾期" if overdue else "即将届满",
        state_en="overdue" if overdue else "due soon",
    )
    for supervisor in access.people_holding(Role.SUPERVISOR, at=case.agency_id):
        notify_user(
            user=supervisor,
            case=case,
            kind="escalation",
            context=context,
            key=idempotency_key(case.reference, event.seq, "escalation"),
        )


def _on_appeal_decided(case: Case, event: CaseEvent) -> None:
    """An appeal's outcome revoked, changed or voided the decision: every platform asked
    withdraws the published decision, or, where the decision was an approval, publishes
    the records again as they were (《中华人民共和国行政处罚法》第四十八条), acknowledging like
    any withdrawal or re-publication. The applicant is told the outcome and what follows."""
    data = event.data
    for action, ids, status in (
        (
            "record_withdrawal_requested",
            data.get("withdrawals") or [],
            Publication.Status.WITHDRAWAL_REQUESTED,
        ),
        (
            "record_republished",
            data.get("republications") or [],
            Publication.Status.PUBLICATION_REQUESTED,
        ),
    ):
        for publication in Publication.objects.filter(pk__in=ids, status=status).select_related(
            "platform", "record__list_type", "record__subject", "record__agency"
        ):
            platform_notify(
                case=case,
                publication=publication,
                action=action,
                key=idempotency_key(case.reference, event.seq),
            )
    outcome = data.get("outcome", "")
    if data.get("republications"):
        effect = "republished"
    elif data.get("withdrawals"):
        effect = "withdrawn"
    else:
        effect = "unchanged"
    named = "、".join(data.get("record_numbers") or [])
    if named and effect != "unchanged":
        effect += "_named"
    follows = outcome in ("revoked", "unlawful") and case.decision == Case.Decision.REJECTED

    def effect_text(table: dict, follows_text: str) -> str:
        text = table[effect].format(records=named)
        return f"{text}{follows_text}" if follows else text

    _to_applicant(
        "appeal_decided",
        outcome_zh=lambda c, e: texts.APPEAL_OUTCOME_ZH.get(outcome, outcome),
        outcome_en=lambda c, e: texts.APPEAL_OUTCOME_EN.get(outcome, outcome),
        appeal_zh=lambda c, e: texts.APPEAL_KIND_ZH.get(data.get("kind", ""), ""),
        appeal_en=lambda c, e: texts.APPEAL_KIND_EN.get(data.get("kind", ""), ""),
        decided_on=lambda c, e: data.get("decided_on", ""),
        effect_zh=lambda c, e: effect_text(texts.APPEAL_EFFECT_ZH, texts.APPEAL_FOLLOWS_ZH),
        effect_en=lambda c, e: effect_text(texts.APPEAL_EFFECT_EN, " " + texts.APPEAL_FOLLOWS_EN),
    )(case, event)


_HANDLERS = {
    "appeal_decided": _on_appeal_decided,
    "accepted": _on_accepted,
    "materials_requested": _to_applicant("materials_requested", missing=_missing),
    "not_accepted": _to_applicant("not_accepted", reasons=lambda c, e: e.note),
    "lapsed": _on_lapsed_or_withdrawn("lapsed"),
    "withdrawn": _on_lapsed_or_withdrawn("withdrawn"),
    "decided": _on_decided,
    "monitoring_notified": _on_monitoring_notified,
    "revoked": _on_revoked,
    "platform_acknowledged": _on_platform_acknowledged,
    "platform_shielded": _on_platform_shielded,
    "plan_failed": _on_plan_failed,
    "deadline_near": _on_escalation,
    "deadline_overdue": _on_escalation,
}


# --- what each event on a record's own trail sends ----------------------------------------


def on_record_event(sender, *, record: Record, event: RecordEvent, **kwargs) -> None:
    """Queue the messages a record event calls for (connected in NotificationsConfig.ready)."""
    if event.kind == "publication_expired":
        _on_publication_expired(record, event)


def _on_publication_expired(record: Record, event: RecordEvent) -> None:
    """Publication ended at its maximum period: every platform still showing the record is
    asked to withdraw it, as after a decision, and the people who act for the subject are
    told, with the date and the article (《信用修复管理办法》第十二条)."""
    key = idempotency_key("record", record.pk, event.seq)
    publications = (
        record.publications.filter(status=Publication.Status.WITHDRAWAL_REQUESTED)
        .select_related("platform", "record__list_type", "record__subject", "record__agency")
        .order_by("platform__code")
    )
    platforms = []
    for publication in publications:
        platforms.append(publication.platform)
        platform_notify(
            case=None,
            publication=publication,
            action="record_withdrawal_requested",
            key=key,
            reason="publication_expired",
        )
    context = {
        "record": record.decision_no,
        "subject_name": record.subject.name,
        "list_type": record.list_type.name,
        "list_type_en": record.list_type.localized_name("en"),
        "agency": record.agency.name,
        "agency_en": record.agency.localized_name("en"),
        "expires_on": event.data.get("expires_on", ""),
        "ended_on": event.data.get("ended_on", ""),
        "article_zh": event.data.get("article_zh", ""),
        "article_en": event.data.get("article_en", ""),
        "platforms": "、".join(p.name for p in platforms) or "—",
        "platforms_en": ", ".join(p.localized_name("en") for p in platforms) or "—",
        "url": records_url(record),
    }
    for user in subject_correspondents(record.subject):
        notify_user(user=user, case=None, kind="publication_expired", context=context, key=key)


def records_url(record: Record) -> str:
    try:
        path = reverse("portal:records") + f"#record-{record.pk}"
    except NoReverseMatch:
        path = "/records/"
    return settings.REDRESS_SITE_URL.rstrip("/") + path


def signature_remember(*, platform: Platform, verdict: Verdict) -> bool:
    """Record the signature a platform's call verified with; False if it was seen before.

    Call inside the transaction that answers the call: if that fails, the signature is
    forgotten with it. Signatures whose timestamp is past the signing tolerance are
    dropped on the way (such a call is refused as stale before it gets here).
    """
    # A signature verifies until its timestamp is DEFAULT_TOLERANCE old; twice that
    # leaves room for a call that took long to arrive.
    horizon = timezone.now() - datetime.timedelta(seconds=2 * DEFAULT_TOLERANCE)
    WebhookSignature.objects.filter(platform=platform, signed_at__lt=horizon).delete()
    try:
        with transaction.atomic():
            WebhookSignature.objects.create(
                platform=platform, signature=verdict.signature, signed_at=verdict.signed_at
            )
    except IntegrityError:
        return False
    return True


def receipt_record(*, platform: Platform, idempotency_key: str, outcome: str) -> bool:
    """Record a platform's call under its ``Idempotency-Key``; False if that key was
    received before (the call is then a replay and changes nothing).

    Call inside the transaction that carries the call out, so that a failure forgets the
    key with everything else."""
    try:
        with transaction.atomic():
            WebhookReceipt.objects.create(
                platform=platform, idempotency_key=idempotency_key, outcome=outcome
            )
    except IntegrityError:
        return False
    return True


def message_acknowledged(*, platform: Platform, idempotency_key: str) -> int:
    """Mark our webhook ``idempotency_key`` to ``platform`` as acknowledged (the timeline
    shows it); nothing if the platform named no message of ours."""
    if not idempotency_key:
        return 0
    return Message.objects.filter(
        platform=platform, idempotency_key=idempotency_key, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now())


# --- in-app notifications: read --------------------------------------------------------------


def notifications_mark_read(
    *, user: AbstractBaseUser, ids: Iterable[int] | None = None, case: Case | None = None
) -> int:
    """Mark the person's unread notifications read: all they may see, some by id, or one
    case's. Returns how many were marked."""
    unread = notifications_for(user).filter(read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    if case is not None:
        unread = unread.filter(case=case)
    return Notification.objects.filter(pk__in=unread.values("pk")).update(read_at=timezone.now())
