from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The entity portal (interface): companies and persons file and follow their cases;
    anyone checks a letter at ``/verify/<code>/``."""

    name = "portal"
    verbose_name = _("Entity portal")
