"""The outbox as supervisors and administrators see it: dead letters can be retried."""

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.errors import RedressError
from notifications.account_mail import message_body_for_staff
from notifications.delivery import message_retry
from notifications.models import (
    HoldingMismatch,
    HoldingsReport,
    Message,
    Notification,
    WebhookReceipt,
)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "kind",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "acknowledged_at",
        "case",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["case__reference", "recipient_email", "platform__code", "idempotency_key"]
    list_select_related = ["case", "platform", "recipient_user"]
    # The body is shown without the links of account mails: each acts for its recipient
    # (activates an account, accepts an invitation, sets a new password).
    exclude = ["body"]
    readonly_fields = ["body_shown" if f.name == "body" else f.name for f in Message._meta.fields]
    actions = ["retry"]

    @admin.display(description=gettext_lazy("number"), ordering="pk")
    def number(self, message):
        return message.pk

    @admin.display(description=gettext_lazy("recipient"))
    def recipient(self, message):
        return message.recipient_label

    @admin.display(description=gettext_lazy("body"))
    def body_shown(self, message):
        return message_body_for_staff(message)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Retry the selected dead messages"))
    def retry(self, request, queryset):
        done, skipped = 0, []
        for message in queryset:
            try:
                message_retry(message=message, by=request.user)
                done += 1
            except RedressError as exc:
                skipped.append(
                    _("#%(number)s: %(reason)s") % {"number": message.pk, "reason": exc.message}
                )
        messages.info(request, _("Re-queued %(count)s message(s).") % {"count": done})
        if skipped:
            messages.warning(
                request, _("Not retried: %(skipped)s") % {"skipped": "; ".join(skipped)}
            )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "title", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["user__username", "title"]


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(admin.ModelAdmin):
    list_display = ["platform", "idempotency_key", "received_at", "outcome"]
    list_filter = ["platform"]
    search_fields = ["idempotency_key"]


@admin.register(HoldingsReport)
class HoldingsReportAdmin(admin.ModelAdmin):
    """Platforms' holdings reports (reconciliation): read only, as received."""

    list_display = ["pk", "platform", "source", "complete", "rows", "received_at"]
    list_filter = ["platform", "source"]
    readonly_fields = [f.name for f in HoldingsReport._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(HoldingMismatch)
class HoldingMismatchAdmin(admin.ModelAdmin):
    """Every mismatch, those about records Redress does not know included (supervisors see
    their agency's on their page, where they send again or resolve with a note)."""

    list_display = [
        "pk",
        "platform",
        "kind",
        "decision_no",
        "subject_code",
        "found_at",
        "resolved_at",
    ]
    list_filter = ["platform", "kind", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["decision_no", "subject_code"]
    readonly_fields = [f.name for f in HoldingMismatch._meta.fields]

    def has_add_permission(self, request):
        return False
