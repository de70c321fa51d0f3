"""Strings Django's admin shows that its own zh_Hans catalogue (Django 5.2) leaves in English.

The admin's navigation sidebar has a visually hidden table header that screen readers read
out ("Model name", "Add link", "Change or view list link"); Django added it in 5.1 and its
Chinese catalogue has no translation yet. Marked here so that makemessages keeps them in our
catalogue, which LOCALE_PATHS puts ahead of Django's own (issue 15, item 7).
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN_UNTRANSLATED = [
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
]
