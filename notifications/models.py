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


class HoldingsReport(models.Model):
    """What a platform said it holds, at one time: by its signed call or a CSV an officer
    loaded (``reconcile_platform``). Stored whole or not at all: a report with one bad
    row is refused with every row's error and leaves nothing behind."""

    class Source(models.TextChoices):
        API = "api", _("Signed call of the platform")
        FILE = "file", _("File loaded by an administrator")

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    complete = models.BooleanField(
        default=False,
        help_text=_(
            "The report lists everything the platform holds: what it leaves out is missing."
        ),
    )
    rows = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.platform_id} @ {self.received_at:%Y-%m-%d %H:%M}"


class HoldingMismatch(models.Model):
    """A difference between what a platform reported holding and what it should hold.

    Open until a supervisor resolves it with a note, or until a later report of the
    platform shows the record as it should be (resolved automatically, the note says by
    which report). "Send the withdrawal again" writes a new signed webhook through the
    outbox, like the first one.
    """

    class Kind(models.TextChoices):
        STILL_SHOWN = "still_shown", _("Still shown after repair")
        NEVER_SENT = "never_sent", _("Shown but never sent to this platform")
        MISSING = "missing", _("Missing: should be shown")
        DIFFERENT = "different", _("Shown with different content")
        # The platform reports sharing, or measures, separately (decision 0025, ¶ 5).
        STILL_SHARED = "still_shared", _("Still shared after repair")
        MEASURE_STILL_APPLIED = "measure_still_applied", _("Measure still applied after repair")

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # What the platform named the record by, and our record and publication if we know them.
    decision_no = models.CharField(max_length=100)
    subject_code = models.CharField(max_length=40, blank=True)
    record = models.ForeignKey(
        "cases.Record", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    publication = models.ForeignKey(
        "cases.Publication", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported = models.JSONField(default=dict, blank=True, help_text=_("The platform's row."))
    expected = models.JSONField(default=dict, blank=True, help_text=_("What it should hold."))
    first_report = models.ForeignKey(HoldingsReport, on_delete=models.PROTECT, related_name="+")
    last_report = models.ForeignKey(HoldingsReport, on_delete=models.PROTECT, related_name="+")
    found_at = models.DateTimeField(default=timezone.now)
    resent_at = models.DateTimeField(null=True, blank=True)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resent_times = models.PositiveIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-found_at", "-id"]
        indexes = [models.Index(fields=["platform", "resolved_at"], name="mismatch_open")]

    def __str__(self) -> str:
        return f"{self.platform_id}: {self.kind} {self.decision_no}"
