from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from cases.signals import (
            account_event_recorded,
            case_event_recorded,
            record_event_recorded,
        )
        from notifications import tasks  # noqa: F401  (registers the Celery tasks its services queue by name)
        from notifications.account_mail import on_account_event
        from notifications.services import on_case_event, on_record_event

        case_event_recorded.connect(on_case_event, dispatch_uid="notifications.on_case_event")
        account_event_recorded.connect(
            on_account_event, dispatch_uid="notifications.on_account_event"
        )
        record_event_recorded.connect(on_record_event, dispatch_uid="notifications.on_record_event")
