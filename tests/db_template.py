"""One migrated test database per run, copied to every pytest-xdist worker.

``manage.py migrate`` on a new database costs about 35 s of CPU (rendering the migration
states, not the SQL), and pytest-django has every xdist worker migrate its own test
database. Here the first worker that needs a database migrates it as usual and leaves a
copy of it in the run's shared temporary folder: a file for SQLite (the workers' test
databases stay in memory), a database ``CREATE DATABASE ... TEMPLATE`` clones on
PostgreSQL. The other workers start from that copy. The copy is made afresh in every run
(its marker lives in that run's temporary folder), so a new migration is always applied.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.test.utils import setup_databases

ALIAS = "default"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _marker(shared: Path) -> Path:
    return shared / f"test-db-template-{connections[ALIAS].vendor}"


def setup_from_template(shared: Path, *, verbosity: int, serialized_aliases: set[str]) -> list:
    """Set up the worker's test database (from the run's template, made first if need
    be); return the configuration ``django.test.utils.teardown_databases`` takes."""
    marker = _marker(shared)
    with _locked(shared / "test-db-template.lock"):
        if marker.exists():
            return _clone(marker.read_text(), verbosity, serialized_aliases)
        old_config = setup_databases(
            verbosity=verbosity,
            interactive=False,
            aliases={ALIAS},
            serialized_aliases=serialized_aliases,
        )
        marker.write_text(_snapshot(shared))
        return old_config


def drop_template(shared: Path) -> None:
    """Remove the run's template (a worker, at its end). A worker that has not cloned
    it yet then makes a new one."""
    marker = _marker(shared)
    with _locked(shared / "test-db-template.lock"):
        if not marker.exists():
            return
        template = marker.read_text()
        marker.unlink()
        connection = connections[ALIAS]
        if connection.vendor == "postgresql":
            with connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(template)}")
        else:
            Path(template).unlink(missing_ok=True)


def _snapshot(shared: Path) -> str:
    """Copy this worker's freshly migrated test database; return where the copy is."""
    connection = connections[ALIAS]
    if connection.vendor == "postgresql":
        source = connection.settings_dict["NAME"]
        # One name per run whichever worker makes it (test_redress_template, not
        # test_redress_gw1_template): a template left by an interrupted run is replaced.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        template = f"{source.removesuffix(f'_{worker}') if worker else source}_template"
        connection.close()  # CREATE DATABASE ... TEMPLATE needs nobody connected to the source
        quote = connection.ops.quote_name
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(template)}")
            cursor.execute(f"CREATE DATABASE {quote(template)} TEMPLATE {quote(source)}")
        return template
    if connection.vendor == "sqlite":
        path = shared / "test-db-template.sqlite3"
        path.unlink(missing_ok=True)
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        return str(path)
    raise NotImplementedError(f"no test database template for {connection.vendor}")


def _clone(template: str, verbosity: int, serialized_aliases: set[str]) -> list:
    """What ``create_test_db`` does, with a copy of the template instead of ``migrate``."""
    connection = connections[ALIAS]
    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    test_name = creation._get_test_db_name()
    if verbosity >= 1:
        creation.log(f"Cloning test database for alias {ALIAS!r} from {template}...")
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        with creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(test_name)}")
            cursor.execute(f"CREATE DATABASE {quote(test_name)} TEMPLATE {quote(template)}")
    connection.close()
    settings.DATABASES[ALIAS]["NAME"] = test_name
    connection.settings_dict["NAME"] = test_name
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        # The test database is in memory (kept open by Django for the whole run).
        source = sqlite3.connect(f"file:{template}?mode=ro", uri=True)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    if ALIAS in serialized_aliases:
        connection._test_serialized_contents = creation.serialize_db_to_string()
    return [(connection, old_name, True)]
