"""Admin for the calendar (overrides, declared years) and a read-only view of the clock."""

from django.contrib import admin, messages
from django.utils.translation import gettext as _

from cases.calendar import recompute_cause
from cases.models import CalendarOverride, CalendarYear, ClockEntry, Deadline
from workflows import actions


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "is_working_day", "name", "agency", "created_by"]
    list_filter = ["is_working_day", "agency"]
    search_fields = ["name", "agency__code"]
    date_hierarchy = "day"
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        self._recompute(request, obj, recompute_cause("override_saved", override=obj.as_day()))

    def delete_model(self, request, obj):
        agency, day = obj.agency, obj.as_day()
        super().delete_model(request, obj)
        cause = recompute_cause("override_removed", override=day)
        self._recompute(request, obj, cause, agency=agency)

    def _recompute(self, request, obj, cause, agency=None):
        moved = actions.calendar_changed(agency=agency or obj.agency, cause=cause)
        messages.info(
            request, _("Recomputed open cases' deadlines: %(moved)s moved.") % {"moved": moved}
        )


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "source", "declared_by", "declared_at"]
    readonly_fields = ["declared_by", "declared_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.declared_by = request.user
        super().save_model(request, obj, form, change)
        moved = actions.calendar_changed(cause=recompute_cause("year_declared", year=obj.year))
        messages.info(
            request, _("Recomputed open cases' deadlines: %(moved)s moved.") % {"moved": moved}
        )


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deadline)
class DeadlineAdmin(ReadOnly):
    list_display = ["case", "step", "status", "started_on", "working_days", "due_on", "provisional"]
    list_filter = ["step", "status", "provisional"]
    search_fields = ["case__reference"]
    list_select_related = ["case"]


@admin.register(ClockEntry)
class ClockEntryAdmin(ReadOnly):
    list_display = ["case", "deadline", "kind", "at", "actor", "approved_by", "reason"]
    list_filter = ["kind"]
    search_fields = ["case__reference", "reason"]
    list_select_related = ["case", "deadline", "actor", "approved_by"]
