"""Checking an uploaded file before anything of it is kept.

The type is decided by the content (magic numbers via puremagic), never by the
name or the browser's claim; only PDF, PNG and JPEG are taken. The name is kept
only as a sanitised label; the file is stored under a random name. A malware
scanner can be plugged in with ``REDRESS_MALWARE_SCANNER`` (a dotted path to a
callable taking the bytes and raising ``UploadRejected``); ClamAV through its
daemon is the documented option.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import puremagic
from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from cases.errors import UploadRejected

ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
}


@dataclass(frozen=True)
class CheckedUpload:
    content: bytes
    content_type: str
    sha256: str
    size: int
    name: str


def sanitise_name(name: str) -> str:
    """A display label for the uploaded name: no path, no control characters, ≤ 120 chars."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C"
    )
    name = name.strip().lstrip(".") or "upload"
    return name[:120]


def upload_check(uploaded, *, max_bytes: int | None = None) -> CheckedUpload:
    """Read and check an uploaded file (Django ``UploadedFile`` or any file object)."""
    limit = max_bytes or settings.REDRESS_UPLOAD_MAX_BYTES
    declared = getattr(uploaded, "size", None)
    limit_mb = f"{limit / 1_048_576:.0f}"
    if declared is not None and declared > limit:
        raise UploadRejected(
            _("The file is %(size)s MB; the limit is %(limit)s MB.")
            % {"size": f"{declared / 1_048_576:.1f}", "limit": limit_mb},
            code="too_large",
        )
    content = uploaded.read(limit + 1)
    if len(content) > limit:
        raise UploadRejected(
            _("The file is larger than the %(limit)s MB limit.") % {"limit": limit_mb},
            code="too_large",
        )
    if not content:
        raise UploadRejected(_("The file is empty."), code="empty")
    try:
        detected = puremagic.from_string(content, mime=True)
    except puremagic.PureError:
        detected = ""
    if detected not in ALLOWED_TYPES:
        if detected:
            message = _(
                "Only PDF, PNG and JPEG files are accepted (it looks like %(type)s); "
                "the file name does not decide this."
            ) % {"type": detected}
        else:
            message = _(
                "Only PDF, PNG and JPEG files are accepted; the file name does not decide this."
            )
        raise UploadRejected(message, code="type_not_allowed")
    scanner_path = getattr(settings, "REDRESS_MALWARE_SCANNER", "")
    if scanner_path:
        import_string(scanner_path)(content)
    return CheckedUpload(
        content=content,
        content_type=detected,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        name=sanitise_name(getattr(uploaded, "name", "") or "upload"),
    )
