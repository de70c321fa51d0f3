"""Stopping a Celery worker the way systemd does (deploy/redress-worker.service): SIGTERM.

The worker runs as production starts it (prefork pool, ``REMAP_SIGTERM=SIGQUIT``) on the
test's PostgreSQL database and Redis db 6. What must hold (issue 16, item 6):

- idle, it exits within 10 seconds;
- busy with a delivery that finishes soon, it finishes it (the platform gets the message,
  the outbox records it sent) and then exits;
- busy with a delivery that does not finish within its grace
  (``CELERY_WORKER_SOFT_SHUTDOWN_SECONDS``), it still exits within 10 seconds and returns
  the task to the broker unacknowledged (``acks_late``): the next worker delivers it, and
  the platform processes the message once, by its idempotency key.

Needs PostgreSQL and Redis; under ``CI=true`` a missing Redis fails the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import pytest

from cases.models import ListType, Role, RuleSet
from cases.seeds import seed_national_defaults
from notifications.models import Message
from tests import factories
from tests.flow_helpers import accept, file_objection
from tests.notification_helpers import PROJECT_DIR, celery_app_use_broker, wait_for
from tests.receiver import WebhookReceiver
from tests.test_outbox_faults import worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_DB = 6
SECRET = "creditchina-shared-secret-for-the-shutdown-stories"
GRACE_SECONDS = 3  # CELERY_WORKER_SOFT_SHUTDOWN_SECONDS in these stories
STOP_WITHIN = 10.0


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
    restore = celery_app_use_broker(f"redis://127.0.0.1:6379/{REDIS_DB}")
    yield client
    restore()
    client.flushdb()
    client.close()


class Worker:
    """``celery -A config worker`` as deploy/redress-worker.service runs it."""

    def __init__(self, tmp_path, name: str):
        self.name = name
        self.log_path = tmp_path / f"{name}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "CELERY_WORKER_SOFT_SHUTDOWN_SECONDS": str(GRACE_SECONDS),
            "REMAP_SIGTERM": "SIGQUIT",
            "REDRESS_VAR_DIR": str(tmp_path / "var"),
            "REDRESS_NOTIFY_LEASE_SECONDS": "2",
            "REDRESS_WEBHOOK_TIMEOUT_SECONDS": "30",
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own virtualenv's celery
            [
                str(PROJECT_DIR / ".venv/bin/celery"),
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{self.name}-{os.getpid()}@%h",
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: b" ready." in self.log_path.read_bytes() or self.process.poll() is not None,
            timeout=60,
            what=f"worker {self.name} to be ready",
        )
        assert self.process.poll() is None, self.log()
        return self

    def sigterm(self) -> float:
        """SIGTERM, as systemd stops the unit; returns the seconds until the worker exited."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail(f"worker {self.name} ignored SIGTERM for 30 s:\n{self.log()}")
        return time.monotonic() - began

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        with contextlib.suppress(Exception):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture
def start_worker(tmp_path, redis_db):
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(tmp_path, name)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def receiver():
    running = WebhookReceiver(SECRET, block_first=True).start()
    yield running
    running.stop()


def accepted_objection(receiver, settings) -> Message:
    """An objection accepted by intake: its webhook to the platform is queued on commit."""
    settings.REDRESS_NOTIFY_LEASE_SECONDS = 2
    agency = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局")
    platform = factories.PlatformFactory(
        code="creditchina", name="信用中国", webhook_url=receiver.url, webhook_secret=SECRET
    )
    company = factories.SubjectFactory(name="深圳市示例科技有限公司")
    applicant = factories.representative(company, "acme")
    applicant.email = ""
    applicant.save(update_fields=["email"])
    intake = factories.officer(Role.INTAKE, agency)
    record = factories.RecordFactory(subject=company, agency=agency, published_on=[platform])
    case = file_objection(company, [record], applicant)
    accept(case, intake)
    return Message.objects.get(case=case, channel=Message.Channel.WEBHOOK)


def status_of(message: Message) -> str:
    message.refresh_from_db()
    return message.status


def test_an_idle_worker_stops_on_sigterm_within_ten_seconds(start_worker):
    worker = start_worker("idle")
    took = worker.sigterm()
    assert worker.process.returncode == 0, worker.log()
    assert took < STOP_WITHIN, f"took {took:.1f} s\n{worker.log()}"


def test_a_busy_worker_finishes_its_delivery_before_it_stops(
    start_worker, receiver, redis_db, settings
):
    worker = start_worker("busy")
    message = accepted_objection(receiver, settings)
    wait_for(receiver.first_call_arrived.is_set, what="the delivery to reach the platform")

    began = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    time.sleep(1)  # the platform answers within the worker's grace
    assert worker.process.poll() is None, "the worker left its delivery unfinished"
    receiver.release()
    worker.process.wait(timeout=30)
    took = time.monotonic() - began

    assert took < STOP_WITHIN, f"took {took:.1f} s\n{worker.log()}"
    assert status_of(message) == Message.Status.SENT, worker.log()
    assert receiver.processed == [message.idempotency_key]
    assert redis_db.llen("celery") == 0 and redis_db.hlen("unacked") == 0


def test_a_worker_stuck_in_a_delivery_returns_it_and_the_next_worker_delivers_it_once(
    start_worker, receiver, redis_db, settings
):
    first = start_worker("stuck")
    message = accepted_objection(receiver, settings)
    wait_for(receiver.first_call_arrived.is_set, what="the delivery to reach the platform")

    took = first.sigterm()  # the platform holds the call past the worker's grace
    assert took < STOP_WITHIN, f"took {took:.1f} s\n{first.log()}"
    assert status_of(message) == Message.Status.SENDING  # not recorded sent, not lost
    # Returned to the queue unacknowledged, not dropped with the worker.
    assert redis_db.llen("celery") + redis_db.hlen("unacked") == 1, first.log()

    receiver.release()
    second = start_worker("next")
    wait_for(
        lambda: status_of(message) == Message.Status.SENT,
        timeout=30,
        what="the next worker to deliver the returned message",
    )
    assert receiver.keys_received() == [message.idempotency_key] * 2, second.log()
    assert receiver.processed == [message.idempotency_key]  # processed once, by its key
    message.refresh_from_db()
    assert message.attempts == 2
