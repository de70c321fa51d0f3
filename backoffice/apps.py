from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The administrators' interface: the Django admin of every app's models and the
    management commands."""

    name = "backoffice"
    verbose_name = _("Administration")
