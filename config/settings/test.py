"""Settings for the test suite: the base settings with files in a throw-away folder."""

import importlib
import os
import tempfile

# Every file a test run writes lands outside the checkout. Importing this module
# imports the package (and so ``base``) first, with the default var/: ``base`` is read
# again with the test folder so that every path derived from it follows.
os.environ.setdefault("REDRESS_VAR_DIR", tempfile.mkdtemp(prefix="redress-test-"))

from . import base

importlib.reload(base)

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
CELERY_TASK_ALWAYS_EAGER = False
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing

# The audit signing key of this run (a fresh throw-away folder, so a fresh key).
if not REDRESS_AUDIT_KEY_FILE.exists():  # noqa: F405
    from cases.signing import key_generate

    key_generate(REDRESS_AUDIT_KEY_FILE)  # noqa: F405
