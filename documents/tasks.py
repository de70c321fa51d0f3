"""Celery tasks: render one letter, sweep the pending ones, write an export.

Schedules (Celery beat, see the report's wiring): ``documents.render_pending``
every minute.
"""

import logging

from celery import shared_task

from documents import services
from documents.models import Export, Letter

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="documents.render_letter",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(services.LetterRenderError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def render_letter(self, letter_id: int) -> str:
    """Render and store one letter; retried with exponential backoff, then marked failed."""
    letter = Letter.objects.filter(pk=letter_id).first()
    if letter is None:
        logger.warning("Letter %s does not exist (any more): nothing to render", letter_id)
        return "missing"
    final = self.request.retries >= self.max_retries
    try:
        letter = services.letter_render_now(letter, final_attempt=final)
    except services.LetterRenderError as exc:
        if exc.final:
            return Letter.Status.FAILED  # supervisors see it; nothing more to retry
        raise
    return letter.status


@shared_task(name="documents.render_pending", ignore_result=True)
def render_pending() -> int:
    """Render letters left pending (broker down, worker lost) and queue waiting exports."""
    issued = services.letters_render_pending()
    services.exports_start_pending()
    return issued


@shared_task(name="documents.export_decisions", ignore_result=True, acks_late=True)
def export_decisions(export_id: int) -> str:
    """Write an auditor's export ZIP (see ``documents.exports``)."""
    export = Export.objects.filter(pk=export_id).first()
    if export is None:
        return "missing"
    return services.export_run(export).status
