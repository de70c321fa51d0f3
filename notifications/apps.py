from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from cases.signals import case_event_recorded
        from notifications.services import on_case_event

        case_event_recorded.connect(on_case_event, dispatch_uid="notifications.on_case_event")
