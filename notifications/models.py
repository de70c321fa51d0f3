"""The outbox, in-app notifications, and the record of webhook calls received.

Every message is written as a ``Message`` row in the same transaction as the
case change that causes it; a dispatcher delivers it afterwards. A crash
between the commit and the delivery loses nothing: the row waits. A message
can be sent more than once (after a worker dies mid-delivery), never lost;
each carries an idempotency key so that receivers keep exactly one.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Platform


class Message(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", _("Webhook to a platform")

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        SENDING = "sending", _("Being delivered")
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Failed, will retry")
        DEAD = "dead", _("Given up (dead letter)")

    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    kind = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient_email = models.EmailField(blank=True)
    platform = models.ForeignKey(
        Platform, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    language = models.CharField(max_length=10, default="zh-hans")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["case", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel} ({self.status})"

    @property
    def recipient_label(self) -> str:
        if self.platform_id:
            return self.platform.code
        return self.recipient_email or (
            self.recipient_user.get_username() if self.recipient_user_id else ""
        )


class Notification(models.Model):
    """An in-app notification: shown in the portal and the officers' workspace."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40)
    key = models.CharField(
        max_length=64, blank=True, help_text=_("Makes a repeated notification a no-op.")
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], condition=~models.Q(key=""), name="notification_once"
            )
        ]

    def __str__(self) -> str:
        return self.title


class WebhookReceipt(models.Model):
    """A signed call received from a platform; the key makes a replay harmless."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "idempotency_key"], name="webhookreceipt_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.idempotency_key}"


class WebhookSignature(models.Model):
    """A signature a platform's call was accepted with, kept while its timestamp is fresh.

    A signature covers the timestamp and the body (and, in v2, the idempotency key), so
    the same signature twice is the same call sent again: refused, whatever
    ``Idempotency-Key`` header the copy carries. Rows older than the signing tolerance
    are deleted: such a call is refused as stale anyway.
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=80)
    signed_at = models.DateTimeField(help_text=_("The time the call was signed at."))
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "signature"], name="webhooksignature_once")
        ]
        indexes = [models.Index(fields=["signed_at"], name="webhooksignature_signed_at")]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.signature}"
