"""HMAC-SHA256 signatures for webhooks, both ways.

Two versions of the signed string, sent as ``X-Redress-Timestamp`` and
``X-Redress-Signature``:

- ``v1=hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))``: the timestamp and the exact
  body bytes. What Redress sends, and what platforms integrated before v2 send us.
- ``v2=hex(HMAC-SHA256(secret, f"{timestamp}\\n{idempotency_key}\\n{body}"))``: the
  ``Idempotency-Key`` header is signed too, so nobody can resend a captured call under a
  new key. A newline cannot occur in a header value, so the three parts cannot be
  shifted into one another. Accepted on acknowledgements alongside v1.

Redress's own webhooks carry their key inside the signed body as well
(``"idempotency_key"``), so a v1 receiver is covered without a new header format: it
takes the key from the body, or refuses a call whose header key differs from it.

A receiver recomputes the signature, compares in constant time, refuses a timestamp
more than ``tolerance`` seconds away from its clock, and refuses a signature it has
already accepted within that window (a replay, whatever key it carries).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from cases.ids import whole_number

TIMESTAMP_HEADER = "X-Redress-Timestamp"
SIGNATURE_HEADER = "X-Redress-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE = 300
VERSIONS = ("v1", "v2")


def signed_string(
    timestamp: int | str, body: bytes, *, version: str = "v1", idempotency_key: str = ""
) -> bytes:
    """The bytes a signature of ``version`` covers."""
    if version == "v1":
        return f"{timestamp}.".encode() + body
    if version == "v2":
        if not idempotency_key or "\n" in idempotency_key or "\r" in idempotency_key:
            raise ValueError("A v2 signature needs an idempotency key on one line.")
        return f"{timestamp}\n{idempotency_key}\n".encode() + body
    raise ValueError(f"Unknown signature version {version!r}; expected one of {VERSIONS}.")


def signature(
    secret: str,
    timestamp: int | str,
    body: bytes,
    *,
    version: str = "v1",
    idempotency_key: str = "",
) -> str:
    message = signed_string(timestamp, body, version=version, idempotency_key=idempotency_key)
    mac = hmac.new(secret.encode(), message, hashlib.sha256)
    return f"{version}={mac.hexdigest()}"


def signed_headers(
    secret: str,
    body: bytes,
    *,
    idempotency_key: str,
    now: float | None = None,
    version: str = "v1",
):
    timestamp = int(now if now is not None else time.time())
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(
            secret, timestamp, body, version=version, idempotency_key=idempotency_key
        ),
        IDEMPOTENCY_HEADER: idempotency_key,
    }


@dataclass(frozen=True)
class Verdict:
    """Whether a call verified; for one that did, which signature and the time it carries
    (what a receiver remembers to refuse a replay)."""

    ok: bool
    reason: str = ""
    signature: str = field(default="", compare=False)
    signed_at: datetime.datetime | None = field(default=None, compare=False)


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature_value: str | None,
    body: bytes,
    idempotency_key: str | None = None,
    versions: tuple[str, ...] = VERSIONS,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Verdict:
    """Check a signed call; the reason says what was wrong, for the error response
    (in the active language: it is shown, never stored).

    ``versions`` are the signature versions accepted; a v2 signature is checked against
    ``idempotency_key`` (the ``Idempotency-Key`` header as received).
    """
    if not secret:
        return Verdict(False, _("the platform has no shared secret configured"))
    if not timestamp or not signature_value:
        return Verdict(
            False,
            _("missing %(timestamp)s or %(signature)s")
            % {"timestamp": TIMESTAMP_HEADER, "signature": SIGNATURE_HEADER},
        )
    sent = whole_number(timestamp)
    if sent is None:
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
    version = signature_value.split("=", 1)[0].strip()
    if version not in VERSIONS:
        version = "v1"  # an unknown form is compared as v1, and does not match
    if version not in versions:
        return Verdict(
            False,
            _("%(version)s signatures are no longer accepted: sign with %(accepted)s")
            % {"version": version, "accepted": ", ".join(versions)},
        )
    try:
        expected = signature(
            secret, sent, body, version=version, idempotency_key=idempotency_key or ""
        )
    except ValueError:  # v2 without a usable key
        expected = ""
    # Compare bytes: a header with non-ASCII characters is a mismatch, not a crash.
    given = signature_value.encode("utf-8", "replace")
    if not expected or not hmac.compare_digest(expected.encode(), given):
        if version == "v2":
            return Verdict(
                False,
                _("the signature does not match the body, timestamp and %(key)s")
                % {"key": IDEMPOTENCY_HEADER},
            )
        return Verdict(False, _("the signature does not match the body and timestamp"))
    signed_at = datetime.datetime.fromtimestamp(sent, tz=datetime.UTC)
    return Verdict(True, signature=expected, signed_at=signed_at)
