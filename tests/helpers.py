"""What the case stories share: small valid uploads, and the steps of the route.

Each step calls the services as the people of the story would; a helper names who
acts so that the test still reads as the story of that person.
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

from cases.models import Case, Evidence, Material
from cases.portal_services import api_token_create
from cases.services import (
    case_accept,
    case_review_complete,
    case_submit,
    evidence_add,
    evidence_review,
)
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


def serious_record(subject, agency, platforms=(), **fields):
    """A serious penalty record (legal review, two signers) that may be restored today."""
    fields.setdefault("listed_on", days_ago(500))
    fields.setdefault("restorable_from", days_ago(135))
    return factories.RecordFactory(
        subject=subject, agency=agency, severity="serious", published_on=list(platforms), **fields
    )


def submit(kind, subject, records, applicant, **kwargs) -> Case:
    kwargs.setdefault("grounds", "The fine was paid and the conduct corrected.")
    return case_submit(kind=kind, subject=subject, records=records, applicant=applicant, **kwargs)


def add_evidence(case, user, material=Material.OTHER, record=None, **kwargs) -> Evidence:
    return evidence_add(
        case=case,
        uploaded_by=user,
        upload=pdf_upload(material),
        material=material,
        record=record,
        **kwargs,
    )


def add_restoration_materials(case, applicant) -> list[Evidence]:
    """A commitment letter per record and one proof that the penalty was fulfilled."""
    items = [
        add_evidence(case, applicant, Material.COMMITMENT_LETTER, record=cr.record)
        for cr in case.case_records.select_related("record")
    ]
    items.append(add_evidence(case, applicant, Material.FULFILMENT_PROOF))
    return items


def restoration_accepted(subject, records, applicant, staff) -> Case:
    case = submit(Case.Kind.RESTORATION, subject, records, applicant)
    add_restoration_materials(case, applicant)
    return case_accept(case=case, officer=staff["intake"])


def objection_accepted(subject, records, applicant, staff) -> Case:
    case = submit(
        Case.Kind.OBJECTION, subject, records, applicant, grounds="The decision names a branch."
    )
    add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)
    return case_accept(case=case, officer=staff["intake"])


def review_every_item(case, officer, outcome=Evidence.Outcome.ACCEPTED, reason="") -> None:
    for item in case.evidence.all():
        evidence_review(evidence=item, reviewer=officer, outcome=outcome, reason=reason)


def review_and_recommend(
    case, officer, recommendation, record_outcomes=None, corrections=None
) -> Case:
    """The case officer accepts every item and completes the review with a recommendation."""
    review_every_item(case, officer)
    return case_review_complete(
        case=case,
        reviewer=officer,
        recommendation=recommendation,
        record_outcomes=record_outcomes,
        corrections=corrections,
    )


def event_kinds(case) -> list[str]:
    return list(case.events.order_by("seq").values_list("kind", flat=True))


def last_event(case, kind):
    """The case's latest event of ``kind`` (other events, e.g. notifications, may follow it)."""
    return case.events.filter(kind=kind).latest("seq")


def refuse_every_upload(content: bytes) -> None:
    """A malware scanner for REDRESS_MALWARE_SCANNER that finds something in every file."""
    from cases.errors import UploadRejected

    raise UploadRejected("The scanner found Eicar-Test-Signature.", code="malware_found")


def api_token(user) -> str:
    """The text of a new API token of ``user``, as a login through the API gives one."""
    _token, text = api_token_create(user=user)
    return text
