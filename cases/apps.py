from django.apps import AppConfig


class CasesConfig(AppConfig):
    verbose_name = "Cases"
    name = "cases"

    def ready(self) -> None:
        from django.core import checks

        from cases.checks import audit_key_available

        checks.register(audit_key_available, "cases")
