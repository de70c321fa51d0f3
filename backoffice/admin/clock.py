"""Admin for the calendar (overrides, declared years) and a read-only view of the clock."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.calendar import parse_schedule, recompute_cause
from cases.errors import InvalidInput
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


class ScheduleForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Schedule file (CSV)"),
        help_text=gettext_lazy(
            "One line a day: date,kind,name — kind is holiday (休) or working_day (班). "
            "The format is described in docs/calendar.md."
        ),
    )
    source = forms.CharField(
        label=gettext_lazy("Notice"),
        max_length=300,
        required=False,
        help_text=gettext_lazy(
            "The State Council notice the schedule comes from, if the file has no “# source:” line."
        ),
    )


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "source", "declared_by", "declared_at"]
    readonly_fields = ["declared_by", "declared_at"]
    change_list_template = "admin/cases/calendaryear/change_list.html"

    def get_urls(self):
        load = path(
            "load/",
            self.admin_site.admin_view(self.load_view),
            name="cases_calendaryear_load",
        )
        return [load, *super().get_urls()]

    def load_view(self, request):
        """Load a year's schedule from a file (the same as ``manage.py load_calendar``)."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = ScheduleForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data["file"].read(1024 * 1024)
            try:
                schedule = parse_schedule(data, source=form.cleaned_data["source"])
            except InvalidInput as exc:
                form.add_error("file", exc.message)
            else:
                counts = actions.calendar_load(schedule=schedule, actor=request.user)
                messages.success(
                    request,
                    _(
                        "Loaded the %(year)s schedule (%(source)s): %(holidays)s days off, "
                        "%(working)s weekend days worked. Open cases' deadlines recomputed: "
                        "%(moved)s moved."
                    )
                    % {
                        "year": schedule.year,
                        "source": schedule.source,
                        "holidays": schedule.holidays,
                        "working": schedule.working_days,
                        "moved": counts["moved"],
                    },
                )
                return redirect(reverse("admin:cases_calendaryear_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Load a year's holiday schedule"),
            "form": form,
        }
        return TemplateResponse(request, "admin/cases/calendaryear/load.html", context)

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
