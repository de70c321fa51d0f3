"""What the notification stories share: a real SMTP server, a broker that can go down,
a real Celery worker process, bounded waiting, and reading the outbox as the case's
timeline shows it.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from kombu import pools as kombu_pools

from notifications.models import Message

NOTIFICATION_EVENTS = {
    "notification_queued",
    "notification_sent",
    "notification_failed",
    "notification_dead",
    "notification_retried",
    "platform_acknowledged",
}

PROJECT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float = 30, every: float = 0.2, what=""):
    """Poll ``condition`` until it is truthy, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(every)


# --- the outbox as the case timeline shows it ------------------------------------------------


def notification_timeline(case, message: Message | None = None) -> list[str]:
    """The case's notification events in order; only one message's when ``message`` is given."""
    events = case.events.filter(kind__in=NOTIFICATION_EVENTS).order_by("seq")
    return [
        e.kind
        for e in events
        if message is None
        or e.data.get("message") == message.pk
        or (e.kind == "platform_acknowledged" and message.platform_id is not None)
    ]


def messages_of(case, **filters) -> list[Message]:
    return list(Message.objects.filter(case=case, **filters).order_by("id"))


# --- a real SMTP server ----------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        # Django folds a long encoded subject onto a continuation line; a mail client shows
        # it without the folding's leading space.
        return str(self.message["Subject"]).strip()

    def header(self, name: str) -> str:
        """A header as a mail client shows it (unfolded, without the folding's space)."""
        value = self.message[name]
        return str(value).strip() if value is not None else ""

    @property
    def key(self) -> str:
        return self.header("X-Redress-Idempotency-Key")

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""

    def attachments(self) -> list[tuple[str, str, bytes]]:
        return [
            (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in self.message.iter_attachments()
        ]


@dataclass
class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"

    def start(self) -> SmtpServer:
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    def of(self, message) -> list[Received]:
        """The emails that carried ``message`` (by its idempotency key)."""
        return [r for r in self.received if r.key == message.idempotency_key]


# --- a broker that can go down and come back -------------------------------------------------


class BrokerProxy:
    """A TCP forwarder to the real Redis on a fixed port: stopped, the broker is unreachable
    there (connection refused); started, it answers again on the same address."""

    def __init__(self, target_port: int, port: int | None = None):
        self.target = ("127.0.0.1", target_port)
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


def celery_app_use_broker(url: str) -> Callable[[], None]:
    """Point this process's Celery app at ``url`` (``on_commit`` publishes there); returns a
    function that puts the previous broker back."""
    from config.celery import app

    previous = (app.conf.broker_url, app.conf.broker_transport_options)

    def reset_pools() -> None:
        # kombu keeps its pools per broker address in a process-wide group: close and
        # forget them all, or the next user of the same address gets a closed pool.
        kombu_pools.reset()
        app._pool = None
        with contextlib.suppress(AttributeError, KeyError):
            app.__dict__["amqp"]._producer_pool = None

    reset_pools()
    app.conf.broker_url = url
    app.conf.broker_transport_options = {}

    def restore() -> None:
        reset_pools()
        app.conf.broker_url, app.conf.broker_transport_options = previous

    return restore


# --- a real Celery worker process ------------------------------------------------------------


class CeleryWorker:
    """``celery -A config worker`` (solo pool) on the test database and a Redis broker."""

    def __init__(self, *, env: dict[str, str], log_dir: Path, name: str):
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 30) -> CeleryWorker:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own virtualenv's celery
            [
                str(PROJECT_DIR / ".venv/bin/celery"),
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.name}-{os.getpid()}@%h",
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: self._ready() or self._died(),
            timeout=timeout,
            what=f"worker {self.name} to be ready",
        )
        if self._died():
            raise AssertionError(f"worker {self.name} exited:\n{self.log()}")
        return self

    def _ready(self) -> bool:
        return b" ready." in self.log_path.read_bytes()

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement, no last words."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # Cold shutdown: the story is over, nothing in flight is worth waiting for.
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(Exception):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
