"""Workload balancing in the admin (issue 17): officers' absences and work profiles, and
the bulk assignments supervisors applied, for reading only.

Officers declare their own absences and capacity in the workspace, and supervisors their
officers'; the admin is where an administrator corrects one. An assignment batch is a
record of what was done (each assignment is also an event): nobody edits it here.
"""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from workflows.models import Absence, AssignmentBatch, AssignmentBatchItem, WorkProfile


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):
    list_display = ["user", "starts_on", "ends_on", "note", "created_by", "created_at"]
    list_filter = ["starts_on"]
    search_fields = ["user__username", "note"]
    date_hierarchy = "starts_on"
    fields = ["user", "starts_on", "ends_on", "note", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class WorkProfileForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=capfirst(_("languages")),
        choices=WorkProfile.LANGUAGES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WorkProfile
        fields = ["user", "cases_per_day", "share", "list_types", "languages"]
        widgets = {"list_types": forms.CheckboxSelectMultiple}


@admin.register(WorkProfile)
class WorkProfileAdmin(admin.ModelAdmin):
    form = WorkProfileForm
    list_display = ["user", "cases_per_day", "share", "languages_shown", "updated_at"]
    search_fields = ["user__username"]
    list_filter = ["list_types"]
    autocomplete_fields = ["user"]

    @admin.display(description=_("languages"))
    def languages_shown(self, obj):
        names = dict(WorkProfile.LANGUAGES)
        return ", ".join(names.get(code, code) for code in obj.languages or [])


class AssignmentBatchItemInline(admin.TabularInline):
    model = AssignmentBatchItem
    extra = 0
    can_delete = False
    fields = ["task", "assignee", "reason", "event_id", "undone", "undo_refused"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AssignmentBatch)
class AssignmentBatchAdmin(admin.ModelAdmin):
    """Who applied a bulk assignment, when, to whom and why, and whether it was undone."""

    list_display = ["supervisor", "created_at", "item_count", "undone_at"]
    list_filter = ["created_at", ("undone_at", admin.EmptyFieldListFilter)]
    search_fields = ["supervisor__username", "items__assignee__username", "items__reason"]
    date_hierarchy = "created_at"
    fields = ["supervisor", "created_at", "undone_at"]
    readonly_fields = fields
    inlines = [AssignmentBatchItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_total=Count("items"))

    @admin.display(description=_("tasks assigned"), ordering="item_total")
    def item_count(self, obj):
        return obj.item_total

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
