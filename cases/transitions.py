"""Every write to the case domain.

Each function that changes a case locks it, checks who is acting and the state,
changes it, and records a case event, in one transaction; side effects (messages,
letters) are queued in that same transaction. Views, the API, commands and the
workflow call these functions and nothing else to change a case.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cases import access, clock
from cases.errors import (
    Duplicate,
    InvalidInput,
    NotPermitted,
    RuleViolation,
    UploadRejected,
    WrongState,
)
from cases.events import case_lock, event_record
from cases.identifiers import guess_subject_kind, validate_subject_code
from cases.models import (
    REVOCATION_BASIS,
    Case,
    CaseRecord,
    Deadline,
    Evidence,
    Material,
    Publication,
    Record,
    ReferenceCounter,
    Revocation,
    RevocationGround,
    Role,
    Signature,
    Subject,
)
from cases.rules import (
    SUBMITTABLE_RECORD_STATUSES,
    case_governing_rule_set,
    missing_required_materials,
    restoration_refusal,
    revocation_refusal,
    rule_set_for_record,
)
from cases.uploads import CheckedUpload, sanitise_name, upload_check

APPLICANT_ROLE = "applicant"


# --- subjects ---------------------------------------------------------------


def subject_get_or_create(*, code: str, name: str, kind: str | None = None) -> tuple[Subject, bool]:
    """Find a subject by its (validated, normalised) code, or create it.

    Raises ``InvalidIdentifier`` for a malformed code. An existing subject keeps
    its name: a later spreadsheet cannot rename a subject silently. A subject known
    only by its code (``subject_for_code``) takes the first name an agency gives it.
    """
    kind = kind or guess_subject_kind(code)
    code = validate_subject_code(code, kind)
    subject = Subject.objects.filter(code=code).first()
    if subject is not None:
        if not subject.name and name.strip():
            subject.name = name.strip()
            subject.save(update_fields=["name"])
        return subject, False
    name = name.strip()
    if not name:
        raise InvalidInput(_("A new subject needs a name."), field="subject_name")
    try:
        with transaction.atomic():
            subject = Subject.objects.create(code=code, name=name, kind=kind)
    except IntegrityError:  # created by a concurrent import between our read and write
        return Subject.objects.get(code=code), False
    return subject, True


def subject_for_code(*, code: str, kind: str) -> Subject:
    """The subject with this validated, normalised ``code``; created without a name if
    Redress does not know it yet.

    A person may prove their link to a subject before any agency lists it (and must get
    the same answer either way); the nameless subject waits for the agency's import or
    form, which names it (``subject_get_or_create``, ``cases.imports``).
    """
    subject = Subject.objects.filter(code=code).first()
    if subject is not None:
        return subject
    try:
        with transaction.atomic():
            return Subject.objects.create(code=code, name="", kind=kind)
    except IntegrityError:  # created by a concurrent import or request meanwhile
        return Subject.objects.get(code=code)


# --- helpers shared by the case services -----------------------------------


def ensure_state(case: Case, *allowed: str, action: str) -> None:
    """Raise ``WrongState`` unless the case is in one of the ``allowed`` statuses.

    ``action`` completes the sentence "Case RD-2026-000123 is closed; it cannot ... now.":
    pass it translated (``gettext("be accepted")``).
    """
    if case.status not in allowed:
        raise WrongState(
            _("Case %(reference)s is %(status)s; it cannot %(action)s now.")
            % {
                "reference": case.reference,
                "status": case.get_status_display().lower(),
                "action": action,
            },
            code="wrong_state",
        )


def _material_labels(codes) -> str:
    """The materials' labels, listed for a message in the active language."""
    return pgettext("list separator", ", ").join(str(Material(code).label) for code in codes)


def reference_allocate(*, year: int) -> str:
    """The next gap-free case reference of the year, e.g. ``RD-2026-000123``."""
    counter, _created = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{settings.REDRESS_REFERENCE_PREFIX}-{year}-{counter.last:06d}"


# --- submission ---------------------------------------------------------------


def submit(
    *,
    kind: str,
    subject: Subject,
    records: Sequence[Record],
    grounds: str,
    applicant: AbstractBaseUser,
    filed_by: AbstractBaseUser | None = None,
    channel: str = Case.Channel.PORTAL,
    language: str | None = None,
    idempotency_key: str = "",
) -> Case:
    """File an objection or a restoration request; issues the case reference.

    The applicant must be a confirmed representative of the subject, unless an
    officer of the records' agency with no tie to the subject (APL Art. 43) files on
    the subject's behalf (``filed_by``).
    A restoration is refused here, with the reason, before the minimum period or
    for a penalty type the rule set bars. Repeating a submission with the same
    ``idempotency_key`` returns the case already filed instead of a second one.
    """
    filed_by = filed_by or applicant
    _ensure_known_kind(kind)
    grounds = _grounds_stated(grounds)
    records = _records_named(records, subject=subject)
    role = _filer_role(
        applicant=applicant,
        filed_by=filed_by,
        channel=channel,
        subject=subject,
        agency=records[0].agency,
    )
    # Only now, with the caller known to act for this subject, may a repeated key
    # return the case already filed.
    existing = _already_filed(applicant, idempotency_key)
    if existing is not None:
        return existing
    today = timezone.localdate()
    _ensure_fileable(kind, records, on=today)
    with transaction.atomic():
        locked = _records_locked(records)
        # The same submission may have won the lock a moment ago.
        existing = _already_filed(applicant, idempotency_key)
        if existing is not None:
            return existing
        _ensure_not_in_open_case(locked, kind=kind)
        # Every submission of the year serialises on its counter row; a twin
        # submission with the same key (other records) committed meanwhile is found here.
        _reference_counter_lock(year=today.year)
        existing = _already_filed(applicant, idempotency_key)
        if existing is not None:
            return existing
        case = _case_filed(
            Case(
                kind=kind,
                subject=subject,
                agency=records[0].agency,
                grounds=grounds,
                applicant=applicant,
                filed_by=filed_by,
                channel=channel,
                language=language or getattr(applicant, "language", None) or settings.LANGUAGE_CODE,
                idempotency_key=idempotency_key,
            ),
            records=locked,
            year=today.year,
        )
        _acceptance_clock_start(case, actor=filed_by, on=today)
        _submission_recorded(case, role=role, records=locked)
    return case


def _ensure_known_kind(kind: str) -> None:
    """Raise ``InvalidInput`` (field ``kind``) unless ``kind`` is objection or restoration."""
    if kind not in Case.Kind.values:
        raise InvalidInput(
            _("Unknown kind %(kind)s: use objection or restoration.") % {"kind": repr(kind)},
            field="kind",
        )


def _grounds_stated(grounds: str | None) -> str:
    """The grounds without surrounding blanks; ``InvalidInput`` (field ``grounds``) if none."""
    grounds = (grounds or "").strip()
    if not grounds:
        raise InvalidInput(_("State the grounds of the request."), field="grounds")
    return grounds


def _records_named(records: Sequence[Record], *, subject: Subject) -> list[Record]:
    """The records of a request as a list: one or more records of ``subject``, all from
    one agency (one case per agency); ``InvalidInput`` (field ``records``) otherwise."""
    records = list(records)
    if not records:
        raise InvalidInput(_("Name at least one record."), field="records")
    if len({r.agency_id for r in records}) != 1:
        raise InvalidInput(
            _("All records of one case must come from the same agency: file one case per agency."),
            field="records",
        )
    if any(r.subject_id != subject.pk for r in records):
        raise InvalidInput(_("Every record must be a record of the subject."), field="records")
    return records


def _filer_role(
    *,
    applicant: AbstractBaseUser,
    filed_by: AbstractBaseUser,
    channel: str,
    subject: Subject,
    agency,
) -> str:
    """The role the filer acts in, once it is known they may file for ``subject``.

    A representative files as the applicant; an officer filing on the subject's behalf
    (another person than the applicant, or the officer channel) files as intake, and
    must be an intake or case officer of ``agency`` with no tie to the subject.
    ``NotPermitted`` otherwise.
    """
    if filed_by.pk == applicant.pk and channel != Case.Channel.OFFICER:
        if not access.represents(applicant, subject):
            raise NotPermitted(
                _("You are not a confirmed representative of this subject."),
                code="not_representative",
            )
        return APPLICANT_ROLE
    if not (
        access.has_role(filed_by, Role.INTAKE, agency)
        or access.has_role(filed_by, Role.CASE_OFFICER, agency)
    ):
        raise NotPermitted(
            _("Only an officer of %(agency)s may file a case on a subject's behalf.")
            % {"agency": agency.code},
            code="role_required",
        )
    access.ensure_no_conflict(filed_by, subject, action=_("file a case on its behalf"))
    return Role.INTAKE


def _already_filed(applicant: AbstractBaseUser, idempotency_key: str) -> Case | None:
    """The case ``applicant`` filed with ``idempotency_key``; None if none (or no key).

    Without a key nothing is read.
    """
    if not idempotency_key:
        return None
    return Case.objects.filter(applicant=applicant, idempotency_key=idempotency_key).first()


def _ensure_fileable(kind: str, records: Sequence[Record], *, on) -> None:
    """Raise unless a case of ``kind`` may be filed against each record ``on`` that day.

    Record by record: ``WrongState`` (``record_state``) for a record in a status the
    kind does not take, then ``RuleViolation`` for a restoration the rule set refuses
    or an objection past its window.
    """
    allowed = SUBMITTABLE_RECORD_STATUSES[kind]
    for record in records:
        if record.status not in allowed:
            raise WrongState(
                _("Record %(decision_no)s is %(status)s: a %(kind)s cannot be filed against it.")
                % {
                    "decision_no": record.decision_no,
                    "status": record.get_status_display().lower(),
                    "kind": Case.Kind(kind).label,
                },
                code="record_state",
            )
        if kind == Case.Kind.RESTORATION:
            _ensure_restorable(record, on=on)
        else:
            _ensure_objection_in_time(record, on=on)


def _ensure_restorable(record: Record, *, on) -> None:
    """Raise ``RuleViolation`` (``restoration_not_allowed``) with the rule set's reason if
    ``record`` cannot be restored ``on`` that day."""
    reason = restoration_refusal(record, on=on)
    if reason:
        raise RuleViolation(reason, code="restoration_not_allowed")


def _ensure_objection_in_time(record: Record, *, on) -> None:
    """Raise ``RuleViolation`` (``objection_window_passed``) if the rule set's objection
    window for ``record`` closed before ``on``; a rule set without a window never closes."""
    window = rule_set_for_record(record, on=on).objection_window_days
    if window is not None and (on - record.listed_on).days > window:
        raise RuleViolation(
            _(
                "Record %(decision_no)s: an objection must be filed within %(days)s "
                "days of listing (%(date)s)."
            )
            % {
                "decision_no": record.decision_no,
                "days": window,
                "date": f"{record.listed_on:%Y-%m-%d}",
            },
            code="objection_window_passed",
        )


def _records_locked(records: Sequence[Record]) -> list[Record]:
    """The records, read again under a row lock (inside the caller's transaction): two
    simultaneous submissions about one record serialise here."""
    return list(Record.objects.select_for_update().filter(pk__in=[r.pk for r in records]))


def _ensure_not_in_open_case(records: Sequence[Record], *, kind: str) -> None:
    """Raise ``Duplicate`` (``record_in_open_case``) if a record is already in an open case
    of the same ``kind``, naming the record and the case."""
    busy = (
        CaseRecord.objects.filter(
            record__in=records, case__status__in=Case.OPEN_STATUSES, case__kind=kind
        )
        .select_related("case", "record")
        .first()
    )
    if busy is not None:
        raise Duplicate(
            _("Record %(decision_no)s is already in open case %(reference)s.")
            % {"decision_no": busy.record.decision_no, "reference": busy.case.reference},
            code="record_in_open_case",
        )


def _reference_counter_lock(*, year: int) -> None:
    """Lock the reference counter of ``year`` (created if need be) until the caller's
    transaction ends: every submission of the year waits here for the one before."""
    ReferenceCounter.objects.select_for_update().get_or_create(year=year)


def _case_filed(case: Case, *, records: Sequence[Record], year: int) -> Case:
    """Save the unsaved ``case`` as submitted, under the next reference of ``year``, with
    its ``records`` and the status each had before the case."""
    case.reference = reference_allocate(year=year)
    case.status = Case.Status.SUBMITTED
    case.full_clean(exclude=["records"])
    case.save()
    CaseRecord.objects.bulk_create(
        [CaseRecord(case=case, record=r, status_before=r.status) for r in records]
    )
    return case


def _acceptance_clock_start(case: Case, *, actor: AbstractBaseUser, on) -> None:
    """Start the acceptance deadline of a just-filed case, as long as the rule set that
    governs it ``on`` that day gives."""
    rule_set = case_governing_rule_set(case, on=on)
    clock.deadline_start(
        case,
        Deadline.Step.ACCEPTANCE,
        rule_set=rule_set,
        figure="acceptance_days",
        actor=actor,
        reason="submitted",
    )


def _submission_recorded(case: Case, *, role: str, records: Sequence[Record]) -> None:
    """Record the ``submitted`` event: who filed, in which role, how, and against which
    records; an officer filing on the subject's behalf names the applicant."""
    on_behalf = case.filed_by_id != case.applicant_id
    event_record(
        case,
        "submitted",
        actor=case.filed_by,
        role=role,
        after={"status": case.status},
        data={
            "kind": case.kind,
            "channel": case.channel,
            "records": [r.decision_no for r in records],
            "on_behalf_of": case.applicant.get_username() if on_behalf else "",
        },
    )


# --- shared pieces of the route ---------------------------------------------------


def _records_set_status(case: Case, status: str) -> list[Record]:
    records = list(Record.objects.select_for_update().filter(case_records__case=case))
    for record in records:
        record.status = status
        record.save(update_fields=["status", "updated_at"])
    return records


def _records_restore(case: Case) -> None:
    """Put the case's records back as they were before the case (withdrawal, lapse)."""
    for cr in case.case_records.select_related("record"):
        _record_restore(cr)


def _record_restore(cr: CaseRecord) -> None:
    """Put a record the case disputed back in the status it had before the case, and
    published again where it was."""
    if cr.record.status == Record.Status.DISPUTED:
        cr.record.status = cr.status_before
        cr.record.save(update_fields=["status", "updated_at"])
        _publications_undisputed(cr.record)


def _publications_undisputed(record: Record) -> None:
    """Show ``record`` as published, no longer disputed, wherever it was marked disputed."""
    record.publications.filter(status=Publication.Status.DISPUTED).update(
        status=Publication.Status.PUBLISHED
    )


def _snapshot(case: Case) -> dict:
    return {"status": case.status}


# --- acceptance check -------------------------------------------------------------


def accept(*, case: Case, officer: AbstractBaseUser, note: str = "") -> Case:
    """Accept a case whose materials are complete; fixes its rule version and starts the
    decision clock. For an objection, every record is flagged as disputed at once."""
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(officer, Role.INTAKE, case, action=_("accept a case"))
        ensure_state(case, Case.Status.SUBMITTED, action=_("be accepted"))
        today = timezone.localdate()
        rule_set = case_governing_rule_set(case, on=today)
        missing = missing_required_materials(case, rule_set)
        if missing:
            raise WrongState(
                _(
                    "Materials are missing (%(materials)s): request them all at once instead "
                    "of accepting."
                )
                % {"materials": _material_labels(missing)},
                code="materials_missing",
            )
        before = _snapshot(case)
        case.rule_set = rule_set
        case.status = Case.Status.UNDER_REVIEW
        case.accepted_at = timezone.now()
        case.save(update_fields=["rule_set", "status", "accepted_at", "updated_at"])
        if case.kind == Case.Kind.OBJECTION:
            for record in _records_set_status(case, Record.Status.DISPUTED):
                record.publications.exclude(status=Publication.Status.WITHDRAWN).update(
                    status=Publication.Status.DISPUTED
                )
        acceptance = clock.deadline_running(case, Deadline.Step.ACCEPTANCE)
        if acceptance is not None:
            clock.deadline_close(acceptance, actor=officer, reason="accepted")
        review_days = (
            "objection_review_days"
            if case.kind == Case.Kind.OBJECTION
            else "restoration_review_days"
        )
        clock.deadline_start(
            case,
            Deadline.Step.DECISION,
            rule_set=rule_set,
            figure=review_days,
            actor=officer,
            reason=f"accepted under {rule_set.label}",
        )
        event_record(
            case,
            "accepted",
            actor=officer,
            role=Role.INTAKE,
            before=before,
            after=_snapshot(case),
            note=note,
            data={"rule_set": rule_set.label},
        )
    return case


# Who asks for missing materials at each stage, and whose deadline stops meanwhile.
MATERIALS_ASKED_BY = {
    Case.Status.SUBMITTED: (Role.INTAKE, Deadline.Step.ACCEPTANCE),
    Case.Status.UNDER_REVIEW: (Role.CASE_OFFICER, Deadline.Step.DECISION),
}


def request_materials(
    *, case: Case, officer: AbstractBaseUser, missing: Sequence[dict], note: str = ""
) -> Case:
    """Ask the applicant for everything that is missing, in one complete list.

    ``missing`` is a list of ``{"material": code, "detail": text}``. The case's clock
    stops until the materials arrive; the applicant gets a deadline to supply them.
    Allowed at the acceptance check (intake officer) and during evidence review
    (case officer: the request-for-more-information loop).
    """
    items = _missing_items(missing)
    with transaction.atomic():
        case = case_lock(case)
        ensure_state(case, *MATERIALS_ASKED_BY, action=_("ask for missing materials"))
        role, step = MATERIALS_ASKED_BY[case.status]
        access.ensure_officer(officer, role, case, action=_("ask for missing materials"))
        before = _snapshot(case)
        rule_set = case_governing_rule_set(case, on=timezone.localdate())
        _ensure_request_complete(case, rule_set, items)
        _clock_wait_for_materials(case, step=step, rule_set=rule_set, officer=officer)
        _case_await_materials(case, items)
        event_record(
            case,
            "materials_requested",
            actor=officer,
            role=role,
            before=before,
            after=_snapshot(case),
            note=note,
            data={"missing": items},
        )
    return case


def _missing_items(missing: Sequence[dict]) -> list[dict]:
    """The requested items as ``{"material": code, "detail": text}``, each a known
    material, an "other" one described; ``InvalidInput`` (field ``missing``) otherwise,
    or if there are none."""
    items = [
        {
            "material": str(m.get("material") or Material.OTHER),
            "detail": str(m.get("detail", "")).strip(),
        }
        for m in missing
    ]
    if not items:
        raise InvalidInput(_("List every missing item (at least one)."), field="missing")
    for item in items:
        if item["material"] not in Material.values:
            raise InvalidInput(
                _("Unknown material %(material)s.") % {"material": repr(item["material"])},
                field="missing",
            )
        if item["material"] == Material.OTHER and not item["detail"]:
            raise InvalidInput(_("Describe the missing item."), field="missing")
    return items


def _ensure_request_complete(case: Case, rule_set, items: Sequence[dict]) -> None:
    """Raise ``InvalidInput`` (field ``missing``) if the request leaves out a material
    the rule set requires and the case lacks: everything is asked for at once."""
    listed = {i["material"] for i in items}
    left_out = [m for m in missing_required_materials(case, rule_set) if m not in listed]
    if left_out:
        raise InvalidInput(
            _("The request must list every missing item at once; it leaves out: %(materials)s.")
            % {"materials": _material_labels(left_out)},
            field="missing",
        )


def _clock_wait_for_materials(case: Case, *, step: str, rule_set, officer) -> None:
    """Stop the running deadline of ``step`` and start the applicant's materials deadline."""
    running = clock.deadline_running(case, step)
    if running is not None:
        clock.deadline_stop(running, actor=officer, reason="waiting for missing materials")
    clock.deadline_start(
        case,
        Deadline.Step.MATERIALS,
        rule_set=rule_set,
        figure="materials_days",
        actor=officer,
        reason="materials requested",
    )


def _case_await_materials(case: Case, items: list[dict]) -> None:
    """Put the case in wait for ``items``, remembering the stage it returns to."""
    case.resume_status = case.status
    case.status = Case.Status.AWAITING_MATERIALS
    case.missing_materials = items
    case.materials_requested_at = timezone.now()
    case.save(
        update_fields=[
            "resume_status",
            "status",
            "missing_materials",
            "materials_requested_at",
            "updated_at",
        ]
    )


def resubmit(*, case: Case, applicant: AbstractBaseUser, note: str = "") -> Case:
    """The applicant says the missing materials are in; the stopped clock resumes.

    Every listed material must have a new evidence item uploaded since the request.
    """
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_applicant(applicant, case, action=_("answer the request for materials"))
        ensure_state(case, Case.Status.AWAITING_MATERIALS, action=_("take resubmitted materials"))
        supplied = set(
            case.evidence.filter(uploaded_at__gte=case.materials_requested_at).values_list(
                "material", flat=True
            )
        )
        still = [
            i
            for i in case.missing_materials
            if i["material"] != Material.OTHER and i["material"] not in supplied
        ]
        if not supplied or still:
            labels = _material_labels(i["material"] for i in still) or _("the listed items")
            raise WrongState(
                _("Still missing: %(materials)s. Upload them first.") % {"materials": labels},
                code="materials_missing",
            )
        before = _snapshot(case)
        materials = clock.deadline_running(case, Deadline.Step.MATERIALS)
        if materials is not None:
            clock.deadline_close(materials, actor=applicant, reason="materials supplied")
        case.status = case.resume_status or Case.Status.SUBMITTED
        step = (
            Deadline.Step.DECISION
            if case.status == Case.Status.UNDER_REVIEW
            else Deadline.Step.ACCEPTANCE
        )
        stopped = clock.deadline_running(case, step)
        if stopped is not None and stopped.status == Deadline.Status.STOPPED:
            clock.deadline_resume(stopped, actor=applicant, reason="materials supplied")
        if case.status == Case.Status.UNDER_REVIEW:
            # Items marked "needs more" are looked at again with what arrived.
            case.evidence.filter(review_outcome=Evidence.Outcome.NEEDS_MORE).update(
                review_outcome=Evidence.Outcome.PENDING
            )
        case.resume_status = ""
        case.missing_materials = []
        case.save(update_fields=["status", "resume_status", "missing_materials", "updated_at"])
        event_record(
            case,
            "materials_resubmitted",
            actor=applicant,
            role=APPLICANT_ROLE,
            before=before,
            after=_snapshot(case),
            note=note,
            data={"supplied": sorted(supplied)},
        )
    return case


def lapse(*, case: Case) -> Case:
    """Close a case whose applicant let the materials deadline pass.

    Run by the deadline timer, not by a person: lapsing decides nothing about the
    records (they return to how they were), it only ends an incomplete request.
    """
    with transaction.atomic():
        case = case_lock(case)
        ensure_state(case, Case.Status.AWAITING_MATERIALS, action=_("lapse"))
        materials = clock.deadline_running(case, Deadline.Step.MATERIALS)
        if materials is None or materials.due_on >= timezone.localdate():
            raise WrongState(
                _("Case %(reference)s's materials deadline has not passed.")
                % {"reference": case.reference},
                code="not_due",
            )
        before = _snapshot(case)
        clock.deadline_close(materials, actor=None, reason="no materials by the deadline")
        clock.deadlines_close_all(case, actor=None, reason="case lapsed")
        _records_restore(case)
        case.status = Case.Status.LAPSED
        case.closed_at = timezone.now()
        case.save(update_fields=["status", "closed_at", "updated_at"])
        event_record(
            case,
            "lapsed",
            actor=None,
            role="system",
            automated=True,
            before=before,
            after=_snapshot(case),
            note=f"Missing materials not supplied by {materials.due_on:%Y-%m-%d}.",
        )
    return case


def not_accept(*, case: Case, officer: AbstractBaseUser, reasons: str) -> Case:
    """Refuse to accept a case, with the reasons (served in a non-acceptance letter)."""
    reasons = (reasons or "").strip()
    if not reasons:
        raise InvalidInput(_("Give the reasons for not accepting."), field="reasons")
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(officer, Role.INTAKE, case, action=_("refuse a case"))
        ensure_state(case, Case.Status.SUBMITTED, action=_("be refused"))
        before = _snapshot(case)
        clock.deadlines_close_all(case, actor=officer, reason="not accepted")
        now = timezone.now()
        case.status = Case.Status.NOT_ACCEPTED
        case.decision_reasons = reasons
        # Not accepting is a decision (不予受理决定), appealable like any other: it has a date.
        case.decided_at = now
        case.closed_at = now
        case.save(
            update_fields=["status", "decision_reasons", "decided_at", "closed_at", "updated_at"]
        )
        event_record(
            case,
            "not_accepted",
            actor=officer,
            role=Role.INTAKE,
            before=before,
            after=_snapshot(case),
            note=reasons,
        )
    return case


# --- evidence review ----------------------------------------------------------------


def review_evidence(
    *, evidence: Evidence, reviewer: AbstractBaseUser, outcome: str, reason: str = ""
) -> Evidence:
    """Record a person's review of one evidence item: accepted, rejected or needs more.

    A rejection or a request for more needs a reason. Evidence from electronic
    monitoring needs a note of what the reviewer checked: APL Art. 41 makes it
    evidence only once a person has reviewed it and the review is on record.
    """
    if outcome not in {
        Evidence.Outcome.ACCEPTED,
        Evidence.Outcome.REJECTED,
        Evidence.Outcome.NEEDS_MORE,
    }:
        raise InvalidInput(
            _("Unknown review outcome %(outcome)s.") % {"outcome": repr(outcome)},
            field="outcome",
        )
    reason = (reason or "").strip()
    if outcome != Evidence.Outcome.ACCEPTED and not reason:
        raise InvalidInput(
            _("Say why the item is rejected or what more is needed."), field="reason"
        )
    if evidence.is_electronic_monitoring and not reason:
        raise InvalidInput(
            _(
                "Evidence from electronic monitoring counts only with a recorded review "
                "(APL Art. 41): note what you checked."
            ),
            field="reason",
        )
    with transaction.atomic():
        case = case_lock(evidence.case_id)
        access.ensure_officer(reviewer, Role.CASE_OFFICER, case, action=_("review evidence"))
        ensure_state(case, Case.Status.UNDER_REVIEW, action=_("have its evidence reviewed"))
        evidence = Evidence.objects.select_for_update().get(pk=evidence.pk)
        before = {"evidence": evidence.pk, "outcome": evidence.review_outcome}
        evidence.review_outcome = outcome
        evidence.review_reason = reason
        evidence.reviewed_by = reviewer
        evidence.reviewed_at = timezone.now()
        evidence.save(
            update_fields=["review_outcome", "review_reason", "reviewed_by", "reviewed_at"]
        )
        event_record(
            case,
            "evidence_reviewed",
            actor=reviewer,
            role=Role.CASE_OFFICER,
            before=before,
            after={"evidence": evidence.pk, "outcome": outcome},
            note=reason,
            data={
                "sha256": evidence.sha256,
                "source": evidence.source,
                "electronic_monitoring": evidence.is_electronic_monitoring,
            },
        )
    return evidence


def complete_review(
    *,
    case: Case,
    reviewer: AbstractBaseUser,
    recommendation: str,
    record_outcomes: dict[int, str] | None = None,
    corrections: dict[int, str] | None = None,
    note: str = "",
) -> Case:
    """Finish the evidence review with a recommendation; on to legal review or sign-off.

    ``corrections`` (objections only) gives, per upheld record, the corrected text:
    the record is then corrected instead of removed.

    Every item must have been reviewed by a person; an item still marked "needs more"
    must be asked for (``case_request_materials``) rather than decided around.
    """
    if recommendation not in Case.Decision.values:
        raise InvalidInput(
            _("Unknown recommendation %(recommendation)s.")
            % {"recommendation": repr(recommendation)},
            field="recommendation",
        )
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(reviewer, Role.CASE_OFFICER, case, action=_("complete a review"))
        ensure_state(case, Case.Status.UNDER_REVIEW, action=_("complete its review"))
        outcomes = set(case.evidence.values_list("review_outcome", flat=True))
        if Evidence.Outcome.PENDING in outcomes:
            raise WrongState(_("Review every evidence item first."), code="evidence_unreviewed")
        if Evidence.Outcome.NEEDS_MORE in outcomes:
            raise WrongState(
                _("Some items need more: ask the applicant for them before completing the review."),
                code="evidence_needs_more",
            )
        if (
            recommendation != Case.Decision.REJECTED
            and not case.evidence.filter(review_outcome=Evidence.Outcome.ACCEPTED).exists()
        ):
            raise WrongState(
                _("No evidence was accepted: a request can only be upheld on accepted evidence."),
                code="no_accepted_evidence",
            )
        _apply_record_outcomes(case, recommendation, record_outcomes, corrections)
        before = _snapshot(case)
        case.review_officer = reviewer
        case.recommendation = recommendation
        case.status = (
            Case.Status.LEGAL_REVIEW
            if case.rule_set.legal_review_required
            else Case.Status.SIGN_OFF
        )
        case.save(update_fields=["review_officer", "recommendation", "status", "updated_at"])
        event_record(
            case,
            "review_completed",
            actor=reviewer,
            role=Role.CASE_OFFICER,
            before=before,
            after=_snapshot(case),
            note=note,
            data={"recommendation": recommendation},
        )
    return case


def _apply_record_outcomes(
    case: Case, decision: str, record_outcomes: dict | None, corrections: dict | None = None
) -> None:
    """Set each record's proposed outcome; a partial decision must name them."""
    case_records = list(case.case_records.all())
    if decision == Case.Decision.APPROVED:
        outcomes = {cr.record_id: CaseRecord.Outcome.UPHELD for cr in case_records}
    elif decision == Case.Decision.REJECTED:
        outcomes = {cr.record_id: CaseRecord.Outcome.REJECTED for cr in case_records}
    else:
        outcomes = {int(k): v for k, v in (record_outcomes or {}).items()}
        known = {cr.record_id for cr in case_records}
        if set(outcomes) != known or set(outcomes.values()) != {
            CaseRecord.Outcome.UPHELD,
            CaseRecord.Outcome.REJECTED,
        }:
            raise InvalidInput(
                _(
                    "A partial decision names, for every record of the case, whether it is "
                    "upheld or rejected, with at least one of each."
                ),
                field="record_outcomes",
            )
    corrections = {int(k): (v or "").strip() for k, v in (corrections or {}).items()}
    for record_id in corrections:
        if case.kind != Case.Kind.OBJECTION or outcomes.get(record_id) != CaseRecord.Outcome.UPHELD:
            raise InvalidInput(
                _("A correction is stated only for an upheld record of an objection."),
                field="corrections",
            )
    for cr in case_records:
        cr.outcome = outcomes[cr.record_id]
        if cr.record_id in corrections:
            cr.correction = corrections[cr.record_id]
        cr.save(update_fields=["outcome", "correction"])


# --- legal review and sign-off --------------------------------------------------------


def legal_review(*, case: Case, reviewer: AbstractBaseUser, passed: bool, note: str = "") -> Case:
    """Legal review (法制审核): pass to sign-off, or send back to the case officer."""
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(reviewer, Role.LEGAL_REVIEWER, case, action=_("do a legal review"))
        ensure_state(case, Case.Status.LEGAL_REVIEW, action=_("be legally reviewed"))
        access.ensure_four_eyes(reviewer, case, "legal_review")
        if not passed and not note.strip():
            raise InvalidInput(_("Say why the case is sent back."), field="note")
        before = _snapshot(case)
        if passed:
            case.legal_reviewer = reviewer
            case.status = Case.Status.SIGN_OFF
        else:
            case.status = Case.Status.UNDER_REVIEW
        case.save(update_fields=["legal_reviewer", "status", "updated_at"])
        event_record(
            case,
            "legal_review_passed" if passed else "legal_review_sent_back",
            actor=reviewer,
            role=Role.LEGAL_REVIEWER,
            before=before,
            after=_snapshot(case),
            note=note,
        )
    return case


def sign(
    *,
    case: Case,
    signer: AbstractBaseUser,
    decision: str,
    reasons: str = "",
    record_outcomes: dict[int, str] | None = None,
    note: str = "",
) -> Case:
    """An accountable official signs the decision: approve, partly approve or reject.

    The signer may not be the case officer or the legal reviewer of the case. Where
    the rule set asks for a collective decision, the decision takes effect when that
    many different signers have signed the same decision; a signer who disagrees
    sends the case back to review. A rejection states its reasons.
    """
    reasons = _decision_reasons(decision, reasons)
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(signer, Role.SIGNER, case, action=_("sign a decision"))
        ensure_state(case, Case.Status.SIGN_OFF, action=_("be signed"))
        access.ensure_four_eyes(signer, case, "sign_off")
        signatures = list(case.signatures.filter(round=case.signoff_round))
        before = _snapshot(case)
        if signatures and _signers_disagree(
            case, signatures[0], decision=decision, record_outcomes=record_outcomes
        ):
            # Collective decision without agreement: back to the case officer.
            _signature_add(case, signer=signer, decision=decision, note=note)
            _signoff_send_back(
                case,
                signer=signer,
                decision=decision,
                first=signatures[0].decision,
                before=before,
                note=note or reasons,
            )
            return case
        if record_outcomes is not None or decision != case.recommendation:
            _apply_record_outcomes(case, decision, record_outcomes)
        _signature_add(case, signer=signer, decision=decision, note=note)
        signed = len(signatures) + 1
        if signed < case.rule_set.signers_required:
            _signature_recorded(
                case, signer=signer, decision=decision, signed=signed, before=before, note=note
            )
            return case
        _decide(
            case,
            decision=decision,
            reasons=reasons,
            signer=signer,
            before=before,
            signers=[s.signer.get_username() for s in signatures] + [signer.get_username()],
        )
    return case


def _decision_reasons(decision: str, reasons: str | None) -> str:
    """The reasons of ``decision`` without surrounding blanks; ``InvalidInput`` for an
    unknown decision (field ``decision``), or for one other than approval without reasons
    (field ``reasons``)."""
    if decision not in Case.Decision.values:
        raise InvalidInput(
            _("Unknown decision %(decision)s.") % {"decision": repr(decision)}, field="decision"
        )
    reasons = (reasons or "").strip()
    if decision != Case.Decision.APPROVED and not reasons:
        raise InvalidInput(_("State the reasons, tied to the evidence."), field="reasons")
    return reasons


def _signers_disagree(
    case: Case, first: Signature, *, decision: str, record_outcomes: dict | None
) -> bool:
    """Whether a further signer of a collective decision departs from the round's
    ``first`` signature: another decision, or (where they name them) other outcomes for
    the records than the case holds."""
    if first.decision != decision:
        return True
    if record_outcomes is None:
        return False
    current = {cr.record_id: cr.outcome for cr in case.case_records.all()}
    return {int(k): v for k, v in record_outcomes.items()} != current


def _signature_add(case: Case, *, signer: AbstractBaseUser, decision: str, note: str) -> None:
    """Keep ``signer``'s signature of ``decision`` in the case's current sign-off round."""
    Signature.objects.create(
        case=case, signer=signer, decision=decision, note=note, round=case.signoff_round
    )


def _signoff_send_back(
    case: Case, *, signer: AbstractBaseUser, decision: str, first: str, before: dict, note: str
) -> None:
    """End a sign-off round whose signers disagree: the case goes back to review, the
    next signatures count in a new round, and ``signoff_disagreed`` names both decisions."""
    case.signoff_round += 1
    case.status = Case.Status.UNDER_REVIEW
    case.save(update_fields=["signoff_round", "status", "updated_at"])
    event_record(
        case,
        "signoff_disagreed",
        actor=signer,
        role=Role.SIGNER,
        before=before,
        after=_snapshot(case),
        note=note,
        data={"decision": decision, "first": first},
    )


def _signature_recorded(
    case: Case, *, signer: AbstractBaseUser, decision: str, signed: int, before: dict, note: str
) -> None:
    """Record the ``signed`` event of a collective decision that still waits for signers:
    how many have signed, of how many the rule set requires."""
    event_record(
        case,
        "signed",
        actor=signer,
        role=Role.SIGNER,
        before=before,
        after=_snapshot(case),
        note=note,
        data={
            "decision": decision,
            "signatures": signed,
            "required": case.rule_set.signers_required,
        },
    )


def _decide(case: Case, *, decision: str, reasons: str, signer, before: dict, signers) -> None:
    """Make a signed decision take effect on the case, its records and platforms.

    The decision clock closes and the letter's starts; the records take their outcomes.
    Where a platform must withdraw a record the case waits for it (removal, with its
    own deadline); otherwise the appeal window opens at once.
    """
    now = timezone.now()
    case.decision = decision
    case.decision_reasons = reasons
    case.decided_at = now
    _clock_decided(case, decision=decision, signer=signer)
    withdrawals = sum(_record_decided(cr) for cr in case.case_records.select_related("record"))
    if withdrawals:
        case.status = Case.Status.REMOVAL
        clock.deadline_start(
            case,
            Deadline.Step.REMOVAL,
            rule_set=case.rule_set,
            figure="removal_days",
            actor=signer,
            reason="every platform to withdraw the record",
        )
    else:
        case.status = Case.Status.APPEAL_WINDOW
        case.closed_at = now
    case.save(
        update_fields=[
            "decision",
            "decision_reasons",
            "decided_at",
            "status",
            "closed_at",
            "updated_at",
        ]
    )
    event_record(
        case,
        "decided",
        actor=signer,
        role=Role.SIGNER,
        before=before,
        after={**_snapshot(case), "decision": decision},
        note=reasons,
        data={"signers": signers, "platform_withdrawals": withdrawals},
    )


def _clock_decided(case: Case, *, decision: str, signer) -> None:
    """Close the decision deadline and start the one for serving the decision's letter."""
    decision_deadline = clock.deadline_running(case, Deadline.Step.DECISION)
    if decision_deadline is not None:
        clock.deadline_close(decision_deadline, actor=signer, reason=f"decided: {decision}")
    clock.deadline_start(
        case,
        Deadline.Step.LETTER,
        rule_set=case.rule_set,
        figure="letter_service_days",
        actor=signer,
        reason="decision letter to be served",
    )


def _record_decided(cr: CaseRecord) -> int:
    """Give one record of a decided case its outcome; the number of platforms asked to
    withdraw it.

    An upheld objection with a correction corrects the record and publishes it again;
    any other upheld record is removed and every platform still showing it is asked to
    withdraw it. A record not upheld returns to how it was before the case.
    """
    record = cr.record
    if cr.outcome != CaseRecord.Outcome.UPHELD:
        _record_restore(cr)
        return 0
    if cr.case.kind == Case.Kind.OBJECTION and cr.correction:
        record.status = Record.Status.ACTIVE
        record.corrected_text = cr.correction
        record.save(update_fields=["status", "corrected_text", "updated_at"])
        _publications_undisputed(record)
        return 0
    record.status = Record.Status.REMOVED
    record.save(update_fields=["status", "updated_at"])
    return record.publications.exclude(status=Publication.Status.WITHDRAWN).update(
        status=Publication.Status.WITHDRAWAL_REQUESTED, acknowledged_at=None
    )


# --- list removal ---------------------------------------------------------------------


def acknowledge_withdrawal(*, publication: Publication, note: str = "") -> Publication:
    """A platform confirms it withdrew the record; the case closes when all have.

    Called from the platform's signed callback: the platform, not a person of the
    agency, acts here, so the event is marked automated and names the platform.
    """
    with transaction.atomic():
        publication = (
            Publication.objects.select_for_update(of=("self",))
            .select_related("record", "platform")
            .get(pk=publication.pk)
        )
        if publication.status == Publication.Status.WITHDRAWN:
            return publication  # a repeated acknowledgement changes nothing
        if publication.status != Publication.Status.WITHDRAWAL_REQUESTED:
            raise WrongState(
                _("No withdrawal of %(record)s was requested from %(platform)s.")
                % {"record": publication.record, "platform": publication.platform},
                code="no_withdrawal_requested",
            )
        case = (
            Case.objects.filter(case_records__record=publication.record, status=Case.Status.REMOVAL)
            .order_by("-decided_at")
            .first()
        )
        publication.status = Publication.Status.WITHDRAWN
        publication.acknowledged_at = timezone.now()
        publication.save(update_fields=["status", "acknowledged_at"])
        if case is None:
            return publication
        case = case_lock(case)
        before = _snapshot(case)
        pending = Publication.objects.filter(
            record__case_records__case=case, status=Publication.Status.WITHDRAWAL_REQUESTED
        ).exists()
        if not pending:
            removal = clock.deadline_running(case, Deadline.Step.REMOVAL)
            if removal is not None:
                clock.deadline_close(removal, actor=None, reason="every platform acknowledged")
            case.status = Case.Status.APPEAL_WINDOW
            case.closed_at = timezone.now()
            case.save(update_fields=["status", "closed_at", "updated_at"])
        event_record(
            case,
            "platform_acknowledged",
            actor=None,
            role="platform",
            automated=True,
            before=before,
            after=_snapshot(case),
            note=note,
            data={"platform": publication.platform.code, "record": publication.record.decision_no},
        )
    return publication


# --- withdrawal, revocation, extension, closing ----------------------------------------


def withdraw(*, case: Case, applicant: AbstractBaseUser, reason: str = "") -> Case:
    """The applicant withdraws a case that is not yet decided."""
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_applicant(applicant, case, action=_("withdraw the case"))
        ensure_state(case, *Case.UNDECIDED_STATUSES, action=_("be withdrawn"))
        before = _snapshot(case)
        clock.deadlines_close_all(case, actor=applicant, reason="withdrawn")
        _records_restore(case)
        case.status = Case.Status.WITHDRAWN
        case.closed_at = timezone.now()
        case.save(update_fields=["status", "closed_at", "updated_at"])
        event_record(
            case,
            "withdrawn",
            actor=applicant,
            role=APPLICANT_ROLE,
            before=before,
            after=_snapshot(case),
            note=reason,
        )
    return case


def revoke(
    *,
    case: Case,
    official: AbstractBaseUser,
    ground: str,
    reasons: str,
    evidence: Sequence,
) -> Case:
    """Revoke an approved restoration obtained by deception; publish its records again.

    NDRC Order 36 Art. 25, SAMR Order 107 Art. 23. ``ground`` is a ``RevocationGround``
    (its articles are ``REVOCATION_BASIS``), ``reasons`` say what was found, and
    ``evidence`` is one to ``Revocation.EVIDENCE_MAX`` uploaded files that support it:
    each is checked like any upload and kept as the official's evidence of the case
    (the same content already in the case is that item).

    Refused before anything is read when ``official`` may not revoke the case or it is
    not revocable (``rules.revocation_refusal``: ``NotPermitted``, ``WrongState``); then
    for a missing ground, reasons or evidence (``InvalidInput`` naming the field) or a
    refused file (``UploadRejected``, field ``evidence``), leaving nothing behind. The
    ``Revocation`` row and the ``revoked`` event name the ground, its articles, the
    reasons (the event's note) and every evidence item with its SHA-256.
    """
    # Checked first on the case as it stands (the caller's copy may be older), so that
    # nobody is told about their input, nor has files read, before they may act at all.
    refusal = revocation_refusal(Case.objects.select_related("agency").get(pk=case.pk), official)
    if refusal is not None:
        raise refusal
    ground = ground.strip() if isinstance(ground, str) else ""
    if ground not in RevocationGround.values:
        raise InvalidInput(
            _("Choose the ground of the revocation: one the rules name."), field="ground"
        )
    reasons = reasons.strip() if isinstance(reasons, str) else ""
    if not reasons:
        raise InvalidInput(_("State why the restoration is revoked."), field="reasons")
    uploads = list(evidence or [])
    if not uploads:
        raise InvalidInput(
            _("Add at least one evidence file that supports the revocation."), field="evidence"
        )
    if len(uploads) > Revocation.EVIDENCE_MAX:
        raise InvalidInput(
            _("Add at most %(count)s evidence files to one revocation.")
            % {"count": Revocation.EVIDENCE_MAX},
            field="evidence",
        )
    checked = [_revocation_upload_check(upload) for upload in uploads]
    stored: list[str] = []
    try:
        with transaction.atomic():
            case = case_lock(case)
            refusal = revocation_refusal(case, official)  # again, now that the case is locked
            if refusal is not None:
                raise refusal
            before = _snapshot(case)
            items: dict[int, Evidence] = {}
            for upload in checked:
                item, _created = _evidence_store(
                    case=case,
                    checked=upload,
                    uploaded_by=official,
                    role=Role.SIGNER,
                    source=Evidence.Source.OFFICER,
                    stored=stored,
                )
                items.setdefault(item.pk, item)
            reinstated = []
            for cr in case.case_records.filter(outcome=CaseRecord.Outcome.UPHELD).select_related(
                "record"
            ):
                cr.record.status = Record.Status.ACTIVE
                cr.record.save(update_fields=["status", "updated_at"])
                cr.record.publications.update(
                    status=Publication.Status.PUBLISHED, acknowledged_at=None
                )
                reinstated.append(cr.record.decision_no)
            clock.deadlines_close_all(case, actor=official, reason="restoration revoked")
            case.status = Case.Status.REVOKED
            case.revoked_at = timezone.now()
            case.save(update_fields=["status", "revoked_at", "updated_at"])
            revocation = Revocation.objects.create(
                case=case,
                ground=ground,
                basis=REVOCATION_BASIS[ground],
                reasons=reasons,
                revoked_by=official,
                revoked_at=case.revoked_at,
            )
            revocation.evidence.set(items.values())
            event_record(
                case,
                "revoked",
                actor=official,
                role=Role.SIGNER,
                before=before,
                after=_snapshot(case),
                note=reasons,
                data={
                    "ground": ground,
                    "basis": revocation.basis,
                    "evidence": [
                        {"id": item.pk, "sha256": item.sha256, "name": item.original_name}
                        for item in items.values()
                    ],
                    "reinstated": reinstated,
                },
            )
    except BaseException:
        _files_remove(stored)
        raise
    return case


def _revocation_upload_check(upload) -> CheckedUpload:
    """``upload_check``, with a refusal that names the file and the field."""
    try:
        return upload_check(upload)
    except UploadRejected as refusal:
        raise UploadRejected(
            _("%(name)s is refused: %(reason)s")
            % {"name": sanitise_name(getattr(upload, "name", "") or ""), "reason": refusal.message},
            code=refusal.code,
            field="evidence",
        ) from refusal


def extend_deadline(
    *, case: Case, supervisor: AbstractBaseUser, step: str, days: int, reason: str
) -> Deadline:
    """A supervisor extends a running deadline, naming why (DOMAIN: every extension)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("State why the deadline is extended."), field="reason")
    if days < 1 or days > 60:
        raise InvalidInput(_("Extend by 1 to 60 working days."), field="days")
    with transaction.atomic():
        case = case_lock(case)
        decision = step == Deadline.Step.DECISION and case.rule_set_id is not None
        head = decision and case.rule_set.extension_needs_head_approval
        access.ensure_officer(
            supervisor,
            Role.SIGNER if head else Role.SUPERVISOR,
            case,
            action=_("extend a deadline"),
        )
        deadline = clock.deadline_running(case, step)
        if deadline is None or deadline.status != Deadline.Status.RUNNING:
            raise WrongState(
                _("No running %(step)s deadline to extend.") % {"step": step},
                code="no_running_deadline",
            )
        if decision:
            _decision_extension_check(case.rule_set, deadline, days)
        before_due = deadline.due_on
        clock.deadline_extend(deadline, days=days, approved_by=supervisor, reason=reason)
        event_record(
            case,
            "deadline_extended",
            actor=supervisor,
            role=Role.SUPERVISOR,
            before={"step": step, "due_on": before_due.isoformat()},
            after={"step": step, "due_on": deadline.due_on.isoformat()},
            note=reason,
            data={"days": days},
        )
    return deadline


def _decision_extension_check(rule_set, deadline: Deadline, days: int) -> None:
    """The decision deadline is extended once, by at most the version's figure
    (《信用修复管理办法》第十六条第三款: 10 working days; SAMR Order 107 Art. 16: 10, with
    the head's approval, which ``extend_deadline`` asks of a signing official)."""
    limit = clock.rule_figure(rule_set, "extension_days")
    basis = rule_set.citation_text("extension_days") or rule_set.label
    if deadline.extended_days:
        raise WrongState(
            _("The decision deadline was already extended once; the rules allow one (%(basis)s).")
            % {"basis": basis},
            code="already_extended",
        )
    if days > limit:
        raise InvalidInput(
            _("One extension of at most %(limit)s days is allowed (%(basis)s).")
            % {"limit": limit, "basis": basis},
            field="days",
        )


# --- evidence ---------------------------------------------------------------------------


def add_evidence(
    *,
    case: Case,
    uploaded_by: AbstractBaseUser,
    upload,
    material: str = Material.OTHER,
    record: Record | None = None,
    source: str = Evidence.Source.APPLICANT,
    description: str = "",
) -> Evidence:
    """Check and store one evidence file for a case.

    The file is checked (size, type by content, scanner) before anything is
    written; a refused file leaves nothing behind. Uploading the same content to
    the same case again returns the item already there (``Duplicate`` is not raised:
    a retried upload is not an error).
    """
    if material not in Material.values:
        raise InvalidInput(
            _("Unknown material %(material)s.") % {"material": repr(material)}, field="material"
        )
    if source not in Evidence.Source.values:
        raise InvalidInput(
            _("Unknown source %(source)s.") % {"source": repr(source)}, field="source"
        )
    checked = upload_check(upload)
    stored = []
    try:
        with transaction.atomic():
            case = case_lock(case)
            if source == Evidence.Source.APPLICANT:
                access.ensure_applicant(uploaded_by, case, action=_("add evidence"))
                role = APPLICANT_ROLE
            else:
                access.ensure_officer(
                    uploaded_by, Role.CASE_OFFICER, case, action=_("add evidence")
                )
                role = Role.CASE_OFFICER
            ensure_state(case, *Case.EVIDENCE_OPEN_STATUSES, action=_("take new evidence"))
            if record is not None and not case.case_records.filter(record=record).exists():
                raise InvalidInput(_("That record is not part of this case."), field="record")
            evidence, _created = _evidence_store(
                case=case,
                checked=checked,
                uploaded_by=uploaded_by,
                role=role,
                source=source,
                material=material,
                record=record,
                description=description,
                stored=stored,
            )
    except BaseException:
        _files_remove(stored)
        raise
    return evidence


def _evidence_store(
    *,
    case: Case,
    checked: CheckedUpload,
    uploaded_by: AbstractBaseUser,
    role: str,
    source: str,
    material: str = Material.OTHER,
    record: Record | None = None,
    description: str = "",
    stored: list[str],
) -> tuple[Evidence, bool]:
    """Store one checked upload as evidence of the locked ``case``, with its
    ``evidence_added`` event; ``(item, True)``. The same content already in the case is
    that item, stored once: ``(item, False)``.

    The stored file's name is added to ``stored``: the caller's transaction may still
    roll back, and then the caller removes the file (``_files_remove``).
    """
    existing = case.evidence.filter(sha256=checked.sha256).first()
    if existing is not None:
        return existing, False
    evidence = Evidence(
        case=case,
        record=record,
        material=material,
        original_name=checked.name,
        sha256=checked.sha256,
        size=checked.size,
        content_type=checked.content_type,
        source=source,
        description=description,
        uploaded_by=uploaded_by,
    )
    evidence.file.save("evidence", ContentFile(checked.content), save=False)
    stored.append(evidence.file.name)
    evidence.save()
    event_record(
        case,
        "evidence_added",
        actor=uploaded_by,
        role=role,
        after={"evidence": evidence.pk},
        data={
            "sha256": checked.sha256,
            "size": checked.size,
            "type": checked.content_type,
            "material": material,
            "source": source,
            "name": checked.name,
        },
    )
    return evidence, True


def _files_remove(names: list[str]) -> None:
    """The database rolled back: remove the files stored meanwhile, so nothing is left."""
    for name in names:
        Evidence.file.field.storage.delete(name)


# --- steps the clock takes ---------------------------------------------------------------


def close(*, case: Case) -> Case:
    """End the appeal window (run by its timer): the case is closed for good."""
    with transaction.atomic():
        case = case_lock(case)
        if case.status != Case.Status.APPEAL_WINDOW:
            return case  # revoked or otherwise finished meanwhile: nothing to close
        before = _snapshot(case)
        clock.deadlines_close_all(case, actor=None, reason="case closed")
        case.status = Case.Status.CLOSED
        case.save(update_fields=["status", "updated_at"])
        event_record(
            case,
            "closed",
            actor=None,
            role="system",
            automated=True,
            before=before,
            after=_snapshot(case),
            note="Appeal window ended.",
        )
    return case


def escalate_deadline(*, case: Case, step: str, overdue: bool) -> Deadline | None:
    """Flag a deadline that is near or past to the agency's supervisors (run by a timer).

    Escalation decides nothing: it records that the deadline needs a person's
    attention; the supervisor reassigns or extends.
    """
    with transaction.atomic():
        case = case_lock(case)
        deadline = clock.deadline_running(case, step)
        if deadline is None or deadline.status != Deadline.Status.RUNNING:
            return None
        deadline.escalated_at = timezone.now()
        deadline.save(update_fields=["escalated_at"])
        with translation.override("en"):  # system notes in the log are English, as elsewhere
            step_name = str(Deadline.Step(step).label)
        event_record(
            case,
            "deadline_overdue" if overdue else "deadline_near",
            actor=None,
            role="system",
            automated=True,
            data={"step": step, "due_on": deadline.due_on.isoformat()},
            note=f"{step_name}: due {deadline.due_on:%Y-%m-%d}; escalated to the "
            f"supervisors of {case.agency.code}.",
        )
    return deadline


def note_assignment(
    *, case: Case, supervisor: AbstractBaseUser, task, assignee: AbstractBaseUser
) -> None:
    """Record that a supervisor gave a task of the case to an officer."""
    with transaction.atomic():
        case = case_lock(case)
        event_record(
            case,
            "task_assigned",
            actor=supervisor,
            role=Role.SUPERVISOR,
            data={
                "task": task.pk,
                "step": task.flow_task.name,
                "assignee": assignee.get_username(),
            },
        )
