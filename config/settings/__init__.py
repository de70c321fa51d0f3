"""Settings entry point: everything is read from the environment (see README, "Configuration").

``config.settings`` is what development, the demo and the test suite use;
``config.settings.production`` adds the hardening that ``check --deploy`` asks for.
"""

from .base import *  # noqa: F403
