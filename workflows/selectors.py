"""Reads for the officers' workspace, scoped to the agencies a person belongs to.

Every list is filtered in the database (never by loading rows or permissions into
Python), so a page runs the same number of queries whether an agency has ten
cases or ten thousand. A case of an agency the person does not belong to does
not exist for them: ``case_for_officer`` raises ``Http404``, never 403, so a
reference cannot be probed.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field

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

from cases import access
from cases.ids import id_parse
from cases.models import (
    Case,
    CaseEvent,
    CaseRecord,
    ClockEntry,
    Deadline,
    DecisionMeeting,
    Evidence,
    Publication,
    Revocation,
    Role,
    Signature,
)
from workflows.flows import FLOWS

OPEN_TASK_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
HUMAN = "HUMAN"


# --- who may take which task -----------------------------------------------------------------
# Asked of ``cases.access``: the one answer to which agencies a person serves and in which
# roles, and who may take which step.


def _nodes(name: str) -> list:
    return [getattr(flow.instance, name) for flow in FLOWS.values()]


def _holds_task_role(user) -> Exists:
    """The task's role (``owner_permission``, a role code) is held by ``user`` at its agency."""
    return access.serving(
        user, agency_field="process__case__agency_id", role=OuterRef("owner_permission")
    )


def _may_take(user, conflicted: Q | None = None) -> Q:
    """Tasks ``user`` may take, as ``access.step_refusal`` decides for one: the task's role
    (``owner_permission``, a role code) held at its agency, no tie to its subject (APL
    Art. 43), the legal qualification where the step needs it (APL Art. 58 ¶2), not barred
    by four eyes.

    ``user`` is a person, or a reference to one two queries out
    (``OuterRef(OuterRef("pk"))`` from a list of people): the same filter lists a
    person's queue and the people who may take some of a set of tasks.
    """
    barred = [
        Q(flow_task__in=_nodes(step))
        & access.four_eyes_barred_cases(user, step, case_field="process__case__id")
        for step in sorted(access.four_eyes_steps())
    ]
    # A step that needs the legal qualification (APL Art. 58 ¶2) is offered only to a
    # person with it on record.
    unqualified = [
        Q(flow_task__in=_nodes(step)) & ~access.legally_qualified(user)
        for step in sorted(access.QUALIFIED_STEPS)
    ]
    return (
        _holds_task_role(user)
        & ~(_conflicted(user) if conflicted is None else conflicted)
        & ~functools.reduce(operator.or_, barred)
        & ~functools.reduce(operator.or_, unqualified)
    )


def running_due_on() -> Subquery:
    """The due date of the case's latest running deadline, for a column of a list."""
    return Subquery(
        Deadline.objects.filter(
            case_id=OuterRef("process__case__id"), status=Deadline.Status.RUNNING
        )
        .exclude(step=Deadline.Step.STATEMENT)  # the party's period, not the agency's
        .order_by("-id")
        .values("due_on")[:1]
    )


def _task_list(queryset: QuerySet) -> QuerySet:
    return queryset.filter(flow_task_type=HUMAN, process__case__isnull=False).select_related(
        "process__case__subject", "process__case__agency", "owner"
    )


# --- task lists -------------------------------------------------------------------------------


def _conflicted(user: AbstractBaseUser) -> Q:
    """Tasks of cases whose subject ``user`` has a tie to (APL Art. 43, ``access.conflicted``)."""
    return access.conflicted(user, subject_field="process__case__subject_id")


def _conflicted_now(user: AbstractBaseUser) -> Q:
    """``_conflicted`` for one person, as the list of their tied subjects read first (one
    query of their own few rows). Inside the queue's query the same test is six NOT IN
    subqueries, which PostgreSQL guesses keep 1/64 of the rows: it then reads all of an
    agency's cases instead of the queue's index in order (issue 16, bench/RESULTS.md)."""
    tied = access.tied_subject_ids(user)
    return Q(process__case__subject_id__in=tied) if tied else Q(pk__in=[])


def _roles_held_now(user: AbstractBaseUser) -> Q:
    """``_holds_task_role`` for one person, from their memberships as read once a request
    (``access.memberships_of``): the task's role is one they hold at the case's agency,
    as a list of (role, agencies) in the query instead of a subquery per row. Also
    names the agencies by id, so PostgreSQL knows how many tasks each has and reads the
    lists' index in order (issue 16: the queue's query at 10,000 cases 43 ms → 1.4 ms)."""
    agencies_by_role: dict[str, list[int]] = {}
    for agency_id, roles in sorted(access.memberships_of(user).items()):
        for role in roles:
            agencies_by_role.setdefault(role, []).append(agency_id)
    if not agencies_by_role:
        return Q(pk__in=[])
    held = [
        Q(owner_permission=role, process__case__agency_id__in=agencies)
        for role, agencies in sorted(agencies_by_role.items())
    ]
    if len(held) == 1:
        return held[0]
    every = sorted({a for agencies in agencies_by_role.values() for a in agencies})
    return Q(process__case__agency_id__in=every) & functools.reduce(operator.or_, held)


def _may_take_now(user: AbstractBaseUser) -> Q:
    """``_may_take`` for one person, the query cut to what can apply to them: only the
    four-eyes and qualification tests of steps whose role they hold (a task's role is its
    step's, ``access.STEP_ROLES``; a task of another role is out by ``_roles_held_now``),
    and their tied subjects as a list read first.

    The same answer as ``_may_take``, with a much smaller query: for an intake officer
    no four-eyes subquery at all. PostgreSQL planned the whole query on every request,
    7–26 ms against ~1 ms of execution (bench/RESULTS.md, issue 16)."""
    held = {role for roles in access.memberships_of(user).values() for role in roles}
    steps = {step for step, role in access.STEP_ROLES.items() if role in held}
    condition = _roles_held_now(user) & ~_conflicted_now(user)
    for step in sorted(access.four_eyes_steps() & steps):
        condition &= ~(
            Q(flow_task__in=_nodes(step))
            & access.four_eyes_barred_cases(user, step, case_field="process__case__id")
        )
    for step in sorted(access.QUALIFIED_STEPS & steps):
        condition &= ~(Q(flow_task__in=_nodes(step)) & ~access.legally_qualified(user))
    return condition


def _agency_ids(user: AbstractBaseUser, *roles: str) -> list[int]:
    """The ids of ``user``'s agencies as a list (one query of their own rows), for the lists
    to filter on: with the ids PostgreSQL knows how many rows an agency has and reads a
    list's index in its order, stopping at the page; through the membership subquery it
    guessed 1/20 of the rows and read all of a large agency's cases (issue 16: the queue's
    query at 10,000 cases 43 ms → 1.4 ms)."""
    return list(access.agencies_of(user, *roles).values_list("agency_id", flat=True))


def tasks_inbox(user: AbstractBaseUser) -> QuerySet:
    """Open tasks assigned to ``user`` at agencies where they still hold the step's role.

    A task of a subject they have come to have a tie to stays here, flagged
    ``conflicted``, so that they see it and give it back (nobody else would know).
    """
    return (
        _task_list(Task.objects.filter(owner=user, status__in=[STATUS.ASSIGNED, STATUS.STARTED]))
        .filter(_roles_held_now(user))
        .annotate(
            due_on=running_due_on(),
            conflicted=ExpressionWrapper(_conflicted_now(user), output_field=BooleanField()),
        )
        .order_by("-created", "-id")
    )


def tasks_queue(user: AbstractBaseUser) -> QuerySet:
    """Unassigned open tasks ``user`` may take.

    The step's role is held at the case's agency, they have no tie to the case's
    subject and the four-eyes rules do not bar them (the engine would refuse those
    anyway, so they are not offered). A disabled account takes nothing.
    """
    if not user.is_active:
        return Task.objects.none()
    return (
        _task_list(Task.objects.filter(status=STATUS.NEW, owner__isnull=True))
        .filter(_may_take_now(user))
        .annotate(due_on=running_due_on())
        .order_by("created", "id")
    )


def tasks_archive(user: AbstractBaseUser) -> QuerySet:
    """Tasks ``user`` completed, at agencies they belong to."""
    return _task_list(
        Task.objects.filter(
            owner=user,
            status=STATUS.DONE,
            process__case__agency_id__in=_agency_ids(user),
        )
    ).order_by("-finished", "-id")


def tasks_of_agency(supervisor: AbstractBaseUser) -> QuerySet:
    """Every open human task of the agencies where ``supervisor`` is a supervisor."""
    return (
        _task_list(
            Task.objects.filter(
                status__in=OPEN_TASK_STATUSES,
                process__case__agency_id__in=_agency_ids(supervisor, Role.SUPERVISOR),
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
            process__case__agency_id__in=access.agencies_of(user),
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
    cases = Case.objects.filter(agency_id__in=_agency_ids(user)).select_related("subject", "agency")
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
            .exclude(step=Deadline.Step.STATEMENT)
            .order_by("-id")
            .values("due_on")[:1]
        )
    ).order_by("-submitted_at", "-id")


def case_for_officer(user: AbstractBaseUser, pk) -> Case:
    """One case of ``user``'s agencies; ``Http404`` for any other, so existence is not revealed."""
    pk = id_parse(pk)
    if pk is None:
        raise Http404("No such case.")
    # The agencies from the memberships read once a request, and the four people of the
    # case in a query of their own: joined into this one (four joins of auth_user) the
    # query took ~10 ms to plan against 0.3 ms to run (issue 16, bench/RESULTS.md).
    case = (
        Case.objects.filter(pk=pk, agency_id__in=sorted(access.agency_ids(user)))
        .select_related("subject", "agency", "rule_set")
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    people = ("applicant", "filed_by", "review_officer", "legal_reviewer")
    ids = {getattr(case, f"{name}_id") for name in people} - {None}
    found = get_user_model().objects.in_bulk(ids)
    for name in people:
        person_id = getattr(case, f"{name}_id")
        if person_id is not None:
            Case._meta.get_field(name).set_cached_value(case, found[person_id])
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
    revocation: Revocation | None = None
    meetings: list[DecisionMeeting] = field(default_factory=list)


def case_detail(case: Case) -> CaseDetail:
    """The records, evidence, timeline, clock, signatures, decision meetings, open tasks and
    the revocation (proposed or in effect) of ``case``."""
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
    # The revocation proposed or in effect (a proposal not pursued is on the timeline).
    revocation = (
        Revocation.objects.filter(case=case)
        .exclude(status=Revocation.Status.DROPPED)
        .select_related("proposed_by", "legal_reviewer", "revoked_by", "decision_record")
        .prefetch_related("evidence", "signers")
        .order_by("-id")
        .first()
    )
    meetings = list(
        DecisionMeeting.objects.filter(case=case)
        .select_related("recorded_by")
        .prefetch_related("participants")
        .order_by("round", "id")
    )
    return CaseDetail(
        meetings=meetings,
        case_records=case_records,
        evidence=evidence,
        events=events,
        deadlines=deadlines,
        clock_entries=clock_entries,
        signatures=signatures,
        open_tasks=open_tasks,
        revocation=revocation,
    )


def evidence_for_officer(user: AbstractBaseUser, pk) -> Evidence:
    """An evidence item of a case of ``user``'s agencies; ``Http404`` for any other."""
    pk = id_parse(pk)
    if pk is None:
        raise Http404("No such evidence.")
    evidence = Evidence.objects.filter(pk=pk, case__agency_id__in=access.agencies_of(user)).first()
    if evidence is None:
        raise Http404("No such evidence.")
    return evidence


# --- whom a supervisor may give a task ---------------------------------------------------------


def assignees_for(task: Task, case: Case) -> QuerySet:
    """The people a supervisor is offered for ``task`` of ``case``: exactly those
    ``workflows.actions.tasks_assign`` accepts (``access.assignable``: the step's role at the
    case's agency, no tie to its subject, not barred by four eyes), but its owner (it is
    theirs already); nobody once the task can no longer be assigned. One query."""
    if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
        return get_user_model().objects.none()
    people = access.assignable(case, task.flow_task.name)
    if task.owner_id is not None:
        people = people.exclude(pk=task.owner_id)
    return people


def assignees_for_tasks(supervisor: AbstractBaseUser, task_ids) -> QuerySet:
    """The people a supervisor is offered for a bulk assignment of the waiting tasks
    ``task_ids`` (the page's): everyone ``workflows.actions.tasks_assign`` accepts for at
    least one of them that the supervisor may assign (of their agencies, no tie of theirs
    to its subject); each task the chosen person may not take is reported as skipped.
    One query, however many tasks and people.
    """
    supervised = access.agencies_of(supervisor, Role.SUPERVISOR)
    tasks = Task.objects.filter(
        pk__in=list(task_ids),
        status=STATUS.NEW,
        owner__isnull=True,
        process__case__agency_id__in=supervised,
    ).exclude(_conflicted(supervisor))
    # Two queries out: the person of the list, from inside the task's own subqueries.
    person = OuterRef(OuterRef("pk"))
    return (
        access.people_holding(at=supervised)
        .filter(Exists(tasks.filter(_may_take(person))))
        .order_by("username")
    )


def officers_for(case: Case, role: str) -> QuerySet:
    """Everyone holding ``role`` at the case's agency: a posted choice of assignee is checked
    against them, so that the service says why one of them cannot take the task."""
    return access.people_holding(role, at=case.agency_id).order_by("username")


def officers_of_agencies(supervisor: AbstractBaseUser) -> QuerySet:
    """The officers of the agencies where ``supervisor`` is a supervisor."""
    return access.people_holding(at=access.agencies_of(supervisor, Role.SUPERVISOR)).order_by(
        "username"
    )
