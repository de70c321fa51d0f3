"""Workload balancing that explains itself (issue 17).

A supervisor is proposed an officer for each waiting task of their agencies, with the
reason in words; they apply the proposal (each assignment through
``workflows.actions.tasks_assign``, an event with its reason) and may undo it for
``UNDO_MINUTES``.

Who *may* take a task is ``cases.access.assignable``'s answer alone (the step's role at
the case's agency, no tie to its subject, the legal qualification, four eyes); the
balancing only chooses among those people, and the assignment checks them again under
the task's lock. Among them it leaves out whoever is absent today, then prefers, in
order: someone who knows the case's list, someone who reads the case's language, the
lowest load (open tasks divided by declared capacity), then the user name.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import access
from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.models import ListType, Role
from workflows import actions, selectors
from workflows.models import Absence, AssignmentBatch, AssignmentBatchItem, WorkProfile
from workflows.nodes import step_label

UNDO_MINUTES = 10
DEFAULT_CAPACITY = 1.0

# "among 3 available case officers": the role as a plural noun, each translated whole.
ROLE_PLURAL = {
    Role.INTAKE: gettext_lazy("intake officers"),
    Role.CASE_OFFICER: gettext_lazy("case officers"),
    Role.LEGAL_REVIEWER: gettext_lazy("legal reviewers"),
    Role.SIGNER: gettext_lazy("signing officials"),
}

# Why four eyes left someone out, by step: told when it did.
FOUR_EYES_NOTE = {
    "legal_review": gettext_lazy("not the reviewer of this case"),
    "sign_off": gettext_lazy("not a reviewer or signer of this case"),
    "refusal_approval": gettext_lazy("not who proposed not accepting it"),
}


# --- absences ------------------------------------------------------------------------------------


def absent_days(
    user_ids: Iterable[int], start: datetime.date, end: datetime.date
) -> dict[int, set[datetime.date]]:
    """Officer id → the days from ``start`` to ``end`` they declared themselves away."""
    away: dict[int, set[datetime.date]] = {}
    for absence in Absence.objects.filter(
        user_id__in=list(user_ids), starts_on__lte=end, ends_on__gte=start
    ):
        day = max(absence.starts_on, start)
        while day <= min(absence.ends_on, end):
            away.setdefault(absence.user_id, set()).add(day)
            day += datetime.timedelta(days=1)
    return away


def absences_editable_by(user: AbstractBaseUser):
    """The absences ``user`` may see and change: their own, and a supervisor's officers'."""
    officers = access.people_holding(at=access.agencies_of(user, Role.SUPERVISOR))
    return Absence.objects.filter(Q(user=user) | Q(user__in=officers.values("pk")))


def team_of(supervisor: AbstractBaseUser):
    """The officers of the agencies ``supervisor`` supervises, by user name."""
    return selectors.officers_of_agencies(supervisor)


def team_member(supervisor: AbstractBaseUser, user_id) -> AbstractBaseUser | None:
    return team_of(supervisor).filter(pk=user_id).first()


def profile_of(user: AbstractBaseUser) -> WorkProfile:
    profile, _created = WorkProfile.objects.get_or_create(user=user)
    return profile


# --- proposals -----------------------------------------------------------------------------------


@dataclass
class Proposal:
    """Whom a waiting task is proposed to, and why; or why it is skipped."""

    task: Task
    case: object
    step_text: str
    assignee: AbstractBaseUser | None
    reason: str

    @property
    def skipped(self) -> bool:
        return self.assignee is None


def _loads(user_ids: Iterable[int]) -> Counter:
    """Officer id → their open tasks (assigned or started)."""
    rows = (
        Task.objects.filter(
            owner_id__in=list(user_ids), status__in=[STATUS.ASSIGNED, STATUS.STARTED]
        )
        .values("owner_id")
        .annotate(n=Count("id"))
    )
    return Counter({row["owner_id"]: row["n"] for row in rows})


def waiting_tasks(supervisor: AbstractBaseUser, task_ids: Iterable[int] | None = None):
    tasks = selectors.tasks_of_agency(supervisor).filter(owner__isnull=True, status=STATUS.NEW)
    if task_ids is not None:
        tasks = tasks.filter(pk__in=list(task_ids))
    return tasks


def propose(
    supervisor: AbstractBaseUser,
    *,
    task_ids: Iterable[int] | None = None,
    today: datetime.date | None = None,
    limit: int = 200,
) -> list[Proposal]:
    """A proposal for each waiting task of ``supervisor``'s agencies (or of ``task_ids``),
    oldest first, each saying why."""
    today = today or timezone.localdate()
    tasks = list(waiting_tasks(supervisor, task_ids)[:limit])
    planned: Counter = Counter()  # tasks this proposal already gives each officer
    profiles: dict[int, WorkProfile] = {}
    proposals = []
    for task in tasks:
        case = task.process.case
        step = task.flow_task.name
        role = access.STEP_ROLES.get(step)
        text = step_label(task)
        if role is None:
            continue
        conflict = access.conflict_of_interest(supervisor, case.subject_id)
        if conflict is not None:
            proposals.append(
                Proposal(
                    task,
                    case,
                    text,
                    None,
                    _(
                        "You have a tie to the subject of this case: another supervisor assigns "
                        "it (Administrative Penalties Law, Article 43)."
                    ),
                )
            )
            continue
        proposals.append(_propose_one(task, case, step, role, text, today, planned, profiles))
    return proposals


def _propose_one(task, case, step, role, text, today, planned, profiles) -> Proposal:
    holders = access.people_holding(role, at=case.agency_id)
    eligible = list(access.assignable(case, step))
    tied = holders.filter(access.conflicted_users(case.subject_id)).count()
    four_eyes = holders.filter(access.four_eyes_barred_people(case, step)).count()
    away = absent_days([p.pk for p in eligible], today, today)
    present = [p for p in eligible if p.pk not in away]
    if not present:
        if eligible:
            reason = _("Nobody can take it today: every %(role)s who may take it is absent.") % {
                "role": str(ROLE_PLURAL[role])
            }
        else:
            reason = _(
                "Nobody may take it: no %(role)s of %(agency)s without a tie to the subject, "
                "qualified and not barred by four eyes."
            ) % {"role": str(ROLE_PLURAL[role]), "agency": case.agency.code}
        return Proposal(task, case, text, None, reason)
    for person in present:
        if person.pk not in profiles:
            profiles[person.pk] = WorkProfile.objects.filter(user=person).prefetch_related(
                "list_types"
            ).first() or WorkProfile(user=person)
    list_types = set(
        ListType.objects.filter(records__case_records__case=case).values_list("pk", flat=True)
    )
    loads = _loads(p.pk for p in present)

    def knows(person) -> bool:
        profile = profiles[person.pk]
        return bool(profile.pk and list_types & {lt.pk for lt in profile.list_types.all()})

    def reads(person) -> bool:
        return case.language in (profiles[person.pk].languages or [])

    def load(person) -> float:
        capacity = profiles[person.pk].capacity() or DEFAULT_CAPACITY
        return (loads[person.pk] + planned[person.pk]) / capacity

    chosen = min(present, key=lambda p: (not knows(p), not reads(p), load(p), p.get_username()))
    parts = [
        _("lowest load among %(n)s available %(role)s (%(open)s open for %(capacity)s a day)")
        % {
            "n": len(present),
            "role": str(ROLE_PLURAL[role]),
            "open": loads[chosen.pk] + planned[chosen.pk],
            "capacity": number_format(profiles[chosen.pk].capacity() or DEFAULT_CAPACITY, 1),
        }
    ]
    if knows(chosen):
        names = ", ".join(
            lt.name for lt in profiles[chosen.pk].list_types.all() if lt.pk in list_types
        )
        parts.append(_("with %(lists)s experience") % {"lists": names})
    if reads(chosen):
        parts.append(_("reads the case's language"))
    if four_eyes and step in FOUR_EYES_NOTE:
        parts.append(str(FOUR_EYES_NOTE[step]))
    if len(away):
        parts.append(
            ngettext("%(n)s absent today", "%(n)s absent today", len(away)) % {"n": len(away)}
        )
    if tied:
        parts.append(
            ngettext(
                "%(n)s with a tie to the subject left out",
                "%(n)s with a tie to the subject left out",
                tied,
            )
            % {"n": tied}
        )
    planned[chosen.pk] += 1
    return Proposal(task, case, text, chosen, _("; ").join(parts))


# --- apply and undo ------------------------------------------------------------------------------


@dataclass
class Applied:
    batch: AssignmentBatch | None
    done: list[Proposal]
    skipped: list[tuple[Proposal, str]]


def apply(supervisor: AbstractBaseUser, task_ids: Iterable[int]) -> Applied:
    """Apply a fresh proposal for ``task_ids``: each assignment through the route's one
    path (``actions.tasks_assign``), recorded as an event with its reason. Tasks that
    can no longer be given (claimed meanwhile, nobody free) are reported, not hidden."""
    if not access.agency_ids(supervisor, Role.SUPERVISOR):
        raise NotPermitted(_("Only a supervisor can assign tasks."))
    task_ids = list(task_ids)
    if not task_ids:
        raise InvalidInput(_("Choose at least one task to assign."))
    proposals = propose(supervisor, task_ids=task_ids)
    batch = AssignmentBatch.objects.create(supervisor=supervisor)
    done, skipped = [], []
    for proposal in proposals:
        if proposal.skipped:
            skipped.append((proposal, proposal.reason))
            continue
        result = actions.tasks_assign(
            tasks=[proposal.task],
            supervisor=supervisor,
            assignee=proposal.assignee,
            only_unassigned=True,
            reason=proposal.reason,
        )
        if result.done:
            AssignmentBatchItem.objects.create(
                batch=batch,
                task=proposal.task,
                assignee=proposal.assignee,
                event_id=result.events[proposal.task.pk],
                reason=proposal.reason,
            )
            done.append(proposal)
        else:
            skipped.append((proposal, result.skipped[proposal.task.pk]))
    if not done:
        batch.delete()
        batch = None
    return Applied(batch, done, skipped)


def batches_of(supervisor: AbstractBaseUser):
    return AssignmentBatch.objects.filter(supervisor=supervisor).prefetch_related("items")


def undoable(batch: AssignmentBatch, now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    return batch.undone_at is None and now - batch.created_at <= datetime.timedelta(
        minutes=UNDO_MINUTES
    )


def undo(
    supervisor: AbstractBaseUser, batch: AssignmentBatch, *, now: datetime.datetime | None = None
) -> AssignmentBatch:
    """Undo ``batch`` within ``UNDO_MINUTES`` of applying it: each task nothing was done on
    since waits to be assigned again (an event each); any other is left, with the reason."""
    now = now or timezone.now()
    if batch.supervisor_id != supervisor.pk:
        raise NotPermitted(_("Only the supervisor who applied an assignment can undo it."))
    if batch.undone_at is not None:
        raise WrongState(_("This assignment was undone already."), code="undone")
    if not undoable(batch, now):
        raise WrongState(
            _(
                "This assignment was applied at %(time)s, more than %(minutes)s minutes ago: it "
                "can no longer be undone. Reassign its tasks one by one from the agency tasks "
                "page."
            )
            % {
                "time": timezone.localtime(batch.created_at).strftime("%H:%M"),
                "minutes": UNDO_MINUTES,
            },
            code="undo_expired",
        )
    assignees = {
        u.pk: u for u in get_user_model().objects.filter(pk__in=batch.items.values("assignee_id"))
    }
    for item in batch.items.select_related("task"):
        try:
            actions.task_assignment_undo(
                task=item.task,
                supervisor=supervisor,
                assignee=assignees[item.assignee_id],
                since_event=item.event_id,
            )
        except (WrongState, NotPermitted) as exc:
            item.undo_refused = exc.message
        else:
            item.undone = True
        item.save(update_fields=["undone", "undo_refused"])
    batch.undone_at = now
    batch.save(update_fields=["undone_at"])
    return batch
