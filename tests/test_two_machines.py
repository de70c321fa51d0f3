"""Two web processes, two workers, one beat, one PostgreSQL, one Redis: nothing lost or doubled.

As deploy/README.md lays Redress out over several machines: two gunicorn processes
(deploy/gunicorn.conf.py, production settings), two Celery workers and the one beat, all separate
processes on the test's PostgreSQL database and Redis db 5, sharing REDRESS_VAR_DIR. Fifty
restorations are filed, given their materials, accepted, reviewed and signed through the
REST API, ten at a time, each request going to one web process or the other in turn.
Afterwards:

- every case was decided exactly once (one ``decided`` event, status removal);
- ``manage.py verify_events`` finds every case's event chain valid;
- every outbox message was sent, and the platform (a local receiver counting calls by
  idempotency key) was called exactly once for each of its webhook messages.

Needs PostgreSQL, Redis and gunicorn; under ``CI=true`` a missing one fails the test.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cases.models import Case, ListType, Role, RuleSet
from cases.seeds import seed_national_defaults
from notifications.models import Message
from tests import factories
from tests.helpers import api_token, pdf_bytes, restorable_record
from tests.notification_helpers import free_port, wait_for
from tests.production import ROOT, production_env
from tests.receiver import WebhookReceiver
from tests.test_outbox_faults import worker_database_url

requests = pytest.importorskip("requests")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_DB = 5
SECRET = "creditchina-shared-secret-for-the-two-machine-story"
CASES = 50
COMPANIES = 5
OFFICERS_PER_ROLE = 3
AT_ONCE = 10


@pytest.fixture(autouse=True)
def _seeded(postgres_only, transactional_db):
    seed_national_defaults(ListType, RuleSet)


@pytest.fixture
def redis_db(postgres_only):
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: needs Redis at 127.0.0.1:6379: {exc}")
        pytest.skip(f"needs Redis at 127.0.0.1:6379: {exc}")
    client.flushdb()
    yield REDIS_DB
    client.flushdb()
    client.close()


class Processes:
    """Separate processes started for the story, all stopped (and logged) at its end."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Path:
        log = self.log_dir / f"{name}.log"
        process = subprocess.Popen(  # noqa: S603 - our own virtualenv's programs
            argv, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        self.started.append((name, process, log))
        return log

    def alive(self) -> None:
        for name, process, log in self.started:
            assert process.poll() is None, f"{name} exited:\n{log.read_text()[-4000:]}"

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{log.read_text()[-3000:]}" for n, _, log in self.started)

    def stop(self) -> None:
        for _name, process, _log in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process, _log in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def installation(tmp_path, redis_db):
    """Two web processes and two workers, as two machines would run them; their URLs."""
    env = production_env(
        tmp_path / "var",
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=f"redis://127.0.0.1:6379/{redis_db}",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",  # TLS ends at the proxy, not here
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        REDRESS_SPECIMEN_SEAL="true",  # the test agency has no seal of its own
        REMAP_SIGTERM="SIGQUIT",
        REDRESS_OUTBOX_SWEEP_SECONDS="3",
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "var").mkdir(exist_ok=True)
    processes = Processes(tmp_path)
    bin_dir = Path(sys.executable).parent
    urls = []
    for machine in (1, 2):
        port = free_port()
        processes.start(
            f"web{machine}",
            [
                str(bin_dir / "gunicorn"),
                "-c",
                str(ROOT / "deploy/gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-tmp-dir",
                str(tmp_path),
                "--access-logfile",
                "/dev/null",
                "config.wsgi:application",
            ],
            env,
        )
        urls.append(f"http://127.0.0.1:{port}")
    worker_logs = [
        processes.start(
            f"worker{machine}",
            [
                str(bin_dir / "celery"),
                "-A",
                "config",
                "worker",
                "--concurrency",
                "1",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"worker{machine}-{os.getpid()}@%h",
            ],
            env,
        )
        for machine in (1, 2)
    ]
    # One beat for the whole installation (deploy/README.md): its outbox sweep sends the
    # e-mails that waited for their letter to be rendered.
    processes.start("beat", [str(bin_dir / "celery"), "-A", "config", "beat", "-l", "INFO"], env)

    def answering(url: str) -> bool:
        processes.alive()
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{url}/api/v1/", timeout=2).status_code < 500
        return False

    try:
        for url in urls:
            wait_for(lambda url=url: answering(url), timeout=60, what=f"gunicorn at {url}")
        for log in worker_logs:
            wait_for(lambda log=log: b" ready." in log.read_bytes(), timeout=60, what="a worker")
        yield urls, processes, env
    finally:
        processes.stop()


@pytest.fixture
def receiver():
    running = WebhookReceiver(SECRET).start()
    yield running
    running.stop()


def test_fifty_cases_through_two_web_processes_and_two_workers_are_each_decided_once(
    installation, receiver
):
    urls, processes, env = installation
    agency = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局")
    platform = factories.PlatformFactory(
        code="creditchina", name="信用中国", webhook_url=receiver.url, webhook_secret=SECRET
    )
    work = []
    for number in range(COMPANIES):
        company = factories.SubjectFactory(name=f"深圳市示例{number}科技有限公司")
        token = api_token(factories.representative(company, f"rep-{number}"))
        for _ in range(CASES // COMPANIES):
            work.append((token, restorable_record(company, agency, [platform])))
    officers = {
        role: [
            api_token(factories.officer(role, agency, f"{role}-{n}"))
            for n in range(OFFICERS_PER_ROLE)
        ]
        for role in (Role.INTAKE, Role.CASE_OFFICER, Role.SIGNER)
    }

    calls = iter(range(10**9))

    def call(method: str, path: str, token: str, **kwargs) -> dict:
        """One request, to web process 1 or 2 in turn; fails on anything but success."""
        url = urls[next(calls) % 2]
        response = requests.request(
            method,
            f"{url}/api/v1/{path}",
            headers={"Authorization": f"Token {token}"},
            timeout=60,
            **kwargs,
        )
        assert response.status_code in (200, 201), (method, path, response.text[:500])
        return response.json()

    def act(role: str, number: int, case_id: int, step: str, body: dict) -> None:
        token = officers[role][number % OFFICERS_PER_ROLE]
        tasks = call("GET", "tasks/", token, params={"box": "queue", "case": case_id})["results"]
        (task,) = [t for t in tasks if t["step"] == step]
        call("POST", f"tasks/{task['id']}/claim/", token)
        call("POST", f"tasks/{task['id']}/complete/", token, json=body)

    def one_case(number: int) -> int:
        token, record = work[number]
        case = call(
            "POST",
            "cases/",
            token,
            json={
                "kind": "restoration",
                "subject_code": record.subject.code,
                "record_ids": [record.pk],
                "grounds": "The fine was paid and the conduct corrected.",
            },
        )
        evidence = [
            call(
                "POST",
                f"cases/{case['id']}/evidence/",
                token,
                data=fields,
                files={"file": ("evidence.pdf", pdf_bytes(label), "application/pdf")},
            )["id"]
            for label, fields in (
                ("commitment", {"material": "commitment_letter", "record": record.pk}),
                ("receipt", {"material": "fulfilment_proof"}),
            )
        ]
        act(Role.INTAKE, number, case["id"], "acceptance_check", {"decision": "accept"})
        act(
            Role.CASE_OFFICER,
            number,
            case["id"],
            "evidence_review",
            {
                "reviews": [{"evidence": pk, "outcome": "accepted"} for pk in evidence],
                "recommendation": "approved",
                "note": "Reviewed item by item.",
            },
        )
        act(Role.SIGNER, number, case["id"], "sign_off", {"decision": "approved"})
        return case["id"]

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        case_ids = list(pool.map(one_case, range(CASES)))
    print(f"{CASES} cases filed and decided in {time.monotonic() - began:.1f} s")

    assert len(set(case_ids)) == CASES
    cases = Case.objects.filter(pk__in=case_ids)
    for case in cases:
        assert case.events.filter(kind="decided").count() == 1, case.reference
        assert (case.decision, case.status) == ("approved", Case.Status.REMOVAL), case.reference

    def everything_sent() -> bool:
        processes.alive()
        return not Message.objects.exclude(status=Message.Status.SENT).exists()

    try:
        wait_for(everything_sent, timeout=300, every=2, what="every outbox message to be sent")
    except AssertionError:
        unsent = collections.Counter(
            Message.objects.exclude(status=Message.Status.SENT).values_list(
                "channel", "kind", "status", "attempts", "last_error"
            )
        )
        raise AssertionError(f"not sent: {unsent}\n{processes.logs()}") from None
    webhooks = list(
        Message.objects.filter(channel=Message.Channel.WEBHOOK).values_list(
            "idempotency_key", flat=True
        )
    )
    assert len(webhooks) >= CASES  # at least the withdrawal request of each record
    assert collections.Counter(receiver.keys_received()) == collections.Counter(webhooks), (
        "a webhook delivered twice or never"
    )
    assert sorted(receiver.processed) == sorted(webhooks)

    verified = subprocess.run(
        [sys.executable, "manage.py", "verify_events"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr + processes.logs()
