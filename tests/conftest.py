"""Shared fixtures.

The suite runs on SQLite by default. With ``DATABASE_URL`` naming PostgreSQL it runs
there; tests marked ``postgres`` need that server and are deselected on SQLite by
the test script (under ``CI=true`` the script refuses to run without PostgreSQL).
"""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection

from cases.models import Agency, DecisionMeeting, Evidence, Role
from documents.models import Export, Letter
from documents.tasks import export_decisions, render_letter
from tests import db_template, factories
from tests.production import ROOT, production_env

# Modules whose tests take minutes (separate processes, collectstatic, a browser over every
# page): they run first, so that under ``-n 2`` neither worker is left with one of them at the
# end while the other idles. Each module's tests stay together (module-scoped fixtures).
SLOW_FIRST = (
    "test_two_machines.py",
    "test_production_path.py",
    "test_browser_accessibility.py",
    "test_outbox_faults.py",
    "test_worker_shutdown.py",
    "test_demo.py",
    "test_queries.py",
)

# Modules that run on SQLite as well as on PostgreSQL (marker ``embedded``; scripts/test runs
# every other test that can reach the database on PostgreSQL only, the production engine).
# SQLite is the embedded default a new user's demo runs on: these cover the demo's data, both
# flows end to end, the portal and the API, and the code paths SQLite takes on its own (a
# UNION whose branches cannot be cut: cases.selectors.cases_for_page, the API's task list;
# test_keyset, test_api). A new branch on ``connection.vendor`` or ``connection.features``
# needs its module here.
EMBEDDED = (
    "test_demo.py",
    "test_flows.py",
    "test_portal.py",
    "test_api.py",
    "test_keyset.py",
    "test_platform_receiver.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: n for n, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.django_db(transaction=True))
        if item.path.name.startswith("test_browser_"):
            # A real browser sees pages, not the database: scripts/test runs these once, on
            # SQLite, and leaves them out of the PostgreSQL pass (unless also marked postgres).
            item.add_marker(pytest.mark.browser)
        if item.path.name in EMBEDDED:
            item.add_marker(pytest.mark.embedded)


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
    tmp_path_factory,
):
    """pytest-django's test databases, migrated once per run rather than once per
    pytest-xdist worker: the first worker migrates its own and leaves a copy that the
    others clone (tests/db_template.py). Without xdist, or with --reuse-db or
    --nomigrations, exactly pytest-django's own set-up."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    verbosity = request.config.option.verbose
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, shared by the workers
    templated = (
        workers > 1 and django_db_use_migrations and not django_db_keepdb and aliases == {"default"}
    )
    with django_db_blocker.unblock():
        if templated:
            db_cfg = db_template.setup_from_template(
                shared, verbosity=verbosity, serialized_aliases=serialized_aliases
            )
        else:
            if not django_db_use_migrations:
                _disable_migrations()
            db_cfg = setup_databases(
                verbosity=verbosity,
                interactive=False,
                aliases=aliases,
                serialized_aliases=serialized_aliases,
                **({"keepdb": True} if django_db_keepdb and not django_db_createdb else {}),
            )
    yield
    if django_db_keepdb:
        return
    with django_db_blocker.unblock():
        if templated:
            db_template.drop_template(shared)
        teardown_databases(db_cfg, verbosity=verbosity)


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete_on_postgresql():
    """A test that commits (``transactional_db``, ``live_server``) is followed by Django's
    ``flush``: on PostgreSQL one ``TRUNCATE`` of all 81 tables, which makes new files for
    every table and index and took 0.9-1.5 s plus 0.4-0.7 s to commit on an empty test
    database here, against 0.07-0.2 s for a ``DELETE FROM`` of each (psql, load 5). Same
    result: every table empty, sequences untouched (no ``RESTART IDENTITY`` either way).

    The foreign keys are all deferrable (Django makes them so), so the order of the
    deletes does not matter; tables with a trigger of their own (the append-only case and
    record events and checkpoints, whose trigger refuses DELETE) are still truncated, first,
    and no foreign key points at them. A flush that asks for more (sequences reset,
    CASCADE) is Django's own."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"
            )
            triggered = {name.strip('"') for (name,) in cursor.fetchall()}
        kept = [t for t in tables if t in triggered]
        return [
            *truncate(self, style, kept),
            "SET CONSTRAINTS ALL DEFERRED;",
            *(f"DELETE FROM {self.quote_name(t)};" for t in tables if t not in triggered),
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


# The rows the first seeding of an empty database made (per process: each xdist worker has
# its own), by model, as ``values()`` gives them.
_REFERENCE_ROWS: list[tuple[type, list[dict]]] = []


def _seed_reference_data() -> None:
    """What the data migrations put in a new database: the list types with their remedies
    (migration 0028: the court's list goes to the higher court), the national rule sets and
    the catalogue of measures (migration 0030).

    Into empty tables (after a flush), from the second time on, the rows the first seeding
    of empty tables made are put back as they were, a bulk insert per model: the seeds'
    three queries a rule version took 0.46-0.67 s a time on PostgreSQL. (None of the three
    models has a ``save`` of its own, a signal or many-to-many rows the seeds fill.)"""
    from cases.models import ListType, Measure, Remedy, RuleSet
    from cases.seeds import seed_measures, seed_national_defaults

    models = (ListType, RuleSet, Measure)
    empty = not any(model.objects.exists() for model in models)
    if empty and _REFERENCE_ROWS:
        for model, rows in _REFERENCE_ROWS:
            model.objects.bulk_create(model(**row) for row in rows)
        return
    seed_national_defaults(ListType, RuleSet)
    ListType.objects.filter(code="dishonest_debtor").update(remedy=Remedy.HIGHER_COURT)
    seed_measures(ListType, Measure)
    if empty:
        _REFERENCE_ROWS[:] = [
            (model, list(model.objects.order_by("pk").values())) for model in models
        ]


def _flushes(request) -> bool:
    """Whether the test commits for real and so flushes the database afterwards."""
    marker = request.node.get_closest_marker("django_db")
    return bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
        or (marker is not None and marker.kwargs.get("transaction"))
    )


_FLUSHED_MODULES: set[str] = set()


@pytest.fixture(autouse=True)
def _reference_data_in_transactional_tests(request):
    """The list types and national rule sets a data migration made are there in a test
    that commits, even when an earlier such test flushed them away."""
    if _flushes(request):
        request.getfixturevalue("transactional_db")
        _seed_reference_data()
        _FLUSHED_MODULES.add(request.module.__name__)


@pytest.fixture(scope="module", autouse=True)
def _reference_data_back_after_the_module(request, django_db_blocker):
    """After a module whose tests flushed the database, put that reference data back
    (outside any test's transaction), so the tests that run next in this worker find
    what a fresh database has."""
    yield
    if request.module.__name__ in _FLUSHED_MODULES:
        with django_db_blocker.unblock():
            _seed_reference_data()


@pytest.fixture(autouse=True)
def _english_messages(settings):
    """Tests assert English messages; the default interface language is zh-hans."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _checkpoint_store(settings, tmp_path_factory):
    """Each test has its own write-once checkpoint store: checkpoint #1 of SZAMR in one
    test is not the checkpoint #1 of SZAMR in the next."""
    location = tmp_path_factory.mktemp("checkpoints")
    settings.STORAGES = {
        **settings.STORAGES,
        "checkpoints": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location},
        },
    }
    return location


@pytest.fixture
def private_files(tmp_path, monkeypatch):
    """Letters, seals, evidence and exports are stored inside the test, not in ./var, and
    the letter and export tasks are not sent to a broker: a story renders in-process
    (``letter_render_now``) what the worker would. Returns the tasks queued meanwhile."""
    for model, field in (
        (Letter, "pdf"),
        (Export, "file"),
        (Evidence, "file"),
        (Agency, "seal"),
        (DecisionMeeting, "minutes"),
    ):
        location = tmp_path / f"{model._meta.model_name}-files"
        monkeypatch.setattr(model._meta.get_field(field), "storage", FileSystemStorage(location))
    queued = []
    for task in (render_letter, export_decisions):
        monkeypatch.setattr(task, "apply_async", lambda *a, task=task, **k: queued.append(task))
    return queued


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI always does)")


@pytest.fixture
def agency(db):
    return factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局", region_code="440300")


@pytest.fixture
def other_agency(db):
    return factories.AgencyFactory(code="GZAMR", name="广州市市场监督管理局", region_code="440100")


@pytest.fixture
def platforms(db):
    return [
        factories.PlatformFactory(code="creditchina", name="信用中国"),
        factories.PlatformFactory(code="gsxt", name="国家企业信用信息公示系统"),
    ]


@pytest.fixture
def company(db):
    return factories.SubjectFactory(name="深圳市示例科技有限公司")


@pytest.fixture
def applicant(company):
    return factories.representative(company, "acme")


@pytest.fixture
def staff(agency):
    """One officer per role at the agency, by role name."""
    return {role: factories.officer(role, agency) for role in Role.values if role != Role.AUDITOR}


@pytest.fixture
def without_notifications():
    """Cases whose events queue no messages: for stories about the event chain itself."""
    from cases.signals import case_event_recorded
    from notifications.services import on_case_event

    case_event_recorded.disconnect(dispatch_uid="notifications.on_case_event")
    yield
    case_event_recorded.connect(on_case_event, dispatch_uid="notifications.on_case_event")


@pytest.fixture(scope="session")
def production_static(tmp_path_factory) -> Path:
    """``manage.py collectstatic --no-input`` run once under the production settings, as
    the README's production steps do: its STATIC_ROOT (hashed files and the manifest).

    It takes a while (hashing and compressing every static file), so the tests that
    need a real production STATIC_ROOT share this one; point ``DJANGO_STATIC_ROOT`` at it.
    """
    # Under pytest-xdist each worker has its own session: the first one collects into the
    # run's shared temporary directory, and the other waits for it and reuses the result.
    # scripts/test names a folder its SQLite and PostgreSQL passes share
    # (REDRESS_TEST_RUN_DIR): the static files do not depend on the database, so the
    # second pass reuses what the first collected from the same checkout.
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    if os.environ.get("REDRESS_TEST_RUN_DIR"):
        shared = Path(os.environ["REDRESS_TEST_RUN_DIR"])
    var_dir = shared / "production-var"
    static_root = var_dir / "static"
    with (shared / "production-var.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (static_root / "staticfiles.json").is_file():
            var_dir.mkdir(exist_ok=True)
            _collectstatic(var_dir)
    return static_root


def _collectstatic(var_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=ROOT,
        env=production_env(var_dir),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"collectstatic --no-input under production settings exited {result.returncode}:\n"
            + (result.stdout + result.stderr)[-4000:]
        )
