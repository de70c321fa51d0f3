"""Django admin for configuration (agencies, platforms, list types, rule sets, roles).

Cases and their events are shown read-only here: every change to a case goes
through the service layer so that it is audited. Rule set versions that a case
was accepted under cannot be edited; "Save as new version" adds the next one.
"""

import secrets

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.files.uploadedfile import UploadedFile
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils.html import format_html

from cases.errors import UploadRejected
from cases.models import (
    Agency,
    Case,
    CaseEvent,
    CaseRecord,
    Evidence,
    ListType,
    Membership,
    Platform,
    Publication,
    Record,
    Representation,
    RuleSet,
    Subject,
)
from cases.rules import rule_set_add_version
from cases.uploads import image_check

User = get_user_model()


class AgencyForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ["seal"]  # the admin's form adds every other field

    def clean_seal(self):
        """A new seal is held to the evidence pixel limit: every letter decodes it."""
        seal = self.cleaned_data.get("seal")
        if isinstance(seal, UploadedFile):
            seal.seek(0)
            try:
                image_check(seal.read())
            except UploadRejected as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from None
            seal.seek(0)
        return seal


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    form = AgencyForm
    list_display = ["code", "name", "name_en", "region_code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en", "region_code"]


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "webhook_url", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name", "name_en"]

    def save_model(self, request, obj, form, change):
        if not obj.webhook_secret:
            # Webhooks are signed both ways: a platform never goes without a secret.
            obj.webhook_secret = secrets.token_urlsafe(48)
        super().save_model(request, obj, form, change)


@admin.register(ListType)
class ListTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = [
        "list_type",
        "severity",
        "agency",
        "version",
        "effective_from",
        "min_publication_months",
        "max_publication_months",
        "legal_review_required",
        "signers_required",
    ]
    list_filter = ["list_type", "severity", "agency", "legal_review_required", "signers_required"]
    search_fields = ["list_type__code", "list_type__name", "agency__code", "legal_basis", "note"]
    date_hierarchy = "effective_from"
    readonly_fields = ["version", "created_at"]
    save_as = True  # "Save as new" creates the next version instead of editing one in use

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return [f.name for f in self.model._meta.fields]
        return super().get_readonly_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False
        return super().has_delete_permission(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        in_use = obj is not None and change and obj.is_in_use()
        if in_use:
            # Nothing on the form can be saved: offer a copy as the next version instead.
            context.update(show_save=False, show_save_and_continue=False)
            context["new_version_url"] = (
                reverse("admin:cases_ruleset_add") + f"?from_version={obj.pk}"
            )
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if in_use:
            response.context_data["save_as"] = False  # super() resets it from self.save_as
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and obj.is_in_use() and request.method == "GET":
            url = reverse("admin:cases_ruleset_add") + f"?from_version={obj.pk}"
            messages.info(
                request,
                format_html(
                    "Cases were accepted under this version, so it is read-only. "
                    '<a href="{}">Start a new version from it</a>.',
                    url,
                ),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        """``?from_version=<pk>`` starts the add form as a copy of that version."""
        initial = super().get_changeform_initial_data(request)
        source = RuleSet.objects.filter(pk=request.GET.get("from_version") or None).first()
        if source is not None:
            initial.update(model_to_dict(source, exclude=["id", "version", "created_at"]))
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = {
            f.name: getattr(obj, f.name)
            for f in self.model._meta.fields
            if f.name not in {"id", "version", "created_at"}
        }
        saved = rule_set_add_version(**fields)
        obj.pk, obj.version, obj.created_at = saved.pk, saved.version, saved.created_at
        messages.info(request, f"Saved as version {saved.version} of this rule set.")


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]


class PublicationInline(admin.TabularInline):
    model = Publication
    extra = 0


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = [
        "decision_no",
        "subject",
        "list_type",
        "agency",
        "severity",
        "penalty_type",
        "listed_on",
        "restorable_from",
        "status",
    ]
    list_filter = ["status", "list_type", "severity", "penalty_type", "agency"]
    search_fields = ["decision_no", "subject__code", "subject__name"]
    date_hierarchy = "listed_on"
    list_select_related = ["subject", "list_type", "agency"]
    raw_id_fields = ["subject"]
    inlines = [PublicationInline]

    def get_readonly_fields(self, request, obj=None):
        # A record's status is changed by decisions, never by hand.
        return ["status", "created_at", "updated_at"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "since"]
    list_filter = ["role", "agency"]
    search_fields = ["user__username", "user__email", "agency__code"]
    raw_id_fields = ["user"]


@admin.register(Representation)
class RepresentationAdmin(admin.ModelAdmin):
    list_display = ["user", "subject", "confirmed_at", "confirmed_by"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "subject__code", "subject__name"]
    raw_id_fields = ["user", "subject", "confirmed_by"]


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_filter = [*BaseUserAdmin.list_filter, "memberships__role", "memberships__agency"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown for reading; changes go through the services (and leave events)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CaseRecordInline(admin.TabularInline):
    model = CaseRecord
    extra = 0
    can_delete = False
    readonly_fields = ["record", "status_before", "outcome", "correction"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["reference", "kind", "subject", "agency", "status", "decision", "submitted_at"]
    list_filter = ["kind", "status", "decision", "agency", "channel"]
    search_fields = ["reference", "subject__code", "subject__name"]
    date_hierarchy = "submitted_at"
    list_select_related = ["subject", "agency"]
    inlines = [CaseRecordInline]


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "case", "material", "source", "review_outcome", "sha256"]
    list_filter = ["source", "review_outcome", "material"]
    search_fields = ["case__reference", "sha256", "original_name"]


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["case", "seq", "kind", "actor_name", "actor_role", "automated", "at"]
    list_filter = ["kind", "actor_role", "automated"]
    search_fields = ["case__reference", "actor_name", "kind"]
    list_select_related = ["case"]
