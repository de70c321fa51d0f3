"""Running Redress the way the README's production steps do, from the tests."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The process environment of a production install (README, "Running on PostgreSQL
    with Celery and Redis"), without any setting of the test run itself; its audit
    signing key is made once under ``var_dir``, as ``manage.py audit_key --generate`` would."""
    from cases.signing import key_generate

    key = var_dir / "audit-signing-key.pem"
    if not key.exists():
        key_generate(key)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "REDRESS_", "DATABASE_", "CELERY_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "production-settings-under-test-" + "k3y" * 20,
            "DJANGO_ALLOWED_HOSTS": "redress.example.gov.cn",
            "REDRESS_VAR_DIR": str(var_dir),
            "REDRESS_AUDIT_KEY_FILE": str(key),
            "PYTHONDONTWRITEBYTECODE": "1",
            **extra,
        }
    )
    return env
