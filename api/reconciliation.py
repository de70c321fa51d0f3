"""Reconciliation in the API: a platform reports what it holds; supervisors read the mismatches.

``POST /api/v1/platforms/<code>/holdings/`` is signed like an acknowledgement (HMAC-SHA256
with the platform's secret, ``v2`` with the ``Idempotency-Key``; a stale or forged call is
refused with 401, the same call twice with 409). Its body::

    {"complete": true,
     "holdings": [{"decision_no": "深市监罚〔2025〕12号", "subject_code": "9144...",
                   "state": "shown", "publication": 17}, ...]}

Every row is checked first: one bad row refuses the report with 400 and every row's error
(``errors``: row, field, message); nothing is stored. A good report answers with the open
mismatches it shows (``notifications.reconciliation``).

``GET /api/v1/reconciliation/mismatches/`` lists the open mismatches of the agencies the
caller supervises; ``POST …/mismatches/<id>/resend/`` sends the withdrawal again,
``POST …/mismatches/<id>/resolve/`` (``{"note": …}``) closes one with a note.

``GET /api/v1/reconciliation/acknowledgement-times/``: per platform and per effect, the
time from decision to acknowledgement (median, 95th percentile, oldest open) at the
agencies the caller supervises or audits (``cases.acknowledgement_times``).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import access
from cases.acknowledgement_times import SHIELDING, acknowledgement_times
from cases.errors import RedressError
from cases.ids import id_parse
from cases.models import Agency, Platform, PublicationEffect, Role
from notifications import reconciliation, signing
from notifications.models import HoldingsReport
from notifications.services import receipt_record, signature_remember


def error(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


@method_decorator(csrf_exempt, name="dispatch")
class HoldingsView(View):
    """``POST /api/v1/platforms/<code>/holdings/``: a platform reports what it holds."""

    http_method_names = ["post"]

    def post(self, request, code: str):
        platform = Platform.objects.filter(code=code, is_active=True).first()
        if platform is None:
            return error(404, "not_found", _("No such platform."))
        key = (request.headers.get(signing.IDEMPOTENCY_HEADER) or "").strip()
        verdict = signing.verify(
            platform.webhook_secret,
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
            signature_value=request.headers.get(signing.SIGNATURE_HEADER),
            body=request.body,
            idempotency_key=key,
            versions=signing.VERSIONS if settings.REDRESS_WEBHOOK_ACCEPT_V1 else ("v2",),
        )
        if not verdict.ok:
            return error(
                401, "bad_signature", _("Refused: %(reason)s.") % {"reason": verdict.reason}
            )
        if not key or len(key) > 64 or not key.isprintable():
            return error(400, "idempotency_key", _("Send an Idempotency-Key header (1-64 chars)."))
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict) or "holdings" not in data:
            return error(
                400,
                "invalid_input",
                _("The body must be JSON with a list 'holdings'."),
                field="holdings",
            )
        complete = data.get("complete", False)
        if not isinstance(complete, bool):
            return error(
                400, "invalid_input", _("'complete' must be true or false."), field="complete"
            )
        try:
            holdings = reconciliation.holdings_parse(data["holdings"])
        except reconciliation.BadReport as exc:
            return JsonResponse(exc.as_dict(), status=400)
        with transaction.atomic():
            if not signature_remember(platform=platform, verdict=verdict) or not receipt_record(
                platform=platform, idempotency_key=key, outcome="holdings"
            ):
                return error(409, "replayed", _("This call was already received; nothing changed."))
            report, mismatches = reconciliation.holdings_reconcile(
                platform=platform,
                holdings=holdings,
                complete=complete,
                source=HoldingsReport.Source.API,
            )
        return JsonResponse(
            {
                "report": report.pk,
                "rows": report.rows,
                "mismatches": [reconciliation.mismatch_as_dict(m) for m in mismatches],
            }
        )


class MismatchListView(APIView):
    """``GET /api/v1/reconciliation/mismatches/``: open mismatches the caller supervises."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Open reconciliation mismatches of the agencies the caller supervises",
    )
    def get(self, request):
        mismatches = reconciliation.mismatches_for(request.user)[:500]
        return Response({"results": [reconciliation.mismatch_as_dict(m) for m in mismatches]})


class MismatchActionView(APIView):
    """``POST …/mismatches/<id>/resend/`` or ``…/resolve/`` (``{"note": …}``)."""

    action = "resend"

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Send a mismatch's withdrawal again, or resolve it with a note",
    )
    def post(self, request, pk: str):
        number = id_parse(pk)
        mismatch = (
            reconciliation.mismatches_for(request.user).filter(pk=number).first()
            if number is not None
            else None
        )
        if mismatch is None:
            return Response(
                {"code": "not_found", "message": _("No such open mismatch.")}, status=404
            )
        try:
            if self.action == "resend":
                mismatch = reconciliation.mismatch_resend(mismatch=mismatch, by=request.user)
            else:
                note = request.data.get("note") if isinstance(request.data, dict) else None
                mismatch = reconciliation.mismatch_resolve(
                    mismatch=mismatch, by=request.user, note=note if isinstance(note, str) else ""
                )
        except RedressError as exc:
            return Response(exc.as_dict(), status=exc.http_status)
        return Response(reconciliation.mismatch_as_dict(mismatch))


class AcknowledgementTimesSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The platform's code.")
    name = serializers.CharField()
    effect = serializers.ChoiceField(
        choices=[*PublicationEffect.Kind.values, SHIELDING],
        help_text="What was asked: publication ended, sharing stopped, a measure lifted "
        "(Order 36 Art. 3), or a temporary shielding.",
    )
    measure = serializers.CharField(help_text="The measure's code (measure_lifted); else ''.")
    acknowledged = serializers.IntegerField()
    median_hours = serializers.FloatField(allow_null=True)
    p95_hours = serializers.FloatField(allow_null=True, help_text="Nearest-rank 95th percentile.")
    open = serializers.IntegerField(help_text="Asked and not yet acknowledged.")
    oldest_open_hours = serializers.FloatField(allow_null=True)


class AcknowledgementTimesResponse(serializers.Serializer):
    results = AcknowledgementTimesSerializer(many=True)


class AcknowledgementTimesView(APIView):
    """``GET /api/v1/reconciliation/acknowledgement-times/``."""

    @extend_schema(
        responses={200: AcknowledgementTimesResponse},
        summary="Time from decision to each platform's acknowledgement of each effect",
    )
    def get(self, request):
        """Per platform and effect, at the agencies the caller supervises or audits: how many
        were acknowledged, the median and 95th percentile hours from the decision, how many
        are open and how long the oldest has waited (3 working days are the rule: APL Art.
        48, SAMR Order 107 Art. 17). Empty for anyone else."""
        if request.user.is_superuser:
            agencies = set(Agency.objects.values_list("pk", flat=True))
        else:
            agencies = access.agency_ids(request.user, Role.SUPERVISOR, Role.AUDITOR)
        times = acknowledgement_times(agencies) if agencies else []
        return Response(AcknowledgementTimesResponse({"results": [vars(t) for t in times]}).data)
