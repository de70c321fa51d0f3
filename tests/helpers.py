"""What the case stories are made of: small valid uploads, listed records, API tokens.

The steps of the route (filing, uploading, claiming and doing tasks) are in
``tests.flow_helpers``, which takes them through ``workflows.actions`` as people do.
"""

from __future__ import annotations

import datetime
import io
import itertools

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfWriter

from cases.accounts import api_token_create
from cases.errors import UploadRejected
from cases.models import RuleSet
from cases.rules import rule_set_add_version, rule_set_in_force
from tests import factories

_serial = itertools.count(1)


def pdf_bytes(label: str = "") -> bytes:
    """A valid one-page PDF; each call gives different content (identical files de-duplicate)."""
    label = label or f"item {next(_serial)}"
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": f"{label} {next(_serial)}"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_upload(label: str = "", name: str = "evidence.pdf") -> ContentFile:
    return ContentFile(pdf_bytes(label), name=name)


def image_bytes(kind: str, size: tuple[int, int] = (1, 1)) -> bytes:
    """A valid PNG or JPEG; each call gives different content (its text or comment)."""
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (255, 255, 255))
    if kind == "PNG":
        text = PngInfo()
        text.add_text("serial", f"{next(_serial)}")
        image.save(buffer, "PNG", pnginfo=text)
    else:
        image.save(buffer, "JPEG", comment=f"{next(_serial)}".encode())
    return buffer.getvalue()


def png_upload(name: str = "photo.png") -> ContentFile:
    return ContentFile(image_bytes("PNG"), name=name)


def jpeg_upload(name: str = "scan.jpg") -> ContentFile:
    return ContentFile(image_bytes("JPEG"), name=name)


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def restorable_record(subject, agency, platforms=(), **fields):
    """A general penalty record whose minimum publication period ended 100 days ago."""
    fields.setdefault("listed_on", days_ago(200))
    fields.setdefault("restorable_from", days_ago(100))
    return factories.RecordFactory(
        subject=subject, agency=agency, published_on=list(platforms), **fields
    )


def agency_rules(agency, *, severity: str = "general", **values):
    """A rule version of the agency's own for ``severity`` penalties, in force since 2020,
    copied from the one in force today with ``values`` set: a story names the values it
    relies on instead of taking them from the seeds."""
    base = rule_set_in_force(
        list_type=factories.list_type(), severity=severity, on=timezone.localdate(), agency=agency
    )
    skip = {"id", "version", "created_at", "agency", "effective_from", "effective_until"}
    fields = {
        f.name: getattr(base, f.name) for f in RuleSet._meta.concrete_fields if f.name not in skip
    }
    fields.update(agency=agency, effective_from=datetime.date(2020, 1, 1), **values)
    return rule_set_add_version(**fields)


def serious_record(subject, agency, platforms=(), **fields):
    """A serious penalty record (legal review, two signers) that may be restored today."""
    fields.setdefault("listed_on", days_ago(500))
    fields.setdefault("restorable_from", days_ago(135))
    return factories.RecordFactory(
        subject=subject, agency=agency, severity="serious", published_on=list(platforms), **fields
    )


def refuse_every_upload(content: bytes) -> None:
    """A malware scanner for REDRESS_MALWARE_SCANNER that finds something in every file."""
    raise UploadRejected("The scanner found Eicar-Test-Signature.", code="malware_found")


def api_token(user) -> str:
    """The text of a new API token of ``user``, as a login through the API gives one."""
    _token, text = api_token_create(user=user)
    return text
