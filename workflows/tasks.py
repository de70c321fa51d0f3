"""Background work of the route, run by the Celery worker (embedded or production).

``workflows.fire_timers`` is scheduled by Celery beat (see ``CELERY_BEAT_SCHEDULE``):
viewflow's timers fire only when something runs its dispatcher, and the free
edition ships no Celery task for it.
"""

import logging

from celery import shared_task
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS
from viewflow.workflow.timers import fire_due_timers

from workflows.actions import (
    appeal_withdrawals_escalate,
    effects_overdue_escalate,
    letters_served_resume,
)
from workflows.digest import digests_send, materials_reminders_send
from workflows.forecast import forecast_digests_send
from workflows.metrics import metrics_refresh as metrics_refresh_agencies
from workflows.metrics import refresh_run

logger = logging.getLogger(__name__)


@shared_task(name="workflows.fire_timers", ignore_result=True)
def fire_timers() -> int:
    """Fire every due deadline, escalation, lapse and appeal-window timer, and move on
    any route still waiting for a letter that is already stored.

    viewflow's dispatcher records a failing step as a task in ERROR and carries on;
    those are logged loudly here so that a broken escalation is not silent.
    """
    fired = fire_due_timers()
    if fired:
        logger.info("Fired %d workflow timers", fired)
    resumed = letters_served_resume()
    if resumed:
        logger.warning("Moved on %d routes whose decision letter was stored earlier", resumed)
    escalated = appeal_withdrawals_escalate()
    if escalated:
        logger.warning("Escalated %d overdue withdrawals after an appeal's outcome", escalated)
    overdue = effects_overdue_escalate()
    if overdue:
        logger.warning("Escalated %d platforms' effects of a repair past their due date", overdue)
    failed = Task.objects.filter(status=STATUS.ERROR).count()
    if failed:
        logger.error("%d workflow tasks are in ERROR and need an administrator", failed)
    return fired


@shared_task(name="workflows.daily_digest", ignore_result=True)
def daily_digest() -> int:
    """Each officer's morning digest of their open steps and deadlines, and each
    supervisor's forecast of the deadlines likely to be missed."""
    sent = digests_send()
    return sent + forecast_digests_send()


@shared_task(name="workflows.materials_reminders", ignore_result=True)
def materials_reminders() -> int:
    """Remind applicants whose missing-materials deadline is near."""
    return materials_reminders_send()


@shared_task(name="workflows.metrics_refresh", ignore_result=True)
def metrics_refresh() -> int:
    """Recompute the supervisors' figures of every agency (the dashboard's "as of"); none
    while another refresh still runs (its beat came before the last one ended)."""
    with refresh_run() as mine:
        if not mine:
            logger.info("metrics refresh skipped: the previous one is still running")
            return 0
        return metrics_refresh_agencies()
