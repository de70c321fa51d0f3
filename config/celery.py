"""The Celery application.

Production runs ``celery -A config worker`` and ``celery -A config beat`` against
Redis; the embedded default runs the same two on kombu's filesystem transport.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("redress")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
