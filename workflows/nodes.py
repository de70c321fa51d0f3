"""Our node types: human steps held by a role at the case's agency.

viewflow's ``View`` checks a Django permission; Redress roles are held per
agency, nobody takes a step of a case whose subject they have a tie to (APL Art. 43),
and some steps bar people who did an earlier step of the same case (four-eyes). The
rules live in ``cases.access`` (``step_refusal``); the nodes ask it in
``can_assign``/``can_execute``, so the engine enforces them for every interface
(officers' pages, the API, bulk assignment).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext_lazy
from viewflow import this
from viewflow.utils import is_owner
from viewflow.workflow import flow
from viewflow.workflow.base import Node
from viewflow.workflow.flow.nodes import TimerBoundary
from viewflow.workflow.status import STATUS

from cases import access
from cases.clock import calendar_for, deadline_running
from cases.errors import NotPermitted
from cases.held import held_by_process
from cases.ids import id_parse
from cases.models import Case


def case_of(task_or_activation) -> Case:
    """The case a task or activation belongs to."""
    process_id = getattr(task_or_activation, "process_id", None)
    if process_id is None:
        process_id = task_or_activation.process.pk
    held = held_by_process(process_id)  # the case the step's completion holds locked
    if held is not None:
        return held
    return Case.objects.select_related("agency", "rule_set").get(process_id=process_id)


def task_page(request, process_pk, task_pk, **kwargs):
    """The view of every human step: viewflow links a task to it, and officers do the
    step on the case page of the workspace (named, not imported: the interfaces sit
    above the route)."""
    process_pk = id_parse(process_pk)  # the URL's digits may exceed the database's integer
    case = Case.objects.filter(process_id=process_pk).only("pk").first() if process_pk else None
    if case is None:
        return redirect("/")
    return redirect("workspace:case", pk=case.pk)


class RoleView(flow.View):
    """A step a person holding its role at the case's agency does.

    The role each step needs is read from ``access.STEP_ROLES`` by the step's name, and
    who may take, be given or do the step is asked of ``access.step_refusal`` (role, a tie
    to the subject, four eyes): the one answer the pages, the API and the assign lists
    share. ``perform`` names the flow method that carries the step out (it calls the case
    services with the person's decision).
    """

    def __init__(self, view, *, perform, **kwargs):
        super().__init__(view, **kwargs)
        self.role = ""
        self._perform = perform

    def _resolve(self, instance):
        super()._resolve(instance)
        # The flow has named the node by now: its name says which role the step needs.
        self.role = access.STEP_ROLES[self.name]
        self.Permission(self.role)
        self._perform = this.resolve(instance, self._perform)

    def refusal(self, user, task, case: Case | None = None, *, by=None) -> NotPermitted | None:
        """Why ``user`` may not take or do ``task``, as the error to raise; None if they may.

        See ``access.step_refusal``. ``by`` is someone else asking for ``user`` (a
        supervisor assigning them): a conflict is then told without its kind.
        """
        return access.step_refusal(user, case or case_of(task), self.name, by=by)

    def ineligibility(self, user, task, case: Case | None = None) -> str | None:
        """Why ``user`` may not take or do ``task``, as a sentence; None if they may."""
        refusal = self.refusal(user, task, case)
        return refusal.message if refusal is not None else None

    def can_assign(self, user, task):
        return task.owner_id is None and self.refusal(user, task) is None

    def can_execute(self, user, task):
        return is_owner(task.owner, user) and self.refusal(user, task) is None

    def perform(self, activation, user, data: dict) -> None:
        self._perform(activation, user, data)


class DeadlineMoment:
    """A timer delay taken from the case's legal clock.

    ``when="near"``: the morning of the last working day before the due date;
    ``when="overdue"``: the first moment after the due date. Re-armed by
    ``workflows.actions.timers_rearm`` when the clock changes.
    """

    def __init__(self, step: str, when: str):
        self.step = step
        self.when = when

    def __call__(self, activation) -> datetime.datetime:
        return self.at(case_of(activation))

    def at(self, case: Case) -> datetime.datetime:

        deadline = deadline_running(case, self.step)
        tz = timezone.get_current_timezone()
        if deadline is None:  # nothing to watch: park the timer far away
            return timezone.now() + datetime.timedelta(days=3650)
        if self.when == "overdue":
            day_after = deadline.due_on + datetime.timedelta(days=1)
            return datetime.datetime.combine(day_after, datetime.time.min, tzinfo=tz)
        calendar = calendar_for(case.agency)
        day = deadline.due_on - datetime.timedelta(days=1)
        while day > deadline.started_on and not calendar.is_working_day(day):
            day -= datetime.timedelta(days=1)
        return datetime.datetime.combine(day, datetime.time(9, 0), tzinfo=tz)

    def __repr__(self) -> str:
        return f"DeadlineMoment({self.step!r}, {self.when!r})"


class DeadlineTimer(TimerBoundary):
    """A timer on the border of a step, due at a ``DeadlineMoment`` of the case's clock.

    Declared in the flow beside the step it watches (``host``, a ``this`` reference),
    instead of chained onto the step with viewflow's ``.OnTimeout``: the node keeps its
    ``moment`` where the route can read it (viewflow keeps a timer's delay in a private
    attribute), to move the timer when the clock changes (``timers_rearm``) and to know
    which deadline to escalate when it fires. ``interrupting=False`` leaves the step's
    task open when the timer fires.
    """

    def __init__(self, host, moment: DeadlineMoment, *, interrupting: bool = True):
        super().__init__(host, delay=moment, interrupting=interrupting)
        self.moment = moment
        self.host_name = host.name

    def _on_host_finished(self, **signal_kwargs):
        """Cancel this timer's open tasks when the step it watches is done: viewflow's own
        (``BoundaryEvent._on_host_finished``), with each timer task's process read in the
        same query instead of one query a task (issue 16: two of an acceptance's reads)."""
        host_task = signal_kwargs["task"]
        if host_task.flow_task != self._attached_to:
            return
        armed = (
            self.flow_class.task_class._default_manager.filter(
                flow_task=self, process=host_task.process, previous=host_task
            )
            .exclude(status__in=[STATUS.DONE, STATUS.CANCELED, STATUS.REVIVED, STATUS.ERROR])
            .select_related("process")
        )
        for task in armed:
            activation = self.activation_class(task)
            if activation.cancel.can_proceed():
                activation.cancel()

    def arm(self, host_task) -> None:
        """Arm this timer again for ``host_task``, an open task of the step it watches:
        due at the moment as the clock now stands.

        viewflow arms a step's timers once, when the step's task is created; an overdue
        deadline extended afterwards is watched again through here. The timer's task is
        made as viewflow makes any task (``Activation.create``) and scheduled by its
        activation (``activate``), both public.
        """
        host = host_task.flow_task.activation_class(host_task)
        self.activation_class.create(self, host, host_task.token).activate()


def deadline_timers(node: Node) -> list[DeadlineTimer]:
    """The deadline timers on the border of ``node``, a step of a flow."""
    return [
        timer
        for timer in node.flow_class.instance.nodes()
        if isinstance(timer, DeadlineTimer) and timer.host_name == node.name
    ]


def route_node_copy(node: Node) -> Node:
    """A copy of ``node``, a step of a route that several flows are built from, for one
    flow alone.

    viewflow (2.4) copies each step into a flow class shallowly, so flows built from
    one route (``CaseRoute``) would share a step's list of the timers on its border, and
    a step's task would arm the timers of every flow. The copy gets a list of its own.
    viewflow offers no public way to do this: this is the one place Redress touches its
    private ``_boundary_events``. It fails here, at import, if viewflow stops keeping
    them there; ``tests/test_viewflow_seams.py`` checks that each task arms its own
    flow's timers, once.
    """
    own = copy.copy(node)
    if not isinstance(getattr(own, "_boundary_events", None), list):
        raise ImproperlyConfigured(
            "viewflow no longer keeps a step's boundary events in _boundary_events "
            f"({type(node).__name__}): see workflows.nodes.route_node_copy."
        )
    own._boundary_events = []
    return own


def status_is(*statuses: str) -> Callable:
    """A Switch condition: the case is in one of ``statuses``."""

    def condition(activation) -> bool:
        return case_of(activation).status in statuses

    condition.__name__ = "status_is_" + "_or_".join(statuses)
    return condition


STEP_LABELS = {
    "acceptance_check": gettext_lazy("Acceptance check"),
    "refusal_approval": gettext_lazy("Approval of a non-acceptance"),
    "await_materials": gettext_lazy("Waiting for missing materials"),
    "evidence_review": gettext_lazy("Evidence review"),
    "legal_review": gettext_lazy("Legal review"),
    "sign_off": gettext_lazy("Sign-off"),
    "await_letter": gettext_lazy("Decision letter"),
    "await_removal": gettext_lazy("Withdrawal from every platform"),
    "appeal_window": gettext_lazy("Appeal window"),
}


def step_label(task) -> str:
    """The step of ``task`` as people call it, in the active language."""
    name = task.flow_task.name
    return str(STEP_LABELS.get(name, task.flow_task.task_title or name))
