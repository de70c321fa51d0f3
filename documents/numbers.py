"""Document numbers (文号) of the letters that decide, per agency and year, without gaps.

A letter that decides something (non-acceptance, a decision on the request, a temporary
restoration, a revocation) carries the agency's number for it, in the agency's pattern
(``Agency.document_number_pattern``, e.g. 深市监信修〔{year}〕{seq}号). The number is
drawn in the transaction that decides: the agency's counter row for the year is locked
(``select_for_update``) until that transaction ends, so two decisions at the same moment
get consecutive numbers, and a decision that rolls back gives its number back. Notices
that decide nothing (acceptance, missing materials, the public withdrawal notice) carry
the case reference only.
"""

from __future__ import annotations

from django.db import transaction

from cases.models import Agency, Case, document_number_format
from documents.models import DocumentNumberCounter, Letter

K = Letter.Kind
DECIDING_KINDS = (
    K.NON_ACCEPTANCE,
    K.APPROVAL,
    K.REJECTION,
    K.TEMPORARY_RESTORATION,
    K.PLAN_FAILED,
    K.REVOCATION,
)


def document_number_next(agency: Agency, year: int) -> str:
    """The agency's next number of ``year``, counted in the caller's transaction."""
    with transaction.atomic():
        DocumentNumberCounter.objects.bulk_create(
            [DocumentNumberCounter(agency=agency, year=year, last=0)], ignore_conflicts=True
        )
        counter = DocumentNumberCounter.objects.select_for_update().get(agency=agency, year=year)
        counter.last += 1
        counter.save(update_fields=["last"])
    return document_number_format(agency.document_number_pattern, year=year, seq=counter.last)


def document_number_for(case: Case, kind: str, year: int) -> str:
    """The number a new letter of ``kind`` carries: none for a notice that decides nothing;
    the same number as an earlier letter of the same decision (another language, a copy)."""
    if kind not in DECIDING_KINDS:
        return ""
    earlier = (
        Letter.objects.filter(case=case, kind=kind)
        .exclude(document_number="")
        .values_list("document_number", flat=True)
        .first()
    )
    return earlier or document_number_next(case.agency, year)
