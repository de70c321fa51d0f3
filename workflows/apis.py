"""REST endpoints for officers' tasks: list, claim, complete, release.

The lists are the officer's inbox and queue (``workflows.selectors``), filtered in the
database; a task of another agency is 404. Claiming and completing go through
``workflows.services``, which enforce the step's role and the four-eyes rules, so an
auditor (who holds no step's role) can read a task but never take or do it.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from viewflow.workflow.models import Task

from cases.errors import InvalidInput, NotPermitted
from cases.ids import ID_MAX, ID_MIN, IdFormField, id_parse
from cases.models import Case, Evidence, Material
from config.api import IdField
from workflows import selectors
from workflows import services as route

# The decisions each step takes (evidence_review decides through ``recommendation``).
STEP_DECISIONS = {
    "acceptance_check": ["accept", "request_materials", "not_accept"],
    "legal_review": ["pass", "send_back"],
    "sign_off": list(Case.Decision.values),
}


class TaskSerializer(serializers.ModelSerializer):
    step = serializers.SerializerMethodField()
    case = serializers.IntegerField(source="process.case.pk")
    reference = serializers.CharField(source="process.case.reference")
    case_status = serializers.CharField(source="process.case.status")
    owner = serializers.CharField(source="owner.username", default=None, allow_null=True)
    due_on = serializers.DateField(read_only=True, default=None, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "step",
            "case",
            "reference",
            "case_status",
            "status",
            "owner",
            "created",
            "due_on",
        ]

    def get_step(self, task) -> str:
        return task.flow_task.name


class ReviewSerializer(serializers.Serializer):
    evidence = IdField()
    outcome = serializers.ChoiceField(choices=Evidence.Outcome.choices[1:])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class MissingItemSerializer(serializers.Serializer):
    material = serializers.ChoiceField(choices=Material.choices)
    detail = serializers.CharField(required=False, allow_blank=True, max_length=500)


class RecordKeyedField(serializers.DictField):
    """A JSON object keyed by record id (``{"12": ...}``); keys come out as ints."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        keyed = {}
        for key, item in value.items():
            record_id = id_parse(key)
            if record_id is None:
                raise serializers.ValidationError(
                    _("%(key)s is not a record id.") % {"key": repr(key)}
                )
            keyed[record_id] = item
        return keyed


class TaskCompleteSerializer(serializers.Serializer):
    """The person's decision at this step; which fields apply depends on the step.

    acceptance_check: ``decision`` accept | request_materials (with ``missing``) |
    not_accept (with ``reasons``). evidence_review: ``reviews`` item by item, then
    ``action`` complete (with ``recommendation``, and ``record_outcomes`` for a
    partial one, ``corrections`` for a corrected objection) or request_materials.
    legal_review: ``decision`` pass | send_back with ``note``. sign_off: ``decision``
    approved | partly_approved | rejected, ``reasons``, ``record_outcomes``.
    """

    decision = serializers.CharField(required=False, max_length=30)
    action = serializers.ChoiceField(
        choices=["complete", "request_materials"], required=False, default="complete"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    reasons = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    recommendation = serializers.ChoiceField(choices=Case.Decision.choices, required=False)
    missing = MissingItemSerializer(many=True, required=False)
    reviews = ReviewSerializer(many=True, required=False)
    record_outcomes = RecordKeyedField(
        child=serializers.ChoiceField(choices=["upheld", "rejected"]), required=False
    )
    corrections = RecordKeyedField(child=serializers.CharField(max_length=5000), required=False)


@extend_schema_field({"type": "integer", "format": "int64", "minimum": ID_MIN, "maximum": ID_MAX})
class IdFilter(filters.Filter):
    """Filter by an id: ASCII digits, 1 to 2**63-1; anything else is refused with 400."""

    field_class = IdFormField


class TaskFilter(filters.FilterSet):
    box = filters.ChoiceFilter(
        choices=[("inbox", "inbox"), ("queue", "queue")],
        method="filter_box",
        label="inbox (assigned to me) or queue (I may claim); both when absent",
    )
    case = IdFilter(field_name="process__case__id", label="The case's id: the tasks of that case")

    class Meta:
        model = Task
        fields = ["box", "case"]

    def filter_box(self, queryset, name, value):
        return queryset  # applied in get_queryset, which knows the user


TASK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The task's id.")


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's inbox and queue of tasks, and what they do with them."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        user = self.request.user
        box = self.request.query_params.get("box")
        inbox = selectors.tasks_inbox(user)
        queue = selectors.tasks_queue(user)
        if box == "inbox":
            return inbox
        if box == "queue":
            return queue
        return (
            Task.objects.filter(Q(pk__in=inbox.values("pk")) | Q(pk__in=queue.values("pk")))
            .select_related("process__case", "owner")
            .annotate(due_on=selectors.running_due_on())
        )

    def get_object(self):
        return selectors.task_for_officer(self.request.user, self.kwargs["pk"])

    def _shown(self, task: Task) -> dict:
        """The task as it stands now, with its case's running due date."""
        task = (
            Task.objects.filter(pk=task.pk)
            .select_related("process__case", "owner")
            .annotate(due_on=selectors.running_due_on())
            .get()
        )
        return TaskSerializer(task).data

    @extend_schema(parameters=[TASK_ID])
    def retrieve(self, request, *args, **kwargs):
        return Response(self._shown(self.get_object()))

    @extend_schema(request=None, responses={200: TaskSerializer}, parameters=[TASK_ID])
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """Take an unassigned task (409 ``already_claimed`` if someone has it,
        ``task_closed`` if it is done or cancelled)."""
        task = route.task_claim(task=self.get_object(), user=request.user)
        return Response(self._shown(task))

    @extend_schema(request=None, responses={200: TaskSerializer}, parameters=[TASK_ID])
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Give a task back to the queue (its owner, or a supervisor of the agency)."""
        task = route.task_unassign(task=self.get_object(), user=request.user)
        return Response(self._shown(task))

    @extend_schema(
        request=TaskCompleteSerializer, responses={200: TaskSerializer}, parameters=[TASK_ID]
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Do the step with the person's decision (claim the task first). A task already
        done or cancelled is 409 ``task_closed``, whoever asks."""
        task = self.get_object()
        route.task_ensure_open(task)
        node = task.flow_task
        reason = node.ineligibility(request.user, task) if hasattr(node, "ineligibility") else None
        if reason:  # e.g. an auditor: nothing they send is looked at
            raise NotPermitted(reason, code="not_eligible")
        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        allowed = STEP_DECISIONS.get(task.flow_task.name)
        if allowed is not None and data.get("decision") not in allowed:
            raise InvalidInput(
                _("At %(step)s, decision is one of: %(decisions)s.")
                % {"step": task.flow_task.name, "decisions": ", ".join(allowed)},
                field="decision",
            )
        route.task_complete(task=task, user=request.user, data=data)
        return Response(self._shown(task))
