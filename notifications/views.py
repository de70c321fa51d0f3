"""Endpoints platforms call, and the in-app notification pages' JSON."""

from __future__ import annotations

import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from cases.errors import RedressError
from cases.ids import id_parse, whole_number
from cases.models import Platform, Publication
from notifications import signing
from notifications.models import Message, Notification, WebhookReceipt
from notifications.services import signature_remember


def error(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


@method_decorator(csrf_exempt, name="dispatch")
class AcknowledgementView(View):
    """``POST /api/v1/platforms/<code>/acknowledgements/``: a platform confirms a withdrawal.

    The call is signed like our webhooks (HMAC-SHA256 with the platform's secret over
    the timestamp and the body, ``v1``; or over the timestamp, the ``Idempotency-Key``
    and the body, ``v2``). A stale timestamp or a bad signature is refused with 401.
    Each signature is accepted once: the same signed call again is refused with 409
    ``replayed`` whatever key it carries, and so is a call whose ``Idempotency-Key`` was
    already received; neither changes anything. The body names the publication and,
    optionally, the idempotency key of our withdrawal request it answers.
    """

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
        with transaction.atomic():
            # The signature is spent by any answer but a server error (which rolls this
            # back, so the platform may send the very same call again).
            if not signature_remember(platform=platform, verdict=verdict):
                return error(409, "replayed", _("This call was already received; nothing changed."))
            return self.acknowledge(request, platform, key)

    def acknowledge(self, request, platform: Platform, key: str):
        if not key or len(key) > 64 or not key.isprintable():
            return error(400, "idempotency_key", _("Send an Idempotency-Key header (1-64 chars)."))
        try:
            data = json.loads(request.body or b"{}")
            raw = data["publication"]
        except (ValueError, KeyError, TypeError):
            raw = None
        if whole_number(raw) is None:  # a JSON integer (or a string of ASCII digits)
            return error(
                400,
                "invalid_input",
                _("The body must be JSON with a numeric 'publication'."),
                field="publication",
            )
        if data.get("status", "withdrawn") != "withdrawn":
            return error(
                400,
                "invalid_input",
                _("Only status 'withdrawn' can be acknowledged."),
                field="status",
            )
        publication_id = id_parse(raw)  # None: a number no publication can have
        publication = (
            Publication.objects.filter(pk=publication_id, platform=platform).first()
            if publication_id is not None
            else None
        )
        if publication is None:
            return error(404, "not_found", _("This platform holds no such publication."))
        from workflows.services import platform_acknowledge

        try:
            with transaction.atomic():
                WebhookReceipt.objects.create(
                    platform=platform, idempotency_key=key, outcome="acknowledged"
                )
                platform_acknowledge(publication=publication, note=str(data.get("note", ""))[:500])
                Message.objects.filter(
                    platform=platform,
                    idempotency_key=str(data.get("idempotency_key", "")),
                    acknowledged_at__isnull=True,
                ).update(acknowledged_at=timezone.now())
        except IntegrityError:
            return error(409, "replayed", _("This call was already received; nothing changed."))
        except RedressError as exc:
            return error(exc.http_status, exc.code, exc.message)
        publication.refresh_from_db()
        return JsonResponse({"status": publication.status, "publication": publication.pk})


class NotificationsView(View):
    """``GET`` the signed-in user's notifications (unread count first); ``POST`` marks read."""

    def get(self, request):
        if not request.user.is_authenticated:
            return error(401, "not_authenticated", _("Sign in first."))
        items = Notification.objects.filter(user=request.user).order_by("-created_at")[:50]
        return JsonResponse(
            {
                "unread": Notification.objects.filter(
                    user=request.user, read_at__isnull=True
                ).count(),
                "results": [
                    {
                        "id": n.pk,
                        "kind": n.kind,
                        "title": n.title,
                        "body": n.body,
                        "url": n.url,
                        "created_at": n.created_at.isoformat(),
                        "read": n.read_at is not None,
                    }
                    for n in items
                ],
            }
        )

    def post(self, request):
        if not request.user.is_authenticated:
            return error(401, "not_authenticated", _("Sign in first."))
        ids = [id_parse(i) for i in request.POST.getlist("id")]
        if None in ids:
            return error(
                400,
                "invalid_input",
                _("Nothing was marked read: a notification number is not valid."),
                field="id",
            )
        mine = Notification.objects.filter(user=request.user, read_at__isnull=True)
        if ids:
            mine = mine.filter(pk__in=ids)
        marked = mine.update(read_at=timezone.now())
        return JsonResponse({"marked_read": marked})
