"""Delivering outbox messages: claim a row, send it, record the outcome.

At-least-once: a row is claimed (status ``sending`` with a lease) in one short
transaction, sent outside any transaction, and marked sent in another. A worker
that dies in between leaves the lease to expire; the sweep then sends the row
again with the same idempotency key, which receivers use to keep exactly one.
Failures back off exponentially; after ``REDRESS_NOTIFY_MAX_ATTEMPTS`` the row
goes to the dead-letter state, where supervisors see it and can retry it.
"""

from __future__ import annotations

import datetime
import logging

import urllib3
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import access
from cases.errors import NotPermitted, WrongState
from cases.events import case_lock, event_record
from cases.models import Role
from documents.models import Letter
from documents.selectors import letters_for_attachment
from notifications import signing
from notifications.models import Message
from notifications.services import message_dispatch

logger = logging.getLogger(__name__)

_http = urllib3.PoolManager(retries=False)


class DeliveryFailed(Exception):
    """The receiver refused or could not be reached; the message will be retried."""


class NotReady(Exception):
    """The message waits for something (its letter being rendered); not a failure."""


def backoff(attempts: int) -> datetime.timedelta:
    """Wait before the next attempt: base × 2^(attempts-1), capped."""
    base = settings.REDRESS_NOTIFY_BACKOFF_SECONDS
    cap = settings.REDRESS_NOTIFY_BACKOFF_CAP_SECONDS
    return datetime.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def message_claim(message_id: int) -> Message | None:
    """Take a deliverable message under a lease, or None if it is not ours to send now."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=message_id)
            .filter(
                Q(
                    status__in=[Message.Status.PENDING, Message.Status.RETRYING],
                    next_attempt_at__lte=now,
                )
                | Q(status=Message.Status.SENDING, locked_until__lt=now)
            )
            .first()
        )
        if message is None:
            return None
        message.status = Message.Status.SENDING
        message.attempts += 1
        message.locked_until = now + datetime.timedelta(
            seconds=settings.REDRESS_NOTIFY_LEASE_SECONDS
        )
        message.save(update_fields=["status", "attempts", "locked_until"])
    return message


def deliver(message_id: int) -> str:
    """Deliver one message if it is due; returns what happened (for logs and tests)."""
    message = message_claim(message_id)
    if message is None:
        return "skipped"
    try:
        send(message)
    except NotReady:
        _postpone(message)
        return "postponed"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
        return _record_failure(message, exc)
    _record_outcome(message, Message.Status.SENT, note="")
    return "sent"


def send(message: Message) -> None:
    if message.channel == Message.Channel.EMAIL:
        _send_email(message)
    elif message.channel == Message.Channel.WEBHOOK:
        _send_webhook(message)
    else:
        raise DeliveryFailed(f"unknown channel {message.channel!r}")


def _send_email(message: Message) -> None:
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient_email],
        headers={
            "Message-ID": f"<{message.idempotency_key}@redress>",
            "X-Redress-Idempotency-Key": message.idempotency_key,
            "X-Redress-Case": message.case.reference if message.case_id else "",
        },
    )
    if message.payload.get("attach_letters") and message.case_id:
        if letters_pending(message):
            raise NotReady("its letter is still being rendered")
        for name, content in letter_attachments(message):
            email.attach(name, content, "application/pdf")
    email.send(fail_silently=False)


# The letters a message of each kind carries: the letter of the same step.
LETTERS_OF_MESSAGE = {
    "accepted": ("acceptance",),
    "materials_requested": ("materials_request",),
    "not_accepted": ("non_acceptance",),
    "decided": ("approval", "rejection"),
    "revoked": ("revocation",),
}


def letters_pending(message: Message) -> bool:
    """Whether the letter this message carries is still being rendered."""
    return Letter.objects.filter(
        case_id=message.case_id,
        kind__in=LETTERS_OF_MESSAGE.get(message.kind, ()),
        status__in=[Letter.Status.PENDING, Letter.Status.RENDERING],
    ).exists()


def _postpone(message: Message) -> None:
    """Back in the queue without counting an attempt: the letter's worker will finish."""
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.PENDING,
        attempts=max(message.attempts - 1, 0),
        locked_until=None,
        next_attempt_at=timezone.now() + backoff(1),
    )


def letter_attachments(message: Message):
    """The case's issued letters the message carries, as (file name, bytes)."""
    kinds = LETTERS_OF_MESSAGE.get(message.kind, ())
    return [
        (name, content)
        for name, content in letters_for_attachment(message.case, language=message.language)
        if name.split("-", 1)[0] in kinds
    ]


def _send_webhook(message: Message) -> None:
    platform = message.platform
    if not platform.webhook_secret:
        # Never send an unsigned (forgeable) call.
        raise DeliveryFailed(f"platform {platform.code} has no shared secret configured")
    if not platform.webhook_url:
        raise DeliveryFailed(f"platform {platform.code} has no webhook URL configured")
    body = message.body.encode("utf-8")
    headers = signing.signed_headers(
        platform.webhook_secret, body, idempotency_key=message.idempotency_key
    )
    try:
        response = _http.request(
            "POST",
            platform.webhook_url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=5, read=settings.REDRESS_WEBHOOK_TIMEOUT_SECONDS),
            redirect=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise DeliveryFailed(f"could not reach {platform.webhook_url}: {exc}") from exc
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"{platform.code} answered HTTP {response.status}")


def _record_failure(message: Message, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if message.attempts >= settings.REDRESS_NOTIFY_MAX_ATTEMPTS:
        _record_outcome(message, Message.Status.DEAD, note=error)
        logger.error(
            "Message %s is dead after %d attempts: %s", message.pk, message.attempts, error
        )
        return "dead"
    _record_outcome(message, Message.Status.RETRYING, note=error)
    logger.warning("Message %s failed (attempt %d): %s", message.pk, message.attempts, error)
    return "retrying"


_EVENT_KIND = {
    Message.Status.SENT: "notification_sent",
    Message.Status.RETRYING: "notification_failed",
    Message.Status.DEAD: "notification_dead",
}


def _record_outcome(message: Message, status: str, *, note: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",)).get(pk=message.pk)
        locked.status = status
        locked.locked_until = None
        locked.last_error = note
        if status == Message.Status.SENT:
            locked.sent_at = now
        elif status == Message.Status.RETRYING:
            locked.next_attempt_at = now + backoff(locked.attempts)
        locked.save(
            update_fields=["status", "locked_until", "last_error", "sent_at", "next_attempt_at"]
        )
        if locked.case_id:
            case = case_lock(locked.case_id)
            event_record(
                case,
                _EVENT_KIND[status],
                actor=None,
                role="system",
                automated=True,
                note=note,
                data={
                    "message": locked.pk,
                    "kind": locked.kind,
                    "channel": locked.channel,
                    "to": locked.recipient_label,
                    "attempt": locked.attempts,
                },
            )


def due_message_ids(limit: int = 500) -> list[int]:
    """Messages the sweep should try now: due, or leased by a worker that died."""
    now = timezone.now()
    return list(
        Message.objects.filter(
            Q(
                status__in=[Message.Status.PENDING, Message.Status.RETRYING],
                next_attempt_at__lte=now,
            )
            | Q(status=Message.Status.SENDING, locked_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def message_retry(*, message: Message, by) -> Message:
    """A supervisor sends a dead message again (attempts start over); a message about no
    case (a mail about an account) only an administrator does, in the admin."""
    if message.case_id is None and not by.is_superuser:
        # It belongs to no agency, so to no supervisor: docs/decisions/0015.
        raise NotPermitted(_("Only an administrator can retry a message that is about no case."))
    if not by.is_superuser and (
        message.case_id is None or not access.has_role(by, Role.SUPERVISOR, message.case.agency)
    ):
        raise NotPermitted(_("Only a supervisor of the case's agency can retry its messages."))
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",)).get(pk=message.pk)
        if locked.status != Message.Status.DEAD:
            raise WrongState(_("Only a message that was given up can be retried."))
        locked.status = Message.Status.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        if locked.case_id:
            event_record(
                case_lock(locked.case_id),
                "notification_retried",
                actor=by,
                role=Role.SUPERVISOR,
                data={"message": locked.pk, "kind": locked.kind, "to": locked.recipient_label},
            )
        transaction.on_commit(lambda: message_dispatch(locked.pk))
    return locked
