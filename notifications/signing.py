"""HMAC-SHA256 signatures for webhooks, both ways.

The signature covers the timestamp and the exact body bytes:
``v1=hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))``, sent as
``X-Redress-Timestamp`` and ``X-Redress-Signature``. A receiver recomputes it,
compares in constant time, refuses a timestamp more than ``tolerance`` seconds
away from its clock (stale or replayed), and keeps the ``Idempotency-Key`` of
what it processed so that a repeated delivery changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from django.utils.translation import gettext as _

TIMESTAMP_HEADER = "X-Redress-Timestamp"
SIGNATURE_HEADER = "X-Redress-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE = 300


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, idempotency_key: str, now: float | None = None):
    timestamp = int(now if now is not None else time.time())
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        IDEMPOTENCY_HEADER: idempotency_key,
    }


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature_value: str | None,
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Verdict:
    """Check a signed call; the reason says what was wrong, for the error response
    (in the active language: it is shown, never stored)."""
    if not secret:
        return Verdict(False, _("the platform has no shared secret configured"))
    if not timestamp or not signature_value:
        return Verdict(
            False,
            _("missing %(timestamp)s or %(signature)s")
            % {"timestamp": TIMESTAMP_HEADER, "signature": SIGNATURE_HEADER},
        )
    try:
        sent = int(timestamp)
    except ValueError:
        return Verdict(
            False, _("%(timestamp)s is not a Unix time") % {"timestamp": TIMESTAMP_HEADER}
        )
    current = now if now is not None else time.time()
    if abs(current - sent) > tolerance:
        return Verdict(
            False,
            _("stale call: the timestamp is more than %(tolerance)s s off")
            % {"tolerance": tolerance},
        )
    expected = signature(secret, sent, body)
    # Compare bytes: a header with non-ASCII characters is a mismatch, not a crash.
    if not hmac.compare_digest(expected.encode(), signature_value.encode("utf-8", "replace")):
        return Verdict(False, _("the signature does not match the body and timestamp"))
    return Verdict(True)
