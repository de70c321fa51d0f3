from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProjectConfig(AppConfig):
    """The project's own wiring, above every layer: checks and signals that concern the
    whole site (sessions, static files) rather than one app."""

    default = True  # this module holds AxesConfig too: Django picks only a marked default
    name = "config"
    label = "project"
    verbose_name = "Redress"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core import checks

        from config.middleware import session_started
        from config.staticfiles import static_manifest_check

        # check --deploy: the production static files were collected.
        checks.register(static_manifest_check, checks.Tags.staticfiles, deploy=True)
        # Every sign-in (login page, admin, a new account's first sign-in) starts the
        # session's absolute lifetime (config.middleware.SessionLifetimeMiddleware).
        user_logged_in.connect(session_started, dispatch_uid="config.session_started")


class AxesConfig(AxesAppConfig):
    """django-axes (the login lockout) under a Chinese name in the admin: its own AppConfig
    has no verbose name, so the admin headed its section "Axes" in every language. Its
    models' and fields' names are gettext'd in axes itself and translated in our catalogue,
    which has no zh-Hans of its own (issue 15)."""

    default = False  # named in INSTALLED_APPS instead of "axes"
    verbose_name = _("Login protection")
