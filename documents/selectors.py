"""Every non-trivial read of letters and exports, permission-aware."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from cases import access
from cases.models import Agency, Case, Role
from documents.codes import verification_code_normalise
from documents.models import Export, Letter


def letters_failed_for(user: AbstractBaseUser) -> QuerySet[Letter]:
    """Failed letters of the agencies where ``user`` is a supervisor, oldest first."""
    if not user.is_authenticated:
        return Letter.objects.none()
    return (
        Letter.objects.filter(
            status=Letter.Status.FAILED,
            case__agency_id__in=access.agencies_of(user, Role.SUPERVISOR),
        )
        .select_related("case", "case__agency", "case__subject")
        .order_by("failed_at", "id")
    )


def letter_of_supervised_agency(user: AbstractBaseUser, pk: int) -> Letter | None:
    """The letter ``pk`` if it is of an agency where ``user`` is a supervisor, else None."""
    if not user.is_authenticated:
        return None
    return (
        Letter.objects.filter(pk=pk, case__agency_id__in=access.agencies_of(user, Role.SUPERVISOR))
        .select_related("case__agency")
        .first()
    )


def letters_of_case(case: Case) -> QuerySet[Letter]:
    return case.letters.order_by("issued_at", "id")


def letter_by_code(code: str) -> Letter | None:
    """The issued letter with this verification code, or None (malformed, unknown, unissued)."""
    normalised = verification_code_normalise(code)
    if normalised is None:
        return None
    return (
        Letter.objects.filter(verification_code=normalised, status=Letter.Status.ISSUED)
        .select_related("case", "case__agency")
        .first()
    )


def letters_for_attachment(case: Case, *, language: str) -> list[tuple[str, bytes]]:
    """The case's issued letters as (file name, bytes), the newest of each kind.

    In ``language`` where the case has letters in it, otherwise in any language.
    """
    issued = case.letters.filter(status=Letter.Status.ISSUED).order_by("-issued_at", "-id")
    chosen = issued.filter(language=language)
    if not chosen.exists():
        chosen = issued
    latest: dict[str, Letter] = {}
    for letter in chosen:
        latest.setdefault(letter.kind, letter)
    attachments = []
    for letter in sorted(latest.values(), key=lambda item: (item.issued_at, item.pk)):
        with letter.pdf.open("rb") as handle:
            attachments.append((letter.file_name, handle.read()))
    return attachments


def exports_for(user: AbstractBaseUser) -> QuerySet[Export]:
    """Exports of the agencies ``user`` audits, newest first."""
    if not user.is_authenticated:
        return Export.objects.none()
    return Export.objects.filter(
        agency_id__in=access.agencies_of(user, Role.AUDITOR)
    ).select_related("agency", "requested_by")


def audited_agencies(user: AbstractBaseUser) -> QuerySet[Agency]:
    """The agencies ``user`` audits (whose decisions they may export), by code."""
    if not user.is_authenticated:
        return Agency.objects.none()
    return Agency.objects.filter(pk__in=access.agencies_of(user, Role.AUDITOR)).order_by("code")


DECISION_LETTER_KINDS = (
    Letter.Kind.APPROVAL,
    Letter.Kind.REJECTION,
    Letter.Kind.NON_ACCEPTANCE,
    Letter.Kind.TEMPORARY_RESTORATION,
)


def decision_letters_issued() -> QuerySet[Letter]:
    """Stored letters that serve a decision (or a non-acceptance)."""
    return Letter.objects.filter(kind__in=DECISION_LETTER_KINDS, status=Letter.Status.ISSUED)


def decision_letter_issued(case: Case) -> bool:
    """Whether the letter serving the case's decision (or non-acceptance) is stored."""
    return decision_letters_issued().filter(case=case).exists()
