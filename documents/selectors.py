"""Every non-trivial read of letters and exports, permission-aware."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cases import access
from cases.calendar import WorkingCalendar
from cases.clock import calendar_for
from cases.law import Citation
from cases.models import Agency, Appeal, Case, Role
from cases.rules import case_on_court_list
from documents.codes import verification_code_normalise
from documents.models import Export, Letter, LetterService


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


# The letters of a decision one can appeal: the decisions, the non-acceptance and the
# revocation (acceptance and missing-materials notices decide nothing).
APPEALABLE_LETTER_KINDS = (*DECISION_LETTER_KINDS, Letter.Kind.REVOCATION)


@dataclass(frozen=True)
class AppealPeriod:
    """One remedy against the decision and the last day to seek it."""

    kind: str
    ends_on: datetime.date
    basis: Citation

    @property
    def label(self) -> str:
        return str(Appeal.Kind(self.kind).label)

    @property
    def basis_text(self) -> str:
        return self.basis.render()


@dataclass(frozen=True)
class AppealWindow:
    """The appeal window of a case's decision, running from the service of its letter.

    ``state``: ``no_letter`` (no decision letter stored yet), ``not_served`` (stored, not
    yet served: the window has not started), ``open`` or ``ended``.
    """

    state: str
    letter: Letter | None = None
    service: LetterService | None = None
    periods: tuple[AppealPeriod, ...] = ()

    STATE_TEXT = {
        "no_letter": gettext_lazy("No decision letter yet: no appeal window."),
        "not_served": gettext_lazy(
            "The decision letter is not served yet: the appeal window starts when it is."
        ),
        "open": gettext_lazy("The appeal window is open."),
        "ended": gettext_lazy("The appeal window has ended."),
    }

    @property
    def text(self) -> str:
        return str(self.STATE_TEXT[self.state])

    @property
    def ends_on(self) -> datetime.date | None:
        return max((p.ends_on for p in self.periods), default=None)

    def as_data(self) -> dict:
        """The window as plain JSON (the API, the export manifest)."""
        return {
            "state": self.state,
            "letter": self.letter.verification_code if self.letter else None,
            "served_on": f"{self.service.served_on:%Y-%m-%d}" if self.service else None,
            "service_method": self.service.method if self.service else None,
            "ends_on": f"{self.ends_on:%Y-%m-%d}" if self.ends_on else None,
            "periods": [
                {
                    "kind": p.kind,
                    "ends_on": f"{p.ends_on:%Y-%m-%d}",
                    "basis": p.basis.zh,
                    "basis_en": p.basis.en,
                }
                for p in self.periods
            ],
        }


def appeal_letter(case: Case) -> Letter | None:
    """The stored letter of the case's latest appealable decision, or None."""
    return (
        case.letters.filter(kind__in=APPEALABLE_LETTER_KINDS, status=Letter.Status.ISSUED)
        .select_related("service")
        .order_by("-issued_at", "-id")
        .first()
    )


def _period_end(calendar: WorkingCalendar, day: datetime.date) -> datetime.date:
    """A period whose last day is a rest day ends on the next working day
    (《中华人民共和国民事诉讼法》第八十五条, which the reconsideration and litigation laws
    follow for periods they do not set)."""
    while not calendar.is_working_day(day):
        day += datetime.timedelta(days=1)
    return day


def appeal_periods(
    case: Case, served_on: datetime.date, *, calendar: WorkingCalendar | None = None
) -> tuple[AppealPeriod, ...]:
    """The remedies against the case's decision and their last days, counted in calendar
    days from service: reconsideration within 60 days (行政复议法第二十条), a suit within
    6 months (行政诉讼法第四十六条); the court's list: the higher court within 10 days. A
    last day that is a rest day moves to the next working day of the agency's calendar."""
    calendar = calendar or calendar_for(case.agency)
    if case_on_court_list(case):
        remedies = (
            (Appeal.Kind.HIGHER_COURT, datetime.timedelta(days=10), Citation("spc_debtors", 12)),
        )
    else:
        remedies = (
            (Appeal.Kind.RECONSIDERATION, datetime.timedelta(days=60), Citation("arl", 20, 1)),
            (Appeal.Kind.SUIT, relativedelta(months=6), Citation("all", 46, 1)),
        )
    return tuple(
        AppealPeriod(kind, _period_end(calendar, served_on + length), basis)
        for kind, length, basis in remedies
    )


def appeal_window(
    case: Case, *, today: datetime.date | None = None, issued: list[Letter] | None = None
) -> AppealWindow:
    """The case's appeal window as it stands (see ``AppealWindow``). ``issued``: the
    case's issued letters with their service, when the caller has read them already (the
    case page): the window's letter is then taken from them instead of read again."""
    if issued is None:
        letter = appeal_letter(case)
    else:
        appealable = [x for x in issued if x.kind in APPEALABLE_LETTER_KINDS]
        letter = max(appealable, key=lambda x: (x.issued_at, x.pk), default=None)
    if letter is None:
        return AppealWindow("no_letter")
    service = getattr(letter, "service", None)
    if service is None:
        return AppealWindow("not_served", letter=letter)
    periods = appeal_periods(case, service.served_on)
    today = today or timezone.localdate()
    state = "open" if max(p.ends_on for p in periods) >= today else "ended"
    return AppealWindow(state, letter=letter, service=service, periods=periods)


def letter_services_of(case: Case) -> QuerySet[LetterService]:
    """How each letter of the case was served, in order of service."""
    return case.letter_services.select_related("letter", "recorded_by").order_by("served_on", "id")


def letters_unserved(case: Case) -> QuerySet[Letter]:
    """The case's stored letters not yet served, oldest first."""
    return case.letters.filter(status=Letter.Status.ISSUED, service__isnull=True).order_by(
        "issued_at", "id"
    )
