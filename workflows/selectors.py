"""Reads for the officers' workspace, scoped to the agencies a person belongs to.

Every list is filtered in the database (never by loading rows or permissions into
Python), so a page runs the same number of queries whether an agency has ten
cases or ten thousand. A case of an agency the person does not belong to does
not exist for them: ``case_for_officer`` raises ``Http404``, never 403, so a
reference cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import policy
from cases.ids import id_parse
from cases.models import (
    Case,
    CaseEvent,
    CaseRecord,
    Evidence,
    Membership,
    Publication,
    Role,
    Signature,
)
from workflows.flows import FLOWS
from workflows.models import ClockEntry, Deadline

OPEN_TASK_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
HUMAN = "HUMAN"


# --- who the person is in the workspace ------------------------------------------------------


memberships_of = policy.memberships_of


def is_agency_member(user: AbstractBaseUser) -> bool:
    """Whether ``user`` works at or audits an agency (and so may use the workspace)."""
    return bool(memberships_of(user))


def is_officer(user: AbstractBaseUser) -> bool:
    """Whether ``user`` holds an officer's role (not only an auditor's) at some agency."""
    return any(roles - {Role.AUDITOR} for roles in memberships_of(user).values())


def agencies_where(user: AbstractBaseUser, role: str) -> set[int]:
    return {agency_id for agency_id, roles in memberships_of(user).items() if role in roles}


def _member_agencies(user: AbstractBaseUser, *roles: str) -> QuerySet:
    """The agency ids where ``user`` holds any role (or one of ``roles``), as a subquery."""
    memberships = Membership.objects.filter(user=user)
    if roles:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("agency_id")


def _holds_task_role(user: AbstractBaseUser) -> Exists:
    """The task's role (``owner_permission``, a role code) is held by ``user`` at its agency."""
    return Exists(
        Membership.objects.filter(
            user=user,
            agency_id=OuterRef("process__case__agency_id"),
            role=OuterRef("owner_permission"),
        )
    )


def _nodes(name: str) -> list:
    return [getattr(flow.instance, name) for flow in FLOWS.values()]


def _barred(user: AbstractBaseUser) -> Q:
    """Tasks the engine would refuse ``user`` for the four-eyes rules (see ``nodes.RoleView``).

    The legal review is not for the case officer who reviewed; the sign-off is not
    for either reviewer, nor for an official who already signed this round.
    """
    signed_this_round = Exists(
        Signature.objects.filter(
            case_id=OuterRef("process__case__id"),
            round=OuterRef("process__case__signoff_round"),
            signer=user,
        )
    )
    return (Q(flow_task__in=_nodes("legal_review")) & Q(process__case__review_officer=user)) | (
        Q(flow_task__in=_nodes("sign_off"))
        & (
            Q(process__case__review_officer=user)
            | Q(process__case__legal_reviewer=user)
            | signed_this_round
        )
    )


def running_due_on() -> Subquery:
    """The due date of the case's latest running deadline, for a column of a list."""
    return Subquery(
        Deadline.objects.filter(
            case_id=OuterRef("process__case__id"), status=Deadline.Status.RUNNING
        )
        .order_by("-id")
        .values("due_on")[:1]
    )


def _task_list(queryset: QuerySet) -> QuerySet:
    return queryset.filter(flow_task_type=HUMAN, process__case__isnull=False).select_related(
        "process__case__subject", "process__case__agency", "owner"
    )


# --- task lists -------------------------------------------------------------------------------


def _conflicted(user: AbstractBaseUser) -> Q:
    """Tasks of cases whose subject ``user`` has a tie to (APL Art. 43, ``policy.conflicted``)."""
    return policy.conflicted(user, subject_field="process__case__subject_id")


def tasks_inbox(user: AbstractBaseUser) -> QuerySet:
    """Open tasks assigned to ``user`` at agencies where they still hold the step's role.

    A task of a subject they have come to have a tie to stays here, flagged
    ``conflicted``, so that they see it and give it back (nobody else would know).
    """
    return (
        _task_list(Task.objects.filter(owner=user, status__in=[STATUS.ASSIGNED, STATUS.STARTED]))
        .filter(_holds_task_role(user))
        .annotate(
            due_on=running_due_on(),
            conflicted=ExpressionWrapper(_conflicted(user), output_field=BooleanField()),
        )
        .order_by("-created", "-id")
    )


def tasks_queue(user: AbstractBaseUser) -> QuerySet:
    """Unassigned open tasks ``user`` may take.

    The step's role is held at the case's agency, they have no tie to the case's
    subject and the four-eyes rules do not bar them (the engine would refuse those
    anyway, so they are not offered).
    """
    return (
        _task_list(Task.objects.filter(status=STATUS.NEW, owner__isnull=True))
        .filter(_holds_task_role(user))
        .exclude(_barred(user))
        .exclude(_conflicted(user))
        .annotate(due_on=running_due_on())
        .order_by("created", "id")
    )


def tasks_archive(user: AbstractBaseUser) -> QuerySet:
    """Tasks ``user`` completed, at agencies they belong to."""
    return _task_list(
        Task.objects.filter(
            owner=user,
            status=STATUS.DONE,
            process__case__agency_id__in=_member_agencies(user),
        )
    ).order_by("-finished", "-id")


def tasks_of_agency(supervisor: AbstractBaseUser) -> QuerySet:
    """Every open human task of the agencies where ``supervisor`` is a supervisor."""
    return (
        _task_list(
            Task.objects.filter(
                status__in=OPEN_TASK_STATUSES,
                process__case__agency_id__in=_member_agencies(supervisor, Role.SUPERVISOR),
            )
        )
        .annotate(due_on=running_due_on())
        .order_by("created", "id")
    )


def task_for_officer(user: AbstractBaseUser, pk) -> Task:
    """A human task of a case of ``user``'s agencies; 404 for anything else."""
    pk = id_parse(pk)
    if pk is None:
        raise Http404("No such task.")
    task = (
        Task.objects.filter(
            pk=pk,
            flow_task_type=HUMAN,
            process__case__agency_id__in=_member_agencies(user),
        )
        .select_related("process__case", "owner")
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


# --- cases --------------------------------------------------------------------------------------


def cases_for_officer(
    user: AbstractBaseUser, *, status: str = "", kind: str = "", search: str = ""
) -> QuerySet:
    """Cases of the agencies ``user`` works at or audits, newest first.

    ``search`` matches the case reference, or the subject's code or name.
    """
    cases = Case.objects.filter(agency_id__in=_member_agencies(user)).select_related(
        "subject", "agency"
    )
    if status:
        cases = cases.filter(status=status)
    if kind:
        cases = cases.filter(kind=kind)
    search = search.strip()
    if search:
        cases = cases.filter(
            Q(reference__icontains=search)
            | Q(subject__code__iexact=search)
            | Q(subject__name__icontains=search)
        )
    return cases.annotate(
        due_on=Subquery(
            Deadline.objects.filter(case_id=OuterRef("pk"), status=Deadline.Status.RUNNING)
            .order_by("-id")
            .values("due_on")[:1]
        )
    ).order_by("-submitted_at", "-id")


def case_for_officer(user: AbstractBaseUser, pk) -> Case:
    """One case of ``user``'s agencies; ``Http404`` for any other, so existence is not revealed."""
    pk = id_parse(pk)
    if pk is None:
        raise Http404("No such case.")
    case = (
        Case.objects.filter(pk=pk, agency_id__in=_member_agencies(user))
        .select_related(
            "subject",
            "agency",
            "rule_set",
            "applicant",
            "filed_by",
            "review_officer",
            "legal_reviewer",
        )
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


@dataclass
class CaseDetail:
    """Everything the case page shows, each read in one query."""

    case_records: list[CaseRecord]
    evidence: list[Evidence]
    events: list[CaseEvent]
    deadlines: list[Deadline]
    clock_entries: list[ClockEntry]
    signatures: list[Signature]
    open_tasks: list[Task]


def case_detail(case: Case) -> CaseDetail:
    """The records, evidence, timeline, clock, signatures and open tasks of ``case``."""
    case_records = list(
        case.case_records.select_related("record__list_type", "record__agency")
        .prefetch_related(
            Prefetch(
                "record__publications",
                queryset=Publication.objects.select_related("platform").order_by("platform__code"),
            )
        )
        .order_by("id")
    )
    evidence = list(
        case.evidence.select_related("record", "uploaded_by", "reviewed_by").order_by(
            "uploaded_at", "id"
        )
    )
    events = list(case.events.select_related("actor").order_by("seq"))
    deadlines = list(Deadline.objects.filter(case=case).order_by("created_at", "id"))
    clock_entries = list(
        ClockEntry.objects.filter(case=case)
        .select_related("deadline", "actor", "approved_by")
        .order_by("at", "id")
    )
    signatures = list(case.signatures.select_related("signer").order_by("signed_at", "id"))
    open_tasks = []
    if case.process_id is not None:
        open_tasks = list(
            Task.objects.filter(
                process_id=case.process_id,
                status__in=OPEN_TASK_STATUSES,
                flow_task_type=HUMAN,
            )
            .select_related("owner")
            .order_by("id")
        )
    return CaseDetail(
        case_records=case_records,
        evidence=evidence,
        events=events,
        deadlines=deadlines,
        clock_entries=clock_entries,
        signatures=signatures,
        open_tasks=open_tasks,
    )


def evidence_for_officer(user: AbstractBaseUser, pk) -> Evidence:
    """An evidence item of a case of ``user``'s agencies; ``Http404`` for any other."""
    pk = id_parse(pk)
    if pk is None:
        raise Http404("No such evidence.")
    evidence = Evidence.objects.filter(pk=pk, case__agency_id__in=_member_agencies(user)).first()
    if evidence is None:
        raise Http404("No such evidence.")
    return evidence


def officers_for(
    case: Case, role: str, *, exclude: set[int] = frozenset(), without_ties: bool = False
) -> QuerySet:
    """People holding ``role`` at the case's agency (candidates a supervisor may assign).

    ``without_ties`` leaves out anyone with a tie to the case's subject (APL Art. 43):
    the choice offered. A posted choice is checked against the list with them, so that
    the service says why such a person cannot take the task.
    """
    users = (
        get_user_model()
        .objects.filter(
            is_active=True, memberships__agency_id=case.agency_id, memberships__role=role
        )
        .exclude(pk__in=exclude)
    )
    if without_ties:
        users = users.exclude(policy.conflicted_users(case.subject_id))
    return users.distinct().order_by("username")


def officers_of_agencies(supervisor: AbstractBaseUser) -> QuerySet:
    """The officers of the agencies where ``supervisor`` is a supervisor."""
    officer_roles = [r for r in Role.values if r != Role.AUDITOR]
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__agency_id__in=_member_agencies(supervisor, Role.SUPERVISOR),
            memberships__role__in=officer_roles,
        )
        .distinct()
        .order_by("username")
    )
