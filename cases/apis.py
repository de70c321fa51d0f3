"""REST endpoints for records, cases and evidence (translation only: services do the work)."""

from __future__ import annotations

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cases import selectors, services
from cases.errors import InvalidInput
from cases.models import Case, CaseEvent, Evidence, Material, Publication, Record, Subject
from workflows import services as route
from workflows.models import ClockEntry, Deadline

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
            "listed_on",
            "restorable_from",
            "expires_on",
            "status",
            "corrected_text",
            "publications",
        ]


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
    actor = serializers.CharField(source="actor.username", default=None)
    approved_by = serializers.CharField(source="approved_by.username", default=None)

    class Meta:
        model = ClockEntry
        fields = [
            "step",
            "kind",
            "at",
            "actor",
            "approved_by",
            "reason",
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
            "uploaded_at",
            "review_outcome",
            "review_reason",
            "reviewed_at",
        ]


class CaseRecordOutcomeSerializer(serializers.Serializer):
    record = RecordSerializer()
    outcome = serializers.CharField()
    reason = serializers.CharField()
    correction = serializers.CharField()


class CaseDetailSerializer(CaseListSerializer):
    records = serializers.SerializerMethodField()
    current_steps = serializers.SerializerMethodField()
    deadlines = DeadlineSerializer(many=True, read_only=True)
    clock = ClockEntrySerializer(many=True, read_only=True, source="clock_entries")
    timeline = EventSerializer(many=True, read_only=True, source="events")
    evidence = EvidenceSerializer(many=True, read_only=True)
    rule_version = serializers.CharField(source="rule_set.label", default=None)

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "grounds",
            "channel",
            "language",
            "missing_materials",
            "decision_reasons",
            "rule_version",
            "records",
            "current_steps",
            "deadlines",
            "clock",
            "timeline",
            "evidence",
        ]

    def get_records(self, case) -> list[dict]:
        return [
            {
                "outcome": cr.outcome,
                "reason": cr.reason,
                "correction": cr.correction,
                "record": RecordSerializer(cr.record).data,
            }
            for cr in case.case_records.all()
        ]

    def get_current_steps(self, case) -> list[dict]:
        return [
            {
                "task": t.pk,
                "step": t.flow_task.name,
                "status": t.status,
                "owner": t.owner.get_username() if t.owner_id else None,
            }
            for t in route.open_tasks(case)
            if t.flow_task_type == "HUMAN" or t.flow_task.name.startswith("await_")
        ]


class CaseCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Case.Kind.choices)
    subject_code = serializers.CharField(max_length=18)
    record_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1)
    grounds = serializers.CharField(max_length=10_000)
    language = serializers.ChoiceField(choices=["zh-hans", "en"], required=False)


class EvidenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    material = serializers.ChoiceField(choices=Material.choices, default=Material.OTHER)
    record = serializers.IntegerField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


# --- filters ---------------------------------------------------------------------------------


class RecordFilter(filters.FilterSet):
    subject_code = filters.CharFilter(field_name="subject__code")
    list_type = filters.CharFilter(field_name="list_type__code")
    status = filters.ChoiceFilter(choices=Record.Status.choices)

    class Meta:
        model = Record
        fields = ["subject_code", "list_type", "status"]


class CaseFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Case.Status.choices)
    kind = filters.ChoiceFilter(choices=Case.Kind.choices)
    reference = filters.CharFilter()
    subject_code = filters.CharFilter(field_name="subject__code")

    class Meta:
        model = Case
        fields = ["status", "kind", "reference", "subject_code"]


# --- views ---------------------------------------------------------------------------------


class RecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Records an entity's subjects are on, or an officer's agency made."""

    serializer_class = RecordSerializer
    filterset_class = RecordFilter

    def get_queryset(self):
        return selectors.records_for(self.request.user).prefetch_related(
            Prefetch("publications", queryset=Publication.objects.select_related("platform"))
        )


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Objections and restoration requests the caller may see, and what the applicant does."""

    filterset_class = CaseFilter

    def get_queryset(self):
        return selectors.cases_for(self.request.user)

    def get_serializer_class(self):
        return CaseDetailSerializer if self.action == "retrieve" else CaseListSerializer

    def get_object(self):
        case = selectors.case_for(self.request.user, self.kwargs["pk"])
        if self.action == "retrieve":
            case = (
                Case.objects.select_related("subject", "agency", "rule_set__list_type")
                .prefetch_related(
                    "deadlines",
                    Prefetch(
                        "clock_entries",
                        queryset=ClockEntry.objects.select_related(
                            "deadline", "actor", "approved_by"
                        ),
                    ),
                    Prefetch("events", queryset=CaseEvent.objects.order_by("seq")),
                    "evidence",
                    Prefetch(
                        "case_records__record",
                        queryset=Record.objects.select_related(
                            "list_type", "subject", "agency"
                        ).prefetch_related("publications__platform"),
                    ),
                )
                .get(pk=case.pk)
            )
        return case

    @extend_schema(
        request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Repeat a submission safely: the same key "
                "returns the case already filed.",
            )
        ],
    )
    def create(self, request):
        body = CaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        subject = Subject.objects.filter(code=data["subject_code"].strip().upper()).first()
        if (
            subject is None
            or not selectors.subjects_for(request.user).filter(pk=subject.pk).exists()
        ):
            raise InvalidInput("You do not act for a subject with that code.", field="subject_code")
        records = list(Record.objects.filter(pk__in=data["record_ids"], subject=subject))
        if len(records) != len(set(data["record_ids"])):
            raise InvalidInput(
                "Some record ids are not records of this subject.", field="record_ids"
            )
        case = route.case_file(
            kind=data["kind"],
            subject=subject,
            records=records,
            grounds=data["grounds"],
            applicant=request.user,
            channel=Case.Channel.API,
            language=data.get("language"),
            idempotency_key=(request.headers.get("Idempotency-Key") or "")[:64],
        )
        self.kwargs["pk"] = case.pk
        self.action = "retrieve"
        return Response(
            CaseDetailSerializer(self.get_object()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=EvidenceUploadSerializer, responses={201: EvidenceSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def evidence(self, request, pk=None):
        case = self.get_object()
        body = EvidenceUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = None
        if data.get("record") is not None:
            record = case.records.filter(pk=data["record"]).first()
            if record is None:
                raise InvalidInput("That record is not part of this case.", field="record")
        item = services.evidence_add(
            case=case,
            uploaded_by=request.user,
            upload=data["file"],
            material=data["material"],
            record=record,
            description=data.get("description", ""),
        )
        return Response(EvidenceSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={200: CaseListSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = route.case_withdraw(
            case=self.get_object(),
            applicant=request.user,
            reason=body.validated_data.get("reason", ""),
        )
        return Response(CaseListSerializer(case).data)

    @extend_schema(request=NoteSerializer, responses={200: CaseListSerializer})
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        """Answer a request for missing materials (upload them first)."""
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = route.case_resubmit(
            case=self.get_object(), applicant=request.user, note=body.validated_data.get("note", "")
        )
        return Response(CaseListSerializer(case).data)
