"""Every write to the case domain.

Each function that changes a case locks it, checks who is acting and the state,
changes it, and records a case event, in one transaction; side effects (messages,
letters) are queued in that same transaction. Views, the API, commands and the
workflow call these functions and nothing else to change a case.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext

from cases import access, clock
from cases.eligibility import case_eligibility, restoration_eligibility
from cases.errors import (
    Duplicate,
    InvalidInput,
    NotPermitted,
    RuleViolation,
    UploadRejected,
    WrongState,
)
from cases.events import case_lock, event_record, record_event_record
from cases.identifiers import guess_subject_kind, validate_subject_code
from cases.models import (
    REVOCATION_BASIS,
    REVOCATION_DECISION_LIST,
    Appeal,
    Case,
    CaseEvent,
    CaseRecord,
    Deadline,
    DecisionMeeting,
    Evidence,
    LegalReviewGround,
    ListType,
    Material,
    PenaltyType,
    Publication,
    PublicationEffect,
    Record,
    ReferenceCounter,
    Revocation,
    RevocationGround,
    Role,
    ServiceConsent,
    Signature,
    Subject,
)
from cases.publications import effect_payload, effects_request
from cases.rules import (
    PLAN_FAILURE_STATUSES,
    SEVERITY_ORDER,
    SUBMITTABLE_RECORD_STATUSES,
    case_governing_rule_set,
    case_on_court_list,
    missing_required_materials,
    revocation_refusal,
    revocation_review_refusal,
    revocation_sign_refusal,
    rule_set_for_record,
    temporary_restoration_refusal,
)
from cases.uploads import CheckedUpload, sanitise_name, upload_check

APPLICANT_ROLE = "applicant"
MEETING_BASIS = "《中华人民共和国行政处罚法》第五十七条第二款"
STATEMENT_BASIS = "《中华人民共和国行政处罚法》第四十一条、第四十五条、第六十二条"


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
    A restoration that does not qualify (too early, or a penalty the rules bar) is
    filed all the same: the finding per record (``cases.eligibility``) is recorded with
    the submission and shown at the acceptance check, where a person decides
    (《信用修复管理办法》第十六条第二款). Repeating a submission with the same
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
    findings = _eligibility_findings(kind, records, on=today)
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
        _submission_recorded(case, role=role, records=locked, findings=findings)
    return case


def _ensure_known_kind(kind: str) -> None:
    """Raise ``InvalidInput`` (field ``kind``) unless ``kind`` is a ``Case.Kind``."""
    if kind not in Case.Kind.values:
        raise InvalidInput(
            _("Unknown kind %(kind)s: use objection, restoration or reorganisation.")
            % {"kind": repr(kind)},
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
    kind does not take, then ``RuleViolation`` for an objection past its window. Whether
    a restoration qualifies is not a reason to refuse filing (see ``submit``).
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
        if kind == Case.Kind.REORGANISATION:
            reason = temporary_restoration_refusal(record, on=on)
            if reason:
                raise RuleViolation(reason, code="temporary_restoration_not_offered")
        elif kind == Case.Kind.OBJECTION:
            _ensure_objection_in_time(record, on=on)


def _eligibility_findings(kind: str, records: Sequence[Record], *, on) -> list[dict]:
    """For a restoration, what the rules say of each record ``on`` the filing day (as
    ``Eligibility.as_data``); nothing for an objection."""
    if kind != Case.Kind.RESTORATION:
        return []
    return [restoration_eligibility(record, on=on).as_data() for record in records]


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
        reason=gettext_noop("submitted"),
    )
    if rule_set.materials_notice_days:
        # SAMR Order 107 Art. 14 ¶2: an incomplete application is told, within this
        # period and at once, everything it must supply (request_materials meets it).
        clock.deadline_start(
            case,
            Deadline.Step.NOTICE,
            rule_set=rule_set,
            figure="materials_notice_days",
            actor=actor,
            reason=gettext_noop(
                "submitted: any request for missing materials is due, complete, by then"
            ),
        )


def _submission_recorded(
    case: Case, *, role: str, records: Sequence[Record], findings: Sequence[dict] = ()
) -> None:
    """Record the ``submitted`` event: who filed, in which role, how, and against which
    records, with what the rules said of each (``findings``, a restoration's); an officer
    filing on the subject's behalf names the applicant."""
    on_behalf = case.filed_by_id != case.applicant_id
    data = {
        "kind": case.kind,
        "channel": case.channel,
        "records": [r.decision_no for r in records],
        "on_behalf_of": case.applicant.get_username() if on_behalf else "",
    }
    if findings:
        data["eligibility"] = list(findings)
    event_record(
        case, "submitted", actor=case.filed_by, role=role, after={"status": case.status}, data=data
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
        running = clock.deadlines_running(case, Deadline.Step.ACCEPTANCE, Deadline.Step.NOTICE)
        acceptance = running[Deadline.Step.ACCEPTANCE]
        if acceptance is not None:
            clock.deadline_close(acceptance, actor=officer, reason=gettext_noop("accepted"))
        notice = running[Deadline.Step.NOTICE]
        if notice is not None:
            clock.deadline_close(
                notice,
                actor=officer,
                cancelled=True,
                reason=gettext_noop("accepted: nothing was missing"),
            )
        _decision_clock_start(case, rule_set=rule_set, officer=officer)
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


def _decision_clock_start(case: Case, *, rule_set, officer: AbstractBaseUser) -> None:
    """Start the decision deadline of a case just accepted under ``rule_set``.

    An objection or a restoration counts its review days from acceptance. A temporary
    restoration during reorganisation counts ``temporary_restoration_days`` from the
    day the complete request was received (《信用修复管理办法》第二十条: 自收到申请之日起;
    《市场监督管理信用修复管理办法》第二十二条): the day it was filed, or the day the
    missing materials arrived if some were asked for.
    """
    if case.kind != Case.Kind.REORGANISATION:
        figure = (
            "objection_review_days"
            if case.kind == Case.Kind.OBJECTION
            else "restoration_review_days"
        )
        clock.deadline_start(
            case,
            Deadline.Step.DECISION,
            rule_set=rule_set,
            figure=figure,
            actor=officer,
            reason=gettext_noop("accepted: the rule version in force sets the review period"),
        )
        return
    clock.deadline_start(
        case,
        Deadline.Step.DECISION,
        rule_set=rule_set,
        figure="temporary_restoration_days",
        actor=officer,
        on=_request_received_on(case),
        reason=gettext_noop("temporary restoration: counted from receipt of the complete request"),
    )


def _request_received_on(case: Case) -> datetime.date:
    """The day a request was received complete: the day the missing materials arrived if
    some were asked for, else the filing day (a request is received once it is whole)."""
    completed = case.events.filter(kind="materials_resubmitted").order_by("-seq").first()
    return timezone.localdate(completed.at if completed is not None else case.submitted_at)


# Who asks for missing materials at each stage, and whose deadline stops meanwhile.
MATERIALS_ASKED_BY = {
    Case.Status.SUBMITTED: (Role.INTAKE, Deadline.Step.ACCEPTANCE),
    Case.Status.UNDER_REVIEW: (Role.CASE_OFFICER, Deadline.Step.DECISION),
}


def request_materials(
    *, case: Case, officer: AbstractBaseUser, missing: Sequence[dict], note: str = ""
) -> Case:
    """Ask the applicant for everything that is missing, in one complete list.

    ``missing`` is a list of ``{"material": code, "detail": text}``; a later request on
    the same case also gives each item's ``"reason"``: how the applicant's resubmission
    made it necessary (``_ensure_one_complete_request``). The case's clock stops until
    the materials arrive; the applicant gets a deadline to supply them.
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
        resubmission = _ensure_one_complete_request(case, items)
        if resubmission is None:
            _ensure_request_complete(case, rule_set, items)
        notice = clock.deadline_running(case, Deadline.Step.NOTICE)
        if notice is not None:
            clock.deadline_close(
                notice, actor=officer, reason=gettext_noop("missing materials requested")
            )
        _clock_wait_for_materials(case, step=step, rule_set=rule_set, officer=officer)
        _case_await_materials(case, items)
        data = {"missing": items}
        if resubmission is not None:
            data["after_resubmission"] = resubmission.seq
        event_record(
            case,
            "materials_requested",
            actor=officer,
            role=role,
            before=before,
            after=_snapshot(case),
            note=_request_note(note, items),
            data=data,
        )
    return case


def _ensure_one_complete_request(case: Case, items: Sequence[dict]):
    """Everything missing is asked for once (《信用修复管理办法》第十六条第二款 一次性告知;
    《市场监督管理信用修复管理办法》第十四条第二款). None for the case's first request; for a
    later one, the applicant's resubmission that made it necessary (its event).

    A later request is refused (``WrongState`` ``materials_already_requested``) unless the
    applicant resubmitted since the last request, and (``InvalidInput``, field
    ``missing``) unless every item says why that resubmission made it necessary.
    """
    last = case.events.filter(kind="materials_requested").order_by("-seq").first()
    if last is None:
        return None
    resubmission = (
        case.events.filter(kind="materials_resubmitted", seq__gt=last.seq).order_by("-seq").first()
    )
    if resubmission is None:
        raise WrongState(
            _(
                "Everything missing was asked for on %(date)s, at once (《信用修复管理办法》"
                "第十六条第二款): a further request names only what the applicant's "
                "resubmission made necessary, and there has been no resubmission since."
            )
            % {"date": f"{timezone.localdate(last.at):%Y-%m-%d}"},
            code="materials_already_requested",
        )
    unexplained = [i for i in items if not i.get("reason")]
    if unexplained:
        raise InvalidInput(
            _(
                "Everything missing was asked for once already: for each item of a further "
                "request, say how the resubmission made it necessary (%(materials)s)."
            )
            % {"materials": _material_labels(i["material"] for i in unexplained)},
            field="missing",
        )
    return resubmission


def _request_note(note: str, items: Sequence[dict]) -> str:
    """The officer's note, followed by each item's reason where a later request gives one,
    so the timeline shows why it was asked for."""
    reasons = [f"{Material(i['material']).label}: {i['reason']}" for i in items if i.get("reason")]
    return "\n".join(filter(None, [note.strip(), *reasons]))


def _missing_items(missing: Sequence[dict]) -> list[dict]:
    """The requested items as ``{"material": code, "detail": text}``, each a known
    material, an "other" one described; ``InvalidInput`` (field ``missing``) otherwise,
    or if there are none."""
    items = [
        {
            "material": str(m.get("material") or Material.OTHER),
            "detail": str(m.get("detail", "")).strip(),
            # A later request says why the resubmission made the item necessary.
            **({"reason": str(m["reason"]).strip()} if str(m.get("reason") or "").strip() else {}),
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
        clock.deadline_stop(
            running, actor=officer, reason=gettext_noop("waiting for missing materials")
        )
    clock.deadline_start(
        case,
        Deadline.Step.MATERIALS,
        rule_set=rule_set,
        figure="materials_days",
        actor=officer,
        reason=gettext_noop("materials requested"),
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
            clock.deadline_close(
                materials, actor=applicant, reason=gettext_noop("materials supplied")
            )
        case.status = case.resume_status or Case.Status.SUBMITTED
        step = (
            Deadline.Step.DECISION
            if case.status == Case.Status.UNDER_REVIEW
            else Deadline.Step.ACCEPTANCE
        )
        stopped = clock.deadline_running(case, step)
        if stopped is not None and stopped.status == Deadline.Status.STOPPED:
            clock.deadline_resume(
                stopped, actor=applicant, reason=gettext_noop("materials supplied")
            )
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
        clock.deadline_close(
            materials, actor=None, reason=gettext_noop("no materials by the deadline")
        )
        clock.deadlines_close_all(case, actor=None, reason=gettext_noop("case lapsed"))
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
    """Decide not to accept a case, with the reasons (served in a non-acceptance letter).

    The intake officer's reasons are theirs to write (a form may prefill them from the
    findings, never decide them); what the rules say of each record on the filing day
    (``cases.eligibility``) is recorded beside them, and the letter states it with the
    earliest date to apply again. Where the rule version needs the head's approval
    (``refusal_needs_head_approval``; SAMR Order 107 Art. 14(3): 不予受理的，应当经负责人
    批准), this only proposes the non-acceptance: the case stays in its acceptance check
    until a signing official approves it (``non_acceptance_approve``).
    """
    reasons = (reasons or "").strip()
    if not reasons:
        raise InvalidInput(_("Give the reasons for not accepting."), field="reasons")
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(officer, Role.INTAKE, case, action=_("refuse a case"))
        ensure_state(case, Case.Status.SUBMITTED, action=_("be refused"))
        if case.non_acceptance_proposed_by_id:
            raise WrongState(
                _("A non-acceptance of %(reference)s awaits the head's approval already.")
                % {"reference": case.reference},
                code="approval_pending",
            )
        rule_set = case_governing_rule_set(case, on=timezone.localdate())
        findings = [e.as_data() for e in case_eligibility(case)]
        if not rule_set.refusal_needs_head_approval:
            _not_accepted(case, actor=officer, role=Role.INTAKE, reasons=reasons, findings=findings)
            return case
        before = _snapshot(case)
        case.non_acceptance_proposed_by = officer
        case.decision_reasons = reasons
        case.save(update_fields=["non_acceptance_proposed_by", "decision_reasons", "updated_at"])
        event_record(
            case,
            "non_acceptance_proposed",
            actor=officer,
            role=Role.INTAKE,
            before=before,
            after=_snapshot(case),
            note=reasons,
            data={
                "findings": findings,
                "rule_set": rule_set.label,
                "approval_basis": rule_set.citations.get("refusal_needs_head_approval", []),
            },
        )
    return case


def non_acceptance_approve(
    *, case: Case, head: AbstractBaseUser, approve: bool, note: str = ""
) -> Case:
    """The head's answer to a proposed non-acceptance (SAMR Order 107 Art. 14(3)).

    A signing official of the agency (the head or the official the agency lets sign for
    them), never the officer who proposed it (four eyes), approves: the non-acceptance
    takes effect, recording who approved it, and its letter says so. Or they do not
    approve, saying why (``note``): the proposal is withdrawn and the intake officer
    decides the acceptance check again.
    """
    note = (note or "").strip()
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(head, Role.SIGNER, case, action=_("approve a non-acceptance"))
        ensure_state(case, Case.Status.SUBMITTED, action=_("be refused"))
        if not case.non_acceptance_proposed_by_id:
            raise WrongState(
                _("No non-acceptance of %(reference)s awaits approval.")
                % {"reference": case.reference},
                code="no_proposal",
            )
        access.ensure_four_eyes(head, case, "refusal_approval")
        proposal = case.events.filter(kind="non_acceptance_proposed").order_by("-seq").first()
        findings = proposal.data.get("findings", []) if proposal else []
        if approve:
            case.non_acceptance_approved_by = head
            _not_accepted(
                case,
                actor=head,
                role=Role.SIGNER,
                reasons=case.decision_reasons,
                findings=findings,
                proposed_by=case.non_acceptance_proposed_by,
                note=note,
            )
            return case
        if not note:
            raise InvalidInput(_("Say why the non-acceptance is not approved."), field="note")
        before = _snapshot(case)
        case.non_acceptance_proposed_by = None
        case.decision_reasons = ""
        case.save(update_fields=["non_acceptance_proposed_by", "decision_reasons", "updated_at"])
        event_record(
            case,
            "non_acceptance_declined",
            actor=head,
            role=Role.SIGNER,
            before=before,
            after=_snapshot(case),
            note=note,
        )
    return case


def _not_accepted(
    case: Case,
    *,
    actor: AbstractBaseUser,
    role: str,
    reasons: str,
    findings: list[dict],
    proposed_by: AbstractBaseUser | None = None,
    note: str = "",
) -> None:
    """The non-acceptance takes effect (under the caller's lock): the case is decided and
    closed, its clock stops, and the ``not_accepted`` event (which requests the letter)
    records the reasons, the findings and, where the head approved, who proposed it."""
    before = _snapshot(case)
    clock.deadlines_close_all(case, actor=actor, reason=gettext_noop("not accepted"))
    now = timezone.now()
    case.status = Case.Status.NOT_ACCEPTED
    case.decision_reasons = reasons
    # Not accepting is a decision (不予受理决定), appealable like any other: it has a date.
    case.decided_at = now
    case.closed_at = now
    case.save(
        update_fields=[
            "status",
            "decision_reasons",
            "decided_at",
            "closed_at",
            "non_acceptance_approved_by",
            "updated_at",
        ]
    )
    data = {"findings": findings}
    if proposed_by is not None:
        data["proposed_by"] = proposed_by.get_username()
        data["approved_by"] = actor.get_username()
        if note:
            data["approval_note"] = note
    event_record(
        case,
        "not_accepted",
        actor=actor,
        role=role,
        before=before,
        after=_snapshot(case),
        note=reasons,
        data=data,
    )


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
    legal_review_grounds: Sequence[str] | None = None,
    legal_review_other_basis: str = "",
) -> Case:
    """Finish the evidence review with a recommendation; on to legal review or sign-off.

    ``corrections`` (objections only) gives, per upheld record, the corrected text:
    the record is then corrected instead of removed.

    ``legal_review_grounds`` are the grounds of APL Art. 58 ¶1 the case officer finds
    (``LegalReviewGround``; none: an empty list), with ``legal_review_other_basis`` naming
    the provision for "another law or regulation". The case goes to legal review when the
    rule set asks for it or a ground is recorded (``Case.legal_review_required``).

    Every item must have been reviewed by a person; an item still marked "needs more"
    must be asked for (``case_request_materials``) rather than decided around.
    """
    if recommendation not in Case.Decision.values:
        raise InvalidInput(
            _("Unknown recommendation %(recommendation)s.")
            % {"recommendation": repr(recommendation)},
            field="recommendation",
        )
    grounds, other_basis = _legal_review_grounds(legal_review_grounds, legal_review_other_basis)
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
        case.legal_review_grounds = grounds
        case.legal_review_other_basis = other_basis
        case.status = (
            Case.Status.LEGAL_REVIEW if case.legal_review_required else Case.Status.SIGN_OFF
        )
        case.save(
            update_fields=[
                "review_officer",
                "recommendation",
                "legal_review_grounds",
                "legal_review_other_basis",
                "status",
                "updated_at",
            ]
        )
        event_record(
            case,
            "review_completed",
            actor=reviewer,
            role=Role.CASE_OFFICER,
            before=before,
            after=_snapshot(case),
            note=note,
            data={
                "recommendation": recommendation,
                "legal_review_grounds": grounds,
                "legal_review_by_rule_set": bool(case.rule_set.legal_review_required),
            },
        )
        if grounds:
            # APL Art. 58 ¶1: the grounds on record, each with its item, on the timeline.
            event_record(
                case,
                "legal_review_grounds_recorded",
                actor=reviewer,
                role=Role.CASE_OFFICER,
                note=other_basis,
                data={"grounds": grounds},
            )
    return case


def _legal_review_grounds(grounds: Sequence[str] | None, other_basis: str) -> tuple[list, str]:
    """The recorded grounds of APL Art. 58 ¶1, known and once each in the order of the
    article, and the provision behind "another law or regulation" (required with it)."""
    grounds = list(grounds or [])
    unknown = [g for g in grounds if g not in LegalReviewGround.values]
    if unknown:
        raise InvalidInput(
            _("Unknown ground of legal review %(ground)s.") % {"ground": repr(unknown[0])},
            field="legal_review_grounds",
        )
    ordered = [g for g in LegalReviewGround.values if g in grounds]
    other_basis = (other_basis or "").strip()
    if LegalReviewGround.OTHER_LAW in ordered and not other_basis:
        raise InvalidInput(
            _("Name the law or regulation that requires a legal review of this case."),
            field="legal_review_other_basis",
        )
    if LegalReviewGround.OTHER_LAW not in ordered:
        other_basis = ""
    return ordered, other_basis


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
        access.ensure_legally_qualified(reviewer, "legal_review")  # APL Art. 58 ¶2
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
    lifted_measures: str = "",
) -> Case:
    """An accountable official signs the decision: approve, partly approve or reject.

    The signer may not be the case officer or the legal reviewer of the case. Where
    the rule set asks for a collective decision, the decision takes effect when that
    many different signers have signed the same decision; a signer who disagrees
    sends the case back to review. A rejection states its reasons. Granting a
    temporary restoration during reorganisation names the disciplinary measures it
    lifts, no more than the plan needs (``lifted_measures``, 《信用修复管理办法》第二十条).
    """
    reasons = _decision_reasons(decision, reasons)
    lifted_measures = (lifted_measures or "").strip()
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_officer(signer, Role.SIGNER, case, action=_("sign a decision"))
        ensure_state(case, Case.Status.SIGN_OFF, action=_("be signed"))
        access.ensure_four_eyes(signer, case, "sign_off")
        _ensure_meeting_recorded(case)
        _ensure_statement_heard(case)
        if case.kind == Case.Kind.REORGANISATION and decision != Case.Decision.REJECTED:
            if not lifted_measures:
                raise InvalidInput(
                    _(
                        "Name the disciplinary measures lifted while the plan is carried out "
                        "(only those that hinder it), or write that none are."
                    ),
                    field="lifted_measures",
                )
            case.lifted_measures = lifted_measures
            case.save(update_fields=["lifted_measures", "updated_at"])
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


def _removal_clock_start(case: Case, *, signer: AbstractBaseUser) -> Deadline:
    """Start the platforms' deadline once a decision asks them to act.

    A withdrawal runs on the rule set's ``removal_days`` from the decision. A temporary
    shielding is due within ``temporary_restoration_days`` of receiving the request, not
    of the decision (《信用修复管理办法》第二十条第一款: 自收到申请之日起10个工作日内…临时
    屏蔽; 《市场监督管理信用修复管理办法》第二十二条: 7): the same day the decision was due,
    so a late decision leaves the platforms' deadline already near or past, and the clock
    escalates it.
    """
    rule_set = case.rule_set
    if case.kind != Case.Kind.REORGANISATION:
        return clock.deadline_start(
            case,
            Deadline.Step.REMOVAL,
            rule_set=rule_set,
            figure="removal_days",
            actor=signer,
            reason=gettext_noop("every platform to withdraw the record"),
        )
    return clock.deadline_start(
        case,
        Deadline.Step.REMOVAL,
        rule_set=rule_set,
        figure="temporary_restoration_days",
        actor=signer,
        on=_request_received_on(case),
        # "<reason>: <detail>": the reason reads in the reader's language, the article as cited.
        reason=gettext_noop("every platform to shield the record, from receipt of the request")
        + ": "
        + (rule_set.citation_text("temporary_restoration_days", "en") or rule_set.label),
    )


def _ensure_meeting_recorded(case: Case) -> None:
    """APL Art. 57 ¶2: where the rule set asks for a collective decision, no signer decides
    a sign-off round before its meeting is on record (``record_meeting``)."""
    if not case.rule_set.collective_decision_required:
        return
    if not case.meetings.filter(round=case.signoff_round).exists():
        raise WrongState(
            _(
                "This case is decided collectively by the agency's heads (Administrative "
                "Penalties Law, Article 57): record the meeting (date, participants, minutes) "
                "before signing."
            ),
            code="meeting_not_recorded",
            basis=MEETING_BASIS,
        )


def _ensure_statement_heard(case: Case) -> None:
    """APL Arts. 41, 45 and 62: no decision relies on evidence from electronic monitoring
    while the party's period to state its case and defend runs and it has not done so."""
    deadline = _statement_period(case)
    if deadline is not None and timezone.localdate() <= deadline.due_on:
        raise WrongState(
            _(
                "The party was told of evidence from electronic monitoring and may state its "
                "case and defend until %(due)s (Administrative Penalties Law, Articles 41 and "
                "62): sign after that day, or once the party has made its statement."
            )
            % {"due": deadline.due_on.isoformat()},
            code="statement_period_running",
            basis=STATEMENT_BASIS,
        )


def _statement_period(case: Case) -> Deadline | None:
    """The party's running period to state its case and defend, the latest first."""
    return (
        Deadline.objects.filter(
            case=case, step=Deadline.Step.STATEMENT, status=Deadline.Status.RUNNING
        )
        .order_by("-due_on", "-id")
        .first()
    )


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
    for period in Deadline.objects.filter(
        case=case, step=Deadline.Step.STATEMENT, status=Deadline.Status.RUNNING
    ):
        clock.deadline_close(
            period, actor=signer, reason=gettext_noop("the period ended without a statement")
        )
    _clock_decided(case, decision=decision, signer=signer)
    withdrawals = sum(_record_decided(cr) for cr in case.case_records.select_related("record"))
    if withdrawals:
        case.status = Case.Status.REMOVAL
        removal = _removal_clock_start(case, signer=signer)
        # Each platform, for each effect it is responsible for (《信用修复管理办法》第三条),
        # within the removal deadline (decision 0024).
        effects_request(
            Publication.objects.filter(
                record__case_records__case=case,
                record__status=Record.Status.REMOVED,
                status=Publication.Status.WITHDRAWAL_REQUESTED,
            ).select_related("platform", "record"),
            deadline=removal,
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


# Why the decision deadline closed, as the clock's ledger records it (translated when read).
DECIDED_REASONS = {
    Case.Decision.APPROVED: gettext_noop("decided: approved"),
    Case.Decision.PARTLY_APPROVED: gettext_noop("decided: partly approved"),
    Case.Decision.REJECTED: gettext_noop("decided: rejected"),
}


def _clock_decided(case: Case, *, decision: str, signer) -> None:
    """Close the decision deadline and start the one for serving the decision's letter."""
    decision_deadline = clock.deadline_running(case, Deadline.Step.DECISION)
    if decision_deadline is not None:
        clock.deadline_close(decision_deadline, actor=signer, reason=DECIDED_REASONS[decision])
    clock.deadline_start(
        case,
        Deadline.Step.LETTER,
        rule_set=case.rule_set,
        figure="letter_service_days",
        actor=signer,
        reason=gettext_noop("decision letter to be served"),
    )


def _record_decided(cr: CaseRecord) -> int:
    """Give one record of a decided case its outcome; the number of platforms asked to
    withdraw it.

    An upheld objection with a correction corrects the record and publishes it again; an
    upheld temporary restoration shields the record and asks every platform to shield
    it (《信用修复管理办法》第二十条); any other upheld record is removed and every platform
    still showing it is asked to withdraw it. A record not upheld returns to how it was
    before the case.
    """
    record = cr.record
    if cr.outcome != CaseRecord.Outcome.UPHELD:
        _record_restore(cr)
        return 0
    if record.status == Record.Status.EXPIRED:
        # Publication ended at its maximum while the case ran (《信用修复管理办法》第十二条,
        # cases.expiry): nothing is published again, and the platforms were already
        # asked to withdraw it; a correction is kept on the record.
        if cr.correction:
            record.corrected_text = cr.correction
            record.save(update_fields=["corrected_text", "updated_at"])
        return 0
    if cr.case.kind == Case.Kind.REORGANISATION:
        # Shielded, not removed, while the plan is carried out (《信用修复管理办法》第二十条).
        record.status = Record.Status.SHIELDED
        record.save(update_fields=["status", "updated_at"])
        return record.publications.exclude(status=Publication.Status.WITHDRAWN).update(
            status=Publication.Status.SHIELD_REQUESTED, acknowledged_at=None
        )
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


# What a platform confirms, by what it was asked: the publication's status once it has,
# and the status the case waits in meanwhile.
ACKNOWLEDGEMENTS = {
    Publication.Status.WITHDRAWAL_REQUESTED: (Publication.Status.WITHDRAWN, Case.Status.REMOVAL),
    Publication.Status.SHIELD_REQUESTED: (Publication.Status.SHIELDED, Case.Status.REMOVAL),
    Publication.Status.PUBLICATION_REQUESTED: (
        Publication.Status.PUBLISHED,
        Case.Status.PLAN_FAILED,
    ),
}
# The event the case records for each.
ACKNOWLEDGED_EVENTS = {
    Publication.Status.WITHDRAWAL_REQUESTED: "platform_acknowledged",
    Publication.Status.SHIELD_REQUESTED: "platform_shielded",
    Publication.Status.PUBLICATION_REQUESTED: "platform_republished",
}


def _plan_failure_waits(publication: Publication) -> bool:
    """Whether a temporary restoration whose plan failed waits for this platform to
    publish the record again (otherwise a re-publication follows a revocation)."""
    return Case.objects.filter(
        case_records__record_id=publication.record_id, status=Case.Status.PLAN_FAILED
    ).exists()


def acknowledge_publication(
    *, publication: Publication, note: str = "", status: str | None = None
) -> Publication:
    """A platform confirms it did what it was asked with the record: withdrew it,
    shielded it for a reorganisation, or published it again; the case moves on when
    every platform has.

    ``status`` is what the platform says it did (``withdrawn``, ``shielded``,
    ``published``); when given it must be what it was asked. Called from the
    platform's signed callback: the platform, not a person of the agency, acts here,
    so the event is marked automated and names the platform.
    """
    with transaction.atomic():
        publication = (
            Publication.objects.select_for_update(of=("self",))
            .select_related("record", "platform")
            .get(pk=publication.pk)
        )
        if publication.status in (Publication.Status.WITHDRAWN, Publication.Status.SHIELDED) and (
            status is None or status == publication.status
        ):
            # Effects asked again after a mismatch are acknowledged with it (old clients
            # acknowledge the publication); otherwise a repeated acknowledgement changes
            # nothing.
            for effect in publication.effects.filter(acknowledged_at__isnull=True):
                acknowledge_effect(effect=effect, note=note)
            return publication
        if not _plan_failure_waits(publication) and (
            publication.status == Publication.Status.PUBLICATION_REQUESTED
            or (publication.status == Publication.Status.PUBLISHED and publication.acknowledged_at)
        ):
            # Published again after a revocation, or the revocation decision (decision 0016).
            if status not in (None, Publication.Status.PUBLISHED):
                raise InvalidInput(
                    _("%(platform)s was asked to publish %(record)s, not to make it %(said)s.")
                    % {
                        "platform": publication.platform,
                        "record": publication.record,
                        "said": status,
                    },
                    field="status",
                )
            return _publication_acknowledged_after_revocation(publication=publication, note=note)
        if publication.status not in ACKNOWLEDGEMENTS:
            raise WrongState(
                _("No withdrawal of %(record)s was requested from %(platform)s.")
                % {"record": publication.record, "platform": publication.platform},
                code="no_withdrawal_requested",
            )
        done, waiting = ACKNOWLEDGEMENTS[publication.status]
        if status is not None and status != done:
            raise InvalidInput(
                _("%(platform)s was asked to make %(record)s %(status)s, not %(said)s.")
                % {
                    "platform": publication.platform,
                    "record": publication.record,
                    "status": done,
                    "said": status,
                },
                field="status",
            )
        requested = publication.status
        case = (
            Case.objects.filter(case_records__record=publication.record, status=waiting)
            .order_by("-decided_at", "-updated_at")
            .first()
        )
        publication.status = done
        publication.acknowledged_at = timezone.now()
        publication.save(update_fields=["status", "acknowledged_at"])
        # A withdrawal acknowledged as a whole (or its last open effect): every effect
        # still open is acknowledged with it (decision 0024).
        effects = []
        if requested == Publication.Status.WITHDRAWAL_REQUESTED:
            open_effects = list(
                publication.effects.filter(acknowledged_at__isnull=True).select_related("measure")
            )
            PublicationEffect.objects.filter(pk__in=[e.pk for e in open_effects]).update(
                acknowledged_at=publication.acknowledged_at
            )
            effects = [effect_payload(e) for e in open_effects]
        data = {"platform": publication.platform.code, "record": publication.record.decision_no}
        if effects:
            data["effects"] = effects
        appealed = (
            _appeal_withdrawal_case(publication)
            if case is None and requested == Publication.Status.WITHDRAWAL_REQUESTED
            else None
        )
        if appealed is not None:
            _publication_acknowledged_after_appeal(appealed, publication, note=note)
            return publication
        if case is None:
            # A withdrawal no case waits for (publication ended at its maximum,
            # cases.expiry): the acknowledgement goes on the record's own trail.
            record = Record.objects.select_for_update(of=("self",)).get(pk=publication.record_id)
            record_event_record(
                record,
                "platform_acknowledged",
                role="platform",
                before={"publication": Publication.Status.WITHDRAWAL_REQUESTED},
                after={"publication": publication.status},
                note=note,
                data=data,
            )
            return publication
        case = case_lock(case)
        before = _snapshot(case)
        pending = Publication.objects.filter(
            record__case_records__case=case, status=requested
        ).exists()
        if not pending and case.status == Case.Status.REMOVAL:
            removal = clock.deadline_running(case, Deadline.Step.REMOVAL)
            if removal is not None:
                clock.deadline_close(
                    removal, actor=None, reason=gettext_noop("every platform acknowledged")
                )
            case.status = Case.Status.APPEAL_WINDOW
            case.closed_at = timezone.now()
            case.save(update_fields=["status", "closed_at", "updated_at"])
        event_record(
            case,
            ACKNOWLEDGED_EVENTS[requested],
            actor=None,
            role="platform",
            automated=True,
            before=before,
            after=_snapshot(case),
            note=note,
            data=data,
        )
    return publication


def acknowledge_effect(*, effect: PublicationEffect, note: str = "") -> PublicationEffect:
    """A platform confirms one effect of a repair it was asked for: publication ended,
    sharing stopped, or one measure lifted (《信用修复管理办法》第三条).

    The same effect confirmed again changes nothing. The last open effect of a
    publication withdraws it (``acknowledge_publication``), and the case moves on when
    every platform has; an earlier one is recorded on the case waiting for it (or on the
    record's own trail, a withdrawal no case asked for). Called from the platform's
    signed callback, so the event is automated and names the platform.
    """
    with transaction.atomic():
        effect = (
            PublicationEffect.objects.select_for_update(of=("self",))
            .select_related("publication__platform", "publication__record", "measure", "deadline")
            .get(pk=effect.pk)
        )
        if effect.acknowledged_at is not None:
            return effect  # a repeated acknowledgement changes nothing
        publication = (
            Publication.objects.select_for_update(of=("self",))
            .select_related("record", "platform")
            .get(pk=effect.publication_id)
        )
        # An effect of a withdrawn publication is open only when it was asked again (a
        # withdrawal sent again after a mismatch, decision 0025): its acknowledgement is
        # recorded like any other, and the publication stays withdrawn.
        asked_again = publication.status == Publication.Status.WITHDRAWN
        if publication.status != Publication.Status.WITHDRAWAL_REQUESTED and not asked_again:
            raise WrongState(
                _("No withdrawal of %(record)s was requested from %(platform)s.")
                % {"record": publication.record, "platform": publication.platform},
                code="no_withdrawal_requested",
            )
        still_open = publication.effects.filter(acknowledged_at__isnull=True).exclude(pk=effect.pk)
        if not asked_again and not still_open.exists():
            acknowledge_publication(publication=publication, note=note)
            effect.refresh_from_db()
            return effect
        effect.acknowledged_at = timezone.now()
        effect.save(update_fields=["acknowledged_at"])
        data = {
            "platform": publication.platform.code,
            "record": publication.record.decision_no,
            **effect_payload(effect),
            "pending": still_open.count(),
        }
        if asked_again:
            data["again"] = True
        # The case whose deadline asked for it (a decision, an appeal's outcome).
        case = (
            Case.objects.get(pk=effect.deadline.case_id)
            if effect.deadline_id
            else Case.objects.filter(
                case_records__record=publication.record, status=Case.Status.REMOVAL
            )
            .order_by("-decided_at", "-updated_at")
            .first()
        )
        if case is None:
            record = Record.objects.select_for_update(of=("self",)).get(pk=publication.record_id)
            record_event_record(
                record, "platform_effect_acknowledged", role="platform", note=note, data=data
            )
            return effect
        case = case_lock(case)
        event_record(
            case,
            "platform_effect_acknowledged",
            actor=None,
            role="platform",
            automated=True,
            before=_snapshot(case),
            after=_snapshot(case),
            note=note,
            data=data,
        )
    return effect


def _publication_acknowledged_after_revocation(
    *, publication: Publication, note: str = ""
) -> Publication:
    """A platform confirms it publishes a record again (a revoked restoration) or the
    revocation decision itself: the publication is published, the revoked case's
    timeline says so. Called from the platform's signed callback, like a withdrawal's."""
    with transaction.atomic():
        publication = (
            Publication.objects.select_for_update(of=("self",))
            .select_related("record", "platform")
            .get(pk=publication.pk)
        )
        if publication.status == Publication.Status.PUBLISHED and publication.acknowledged_at:
            return publication  # a repeated acknowledgement changes nothing
        if publication.status != Publication.Status.PUBLICATION_REQUESTED:
            raise WrongState(
                _("No publication of %(record)s was requested from %(platform)s.")
                % {"record": publication.record, "platform": publication.platform},
                code="no_publication_requested",
            )
        publication.status = Publication.Status.PUBLISHED
        publication.acknowledged_at = timezone.now()
        publication.save(update_fields=["status", "acknowledged_at"])
        revocation = (
            Revocation.objects.filter(status=Revocation.Status.REVOKED)
            .filter(
                Q(decision_record=publication.record)
                | Q(case__case_records__record=publication.record)
            )
            .order_by("-revoked_at")
            .first()
        )
        if revocation is None:
            # Published again after an appeal's outcome undid an approval (APL Art. 48).
            appealed = _appeal_withdrawal_case(publication)
            if appealed is not None:
                _publication_acknowledged_after_appeal(
                    appealed, publication, note=note, republished=True
                )
            return publication
        case = case_lock(revocation.case_id)
        pending = Publication.objects.filter(
            Q(record__case_records__case=case) | Q(record=revocation.decision_record_id),
            status=Publication.Status.PUBLICATION_REQUESTED,
        ).count()
        event_record(
            case,
            "platform_published",
            actor=None,
            role="platform",
            automated=True,
            note=note,
            data={
                "platform": publication.platform.code,
                "record": publication.record.decision_no,
                "pending": pending,
            },
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
        clock.deadlines_close_all(case, actor=applicant, reason=gettext_noop("withdrawn"))
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


def revocation_propose(
    *,
    case: Case,
    official: AbstractBaseUser,
    ground: str,
    reasons: str,
    evidence: Sequence,
) -> Revocation:
    """Propose to revoke an approved restoration obtained by deception.

    NDRC Order 36 Art. 25, SAMR Order 107 Art. 23. ``ground`` is a ``RevocationGround``
    (its articles are ``REVOCATION_BASIS``), ``reasons`` say what was found, and
    ``evidence`` is one to ``Revocation.EVIDENCE_MAX`` uploaded files that support it:
    each is checked like any upload and kept as the official's evidence of the case
    (the same content already in the case is that item).

    A proposal changes nothing on the records: it goes to a legal reviewer
    (``revocation_legal_review``) and then to the signing officials
    (``revocation_sign``), and takes effect only with their signatures (decision 0016).

    Refused before anything is read when ``official`` may not propose it or the case is
    not revocable (``rules.revocation_refusal``: ``NotPermitted``, ``WrongState``); then
    where the rule version sets no revocation terms (``RuleViolation``), for a missing
    ground, reasons or evidence (``InvalidInput`` naming the field) or a refused file
    (``UploadRejected``, field ``evidence``), leaving nothing behind.
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
    checked = [_upload_named_check(upload) for upload in uploads]
    stored: list[str] = []
    try:
        with transaction.atomic():
            case = case_lock(case)
            refusal = revocation_refusal(case, official)  # again, now that the case is locked
            if refusal is not None:
                raise refusal
            _revocation_terms(case, on=timezone.localdate())  # the rules must say what follows
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
            revocation = Revocation.objects.create(
                case=case,
                ground=ground,
                basis=REVOCATION_BASIS[ground],
                reasons=reasons,
                proposed_by=official,
            )
            revocation.evidence.set(items.values())
            event_record(
                case,
                "revocation_proposed",
                actor=official,
                role=Role.SIGNER,
                note=reasons,
                data={
                    "revocation": revocation.pk,
                    "ground": ground,
                    "basis": revocation.basis,
                    "evidence": [
                        {"id": item.pk, "sha256": item.sha256, "name": item.original_name}
                        for item in items.values()
                    ],
                },
            )
    except BaseException:
        _files_remove(stored)
        raise
    return revocation


def _revocation_locked(case: Case, *status: str) -> Revocation:
    """The case's pursued revocation, locked; ``WrongState`` ``no_revocation`` unless one
    is in ``status``."""
    revocation = (
        Revocation.objects.select_for_update()
        .filter(case=case, status__in=status)
        .order_by("-id")
        .first()
    )
    if revocation is None:
        raise WrongState(
            _("No revocation of %(reference)s waits for this step.")
            % {"reference": case.reference},
            code="no_revocation",
        )
    return revocation


def revocation_legal_review(
    *, case: Case, reviewer: AbstractBaseUser, passed: bool, note: str = ""
) -> Revocation:
    """Legal review (法制审核) of a proposed revocation, by a legal reviewer of the agency
    who did not propose it: passed, it goes to the signing officials; not passed (with
    the reasons in ``note``), it is not pursued and the case stays as it was."""
    note = (note or "").strip()
    with transaction.atomic():
        case = case_lock(case)
        refusal = revocation_review_refusal(case, reviewer)  # who first, then what (under the lock)
        if refusal is not None:
            raise refusal
        revocation = _revocation_locked(case, Revocation.Status.PROPOSED)
        if not passed and not note:
            raise InvalidInput(_("Say why the revocation is not pursued."), field="note")
        revocation.legal_reviewer = reviewer
        revocation.legal_reviewed_at = timezone.now()
        revocation.legal_review_note = note
        if passed:
            revocation.status = Revocation.Status.SIGN_OFF
        else:
            revocation.status = Revocation.Status.DROPPED
            revocation.dropped_note = note
        revocation.save()
        event_record(
            case,
            "revocation_legal_review_passed" if passed else "revocation_dropped",
            actor=reviewer,
            role=Role.LEGAL_REVIEWER,
            before={"revocation": Revocation.Status.PROPOSED},
            after={"revocation": revocation.status},
            note=note,
            data={"revocation": revocation.pk},
        )
    return revocation


def revocation_sign(
    *, case: Case, signer: AbstractBaseUser, agree: bool = True, note: str = ""
) -> Revocation:
    """A signing official signs a revocation that passed its legal review, or declines it.

    It takes effect (``_revocation_take_effect``) once the rule set's ``signers_required``
    different officials have signed and at least one of them is not the proposer: the
    proposer may sign, but never alone. The legal reviewer does not sign. A signer who
    declines (with the reasons in ``note``) ends the proposal: it is not pursued.
    """
    note = (note or "").strip()
    with transaction.atomic():
        case = case_lock(case)
        refusal = revocation_sign_refusal(case, signer)  # who first, then what (under the lock)
        if refusal is not None:
            raise refusal
        revocation = _revocation_locked(case, Revocation.Status.SIGN_OFF)
        if not agree:
            if not note:
                raise InvalidInput(_("Say why the revocation is not pursued."), field="note")
            revocation.status = Revocation.Status.DROPPED
            revocation.dropped_note = note
            revocation.save(update_fields=["status", "dropped_note"])
            event_record(
                case,
                "revocation_dropped",
                actor=signer,
                role=Role.SIGNER,
                before={"revocation": Revocation.Status.SIGN_OFF},
                after={"revocation": revocation.status},
                note=note,
                data={"revocation": revocation.pk},
            )
            return revocation
        revocation.signers.add(signer)
        signers = list(revocation.signers.order_by("username"))
        required = case.rule_set.signers_required if case.rule_set_id else 1
        independent = any(s.pk != revocation.proposed_by_id for s in signers)
        if len(signers) < required or not independent:
            event_record(
                case,
                "revocation_signed",
                actor=signer,
                role=Role.SIGNER,
                note=note,
                data={
                    "revocation": revocation.pk,
                    "signatures": len(signers),
                    "required": required,
                    "proposer_only": not independent,
                },
            )
            return revocation
        _revocation_take_effect(
            case, revocation, signer=signer, signers=[s.get_username() for s in signers]
        )
    return revocation


def _revocation_terms(case: Case, *, on) -> dict:
    """What a revocation on ``on`` sets, from the rule version in force for each record:
    ``{"records": {record_id: (expires_on, bar_ends_on)}, "published_until": date}``.

    《市场监督管理信用修复管理办法》第二十三条: the publication period restarts from the
    revocation and may not end early (the record is restorable only when it expires);
    the decision is published for ``revocation_publication_months`` and no restoration is
    accepted for ``revocation_bar_months`` (《信用修复管理办法》第二十五条). A version that
    sets neither is refused (``RuleViolation``): the consequences are the law's, not ours
    to guess.
    """
    terms: dict = {"records": {}, "published_until": None}
    for cr in case.case_records.filter(outcome=CaseRecord.Outcome.UPHELD).select_related(
        "record__list_type", "record__agency"
    ):
        rule_set = rule_set_for_record(cr.record, on=on)
        if rule_set.revocation_bar_months is None or rule_set.revocation_publication_months is None:
            raise RuleViolation(
                _(
                    "Rule version %(rule_set)s sets no publication period for a revocation "
                    "decision or no bar on a new restoration: an administrator must set them "
                    "before a restoration under it can be revoked."
                )
                % {"rule_set": rule_set.title},
                code="no_revocation_terms",
            )
        expires_on = (
            on + relativedelta(months=rule_set.max_publication_months)
            if rule_set.max_publication_months is not None
            else None
        )
        bar_ends_on = on + relativedelta(months=rule_set.revocation_bar_months)
        terms["records"][cr.record_id] = (expires_on, bar_ends_on)
        published_until = on + relativedelta(months=rule_set.revocation_publication_months)
        terms["published_until"] = max(filter(None, [terms["published_until"], published_until]))
    return terms


def _revocation_take_effect(
    case: Case, revocation: Revocation, *, signer: AbstractBaseUser, signers: list[str]
) -> None:
    """Make a signed revocation take effect: the prior state is restored.

    Each upheld record is active again, its publication period restarted from today with
    no early end (``restorable_from`` = ``expires_on``) and a new restoration barred until
    ``restoration_barred_until``; every platform that held it is asked to publish it again
    (``PUBLICATION_REQUESTED`` until it confirms). The revocation decision is published
    as a record of its own on the same platforms. The case is revoked; what it still
    waited for is cancelled by the caller.
    """
    today = timezone.localdate()
    terms = _revocation_terms(case, on=today)
    before = _snapshot(case)
    reinstated, platforms = [], {}
    for cr in case.case_records.filter(outcome=CaseRecord.Outcome.UPHELD).select_related("record"):
        record = cr.record
        expires_on, bar_ends_on = terms["records"][record.pk]
        record.status = Record.Status.ACTIVE
        record.expires_on = expires_on
        record.restorable_from = expires_on or bar_ends_on
        record.restoration_barred_until = bar_ends_on
        record.save(
            update_fields=[
                "status",
                "expires_on",
                "restorable_from",
                "restoration_barred_until",
                "updated_at",
            ]
        )
        for publication in record.publications.select_related("platform"):
            platforms[publication.platform_id] = publication.platform
        record.publications.update(
            status=Publication.Status.PUBLICATION_REQUESTED, acknowledged_at=None
        )
        reinstated.append(
            {
                "decision_no": record.decision_no,
                "expires_on": f"{expires_on:%Y-%m-%d}" if expires_on else None,
                "barred_until": f"{bar_ends_on:%Y-%m-%d}",
            }
        )
    bar_ends_on = max(bar for _expires, bar in terms["records"].values())
    decision = _revocation_decision_publish(
        case, revocation, on=today, until=terms["published_until"], platforms=platforms.values()
    )
    clock.deadlines_close_all(case, actor=signer, reason=gettext_noop("restoration revoked"))
    case.status = Case.Status.REVOKED
    case.revoked_at = timezone.now()
    case.save(update_fields=["status", "revoked_at", "updated_at"])
    revocation.status = Revocation.Status.REVOKED
    revocation.revoked_by = signer
    revocation.revoked_at = case.revoked_at
    revocation.decision_record = decision
    revocation.bar_ends_on = bar_ends_on
    revocation.save()
    event_record(
        case,
        "revoked",
        actor=signer,
        role=Role.SIGNER,
        before=before,
        after=_snapshot(case),
        note=revocation.reasons,
        data={
            "revocation": revocation.pk,
            "ground": revocation.ground,
            "basis": revocation.basis,
            "proposed_by": revocation.proposed_by.get_username()
            if revocation.proposed_by_id
            else None,
            "legal_reviewer": revocation.legal_reviewer.get_username()
            if revocation.legal_reviewer_id
            else None,
            "signers": signers,
            "evidence": [
                {"id": item.pk, "sha256": item.sha256, "name": item.original_name}
                for item in revocation.evidence.order_by("id")
            ],
            "reinstated": [r["decision_no"] for r in reinstated],
            "periods": reinstated,
            "bar_ends_on": f"{bar_ends_on:%Y-%m-%d}",
            "decision_record": decision.decision_no,
            "published_until": f"{decision.expires_on:%Y-%m-%d}",
        },
    )


def _revocation_decision_publish(
    case: Case, revocation: Revocation, *, on, until, platforms
) -> Record:
    """The revocation decision as a record of its own, published on ``platforms`` until
    ``until`` with no early end and no restoration (Order 36 Art. 25, Order 107 Art. 23)."""
    severities = list(case.case_records.values_list("record__severity", flat=True))
    severity = max(severities, key=lambda s: SEVERITY_ORDER[s])
    record = Record.objects.create(
        list_type=ListType.objects.get(code=REVOCATION_DECISION_LIST),
        subject=case.subject,
        agency=case.agency,
        decision_no=f"撤销信用修复决定〔{case.reference}〕",
        legal_basis=revocation.basis,
        severity=severity,
        penalty_type=PenaltyType.LISTING,
        penalty_types=[PenaltyType.LISTING],
        decided_on=on,
        listed_on=on,
        restorable_from=until,
        expires_on=until,
        restoration_barred_until=until,
        status=Record.Status.ACTIVE,
    )
    Publication.objects.bulk_create(
        Publication(
            record=record,
            platform=platform,
            status=Publication.Status.PUBLICATION_REQUESTED,
            published_on=on,
        )
        for platform in platforms
    )
    return record


def fail_plan(*, case: Case, officer: AbstractBaseUser, reasons: str, ruling) -> Case:
    """The court terminated the reorganisation plan or composition agreement: the
    records the temporary restoration shielded are published again on every platform.

    《信用修复管理办法》第二十条第二款, 《市场监督管理信用修复管理办法》第二十二条第三款:
    the original publication is restored. A case officer of the case's agency with no
    tie to its subject records it, with ``reasons`` and the court's ``ruling`` (an
    uploaded file, checked like any upload and kept as the officer's evidence). Each
    record still shielded returns to active, each platform is asked to publish it again
    (``Publication.Status.PUBLICATION_REQUESTED``, acknowledged one by one), and the
    measures the grant lifted apply again. A record restored in full meanwhile (a
    completion ruling) stays as it is.
    """
    reasons = reasons.strip() if isinstance(reasons, str) else ""
    if not reasons:
        raise InvalidInput(_("State what the court ruled."), field="reasons")
    if ruling is None:
        raise InvalidInput(
            _("Add the court's ruling terminating the plan or agreement."), field="ruling"
        )
    checked = _upload_named_check(ruling, field="ruling")
    stored: list[str] = []
    try:
        with transaction.atomic():
            case = case_lock(case)
            access.ensure_officer(
                officer, Role.CASE_OFFICER, case, action=_("record that a plan failed")
            )
            if case.kind != Case.Kind.REORGANISATION or case.decision not in (
                Case.Decision.APPROVED,
                Case.Decision.PARTLY_APPROVED,
            ):
                raise WrongState(
                    _("Only a granted temporary restoration ends with a failed plan."),
                    code="not_temporary_restoration",
                )
            ensure_state(case, *PLAN_FAILURE_STATUSES, action=_("record a failed plan"))
            shielded = [
                cr.record
                for cr in case.case_records.filter(
                    outcome=CaseRecord.Outcome.UPHELD, record__status=Record.Status.SHIELDED
                ).select_related("record")
            ]
            if not shielded:
                raise WrongState(
                    _("No record of case %(reference)s is shielded any more.")
                    % {"reference": case.reference},
                    code="nothing_shielded",
                )
            before = _snapshot(case)
            item, _created = _evidence_store(
                case=case,
                checked=checked,
                uploaded_by=officer,
                role=Role.CASE_OFFICER,
                source=Evidence.Source.OFFICER,
                material=Material.TERMINATION_RULING,
                stored=stored,
            )
            for record in shielded:
                record.status = Record.Status.ACTIVE
                record.save(update_fields=["status", "updated_at"])
                record.publications.filter(
                    status__in=(Publication.Status.SHIELD_REQUESTED, Publication.Status.SHIELDED)
                ).update(status=Publication.Status.PUBLICATION_REQUESTED, acknowledged_at=None)
            clock.deadlines_close_all(case, actor=officer, reason=gettext_noop("plan failed"))
            case.status = Case.Status.PLAN_FAILED
            case.closed_at = case.closed_at or timezone.now()
            case.save(update_fields=["status", "closed_at", "updated_at"])
            event_record(
                case,
                "plan_failed",
                actor=officer,
                role=Role.CASE_OFFICER,
                before=before,
                after=_snapshot(case),
                note=reasons,
                data={
                    "records": [r.decision_no for r in shielded],
                    "ruling": {"id": item.pk, "sha256": item.sha256, "name": item.original_name},
                    "measures_reinstated": case.lifted_measures,
                },
            )
    except BaseException:
        _files_remove(stored)
        raise
    return case


def _upload_named_check(upload, *, field: str = "evidence") -> CheckedUpload:
    """``upload_check``, with a refusal that names the file and the field."""
    try:
        return upload_check(upload)
    except UploadRejected as refusal:
        raise UploadRejected(
            _("%(name)s is refused: %(reason)s")
            % {"name": sanitise_name(getattr(upload, "name", "") or ""), "reason": refusal.message},
            code=refusal.code,
            field=field,
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
    monitoring: dict | None = None,
) -> Evidence:
    """Check and store one evidence file for a case.

    The file is checked (size, type by content, scanner) before anything is
    written; a refused file leaves nothing behind. Uploading the same content to
    the same case again returns the item already there (``Duplicate`` is not raised:
    a retried upload is not an error).

    Evidence from electronic monitoring (an officer's, APL Art. 41) names in
    ``monitoring`` the device (``device``, ``location``) and its legal and technical
    approval (``approval_ref``, ``approval_on``); the party is then told of it and given
    the rule set's period to state its case and defend (``monitoring_notified``).
    """
    if material not in Material.values:
        raise InvalidInput(
            _("Unknown material %(material)s.") % {"material": repr(material)}, field="material"
        )
    if source not in Evidence.Source.values:
        raise InvalidInput(
            _("Unknown source %(source)s.") % {"source": repr(source)}, field="source"
        )
    device = (
        _monitoring_device(monitoring) if source == Evidence.Source.ELECTRONIC_MONITORING else {}
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
            evidence, created = _evidence_store(
                case=case,
                checked=checked,
                uploaded_by=uploaded_by,
                role=role,
                source=source,
                material=material,
                record=record,
                description=description,
                stored=stored,
                device=device,
            )
            if created and device:
                _monitoring_notify(case, evidence, officer=uploaded_by)
    except BaseException:
        _files_remove(stored)
        raise
    return evidence


MONITORING_FIELDS = {
    "device": "monitoring_device",
    "location": "monitoring_location",
    "approval_ref": "monitoring_approval_ref",
    "approval_on": "monitoring_approval_on",
}


def _monitoring_device(monitoring: dict | None) -> dict:
    """The device facts of an item from electronic monitoring, as ``Evidence`` fields; APL
    Art. 41 asks for the device's legal and technical review (法制和技术审核), so every
    fact is required."""
    monitoring = monitoring or {}
    device = {}
    for key, field in MONITORING_FIELDS.items():
        value = monitoring.get(key)
        if isinstance(value, str):
            value = value.strip()
        if not value:
            raise InvalidInput(
                _(
                    "Evidence from electronic monitoring names the device, where it is, and "
                    "the reference and date of its legal and technical review (Administrative "
                    "Penalties Law, Article 41)."
                ),
                field=field,
            )
        device[field] = value
    approval_on = device["monitoring_approval_on"]
    if isinstance(approval_on, str):
        try:
            approval_on = datetime.date.fromisoformat(approval_on)
        except ValueError:
            raise InvalidInput(
                _("Give the date of the approval as YYYY-MM-DD."), field="monitoring_approval_on"
            ) from None
    if approval_on > timezone.localdate():
        raise InvalidInput(
            _("The device's approval cannot be dated in the future."),
            field="monitoring_approval_on",
        )
    device["monitoring_approval_on"] = approval_on
    return device


def _monitoring_notify(case: Case, evidence: Evidence, *, officer: AbstractBaseUser) -> Deadline:
    """Tell the party of evidence from electronic monitoring and start its period to state
    its case and defend (APL Art. 41 ¶3: 及时告知当事人违法事实 … 为当事人查询、陈述和申辩
    提供便利; Arts. 44, 45). The period is the rule set's: the Law sets none for this notice.
    The message goes through the outbox (the ``monitoring_notified`` event)."""
    rule_set = case_governing_rule_set(case, on=timezone.localdate())
    days = rule_set.monitoring_statement_days
    deadline = clock.deadline_start(
        case,
        Deadline.Step.STATEMENT,
        working_days=days,
        actor=officer,
        reason=gettext_noop(
            "the party may state its case and defend on evidence from electronic monitoring"
        ),
    )
    event_record(
        case,
        "monitoring_notified",
        actor=officer,
        role=Role.CASE_OFFICER,
        after={"evidence": evidence.pk, "statement_due_on": deadline.due_on.isoformat()},
        data={
            "evidence": evidence.pk,
            "device": evidence.monitoring_device,
            "location": evidence.monitoring_location,
            "approval_ref": evidence.monitoring_approval_ref,
            "approval_on": evidence.monitoring_approval_on.isoformat(),
            "working_days": days,
            "due_on": deadline.due_on.isoformat(),
        },
    )
    return deadline


def submit_statement(
    *, case: Case, applicant: AbstractBaseUser, statement: str = "", waived: bool = False
) -> Case:
    """The party states its case and defends (陈述、申辩) on evidence from electronic
    monitoring, or says expressly that it waives that right (APL Art. 62: 当事人明确放弃
    陈述或者申辩权利的除外). Ends the running period; the officers re-examine what it says
    (APL Art. 45)."""
    statement = (statement or "").strip()
    if not waived and not statement:
        raise InvalidInput(_("Write your statement and defence."), field="statement")
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_applicant(applicant, case, action=_("state the case and defend"))
        ensure_state(case, *Case.UNDECIDED_STATUSES, action=_("take a statement"))
        periods = list(
            Deadline.objects.filter(
                case=case, step=Deadline.Step.STATEMENT, status=Deadline.Status.RUNNING
            )
        )
        if not periods:
            raise WrongState(
                _("No period to state your case and defend is running on this case."),
                code="no_statement_period",
            )
        for period in periods:
            clock.deadline_close(
                period,
                actor=applicant,
                reason=gettext_noop("the party waived its statement")
                if waived
                else gettext_noop("the party made its statement"),
            )
        event_record(
            case,
            "statement_waived" if waived else "statement_made",
            actor=applicant,
            role=APPLICANT_ROLE,
            note=statement,
        )
    return case


# --- collective decision ----------------------------------------------------------------


MEETING_MIN_PARTICIPANTS = 2  # a collective discussion (集体讨论) has more than one head


def record_meeting(
    *,
    case: Case,
    signer: AbstractBaseUser,
    held_on: datetime.date,
    participants: Sequence[AbstractBaseUser],
    minutes,
    note: str = "",
) -> DecisionMeeting:
    """A signing official records the meeting in which the agency's heads discussed and
    decided the case (APL Art. 57 ¶2): its day, who took part (people of the agency) and
    the minutes (a file checked like evidence). One meeting per sign-off round; the
    signers may sign once it is on record."""
    if held_on > timezone.localdate():
        raise InvalidInput(_("The meeting cannot be dated in the future."), field="held_on")
    people = {p.pk: p for p in participants}
    if len(people) < MEETING_MIN_PARTICIPANTS:
        raise InvalidInput(
            _("A collective decision is discussed by at least two of the agency's heads."),
            field="participants",
        )
    checked = upload_check(minutes)
    stored = []
    try:
        with transaction.atomic():
            case = case_lock(case)
            access.ensure_officer(signer, Role.SIGNER, case, action=_("record a decision meeting"))
            ensure_state(case, Case.Status.SIGN_OFF, action=_("have its decision meeting recorded"))
            if not case.rule_set.collective_decision_required:
                raise WrongState(
                    _("The rules of this case do not call for a collective decision."),
                    code="no_collective_decision",
                )
            if case.meetings.filter(round=case.signoff_round).exists():
                raise WrongState(
                    _("The meeting of this sign-off round is on record already."),
                    code="meeting_recorded",
                )
            outsiders = sorted(
                p.get_username() for p in people.values() if not access.roles_at(p, case.agency_id)
            )
            if outsiders:
                raise InvalidInput(
                    _("%(people)s do not work at %(agency)s.")
                    % {"people": ", ".join(outsiders), "agency": case.agency.code},
                    field="participants",
                )
            meeting = DecisionMeeting(
                case=case,
                round=case.signoff_round,
                held_on=held_on,
                minutes_name=checked.name,
                minutes_sha256=checked.sha256,
                minutes_size=checked.size,
                minutes_type=checked.content_type,
                note=(note or "").strip(),
                recorded_by=signer,
            )
            meeting.minutes.save("minutes", ContentFile(checked.content), save=False)
            stored.append(meeting.minutes.name)
            meeting.save()
            meeting.participants.set(people.values())
            event_record(
                case,
                "decision_meeting_recorded",
                actor=signer,
                role=Role.SIGNER,
                after={"meeting": meeting.pk},
                note=meeting.note,
                data={
                    "round": meeting.round,
                    "held_on": held_on.isoformat(),
                    "participants": sorted(p.get_username() for p in people.values()),
                    "minutes_sha256": checked.sha256,
                    "minutes_name": checked.name,
                },
            )
    except BaseException:
        for name in stored:
            DecisionMeeting.minutes.field.storage.delete(name)
        raise
    return meeting


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
    device: dict | None = None,
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
        **(device or {}),
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
        clock.deadlines_close_all(case, actor=None, reason=gettext_noop("case closed"))
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
        if overdue and deadline.effects.exists():
            # Each platform's effects have their own clocks (decision 0024): what is
            # overdue is escalated per platform, what was acknowledged in time is not.
            # The deadline has passed, so has every effect due no later than it.
            passed = deadline.due_on + datetime.timedelta(days=1)
            effects_escalate(today=max(timezone.localdate(), passed), case=case)
            return deadline
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


def effects_escalate(*, today: datetime.date, case: Case | None = None) -> int:
    """Bring to the supervisors each effect of a repair a platform has not acknowledged by
    its own due date (decision 0024): one ``deadline_overdue`` event per case and
    platform, naming the effects and the day they were due; each effect is escalated
    once (asked again, it can be again). The number of effects escalated."""
    overdue = PublicationEffect.objects.filter(
        acknowledged_at__isnull=True,
        escalated_at__isnull=True,
        due_on__lt=today,
        deadline__isnull=False,
        publication__status__in=(
            Publication.Status.WITHDRAWAL_REQUESTED,
            Publication.Status.WITHDRAWN,
        ),
    )
    if case is not None:
        overdue = overdue.filter(deadline__case_id=case.pk)
    by_case: dict[int, list[int]] = {}
    for effect_id, case_id in overdue.values_list("pk", "deadline__case_id"):
        by_case.setdefault(case_id, []).append(effect_id)
    escalated = 0
    for case_id, ids in sorted(by_case.items()):
        with transaction.atomic():
            locked_case = case_lock(case_id)
            effects = list(
                PublicationEffect.objects.select_for_update(of=("self",))
                .filter(pk__in=ids, acknowledged_at__isnull=True, escalated_at__isnull=True)
                .select_related(
                    "publication__platform", "publication__record", "measure", "deadline"
                )
                .order_by("publication__platform__code", "pk")
            )
            now = timezone.now()
            by_platform: dict[str, list[PublicationEffect]] = {}
            for effect in effects:
                by_platform.setdefault(effect.publication.platform.code, []).append(effect)
            for code, items in by_platform.items():
                PublicationEffect.objects.filter(pk__in=[e.pk for e in items]).update(
                    escalated_at=now
                )
                due = min(e.due_on for e in items)
                platform = items[0].publication.platform
                event_record(
                    locked_case,
                    "deadline_overdue",
                    actor=None,
                    role="system",
                    automated=True,
                    data={
                        "step": items[0].deadline.step,
                        "due_on": due.isoformat(),
                        "platform": code,
                        "effects": [
                            {
                                **effect_payload(e),
                                "record": e.publication.record.decision_no,
                                "due_on": e.due_on.isoformat(),
                            }
                            for e in items
                        ],
                    },
                    note=f"{platform.name_en or platform.name}: "
                    + ", ".join(sorted({e.kind for e in items}))
                    + f" due {due:%Y-%m-%d}; escalated to the supervisors of "
                    f"{locked_case.agency.code}.",
                )
                escalated += len(items)
    return escalated


def note_assignment(
    *,
    case: Case,
    supervisor: AbstractBaseUser,
    task,
    assignee: AbstractBaseUser,
    reason: str = "",
) -> CaseEvent:
    """Record that a supervisor gave a task of the case to an officer, and why (a
    balancing proposal's words, kept as the event's note)."""
    with transaction.atomic():
        case = case_lock(case)
        data = {"task": task.pk, "step": task.flow_task.name, "assignee": assignee.get_username()}
        if reason:
            data["reason"] = reason
        return event_record(
            case, "task_assigned", actor=supervisor, role=Role.SUPERVISOR, note=reason, data=data
        )


def note_unassignment(
    *, case: Case, supervisor: AbstractBaseUser, task, assignee: AbstractBaseUser, reason: str
) -> CaseEvent:
    """Record that a supervisor undid their assignment of a task of the case."""
    with transaction.atomic():
        case = case_lock(case)
        return event_record(
            case,
            "task_assignment_undone",
            actor=supervisor,
            role=Role.SUPERVISOR,
            note=reason,
            data={
                "task": task.pk,
                "step": task.flow_task.name,
                "assignee": assignee.get_username(),
            },
        )


# --- appeals ----------------------------------------------------------------------------------
# A decided case can be appealed: administrative reconsideration (行政复议法第二十条) or a
# suit (行政诉讼法第四十六条); the court debtor list: reconsideration by the higher court
# (最高人民法院关于公布失信被执行人名单信息的若干规定第十二条). Recording one changes nothing
# on the platforms; an outcome that revokes, changes or declares the decision unlawful
# has the published decision withdrawn within 3 working days (行政处罚法第四十八条).

APPEALABLE_STATUSES = (
    Case.Status.REMOVAL,
    Case.Status.APPEAL_WINDOW,
    Case.Status.CLOSED,
    Case.Status.NOT_ACCEPTED,
    Case.Status.REVOKED,
    Case.Status.PLAN_FAILED,
)
APPEAL_WITHDRAWAL_BASIS = "《中华人民共和国行政处罚法》第四十八条、第八十五条"
APPEAL_WITHDRAWAL_DAYS = 3


def _appeal_actor_role(user: AbstractBaseUser, case: Case, *, action: str) -> str:
    """The applicant (or a confirmed representative), or a case officer of the agency with
    no tie to the subject; the role the event records."""
    if access.acts_for_case(user, case):
        return APPLICANT_ROLE
    access.ensure_officer(user, Role.CASE_OFFICER, case, action=action)
    return Role.CASE_OFFICER


def _date_given(value, *, field: str, not_before=None) -> datetime.date:
    """A date that is given, not in the future and not before ``not_before``."""
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if not isinstance(value, datetime.date):
        raise InvalidInput(_("Give the date (YYYY-MM-DD)."), field=field)
    if value > timezone.localdate():
        raise InvalidInput(
            _("%(date)s is in the future: record what has happened.") % {"date": value},
            field=field,
        )
    if not_before is not None and value < not_before:
        raise InvalidInput(
            _("%(date)s is before the decision of %(decided)s.")
            % {"date": value, "decided": not_before},
            field=field,
        )
    return value


def appeal_record(
    *,
    case: Case,
    by: AbstractBaseUser,
    kind: str,
    body: str,
    filed_on,
    reference: str = "",
) -> Appeal:
    """Record that the decision of ``case`` was appealed: by the applicant (or their
    representative) or a case officer of the agency. One pending appeal of each kind;
    the kind must be the remedy of the case's list."""
    body = body.strip() if isinstance(body, str) else ""
    reference = reference.strip() if isinstance(reference, str) else ""
    if kind not in Appeal.Kind.values:
        raise InvalidInput(
            _("Choose the kind of appeal: reconsideration, suit or the higher court."),
            field="kind",
        )
    if not body:
        raise InvalidInput(
            _("Name the reconsideration body or the court that hears the appeal."), field="body"
        )
    with transaction.atomic():
        case = case_lock(case)
        role = _appeal_actor_role(by, case, action=_("record an appeal"))
        ensure_state(case, *APPEALABLE_STATUSES, action=_("be appealed"))
        decided_on = timezone.localdate(case.decided_at) if case.decided_at else None
        filed_on = _date_given(filed_on, field="filed_on", not_before=decided_on)
        court_list = case_on_court_list(case)
        if court_list != (kind == Appeal.Kind.HIGHER_COURT):
            raise InvalidInput(
                _(
                    "A decision on the court's list of dishonest judgment debtors is "
                    "challenged by reconsideration at the higher court, not otherwise."
                )
                if court_list
                else _(
                    "Reconsideration by the higher court is the remedy of the court's list "
                    "only: choose administrative reconsideration or a suit."
                ),
                field="kind",
            )
        if case.appeals.filter(kind=kind, outcome=Appeal.Outcome.PENDING).exists():
            raise Duplicate(
                _("An appeal of this kind is already pending for case %(reference)s.")
                % {"reference": case.reference},
                code="appeal_pending",
            )
        if reference and case.appeals.filter(reference=reference).exists():
            raise Duplicate(
                _("An appeal with reference %(ref)s is already recorded.") % {"ref": reference},
                code="appeal_duplicate",
            )
        appeal = Appeal.objects.create(
            case=case,
            kind=kind,
            body=body,
            filed_on=filed_on,
            reference=reference,
            recorded_by=by,
        )
        event_record(
            case,
            "appeal_recorded",
            actor=by,
            role=role,
            data={
                "appeal": appeal.pk,
                "kind": kind,
                "body": body,
                "filed_on": f"{filed_on:%Y-%m-%d}",
                "reference": reference,
            },
        )
    return appeal


def appeal_outcome(
    *,
    appeal: Appeal,
    by: AbstractBaseUser,
    outcome: str,
    decided_on,
    reference: str = "",
    note: str = "",
    records=None,
) -> Appeal:
    """Record the outcome of a pending appeal. Revoked, changed or declared unlawful: the
    decision information the decision put or kept on the platforms is withdrawn, each
    platform asked, within 3 working days on the clock (APL Art. 48); an approval's
    records are published again. A change names the records of the case it concerns
    (``records``, required where the decision was an approval): only those are published
    again or withdrawn; the others stay as the decision left them."""
    note = note.strip() if isinstance(note, str) else ""
    reference = reference.strip() if isinstance(reference, str) else ""
    if outcome not in Appeal.Outcome.values or outcome == Appeal.Outcome.PENDING:
        raise InvalidInput(_("Choose the outcome of the appeal."), field="outcome")
    if outcome == Appeal.Outcome.CHANGED and not note:
        raise InvalidInput(_("Say how the decision was changed."), field="note")
    with transaction.atomic():
        case = case_lock(appeal.case_id)
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        role = _appeal_actor_role(by, case, action=_("record an appeal's outcome"))
        if not appeal.is_pending:
            raise Duplicate(
                _("The outcome of this appeal is already recorded (%(outcome)s).")
                % {"outcome": appeal.get_outcome_display()},
                code="appeal_decided",
            )
        decided_on = _date_given(decided_on, field="decided_on")
        if decided_on < appeal.filed_on:
            raise InvalidInput(
                _("The outcome cannot be dated before the appeal was filed (%(filed)s).")
                % {"filed": appeal.filed_on},
                field="decided_on",
            )
        changed = _appeal_changed_records(case, outcome, records)
        appeal.outcome = outcome
        appeal.outcome_on = decided_on
        appeal.outcome_reference = reference
        appeal.outcome_note = note
        appeal.outcome_recorded_by = by
        appeal.outcome_recorded_at = timezone.now()
        appeal.save()
        if changed is not None:
            appeal.changed_records.set(changed)
        withdrawn, republished = [], []
        if outcome in Appeal.WITHDRAWING_OUTCOMES:
            if _approval_stands(case):
                republished = _approval_publications_restore(case, only=changed)
            else:
                withdrawn = _decision_publications_withdraw(case, only=changed)
            if withdrawn or republished:
                appeal_deadline = clock.deadline_start(
                    case,
                    Deadline.Step.APPEAL,
                    working_days=APPEAL_WITHDRAWAL_DAYS,
                    actor=by,
                    reason=(
                        gettext_noop("publish the records again")
                        if republished
                        else gettext_noop("withdraw the published decision")
                    )
                    + ": "
                    + APPEAL_WITHDRAWAL_BASIS,
                )
                # Each platform, each effect, on the appeal's own clock (decision 0024).
                effects_request(
                    Publication.objects.filter(pk__in=withdrawn).select_related(
                        "platform", "record"
                    ),
                    deadline=appeal_deadline,
                )
        event_record(
            case,
            "appeal_decided",
            actor=by,
            role=role,
            note=note,
            data={
                "appeal": appeal.pk,
                "kind": appeal.kind,
                "outcome": outcome,
                "decided_on": f"{decided_on:%Y-%m-%d}",
                "reference": reference,
                "withdrawals": withdrawn,
                "republications": republished,
                "records": [r.pk for r in changed or ()],
                "record_numbers": [r.decision_no for r in changed or ()],
            },
        )
    return appeal


def _appeal_changed_records(case: Case, outcome: str, records) -> list[Record] | None:
    """The records of ``case`` a change names (None when the outcome is not a change, or a
    change of a refusal that names none: it concerns them all). A change of an approval
    must name at least one; a record of another case is refused."""
    ids = []
    for item in records or ():
        pk = getattr(item, "pk", item)
        try:
            ids.append(int(pk))
        except (TypeError, ValueError):
            raise InvalidInput(
                _("Name the records the change concerns by their id."), field="records"
            ) from None
    if outcome != Appeal.Outcome.CHANGED:
        return None
    if not ids:
        if _approval_stands(case):
            raise InvalidInput(
                _(
                    "Name the records of this case the change concerns: only those are "
                    "published again, the others stay withdrawn."
                ),
                field="records",
            )
        return None
    found = list(Record.objects.filter(pk__in=ids, case_records__case=case).distinct())
    if len(found) != len(set(ids)):
        raise InvalidInput(
            _("A change can only name records of case %(reference)s.")
            % {"reference": case.reference},
            field="records",
        )
    if _approval_stands(case):
        granted = set(
            case.case_records.filter(outcome=CaseRecord.Outcome.UPHELD).values_list(
                "record_id", flat=True
            )
        )
        refused = [r.decision_no for r in found if r.pk not in granted]
        if refused:
            raise InvalidInput(
                _("The decision did not grant %(records)s: name records it granted.")
                % {"records": "、".join(refused)},
                field="records",
            )
    return sorted(found, key=lambda r: r.pk)


def _approval_stands(case: Case) -> bool:
    """Whether the case's decision granted something (an approval, in whole or in part)
    that no revocation has already undone."""
    if case.decision not in (Case.Decision.APPROVED, Case.Decision.PARTLY_APPROVED):
        return False
    revocation = case.revocation
    return revocation is None or revocation.status != Revocation.Status.REVOKED


def _approval_publications_restore(case: Case, *, only=None) -> list[int]:
    """An appeal's outcome revoked, changed or voided an approval: each record it removed,
    shielded or corrected is as it was before the case again, and every platform that held
    it is asked to publish it again (the usual re-publication path, acknowledged with
    ``status`` published) within 3 working days (APL Art. 48); the publications asked.
    A record whose publication has meanwhile ended at its maximum stays ended. ``only``:
    the records a change names; the others stay withdrawn."""
    asked = []
    granted = case.case_records.filter(outcome=CaseRecord.Outcome.UPHELD)
    if only is not None:
        granted = granted.filter(record__in=only)
    for cr in granted.select_related("record"):
        record = cr.record
        if record.status == Record.Status.EXPIRED:
            continue
        record.status = Record.Status.ACTIVE
        record.corrected_text = ""
        record.save(update_fields=["status", "corrected_text", "updated_at"])
        publications = list(record.publications.values_list("pk", flat=True))
        Publication.objects.filter(pk__in=publications).update(
            status=Publication.Status.PUBLICATION_REQUESTED, acknowledged_at=None
        )
        asked.extend(publications)
    return asked


def _decision_publications_withdraw(case: Case, *, only=None) -> list[int]:
    """Ask every platform to withdraw what the case's decision put or kept on it: the
    revocation decision and the records it published again, or the records a refusal left
    published; the publications asked (their ids). An approval published nothing.
    ``only``: the records a change names; the others stay published."""
    records = []
    case_records = case.case_records.all()
    if only is not None:
        case_records = case_records.filter(record__in=only)
    revocation = case.revocation
    if revocation is not None and revocation.status == Revocation.Status.REVOKED:
        records.extend(cr.record for cr in case_records.filter(outcome=CaseRecord.Outcome.UPHELD))
        if revocation.decision_record_id:
            records.append(revocation.decision_record)
    else:
        records.extend(
            cr.record
            for cr in case_records.exclude(outcome=CaseRecord.Outcome.UPHELD).select_related(
                "record"
            )
        )
    asked = []
    for record in records:
        if record.status not in (Record.Status.ACTIVE, Record.Status.DISPUTED):
            continue
        publications = list(
            record.publications.exclude(status=Publication.Status.WITHDRAWN).values_list(
                "pk", flat=True
            )
        )
        if not publications:
            continue
        record.status = Record.Status.REMOVED
        record.save(update_fields=["status", "updated_at"])
        Publication.objects.filter(pk__in=publications).update(
            status=Publication.Status.WITHDRAWAL_REQUESTED, acknowledged_at=None
        )
        asked.extend(publications)
    return asked


def _appeal_withdrawal_case(publication: Publication) -> Case | None:
    """The case whose appeal outcome asked for this withdrawal, if one still waits."""
    running = Deadline.objects.filter(
        step=Deadline.Step.APPEAL, status=Deadline.Status.RUNNING
    ).values("case_id")
    return (
        Case.objects.filter(pk__in=running)
        .filter(
            Q(case_records__record=publication.record_id)
            | Q(revocations__decision_record=publication.record_id)
        )
        .distinct()
        .first()
    )


def _publication_acknowledged_after_appeal(
    case: Case, publication: Publication, *, note: str, republished: bool = False
) -> None:
    """A platform confirmed a withdrawal (or a re-publication) an appeal's outcome asked
    for; with the last one the APL Art. 48 deadline is met."""
    case = case_lock(case)
    pending = (
        Publication.objects.filter(
            status__in=(
                Publication.Status.WITHDRAWAL_REQUESTED,
                Publication.Status.PUBLICATION_REQUESTED,
            )
        )
        .filter(Q(record__case_records__case=case) | Q(record__revocation_published__case=case))
        .exists()
    )
    if not pending:
        deadline = clock.deadline_running(case, Deadline.Step.APPEAL)
        if deadline is not None:
            clock.deadline_close(
                deadline, actor=None, reason=gettext_noop("every platform acknowledged")
            )
    event_record(
        case,
        "platform_published" if republished else "platform_acknowledged",
        actor=None,
        role="platform",
        automated=True,
        note=note,
        data={
            "platform": publication.platform.code,
            "record": publication.record.decision_no,
            "appeal": True,
        },
    )


# --- consent to electronic service --------------------------------------------------------------


def service_consent_give(*, case: Case, applicant: AbstractBaseUser) -> ServiceConsent:
    """The applicant consents to electronic service of the case's letters (in the portal
    and by e-mail), 《市场监督管理信用修复管理办法》第十九条; from now on opening a letter in the
    portal serves it. Given twice, the consent in force is returned."""
    with transaction.atomic():
        case = case_lock(case)
        access.ensure_applicant(applicant, case, action=_("consent to electronic service"))
        consent = ServiceConsent.objects.filter(
            user=applicant, case=case, withdrawn_at__isnull=True
        ).first()
        if consent is not None:
            return consent
        consent = ServiceConsent.objects.create(user=applicant, case=case)
        event_record(
            case,
            "service_consent_given",
            actor=applicant,
            role=APPLICANT_ROLE,
            data={"consent": consent.pk, "given_at": consent.given_at.isoformat()},
        )
    return consent
