"""Settings for the test suite: the base settings with files in a throw-away folder."""

import os
import tempfile

# Before base reads it: every file a test run writes lands outside the checkout.
os.environ.setdefault("REDRESS_VAR_DIR", tempfile.mkdtemp(prefix="redress-test-"))

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
CELERY_TASK_ALWAYS_EAGER = False
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
