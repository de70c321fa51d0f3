"""REST endpoints for officers' tasks: list, claim, complete, release."""

from __future__ import annotations

from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from viewflow.workflow.models import Task

from workflows import selectors
from workflows import services as route


class TaskSerializer(serializers.ModelSerializer):
    step = serializers.SerializerMethodField()
    case = serializers.IntegerField(source="process.case.pk")
    reference = serializers.CharField(source="process.case.reference")
    case_status = serializers.CharField(source="process.case.status")
    owner = serializers.CharField(source="owner.username", default=None)
    due_on = serializers.DateField(read_only=True, default=None)

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
    evidence = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["accepted", "rejected", "needs_more"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class MissingItemSerializer(serializers.Serializer):
    material = serializers.CharField(max_length=30)
    detail = serializers.CharField(required=False, allow_blank=True, max_length=500)


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
    recommendation = serializers.CharField(required=False, max_length=30)
    missing = MissingItemSerializer(many=True, required=False)
    reviews = ReviewSerializer(many=True, required=False)
    record_outcomes = serializers.DictField(
        child=serializers.ChoiceField(choices=["upheld", "rejected"]), required=False
    )
    corrections = serializers.DictField(child=serializers.CharField(), required=False)


class TaskFilter(filters.FilterSet):
    box = filters.ChoiceFilter(
        choices=[("inbox", "inbox"), ("queue", "queue")],
        method="filter_box",
        label="inbox (assigned to me) or queue (I may claim); both when absent",
    )

    class Meta:
        model = Task
        fields = ["box"]

    def filter_box(self, queryset, name, value):
        return queryset  # applied in get_queryset, which knows the user


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's inbox and queue of tasks, and what they do with them."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def get_queryset(self):
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
            .annotate(due_on=selectors._running_due_on())
        )

    def get_object(self):
        return selectors.task_for_officer(self.request.user, self.kwargs["pk"])

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        task = route.task_claim(task=self.get_object(), user=request.user)
        return Response(TaskSerializer(selectors.task_for_officer(request.user, task.pk)).data)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        task = route.task_unassign(task=self.get_object(), user=request.user)
        return Response(TaskSerializer(selectors.task_for_officer(request.user, task.pk)).data)

    @extend_schema(request=TaskCompleteSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = self.get_object()
        route.task_complete(task=task, user=request.user, data=body.validated_data)
        return Response(TaskSerializer(selectors.task_for_officer(request.user, task.pk)).data)
