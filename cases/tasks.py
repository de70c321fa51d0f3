"""Background work of the case domain, run by the Celery worker.

``cases.audit_checkpoints`` is scheduled by Celery beat every
``REDRESS_AUDIT_CHECKPOINT_MINUTES``, and ``cases.end_publications`` once a day at
``REDRESS_END_PUBLICATIONS_HOUR`` (see ``CELERY_BEAT_SCHEDULE``).
"""

import json
import logging

from celery import shared_task
from django.utils import timezone

from cases.anchoring import checkpoints_take
from cases.expiry import publications_end

logger = logging.getLogger(__name__)


@shared_task(name="cases.audit_checkpoints", ignore_result=True)
def audit_checkpoints() -> int:
    """Sign a checkpoint of every agency whose cases changed; copy it outside the database."""
    run = checkpoints_take()
    for checkpoint in run.taken:
        body = json.loads(checkpoint.body)
        problems = len(body["problems"]) + len(body["reference_problems"])
        if problems:
            logger.error(
                "Checkpoint #%s of %s records %s problems with the audit trail: run "
                "'manage.py verify_events'",
                checkpoint.seq,
                checkpoint.agency.code,
                problems,
            )
    if run.unpublished:
        logger.error("Checkpoints not yet in the write-once store: %s", ", ".join(run.unpublished))
    return len(run.taken)


@shared_task(name="cases.end_publications", ignore_result=True)
def end_publications() -> int:
    """End every publication whose maximum period is over (《信用修复管理办法》第十二条):
    see ``cases.expiry``. Also ``manage.py end_publications``."""
    run = publications_end(on=timezone.localdate())
    if run.ended:
        logger.info(
            "Publication ended by itself for %d records; %d platforms asked to withdraw them",
            len(run.ended),
            run.platforms_told,
        )
    if run.unruled:
        logger.error(
            "%d records are past their maximum period but no rule version covers them: "
            "add one, then run 'manage.py end_publications' (first: %s)",
            len(run.unruled),
            run.unruled[0],
        )
    return len(run.ended)
