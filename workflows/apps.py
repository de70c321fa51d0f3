import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        from documents.signals import letter_stored

        letter_stored.connect(_on_letter_stored, dispatch_uid="workflows.letter_served")


def _on_letter_stored(sender, *, letter, case, **kwargs) -> None:
    from cases.errors import WrongState
    from workflows.services import letter_served

    try:
        letter_served(case=case, letter=letter)
    except WrongState:  # the process is busy: the timer sweep moves the route on
        logger.warning("Case %s busy when its letter was stored; the sweep resumes it", case.pk)
