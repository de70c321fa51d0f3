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
        Case,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        verbose_name=_("case"),
    )
    kind = models.CharField(max_length=40, verbose_name=_("kind"))
    channel = models.CharField(max_length=10, choices=Channel.choices, verbose_name=_("channel"))
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recipient user"),
    )
    recipient_email = models.EmailField(blank=True, verbose_name=_("recipient email"))
    platform = models.ForeignKey(
        Platform,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        verbose_name=_("platform"),
    )
    language = models.CharField(max_length=10, default="zh-hans", verbose_name=_("language"))
    subject = models.CharField(max_length=300, blank=True, verbose_name=_("subject"))
    body = models.TextField(blank=True, verbose_name=_("body"))
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    idempotency_key = models.CharField(
        max_length=64, unique=True, verbose_name=_("idempotency key")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("locked until"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acknowledged at"))

    class Meta:
        verbose_name_plural = _("messages")
        verbose_name = _("message")
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
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    case = models.ForeignKey(
        Case,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("case"),
    )
    kind = models.CharField(max_length=40, verbose_name=_("kind"))
    key = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Makes a repeated notification a no-op."),
        verbose_name=_("key"),
    )
    title = models.CharField(max_length=300, verbose_name=_("title"))
    body = models.TextField(blank=True, verbose_name=_("body"))
    url = models.CharField(max_length=300, blank=True, verbose_name=_("url"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    class Meta:
        verbose_name_plural = _("notifications")
        verbose_name = _("notification")
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

    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform")
    )
    idempotency_key = models.CharField(max_length=64, verbose_name=_("idempotency key"))
    received_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"))
    outcome = models.CharField(max_length=200, blank=True, verbose_name=_("outcome"))

    class Meta:
        verbose_name_plural = _("webhook receipts")
        verbose_name = _("webhook receipt")
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

    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform")
    )
    signature = models.CharField(max_length=80, verbose_name=_("signature"))
    signed_at = models.DateTimeField(
        help_text=_("The time the call was signed at."), verbose_name=_("signed at")
    )
    received_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"))

    class Meta:
        verbose_name_plural = _("webhook signatures")
        verbose_name = _("webhook signature")
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

    platform = models.ForeignKey(
        Platform, on_delete=models.PROTECT, related_name="+", verbose_name=_("platform")
    )
    source = models.CharField(max_length=8, choices=Source.choices, verbose_name=_("source"))
    complete = models.BooleanField(
        default=False,
        help_text=_(
            "The report lists everything the platform holds: what it leaves out is missing."
        ),
        verbose_name=_("complete"),
    )
    rows = models.PositiveIntegerField(default=0, verbose_name=_("rows"))
    received_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"))

    class Meta:
        verbose_name_plural = _("holdings reports")
        verbose_name = _("holdings report")
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

    platform = models.ForeignKey(
        Platform, on_delete=models.PROTECT, related_name="+", verbose_name=_("platform")
    )
    kind = models.CharField(max_length=24, choices=Kind.choices, verbose_name=_("kind"))
    # What the platform named the record by, and our record and publication if we know them.
    decision_no = models.CharField(max_length=100, verbose_name=_("decision no"))
    subject_code = models.CharField(max_length=40, blank=True, verbose_name=_("subject code"))
    record = models.ForeignKey(
        "cases.Record",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("record"),
    )
    publication = models.ForeignKey(
        "cases.Publication",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("publication"),
    )
    reported = models.JSONField(
        default=dict, blank=True, help_text=_("The platform's row."), verbose_name=_("reported")
    )
    expected = models.JSONField(
        default=dict, blank=True, help_text=_("What it should hold."), verbose_name=_("expected")
    )
    first_report = models.ForeignKey(
        HoldingsReport, on_delete=models.PROTECT, related_name="+", verbose_name=_("first report")
    )
    last_report = models.ForeignKey(
        HoldingsReport, on_delete=models.PROTECT, related_name="+", verbose_name=_("last report")
    )
    found_at = models.DateTimeField(default=timezone.now, verbose_name=_("found at"))
    resent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resent at"))
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("resent by"),
    )
    resent_times = models.PositiveIntegerField(default=0, verbose_name=_("resent times"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolution_note = models.TextField(blank=True, verbose_name=_("resolution note"))

    class Meta:
        verbose_name_plural = _("holding mismatches")
        verbose_name = _("holding mismatch")
        ordering = ["-found_at", "-id"]
        indexes = [models.Index(fields=["platform", "resolved_at"], name="mismatch_open")]

    def __str__(self) -> str:
        return f"{self.platform_id}: {self.kind} {self.decision_no}"
