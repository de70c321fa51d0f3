"""Every write of the documents app: request, render, fail, retry a letter; request an export.

A letter is requested in the transaction of the decision it serves
(``letter_request``): its text is fixed then, the PDF is made afterwards by a
worker (``documents.render_letter``), so no request waits for WeasyPrint. A broker
that is down loses nothing: the row waits as ``pending`` and the sweep
(``documents.render_pending``) renders it.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import tempfile

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases import access
from cases.broker import task_send
from cases.errors import Duplicate, InvalidInput, WrongState
from cases.events import case_lock, event_record
from cases.held import held_by_pk
from cases.models import Agency, Case, Role
from cases.selectors import service_consent_in_force
from documents.codes import verification_code_new
from documents.content import (
    SPECIMEN_SEAL_SRC,
    agency_seal,
    final_signers,
    letter_html,
    seal_source,
)
from documents.exports import export_write
from documents.models import Export, Letter, LetterService
from documents.numbers import document_number_for
from documents.rendering import pdf_identifier, pdf_render
from documents.signals import letter_stored

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # the first try and five retries
PENDING_GRACE = datetime.timedelta(minutes=1)
STALE_RENDERING = datetime.timedelta(minutes=15)
STALE_EXPORT = datetime.timedelta(hours=6)
SYSTEM_ROLE = "system"

DECISION_KINDS = {
    Case.Decision.APPROVED: Letter.Kind.APPROVAL,
    Case.Decision.PARTLY_APPROVED: Letter.Kind.APPROVAL,
    Case.Decision.REJECTED: Letter.Kind.REJECTION,
}


SIGNED_LETTER_KINDS = (
    Letter.Kind.APPROVAL,
    Letter.Kind.REJECTION,
    Letter.Kind.TEMPORARY_RESTORATION,
)


class SealMissing(Exception):
    """Production issues no letter under the specimen seal: the agency must upload its own."""


class LetterRenderError(Exception):
    """Rendering or storing a letter failed; ``final`` when the letter was marked failed."""

    def __init__(self, message: str, *, final: bool = False):
        super().__init__(message)
        self.final = final


def letter_kind_for_decision(case: Case) -> str:
    """The decision letter a decided case needs (approval or rejection; a temporary
    restoration granted during reorganisation has its own)."""
    if case.kind == Case.Kind.REORGANISATION and case.decision in (
        Case.Decision.APPROVED,
        Case.Decision.PARTLY_APPROVED,
    ):
        return Letter.Kind.TEMPORARY_RESTORATION
    try:
        return DECISION_KINDS[case.decision]
    except KeyError:
        raise WrongState(
            _("Case %(reference)s is not decided.") % {"reference": case.reference},
            code="not_decided",
        ) from None


# --- requesting --------------------------------------------------------------------


def letter_request(
    case: Case,
    kind: str,
    *,
    language: str | None = None,
    decided_by: AbstractBaseUser | None = None,
    reapply_from: datetime.date | None = None,
) -> Letter:
    """Ask for a letter of ``kind``; its text is fixed now, its PDF made by a worker.

    Call it inside the transaction of the decision the letter serves (after the
    case service ran): the letter then exists exactly when the decision does, and
    the worker is asked for it only once that transaction commits. ``language``
    defaults to the case's; ``decided_by`` names the person whose decision the letter
    serves (for a signed decision, the signers are taken from the sign-off).
    """
    if kind not in Letter.Kind.values:
        raise InvalidInput(_("Unknown letter kind %(kind)s.") % {"kind": repr(kind)}, field="kind")
    language = language or case.language
    # The case a step's completion holds (locked, with its subject, agency and rule set) is
    # the one to print; otherwise it is read with what the letter needs.
    case = held_by_pk(case.pk) or (
        Case.objects.select_related("subject", "agency", "rule_set__list_type").get(pk=case.pk)
    )
    issued_at = timezone.now().replace(microsecond=0)
    signers = final_signers(case) if kind in SIGNED_LETTER_KINDS else []
    # Drawn here, in the transaction that decides: a rollback gives the number back.
    document_number = document_number_for(case, kind, timezone.localdate(issued_at).year)
    for _attempt in range(5):
        code = verification_code_new()
        html, template, rule_version = letter_html(
            case,
            kind,
            language,
            code=code,
            issued_at=issued_at,
            reapply_from=reapply_from,
            document_number=document_number,
        )
        letter = Letter(
            case=case,
            kind=kind,
            language=language,
            document_number=document_number,
            verification_code=code,
            issued_at=issued_at,
            decided_by=decided_by,
            signers=signers,
            template_version=template.version,
            template_sha256=template.sha256,
            rule_version=rule_version,
            html=html,
        )
        # The case and the decider are the instances at hand: not looked up again.
        letter.full_clean(exclude=["pdf", "verification_code", "case", "decided_by"])
        try:
            with transaction.atomic():
                letter.save()
        except IntegrityError:
            if Letter.objects.filter(verification_code=code).exists():
                continue  # a one-in-10^14 collision: draw another code
            raise
        transaction.on_commit(lambda pk=letter.pk: letter_enqueue(pk))
        return letter
    raise RuntimeError("Could not draw a unique verification code.")


def letter_enqueue(letter_id: int) -> None:
    """Ask a worker to render the letter; if the broker is down, the sweep will."""
    # By name: documents.tasks imports this module (the task runs these services).
    render_letter = current_app.tasks["documents.render_letter"]
    try:
        # Fail fast when the broker is down; the sweep renders the letter later.
        task_send(render_letter, (letter_id,))
    except Exception:  # noqa: BLE001 - broker down: the sweep picks the letter up later
        logger.warning("Broker unavailable; letter %s waits for the sweep", letter_id)


# --- rendering ---------------------------------------------------------------------------


def letter_pdf(letter: Letter) -> bytes:
    """Render the letter's stored HTML: the same letter always gives the same bytes."""
    return pdf_render(
        letter.html,
        issued_at=letter.issued_at,
        identifier=pdf_identifier(f"{letter.verification_code}:{letter.issued_at.isoformat()}"),
    )


def letter_storage_name(letter: Letter) -> str:
    return f"{letter.case.reference}/{letter.file_name}"


def letter_render_now(letter: Letter, *, final_attempt: bool = False) -> Letter:
    """Render, store and issue a pending letter, in this process.

    Used by the worker's task, the sweep and tests. A letter that is not pending
    (issued, being rendered elsewhere, failed) is returned as it is. On failure the
    letter goes back to ``pending`` with the error and ``LetterRenderError`` is
    raised; after ``MAX_ATTEMPTS`` tries (or with ``final_attempt``) it goes to
    ``failed`` instead, where supervisors see it (``letters_failed_for``) and can
    re-queue it (``letter_retry``).
    """
    now = timezone.now()
    claimed = Letter.objects.filter(pk=letter.pk, status=Letter.Status.PENDING).update(
        status=Letter.Status.RENDERING,
        render_started_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if not claimed:
        letter.refresh_from_db()
        return letter
    letter.status, letter.render_started_at, letter.updated_at = Letter.Status.RENDERING, now, now
    letter.attempts += 1  # as the database counted it, unless this instance was stale
    try:
        letter = letter_seal_check(letter)
        content = letter_pdf(letter)
        sha256 = hashlib.sha256(content).hexdigest()
        storage = Letter.storage()
        name = letter_storage_name(letter)
        if storage.exists(name):
            # Left by an attempt whose transaction did not commit: not an issued letter.
            storage.delete(name)
        name = storage.save(name, ContentFile(content))
        with transaction.atomic():
            letter = letter_issue(letter, name=name, sha256=sha256, size=len(content))
    except Exception as exc:
        # A missing seal is not a passing fault: the supervisors see it at once.
        final = final_attempt or letter.attempts >= MAX_ATTEMPTS or isinstance(exc, SealMissing)
        error = (str(exc) if isinstance(exc, SealMissing) else f"{type(exc).__name__}: {exc}")[
            :2000
        ]
        logger.exception("Letter %s (attempt %s) failed to render", letter.pk, letter.attempts)
        if final:
            letter_fail(letter, error=error)
        else:
            Letter.objects.filter(pk=letter.pk, status=Letter.Status.RENDERING).update(
                status=Letter.Status.PENDING, last_error=error, updated_at=timezone.now()
            )
        letter.refresh_from_db()
        raise LetterRenderError(error, final=final) from exc
    return letter


def letter_seal_check(letter: Letter) -> Letter:
    """Refuse a letter under the specimen seal where it is not allowed (production).

    A letter requested before its agency uploaded a seal takes the seal now (the seal is
    no part of the letter's text, and the letter is not issued yet); without one the
    render fails with a message the supervisors' problems page shows (decision 0021).
    """
    if settings.REDRESS_SPECIMEN_SEAL or f'src="{SPECIMEN_SEAL_SRC}"' not in letter.html:
        return letter
    agency = letter.case.agency
    if agency_seal(agency) is None:
        with translation.override(settings.LANGUAGE_CODE):
            raise SealMissing(
                _(
                    "%(agency)s has no seal image of its own, and a letter is not issued under "
                    "the specimen seal. Upload the agency's seal (PNG or JPEG) in the admin, "
                    "then render the letter again."
                )
                % {"agency": agency.name}
            )
    letter.html = letter.html.replace(
        f'src="{SPECIMEN_SEAL_SRC}"', f'src="{seal_source(letter.case)}"'
    )
    Letter.objects.filter(pk=letter.pk).update(html=letter.html)
    return letter


def letter_issue(letter: Letter, *, name: str, sha256: str, size: int) -> Letter:
    """Record a stored PDF as the issued letter, in the case's event log.

    The system issues the letter on a person's decision: the event is automated,
    has no actor, and names the decision's signers (or the deciding officer).
    """

    case = case_lock(letter.case_id)
    status = Letter.objects.select_for_update().values_list("status", flat=True).get(pk=letter.pk)
    if status != Letter.Status.RENDERING:
        raise WrongState(
            _("Letter %(letter)s is %(status)s: it cannot be issued now.")
            % {"letter": letter.pk, "status": Letter.Status(status).label}
        )
    letter.case = case
    letter.status = Letter.Status.ISSUED
    letter.pdf.name = name
    letter.sha256 = sha256
    letter.size = size
    letter.stored_at = timezone.now()
    letter.last_error = ""
    letter.save(
        update_fields=["status", "pdf", "sha256", "size", "stored_at", "last_error", "updated_at"]
    )
    data = {
        "kind": letter.kind,
        "language": letter.language,
        "sha256": sha256,
        "verification_code": letter.verification_code,
        "template_version": letter.template_version,
        "template_sha256": letter.template_sha256,
        "rule_version": letter.rule_version,
    }
    if letter.signers:
        data["signers"] = letter.signers
    if letter.decided_by_id:
        data["decided_by"] = letter.decided_by.get_username()
    with translation.override("en"):  # system notes in the log are English, as elsewhere
        kind_name = letter.get_kind_display()
    event_record(
        case,
        "letter_issued",
        actor=None,
        role=SYSTEM_ROLE,
        automated=True,
        data=data,
        note=f"{kind_name} {letter.code_display}",
    )
    transaction.on_commit(
        lambda: letter_stored.send(sender=Letter, letter=letter, case=letter.case)
    )
    return letter


def letter_fail(letter: Letter, *, error: str) -> Letter:
    """Give up rendering a letter: supervisors see it as failed and can re-queue it."""

    with transaction.atomic():
        case = case_lock(letter.case_id)
        updated = Letter.objects.filter(
            pk=letter.pk, status__in=[Letter.Status.RENDERING, Letter.Status.PENDING]
        ).update(
            status=Letter.Status.FAILED,
            last_error=error,
            failed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if updated:
            event_record(
                case,
                "letter_failed",
                actor=None,
                role=SYSTEM_ROLE,
                automated=True,
                note=error[:500],
                data={
                    "kind": letter.kind,
                    "verification_code": letter.verification_code,
                    "attempts": letter.attempts,
                },
            )
    letter.refresh_from_db()
    return letter


def letter_retry(letter: Letter, *, by: AbstractBaseUser) -> Letter:
    """A supervisor of the case's agency re-queues a failed letter (its text is unchanged)."""

    with transaction.atomic():
        case = case_lock(letter.case_id)
        access.ensure_role(by, Role.SUPERVISOR, case.agency, action=_("re-queue a letter"))
        letter = Letter.objects.select_for_update().get(pk=letter.pk)
        if letter.status != Letter.Status.FAILED:
            raise WrongState(
                _("Letter %(code)s is %(status)s: only a failed letter can be re-queued.")
                % {"code": letter.code_display, "status": letter.get_status_display().lower()},
                code="wrong_state",
            )
        letter.status = Letter.Status.PENDING
        letter.attempts = 0
        letter.failed_at = None
        letter.save(update_fields=["status", "attempts", "failed_at", "updated_at"])
        event_record(
            case,
            "letter_requeued",
            actor=by,
            role=Role.SUPERVISOR,
            note=letter.last_error[:500],
            data={"kind": letter.kind, "verification_code": letter.verification_code},
        )
        transaction.on_commit(lambda pk=letter.pk: letter_enqueue(pk))
    return letter


def letters_render_pending(*, limit: int = 100, now: datetime.datetime | None = None) -> int:
    """Render letters left pending for over a minute (broker down, worker lost).

    A letter stuck in ``rendering`` for a quarter of an hour lost its worker: it
    goes back to pending first. Returns how many letters were issued.
    """
    now = now or timezone.now()
    Letter.objects.filter(
        status=Letter.Status.RENDERING, render_started_at__lt=now - STALE_RENDERING
    ).update(status=Letter.Status.PENDING, updated_at=now)
    due = list(
        Letter.objects.filter(status=Letter.Status.PENDING, updated_at__lt=now - PENDING_GRACE)
        .order_by("updated_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    issued = 0
    for pk in due:
        letter = Letter.objects.get(pk=pk)
        try:
            letter = letter_render_now(letter)
        except LetterRenderError:
            continue
        issued += letter.status == Letter.Status.ISSUED
    return issued


# --- exports -----------------------------------------------------------------------------


def export_request(
    *, agency: Agency, date_from: datetime.date, date_to: datetime.date, requested_by
) -> Export:
    """An auditor of ``agency`` asks for its decisions of a period; a worker writes the ZIP."""
    access.ensure_role(requested_by, Role.AUDITOR, agency, action=_("export its decisions"))
    if date_to < date_from:
        raise InvalidInput(_("The period ends before it starts."), field="date_to")
    with transaction.atomic():
        export = Export(
            agency=agency, date_from=date_from, date_to=date_to, requested_by=requested_by
        )
        export.full_clean(exclude=["file"])
        export.save()
        transaction.on_commit(lambda pk=export.pk: export_enqueue(pk))
    return export


def export_enqueue(export_id: int) -> None:
    """Ask a worker to write the export; if the broker is down, the sweep will."""
    export_decisions = current_app.tasks["documents.export_decisions"]
    try:
        export_decisions.apply_async((export_id,), retry=False)
    except Exception:  # noqa: BLE001 - broker down: the sweep starts it later
        logger.warning("Broker unavailable; export %s waits for the sweep", export_id)


def export_run(export: Export) -> Export:
    """Write the export's ZIP to the exports storage, recording progress as it goes."""
    claimed = Export.objects.filter(pk=export.pk, status=Export.Status.PENDING).update(
        status=Export.Status.RUNNING, started_at=timezone.now(), done=0, error=""
    )
    export.refresh_from_db()
    if not claimed:
        return export

    def progress(done: int, total: int) -> None:
        Export.objects.filter(pk=export.pk).update(done=done, total=total)

    try:
        with tempfile.TemporaryFile() as handle:
            summary = export_write(
                handle,
                agency=export.agency,
                date_from=export.date_from,
                date_to=export.date_to,
                progress=progress,
            )
            handle.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
            size = handle.tell()
            handle.seek(0)
            name = (
                f"{export.agency.code}/{export.agency.code}-decisions-"
                f"{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}-{export.pk}.zip"
            )
            storage = Export.storage()
            name = storage.save(name, File(handle, name=name))
    except Exception as exc:
        logger.exception("Export %s failed", export.pk)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        export.refresh_from_db()
        raise
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE,
        file=name,
        sha256=digest.hexdigest(),
        size=size,
        cases=summary.cases,
        letters=summary.letters,
        done=summary.letters,
        total=summary.letters,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export


def exports_start_pending(*, now: datetime.datetime | None = None) -> int:
    """Queue exports left pending for over a minute (broker down when they were asked for).

    An export ``running`` for six hours lost its worker: it is queued again.
    """
    now = now or timezone.now()
    stale = Export.objects.filter(status=Export.Status.RUNNING, started_at__lt=now - STALE_EXPORT)
    stale.update(status=Export.Status.PENDING)
    due = list(
        Export.objects.filter(
            status=Export.Status.PENDING, created_at__lt=now - PENDING_GRACE
        ).values_list("pk", flat=True)
    )
    for pk in due:
        export_enqueue(pk)
    return len(due)


# --- service of letters (decision 0023) ---------------------------------------------------------

SERVICE_ROLES = (Role.CASE_OFFICER, Role.INTAKE)


def _service_officer_role(user: AbstractBaseUser, case: Case) -> str:
    """A case officer or an intake officer of the case's agency, with no tie to its
    subject (APL Art. 43), records how a letter was served."""
    action = _("record how a letter was served")
    for role in SERVICE_ROLES:
        if access.has_role(user, role, case.agency):
            access.ensure_no_conflict(user, case.subject_id, action=action)
            return role
    access.ensure_role(user, Role.CASE_OFFICER, case.agency, action=action)
    return Role.CASE_OFFICER  # not reached: ensure_role raised


def _served_on_check(served_on, letter: Letter) -> datetime.date:
    if isinstance(served_on, datetime.datetime):
        served_on = timezone.localdate(served_on)
    if not isinstance(served_on, datetime.date):
        raise InvalidInput(
            _("Give the date the letter was served (YYYY-MM-DD)."), field="served_on"
        )
    if served_on > timezone.localdate():
        raise InvalidInput(
            _("%(date)s is in the future: record a service that has happened.")
            % {"date": served_on},
            field="served_on",
        )
    stored_on = timezone.localdate(letter.stored_at) if letter.stored_at else None
    if stored_on is not None and served_on < stored_on:
        raise InvalidInput(
            _("The letter was stored on %(stored)s: it cannot have been served before.")
            % {"stored": stored_on},
            field="served_on",
        )
    return served_on


def _letter_servable(letter: Letter) -> Letter:
    """The letter, locked: stored and not yet served, else a clear refusal."""
    letter = Letter.objects.select_for_update().get(pk=letter.pk)
    if letter.status != Letter.Status.ISSUED:
        raise WrongState(
            _("Letter %(code)s is not stored yet: it cannot be served before it exists.")
            % {"code": letter.code_display},
            code="letter_not_stored",
        )
    existing = LetterService.objects.filter(letter=letter).first()
    if existing is not None:
        raise Duplicate(
            _("Letter %(code)s was already served on %(date)s (%(method)s).")
            % {
                "code": letter.code_display,
                "date": existing.served_on,
                "method": existing.get_method_display(),
            },
            code="already_served",
        )
    return letter


def _service_event(case: Case, service: LetterService, *, actor, role: str) -> None:
    letter = service.letter
    data = {
        "letter": letter.verification_code,
        "kind": letter.kind,
        "method": service.method,
        "served_on": f"{service.served_on:%Y-%m-%d}",
    }
    for name in ("receipt_by", "tracking_number", "address"):
        if getattr(service, name):
            data[name] = getattr(service, name)
    if service.consent_id:
        data["consent_given_at"] = service.consent.given_at.isoformat()
    event_record(case, "letter_served", actor=actor, role=role, data=data, note=service.note)


def letter_service_record(
    *,
    letter: Letter,
    by: AbstractBaseUser,
    method: str,
    served_on,
    receipt_by: str = "",
    tracking_number: str = "",
    address: str = "",
    note: str = "",
) -> LetterService:
    """An officer records how a stored letter was served, when, and the receipt: by
    e-mail (only with the applicant's consent to electronic service, SAMR Order 107
    Art. 19), by post (with the tracking number) or in person (with who received it).
    Service in the portal is recorded when the applicant opens the letter there
    (``letter_opened``), never by an officer. A letter is served once."""
    receipt_by, tracking_number, address, note = (
        (value or "").strip() for value in (receipt_by, tracking_number, address, note)
    )
    if method not in LetterService.Method.values:
        raise InvalidInput(
            _("Choose how the letter was served: by e-mail, by post or in person."),
            field="method",
        )
    if method == LetterService.Method.PORTAL:
        raise InvalidInput(
            _(
                "Service in the portal is recorded when the applicant opens the letter "
                "there, after consenting to electronic service."
            ),
            field="method",
        )
    if method == LetterService.Method.POST and not tracking_number:
        raise InvalidInput(_("Give the tracking number of the post."), field="tracking_number")
    if method == LetterService.Method.IN_PERSON and not receipt_by:
        raise InvalidInput(_("Name who received the letter."), field="receipt_by")
    if method == LetterService.Method.EMAIL and not address:
        raise InvalidInput(_("Give the e-mail address the letter was sent to."), field="address")
    with transaction.atomic():
        case = case_lock(letter.case_id)
        role = _service_officer_role(by, case)
        letter = _letter_servable(letter)
        served_on = _served_on_check(served_on, letter)
        consent = None
        if method == LetterService.Method.EMAIL:
            consent = service_consent_in_force(case.applicant, case)
            if consent is None:
                raise WrongState(
                    _(
                        "The applicant has not consented to electronic service: serve the "
                        "letter by post or in person."
                    ),
                    code="no_consent",
                )
        service = LetterService.objects.create(
            letter=letter,
            case=case,
            method=method,
            served_on=served_on,
            receipt_by=receipt_by,
            tracking_number=tracking_number,
            address=address,
            note=note,
            consent=consent,
            recorded_by=by,
        )
        _service_event(case, service, actor=by, role=role)
    return service


def letter_opened(*, letter: Letter, user: AbstractBaseUser) -> LetterService | None:
    """The applicant opened a stored letter in the portal. With their consent to electronic
    service in force (SAMR Order 107 Art. 19) that serves it, today; the service, or None
    when nothing was served (no consent, already served, or not the applicant's)."""
    case = letter.case
    if not access.acts_for_case(user, case):
        return None
    if LetterService.objects.filter(letter=letter).exists():
        return None
    consent = service_consent_in_force(user, case)
    if consent is None:
        return None
    with transaction.atomic():
        case = case_lock(case)
        try:
            letter = _letter_servable(letter)
        except (WrongState, Duplicate):
            return None
        service = LetterService.objects.create(
            letter=letter,
            case=case,
            method=LetterService.Method.PORTAL,
            served_on=timezone.localdate(),
            receipt_by=user.get_username(),
            consent=consent,
        )
        _service_event(case, service, actor=user, role="applicant")
    return service
