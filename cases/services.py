"""Every write to the case domain.

Each function that changes a case locks it, checks who is acting and the state,
changes it, and records a case event, in one transaction; side effects (messages,
letters) are queued in that same transaction. Views, the API, commands and the
workflow call these functions and nothing else to change a case.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cases import policy
from cases.errors import Duplicate, InvalidInput, NotPermitted, RuleViolation, WrongState
from cases.events import event_record
from cases.identifiers import guess_subject_kind, subject_code_identify, validate_subject_code
from cases.models import (
    Case,
    CaseRecord,
    Evidence,
    Material,
    Publication,
    Record,
    ReferenceCounter,
    Role,
    RuleSet,
    Signature,
    Subject,
    SubjectTie,
)
from cases.rules import rule_set_for_record
from cases.uploads import upload_check
from workflows import clock
from workflows.models import Deadline

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


# --- ties to subjects (conflicts of interest) ------------------------------------


def subject_tie_record(
    *,
    user: AbstractBaseUser,
    subject_code: str,
    kind: str,
    recorded_by: AbstractBaseUser,
    note: str = "",
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
) -> SubjectTie:
    """Record ``user``'s tie to the subject with ``subject_code``; from ``valid_from``
    (today by default) they may not act as an officer on its cases (APL Art. 43).

    An officer declares their own ties; an administrator (staff) records anyone's. A tie
    is only ever added here: ending one early (``valid_until``) is the administrator's.
    """
    if recorded_by.pk != user.pk and not recorded_by.is_staff:
        raise NotPermitted(
            _("Only an administrator may record someone else's tie to a subject."),
            code="not_permitted",
        )
    code, _kind = subject_code_identify((subject_code or "").strip())
    subject = Subject.objects.filter(code=code).first()
    if subject is None:
        raise InvalidInput(
            _(
                "No subject with the code %(code)s is in Redress: a tie can be recorded once "
                "the subject is listed."
            )
            % {"code": code},
            field="subject_code",
        )
    tie = SubjectTie(
        user=user,
        subject=subject,
        kind=kind,
        note=(note or "").strip(),
        valid_from=valid_from or timezone.localdate(),
        valid_until=valid_until,
        recorded_by=recorded_by,
    )
    try:
        tie.full_clean()
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        field = None if field == NON_FIELD_ERRORS else field
        raise InvalidInput(" ".join(messages), field=field) from None
    tie.save()
    return tie


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


def case_lock(case: Case | int) -> Case:
    """Re-read the case under a row lock; the caller must be inside ``transaction.atomic``."""
    pk = case.pk if isinstance(case, Case) else case
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("rule_set__list_type", "agency")
        .get(pk=pk)
    )


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

SUBMITTABLE_RECORD_STATUSES = {
    Case.Kind.OBJECTION: {Record.Status.ACTIVE, Record.Status.SUSPENDED, Record.Status.EXPIRED},
    Case.Kind.RESTORATION: {Record.Status.ACTIVE},
}


def restoration_refusal(record: Record, *, on: datetime.date) -> str | None:
    """Why a restoration of ``record`` cannot be requested on ``on``, or None if it can.

    Used at submission and by the portal to refuse before anything is uploaded.
    """
    rule_set = rule_set_for_record(record, on=on)
    if record.penalty_type in rule_set.barred_penalty_types:
        return _(
            "Record %(decision_no)s: a penalty of type '%(penalty_type)s' cannot be restored "
            "under rule set %(rule_set)s."
        ) % {
            "decision_no": record.decision_no,
            "penalty_type": record.get_penalty_type_display(),
            "rule_set": rule_set.label,
        }
    if record.restorable_from and on < record.restorable_from:
        return _(
            "Record %(decision_no)s: restoration can be requested from %(date)s, when the "
            "minimum publication period ends."
        ) % {"decision_no": record.decision_no, "date": f"{record.restorable_from:%Y-%m-%d}"}
    return None


def case_submit(
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
    if kind not in Case.Kind.values:
        raise InvalidInput(
            _("Unknown kind %(kind)s: use objection or restoration.") % {"kind": repr(kind)},
            field="kind",
        )
    grounds = (grounds or "").strip()
    if not grounds:
        raise InvalidInput(_("State the grounds of the request."), field="grounds")
    records = list(records)
    if not records:
        raise InvalidInput(_("Name at least one record."), field="records")

    agencies = {r.agency_id for r in records}
    if len(agencies) != 1:
        raise InvalidInput(
            _("All records of one case must come from the same agency: file one case per agency."),
            field="records",
        )
    if any(r.subject_id != subject.pk for r in records):
        raise InvalidInput(_("Every record must be a record of the subject."), field="records")
    agency = records[0].agency

    if filed_by.pk != applicant.pk or channel == Case.Channel.OFFICER:
        if not (
            policy.has_role(filed_by, Role.INTAKE, agency)
            or policy.has_role(filed_by, Role.CASE_OFFICER, agency)
        ):
            raise NotPermitted(
                _("Only an officer of %(agency)s may file a case on a subject's behalf.")
                % {"agency": agency.code},
                code="role_required",
            )
        policy.ensure_no_conflict(filed_by, subject, action=_("file a case on its behalf"))
        role = Role.INTAKE
    else:
        if not policy.represents(applicant, subject):
            raise NotPermitted(
                _("You are not a confirmed representative of this subject."),
                code="not_representative",
            )
        role = APPLICANT_ROLE

    # Only now, with the caller known to act for this subject, may a repeated key
    # return the case already filed.
    if idempotency_key:
        existing = Case.objects.filter(applicant=applicant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing

    today = timezone.localdate()
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
            reason = restoration_refusal(record, on=today)
            if reason:
                raise RuleViolation(reason, code="restoration_not_allowed")
        else:
            window = rule_set_for_record(record, on=today).objection_window_days
            if window is not None and (today - record.listed_on).days > window:
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

    with transaction.atomic():
        # Lock the records: two simultaneous submissions about one record serialise here.
        locked = list(Record.objects.select_for_update().filter(pk__in=[r.pk for r in records]))
        if idempotency_key:
            # The same submission may have won the lock a moment ago.
            existing = Case.objects.filter(
                applicant=applicant, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return existing
        busy = (
            CaseRecord.objects.filter(
                record__in=locked, case__status__in=Case.OPEN_STATUSES, case__kind=kind
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
        # Every submission of the year serialises on its counter row; a twin
        # submission with the same key (other records) committed meanwhile is found here.
        ReferenceCounter.objects.select_for_update().get_or_create(year=today.year)
        if idempotency_key:
            existing = Case.objects.filter(
                applicant=applicant, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return existing
        case = Case(
            reference=reference_allocate(year=today.year),
            kind=kind,
            subject=subject,
            agency=agency,
            grounds=grounds,
            applicant=applicant,
            filed_by=filed_by,
            channel=channel,
            language=language or getattr(applicant, "language", None) or settings.LANGUAGE_CODE,
            idempotency_key=idempotency_key,
            status=Case.Status.SUBMITTED,
        )
        case.full_clean(exclude=["records"])
        case.save()
        CaseRecord.objects.bulk_create(
            [CaseRecord(case=case, record=r, status_before=r.status) for r in locked]
        )
        rule_set = case_governing_rule_set(case, on=today)
        clock.deadline_start(
            case,
            Deadline.Step.ACCEPTANCE,
            working_days=rule_set.acceptance_days,
            actor=filed_by,
            reason="submitted",
        )
        event_record(
            case,
            "submitted",
            actor=filed_by,
            role=role,
            after={"status": case.status},
            data={
                "kind": kind,
                "channel": channel,
                "records": [r.decision_no for r in locked],
                "on_behalf_of": applicant.get_username() if filed_by.pk != applicant.pk else "",
            },
        )
    return case


# --- shared pieces of the route ---------------------------------------------------

SEVERITY_ORDER = {"minor": 0, "general": 1, "serious": 2}


def case_governing_rule_set(case: Case, *, on: datetime.date) -> RuleSet:
    """The rule set a case is judged by: that of its most severe record.

    Fixed on the case at acceptance; before acceptance it is looked up afresh so
    that the acceptance and materials deadlines follow the rules in force.
    """
    if case.rule_set_id:
        return case.rule_set
    records = sorted(
        (
            cr.record
            for cr in case.case_records.select_related("record__list_type", "record__agency")
        ),
        key=lambda r: (-SEVERITY_ORDER[r.severity], r.pk),
    )
    return rule_set_for_record(records[0], on=on)


def _records_set_status(case: Case, status: str) -> list[Record]:
    records = list(Record.objects.select_for_update().filter(case_records__case=case))
    for record in records:
        record.status = status
        record.save(update_fields=["status", "updated_at"])
    return records


def _records_restore(case: Case) -> None:
    """Put the case's records back as they were before the case (withdrawal, lapse)."""
    for cr in case.case_records.select_related("record"):
        if cr.record.status == Record.Status.DISPUTED:
            cr.record.status = cr.status_before
            cr.record.save(update_fields=["status", "updated_at"])
            cr.record.publications.filter(status=Publication.Status.DISPUTED).update(
                status=Publication.Status.PUBLISHED
            )


REVIEW_EVENT_KINDS = ("evidence_reviewed", "review_completed")
LEGAL_REVIEW_EVENT_KINDS = ("legal_review_passed", "legal_review_sent_back")


def reviewers_of(case: Case, *, legal: bool = True) -> set[int]:
    """Everyone who reviewed evidence, completed a review or (``legal``) legally reviewed
    the case, in any round: none of them may sign it (four-eyes), nor legally review it."""
    kinds = REVIEW_EVENT_KINDS + (LEGAL_REVIEW_EVENT_KINDS if legal else ())
    ids = set(
        case.events.filter(kind__in=kinds, actor__isnull=False).values_list("actor_id", flat=True)
    )
    ids |= {pk for pk in (case.review_officer_id, legal and case.legal_reviewer_id) if pk}
    return ids


def _snapshot(case: Case) -> dict:
    return {"status": case.status}


def missing_required_materials(case: Case, rule_set: RuleSet) -> list[str]:
    """Required material codes with no evidence item in the case (restorations only).

    The commitment letter is required per record (DOMAIN: 信用承诺书 per record); an
    item not tied to a record covers every record.
    """
    if case.kind != Case.Kind.RESTORATION:
        return []
    have = list(case.evidence.values_list("material", "record_id"))
    record_ids = list(case.case_records.values_list("record_id", flat=True))
    missing = []
    for material in rule_set.required_materials:
        items = [rid for m, rid in have if m == material]
        if not items or (
            material == Material.COMMITMENT_LETTER
            and None not in items
            and any(rid not in items for rid in record_ids)
        ):
            missing.append(material)
    return missing


# --- acceptance check -------------------------------------------------------------


def case_accept(*, case: Case, officer: AbstractBaseUser, note: str = "") -> Case:
    """Accept a case whose materials are complete; fixes its rule version and starts the
    decision clock. For an objection, every record is flagged as disputed at once."""
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_officer(officer, Role.INTAKE, case, action=_("accept a case"))
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
            rule_set.objection_review_days
            if case.kind == Case.Kind.OBJECTION
            else rule_set.restoration_review_days
        )
        clock.deadline_start(
            case,
            Deadline.Step.DECISION,
            working_days=review_days,
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


def case_request_materials(
    *, case: Case, officer: AbstractBaseUser, missing: Sequence[dict], note: str = ""
) -> Case:
    """Ask the applicant for everything that is missing, in one complete list.

    ``missing`` is a list of ``{"material": code, "detail": text}``. The case's clock
    stops until the materials arrive; the applicant gets a deadline to supply them.
    Allowed at the acceptance check (intake officer) and during evidence review
    (case officer: the request-for-more-information loop).
    """
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
    with transaction.atomic():
        case = case_lock(case)
        if case.status == Case.Status.SUBMITTED:
            role, step = Role.INTAKE, Deadline.Step.ACCEPTANCE
        elif case.status == Case.Status.UNDER_REVIEW:
            role, step = Role.CASE_OFFICER, Deadline.Step.DECISION
        else:
            ensure_state(
                case,
                Case.Status.SUBMITTED,
                Case.Status.UNDER_REVIEW,
                action=_("ask for missing materials"),
            )
        policy.ensure_officer(officer, role, case, action=_("ask for missing materials"))
        before = _snapshot(case)
        rule_set = case_governing_rule_set(case, on=timezone.localdate())
        listed = {i["material"] for i in items}
        left_out = [m for m in missing_required_materials(case, rule_set) if m not in listed]
        if left_out:
            raise InvalidInput(
                _("The request must list every missing item at once; it leaves out: %(materials)s.")
                % {"materials": _material_labels(left_out)},
                field="missing",
            )
        running = clock.deadline_running(case, step)
        if running is not None:
            clock.deadline_stop(running, actor=officer, reason="waiting for missing materials")
        clock.deadline_start(
            case,
            Deadline.Step.MATERIALS,
            working_days=rule_set.materials_days,
            actor=officer,
            reason="materials requested",
        )
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


def case_materials_resubmit(*, case: Case, applicant: AbstractBaseUser, note: str = "") -> Case:
    """The applicant says the missing materials are in; the stopped clock resumes.

    Every listed material must have a new evidence item uploaded since the request.
    """
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_applicant(applicant, case, action=_("answer the request for materials"))
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


def case_lapse(*, case: Case) -> Case:
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


def case_not_accept(*, case: Case, officer: AbstractBaseUser, reasons: str) -> Case:
    """Refuse to accept a case, with the reasons (served in a non-acceptance letter)."""
    reasons = (reasons or "").strip()
    if not reasons:
        raise InvalidInput(_("Give the reasons for not accepting."), field="reasons")
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_officer(officer, Role.INTAKE, case, action=_("refuse a case"))
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


def evidence_review(
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
        policy.ensure_officer(reviewer, Role.CASE_OFFICER, case, action=_("review evidence"))
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


def case_review_complete(
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
        policy.ensure_officer(reviewer, Role.CASE_OFFICER, case, action=_("complete a review"))
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


def case_legal_review(
    *, case: Case, reviewer: AbstractBaseUser, passed: bool, note: str = ""
) -> Case:
    """Legal review (法制审核): pass to sign-off, or send back to the case officer."""
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_officer(reviewer, Role.LEGAL_REVIEWER, case, action=_("do a legal review"))
        ensure_state(case, Case.Status.LEGAL_REVIEW, action=_("be legally reviewed"))
        if reviewer.pk in reviewers_of(case, legal=False):
            raise NotPermitted(
                _("The legal review must be done by someone other than the case officer."),
                code="four_eyes",
            )
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


def case_sign(
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
    if decision not in Case.Decision.values:
        raise InvalidInput(
            _("Unknown decision %(decision)s.") % {"decision": repr(decision)}, field="decision"
        )
    reasons = (reasons or "").strip()
    if decision != Case.Decision.APPROVED and not reasons:
        raise InvalidInput(_("State the reasons, tied to the evidence."), field="reasons")
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_officer(signer, Role.SIGNER, case, action=_("sign a decision"))
        ensure_state(case, Case.Status.SIGN_OFF, action=_("be signed"))
        if signer.pk in reviewers_of(case):
            raise NotPermitted(
                _("You reviewed this case: a different official must sign it."), code="four_eyes"
            )
        signatures = list(case.signatures.filter(round=case.signoff_round))
        if any(s.signer_id == signer.pk for s in signatures):
            raise NotPermitted(
                _("You have signed this case already; a second official must sign."),
                code="already_signed",
            )
        before = _snapshot(case)
        current = {cr.record_id: cr.outcome for cr in case.case_records.all()}
        proposed = (
            {int(k): v for k, v in record_outcomes.items()} if record_outcomes is not None else None
        )
        if signatures and (
            signatures[0].decision != decision or (proposed is not None and proposed != current)
        ):
            # Collective decision without agreement: back to the case officer.
            Signature.objects.create(
                case=case, signer=signer, decision=decision, note=note, round=case.signoff_round
            )
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
                note=note or reasons,
                data={"decision": decision, "first": signatures[0].decision},
            )
            return case
        if record_outcomes is not None or decision != case.recommendation:
            _apply_record_outcomes(case, decision, record_outcomes)
        Signature.objects.create(
            case=case, signer=signer, decision=decision, note=note, round=case.signoff_round
        )
        needed = case.rule_set.signers_required
        if len(signatures) + 1 < needed:
            event_record(
                case,
                "signed",
                actor=signer,
                role=Role.SIGNER,
                before=before,
                after=_snapshot(case),
                note=note,
                data={"decision": decision, "signatures": len(signatures) + 1, "required": needed},
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


def _decide(case: Case, *, decision: str, reasons: str, signer, before: dict, signers) -> None:
    """Make a signed decision take effect on the case, its records and platforms."""
    now = timezone.now()
    case.decision = decision
    case.decision_reasons = reasons
    case.decided_at = now
    decision_deadline = clock.deadline_running(case, Deadline.Step.DECISION)
    if decision_deadline is not None:
        clock.deadline_close(decision_deadline, actor=signer, reason=f"decided: {decision}")
    clock.deadline_start(
        case,
        Deadline.Step.LETTER,
        working_days=case.rule_set.letter_service_days,
        actor=signer,
        reason="decision letter to be served",
    )
    withdrawals = 0
    for cr in case.case_records.select_related("record"):
        record = cr.record
        if cr.outcome == CaseRecord.Outcome.UPHELD:
            if case.kind == Case.Kind.OBJECTION and cr.correction:
                record.status = Record.Status.ACTIVE
                record.corrected_text = cr.correction
                record.save(update_fields=["status", "corrected_text", "updated_at"])
                record.publications.filter(status=Publication.Status.DISPUTED).update(
                    status=Publication.Status.PUBLISHED
                )
                continue
            record.status = Record.Status.REMOVED
            record.save(update_fields=["status", "updated_at"])
            withdrawals += record.publications.exclude(status=Publication.Status.WITHDRAWN).update(
                status=Publication.Status.WITHDRAWAL_REQUESTED, acknowledged_at=None
            )
        else:
            if record.status == Record.Status.DISPUTED:
                record.status = cr.status_before
                record.save(update_fields=["status", "updated_at"])
                record.publications.filter(status=Publication.Status.DISPUTED).update(
                    status=Publication.Status.PUBLISHED
                )
    if withdrawals:
        case.status = Case.Status.REMOVAL
        clock.deadline_start(
            case,
            Deadline.Step.REMOVAL,
            working_days=case.rule_set.removal_days,
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


# --- list removal ---------------------------------------------------------------------


def publication_acknowledge(*, publication: Publication, note: str = "") -> Publication:
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


def case_withdraw(*, case: Case, applicant: AbstractBaseUser, reason: str = "") -> Case:
    """The applicant withdraws a case that is not yet decided."""
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_applicant(applicant, case, action=_("withdraw the case"))
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


def case_revoke(*, case: Case, official: AbstractBaseUser, reason: str) -> Case:
    """Revoke an approved restoration obtained by a false commitment; re-publish the records."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("State why the restoration is revoked."), field="reason")
    with transaction.atomic():
        case = case_lock(case)
        policy.ensure_officer(official, Role.SIGNER, case, action=_("revoke a restoration"))
        if case.kind != Case.Kind.RESTORATION or case.decision not in {
            Case.Decision.APPROVED,
            Case.Decision.PARTLY_APPROVED,
        }:
            raise WrongState(
                _("Only an approved restoration can be revoked."), code="not_revocable"
            )
        ensure_state(
            case,
            Case.Status.REMOVAL,
            Case.Status.APPEAL_WINDOW,
            Case.Status.CLOSED,
            action=_("be revoked"),
        )
        before = _snapshot(case)
        reinstated = []
        for cr in case.case_records.filter(outcome=CaseRecord.Outcome.UPHELD).select_related(
            "record"
        ):
            cr.record.status = Record.Status.ACTIVE
            cr.record.save(update_fields=["status", "updated_at"])
            cr.record.publications.update(status=Publication.Status.PUBLISHED, acknowledged_at=None)
            reinstated.append(cr.record.decision_no)
        clock.deadlines_close_all(case, actor=official, reason="restoration revoked")
        case.status = Case.Status.REVOKED
        case.revoked_at = timezone.now()
        case.save(update_fields=["status", "revoked_at", "updated_at"])
        event_record(
            case,
            "revoked",
            actor=official,
            role=Role.SIGNER,
            before=before,
            after=_snapshot(case),
            note=reason,
            data={"reinstated": reinstated},
        )
    return case


def case_extend_deadline(
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
        policy.ensure_officer(supervisor, Role.SUPERVISOR, case, action=_("extend a deadline"))
        deadline = clock.deadline_running(case, step)
        if deadline is None or deadline.status != Deadline.Status.RUNNING:
            raise WrongState(
                _("No running %(step)s deadline to extend.") % {"step": step},
                code="no_running_deadline",
            )
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


# --- evidence ---------------------------------------------------------------------------

EVIDENCE_OPEN_STATUSES = (
    Case.Status.SUBMITTED,
    Case.Status.AWAITING_MATERIALS,
    Case.Status.UNDER_REVIEW,
)


def evidence_add(
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
                policy.ensure_applicant(uploaded_by, case, action=_("add evidence"))
                role = APPLICANT_ROLE
            else:
                policy.ensure_officer(
                    uploaded_by, Role.CASE_OFFICER, case, action=_("add evidence")
                )
                role = Role.CASE_OFFICER
            ensure_state(case, *EVIDENCE_OPEN_STATUSES, action=_("take new evidence"))
            if record is not None and not case.case_records.filter(record=record).exists():
                raise InvalidInput(_("That record is not part of this case."), field="record")
            existing = case.evidence.filter(sha256=checked.sha256).first()
            if existing is not None:
                return existing
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
    except BaseException:
        # The database rolled back: remove the file too, so nothing is left behind.
        for name in stored:
            Evidence.file.field.storage.delete(name)
        raise
    return evidence


# --- steps the clock takes ---------------------------------------------------------------


def case_close(*, case: Case) -> Case:
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


def deadline_escalate(*, case: Case, step: str, overdue: bool) -> Deadline | None:
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


def case_note_assignment(
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
