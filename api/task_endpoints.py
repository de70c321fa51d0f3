"""REST endpoints for officers' tasks: list, claim, complete, release.

The lists are the officer's inbox and queue (``workflows.selectors``), filtered in the
database; a task of another agency is 404. Claiming and completing go through
``workflows.actions``, which enforce the step's role and the four-eyes rules, so an
auditor (who holds no step's role) can read a task but never take or do it.
"""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from viewflow.workflow.models import Task

from api.conventions import IdField, StrictCharField
from cases.errors import WrongState
from cases.ids import ID_MAX, ID_MIN, IdFormField, id_parse
from cases.models import Case, Evidence, LegalReviewGround, Material
from workflows import actions, selectors

# The decisions each step takes (evidence_review decides through ``recommendation``).
ACCEPTANCE_DECISIONS = ["accept", "request_materials", "not_accept"]
LEGAL_REVIEW_DECISIONS = ["pass", "send_back"]
REFUSAL_APPROVAL_DECISIONS = ["approve", "decline"]
SIGN_OFF_DECISIONS = Case.Decision.choices


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
    evidence = IdField(help_text="The evidence item's id (``evidence`` in the case).")
    outcome = serializers.ChoiceField(choices=Evidence.Outcome.choices[1:])
    reason = StrictCharField(
        required=False, allow_blank=True, max_length=2000, help_text="Required to reject."
    )


class MissingItemSerializer(serializers.Serializer):
    material = serializers.ChoiceField(choices=Material.choices)
    detail = StrictCharField(required=False, allow_blank=True, max_length=500)
    reason = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Required on a later request of the same case: how the applicant's "
        "resubmission made this item necessary (everything missing is asked for once, "
        "《信用修复管理办法》第十六条第二款).",
    )


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


class StepSerializer(serializers.Serializer):
    """The body of one step's completion: exactly its fields, no other.

    A field of another step is refused (400 naming it) rather than ignored, so a
    client that sends ``recommendation`` to a sign-off learns it at once; the schema
    says the same with ``additionalProperties: false`` (``StepSerializerExtension``),
    which also keeps the bodies of ``oneOf`` apart.
    """

    step = ""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            extra = sorted(set(data) - set(self.fields))
            if extra:
                raise serializers.ValidationError(
                    {
                        name: [_("This field does not apply at %(step)s.") % {"step": self.step}]
                        for name in extra
                    }
                )
        return super().to_internal_value(data)


def _note():
    return StrictCharField(required=False, allow_blank=True, max_length=5000)


def _record_outcomes():
    return RecordKeyedField(
        child=serializers.ChoiceField(choices=["upheld", "rejected"]),
        required=False,
        help_text='Per record id, "upheld" or "rejected": required for partly_approved.',
    )


class AcceptanceCheckSerializer(StepSerializer):
    """At ``acceptance_check``: accept; request every missing item at once
    (``missing``, which stops the clock); or do not accept (``reasons``)."""

    step = "acceptance_check"
    decision = serializers.ChoiceField(choices=ACCEPTANCE_DECISIONS)
    missing = MissingItemSerializer(
        many=True, required=False, help_text="With request_materials: every missing item."
    )
    reasons = StrictCharField(
        required=False, allow_blank=True, max_length=5000, help_text="With not_accept."
    )
    note = _note()


class RefusalApprovalSerializer(StepSerializer):
    """At ``refusal_approval`` (rules needing the head's approval of a non-acceptance,
    SAMR Order 107 Art. 14(3)): a signing official other than the proposer approves the
    non-acceptance, or declines it saying why (``note``), which returns the case to the
    acceptance check."""

    step = "refusal_approval"
    decision = serializers.ChoiceField(choices=REFUSAL_APPROVAL_DECISIONS)
    note = _note()


class EvidenceReviewSerializer(StepSerializer):
    """At ``evidence_review``: review the evidence item by item (``reviews``), then
    complete with a ``recommendation`` (``record_outcomes`` for a partial one,
    ``corrections`` for an objection upheld with a corrected text) or request
    materials (``action``: request_materials, with ``missing``)."""

    step = "evidence_review"
    reviews = ReviewSerializer(many=True, required=False)
    action = serializers.ChoiceField(
        choices=["complete", "request_materials"], required=False, default="complete"
    )
    recommendation = serializers.ChoiceField(
        choices=Case.Decision.choices, required=False, help_text="Required to complete."
    )
    record_outcomes = _record_outcomes()
    corrections = RecordKeyedField(
        child=StrictCharField(max_length=5000),
        required=False,
        help_text="Per record id, the corrected text of a record an objection corrects.",
    )
    missing = MissingItemSerializer(
        many=True, required=False, help_text="With request_materials: every missing item."
    )
    legal_review_grounds = serializers.ListField(
        child=serializers.ChoiceField(choices=LegalReviewGround.choices),
        required=False,
        help_text=(
            "With complete: the grounds of Administrative Penalties Law Art. 58(1) that apply "
            "(public_interest: item 1; major_rights_hearing: item 2; complex: item 3; "
            "other_law: item 4, naming the provision in legal_review_other_basis); an empty "
            "list or none records that none applies. Any ground sends the case to legal review."
        ),
    )
    legal_review_other_basis = StrictCharField(
        required=False, allow_blank=True, max_length=500, help_text="With other_law."
    )
    note = _note()


class LegalReviewSerializer(StepSerializer):
    """At ``legal_review``: pass, or send back to review (say why in ``note``)."""

    step = "legal_review"
    decision = serializers.ChoiceField(choices=LEGAL_REVIEW_DECISIONS)
    note = _note()


class SignOffSerializer(StepSerializer):
    """At ``sign_off``: the decision, its ``reasons`` (required unless approved), and
    ``record_outcomes`` for a partial approval."""

    step = "sign_off"
    decision = serializers.ChoiceField(choices=SIGN_OFF_DECISIONS)
    reasons = StrictCharField(required=False, allow_blank=True, max_length=5000)
    record_outcomes = _record_outcomes()
    note = _note()


STEP_BODIES = {
    body.step: body
    for body in (
        AcceptanceCheckSerializer,
        RefusalApprovalSerializer,
        EvidenceReviewSerializer,
        LegalReviewSerializer,
        SignOffSerializer,
    )
}

TASK_COMPLETE_BODY = PolymorphicProxySerializer(
    component_name="TaskCompletion",
    serializers=list(STEP_BODIES.values()),
    resource_type_field_name=None,
    many=False,
)


class StepSerializerExtension(OpenApiSerializerExtension):
    """Each step's body is closed: ``additionalProperties: false``, as the code enforces."""

    target_class = StepSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


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
        # Only the list asked for is built: each reads the person's ties to subjects first
        # (one query), and the queue lookup before every claim paid for the inbox's too.
        if box == "inbox":
            return selectors.tasks_inbox(user)
        if box == "queue":
            return selectors.tasks_queue(user)
        inbox = selectors.tasks_inbox(user)
        queue = selectors.tasks_queue(user)
        return (
            # The two lists' ids put together (UNION), each list read by its own index; an
            # OR of the two made PostgreSQL test every task (issue 16).
            Task.objects.filter(pk__in=self._both_boxes(inbox, queue))
            .select_related("process__case", "owner")
            .annotate(due_on=selectors.running_due_on())
        )

    def _both_boxes(self, inbox, queue):
        """The ids of inbox and queue that the page can need, put together (UNION).

        Each list is cut to the page's rows inside its own branch: in the cursor's order
        after its position, at most offset + page size + 1 ids, which hold the page of the
        union and the row that says a next page follows. Unbounded, the union of the whole
        inbox and queue (7,630 ids at 100,000 cases) was built before the first 51 were
        picked (issue 16, bench/RESULTS.md). SQLite cannot cut a branch of a UNION; there
        the lists are put together whole, with the same result."""
        paginator = self.paginator
        branches = [box.order_by().values("pk") for box in (inbox, queue)]
        if paginator is None or not connection.features.supports_slicing_ordering_in_compound:
            return branches[0].union(branches[1])
        cursor = paginator.decode_cursor(self.request)
        offset, reverse, position = cursor if cursor is not None else (0, False, None)
        # NoCountPagination orders by -id; a reverse cursor (a "previous" link) walks up.
        cut = offset + paginator.get_page_size(self.request) + 1
        if position is not None:
            after = {"pk__gt" if reverse else "pk__lt": position}
            branches = [branch.filter(**after) for branch in branches]
        branches = [branch.order_by("pk" if reverse else "-pk")[:cut] for branch in branches]
        return branches[0].union(branches[1])

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
        task = actions.task_claim(task=self.get_object(), user=request.user)
        return Response(self._shown(task))

    @extend_schema(request=None, responses={200: TaskSerializer}, parameters=[TASK_ID])
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Give a task back to the queue (its owner, or a supervisor of the agency)."""
        task = actions.task_release(task=self.get_object(), user=request.user)
        return Response(self._shown(task))

    @extend_schema(
        request=TASK_COMPLETE_BODY, responses={200: TaskSerializer}, parameters=[TASK_ID]
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Do the step with the person's decision (claim the task first).

        The body is the one of the task's step (its ``step`` field): one of the
        shapes of the schema's ``oneOf``, with exactly that step's fields; a field of
        another step is refused with 400 naming it. A task already done or cancelled is
        409 ``task_closed``, whoever asks."""
        task = self.get_object()
        actions.task_ensure_open(task)
        step_body = STEP_BODIES.get(task.flow_task.name)
        if step_body is None:
            raise WrongState(
                _("This step is done by the system, not by a person."), code="not_a_task"
            )

        def validated() -> dict:
            body = step_body(data=request.data)
            body.is_valid(raise_exception=True)
            return body.validated_data

        # The body is read only once the step's checks let the person do it (an auditor, or
        # a tie to the subject: nothing is looked at); they run once, on the locked case.
        actions.task_complete(task=task, user=request.user, data=validated)
        return Response(self._shown(task))
