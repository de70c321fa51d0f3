"""The admin lists of the third-party apps, with Chinese column headers (issue 15).

django-axes' and viewflow's admin classes head some columns with a method's or an
attribute's bare name ("Status", "Pk", "Participants", "Brief"), which no catalogue can
translate. The same classes are registered again here with described columns; everything
else (read-only fields, filters, axes' clean-up action) is theirs.
"""

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.admin import ProcessAdmin as ViewflowProcessAdmin
from viewflow.workflow.admin import TaskAdmin as ViewflowTaskAdmin
from viewflow.workflow.models import Process, Task


def _numbered(list_display) -> list[str]:
    return ["number" if name == "pk" else name for name in list_display]


class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    @admin.display(description=_("Status"))
    def status(self, obj: AccessAttempt):
        return super().status(obj)

    @admin.display(description=_("Expires At"))
    def expiration(self, obj: AccessAttempt):
        return super().expiration(obj)


class ProcessAdmin(ViewflowProcessAdmin):
    list_display = _numbered(ViewflowProcessAdmin.list_display)
    list_display_links = _numbered(ViewflowProcessAdmin.list_display_links)

    @admin.display(description=_("number"), ordering="pk")
    def number(self, obj: Process) -> int:
        return obj.pk

    @admin.display(description=_("Participants"))
    def participants(self, obj: Process) -> str:
        return super().participants(obj)

    @admin.display(description=_("Brief"))
    def brief(self, obj: Process) -> str:
        return obj.brief


class TaskAdmin(ViewflowTaskAdmin):
    list_display = _numbered(ViewflowTaskAdmin.list_display)
    list_display_links = _numbered(ViewflowTaskAdmin.list_display_links)

    @admin.display(description=_("number"), ordering="pk")
    def number(self, obj: Task) -> int:
        return obj.pk


for model, model_admin in (
    (AccessAttempt, AccessAttemptAdmin),
    (Process, ProcessAdmin),
    (Task, TaskAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
