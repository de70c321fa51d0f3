"""REST endpoints for records, cases, evidence and letters (translation only: services do the work).

Reads come from ``cases.selectors`` (scoped to the caller in the database), writes go
through ``workflows.actions`` and ``cases.transitions``. A case or letter outside the
caller's reach is 404, never 403, so its existence does not leak.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from api.conventions import ErrorSerializer, IdField, StrictCharField
from cases import access, rules, selectors
from cases.eligibility import Finding, case_eligibility, restoration_eligibility
from cases.errors import (
    InvalidIdentifier,
    InvalidInput,
    RedressError,
    UploadRejected,
    WrongState,
)
from cases.identifiers import subject_code_identify
from cases.ids import id_parse
from cases.models import (
    REVOCATION_BASIS,
    Appeal,
    Case,
    CaseEvent,
    CaseRecord,
    ClockEntry,
    Deadline,
    DecisionMeeting,
    Evidence,
    Material,
    Publication,
    PublicationEffect,
    Record,
    Revocation,
    RevocationGround,
    Role,
)
from cases.publications import case_repair
from cases.vocabulary import event_note_for_applicant, event_shown_to_applicant
from documents.models import Letter, LetterService
from documents.selectors import appeal_window, letter_services_of
from workflows import actions

IDEMPOTENCY_KEY_MAX = 64

# --- serializers ---------------------------------------------------------------------------


class PublicationSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="platform.code")

    class Meta:
        model = Publication
        fields = ["platform", "status", "published_on", "acknowledged_at"]


class RecordSerializer(serializers.ModelSerializer):
    list_type = serializers.CharField(source="list_type.code")
    subject_code = serializers.CharField(source="subject.code")
    subject_name = serializers.CharField(source="subject.name")
    agency = serializers.CharField(source="agency.code")
    publications = PublicationSerializer(many=True, read_only=True)
    periods = serializers.SerializerMethodField(
        help_text=(
            "Why restorable_from and expires_on are what they are: the articles of the "
            "version in force, whether the record is published at all, and on Credit China."
        )
    )

    class Meta:
        model = Record
        fields = [
            "id",
            "list_type",
            "subject_code",
            "subject_name",
            "agency",
            "decision_no",
            "legal_basis",
            "severity",
            "penalty_type",
            "penalty_types",
            "fine_amount",
            "procedure",
            "decided_on",
            "term_ends_on",
            "listed_on",
            "restorable_from",
            "expires_on",
            "periods",
            "status",
            "corrected_text",
            "publications",
        ]

    def get_periods(self, record) -> dict:
        # A page of records looks each rule version up once, not once per record.
        versions = self.context.setdefault("_rule_versions", {})
        key = (record.list_type_id, record.severity, record.agency_id)
        try:
            if key not in versions:
                versions[key] = rules.rule_set_for_record(record, on=timezone.localdate())
            found = rules.record_periods(record, rule_set=versions[key])
        except RedressError:
            return {"restorable_from_basis": [], "expires_on_basis": []}

        def cited(name):
            return [{"zh": c.zh, "en": c.en, **c.as_data()} for c in found.basis.get(name, ())]

        return {
            "restorable_from_basis": cited("restorable_from"),
            "expires_on_basis": cited("expires_on"),
            "published": found.published,
            "published_basis": cited("published"),
            "on_credit_china": found.on_credit_china,
            "no_early_repair": "no_early_repair" in found.notes,
        }


class CitationSerializer(serializers.Serializer):
    """One article of one instrument, as stored in the rule data and as a reader reads it."""

    instrument = serializers.CharField(help_text="e.g. ndrc36, samr107.")
    article = serializers.IntegerField()
    paragraph = serializers.IntegerField(allow_null=True)
    item = serializers.IntegerField(allow_null=True)
    zh = serializers.CharField(help_text="e.g. 《信用修复管理办法》第十二条.")
    en = serializers.CharField()


class EligibilitySerializer(serializers.Serializer):
    """Whether a record qualifies for a restoration on a day, and if not, until when and
    by which article (``cases.eligibility``). Filing is never refused for this: a
    request filed anyway is decided by the agency, with reasons."""

    record = serializers.IntegerField(source="record.pk")
    decision_no = serializers.CharField(source="record.decision_no")
    on = serializers.DateField(help_text="The day the finding is for.")
    finding = serializers.ChoiceField(
        choices=Finding.choices,
        help_text="qualifies; not_yet (from ``earliest``); barred (by ``citations``).",
    )
    earliest = serializers.DateField(
        allow_null=True, help_text="The first day a restoration may be requested, when known."
    )
    ends_on = serializers.DateField(
        allow_null=True,
        help_text="For a penalty with no early restoration: the day publication ends.",
    )
    penalty_types = serializers.ListField(
        child=serializers.CharField(), help_text="The penalty types that bar it, if barred."
    )
    basis = serializers.CharField(help_text="The rule field the finding rests on.")
    citations = CitationSerializer(many=True, help_text="The articles the finding rests on.")
    message = serializers.CharField(
        source="sentence", help_text="The finding as a sentence, in the request's language."
    )
    rule_version = serializers.CharField(source="rule_set.label")


class CaseListSerializer(serializers.ModelSerializer):
    subject_code = serializers.CharField(source="subject.code")
    subject_name = serializers.CharField(source="subject.name")
    agency = serializers.CharField(source="agency.code")

    class Meta:
        model = Case
        fields = [
            "id",
            "reference",
            "kind",
            "status",
            "decision",
            "subject_code",
            "subject_name",
            "agency",
            "submitted_at",
            "decided_at",
        ]


class DeadlineSerializer(serializers.ModelSerializer):
    computation = serializers.CharField(
        source="computation_text",
        read_only=True,
        help_text=(
            "How due_on was computed, one fact per line (skipped holidays and weekends, "
            "adjusted working days, extensions), in the language of the request: the "
            "language cookie, else Accept-Language (zh-hans, the default, or en)."
        ),
    )

    class Meta:
        model = Deadline
        fields = [
            "step",
            "status",
            "started_on",
            "working_days",
            "due_on",
            "provisional",
            "extended_days",
            "computation",
        ]


class ClockEntrySerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="deadline.step")
    # ``reason`` is the English record; ``reason_text`` says it in the caller's language.
    reason_text = serializers.CharField(read_only=True)
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    approved_by = serializers.CharField(
        source="approved_by.username", default=None, allow_null=True
    )

    class Meta:
        model = ClockEntry
        fields = [
            "step",
            "kind",
            "at",
            "actor",
            "approved_by",
            "reason",
            "reason_text",
            "days",
            "due_before",
            "due_after",
        ]


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    role = serializers.CharField(source="actor_role")

    class Meta:
        model = CaseEvent
        fields = ["seq", "kind", "at", "actor", "role", "automated", "note", "hash"]


class EvidenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Evidence
        fields = [
            "id",
            "material",
            "record",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "source",
            "monitoring_device",
            "monitoring_location",
            "monitoring_approval_ref",
            "monitoring_approval_on",
            "uploaded_at",
            "review_outcome",
            "review_reason",
            "reviewed_at",
        ]


class CaseRecordOutcomeSerializer(serializers.ModelSerializer):
    """A record of the case, with what the case decided about it."""

    record = RecordSerializer()

    class Meta:
        model = CaseRecord
        fields = ["record", "outcome", "reason", "correction"]


class CurrentStepSerializer(serializers.Serializer):
    task = serializers.IntegerField(help_text="The task's id under /api/v1/tasks/.")
    step = serializers.CharField(help_text="e.g. acceptance_check, evidence_review, sign_off.")
    status = serializers.CharField()
    owner = serializers.CharField(allow_null=True, help_text="Who holds the task, if anyone.")


class DecisionMeetingSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    held_on = serializers.DateField()
    participants = serializers.SerializerMethodField()
    minutes_name = serializers.CharField()
    minutes_sha256 = serializers.CharField()

    def get_participants(self, meeting) -> list[str]:
        return [p.get_username() for p in meeting.participants.all()]


class RevocationSerializer(serializers.ModelSerializer):
    """A revocation proposed or in effect: why, the evidence ids behind it, who proposed,
    reviewed and signed it, and (in effect) the published decision and the bar's end."""

    evidence = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Ids of the evidence items (in ``evidence``)."
    )
    proposed_by = serializers.CharField(
        source="proposed_by.get_username", default=None, allow_null=True
    )
    legal_reviewer = serializers.CharField(
        source="legal_reviewer.get_username", default=None, allow_null=True
    )
    signers = serializers.SerializerMethodField()
    decision_record = serializers.CharField(
        source="decision_record.decision_no",
        default=None,
        allow_null=True,
        help_text="The revocation decision as published (a record of its own).",
    )
    published_until = serializers.DateField(
        source="decision_record.expires_on", default=None, allow_null=True
    )

    class Meta:
        model = Revocation
        fields = [
            "status",
            "ground",
            "basis",
            "reasons",
            "proposed_by",
            "proposed_at",
            "legal_reviewer",
            "legal_reviewed_at",
            "signers",
            "revoked_at",
            "evidence",
            "decision_record",
            "published_until",
            "bar_ends_on",
        ]

    def get_signers(self, revocation) -> list[str]:
        return [user.get_username() for user in revocation.signers.order_by("username")]


class LetterServiceSerializer(serializers.ModelSerializer):
    letter = serializers.CharField(source="letter.code_display")
    letter_kind = serializers.CharField(source="letter.kind")
    recorded_by = serializers.CharField(
        source="recorded_by.get_username",
        default=None,
        allow_null=True,
        help_text="The officer who recorded it; null: the applicant opened it in the portal.",
    )
    consent_given_at = serializers.DateTimeField(
        source="consent.given_at", default=None, allow_null=True
    )

    class Meta:
        model = LetterService
        fields = [
            "letter",
            "letter_kind",
            "method",
            "served_on",
            "receipt_by",
            "tracking_number",
            "address",
            "note",
            "consent_given_at",
            "recorded_by",
            "recorded_at",
        ]


class AppealPeriodSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Appeal.Kind.choices)
    ends_on = serializers.DateField()
    basis = serializers.CharField(help_text="The article, in Chinese.")
    basis_en = serializers.CharField()


class AppealWindowSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["no_letter", "not_served", "open", "ended"],
        help_text="not_served: the decision letter is stored but not served, so the window "
        "has not started.",
    )
    letter = serializers.CharField(allow_null=True)
    served_on = serializers.DateField(allow_null=True)
    service_method = serializers.CharField(allow_null=True)
    ends_on = serializers.DateField(allow_null=True)
    periods = AppealPeriodSerializer(many=True)


class AppealSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.get_username")
    records = serializers.PrimaryKeyRelatedField(
        many=True,
        read_only=True,
        source="changed_records",
        help_text="The records a change concerns (ids); empty otherwise.",
    )

    class Meta:
        model = Appeal
        fields = [
            "id",
            "kind",
            "body",
            "filed_on",
            "reference",
            "recorded_by",
            "recorded_at",
            "outcome",
            "outcome_on",
            "outcome_reference",
            "outcome_note",
            "records",
        ]


class AppealCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Appeal.Kind.choices)
    body = StrictCharField(max_length=200, help_text="The reconsideration body or the court.")
    filed_on = serializers.DateField()
    reference = StrictCharField(required=False, allow_blank=True, max_length=100)


class AppealOutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=Appeal.Outcome.choices, help_text="Any but pending (an empty string)."
    )
    decided_on = serializers.DateField()
    reference = StrictCharField(required=False, allow_blank=True, max_length=100)
    note = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="What was decided; required for a change (what the decision now says).",
    )
    records = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="For a change: the ids of the case's records it concerns (at least one "
        "where the decision was an approval); only those are published again or withdrawn.",
    )


class LetterServiceCreateSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=[c for c in LetterService.Method.choices if c[0] != LetterService.Method.PORTAL],
        help_text="Service in the portal is recorded when the applicant opens the letter.",
    )
    served_on = serializers.DateField()
    receipt_by = StrictCharField(required=False, allow_blank=True, max_length=200)
    tracking_number = StrictCharField(required=False, allow_blank=True, max_length=60)
    address = StrictCharField(required=False, allow_blank=True, max_length=300)
    note = StrictCharField(required=False, allow_blank=True, max_length=2000)


class RuleFigureSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The rule field, e.g. acceptance_days.")
    name = serializers.CharField()
    value = serializers.IntegerField()
    text = serializers.CharField(help_text="The figure with its unit, e.g. 7 working days.")
    citation = serializers.CharField(help_text="The article it comes from.")


class RuleVersionSerializer(serializers.Serializer):
    # ``label`` is the version's code (for machines); ``title`` names it for a reader, in
    # the request's language.
    label = serializers.CharField()
    title = serializers.CharField()
    instrument = serializers.CharField()
    instrument_title = serializers.CharField()
    effective_from = serializers.DateField()
    effective_until = serializers.DateField(allow_null=True)
    figures = RuleFigureSerializer(many=True)


class RepairEffectSerializer(serializers.Serializer):
    effect = serializers.IntegerField(help_text="The id a platform acknowledges it by.")
    kind = serializers.ChoiceField(choices=PublicationEffect.Kind.choices)
    measure = serializers.CharField(
        allow_null=True, help_text="The measure's code for measure_lifted; null otherwise."
    )
    what = serializers.CharField(help_text="The effect in plain words.")
    state = serializers.ChoiceField(
        choices=["requested", "acknowledged", "overdue"],
        help_text="requested (asked, within its deadline), acknowledged, or overdue (asked, "
        "its deadline passed: 3 working days after the decision, APL Art. 48).",
    )
    requested_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    due_on = serializers.DateField(
        allow_null=True,
        help_text="The effect's own due date: the rule's working days (3, APL Art. 48) from "
        "the day it was asked; null where no rule sets one.",
    )
    overdue_since = serializers.DateField(
        allow_null=True, help_text="The due date it passed, while it is overdue; null otherwise."
    )
    escalated_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was brought to the supervisors as overdue."
    )
    words = serializers.CharField(help_text="Where it stands, in plain words.")


class RepairPlatformSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    decision_no = serializers.CharField()
    publication = serializers.IntegerField()
    platform = serializers.CharField(help_text="The platform's code.")
    platform_name = serializers.CharField()
    effects = RepairEffectSerializer(many=True)


class CaseDetailSerializer(CaseListSerializer):
    records = CaseRecordOutcomeSerializer(many=True, read_only=True, source="case_records")
    current_steps = serializers.SerializerMethodField()
    deadlines = DeadlineSerializer(many=True, read_only=True)
    clock = ClockEntrySerializer(many=True, read_only=True, source="clock_entries")
    timeline = serializers.SerializerMethodField()
    evidence = EvidenceSerializer(many=True, read_only=True)
    rule_version = serializers.CharField(source="rule_set.label", default=None, allow_null=True)
    rule_version_detail = RuleVersionSerializer(
        source="rule_version",
        read_only=True,
        allow_null=True,
        help_text=(
            "The version the case was accepted under: its instrument (title and number), "
            "dates, and each figure the case runs on with the article it comes from."
        ),
    )
    revocation = serializers.SerializerMethodField(
        help_text="Null unless a revocation of the restoration is in effect or (to the "
        "agency's officers) proposed."
    )
    eligibility = serializers.SerializerMethodField()
    legal_review_grounds = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The grounds of APL Art. 58(1) the case officer recorded (empty: none).",
    )
    meetings = DecisionMeetingSerializer(
        many=True, read_only=True, help_text="Collective decision meetings (APL Art. 57)."
    )
    service = serializers.SerializerMethodField(
        help_text="How each letter was served, when, and the receipt (decision 0023)."
    )
    appeal_window = serializers.SerializerMethodField(
        help_text="The appeal window, from the service of the decision's letter."
    )
    appeals = AppealSerializer(many=True, read_only=True)
    repair = serializers.SerializerMethodField(
        help_text="What the decision asked of each platform, per record and per effect "
        "(publication ended, sharing stopped, each measure lifted: Order 36 Art. 3), and "
        "where each stands (decision 0024). Empty before a decision that withdraws records."
    )

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "legal_review_grounds",
            "meetings",
            "grounds",
            "channel",
            "language",
            "missing_materials",
            "decision_reasons",
            "rule_version",
            "rule_version_detail",
            "records",
            "current_steps",
            "deadlines",
            "clock",
            "timeline",
            "evidence",
            "revocation",
            "eligibility",
            "lifted_measures",
            "service",
            "appeal_window",
            "appeals",
            "repair",
        ]

    @extend_schema_field(RepairPlatformSerializer(many=True))
    def get_repair(self, case) -> list[dict]:
        return RepairPlatformSerializer(case_repair(case), many=True).data

    @extend_schema_field(LetterServiceSerializer(many=True))
    def get_service(self, case) -> list[dict]:
        return LetterServiceSerializer(letter_services_of(case), many=True).data

    @extend_schema_field(AppealWindowSerializer)
    def get_appeal_window(self, case) -> dict:
        return appeal_window(case).as_data()

    @extend_schema_field(EligibilitySerializer(many=True))
    def get_eligibility(self, case) -> list[dict]:
        """For a restoration: what the rules say of each record on the day it was filed,
        as the acceptance check reads it (empty for an objection)."""
        try:
            findings = case_eligibility(case)
        except RedressError:  # no rule version in force: the case says so elsewhere
            return []
        return EligibilitySerializer(findings, many=True).data

    @extend_schema_field(RevocationSerializer(allow_null=True))
    def get_revocation(self, case) -> dict | None:
        """A proposal is deliberated inside the agency: the applicant's side reads the
        revocation once it is in effect."""
        revocation = case.revocation
        if revocation is None:
            return None
        request = self.context.get("request")
        officer = request is not None and access.roles_at(request.user, case.agency_id)
        if revocation.status != Revocation.Status.REVOKED and not officer:
            return None
        return RevocationSerializer(revocation).data

    @extend_schema_field(EventSerializer(many=True))
    def get_timeline(self, case) -> list[dict]:
        """Officers and auditors read the whole trail; the applicant's side reads what
        the vocabulary shows an applicant (``cases.vocabulary``), with officers named by
        role only and the officers' working notes left out."""
        events = EventSerializer(case.events.all(), many=True).data
        request = self.context.get("request")
        if request is not None and access.roles_at(request.user, case.agency_id):
            return events
        shown = [event for event in events if event_shown_to_applicant(event["kind"])]
        for event in shown:
            if event["role"] not in {"applicant", "system", "platform"}:
                event["actor"] = ""
            if not event_note_for_applicant(event["kind"]):
                event["note"] = ""
        return shown

    @extend_schema_field(CurrentStepSerializer(many=True))
    def get_current_steps(self, case) -> list[dict]:
        """The steps open now: a person's task, or the applicant's (``await_materials``)."""
        return [
            {
                "task": t.pk,
                "step": t.flow_task.name,
                "status": t.status,
                "owner": t.owner.get_username() if t.owner_id else None,
            }
            for t in actions.open_tasks(case)
            if t.flow_task_type == "HUMAN" or t.flow_task.name.startswith("await_")
        ]


# What a subject code looks like: 18 characters of the USCC alphabet (a resident ID's
# digits and X are in it), letters in either case. The check characters, the region
# and the date of birth are checked by cases.identifiers, which names what is wrong.
SUBJECT_CODE_PATTERN = "^[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{18}$"
SUBJECT_CODE_SCHEMA = {
    "type": "string",
    "minLength": 18,
    "maxLength": 18,
    "pattern": SUBJECT_CODE_PATTERN,
    "description": "A Unified Social Credit Code or a resident ID number (18 characters). "
    "A code of this shape whose check characters fail is refused with 400 naming the "
    "wrong character.",
}


def subject_code_checked(value: str) -> str:
    """The normalised code, or InvalidIdentifier naming what is wrong with it (field
    ``subject_code``). Computed from the code alone: it reveals nothing about who exists.

    Exactly the schema's shape: spaces around a code are refused too, not trimmed."""
    try:
        code = subject_code_identify(value)[0]
    except InvalidIdentifier as error:
        error.field = "subject_code"
        raise
    if not re.fullmatch(SUBJECT_CODE_PATTERN, value):
        raise InvalidIdentifier(
            _("Send the code's 18 characters without spaces around them."),
            code="character",
            field="subject_code",
        )
    return code


@extend_schema_field(SUBJECT_CODE_SCHEMA)
class SubjectCodeField(StrictCharField):
    """A subject code in a body; what is wrong with a bad one is named by the identifier
    checks (``subject_code_checked``), with the error code they give."""

    def __init__(self, **kwargs):
        # The lengths are for the schema: a code of another length is refused first,
        # by the identifier checks, with their message.
        super().__init__(trim_whitespace=False, min_length=18, max_length=18, **kwargs)

    def to_internal_value(self, data):
        return subject_code_checked(super().to_internal_value(data))


class SubjectCodeFormField(forms.CharField):
    """A subject code in a filter: normalised, or 400 naming what is wrong with it."""

    def __init__(self, **kwargs):
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            return subject_code_checked(value)
        except InvalidIdentifier as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@extend_schema_field(SUBJECT_CODE_SCHEMA)
class SubjectCodeFilter(filters.CharFilter):
    field_class = SubjectCodeFormField


class CaseCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Case.Kind.choices)
    subject_code = SubjectCodeField()
    record_ids = serializers.ListField(child=IdField(), min_length=1, max_length=100)
    grounds = StrictCharField(max_length=10_000)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)


# Who may say where an uploaded item comes from: the applicant's side, or an officer's
# (a platform's evidence arrives by its own callback, never by this endpoint).
UPLOAD_SOURCES = [
    (value, label) for value, label in Evidence.Source.choices if value != Evidence.Source.PLATFORM
]
# The device facts of an item from electronic monitoring (APL Art. 41), as the API and
# ``Evidence`` name them, and as ``workflows.actions.evidence_add`` takes them.
MONITORING_FIELDS = {
    "monitoring_device": "device",
    "monitoring_location": "location",
    "monitoring_approval_ref": "approval_ref",
    "monitoring_approval_on": "approval_on",
}


class EvidenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="PDF, PNG or JPEG (decided by the content).")
    material = serializers.ChoiceField(choices=Material.choices, default=Material.OTHER)
    record = IdField(required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=2000)
    source = serializers.ChoiceField(
        choices=UPLOAD_SOURCES,
        default=Evidence.Source.APPLICANT,
        help_text="applicant (default): the applicant or a representative of the subject; "
        "officer or electronic_monitoring: a case officer of the case's agency. An item from "
        "electronic monitoring names its device and the device's legal and technical "
        "approval (the four monitoring_* fields, all required: APL Art. 41); the party is "
        "then told of it through the outbox and given the rule set's period to state its "
        "case and defend, and the sign-off waits for it.",
    )
    monitoring_device = StrictCharField(
        required=False, max_length=120, help_text="The device's number or name."
    )
    monitoring_location = StrictCharField(
        required=False, max_length=300, help_text="Where the device is set up."
    )
    monitoring_approval_ref = StrictCharField(
        required=False,
        max_length=120,
        help_text="Reference of the device's legal and technical approval (法制和技术审核).",
    )
    monitoring_approval_on = serializers.DateField(
        required=False, help_text="Date of that approval (YYYY-MM-DD), not in the future."
    )

    def validate(self, data):
        given = [name for name in MONITORING_FIELDS if name in data]
        if given and data["source"] != Evidence.Source.ELECTRONIC_MONITORING:
            raise serializers.ValidationError(
                {
                    given[0]: _(
                        "Only an item from electronic monitoring names a device: set source "
                        "to electronic_monitoring, or leave the device fields out."
                    )
                }
            )
        return data

    def monitoring(self) -> dict | None:
        """The device facts as ``evidence_add`` takes them; None unless from monitoring."""
        data = self.validated_data
        if data["source"] != Evidence.Source.ELECTRONIC_MONITORING:
            return None
        return {key: data.get(name) for name, key in MONITORING_FIELDS.items()}


class DecisionMeetingRequestSerializer(serializers.Serializer):
    held_on = serializers.DateField(help_text="The day of the meeting (YYYY-MM-DD), not later.")
    participants = serializers.ListField(
        child=StrictCharField(max_length=150),
        min_length=1,
        max_length=50,
        help_text="Usernames of the agency's heads and officers who took part (at least "
        "two), one part each.",
    )
    minutes = serializers.FileField(
        help_text="The signed minutes (PDF, PNG or JPEG, decided by the content)."
    )
    note = StrictCharField(required=False, allow_blank=True, max_length=2000)


class RevocationRequestSerializer(serializers.Serializer):
    ground = serializers.ChoiceField(
        choices=RevocationGround.choices,
        help_text="The conduct the rules name, each with its articles: "
        + "; ".join(f"{code}: {basis}" for code, basis in REVOCATION_BASIS.items())
        + ".",
    )
    reasons = StrictCharField(
        max_length=5000, help_text="What was found, written to the applicant (the letter)."
    )
    evidence = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=Revocation.EVIDENCE_MAX,
        help_text="One part per file (PDF, PNG or JPEG, decided by the content), each kept "
        "as the official's evidence of the case; the files together at most "
        "REDRESS_UPLOAD_MAX_BYTES.",
    )


class StatementSerializer(serializers.Serializer):
    statement = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=10000,
        help_text="The party's statement and defence (陈述、申辩); required unless waived.",
    )
    waived = serializers.BooleanField(
        required=False,
        default=False,
        help_text="True: the party expressly waives its statement (APL Art. 62).",
    )


class PlanFailureSerializer(serializers.Serializer):
    reasons = StrictCharField(
        max_length=5000, help_text="What the court ruled, written to the applicant."
    )
    ruling = serializers.FileField(
        help_text="The court's ruling terminating the reorganisation plan or composition "
        "agreement (PDF, PNG or JPEG, decided by the content)."
    )


class RevocationReviewSerializer(serializers.Serializer):
    passed = serializers.BooleanField(
        help_text="True: on to the signing officials; false: the revocation is not pursued."
    )
    note = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="The legal review's note; required when it does not pass.",
    )


class RevocationSignSerializer(serializers.Serializer):
    agree = serializers.BooleanField(
        default=True, help_text="True: sign; false: decline (the revocation is not pursued)."
    )
    note = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Required when declining.",
    )


class ReasonSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=2000)


class NoteSerializer(serializers.Serializer):
    note = StrictCharField(required=False, allow_blank=True, max_length=5000)


class LetterSerializer(serializers.ModelSerializer):
    pdf = serializers.SerializerMethodField()
    verification_code = serializers.CharField(source="code_display")

    class Meta:
        model = Letter
        fields = [
            "id",
            "kind",
            "language",
            "status",
            "issued_at",
            "verification_code",
            "document_number",
            "rule_version",
            "sha256",
            "size",
            "pdf",
        ]

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_pdf(self, letter) -> str | None:
        """Where to download the PDF, once the letter is issued (null before)."""
        if letter.status != Letter.Status.ISSUED or not letter.pdf:
            return None
        address = f"/api/v1/cases/{letter.case_id}/letters/{letter.pk}/pdf/"
        request = self.context.get("request")
        return request.build_absolute_uri(address) if request is not None else address


# --- filters ---------------------------------------------------------------------------------


class RecordFilter(filters.FilterSet):
    subject_code = SubjectCodeFilter(field_name="subject__code")
    list_type = filters.CharFilter(field_name="list_type__code")
    status = filters.ChoiceFilter(choices=Record.Status.choices)

    class Meta:
        model = Record
        fields = ["subject_code", "list_type", "status"]


class CaseFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Case.Status.choices)
    kind = filters.ChoiceFilter(choices=Case.Kind.choices)
    reference = filters.CharFilter()
    subject_code = SubjectCodeFilter(field_name="subject__code")

    class Meta:
        model = Case
        fields = ["status", "kind", "reference", "subject_code"]


class LetterFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Letter.Kind.choices)
    language = filters.ChoiceFilter(choices=settings.LANGUAGES)
    status = filters.ChoiceFilter(choices=Letter.Status.choices)

    class Meta:
        model = Letter
        fields = ["kind", "language", "status"]


# --- views ---------------------------------------------------------------------------------

CASE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The case's id.")


class RecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Records an entity's subjects are on, or an officer's (or auditor's) agency made."""

    serializer_class = RecordSerializer
    filterset_class = RecordFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Record.objects.none()
        return selectors.records_for(self.request.user).prefetch_related(
            Prefetch("publications", queryset=Publication.objects.select_related("platform"))
        )

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"])
        record = self.get_queryset().filter(pk=pk).first()
        if record is None:
            raise Http404("No such record.")
        return record

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Record id.")]
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Record id.")],
        responses={200: EligibilitySerializer},
    )
    @action(detail=True, methods=["get"])
    def eligibility(self, request, pk=None):
        """Whether the record qualifies for a restoration today: ``qualifies``, ``not_yet``
        with the earliest date, or ``barred``, each with the articles it rests on. Ask
        before filing; a restoration filed anyway becomes a case all the same, and the
        agency decides it with reasons (《信用修复管理办法》第十六条)."""
        record = self.get_object()
        finding = restoration_eligibility(record, on=timezone.localdate())
        return Response(EligibilitySerializer(finding).data)


def _id_or_404(value) -> int:
    """A path id as an int; anything malformed or out of range is simply not found."""
    pk = id_parse(value)
    if pk is None:
        raise Http404("Not found.")
    return pk


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Objections and restoration requests the caller may see, and what the applicant does."""

    filterset_class = CaseFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        return selectors.cases_for(self.request.user)

    def get_serializer_class(self):
        return CaseDetailSerializer if self.action == "retrieve" else CaseListSerializer

    def get_object(self):
        case = selectors.case_for(self.request.user, _id_or_404(self.kwargs["pk"]))
        if self.action == "retrieve":
            case = _case_with_detail(case.pk)
        return case

    @extend_schema(parameters=[CASE_ID])
    def retrieve(self, request, *args, **kwargs):
        """The case: status, current steps, deadlines (with how each was computed), the
        clock ledger, the timeline, the records and the evidence."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer, 200: CaseDetailSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
                OpenApiParameter.HEADER,
                description="Repeat a submission safely: the same key returns the case "
                "already filed (200) instead of filing a second one (201).",
            )
        ],
    )
    def create(self, request):
        """File an objection, a restoration request or a request for temporary restoration
        during reorganisation (``reorganisation``, with the court's ruling uploaded as
        ``court_ruling`` evidence) for a subject the caller acts for."""
        body = CaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise InvalidInput(
                _("An Idempotency-Key has at most %(max)s characters.")
                % {"max": IDEMPOTENCY_KEY_MAX},
                field="Idempotency-Key",
            )
        code = data["subject_code"]  # checked and normalised by SubjectCodeField
        subject = selectors.subjects_for(request.user).filter(code=code).first()
        if subject is None:
            raise InvalidInput(
                _("You do not act for a subject with that code."), field="subject_code"
            )
        records = list(Record.objects.filter(pk__in=data["record_ids"], subject=subject))
        if len(records) != len(set(data["record_ids"])):
            raise InvalidInput(
                _("Some record ids are not records of this subject."), field="record_ids"
            )
        repeated = bool(key) and (
            Case.objects.filter(applicant=request.user, idempotency_key=key).exists()
        )
        case = actions.case_submit(
            kind=data["kind"],
            subject=subject,
            records=records,
            grounds=data["grounds"],
            applicant=request.user,
            channel=Case.Channel.API,
            language=data.get("language"),
            idempotency_key=key,
        )
        return Response(
            CaseDetailSerializer(_case_with_detail(case.pk), context={"request": request}).data,
            status=status.HTTP_200_OK if repeated else status.HTTP_201_CREATED,
        )

    @extend_schema(
        request={"multipart/form-data": EvidenceUploadSerializer},
        responses={201: EvidenceSerializer},
        parameters=[CASE_ID],
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def evidence(self, request, pk=None):
        """Upload one evidence file (multipart): checked by content, stored with its SHA-256.

        The applicant's by default; a case officer's with ``source`` ``officer``, or
        ``electronic_monitoring`` with the device and its legal and technical approval
        (APL Art. 41: 400 naming the missing ``monitoring_*`` field). An item from
        electronic monitoring tells the party through the outbox and starts its period to
        state its case and defend (``statement`` on the clock; ``POST …/statement/``)."""
        case = self.get_object()
        body = EvidenceUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = None
        if data.get("record") is not None:
            record = case.records.filter(pk=data["record"]).first()
            if record is None:
                raise InvalidInput(_("That record is not part of this case."), field="record")
        try:
            item = actions.evidence_add(
                case=case,
                uploaded_by=request.user,
                upload=data["file"],
                material=data["material"],
                record=record,
                source=data["source"],
                description=data.get("description", ""),
                monitoring=body.monitoring(),
            )
        except UploadRejected as exc:
            exc.field = exc.field or "file"
            raise
        return Response(EvidenceSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": DecisionMeetingRequestSerializer},
        responses={201: DecisionMeetingSerializer},
        parameters=[CASE_ID],
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def meeting(self, request, pk=None):
        """Record the collective decision meeting of the case's sign-off round (APL Art. 57
        ¶2): a signing official of the case's agency with no tie to the subject, while the
        case waits for sign-off and its rules call for a collective decision; once per
        round. Multipart: ``held_on``, one ``participants`` part per username (people of
        the agency, at least two), the ``minutes`` file (checked like evidence) and a
        ``note``. Who may not record it is told so (403) before the body is read; a case
        whose rules ask for none (409 ``no_collective_decision``), not at sign-off (409
        ``wrong_state``) or with its meeting on record (409 ``meeting_recorded``)
        likewise; a bad field is 400 naming it. The signers may sign once it is on record."""
        case = self.get_object()
        access.ensure_officer(
            request.user, Role.SIGNER, case, action=_("record a decision meeting")
        )
        body = DecisionMeetingRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        names = set(data["participants"])
        people = list(access.people_holding(at=case.agency_id).filter(username__in=names))
        unknown = sorted(names - {person.get_username() for person in people})
        if unknown:
            raise InvalidInput(
                _("%(people)s do not work at %(agency)s.")
                % {"people": ", ".join(unknown), "agency": case.agency.code},
                field="participants",
            )
        try:
            meeting = actions.meeting_record(
                case=case,
                signer=request.user,
                held_on=data["held_on"],
                participants=people,
                minutes=data["minutes"],
                note=data.get("note", ""),
            )
        except UploadRejected as exc:
            exc.field = exc.field or "minutes"
            raise
        return Response(DecisionMeetingSerializer(meeting).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=StatementSerializer, responses={200: CaseListSerializer}, parameters=[CASE_ID]
    )
    @action(detail=True, methods=["post"])
    def statement(self, request, pk=None):
        """The party states its case and defends (陈述、申辩) on evidence from electronic
        monitoring it was told of, or expressly waives it (APL Arts. 41, 45, 62): the
        applicant or a representative of the subject, while the period runs (409
        ``no_statement_period`` otherwise)."""
        body = StatementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = actions.case_statement(
            case=self.get_object(),
            applicant=request.user,
            statement=body.validated_data.get("statement", ""),
            waived=body.validated_data.get("waived", False),
        )
        return Response(CaseListSerializer(case).data)

    @extend_schema(
        request=ReasonSerializer, responses={200: CaseListSerializer}, parameters=[CASE_ID]
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Withdraw an undecided case (the applicant or a representative of the subject)."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = actions.case_withdraw(
            case=self.get_object(),
            applicant=request.user,
            reason=body.validated_data.get("reason", ""),
        )
        return Response(CaseListSerializer(case).data)

    @extend_schema(
        request={"multipart/form-data": RevocationRequestSerializer},
        responses={200: CaseDetailSerializer},
        parameters=[CASE_ID],
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def revoke(self, request, pk=None):
        """Propose to revoke an approved restoration (a signing official of the case's
        agency). Nothing changes on the records yet: a legal reviewer of the agency who
        did not propose it reviews it (``revocation/review/``), then the rule set's
        number of signing officials sign it, not the proposer alone
        (``revocation/sign/``); with the last signature the records are published again
        on every platform, the revocation decision is published and the applicant is told.

        Multipart, with the ``ground``, the ``reasons`` and one ``evidence`` part per
        file, uploaded here with the proposal. Who may not propose is told so (403)
        before anything is read, and a case that is not an approved restoration
        (409 ``not_revocable``), no longer in a revocable state (409 ``wrong_state``) or
        with a revocation already proposed (409 ``revocation_pending``) likewise; a
        missing ground, reasons or evidence, or a refused file, is 400 naming the field."""
        case = self.get_object()
        refusal = rules.revocation_refusal(case, request.user)
        if refusal is not None:
            raise refusal
        body = RevocationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        actions.case_revocation_propose(
            case=case,
            official=request.user,
            ground=data["ground"],
            reasons=data["reasons"],
            evidence=data["evidence"],
        )
        return Response(
            CaseDetailSerializer(_case_with_detail(case.pk), context={"request": request}).data
        )

    @extend_schema(
        request={"multipart/form-data": PlanFailureSerializer},
        responses={200: CaseDetailSerializer},
        parameters=[CASE_ID],
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser], url_path="plan-failed")
    def plan_failed(self, request, pk=None):
        """Record that the court terminated the plan of a granted temporary restoration (a
        case officer of the case's agency), with the ``reasons`` and the court's
        ``ruling``: the shielded records are published again, each platform asked and
        acknowledging (《信用修复管理办法》第二十条第二款, 《市场监督管理信用修复管理办法》
        第二十二条第三款). 403 for anyone else, 409 for a case that is not a granted
        temporary restoration or has no record shielded any more."""
        case = self.get_object()
        body = PlanFailureSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = actions.case_plan_fail(
            case=case,
            officer=request.user,
            reasons=body.validated_data["reasons"],
            ruling=body.validated_data["ruling"],
        )
        return Response(
            CaseDetailSerializer(_case_with_detail(case.pk), context={"request": request}).data
        )

    @extend_schema(
        request=RevocationReviewSerializer,
        responses={200: CaseDetailSerializer},
        parameters=[CASE_ID],
    )
    @action(detail=True, methods=["post"], url_path="revocation/review")
    def revocation_review(self, request, pk=None):
        """Legal review of a proposed revocation (a legal reviewer of the agency who did
        not propose it): passed, it goes to the signing officials; not passed, with the
        reasons in ``note``, it is not pursued. 403 for who may not, 409
        ``no_revocation`` where none waits for a legal review."""
        case = self.get_object()
        body = RevocationReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actions.case_revocation_review(
            case=case,
            reviewer=request.user,
            passed=body.validated_data["passed"],
            note=body.validated_data.get("note", ""),
        )
        return Response(
            CaseDetailSerializer(_case_with_detail(case.pk), context={"request": request}).data
        )

    @extend_schema(
        request=RevocationSignSerializer,
        responses={200: CaseDetailSerializer},
        parameters=[CASE_ID],
    )
    @action(detail=True, methods=["post"], url_path="revocation/sign")
    def revocation_sign(self, request, pk=None):
        """Sign (or decline, ``agree`` false, with a ``note``) a revocation that passed its
        legal review (a signing official of the agency, not its legal reviewer, once).
        It takes effect with the rule set's ``signers_required`` signatures, at least one
        not the proposer's. 403 for who may not (``four_eyes``, ``already_signed``), 409
        ``no_revocation`` where none waits for signatures."""
        case = self.get_object()
        body = RevocationSignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actions.case_revocation_sign(
            case=case,
            signer=request.user,
            agree=body.validated_data["agree"],
            note=body.validated_data.get("note", ""),
        )
        return Response(
            CaseDetailSerializer(_case_with_detail(case.pk), context={"request": request}).data
        )

    @extend_schema(
        request=AppealCreateSerializer, responses={201: AppealSerializer}, parameters=[CASE_ID]
    )
    @action(detail=True, methods=["post"])
    def appeals(self, request, pk=None):
        """Record an appeal against the case's decision (the applicant, a representative of
        the subject, or a case officer of the agency): administrative reconsideration or
        a suit, or, for the court's list, reconsideration by the higher court; the body or
        court, the date it was filed (not in the future) and its reference. 409
        ``appeal_pending`` while one of the same kind awaits its outcome."""
        body = AppealCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        appeal = actions.appeal_record(
            case=self.get_object(),
            by=request.user,
            kind=data["kind"],
            body=data["body"],
            filed_on=data["filed_on"],
            reference=data.get("reference", ""),
        )
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AppealOutcomeSerializer,
        responses={200: AppealSerializer},
        parameters=[
            CASE_ID,
            OpenApiParameter("appeal_pk", int, OpenApiParameter.PATH, description="Appeal id."),
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"appeals/(?P<appeal_pk>[^/.]+)/outcome")
    def appeal_outcome(self, request, pk=None, appeal_pk=None):
        """Record the outcome of an appeal. ``revoked``, ``changed`` or ``unlawful``: every
        platform is asked to withdraw the published decision (after an approval: to publish
        the records again) within 3 working days (APL Art. 48), each acknowledging like any
        withdrawal. ``changed`` names the ``records`` it concerns (required after an
        approval); only those are published again. 409 ``appeal_decided`` if the outcome
        is already recorded."""
        case = self.get_object()
        appeal = case.appeals.filter(pk=_id_or_404(appeal_pk)).first()
        if appeal is None:
            raise Http404("No such appeal.")
        body = AppealOutcomeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        appeal = actions.appeal_outcome_record(
            appeal=appeal,
            by=request.user,
            outcome=data["outcome"],
            decided_on=data["decided_on"],
            reference=data.get("reference", ""),
            note=data.get("note", ""),
            records=data.get("records") or None,
        )
        return Response(AppealSerializer(appeal).data)

    @extend_schema(request=None, responses={200: CaseDetailSerializer}, parameters=[CASE_ID])
    @action(detail=True, methods=["post"], url_path="service-consent")
    def service_consent(self, request, pk=None):
        """The applicant consents to electronic service of this case's letters (SAMR Order
        107 Art. 19): from then on, downloading a letter serves it."""
        case = self.get_object()
        actions.case_service_consent(case=case, applicant=request.user)
        return Response(
            CaseDetailSerializer(_case_with_detail(case.pk), context={"request": request}).data
        )

    @extend_schema(
        request=NoteSerializer, responses={200: CaseListSerializer}, parameters=[CASE_ID]
    )
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        """Answer a request for missing materials (upload them first)."""
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = actions.case_resubmit(
            case=self.get_object(), applicant=request.user, note=body.validated_data.get("note", "")
        )
        return Response(CaseListSerializer(case).data)


def _case_with_detail(pk: int) -> Case:
    """The case with everything its detail shows, each relation read in one query."""
    return (
        Case.objects.select_related("subject", "agency", "rule_set__list_type")
        .prefetch_related(
            Prefetch("deadlines", queryset=Deadline.objects.order_by("created_at", "id")),
            Prefetch(
                "clock_entries",
                queryset=ClockEntry.objects.select_related(
                    "deadline", "actor", "approved_by"
                ).order_by("at", "id"),
            ),
            Prefetch("events", queryset=CaseEvent.objects.order_by("seq")),
            Prefetch("evidence", queryset=Evidence.objects.order_by("uploaded_at", "id")),
            Prefetch("appeals", queryset=Appeal.objects.select_related("recorded_by")),
            Prefetch(
                "meetings",
                queryset=DecisionMeeting.objects.prefetch_related("participants").order_by(
                    "round", "id"
                ),
            ),
            Prefetch(
                "case_records",
                queryset=CaseRecord.objects.select_related(
                    "record__list_type", "record__subject", "record__agency"
                )
                .prefetch_related(
                    Prefetch(
                        "record__publications",
                        queryset=Publication.objects.select_related("platform"),
                    )
                )
                .order_by("id"),
            ),
        )
        .get(pk=pk)
    )


class PdfRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: application/pdf``; the view streams the file itself."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


LETTER_PARAMS = [
    OpenApiParameter("case_pk", int, OpenApiParameter.PATH, description="The case's id."),
]


@extend_schema(parameters=LETTER_PARAMS)
class LetterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The letters of a case the caller may see, and each one's PDF.

    The applicant's side (the subject's representatives) sees issued letters only; the
    agency's officers and auditors also see letters still being rendered or failed.
    """

    serializer_class = LetterSerializer
    filterset_class = LetterFilter

    def case(self) -> Case:
        if not hasattr(self, "_case"):
            self._case = selectors.case_for(self.request.user, _id_or_404(self.kwargs["case_pk"]))
        return self._case

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Letter.objects.none()
        case = self.case()
        letters = Letter.objects.filter(case=case)
        if not access.roles_at(self.request.user, case.agency_id):
            letters = letters.filter(status=Letter.Status.ISSUED)
        return letters

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"])
        letter = self.get_queryset().filter(pk=pk).first()
        if letter is None:
            raise Http404("No such letter.")
        return letter

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Letter id.")]
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Letter id.")],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PdfRenderer])
    def pdf(self, request, case_pk=None, pk=None):
        """The issued letter's PDF, byte for byte as stored (its SHA-256 is on the letter)."""
        letter = self.get_object()
        if letter.status != Letter.Status.ISSUED or not letter.pdf:
            raise WrongState(
                _("This letter is %(status)s: it has no PDF yet.")
                % {"status": letter.get_status_display().lower()},
                code="letter_not_issued",
            )
        try:
            handle = letter.pdf.open("rb")
        except FileNotFoundError:
            raise Http404("The letter's file is missing from storage.") from None
        # The applicant's download, with consent to electronic service, serves the letter.
        actions.letter_open(letter=letter, user=request.user)
        response = FileResponse(
            handle, as_attachment=True, filename=letter.file_name, content_type="application/pdf"
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-cache"
        return response

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Letter id.")],
        request=LetterServiceCreateSerializer,
        responses={201: LetterServiceSerializer},
    )
    @action(detail=True, methods=["post"])
    def service(self, request, case_pk=None, pk=None):
        """Record how the letter was served (a case officer or intake officer of the
        agency): by e-mail (with the applicant's consent to electronic service), by post
        with the tracking number, or in person with who received it; the date (not in
        the future, not before the letter was stored). 409 ``already_served``,
        ``letter_not_stored`` or ``no_consent``."""
        letter = self.get_object()
        body = LetterServiceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        service = actions.letter_serve(
            letter=letter,
            officer=request.user,
            method=data["method"],
            served_on=data["served_on"],
            receipt_by=data.get("receipt_by", ""),
            tracking_number=data.get("tracking_number", ""),
            address=data.get("address", ""),
            note=data.get("note", ""),
        )
        return Response(LetterServiceSerializer(service).data, status=status.HTTP_201_CREATED)
