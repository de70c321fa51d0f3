from django.apps import AppConfig


class CasesConfig(AppConfig):
    verbose_name = "Cases"
    name = "cases"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.core import checks as django_checks
        from django.db.models.signals import post_save, pre_save

        from cases import checks  # noqa: F401  (registers the system checks)
        from cases.portal_services import (
            on_password_hash_saved,
            on_password_hash_saving,
            on_signed_out,
        )
        from config.middleware import session_started
        from config.staticfiles import static_manifest_check

        User = get_user_model()
        pre_save.connect(on_password_hash_saving, sender=User, dispatch_uid="cases.password_1")
        post_save.connect(on_password_hash_saved, sender=User, dispatch_uid="cases.password_2")
        user_logged_out.connect(on_signed_out, dispatch_uid="cases.signed_out")

        # check --deploy: the production static files were collected.
        django_checks.register(static_manifest_check, django_checks.Tags.staticfiles, deploy=True)
        # Every sign-in (login page, admin, a new account's first sign-in) starts the
        # session's absolute lifetime (config.middleware.SessionLifetimeMiddleware).
        user_logged_in.connect(session_started, dispatch_uid="config.session_started")
