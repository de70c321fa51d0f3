"""The endpoint platforms call back: ``POST /api/v1/platforms/<code>/acknowledgements/``.

A platform confirms, in a call signed like our webhooks, that it did what it was asked
with a record: withdrew it, shielded it during a reorganisation, or published it again
after a failed plan; the route moves on when every platform of the case has
(``workflows.actions``).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from cases.errors import RedressError
from cases.ids import id_parse, whole_number
from cases.models import Platform, Publication, PublicationEffect
from notifications import signing
from notifications.services import message_acknowledged, receipt_record, signature_remember
from workflows import actions

logger = logging.getLogger(__name__)

# What a platform may say it did (``status`` in its call); it must be what it was asked.
ACKNOWLEDGED_STATUSES = ("withdrawn", "shielded", "published")

logger = logging.getLogger(__name__)


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
    already received; neither changes anything. The body names the publication, its
    ``status`` (``withdrawn``, the default, or ``published`` for a record published again
    after a revocation or a revocation decision) and, optionally, the idempotency key
    of our request it answers. Instead of the publication it may name one ``effect`` of
    a withdrawal (decision 0024); a publication acknowledged as a whole acknowledges
    every effect of it. A publication or an effect the platform was never asked about
    is refused with 404 and logged.
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
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        if "effect" in data:
            return self.acknowledge_effect(platform, key, data)
        raw = data.get("publication")
        if whole_number(raw) is None:  # a JSON integer (or a string of ASCII digits)
            return error(
                400,
                "invalid_input",
                _("The body must be JSON with a numeric 'publication' or 'effect'."),
                field="publication",
            )
        status = data.get("status")
        if status is not None and status not in ACKNOWLEDGED_STATUSES:
            return error(
                400,
                "invalid_input",
                _("Only status 'withdrawn', 'shielded' or 'published' can be acknowledged."),
                field="status",
            )
        publication_id = id_parse(raw)  # None: a number no publication can have
        publication = (
            Publication.objects.filter(pk=publication_id, platform=platform).first()
            if publication_id is not None
            else None
        )
        if publication is None:
            logger.warning(
                "Refused: %s acknowledged publication %r, which it was never sent",
                platform.code,
                raw,
            )
            return error(404, "not_found", _("This platform holds no such publication."))
        try:
            with transaction.atomic():
                if not receipt_record(
                    platform=platform, idempotency_key=key, outcome="acknowledged"
                ):
                    return error(
                        409, "replayed", _("This call was already received; nothing changed.")
                    )
                actions.publication_acknowledge(
                    publication=publication, note=str(data.get("note", ""))[:500], status=status
                )
                message_acknowledged(
                    platform=platform, idempotency_key=str(data.get("idempotency_key", ""))
                )
        except RedressError as exc:
            logger.warning(
                "Refused: %s acknowledged publication %s (%s): %s",
                platform.code,
                publication.pk,
                publication.status,
                exc.code,
            )
            extra = {"field": exc.field} if exc.field else {}
            return error(exc.http_status, exc.code, exc.message, **extra)
        publication.refresh_from_db()
        return JsonResponse({"status": publication.status, "publication": publication.pk})

    def acknowledge_effect(self, platform: Platform, key: str, data: dict):
        """One effect of a repair (``"effect": <id>`` from our withdrawal's ``effects``):
        publication ended, sharing stopped or a measure lifted (decision 0024). The same
        effect again counts once; one this platform was never asked for is refused."""
        raw = data.get("effect")
        if whole_number(raw) is None:
            return error(
                400,
                "invalid_input",
                _("The body must be JSON with a numeric 'effect'."),
                field="effect",
            )
        if data.get("status") not in (None, "withdrawn"):
            return error(
                400,
                "invalid_input",
                _("An effect can only be acknowledged as done (status 'withdrawn' or none)."),
                field="status",
            )
        effect_id = id_parse(raw)
        effect = (
            PublicationEffect.objects.filter(pk=effect_id, publication__platform=platform)
            .select_related("publication")
            .first()
            if effect_id is not None
            else None
        )
        if effect is None:
            logger.warning(
                "Platform %s acknowledged effect %r, which it was never asked for",
                platform.code,
                raw,
            )
            return error(404, "not_found", _("This platform was never asked for such an effect."))
        try:
            with transaction.atomic():
                if not receipt_record(
                    platform=platform, idempotency_key=key, outcome="acknowledged"
                ):
                    return error(
                        409, "replayed", _("This call was already received; nothing changed.")
                    )
                effect = actions.effect_acknowledge(
                    effect=effect, note=str(data.get("note", ""))[:500]
                )
                message_acknowledged(
                    platform=platform, idempotency_key=str(data.get("idempotency_key", ""))
                )
        except RedressError as exc:
            extra = {"field": exc.field} if exc.field else {}
            return error(exc.http_status, exc.code, exc.message, **extra)
        publication = effect.publication
        publication.refresh_from_db()
        return JsonResponse(
            {
                "status": publication.status,
                "publication": publication.pk,
                "effect": effect.pk,
                "kind": effect.kind,
                "acknowledged": effect.acknowledged_at is not None,
            }
        )
