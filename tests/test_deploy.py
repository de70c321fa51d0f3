"""deploy/ stays true to the code it deploys.

- The environment file example names every variable the settings read, and nothing the
  settings do not read (an operator who sets a misspelt variable changes nothing).
- The systemd units start modules and files that exist, from the same environment file;
  exactly one beat.
- The gunicorn configuration holds only settings gunicorn knows.
- nginx lets through the largest upload the settings accept, and forwards to where gunicorn
  listens.
"""

from __future__ import annotations

import ast
import importlib
import re
import runpy
import shlex
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.engine_independent

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list"}
# Read by Django and Celery themselves rather than by our settings.
READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE"}


def variables_read_by_settings() -> set[str]:
    """Every NAME in env_str("NAME", ...) (and the other readers) under config/."""
    names: set[str] = set()
    for path in (ROOT / "config").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ENV_READERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value)
    return names


def variables_in_example() -> set[str]:
    text = (DEPLOY / "redress.env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def unit(name: str) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def test_the_settings_read_at_least_the_variables_we_know_of():
    read = variables_read_by_settings()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY"} <= read
    assert {"DATABASE_CONN_MAX_AGE", "DATABASE_DISABLE_SERVER_SIDE_CURSORS"} <= read


def test_the_environment_example_names_every_variable_the_settings_read():
    missing = variables_read_by_settings() - variables_in_example()
    assert not missing, f"read by config/ but not in deploy/redress.env.example: {missing}"


def test_the_environment_example_names_nothing_the_settings_do_not_read():
    unread = variables_in_example() - variables_read_by_settings() - READ_ELSEWHERE
    assert not unread, f"in deploy/redress.env.example but read by nothing: {unread}"


def test_the_environment_example_runs_on_the_production_settings():
    text = (DEPLOY / "redress.env.example").read_text()
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in text.splitlines()


@pytest.mark.parametrize(
    "name", ["redress-web.service", "redress-worker.service", "redress-beat.service"]
)
def test_each_unit_reads_the_environment_file_and_starts_our_virtualenvs_program(name):
    entries = unit(name)
    assert entries["EnvironmentFile"] == ["/etc/redress/redress.env"]
    command = shlex.split(entries["ExecStart"][0])
    assert command[0].startswith(entries["WorkingDirectory"][0] + "/.venv/bin/")
    assert (ROOT / ".venv/bin" / Path(command[0]).name).exists(), command[0]


def test_the_web_unit_serves_the_wsgi_application_with_the_gunicorn_file():
    command = shlex.split(unit("redress-web.service")["ExecStart"][0])
    config = Path(command[command.index("-c") + 1])
    assert (DEPLOY / config.name).exists() and config.parent.name == "deploy"
    module, attribute = command[-1].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize(
    ("name", "role"), [("redress-worker.service", "worker"), ("redress-beat.service", "beat")]
)
def test_the_celery_units_start_our_celery_application(name, role):
    command = shlex.split(unit(name)["ExecStart"][0])
    assert command[1:4] == ["-A", "config", role]
    from config.celery import app  # what "-A config" finds

    app.loader.import_default_modules()
    assert app.main == "redress"
    assert {"notifications.deliver", "documents.render_letter"} <= set(app.tasks)


def test_the_worker_unit_stops_softly_and_systemd_waits_longer_than_the_grace():
    entries = unit("redress-worker.service")
    assert "REMAP_SIGTERM=SIGQUIT" in entries["Environment"]
    grace = settings.CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT
    assert grace < 10  # issue 16: a worker stops within 10 seconds
    assert int(entries["TimeoutStopSec"][0]) > grace


def test_beat_runs_on_one_machine_and_the_units_say_so():
    assert "ONE machine" in (DEPLOY / "systemd" / "redress-beat.service").read_text()
    for name in ("redress-web.service", "redress-worker.service"):
        assert " beat" not in unit(name)["ExecStart"][0]


def test_the_gunicorn_file_holds_only_settings_gunicorn_knows():
    from gunicorn.config import Config

    known = set(Config().settings)
    values = {
        key: value
        for key, value in runpy.run_path(str(DEPLOY / "gunicorn.conf.py")).items()
        if not key.startswith("_") and not callable(value) and not hasattr(value, "__file__")
    }
    assert set(values) <= known, set(values) - known
    assert values["workers"] >= 2 and values["timeout"] > values["graceful_timeout"]


def test_nginx_forwards_to_gunicorn_and_lets_the_largest_upload_through():
    conf = (DEPLOY / "nginx" / "redress.conf").read_text()
    bind = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["bind"]
    assert f"server {bind};" in conf
    megabytes = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1))
    assert megabytes * 1024 * 1024 > settings.REDRESS_UPLOAD_MAX_BYTES
