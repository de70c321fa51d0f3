from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        from documents.signals import letter_stored

        letter_stored.connect(_on_letter_stored, dispatch_uid="workflows.letter_served")


def _on_letter_stored(sender, *, letter, case, **kwargs) -> None:
    from workflows.services import letter_served

    letter_served(case=case, letter=letter)
