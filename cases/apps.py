from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    """The domain: subjects, records, cases, their rules, clock, events and access."""

    verbose_name = _("Cases")
    name = "cases"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save, pre_save

        from cases import checks  # noqa: F401  (registers the system checks)
        from cases.accounts import (
            on_password_hash_saved,
            on_password_hash_saving,
            on_signed_out,
        )

        User = get_user_model()
        pre_save.connect(on_password_hash_saving, sender=User, dispatch_uid="cases.password_1")
        post_save.connect(on_password_hash_saved, sender=User, dispatch_uid="cases.password_2")
        user_logged_out.connect(on_signed_out, dispatch_uid="cases.signed_out")
