"""The Django admin of every app's models (``admin.autodiscover`` imports this package).

Changes to a case never happen here: the admin shows cases, events and letters for
reading and offers only the actions the route or a subscriber provides.
"""

from backoffice.admin import cases, clock, letters, notifications  # noqa: F401
