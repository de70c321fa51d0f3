from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The REST API (interface) and the endpoints platforms call back."""

    name = "api"
    verbose_name = _("REST API")
