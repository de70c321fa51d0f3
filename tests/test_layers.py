"""The layers stay visible in the imports (docs/decisions/0014-layers.md).

import-linter (``lint-imports``, run by ``scripts/test``) holds the contracts between
apps: an import only points down, and only the route imports the case transitions. What
it cannot see is checked here: a project import hidden inside a function, which is how a
cycle between layers gets dodged instead of mended; and the tests, the benchmarks and
the demo, which sit outside the apps, going round the route to the case transitions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine_independent

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "config",
    "cases",
    "documents",
    "notifications",
    "workflows",
    "portal",
    "workspace",
    "api",
    "backoffice",
)

# An import inside a function that is right where it is, with the reason. AppConfig.ready
# (signals and checks are connected once the app registry is ready) and Celery tasks are
# allowed by rule and need no entry here.
ALLOWED: dict[tuple[str, str], str] = {}


def _is_celery_task(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in {"shared_task", "task"}:
            return True
    return False


def imports_inside_functions(source: str, module: str) -> list[str]:
    """Each project import inside a function of ``source``, as 'module:line function -> name'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.name == "ready" and module.endswith(".apps"):
            continue
        if _is_celery_task(node) or (module, node.name) in ALLOWED:
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names = [inner.module]
            elif isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in PACKAGES:
                    found.append(f"{module}:{inner.lineno} {node.name} -> {name}")
    return found


def project_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield module.removesuffix(".__init__"), path


def test_no_project_module_is_imported_inside_a_function():
    hidden = [
        line
        for module, path in project_modules()
        for line in imports_inside_functions(path.read_text(encoding="utf-8"), module)
    ]
    assert hidden == [], (
        "Import these at the top of the module, or mend the cycle that made them hide "
        "(an exception goes in ALLOWED with its reason):\n" + "\n".join(hidden)
    )


def test_the_check_finds_an_import_hidden_in_a_function():
    source = (
        "def letter_served(case):\n"
        "    from documents.selectors import decision_letters_issued\n"
        "    return decision_letters_issued()\n"
    )
    assert imports_inside_functions(source, "workflows.actions") == [
        "workflows.actions:2 letter_served -> documents.selectors"
    ]


def test_app_ready_and_celery_tasks_may_import_inside():
    source = (
        "class Config(AppConfig):\n"
        "    def ready(self):\n"
        "        from cases.signals import case_event_recorded\n"
        "@shared_task(name='x')\n"
        "def job():\n"
        "    from workflows.digest import digests_send\n"
        "def helper():\n"
        "    import json\n"
    )
    assert imports_inside_functions(source, "workflows.apps") == []


def test_a_web_process_knows_the_tasks_the_services_queue_by_name():
    """The services queue their Celery tasks by name (the tasks modules import them); a
    process that only runs Django, not a worker, must still know those names, or every
    commit that queues a letter or a message fails after the fact."""
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "names = ['documents.render_letter', 'documents.export_decisions', "
        "'notifications.deliver']\n"
        "print(sorted(n for n in names if n not in current_app.tasks))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# --- the tests, the benchmarks and the demo go the way people go --------------------------------

TRANSITIONS = "cases.transitions"

# Outside the apps, what changes a case goes through the route (``workflows.actions``), as
# the portal, the officers' pages and the API do: a story that called a transition
# directly would test a path nobody takes, and pass where the route refuses. A module that
# must reach a transition goes here with the reason; none does.
#
# Some stories stay below the route on purpose without needing a transition: the event
# chain's tampering stories (tests/test_events.py, tests/test_attack_audit.py,
# tests/test_admin.py) append events with ``cases.events.case_lock`` and ``event_record``
# (domain functions) to build a chain of a known shape; stories of the legal calendar
# (tests/test_clock.py, test_timers.py, test_api.py, test_portal.py) start a deadline on a
# chosen past or future day with ``cases.clock.deadline_start``, to read its computation
# across a holiday; letters are rendered in-process with ``documents.services``, as the
# worker does; the benchmarks seed rows in bulk (bench/queue_page.py: 100,000 cases at
# rest) or copy letter rows (bench/letters.py) to measure reads at a scale the route would
# take hours to reach.
MAY_IMPORT_TRANSITIONS: dict[str, str] = {}


def transitions_imports(source: str, name: str) -> list[str]:
    """Each line of ``source`` that reaches ``cases.transitions``, as 'name:line'."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.Attribute) and node.attr == "transitions":
            # ``import cases`` then ``cases.transitions.submit(...)``
            modules = ["cases.transitions"] if getattr(node.value, "id", "") == "cases" else []
        elif isinstance(node, ast.Constant) and node.value == TRANSITIONS:
            modules = [TRANSITIONS]  # importlib.import_module("cases.transitions"), patching
        else:
            continue
        if any(m == TRANSITIONS or m.startswith(TRANSITIONS + ".") for m in modules):
            found.add(node.lineno)
    return [f"{name}:{line}" for line in sorted(found)]


def outside_the_apps():
    """The tests, the benchmarks and the demo, by path from the project's root."""
    paths = [
        *sorted((ROOT / "tests").rglob("*.py")),
        *sorted((ROOT / "bench").rglob("*.py")),
        ROOT / "backoffice" / "management" / "commands" / "demo.py",
    ]
    for path in paths:
        yield str(path.relative_to(ROOT)), path


def test_no_test_benchmark_or_demo_reaches_the_case_transitions():
    here = str(Path(__file__).relative_to(ROOT))
    reached = [
        line
        for name, path in outside_the_apps()
        if name != here and name not in MAY_IMPORT_TRANSITIONS
        for line in transitions_imports(path.read_text(encoding="utf-8"), name)
    ]
    assert reached == [], (
        "Change the case through workflows.actions (tests/flow_helpers.py has the steps), "
        "as people do; a module that must reach a transition goes in MAY_IMPORT_TRANSITIONS "
        "with its reason:\n" + "\n".join(reached)
    )


def test_the_check_finds_every_way_to_the_transitions():
    source = (
        "from cases.transitions import submit\n"
        "from cases import access, transitions\n"
        "import cases.transitions as moves\n"
        "import cases\n"
        "def sign(case):\n"
        "    from cases.transitions import sign\n"
        "    return cases.transitions.sign(case=case)\n"
        "module = importlib.import_module('cases.transitions')\n"
        "from cases.events import case_lock\n"
        "from workflows import actions\n"
    )
    assert transitions_imports(source, "tests/test_x.py") == [
        "tests/test_x.py:1",
        "tests/test_x.py:2",
        "tests/test_x.py:3",
        "tests/test_x.py:6",
        "tests/test_x.py:7",
        "tests/test_x.py:8",
    ]
