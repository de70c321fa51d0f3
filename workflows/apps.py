from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    """The route: both flows on viewflow and the one public action per state change."""

    name = "workflows"
    verbose_name = _("Case workflow")

    def ready(self) -> None:
        from documents.signals import letter_stored
        from workflows.actions import on_letter_stored

        letter_stored.connect(on_letter_stored, dispatch_uid="workflows.letter_served")
