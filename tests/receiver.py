"""A reference webhook receiver, as a platform would run one.

It verifies each call with ``notifications.signing.verify`` (HMAC-SHA256 over the
timestamp and the body with the platform's secret; a stale timestamp or a bad
signature is refused with 401), keeps every request it was sent, and processes each
``Idempotency-Key`` once: a repeated delivery is answered 200 and changes nothing.

The key is covered by the signature through the body (Redress puts it there as
``idempotency_key``): a call whose header key differs from the body's is refused with
400, and a signature already seen with another key (a captured call resent under a new
key) with 409.

For fault stories it can answer 500 to its first ``fail_first`` calls (or to every
call while ``failing`` is set), and it can block its first call after processing it
and before answering, until ``release()``: the sender then dies mid-delivery with the
message processed on the platform's side but not yet recorded as sent on ours.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications import signing


@dataclass
class Received:
    """One call, as it arrived."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int = 0
    verdict: str = ""

    @property
    def key(self) -> str:
        return self.headers.get(signing.IDEMPOTENCY_HEADER, "")

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """``with WebhookReceiver(secret) as receiver: platform.webhook_url = receiver.url``."""

    secret: str
    fail_first: int = 0
    failing: bool = False
    block_first: bool = False
    tolerance: int = signing.DEFAULT_TOLERANCE
    requests: list[Received] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)  # signature -> its key

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self.first_call_arrived = threading.Event()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = receiver.handle(self.path, dict(self.headers.items()), body)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender died while we were blocked: nobody to answer

            def log_message(self, *args):  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the receiver first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/redress/webhook"

    def release(self) -> None:
        """Let a blocked first call answer."""
        self._release.set()

    # --- what a platform does with a call ---------------------------------------------

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        received = Received(at=time.monotonic(), path=path, headers=headers, body=body)
        with self._lock:
            self._calls += 1
            call = self._calls
            self.requests.append(received)
        verdict = signing.verify(
            self.secret,
            timestamp=headers.get(signing.TIMESTAMP_HEADER),
            signature_value=headers.get(signing.SIGNATURE_HEADER),
            body=body,
            tolerance=self.tolerance,
        )
        if not verdict.ok:
            return self._answer(received, 401, {"error": verdict.reason}, verdict.reason)
        if not received.key:
            return self._answer(received, 400, {"error": "no Idempotency-Key"}, "no key")
        try:
            signed_key = json.loads(body).get("idempotency_key", received.key)
        except (ValueError, AttributeError):
            signed_key = None
        if signed_key != received.key:
            return self._answer(received, 400, {"error": "key differs"}, "key differs from body")
        with self._lock:
            first_key = self.signatures.setdefault(verdict.signature, received.key)
        if first_key != received.key:
            return self._answer(received, 409, {"error": "replayed"}, "replayed under a new key")
        if self.failing or call <= self.fail_first:
            return self._answer(received, 500, {"error": "platform unavailable"}, "failed")
        with self._lock:
            duplicate = received.key in self.processed
            if not duplicate:
                self.processed.append(received.key)
        if call == 1 and self.block_first:
            self.first_call_arrived.set()
            self._release.wait(timeout=60)
        if duplicate:
            return self._answer(received, 200, {"duplicate": True}, "duplicate")
        return self._answer(received, 200, {"ok": True}, "processed")

    def _answer(self, received: Received, status: int, answer: dict, verdict: str):
        received.answered = status
        received.verdict = verdict
        return status, answer

    # --- reading what arrived ---------------------------------------------------------

    def keys_received(self) -> list[str]:
        with self._lock:
            return [r.key for r in self.requests]

    def calls(self) -> int:
        with self._lock:
            return len(self.requests)
