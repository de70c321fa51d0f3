from django.apps import AppConfig


class CasesConfig(AppConfig):
    verbose_name = "Cases"
    name = "cases"

    def ready(self) -> None:
        from django.core import checks

        from config.staticfiles import static_manifest_check

        # check --deploy: the production static files were collected.
        checks.register(static_manifest_check, checks.Tags.staticfiles, deploy=True)
