"""``GET /api/v1/metrics/``: the supervisors' figures, the same tables as the dashboard's.

Query parameters as on the page: ``agency`` (a code; all the caller's agencies without
it), ``start`` and ``end`` (dates, YYYY-MM-DD: the weeks shown), ``step``, ``list`` (a list
type's code), ``officer`` (a user id). A parameter that is not understood answers 400
with every refused parameter named in its message (``field``: the first); nothing is guessed. A supervisor reads the agencies
they supervise, an auditor those they audit (403 for anyone else; 404 for an agency
code not theirs).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.conventions import ErrorSerializer
from cases.errors import RedressError
from workflows.metrics import metrics_filters_parse, metrics_report, metrics_scope


class AgencyRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class PeriodSerializer(serializers.Serializer):
    first_week = serializers.DateField(help_text="The Monday of the first week shown.")
    last_week = serializers.DateField(help_text="The Monday of the last week shown.")


class MetricsTableSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    definition = serializers.CharField(help_text="How the figure is computed.")
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True)),
        help_text="One list per row, in the order of the columns; null where nothing to count.",
    )


class MetricsSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the worker last computed the figures (as of)."
    )
    agencies = AgencyRefSerializer(many=True)
    period = PeriodSerializer()
    tables = MetricsTableSerializer(many=True)


PARAMETERS = [
    OpenApiParameter("agency", str, description="An agency's code; all yours without it."),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day of the period."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of the period."),
    OpenApiParameter("step", str, description="A case step or a deadline step."),
    OpenApiParameter("list", str, description="A list type's code."),
    OpenApiParameter("officer", int, description="An officer's user id."),
]


class MetricsView(APIView):
    """``GET /api/v1/metrics/``."""

    @extend_schema(
        parameters=PARAMETERS,
        responses={
            200: MetricsSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        summary="The supervisors' figures of the agencies the caller supervises or audits",
    )
    def get(self, request):
        try:
            agencies = metrics_scope(
                request.user, (request.query_params.get("agency") or "").strip()
            )
        except RedressError as exc:
            return Response(exc.as_dict(), status=exc.http_status)
        filters, errors = metrics_filters_parse(request.query_params, agencies)
        if errors:
            field = sorted(errors)[0]
            return Response(
                {
                    "code": "invalid_input",
                    "message": " ".join(f"{name}: {errors[name]}" for name in sorted(errors)),
                    "field": field,
                },
                status=400,
            )
        report = metrics_report([a.pk for a in agencies], filters)
        data = {
            "computed_at": report.computed_at,
            "agencies": [{"code": a.code, "name": a.localized_name()} for a in agencies],
            "period": {"first_week": report.first_week, "last_week": report.last_week},
            "tables": [
                {
                    "key": t.key,
                    "title": str(t.title),
                    "definition": str(t.definition),
                    "columns": [str(c) for c in t.columns],
                    "rows": [
                        [c if c is None or isinstance(c, int) else str(c) for c in row]
                        for row in t.rows
                    ],
                }
                for t in report.tables()
            ],
        }
        return Response(MetricsSerializer(data).data)
