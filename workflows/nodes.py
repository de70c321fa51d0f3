"""Our node types: human steps held by a role at the case's agency.

viewflow's ``View`` checks a Django permission; Redress roles are held per
agency, nobody takes a step of a case whose subject they have a tie to (APL Art. 43,
``cases.policy``), and some steps bar people who did an earlier step of the same case
(four-eyes). These rules meet here, in ``can_assign``/``can_execute``, so the
engine enforces them for every interface (officers' pages, the API, bulk
assignment).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow import this
from viewflow.utils import is_owner
from viewflow.workflow import flow

from cases import policy
from cases.errors import NotPermitted
from cases.models import Case, Role


def case_of(task_or_activation) -> Case:
    """The case a task or activation belongs to."""
    process_id = getattr(task_or_activation, "process_id", None)
    if process_id is None:
        process_id = task_or_activation.process.pk
    return Case.objects.select_related("agency", "rule_set").get(process_id=process_id)


class RoleView(flow.View):
    """A step a person with ``role`` at the case's agency does.

    ``perform`` names the flow method that carries the step out (it calls the
    case services with the person's decision); ``barred`` names a flow method
    ``(user, case) -> reason | None`` for four-eyes rules.
    """

    def __init__(self, view, *, role: str, perform, barred=None, **kwargs):
        super().__init__(view, **kwargs)
        self.role = role
        self._perform = perform
        self._barred = barred
        self.Permission(role)

    def _resolve(self, instance):
        super()._resolve(instance)
        self._perform = this.resolve(instance, self._perform)
        if self._barred is not None:
            self._barred = this.resolve(instance, self._barred)

    def refusal(self, user, task, case: Case | None = None, *, by=None) -> NotPermitted | None:
        """Why ``user`` may not take or do ``task``, as the error to raise; None if they may.

        In order: the step's role at the case's agency, then a tie to the case's subject
        (APL Art. 43, ``policy.conflict_of_interest``), then the four-eyes rules. ``by``
        is someone else asking for ``user`` (a supervisor assigning them): a conflict is
        then told without its kind.
        """
        if user is None or not user.is_authenticated:
            return NotPermitted(_("Sign in first."), code="not_eligible")
        case = case or case_of(task)
        if not policy.has_role(user, self.role, case.agency):
            # The article goes in the message, not in the role: only English needs one.
            role = str(Role(self.role).label).lower()
            if role[:1] in tuple("aeiou"):
                message = _("This step needs an %(role)s of %(agency)s.")
            else:
                message = _("This step needs a %(role)s of %(agency)s.")
            return NotPermitted(
                message % {"role": role, "agency": case.agency.code}, code="not_eligible"
            )
        conflict = policy.conflict_refusal(
            user, case.subject_id, action=_("take or do this step"), acting=by
        )
        if conflict is not None:
            return conflict
        if self._barred is not None:
            reason = self._barred(user, case)
            if reason:
                return NotPermitted(reason, code="not_eligible")
        return None

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
    ``workflows.services.timers_rearm`` when the clock changes.
    """

    def __init__(self, step: str, when: str):
        self.step = step
        self.when = when

    def __call__(self, activation) -> datetime.datetime:
        return self.at(case_of(activation))

    def at(self, case: Case) -> datetime.datetime:
        from workflows.clock import calendar_for, deadline_running

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


def status_is(*statuses: str) -> Callable:
    """A Switch condition: the case is in one of ``statuses``."""

    def condition(activation) -> bool:
        return case_of(activation).status in statuses

    condition.__name__ = "status_is_" + "_or_".join(statuses)
    return condition


STEP_LABELS = {
    "acceptance_check": gettext_lazy("Acceptance check"),
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
