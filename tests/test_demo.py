"""The demo command: what a new user gets after ``scripts/demo``."""

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import RequestFactory, override_settings
from django.utils import timezone, translation

from cases.eligibility import restoration_eligibility
from cases.models import (
    Agency,
    Case,
    Membership,
    Publication,
    PublicationEffect,
    Record,
    Role,
    Subject,
)
from cases.rules import rule_set_in_force
from tests import flow_helpers
from workflows.actions import open_tasks


@pytest.fixture(scope="module")
def _demo_loaded(django_db_setup, django_db_blocker):
    """The demo loaded once for the module (3 s a load, once per test before), inside a
    transaction rolled back at the module's end; each test runs in a savepoint of its own
    inside it (pytest-django's ``db``), so what one test does is undone before the next.
    Returns what the command printed."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = io.StringIO()
            # As the tests' own fixtures have it (conftest: English, DEBUG on for the demo).
            with override_settings(DEBUG=True, LANGUAGE_CODE="en"), translation.override("en"):
                call_command("demo", "--subjects", "20", stdout=out)
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(_demo_loaded, db, settings):
    settings.DEBUG = True
    return _demo_loaded


def test_the_demo_refuses_to_run_with_debug_off(db, settings):
    settings.DEBUG = False
    # (Counted, not "none": the module's demo may already be loaded around this test.)
    before = (Case.objects.count(), get_user_model().objects.count())

    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("demo")

    assert (Case.objects.count(), get_user_model().objects.count()) == before


def test_the_demo_prints_every_login_and_each_works_with_password_demo(demo):
    for username in [
        "acme",
        "globex",
        "intake",
        "reviewer",
        "legal",
        "signer",
        "signer2",
        "supervisor",
        "auditor",
        "admin",
    ]:
        assert username in demo
        request = RequestFactory().post("/accounts/login/")
        assert authenticate(request, username=username, password="demo") is not None


def test_the_demo_officers_hold_their_roles_at_szamr(demo):
    szamr = Agency.objects.get(code="SZAMR")
    assert szamr.name == "深圳市市场监督管理局"
    assert szamr.region_code == "440300"
    held = set(Membership.objects.filter(agency=szamr).values_list("user__username", "role"))
    assert {
        ("intake", Role.INTAKE),
        ("reviewer", Role.CASE_OFFICER),
        ("legal", Role.LEGAL_REVIEWER),
        ("signer", Role.SIGNER),
        ("supervisor", Role.SUPERVISOR),
        ("auditor", Role.AUDITOR),
    } <= held


def test_the_demo_has_cases_in_several_states_each_with_a_live_process(demo):
    statuses = set(Case.objects.values_list("status", flat=True))

    assert {
        Case.Status.SUBMITTED,
        Case.Status.UNDER_REVIEW,
        Case.Status.AWAITING_MATERIALS,
        Case.Status.REMOVAL,
        Case.Status.WITHDRAWN,
        Case.Status.NOT_ACCEPTED,
    } <= statuses
    waiting = Case.objects.get(status=Case.Status.SUBMITTED)
    assert [t.flow_task.name for t in open_tasks(waiting)] == ["acceptance_check"]


def test_the_supervisors_figures_are_ready_when_the_demo_starts(demo, client):
    """The worker sums the figures every 15 minutes; the demo sums them once as it loads."""
    client.force_login(get_user_model().objects.get(username="supervisor"))
    page = client.get("/workflow/agency/metrics/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "not computed yet" not in page
    assert re.search(r"As of \d{4}-\d{2}-\d{2} \d{2}:\d{2}", page)


def test_running_the_demo_twice_is_refused_unless_asked_to_skip(demo, capsys):
    with pytest.raises(CommandError, match="already loaded"):
        call_command("demo")
    call_command("demo", "--if-empty")

    assert "already loaded" in capsys.readouterr().out


def test_the_demo_records_are_as_the_rules_would_list_them(demo):
    """A newcomer reads the demo's records as real ones: the market regulator's lists are
    kept by market regulators, a list's tier follows from it (the serious list is serious,
    the abnormal list minor: Order 36 Arts. 8 and 10), and a record past its maximum
    period is shown as expired and withdrawn, not as published (Order 36 Art. 12)."""
    today = timezone.localdate()
    records = Record.objects.select_related("agency", "list_type", "subject")

    for record in records.filter(list_type__code__in=["serious_dishonesty", "abnormal_operations"]):
        assert record.agency.sector == "market_regulation", record.decision_no
    assert {r.severity for r in records.filter(list_type__code="serious_dishonesty")} == {"serious"}
    assert {r.severity for r in records.filter(list_type__code="abnormal_operations")} == {"minor"}

    past = records.filter(expires_on__lt=today)
    assert past.exists()
    assert set(past.values_list("status", flat=True)) == {Record.Status.EXPIRED}
    assert not Publication.objects.filter(record__in=past).exclude(
        status=Publication.Status.WITHDRAWN
    )
    # A natural person's record is on Credit China only where its rules say so (Order 36
    # Art. 12 says not; the version the record falls under decides).
    for publication in Publication.objects.filter(
        record__subject__kind=Subject.Kind.NATURAL,
        platform__kind__in=["credit_china", "credit_china_local"],
    ).select_related("record__list_type", "record__agency"):
        record = publication.record
        rules = rule_set_in_force(
            list_type=record.list_type, severity=record.severity, on=today, agency=record.agency
        )
        assert rules.natural_persons_published, record.decision_no


def test_a_newcomer_can_file_a_restoration_of_a_fresh_record_and_see_all_three_effects(demo):
    """The demo leaves acme a record of SZAMR (whose officers the demo has) that no case
    holds and that a restoration can be asked for today; it is on the serious list, so
    deciding it asks the platforms for every effect of a repair: publication ended,
    sharing stopped, measures lifted (Order 36 Art. 3). Before, acme's only free
    restorable record was Guangzhou's, an agency without officers in the demo."""
    today = timezone.localdate()
    acme = Subject.objects.get(representations__user__username="acme")
    free = [
        record
        for record in Record.objects.filter(
            subject=acme, agency__code="SZAMR", status=Record.Status.ACTIVE
        )
        if not record.case_records.filter(case__status__in=Case.OPEN_STATUSES).exists()
        and restoration_eligibility(record, on=today).qualifies
    ]
    assert [r.list_type.code for r in free] == ["serious_dishonesty"]
    record = free[0]
    assert record.measures.exists()

    users = {u.username: u for u in get_user_model().objects.all()}
    case = flow_helpers.file_restoration(acme, [record], users["acme"])
    case = flow_helpers.accept(case, users["intake"])
    case = flow_helpers.review(case, users["reviewer"])
    if case.status == Case.Status.LEGAL_REVIEW:
        case = flow_helpers.legal_review(case, users["legal"])
    case = flow_helpers.sign(case, users["signer"], reasons="Corrected: see the evidence.")
    if case.status == Case.Status.SIGN_OFF:
        case = flow_helpers.sign(case, users["signer2"], reasons="Corrected: see the evidence.")

    assert case.decision == Case.Decision.APPROVED
    asked = set(
        PublicationEffect.objects.filter(deadline__case=case).values_list(
            "publication__platform__code", "kind"
        )
    )
    assert {kind for _, kind in asked} == set(PublicationEffect.Kind.values)
    assert ("gsxt", PublicationEffect.Kind.MEASURE_LIFTED) in asked


# --- scripts/serve: the demo's processes, and stopping them -----------------------------------

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_pids(sid: int) -> dict[int, str]:
    """The processes still running in session ``sid``, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found[int(stat.parent.name)] = cmdline
    return found


def session_processes(sid: int) -> list[str]:
    return list(session_pids(sid).values())


# Run before the script, in its own process (exec keeps the pid, the session and the group):
# Ctrl-C and SIGTERM delivered and handled by default, as a terminal's shell starts a
# command. A process inherits its parent's blocked and ignored signals, and bash cannot trap
# a signal ignored when it started: in the whole suite the script, started from a pytest
# worker, never saw the Ctrl-C. (Not preexec_fn: the test process has threads.)
AS_FROM_A_TERMINAL = (
    "import os, signal, sys\n"
    "for sig in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(sig, signal.SIG_DFL)\n"
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 (an http:// URL of our own)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.mark.engine_independent
@pytest.mark.parametrize("signal_to_stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_stopping_the_demo_stops_every_process_it_started_within_ten_seconds(
    tmp_path, signal_to_stop
):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(REDRESS_VAR_DIR=str(tmp_path), REDRESS_PORT=str(port), DJANGO_DEBUG="true")
    manage = [str(ROOT / ".venv" / "bin" / "python"), "manage.py"]
    subprocess.run([*manage, "audit_key", "--generate"], cwd=ROOT, env=env, check=True)  # noqa: S603
    # A session of its own, as a terminal gives: Ctrl-C signals the script's process group.
    script = subprocess.Popen(  # noqa: S603 (our own script)
        [sys.executable, "-c", AS_FROM_A_TERMINAL, str(ROOT / "scripts" / "serve")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        worker_log = tmp_path / "log" / "worker.log"
        while time.monotonic() < deadline:
            ready = worker_log.exists() and " ready." in worker_log.read_text(errors="replace")
            if ready and answers(f"http://127.0.0.1:{port}/accounts/login/"):
                break
            assert script.poll() is None, script.stdout.read().decode()
            time.sleep(0.5)
        else:
            pytest.fail("the web server and the worker did not start within 90 seconds")
        started = session_processes(script.pid)
        assert any("celery -A config worker" in cmd for cmd in started), started
        assert any("celery -A config beat" in cmd for cmd in started), started
        assert any("runserver" in cmd for cmd in started), started
        assert any("platform_receiver" in cmd for cmd in started), started

        stop_at = time.monotonic()
        os.killpg(script.pid, signal_to_stop)
        # The script asks each process to stop, kills what is left after 6 seconds
        # (REDRESS_STOP_GRACE) and exits.
        script.wait(timeout=45)
        while session_processes(script.pid) and time.monotonic() - stop_at < 45:
            time.sleep(0.1)
        took = time.monotonic() - stop_at

        assert session_processes(script.pid) == [], f"still running {took:.1f} s after the signal"
        assert took < 10, f"stopped after {took:.1f} s"
        assert not answers(f"http://127.0.0.1:{port}/accounts/login/")
        output = script.stdout.read().decode()
        assert "signer2" in output and "Redress stopped." in output
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
        # Whatever the script failed to stop (its session is this test's own).
        for pid in session_pids(script.pid):
            os.kill(pid, signal.SIGKILL)
