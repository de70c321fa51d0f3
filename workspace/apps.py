from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspaceConfig(AppConfig):
    """The officers' workspace (interface): queues, the case page and its steps,
    supervisors' pages, the auditors' exports."""

    name = "workspace"
    verbose_name = _("Officers' workspace")
