"""Background work of the case domain, run by the Celery worker.

``cases.audit_checkpoints`` is scheduled by Celery beat every
``REDRESS_AUDIT_CHECKPOINT_MINUTES`` (see ``CELERY_BEAT_SCHEDULE``).
"""

import json
import logging

from celery import shared_task

from cases.anchoring import checkpoints_take

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
