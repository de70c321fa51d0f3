"""The production stack the throughput benchmarks start on this machine (bench/throughput.py,
bench/floor.py): its environment, gunicorn with deploy/gunicorn.conf.py, one Celery worker,
and the small helpers both read their figures with. Not a test: it measures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def production_env(name: str, database: str, redis_db: int, var: Path) -> dict[str, str]:
    """The environment of a fresh production-settings installation on ``database`` and
    Redis db ``redis_db``, its files under ``var``; the caller's own DJANGO_/REDRESS_/
    DATABASE_/CELERY_ settings left out."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "REDRESS_", "DATABASE_", "CELERY_"))
        },
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": f"{name}-bench-" + "s3cr3t" * 10,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "REDRESS_VAR_DIR": str(var),
        "REDRESS_AUDIT_KEY_FILE": str(var / "audit-signing-key.pem"),
        "REDRESS_SPECIMEN_SEAL": "true",
        "REMAP_SIGTERM": "SIGQUIT",
    }


def gunicorn(port: int, workers: int, var: Path, app: str, log, *extra: str) -> subprocess.Popen:
    """gunicorn as deploy/ runs it, serving ``app`` on 127.0.0.1:``port``."""
    return subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "deploy/gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-tmp-dir",
            str(var),
            "--access-logfile",
            "/dev/null",
            *extra,
            app,
        ],
        cwd=ROOT,
        env={**os.environ},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def celery_worker(log) -> subprocess.Popen:
    """One Celery worker, one process (``-c 1``)."""
    return subprocess.Popen(  # noqa: S603
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "-c",
            "1",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
