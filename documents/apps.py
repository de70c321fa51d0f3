from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    """Letters (rendered, stored, verifiable) and the auditor's export."""

    name = "documents"
    verbose_name = _("Letters and exports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from documents import tasks  # noqa: F401  (registers the Celery tasks its services queue by name)
        from documents.checks import (
            agencies_have_seals,
            cjk_fonts_available,
            letter_font_available,
            pdf_subsetter_available,
        )

        checks.register(cjk_fonts_available, "documents")
        checks.register(pdf_subsetter_available, "documents")
        checks.register(letter_font_available, "documents")
        # With --deploy only: it reads the database, and must not stop ``migrate``.
        checks.register(agencies_have_seals, "documents", deploy=True)

        from cases.signals import case_event_recorded
        from documents.requests import on_case_event

        case_event_recorded.connect(on_case_event, dispatch_uid="documents.on_case_event")
