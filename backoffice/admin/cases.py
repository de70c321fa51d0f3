"""Django admin for configuration (agencies, platforms, list types, rule sets, roles).

Cases and their events are shown read-only here: every change to a case goes
through the service layer so that it is audited. Rule set versions that a case
was accepted under cannot be edited; "Save as new version" adds the next one.
Granting an officer role to someone with a tie to a subject, or confirming a
representative who holds officer roles, is allowed but warned about: the person is
barred from that subject's cases (APL Art. 43, ``cases.access.conflict_of_interest``).
"""

import secrets

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.files.uploadedfile import UploadedFile
from django.db.models import BooleanField, ExpressionWrapper
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken as KnoxToken

from cases import access
from cases.errors import UploadRejected
from cases.models import (
    Agency,
    ApiToken,
    Appeal,
    AuditCheckpoint,
    Case,
    CaseEvent,
    CaseRecord,
    Evidence,
    ListType,
    Measure,
    Membership,
    Platform,
    Publication,
    PublicationDefault,
    Record,
    Representation,
    Revocation,
    RuleSet,
    ServiceConsent,
    StaffProfile,
    Subject,
    SubjectTie,
)
from cases.publications import publications_give
from cases.rules import rule_set_add_version
from cases.uploads import image_check
from cases.vocabulary import EventKind, event_label

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


class PublicationDefaultInline(admin.TabularInline):
    """Where the agency's records of each list type are published and shared when an
    import does not say (decision 0024)."""

    model = PublicationDefault
    extra = 0
    verbose_name = _("default platform of a list type")
    verbose_name_plural = _("default platforms per list type")


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    form = AgencyForm
    list_display = ["code", "name", "name_en", "region_code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "name_en", "region_code"]
    inlines = [PublicationDefaultInline]


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "publishes",
        "shares",
        "applies_measures",
        "webhook_url",
        "is_active",
    ]
    list_filter = ["kind", "publishes", "shares", "applies_measures", "is_active"]
    search_fields = ["code", "name", "name_en"]

    def save_model(self, request, obj, form, change):
        if not obj.webhook_secret:
            # Webhooks are signed both ways: a platform never goes without a secret.
            obj.webhook_secret = secrets.token_urlsafe(48)
        super().save_model(request, obj, form, change)


@admin.register(Measure)
class MeasureAdmin(admin.ModelAdmin):
    """The catalogue of punishment measures per list type, each with the body that
    applies it (decision 0024)."""

    list_display = [
        "code",
        "name",
        "name_en",
        "list_type",
        "applied_by",
        "applied_by_en",
        "is_default",
        "is_active",
    ]
    list_filter = ["list_type", "is_default", "is_active"]
    search_fields = ["code", "name", "name_en", "applied_by", "applied_by_en"]
    filter_horizontal = ["platforms"]


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
    filter_horizontal = ["measures"]
    inlines = [PublicationInline]
    actions = ["give_publications"]

    @admin.action(
        description=_("Give the selected records their agency's default platforms and measures")
    )
    def give_publications(self, request, queryset):
        """Records imported before they knew where they are published (decision 0024):
        each record without a publication gets its agency's defaults for its list type,
        each record without measures the catalogue's defaults."""
        created, left = publications_give(queryset.select_related(None))
        messages.info(
            request,
            gettext("%(count)d publications created.") % {"count": created},
        )
        if left:
            messages.warning(
                request,
                gettext(
                    "%(count)d records still have no platform: their agency has no default "
                    "platform for their list type (set it on the agency)."
                )
                % {"count": left},
            )

    def get_readonly_fields(self, request, obj=None):
        # A record's status is changed by decisions, never by hand.
        return ["status", "created_at", "updated_at"]


# --- conflicts of interest: who is barred from which subject's cases ----------------------------

NAMED_SUBJECTS = 10  # a warning names this many subjects, then says how many more


def _subject_names(subjects: list[Subject], more: int) -> str:
    names = pgettext("list separator", ", ").join(f"{s.name} ({s.code})" for s in subjects)
    if more:
        names += gettext(" and %(count)s more") % {"count": more}
    return names


def warn_if_tied_officer(request, user) -> None:
    """Warn that ``user``, who holds an officer role, is barred from the cases of the
    subjects they have a tie to (APL Art. 43). Says nothing when there are none."""
    tied = list(access.subjects_tied_to(user)[: NAMED_SUBJECTS + 1])
    if not tied:
        return
    more = 0
    if len(tied) > NAMED_SUBJECTS:
        more = access.subjects_tied_to(user).count() - NAMED_SUBJECTS
    messages.warning(
        request,
        gettext(
            "%(user)s has a tie to %(subjects)s (a representation, a request to act for "
            "it, an application, its company account, or a tie on record). As an officer "
            "they are barred from the cases of these subjects: they cannot take, be "
            "assigned or do any of their steps (Administrative Penalties Law, Article 43)."
        )
        % {"user": user.get_username(), "subjects": _subject_names(tied[:NAMED_SUBJECTS], more)},
    )


def _officer_agencies(user) -> list[str]:
    """The codes of the agencies where ``user`` holds an officer's role (read afresh: the
    admin has just changed them)."""
    return list(
        Agency.objects.filter(pk__in=access.agencies_of(user, *access.OFFICER_ROLES))
        .order_by("code")
        .values_list("code", flat=True)
    )


class TiedToSubjectFilter(admin.SimpleListFilter):
    """People with a tie to any subject: as officers they are barred from its cases."""

    title = _("tie to a subject")
    parameter_name = "tied"

    def lookups(self, request, model_admin):
        return [("yes", _("Has a tie to a subject")), ("no", _("No tie to any subject"))]

    def queryset(self, request, queryset):
        tied = access.with_any_tie(user_field="user_id")
        if self.value() == "yes":
            return queryset.filter(tied)
        if self.value() == "no":
            return queryset.exclude(tied)
        return queryset


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "since", "tied"]
    list_filter = ["role", "agency", TiedToSubjectFilter]
    search_fields = ["user__username", "user__email", "agency__code"]
    raw_id_fields = ["user"]
    list_select_related = ["user", "agency"]

    def get_queryset(self, request):
        # One column for every row, in the list's own query.
        return (
            super()
            .get_queryset(request)
            .annotate(
                has_tie=ExpressionWrapper(
                    access.with_any_tie(user_field="user_id"), output_field=BooleanField()
                )
            )
        )

    @admin.display(boolean=True, description=_("tie to a subject"), ordering="has_tie")
    def tied(self, obj) -> bool:
        return bool(getattr(obj, "has_tie", False))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.role in access.OFFICER_ROLES:
            warn_if_tied_officer(request, obj.user)


@admin.register(Representation)
class RepresentationAdmin(admin.ModelAdmin):
    list_display = ["user", "subject", "confirmed_at", "confirmed_by"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "subject__code", "subject__name"]
    raw_id_fields = ["user", "subject", "confirmed_by"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        agencies = _officer_agencies(obj.user)
        if agencies:
            messages.warning(
                request,
                gettext(
                    "%(user)s holds officer roles at %(agencies)s. As a representative of "
                    "%(subject)s they are barred from its cases there: they cannot take, be "
                    "assigned or do any of their steps (Administrative Penalties Law, "
                    "Article 43)."
                )
                % {
                    "user": obj.user.get_username(),
                    "agencies": pgettext("list separator", ", ").join(agencies),
                    "subject": f"{obj.subject.name} ({obj.subject.code})",
                },
            )


class TieInForceFilter(admin.SimpleListFilter):
    title = _("in force")
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", _("In force today")), ("no", _("Not in force today"))]

    def queryset(self, request, queryset):
        in_force = SubjectTie.objects.in_force(timezone.localdate()).values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=in_force)
        if self.value() == "no":
            return queryset.exclude(pk__in=in_force)
        return queryset


@admin.register(SubjectTie)
class SubjectTieAdmin(admin.ModelAdmin):
    """Ties an administrator records or an officer declared (APL Art. 43).

    A tie is ended (``valid_until``), never deleted: the record of who was barred from
    which subject's cases, and when, stays.
    """

    list_display = [
        "user",
        "subject",
        "kind",
        "valid_from",
        "valid_until",
        "in_force",
        "recorded_by",
        "recorded_at",
    ]
    list_filter = ["kind", TieInForceFilter, ("valid_until", admin.EmptyFieldListFilter)]
    search_fields = [
        "user__username",
        "user__email",
        "subject__code",
        "subject__name",
        "note",
        "recorded_by__username",
    ]
    date_hierarchy = "recorded_at"
    list_select_related = ["user", "subject", "recorded_by"]
    raw_id_fields = ["user", "subject"]
    readonly_fields = ["recorded_by", "recorded_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # who and which subject stay what was recorded
            return ["user", "subject", *self.readonly_fields]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description=_("in force today"))
    def in_force(self, obj) -> bool:
        return obj.is_in_force()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
        if obj.is_in_force() and _officer_agencies(obj.user):
            warn_if_tied_officer(request, obj.user)


class MembershipInline(admin.StackedInline):
    """Stacked, not a table: each field keeps its label (a table's columns named them only
    to the eye) and the form fits a phone (WCAG 1.3.1, 1.4.10)."""

    model = Membership
    fk_name = "user"
    extra = 0


class StaffProfileInline(admin.StackedInline):
    """The officer's legal professional qualification: a legal reviewer acts only with it
    on record (《中华人民共和国行政处罚法》第五十八条第二款)."""

    model = StaffProfile
    fk_name = "user"
    extra = 0
    max_num = 1
    can_delete = False
    fields = ["legal_qualification_no", "legal_qualification_recorded_on"]
    verbose_name = _("staff profile")


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """Officers' staff profiles: the legal qualification a legal review needs (APL Art. 58 ¶2)."""

    list_display = ["user", "legal_qualification_no", "legal_qualification_recorded_on"]
    search_fields = ["user__username", "legal_qualification_no"]
    fields = ["user", "legal_qualification_no", "legal_qualification_recorded_on", "updated_at"]
    readonly_fields = ["updated_at"]
    autocomplete_fields = ["user"]


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline, StaffProfileInline]
    # Set by the sign-in, not by hand; read-only, they are also no longer two unlabelled
    # date and time boxes each.
    readonly_fields = ["last_login", "date_joined"]
    list_filter = [*BaseUserAdmin.list_filter, "memberships__role", "memberships__agency"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        granted = [
            membership
            for formset in formsets
            if formset.model is Membership
            for membership in [*formset.new_objects, *(o for o, _f in formset.changed_objects)]
        ]
        if any(m.role in access.OFFICER_ROLES for m in granted):
            warn_if_tied_officer(request, form.instance)


# knox registers its own token model, which ours replaces (KNOX_TOKEN_MODEL).
if admin.site.is_registered(KnoxToken):
    admin.site.unregister(KnoxToken)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """People's API tokens: an administrator sees them and revokes (deletes) them; a
    token is only ever issued by a login."""

    list_display = ["prefix", "user", "created", "expiry", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "token_key"]
    fields = ["user", "prefix", "created", "expiry", "last_used_at"]
    readonly_fields = fields

    @admin.display(description=_("Token"))
    def prefix(self, token):
        return f"{token.prefix}…"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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


class RevocationInline(admin.StackedInline):
    """How a restoration was (or is proposed to be) revoked and by whom: read here,
    written only by the route."""

    model = Revocation
    extra = 0
    can_delete = False
    fields = [
        "status",
        "ground",
        "basis",
        "reasons",
        "evidence",
        "proposed_by",
        "proposed_at",
        "legal_reviewer",
        "legal_reviewed_at",
        "legal_review_note",
        "signers",
        "dropped_note",
        "revoked_by",
        "revoked_at",
        "decision_record",
        "bar_ends_on",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AppealInline(admin.TabularInline):
    """Appeals against the case's decision and their outcomes (decision 0023): read here,
    written only by the route."""

    model = Appeal
    extra = 0
    can_delete = False
    fields = [
        "kind",
        "body",
        "filed_on",
        "reference",
        "recorded_by",
        "outcome",
        "outcome_on",
        "outcome_reference",
        "outcome_note",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ServiceConsent)
class ServiceConsentAdmin(ReadOnlyAdmin):
    list_display = ["user", "case", "given_at", "withdrawn_at"]
    search_fields = ["user__username", "case__reference"]


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["reference", "kind", "subject", "agency", "status", "decision", "submitted_at"]
    list_filter = ["kind", "status", "decision", "agency", "channel"]
    search_fields = ["reference", "subject__code", "subject__name"]
    date_hierarchy = "submitted_at"
    list_select_related = ["subject", "agency"]
    inlines = [CaseRecordInline, RevocationInline, AppealInline]


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "case", "material", "source", "review_outcome", "sha256"]
    list_filter = ["source", "review_outcome", "material"]
    search_fields = ["case__reference", "sha256", "original_name"]


class EventKindFilter(admin.SimpleListFilter):
    """Events by kind, named as the vocabulary names them (the code stays searchable)."""

    title = _("What happened")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return EventKind.choices

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["case", "seq", "what", "actor_name", "actor_role", "automated", "at"]
    list_filter = [EventKindFilter, "actor_role", "automated"]
    search_fields = ["case__reference", "actor_name", "kind"]
    list_select_related = ["case"]

    @admin.display(description=_("What happened"), ordering="kind")
    def what(self, event: CaseEvent) -> str:
        return event_label(event.kind)


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["agency", "seq", "taken_at", "hash"]
    list_filter = ["agency"]
    list_select_related = ["agency"]
