from django.apps import AppConfig


class CasesConfig(AppConfig):
    verbose_name = "Cases"
    name = "cases"
