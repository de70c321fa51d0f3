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
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import policy
from cases.errors import Duplicate, InvalidInput, NotPermitted, RuleViolation, WrongState
from cases.events import event_record
from cases.identifiers import guess_subject_kind, validate_subject_code
from cases.models import Case, CaseRecord, Record, ReferenceCounter, Role, Subject
from cases.rules import rule_set_for_record

APPLICANT_ROLE = "applicant"


# --- subjects ---------------------------------------------------------------


def subject_get_or_create(*, code: str, name: str, kind: str | None = None) -> tuple[Subject, bool]:
    """Find a subject by its (validated, normalised) code, or create it.

    Raises ``InvalidIdentifier`` for a malformed code. An existing subject keeps
    its name: a later spreadsheet cannot rename a subject silently.
    """
    kind = kind or guess_subject_kind(code)
    code = validate_subject_code(code, kind)
    subject = Subject.objects.filter(code=code).first()
    if subject is not None:
        return subject, False
    name = name.strip()
    if not name:
        raise InvalidInput("A new subject needs a name.", field="subject_name")
    try:
        with transaction.atomic():
            subject = Subject.objects.create(code=code, name=name, kind=kind)
    except IntegrityError:  # created by a concurrent import between our read and write
        return Subject.objects.get(code=code), False
    return subject, True


# --- helpers shared by the case services -----------------------------------


def case_lock(case: Case | int) -> Case:
    """Re-read the case under a row lock; the caller must be inside ``transaction.atomic``."""
    pk = case.pk if isinstance(case, Case) else case
    return Case.objects.select_for_update().select_related("rule_set__list_type").get(pk=pk)


def ensure_state(case: Case, *allowed: str, action: str) -> None:
    if case.status not in allowed:
        raise WrongState(
            f"Case {case.reference} is {case.get_status_display().lower()}; "
            f"it cannot {action} now.",
            code="wrong_state",
        )


def reference_allocate(*, year: int) -> str:
    """The next gap-free case reference of the year, e.g. ``RD-2026-000123``."""
    counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
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
        return (
            f"Record {record.decision_no}: a penalty of type "
            f"'{record.get_penalty_type_display()}' cannot be restored under rule set "
            f"{rule_set.label}."
        )
    if record.restorable_from and on < record.restorable_from:
        return (
            f"Record {record.decision_no}: restoration can be requested from "
            f"{record.restorable_from:%Y-%m-%d}, when the minimum publication period ends."
        )
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
    officer of the records' agency files on the subject's behalf (``filed_by``).
    A restoration is refused here, with the reason, before the minimum period or
    for a penalty type the rule set bars. Repeating a submission with the same
    ``idempotency_key`` returns the case already filed instead of a second one.
    """
    filed_by = filed_by or applicant
    if kind not in Case.Kind.values:
        raise InvalidInput(f"Unknown kind {kind!r}: use objection or restoration.", field="kind")
    grounds = (grounds or "").strip()
    if not grounds:
        raise InvalidInput("State the grounds of the request.", field="grounds")
    records = list(records)
    if not records:
        raise InvalidInput("Name at least one record.", field="records")

    if idempotency_key:
        existing = Case.objects.filter(applicant=applicant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing

    agencies = {r.agency_id for r in records}
    if len(agencies) != 1:
        raise InvalidInput(
            "All records of one case must come from the same agency: file one case per agency.",
            field="records",
        )
    if any(r.subject_id != subject.pk for r in records):
        raise InvalidInput("Every record must be a record of the subject.", field="records")
    agency = records[0].agency

    if filed_by.pk != applicant.pk or channel == Case.Channel.OFFICER:
        if not (
            policy.has_role(filed_by, Role.INTAKE, agency)
            or policy.has_role(filed_by, Role.CASE_OFFICER, agency)
        ):
            raise NotPermitted(
                f"Only an officer of {agency.code} may file a case on a subject's behalf.",
                code="role_required",
            )
        role = Role.INTAKE
    else:
        if not policy.represents(applicant, subject):
            raise NotPermitted(
                "You are not a confirmed representative of this subject.", code="not_representative"
            )
        role = APPLICANT_ROLE

    today = timezone.localdate()
    allowed = SUBMITTABLE_RECORD_STATUSES[kind]
    for record in records:
        if record.status not in allowed:
            raise WrongState(
                f"Record {record.decision_no} is {record.get_status_display().lower()}: "
                f"a {Case.Kind(kind).label} cannot be filed against it.",
                code="record_state",
            )
        if kind == Case.Kind.RESTORATION:
            reason = restoration_refusal(record, on=today)
            if reason:
                raise RuleViolation(reason, code="restoration_not_allowed")

    with transaction.atomic():
        # Lock the records: two simultaneous submissions about one record serialise here.
        locked = list(Record.objects.select_for_update().filter(pk__in=[r.pk for r in records]))
        busy = (
            CaseRecord.objects.filter(
                record__in=locked, case__status__in=Case.OPEN_STATUSES, case__kind=kind
            )
            .select_related("case", "record")
            .first()
        )
        if busy is not None:
            raise Duplicate(
                f"Record {busy.record.decision_no} is already in open case {busy.case.reference}.",
                code="record_in_open_case",
            )
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
