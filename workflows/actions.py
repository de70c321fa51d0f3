"""The route's entry points: file a case, claim and do tasks, answer, acknowledge.

Views, the API, commands and the demo call these, never the flow nodes
directly. Each one runs the case service that changes the case and moves the
viewflow process on, under the process lock and in one transaction, so a case
and its process never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import access, clock, transitions
from cases.calendar import YearSchedule, recompute_cause, recompute_cause_text
from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.held import case_held
from cases.models import (
    Appeal,
    Case,
    Deadline,
    Evidence,
    Material,
    Publication,
    PublicationEffect,
    Record,
    Revocation,
    Role,
    ServiceConsent,
)
from cases.publications import effects_recompute
from documents import services as documents_services
from documents.models import Letter, LetterService
from documents.selectors import DECISION_LETTER_KINDS, decision_letters_issued
from workflows.flows import FLOWS, appeal_window_end
from workflows.nodes import DeadlineTimer, RoleView, case_of, deadline_timers

logger = logging.getLogger(__name__)

OPEN_TASK_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
# Nothing more happens to a task in these: done, cancelled (the case was withdrawn or
# moved on), or replaced by a revived copy.
CLOSED_TASK_STATUSES = (STATUS.DONE, STATUS.CANCELED, STATUS.REVIVED)
BUSY_MESSAGE = "Someone else is working on this case at this moment; try again in a few seconds."


# --- filing ---------------------------------------------------------------------------


def case_submit(**kwargs) -> Case:
    """Submit a case (see ``cases.transitions.submit``) and start its process."""
    with transaction.atomic():
        case = transitions.submit(**kwargs)
        if case.process_id is None:
            FLOWS[case.kind].start.run(case=case)
    return case


# --- evidence -------------------------------------------------------------------------------


def evidence_add(
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
    """Add one evidence file to a case: the applicant's, or an officer's.

    An officer's item from electronic monitoring names its device and the device's legal
    and technical approval in ``monitoring`` (APL Art. 41); the party is told of it and
    the sign-off waits for its statement or the end of its period (``case_statement``).

    The file is checked (size, type by content, active content, scanner) before anything
    is stored, and a refused file leaves nothing behind; the same content again returns
    the item already there. Evidence moves no step of the route: the case's own row lock
    orders it against the steps that read the evidence.
    """
    return transitions.add_evidence(
        case=case,
        uploaded_by=uploaded_by,
        upload=upload,
        material=material,
        record=record,
        source=source,
        description=description,
        monitoring=monitoring,
    )


def case_statement(
    *, case: Case, applicant: AbstractBaseUser, statement: str = "", waived: bool = False
) -> Case:
    """The party states its case and defends on evidence from electronic monitoring, or
    waives it (``cases.transitions.submit_statement``); moves no step of the route, but
    the sign-off no longer waits for the period's end."""
    return transitions.submit_statement(
        case=case, applicant=applicant, statement=statement, waived=waived
    )


def meeting_record(
    *,
    case: Case,
    signer: AbstractBaseUser,
    held_on,
    participants: Sequence[AbstractBaseUser],
    minutes,
    note: str = "",
):
    """A signing official records the collective decision meeting of the case's sign-off
    round (APL Art. 57 ¶2, ``cases.transitions.record_meeting``); the signers may sign
    once it is on record."""
    return transitions.record_meeting(
        case=case,
        signer=signer,
        held_on=held_on,
        participants=participants,
        minutes=minutes,
        note=note,
    )


# --- tasks ------------------------------------------------------------------------------


def _human_node(task: Task) -> RoleView:
    node = task.flow_task
    if not isinstance(node, RoleView):
        raise WrongState(_("This step is done by the system, not by a person."), code="not_a_task")
    return node


def _locked(task: Task):
    return task.flow_task.flow_class.lock(task.process_id)


def task_ensure_open(task: Task, *, to: str = "complete") -> None:
    """Raise WrongState ``task_closed`` (409) if ``task`` is done or cancelled.

    Checked before who is asking: whoever repeats an action on a closed task is told
    that it is closed, not whether they could have done it (``to`` is "complete" or
    "claim", for the message).
    """
    if task.status not in CLOSED_TASK_STATUSES:
        return
    done = task.status == STATUS.DONE
    if to == "claim":
        message = (
            _("Task %(task)s is done: it cannot be claimed.")
            if done
            else _("Task %(task)s was cancelled: it cannot be claimed.")
        )
    else:
        message = (
            _("Task %(task)s is done: it cannot be completed.")
            if done
            else _("Task %(task)s was cancelled: it cannot be completed.")
        )
    raise WrongState(message % {"task": task.pk}, code="task_closed")


def task_claim(*, task: Task, user: AbstractBaseUser) -> Task:
    """Take an unassigned task. Of two people claiming at once, exactly one gets it."""
    node = _human_node(task)
    try:
        # The lock opens the transaction: no savepoint of our own inside it.
        with _locked(task), transaction.atomic(savepoint=False):
            task.refresh_from_db()
            task_ensure_open(task, to="claim")
            if task.status != STATUS.NEW or task.owner_id is not None:
                if task.owner_id:
                    raise WrongState(
                        _("Task %(task)s was already claimed by %(person)s.")
                        % {"task": task.pk, "person": task.owner.get_username()},
                        code="already_claimed",
                    )
                raise WrongState(
                    _("Task %(task)s is closed: it cannot be claimed.") % {"task": task.pk},
                    code="wrong_state",
                )
            refusal = node.refusal(user, task)
            if refusal is not None:
                raise refusal
            node.activation_class(task).assign(user)
    except FlowLockFailed:
        raise WrongState(BUSY_MESSAGE, code="busy") from None
    return task


def task_release(*, task: Task, user: AbstractBaseUser) -> Task:
    """Give a task back to the queue: its owner, or a supervisor of the agency.

    The owner may always give their task back (an officer who finds a tie to the case's
    subject should); a supervisor with a tie to it may not take it from someone else.
    """
    _human_node(task)
    try:
        with _locked(task), transaction.atomic():
            task.refresh_from_db()
            if task.status != STATUS.ASSIGNED:
                raise WrongState(
                    _("Task %(task)s is not assigned.") % {"task": task.pk}, code="wrong_state"
                )
            case = case_of(task)
            if task.owner_id != user.pk:
                if not access.has_role(user, Role.SUPERVISOR, case.agency):
                    raise NotPermitted(_("Only its owner or a supervisor can release a task."))
                access.ensure_no_conflict(user, case.subject_id, action=_("release this task"))
            task.flow_task.activation_class(task).unassign()
    except FlowLockFailed:
        raise WrongState(BUSY_MESSAGE, code="busy") from None
    return task


def _case_lock_of(task: Task) -> Case:
    """The task's case under a row lock (inside the caller's transaction), with what the
    step's letter and notices print of it (its subject, its applicant)."""
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("rule_set__list_type", "agency", "subject", "applicant")
        .get(process_id=task.process_id)
    )


def task_complete(*, task: Task, user: AbstractBaseUser, data: dict | Callable[[], dict]) -> Case:
    """Do the step: run its case service with the person's decision, then move on.

    The caller must own the task (claim it first) and still be eligible for it.
    Two people completing at once: the first wins, the second is told the task
    is done. ``data`` may be a function that reads and validates the decision: it is
    called once the person is known to be allowed the step (so that someone refused is
    told why, not what is wrong with a form they may not send).
    """
    node = _human_node(task)
    try:
        # The lock opens the transaction: no savepoint of our own inside it.
        with _locked(task), transaction.atomic(savepoint=False):
            task.refresh_from_db()
            task_ensure_open(task)
            if task.status not in OPEN_TASK_STATUSES:
                raise WrongState(
                    _("Task %(task)s is closed: it cannot be completed.") % {"task": task.pk},
                    code="wrong_state",
                )
            # The case, locked once for the whole step: the checks, the case service, the
            # route's switches and timers and the event's subscribers share this instance
            # instead of each reading the row again (cases.held).
            with case_held(_case_lock_of(task)) as case:
                # Who may not do the step at all is told why (a tie to the subject, four
                # eyes), rather than to claim a task they could not claim either.
                refusal = node.refusal(user, task, case)
                if refusal is not None:
                    raise refusal
                if callable(data):
                    data = data()
                if task.status == STATUS.NEW or task.owner_id is None:
                    raise NotPermitted(_("Claim the task before completing it."), code="not_owner")
                if task.owner_id != user.pk:
                    raise NotPermitted(
                        _("Task %(task)s is assigned to %(person)s.")
                        % {"task": task.pk, "person": task.owner.get_username()},
                        code="not_owner",
                    )
                activation = node.activation_class(task)
                if task.status == STATUS.ASSIGNED:
                    activation.start(None)
                node.perform(activation, user, data)
                activation.execute()
    except FlowLockFailed:
        raise WrongState(BUSY_MESSAGE, code="busy") from None
    return case  # the instance the step held and changed: as it was committed


@dataclass
class BulkResult:
    """What a bulk action did, item by item: nothing fails silently."""

    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    events: dict[int, int] = field(default_factory=dict)  # task → the event that recorded it


def tasks_assign(
    *,
    tasks: Iterable[Task],
    supervisor: AbstractBaseUser,
    assignee: AbstractBaseUser,
    only_unassigned: bool = False,
    reason: str = "",
) -> BulkResult:
    """A supervisor assigns (or reassigns) tasks of their agency to an eligible officer.

    Each task is handled on its own: one that is finished, of another agency or not
    fit for the assignee is reported, not hidden. With ``only_unassigned`` (a bulk
    assignment from the queue) a task someone claimed meanwhile is reported as
    already claimed instead of being taken from them. Neither the supervisor nor the
    assignee may have a tie to the case's subject (APL Art. 43): such a task is
    skipped with the reason. ``reason`` (a balancing proposal's words) is kept on each
    assignment's event.
    """
    result = BulkResult()
    for task in tasks:
        try:
            node = _human_node(task)
            with _locked(task), transaction.atomic():
                task.refresh_from_db()
                case = case_of(task)
                if not access.has_role(supervisor, Role.SUPERVISOR, case.agency):
                    raise NotPermitted(
                        _("Not a task of your agency (%(case)s).") % {"case": case.reference}
                    )
                access.ensure_no_conflict(supervisor, case.subject_id, action=_("assign this task"))
                if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
                    raise WrongState(_("The task is closed."))
                if task.owner_id == assignee.pk:
                    raise WrongState(_("Already assigned to them."))
                if only_unassigned and task.owner_id is not None:
                    raise WrongState(
                        _("Task %(task)s was already claimed by %(person)s.")
                        % {"task": task.pk, "person": task.owner.get_username()},
                        code="already_claimed",
                    )
                refusal = node.refusal(assignee, task, case, by=supervisor)
                if refusal is not None:
                    raise refusal
                activation = node.activation_class(task)
                if task.status == STATUS.NEW:
                    activation.assign(assignee)
                else:
                    activation.reassign(assignee)
                event = transitions.note_assignment(
                    case=case, supervisor=supervisor, task=task, assignee=assignee, reason=reason
                )
            result.done.append(task.pk)
            result.events[task.pk] = event.pk
        except (WrongState, NotPermitted, InvalidInput) as exc:
            result.skipped[task.pk] = exc.message
        except FlowLockFailed:
            result.skipped[task.pk] = BUSY_MESSAGE
    return result


def task_assignment_undo(
    *, task: Task, supervisor: AbstractBaseUser, assignee: AbstractBaseUser, since_event: int
) -> Task:
    """A supervisor undoes their assignment of ``task`` to ``assignee`` (recorded by the
    event ``since_event``): the task waits to be assigned again.

    Refused (``WrongState``, with the reason) if anything was done on the task or its case
    since: the task started, done, given to someone else, or any later event of the case.
    """
    _human_node(task)
    try:
        with _locked(task), transaction.atomic():
            task.refresh_from_db()
            case = case_of(task)
            if not access.has_role(supervisor, Role.SUPERVISOR, case.agency):
                raise NotPermitted(
                    _("Not a task of your agency (%(case)s).") % {"case": case.reference}
                )
            if task.status != STATUS.ASSIGNED or task.owner_id != assignee.pk:
                raise WrongState(
                    _(
                        "%(case)s: the task was taken up, done or given to someone else since: "
                        "it is left as it is."
                    )
                    % {"case": case.reference},
                    code="changed_since",
                )
            # Messages about the assignment itself are not work on the case.
            later = case.events.filter(pk__gt=since_event).exclude(kind__startswith="notification_")
            if later.exists():
                raise WrongState(
                    _("%(case)s: something was done on the case since: the task is left as it is.")
                    % {"case": case.reference},
                    code="changed_since",
                )
            task.flow_task.activation_class(task).unassign()
            transitions.note_unassignment(
                case=case,
                supervisor=supervisor,
                task=task,
                assignee=assignee,
                reason=_("Assignment to %(person)s undone by the supervisor.")
                % {"person": assignee.get_username()},
            )
    except FlowLockFailed:
        raise WrongState(BUSY_MESSAGE, code="busy") from None
    return task


# --- the applicant's and the platforms' side ---------------------------------------------


def _resume_handle(case: Case, node_name: str) -> bool:
    """Run the waiting Handle node of the case's process, if it is waiting."""
    flow_class = FLOWS[case.kind]
    node = getattr(flow_class.instance, node_name)
    task = Task.objects.filter(
        process_id=case.process_id, flow_task=node, status=STATUS.NEW
    ).first()
    if task is None:
        return False
    node.run(task)
    return True


@contextmanager
def _process_locked(*cases: Case):
    """The process lock(s) first, then the transaction: the order task_complete uses.

    Taking viewflow's lock inside our own transaction, after the case row lock,
    would invert that order; on PostgreSQL a failed NOWAIT there aborts the whole
    transaction instead of retrying. A lock that cannot be had is "busy".
    """
    ordered = sorted({c.pk: c for c in cases if c.process_id}.values(), key=lambda c: c.process_id)
    try:
        with ExitStack() as stack:
            for case in ordered:
                stack.enter_context(FLOWS[case.kind].lock(case.process_id))
            with transaction.atomic():
                yield
    except FlowLockFailed:
        raise WrongState(BUSY_MESSAGE, code="busy") from None


def case_resubmit(*, case: Case, applicant: AbstractBaseUser, note: str = "") -> Case:
    """The applicant has supplied the missing materials: the case goes back to its step."""
    with _process_locked(case):
        case = transitions.resubmit(case=case, applicant=applicant, note=note)
        _resume_handle(case, "await_materials")
    return case


def case_withdraw(*, case: Case, applicant: AbstractBaseUser, reason: str = "") -> Case:
    """The applicant withdraws an undecided case; its open tasks are cancelled."""
    with _process_locked(case):
        case = transitions.withdraw(case=case, applicant=applicant, reason=reason)
        _process_cancel(case)
    return case


def case_revocation_propose(
    *, case: Case, official: AbstractBaseUser, ground: str, reasons: str, evidence: Sequence
) -> Revocation:
    """A signing official proposes to revoke an approved restoration on a ground the
    rules name, with the reasons and the evidence files that support it
    (``cases.transitions.revocation_propose``). Nothing changes on the records yet: a
    legal review and the signing officials decide (decision 0016)."""
    return transitions.revocation_propose(
        case=case, official=official, ground=ground, reasons=reasons, evidence=evidence
    )


def case_revocation_review(
    *, case: Case, reviewer: AbstractBaseUser, passed: bool, note: str = ""
) -> Revocation:
    """A legal reviewer passes a proposed revocation on to the signers, or ends it."""
    return transitions.revocation_legal_review(
        case=case, reviewer=reviewer, passed=passed, note=note
    )


def case_revocation_sign(
    *, case: Case, signer: AbstractBaseUser, agree: bool = True, note: str = ""
) -> Revocation:
    """A signing official signs (or declines) a revocation that passed its legal review.

    With the last signature the rules call for, the revocation takes effect: the records
    are published again, the revocation decision is published, and whatever the
    process still waits for (the platforms' acknowledgements, the appeal window) is
    cancelled."""
    with _process_locked(case):
        revocation = transitions.revocation_sign(case=case, signer=signer, agree=agree, note=note)
        if revocation.status == Revocation.Status.REVOKED:
            _process_cancel(Case.objects.get(pk=case.pk))
    return revocation


def case_plan_fail(*, case: Case, officer: AbstractBaseUser, reasons: str, ruling) -> Case:
    """A case officer records that the court terminated the plan of a granted temporary
    restoration, with the ruling (``cases.transitions.fail_plan``): the shielded records
    are published again, each platform asked, and whatever the process still waits for
    (the shielding's acknowledgements, the appeal window) is cancelled."""
    with _process_locked(case):
        case = transitions.fail_plan(case=case, officer=officer, reasons=reasons, ruling=ruling)
        _process_cancel(case)
    return case


def _process_cancel(case: Case) -> None:
    if case.process_id is None:
        return
    process = case.process
    if process.finished is None:
        FLOWS[case.kind].instance.cancel(process)


def publication_acknowledge(
    *, publication: Publication, note: str = "", status: str | None = None
) -> Publication:
    """A platform confirms it did what it was asked with a record (withdrew, shielded or
    published it again; ``status`` names which, if it says); the case moves on when all
    have."""
    waiting = list(
        Case.objects.filter(
            case_records__record_id=publication.record_id,
            status=Case.Status.REMOVAL,
            process__isnull=False,
        )
    )
    with _process_locked(*waiting):
        publication = transitions.acknowledge_publication(
            publication=publication, note=note, status=status
        )
        for case in Case.objects.filter(
            pk__in=[c.pk for c in waiting], status=Case.Status.APPEAL_WINDOW
        ):
            _resume_handle(case, "await_removal")
    return publication


def effect_acknowledge(*, effect: PublicationEffect, note: str = "") -> PublicationEffect:
    """A platform confirms one effect of a repair (publication ended, sharing stopped, a
    measure lifted); the case moves on when every effect on every platform is confirmed
    (decision 0024)."""
    waiting = list(
        Case.objects.filter(
            case_records__record__publications__effects=effect,
            status=Case.Status.REMOVAL,
            process__isnull=False,
        ).distinct()
    )
    with _process_locked(*waiting):
        effect = transitions.acknowledge_effect(effect=effect, note=note)
        for case in Case.objects.filter(
            pk__in=[c.pk for c in waiting], status=Case.Status.APPEAL_WINDOW
        ):
            _resume_handle(case, "await_removal")
    return effect


# --- the clock ------------------------------------------------------------------------------


def deadline_extend(
    *, case: Case, supervisor: AbstractBaseUser, step: str, days: int, reason: str
) -> Deadline:
    """A supervisor extends a deadline; the step's escalation timers move with it."""
    with transaction.atomic():
        deadline = transitions.extend_deadline(
            case=case, supervisor=supervisor, step=step, days=days, reason=reason
        )
        timers_rearm(case)
    return deadline


def calendar_changed(*, agency=None, reason: str = "", cause: dict | None = None) -> int:
    """Recompute open cases' deadlines after a calendar change and move their timers.

    Give ``cause`` (``cases.calendar.recompute_cause``) where the change is one the
    calendar knows, so readers see it in their language; ``reason`` is then its English.
    """
    if cause and not reason:
        with translation.override("en"):
            reason = recompute_cause_text(cause)
    with transaction.atomic():
        moved = clock.deadlines_recompute(agency=agency, reason=reason, cause=cause)
        # Each platform's effects keep their own clocks (decision 0024): they move too.
        effects_recompute(agency.pk if agency is not None else None)
        for case in Case.objects.filter(pk__in={d.case_id for d in moved}):
            timers_rearm(case)
    return len(moved)


def calendar_load(*, schedule: YearSchedule, actor: AbstractBaseUser | None) -> dict[str, int]:
    """Load a year's State Council holiday schedule and recompute what it moves.

    One transaction: the days become national overrides, the year is declared known
    (``cases.clock.schedule_store``), and every open deadline is recomputed with a
    ledger entry naming the schedule (``calendar_changed``). Returns the counts
    ``created``, ``updated``, ``kept`` (national overrides of the year the schedule does
    not list) and ``moved`` (deadlines recomputed).
    """
    with transaction.atomic():
        counts = clock.schedule_store(schedule, actor=actor)
        counts["moved"] = calendar_changed(
            cause=recompute_cause("schedule_loaded", year=schedule.year, source=schedule.source)
        )
    return counts


def timers_rearm(case: Case) -> int:
    """Point the case's deadline timers at the deadlines as they now stand; the number
    of timers moved or armed.

    Armed timers move; a deadline timer that already fired (an overdue deadline
    since extended) is armed again for its open task, so the new due date is
    watched too.
    """
    if case.process_id is None:
        return 0
    armed = list(
        Task.objects.filter(process_id=case.process_id, status=STATUS.SCHEDULED).prefetch_related(
            "previous"
        )
    )
    return _timers_move(case, armed) + _timers_arm_fired(case, armed)


def _timers_move(case: Case, armed: Sequence[Task]) -> int:
    """Reschedule each armed deadline timer to its moment on the case's clock as it now
    stands; the number moved."""
    moved = 0
    for task in armed:
        if not isinstance(task.flow_task, DeadlineTimer):
            continue
        at = task.flow_task.moment.at(case)
        if task.scheduled != at:
            task.scheduled = at
            task.save(update_fields=["scheduled"])
            moved += 1
    return moved


def _timers_arm_fired(case: Case, armed: Sequence[Task]) -> int:
    """Arm again, for each open task of the case, the deadline timers of its step that
    are not armed for it (they fired) and whose moment is still ahead; the number armed."""
    armed_for = {(t.flow_task, host.pk) for t in armed for host in t.previous.all()}
    now = timezone.now()
    rearmed = 0
    for host in Task.objects.filter(process_id=case.process_id, status__in=OPEN_TASK_STATUSES):
        for timer in deadline_timers(host.flow_task):
            if (timer, host.pk) not in armed_for and timer.moment.at(case) > now:
                timer.arm(host)
                rearmed += 1
    return rearmed


def open_tasks(case: Case) -> Sequence[Task]:
    if case.process_id is None:
        return []
    return list(
        Task.objects.filter(process_id=case.process_id, status__in=OPEN_TASK_STATUSES)
        .select_related("owner")
        .order_by("id")
    )


def letter_served(*, case: Case, letter) -> None:
    """A letter was stored. A decision's (or non-acceptance's) letter serves the
    decision: the letter-service deadline is met (or missed) and the route, waiting
    for it, moves on.

    Connected to ``documents.signals.letter_stored``; runs after the letter's commit.
    """

    if letter.kind not in DECISION_LETTER_KINDS:
        return
    with _process_locked(case):
        deadline = clock.deadline_running(case, Deadline.Step.LETTER)
        if deadline is not None:
            # The reason's words translate when shown (ClockEntry.reason_text); the code stays.
            # The code as printed on the letter and shown everywhere else (XXXXX-XXXXX).
            reason = gettext_noop("decision letter issued") + f": {letter.code_display}"
            clock.deadline_close(deadline, actor=None, reason=reason)
        _resume_handle(case, "await_letter")


def on_letter_stored(sender, *, letter, case, **kwargs) -> None:
    """``documents.signals.letter_stored``: serve the decision the letter carries."""
    try:
        letter_served(case=case, letter=letter)
    except WrongState:  # the process is busy: the timer sweep moves the route on
        logger.warning("Case %s busy when its letter was stored; the sweep resumes it", case.pk)


def letters_served_resume() -> int:
    """Move on every route still waiting for a decision letter that is already stored.

    ``letter_served`` runs after the letter's commit; if the process was busy then,
    or the worker died between storing and resuming, the route would wait for ever.
    The timer sweep calls this, so it moves on at the next sweep instead.
    """

    waiting = Task.objects.filter(
        flow_task__in=[flow.instance.await_letter for flow in FLOWS.values()],
        status=STATUS.NEW,
    ).values("process_id")
    # One query: the stored decision letters of the waiting cases, newest first per case.
    letters = (
        decision_letters_issued()
        .filter(case__process_id__in=waiting)
        .select_related("case")
        .order_by("case_id", "-stored_at", "-id")
    )
    resumed, seen = 0, set()
    for letter in letters:
        if letter.case_id in seen:
            continue
        seen.add(letter.case_id)
        case = letter.case
        try:
            letter_served(case=case, letter=letter)
        except WrongState:
            continue  # busy again: the next sweep tries once more
        resumed += 1
    return resumed


# --- service and appeals (decision 0023) -----------------------------------------------------


def _appeal_timer_move(case: Case) -> None:
    """Point the case's appeal-window timer at the window as it now stands (it runs from
    the service of the decision's letter)."""
    if case.process_id is None:
        return
    node = FLOWS[case.kind].instance.appeal_window
    Task.objects.filter(process_id=case.process_id, flow_task=node, status=STATUS.SCHEDULED).update(
        scheduled=appeal_window_end(case)
    )


def letter_serve(
    *,
    letter: Letter,
    officer: AbstractBaseUser,
    method: str,
    served_on,
    receipt_by: str = "",
    tracking_number: str = "",
    address: str = "",
    note: str = "",
) -> LetterService:
    """An officer records how a stored letter was served (by e-mail with consent, by
    post, in person), when and the receipt (``documents.services.letter_service_record``);
    the appeal window runs from the service of the decision's letter."""
    with _process_locked(letter.case):
        service = documents_services.letter_service_record(
            letter=letter,
            by=officer,
            method=method,
            served_on=served_on,
            receipt_by=receipt_by,
            tracking_number=tracking_number,
            address=address,
            note=note,
        )
        _appeal_timer_move(service.case)
    return service


def letter_open(*, letter: Letter, user: AbstractBaseUser) -> LetterService | None:
    """The applicant opens a stored letter in the portal: with their consent to electronic
    service in force that serves it (SAMR Order 107 Art. 19), an event on the case; the
    service, or None when opening served nothing."""
    if (
        not access.acts_for_case(user, letter.case)
        or LetterService.objects.filter(letter=letter).exists()
    ):
        return None  # an officer reading it, or served already: nothing to lock for
    try:
        with _process_locked(letter.case):
            service = documents_services.letter_opened(letter=letter, user=user)
            if service is not None:
                _appeal_timer_move(service.case)
    except WrongState:  # busy: the letter is still shown; the next opening serves it
        return None
    return service


def case_service_consent(*, case: Case, applicant: AbstractBaseUser) -> ServiceConsent:
    """The applicant consents to electronic service of this case's letters
    (``cases.transitions.service_consent_give``)."""
    return transitions.service_consent_give(case=case, applicant=applicant)


def appeal_record(
    *, case: Case, by: AbstractBaseUser, kind: str, body: str, filed_on, reference: str = ""
) -> Appeal:
    """The applicant or a case officer records an appeal against the case's decision
    (``cases.transitions.appeal_record``)."""
    return transitions.appeal_record(
        case=case, by=by, kind=kind, body=body, filed_on=filed_on, reference=reference
    )


def appeal_outcome_record(
    *,
    appeal: Appeal,
    by: AbstractBaseUser,
    outcome: str,
    decided_on,
    reference: str = "",
    note: str = "",
    records=None,
) -> Appeal:
    """Record the outcome of an appeal (``cases.transitions.appeal_outcome``). Revoked,
    changed or declared unlawful: every platform is asked to withdraw the published
    decision (or, after an approval, to publish the records again), within 3 working days
    on the clock (APL Art. 48). A change names the ``records`` it concerns."""
    return transitions.appeal_outcome(
        appeal=appeal,
        by=by,
        outcome=outcome,
        decided_on=decided_on,
        reference=reference,
        note=note,
        records=records,
    )


def effects_overdue_escalate(*, today=None) -> int:
    """Escalate each platform's effect of a repair whose own due date has passed
    (decision 0024): one event per case and platform, brought to the agency's
    supervisors. The timer sweep calls this; the number of effects escalated."""
    return transitions.effects_escalate(today=today or timezone.localdate())


def deadline_escalate(*, case, step: str, overdue: bool = True) -> bool:
    """Escalate the case's deadline of ``step`` as its route timer does (on the removal
    step, only what a platform has not confirmed: decision 0024). Whether it escalated."""
    return transitions.escalate_deadline(case=case, step=step, overdue=overdue)


def appeal_withdrawals_escalate(*, today=None) -> int:
    """Escalate each withdrawal after an appeal's outcome (APL Art. 48) that is overdue:
    the case's process has ended, so no route timer watches it; the timer sweep calls
    this. The number escalated."""
    today = today or timezone.localdate()
    overdue = Deadline.objects.filter(
        step=Deadline.Step.APPEAL,
        status=Deadline.Status.RUNNING,
        escalated_at__isnull=True,
        due_on__lt=today,
    ).select_related("case")
    escalated = 0
    for deadline in overdue:
        if deadline_escalate(case=deadline.case, step=Deadline.Step.APPEAL, overdue=True):
            escalated += 1
    return escalated
