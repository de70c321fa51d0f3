"""The Django admin of every app's models (``admin.autodiscover`` imports this package).

Changes to a case never happen here: the admin shows cases, events and letters for
reading and offers only the actions the route or a subscriber provides.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from backoffice.admin import cases, clock, letters, notifications, thirdparty, workload  # noqa: F401

# The admin is Redress's, in the reader's language ("Django 管理" told an officer nothing).
admin.site.site_header = _("Redress administration")
admin.site.site_title = _("Redress administration")
