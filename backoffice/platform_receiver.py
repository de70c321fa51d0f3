"""A reference platform: what Credit China, NECIPS or a third-party agency does with our calls.

It runs in the demo (``manage.py platform_receiver``, started by ``scripts/demo``) and in
the tests, and it talks to Redress only over HTTP, the way a real platform would:

- it receives our signed webhooks at ``POST /<platform code>/webhook``, verifies each
  with the platform's secret (a stale or forged call is refused with 401) and keeps one
  of each ``Idempotency-Key`` (a repeated delivery is answered 200 and changes nothing);
- it does what it was asked with the record in its own copy (withdraws it, shields it,
  publishes it again) and, after a short delay, acknowledges through the signed
  acknowledgement API (``v2``, with an ``Idempotency-Key`` of its own): each effect
  separately where our call lists ``effects``, else the publication;
- it reports what it holds to ``POST /api/v1/platforms/<code>/holdings/``, signed the same
  way, at start and then every so often (reconciliation, docs/decisions/0025).

A platform can be told to misbehave, for the demo and the fault tests: ``stale`` (its
copy still shows every record withdrawn before it started: the reconciliation page then
has something true to show), ``error`` (answers every webhook 500), ``hang`` (answers
nothing for a long while).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

from notifications import signing

logger = logging.getLogger(__name__)

# What each of our requests asks the platform to show, and the status it acknowledges
# (None: nothing to acknowledge, e.g. a dispute flag).
ACTIONS = {
    "record_withdrawal_requested": ("withdrawn", "withdrawn"),
    "record_shield_requested": ("shielded", "shielded"),
    "record_republished": ("shown", "published"),
    "record_republication_requested": ("shown", "published"),
    "revocation_published": ("shown", "published"),
    "record_disputed": ("shown", None),
    "record_dispute_lifted": ("shown", None),
}
FAULTS = ("stale", "error", "hang")


@dataclass
class Played:
    """One platform the receiver plays: its secret, what it holds, what it received."""

    code: str
    secret: str
    fault: str = ""
    holdings: dict[str, dict] = field(default_factory=dict)  # by decision_no|subject_code
    processed: set[str] = field(default_factory=set)  # idempotency keys done
    acknowledged: list[dict] = field(default_factory=list)  # what Redress answered


def holding_key(decision_no: str, subject_code: str) -> str:
    return f"{decision_no}|{subject_code}"


def _ack_key(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


class ReferencePlatforms:
    """``ReferencePlatforms(site_url, {code: Played}).start(port=0)``; ``url(code)`` is the
    webhook URL to give the platform."""

    def __init__(
        self,
        site_url: str,
        platforms: dict[str, Played],
        *,
        ack_delay: float = 2.0,
        hang_seconds: float = 60.0,
        timeout: float = 10.0,
        hold_until_drain: bool = False,
    ):
        self.site_url = site_url.rstrip("/")
        self.platforms = platforms
        self.ack_delay = ack_delay
        self.hang_seconds = hang_seconds
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5, read=timeout)
        )
        self._lock = threading.Lock()
        # Acknowledgements go out one at a time, as a platform's outbox would send them
        # (each is a transaction on the case; the embedded database takes one writer).
        self._send_lock = threading.Lock()
        self._pending: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()
        # Tests on the embedded database share one connection between the test and the live
        # server's thread, so an acknowledgement must not arrive while the test itself writes:
        # held, the acknowledgements go out only inside drain(), while the test waits.
        self._released = threading.Event()
        if not hold_until_drain:
            self._released.set()
        self._holding = hold_until_drain

    # --- life cycle -------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> ReferencePlatforms:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.receive(self.path, dict(self.headers.items()), body)
                self._answer(status, answer)

            def do_GET(self):
                code = self.path.strip("/").split("/")[0]
                played = receiver.platforms.get(code)
                if played is None:
                    self._answer(404, {"error": "no such platform"})
                else:
                    self._answer(200, {"holdings": receiver.holdings_of(code)})

            def _answer(self, status: int, answer: dict) -> None:
                payload = json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up waiting (a hanging platform)

            def log_message(self, format, *args):
                logger.debug("receiver: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ReferencePlatforms:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the receiver first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, code: str) -> str:
        return f"{self.base_url}/{code}/webhook"

    def drain(self, timeout: float = 30) -> None:
        """Wait until every acknowledgement scheduled so far has been sent (tests); held
        acknowledgements are let go now and the next ones held again."""
        deadline = time.monotonic() + timeout
        self._released.set()
        try:
            while True:
                with self._lock:
                    pending = [t for t in self._pending if t.is_alive()]
                    self._pending = pending
                if not pending or time.monotonic() > deadline:
                    return
                pending[0].join(timeout=max(deadline - time.monotonic(), 0))
        finally:
            if self._holding:
                self._released.clear()

    # --- a webhook arrives --------------------------------------------------------------

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        played = self.platforms.get(parts[0]) if len(parts) == 2 and parts[1] == "webhook" else None
        if played is None:
            return 404, {"error": "no such platform"}
        if played.fault == "hang":
            self._stopped.wait(self.hang_seconds)
            return 503, {"error": "timed out on our side"}
        if played.fault == "error":
            return 500, {"error": "platform unavailable"}
        key = headers.get(signing.IDEMPOTENCY_HEADER, "")
        verdict = signing.verify(
            played.secret,
            timestamp=headers.get(signing.TIMESTAMP_HEADER),
            signature_value=headers.get(signing.SIGNATURE_HEADER),
            body=body,
            idempotency_key=key,
        )
        if not verdict.ok:
            logger.warning("%s refused a call: %s", played.code, verdict.reason)
            return 401, {"error": verdict.reason}
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {"error": "not JSON"}
        if not isinstance(payload, dict) or payload.get("idempotency_key", key) != key:
            return 400, {"error": "the Idempotency-Key differs from the signed body's"}
        with self._lock:
            if key in played.processed:
                return 200, {"duplicate": True}
            played.processed.add(key)
            acknowledge = self._apply(played, payload)
        if acknowledge:
            thread = threading.Thread(
                target=self._acknowledge_later, args=(played, payload), daemon=True
            )
            with self._lock:
                self._pending.append(thread)
            thread.start()
        return 200, {"ok": True}

    def _apply(self, played: Played, payload: dict) -> bool:
        """Change our copy as asked; whether the request wants an acknowledgement."""
        shows, status = ACTIONS.get(payload.get("action"), (None, None))
        record = payload.get("record") or {}
        if shows is not None and record.get("decision_no"):
            played.holdings[holding_key(record["decision_no"], record.get("subject_code", ""))] = {
                "decision_no": record["decision_no"],
                "subject_code": record.get("subject_code", ""),
                "state": shows,
                "publication": payload.get("publication"),
                "list_type": record.get("list_type", ""),
            }
            # What it did of each effect it was asked for (decision 0024): sharing stopped,
            # measures lifted; a report then says so (decision 0025).
            kinds = {e.get("kind") for e in payload.get("effects") or [] if isinstance(e, dict)}
            held = played.holdings[
                holding_key(record["decision_no"], record.get("subject_code", ""))
            ]
            if "sharing_stopped" in kinds:
                held["sharing"] = "stopped"
            if "measure_lifted" in kinds:
                held["measures"] = []
        return status is not None

    def _acknowledge_later(self, played: Played, payload: dict) -> None:
        if self._stopped.wait(self.ack_delay):
            return
        while not self._released.wait(0.05):
            if self._stopped.is_set():
                return
        _shows, status = ACTIONS[payload["action"]]
        our_key = payload.get("idempotency_key", "")
        effects = payload.get("effects")
        if effects:
            bodies = [
                {"effect": effect["effect"], "idempotency_key": our_key}
                for effect in effects
                if isinstance(effect, dict) and "effect" in effect
            ]
        else:
            bodies = [
                {
                    "publication": payload["publication"],
                    "status": status,
                    "idempotency_key": our_key,
                }
            ]
        for body in bodies:
            self.acknowledge(played.code, body, url=payload.get("acknowledge_url"))

    # --- calling Redress ----------------------------------------------------------------

    def acknowledge(self, code: str, body: dict, *, url: str | None = None, key: str = "") -> int:
        """Send one signed acknowledgement (retried on a server error or no answer); the
        HTTP status Redress gave, 0 if it could not be reached."""
        played = self.platforms[code]
        url = url or f"{self.site_url}/api/v1/platforms/{code}/acknowledgements/"
        key = key or _ack_key(code, json.dumps(body, sort_keys=True))
        with self._send_lock:
            status, answer = self._signed_post(played, url, body, key)
        played.acknowledged.append({"body": body, "status": status, "answer": answer})
        if status != 200:
            logger.warning("%s: acknowledgement %s answered %s %s", code, body, status, answer)
        return status

    def report_holdings(self, code: str, *, complete: bool = True) -> tuple[int, dict]:
        """Tell Redress what this platform holds (reconciliation)."""
        played = self.platforms[code]
        body = {"complete": complete, "holdings": self.holdings_of(code)}
        key = _ack_key(code, "holdings", time.time_ns())
        return self._signed_post(
            played, f"{self.site_url}/api/v1/platforms/{code}/holdings/", body, key
        )

    def holdings_of(self, code: str) -> list[dict]:
        with self._lock:
            rows = list(self.platforms[code].holdings.values())
        return [{k: v for k, v in row.items() if v not in (None, "")} for row in rows]

    def _signed_post(
        self, played: Played, url: str, body: dict, key: str, *, attempts: int = 5
    ) -> tuple[int, dict]:
        data = json.dumps(body, ensure_ascii=False).encode()
        status, answer = 0, {}
        for attempt in range(attempts):
            # Signed afresh each attempt: a signature is accepted once, and a retry after
            # a server error (which Redress rolled back) is the same call under the same key.
            headers = signing.signed_headers(played.secret, data, idempotency_key=key, version="v2")
            try:
                response = self._http.request("POST", url, body=data, headers=headers)
            except urllib3.exceptions.HTTPError as exc:
                status, answer = 0, {"error": str(exc)}
            else:
                status = response.status
                try:
                    answer = json.loads(response.data or b"{}")
                except ValueError:
                    answer = {"error": response.data[:200].decode("utf-8", "replace")}
                if status < 500:
                    return status, answer
            if self._stopped.wait(min(2**attempt, 30)):
                break
        return status, answer
