"""The outbox under faults, against a real Redis broker and a real Celery worker process.

Each story starts ``celery -A config worker`` (solo pool) on the test's PostgreSQL
database and a Redis database of its own, and lets a platform's webhook receiver
(``tests/receiver.py``) misbehave: the broker is unreachable when the case changes, the
worker is killed (SIGKILL) in the middle of a delivery, the platform answers 500 for a
while or for good. What must hold: the case change commits whatever the broker does;
nothing is lost; a platform processes each message once, by its idempotency key, even
when it is delivered twice; failures back off and end in the dead-letter state a
supervisor retries from; and the case's timeline tells all of it.

These need PostgreSQL (the worker shares the test database, so data is committed:
``transaction=True``) and Redis at 127.0.0.1:6379. Without PostgreSQL they are skipped;
without Redis they are skipped with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases.models import Case, ListType, Role, RuleSet
from cases.seeds import seed_national_defaults
from config.celery import app
from notifications import delivery
from notifications.models import Message
from notifications.services import outbox_enqueue
from tests import factories
from tests.flow_helpers import accept, file_objection, refresh
from tests.notification_helpers import (
    BrokerProxy,
    CeleryWorker,
    celery_app_use_broker,
    notification_timeline,
    wait_for,
)
from tests.receiver import WebhookReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_PORT = 6379
SECRET = "creditchina-shared-secret-for-the-fault-stories"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _seeded(postgres_only, transactional_db):
    """The national list types and rule sets: an earlier transactional test may have
    flushed what the data migration made."""
    seed_national_defaults(ListType, RuleSet)


@pytest.fixture(scope="module", autouse=True)
def _reseed_for_later_tests(django_db_setup, django_db_blocker):
    """Put the seeded rows back after this module's last flush, for later modules."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            seed_national_defaults(ListType, RuleSet)
        connection.close()


@pytest.fixture
def redis_db(postgres_only):
    """A Redis database of this test's own, flushed: its number (one per xdist worker)."""
    import redis

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = 9 + int(worker.removeprefix("gw") or 0) % 7  # 9..15
    client = redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=number, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        reason = f"needs Redis at 127.0.0.1:{REDIS_PORT} for the broker fault stories: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    client.flushdb()
    yield number
    client.flushdb()
    client.close()


@pytest.fixture
def broker(redis_db):
    """This process publishes (``on_commit``) to the Redis database the workers consume."""
    restore = celery_app_use_broker(f"redis://127.0.0.1:{REDIS_PORT}/{redis_db}")
    yield redis_db
    restore()


NOTIFY = {
    "REDRESS_NOTIFY_LEASE_SECONDS": 2,
    "REDRESS_NOTIFY_BACKOFF_SECONDS": 1,
    "REDRESS_NOTIFY_BACKOFF_CAP_SECONDS": 8,
    "REDRESS_NOTIFY_MAX_ATTEMPTS": 5,
    "REDRESS_WEBHOOK_TIMEOUT_SECONDS": 20,
}


def worker_database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'])}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def start_worker(tmp_path, redis_db, settings):
    """``start_worker(name, **notify_settings)`` starts a worker; all are stopped at the end."""
    started: list[CeleryWorker] = []

    def start(name: str = "worker", **overrides) -> CeleryWorker:
        notify = {**NOTIFY, **overrides}
        for setting, value in notify.items():
            setattr(settings, setting, value)  # the test process agrees with its workers
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/{redis_db}",
            "REDRESS_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DJANGO_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **{setting: str(value) for setting, value in notify.items()},
        }
        worker = CeleryWorker(env=env, log_dir=tmp_path, name=name)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def receiver():
    running = WebhookReceiver(SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def objection(receiver):
    """An objection ready to be accepted: one record, published on one platform whose
    webhook goes to ``receiver``; acceptance flags it disputed there."""
    agency = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局")
    platform = factories.PlatformFactory(
        code="creditchina", name="信用中国", webhook_url=receiver.url, webhook_secret=SECRET
    )
    company = factories.SubjectFactory(name="深圳市示例科技有限公司")
    applicant = factories.representative(company, "acme")
    # No email address: the webhook is the case's one message, so each story follows it.
    applicant.email = ""
    applicant.save(update_fields=["email"])
    staff = {
        "intake": factories.officer(Role.INTAKE, agency),
        "supervisor": factories.officer(Role.SUPERVISOR, agency),
    }
    record = factories.RecordFactory(subject=company, agency=agency, published_on=[platform])
    case = file_objection(company, [record], applicant)
    return case, staff


def webhook_of(case) -> Message:
    return Message.objects.get(case=case, channel=Message.Channel.WEBHOOK)


def status_of(message: Message) -> str:
    message.refresh_from_db()
    return message.status


def sweep_until(condition, *, timeout: float = 30, every: float = 0.5, what: str = ""):
    """Do what beat does (send ``notifications.sweep`` to the broker) until ``condition``."""

    def swept():
        app.send_task("notifications.sweep")
        return condition()

    return wait_for(swept, timeout=timeout, every=every, what=what)


def broker_idle(number: int) -> bool:
    """Nothing waiting in the queue and nothing taken but not yet done (acks_late)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=number)
    try:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def explain(*workers: CeleryWorker) -> str:
    return "\n".join(f"--- {w.name} ---\n{w.log()[-4000:]}" for w in workers)


# --- the transaction ------------------------------------------------------------------------


def test_a_message_cannot_be_written_outside_the_transaction_of_its_cause():
    with pytest.raises(RuntimeError, match="inside the transaction of its cause"):
        outbox_enqueue(
            case=None,
            kind="accepted",
            channel=Message.Channel.EMAIL,
            key="outside",
            recipient_email="someone@example.test",
        )
    assert not Message.objects.exists()


# --- (a) the broker is down when the case changes --------------------------------------------


def test_a_case_changed_while_the_broker_is_down_commits_and_its_messages_go_out_when_it_returns(
    redis_db, start_worker, receiver, objection
):
    case, staff = objection
    proxy = BrokerProxy(target_port=REDIS_PORT)  # not started: nothing answers on its port
    restore = celery_app_use_broker(f"redis://127.0.0.1:{proxy.port}/{redis_db}")
    worker = start_worker("broker-down")
    try:
        accept(case, staff["intake"])  # on_commit: the dispatcher cannot be reached

        assert refresh(case).status == Case.Status.UNDER_REVIEW  # the change committed
        message = webhook_of(case)
        assert (message.status, message.attempts) == (Message.Status.PENDING, 0)
        assert notification_timeline(case, message) == ["notification_queued"]
        time.sleep(1.5)  # the worker is up and listening: nothing was published to it
        assert receiver.calls() == 0
        assert status_of(message) == Message.Status.PENDING

        proxy.start()  # the broker is back
        sweep_until(
            lambda: status_of(message) == Message.Status.SENT,
            what="the sweep to deliver what waited",
        )
    finally:
        proxy.stop()
        restore()

    assert receiver.processed == [message.idempotency_key], explain(worker)
    assert receiver.calls() == 1
    assert message.attempts == 1
    assert notification_timeline(case, message) == ["notification_queued", "notification_sent"]


def test_a_case_change_while_the_broker_is_down_is_not_held_up_by_the_dispatcher(
    redis_db, objection
):
    case, staff = objection
    proxy = BrokerProxy(target_port=REDIS_PORT)  # not started
    restore = celery_app_use_broker(f"redis://127.0.0.1:{proxy.port}/{redis_db}")
    try:
        began = time.monotonic()
        accept(case, staff["intake"])
        blocked = time.monotonic() - began
    finally:
        restore()

    assert refresh(case).status == Case.Status.UNDER_REVIEW
    assert blocked < 2.0, f"the request was held up {blocked:.1f} s by one message's dispatch"


# --- (b) the worker is killed in the middle of a delivery -------------------------------------


def test_a_worker_killed_mid_delivery_is_replaced_and_the_platform_processes_the_message_once(
    broker, start_worker, receiver, objection
):
    case, staff = objection
    receiver.block_first = True  # processes the call, then hangs before answering
    first = start_worker("doomed", REDRESS_NOTIFY_LEASE_SECONDS=2)

    accept(case, staff["intake"])
    wait_for(receiver.first_call_arrived.is_set, what="the first delivery to reach the platform")
    message = webhook_of(case)
    assert (message.status, message.attempts) == (Message.Status.SENDING, 1)

    first.kill()  # SIGKILL while the platform holds the call: no outcome is recorded
    receiver.release()
    message.refresh_from_db()
    assert message.status == Message.Status.SENDING
    assert notification_timeline(case, message) == ["notification_queued"]

    second = start_worker("replacement", REDRESS_NOTIFY_LEASE_SECONDS=2)
    wait_for(
        lambda: Message.objects.filter(pk=message.pk, locked_until__lt=timezone.now()).exists(),
        timeout=10,
        what="the dead worker's lease to run out",
    )
    sweep_until(lambda: status_of(message) == Message.Status.SENT, what="re-delivery")

    message.refresh_from_db()
    assert receiver.keys_received() == [message.idempotency_key] * 2, explain(first, second)
    assert receiver.processed == [message.idempotency_key]  # exactly once, by its key
    assert [r.verdict for r in receiver.requests] == ["processed", "duplicate"]
    assert message.attempts == 2
    assert notification_timeline(case, message) == ["notification_queued", "notification_sent"]
    sent = case.events.get(kind="notification_sent", data__message=message.pk)
    assert sent.data["attempt"] == 2


# --- (c) the platform answers 500 for a while, or for good ------------------------------------


def test_a_platform_answering_500_for_a_while_is_retried_with_growing_waits_until_it_answers(
    broker, start_worker, receiver, objection
):
    case, staff = objection
    receiver.fail_first = 2
    worker = start_worker("retrying", REDRESS_NOTIFY_BACKOFF_SECONDS=1)

    accept(case, staff["intake"])
    message = webhook_of(case)
    sweep_until(lambda: status_of(message) == Message.Status.SENT, what="delivery after 2 x 500")

    assert [r.answered for r in receiver.requests] == [500, 500, 200], explain(worker)
    first, second, third = (r.at for r in receiver.requests)
    assert second - first >= 1.0  # backoff 1 s after the first failure...
    assert third - second >= 2.0  # ...2 s after the second
    assert receiver.processed == [message.idempotency_key]
    assert message.attempts == 3
    assert notification_timeline(case, message) == [
        "notification_queued",
        "notification_failed",
        "notification_failed",
        "notification_sent",
    ]
    failures = case.events.filter(kind="notification_failed", data__message=message.pk)
    assert {e.note for e in failures} == {"DeliveryFailed: creditchina answered HTTP 500"}


def test_a_platform_that_keeps_failing_ends_dead_and_a_supervisors_retry_delivers_it(
    broker, start_worker, receiver, objection
):
    case, staff = objection
    receiver.failing = True
    worker = start_worker("dead-letters", REDRESS_NOTIFY_MAX_ATTEMPTS=2)

    accept(case, staff["intake"])
    message = webhook_of(case)
    sweep_until(lambda: status_of(message) == Message.Status.DEAD, what="the dead-letter state")
    assert receiver.calls() == 2, explain(worker)

    for _ in range(3):  # the sweep leaves a dead letter alone
        app.send_task("notifications.sweep")
    wait_for(lambda: broker_idle(broker), timeout=15, what="the worker to run those sweeps")
    assert receiver.calls() == 2
    assert status_of(message) == Message.Status.DEAD

    receiver.failing = False  # the platform is fixed; the supervisor retries by hand
    with transaction.atomic():
        delivery.message_retry(message=message, by=staff["supervisor"])
    # No sweep from here on: the dispatcher, asked after the retry's commit, delivers it.
    wait_for(lambda: status_of(message) == Message.Status.SENT, what="the retried delivery")

    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert receiver.processed == [message.idempotency_key]
    assert notification_timeline(case, message) == [
        "notification_queued",
        "notification_failed",
        "notification_dead",
        "notification_retried",
        "notification_sent",
    ]
    retried = case.events.get(kind="notification_retried")
    assert retried.actor == staff["supervisor"]
