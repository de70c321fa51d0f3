"""Letters and exports in the admin: read-only; failed letters can be re-queued."""

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.errors import RedressError
from documents import services
from documents.models import Export, Letter, LetterService


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    list_display = ["verification_code", "case", "kind", "language", "status", "issued_at"]
    list_filter = ["status", "kind", "language"]
    search_fields = ["verification_code", "case__reference", "sha256"]
    readonly_fields = [f.name for f in Letter._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Re-queue the selected failed letters"))
    def retry(self, request, queryset):
        for letter in queryset.filter(status=Letter.Status.FAILED):
            try:
                services.letter_retry(letter, by=request.user)
            except RedressError as exc:
                self.message_user(
                    request,
                    _("%(letter)s: %(reason)s") % {"letter": letter, "reason": exc.message},
                    messages.ERROR,
                )


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["agency", "date_from", "date_to", "status", "done", "total", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Export._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LetterService)
class LetterServiceAdmin(admin.ModelAdmin):
    """How each letter was served (decision 0023): written only through the route."""

    list_display = ["letter", "case", "method", "served_on", "receipt_by", "tracking_number"]
    list_filter = ["method"]
    search_fields = ["letter__verification_code", "case__reference", "tracking_number"]
    readonly_fields = [f.name for f in LetterService._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
