"""The case event log: append an event, compute and verify the hash chain.

Each event's hash is SHA-256 over the canonical JSON of its content and the
previous event's hash (a per-case chain starting from 64 zeros). The canonical
form uses only what an export carries (case reference, actor's username, ...)
so that ``verify_export`` can check a chain offline, without the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from cases.models import Case, CaseEvent
from cases.signals import case_event_recorded

GENESIS = "0" * 64


def canonical_json(value) -> bytes:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_payload(event: CaseEvent, *, reference: str) -> dict:
    """The event as exported (JSON Lines) and as hashed: plain JSON types only."""
    return {
        "case": reference,
        "seq": event.seq,
        "kind": event.kind,
        "actor": event.actor_name,
        "role": event.actor_role,
        "automated": event.automated,
        "at": _iso(event.at),
        "before": event.before,
        "after": event.after,
        "note": event.note,
        "data": event.data,
        "rule_version": event.rule_version,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def payload_hash(payload: dict) -> str:
    """The hash an event with this payload must carry (``hash`` itself is left out)."""
    content = {k: v for k, v in payload.items() if k != "hash"}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def event_record(
    case: Case,
    kind: str,
    *,
    actor: AbstractBaseUser | None,
    role: str,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    data: dict | None = None,
    automated: bool = False,
    at: datetime | None = None,
) -> CaseEvent:
    """Append an event to the case's chain.

    Must run inside the caller's transaction, after the caller locked the case
    row (``select_for_update``): the lock orders appenders, and the unique
    (case, seq) constraint refuses a fork if a caller forgot.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it records")
    if actor is None and not automated:
        raise ValueError("An event without a named person must be marked automated.")
    at = at or timezone.now()
    last = CaseEvent.objects.filter(case=case).order_by("-seq").values("seq", "hash").first()
    event = CaseEvent(
        case=case,
        seq=(last["seq"] + 1) if last else 1,
        kind=kind,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        actor_role=role,
        automated=automated,
        at=at,
        before=_plain(before or {}),
        after=_plain(after or {}),
        note=note,
        data=_plain(data or {}),
        rule_version=case.rule_set.label if case.rule_set_id else "",
        prev_hash=last["hash"] if last else GENESIS,
    )
    event.hash = payload_hash(event_payload(event, reference=case.reference))
    event.save()
    case_event_recorded.send(sender=CaseEvent, case=case, event=event)
    return event


def _plain(value: dict) -> dict:
    """Round-trip through JSON so that what is hashed is exactly what is stored."""
    return json.loads(canonical_json(value))


@dataclass(frozen=True)
class BrokenLink:
    reference: str
    seq: int
    kind: str
    problem: str

    def __str__(self) -> str:
        return f"{self.reference}: event #{self.seq} ({self.kind}): {self.problem}"


def chain_verify(payloads: Iterable[dict]) -> BrokenLink | None:
    """Check one case's events, in order; return the first broken link or None."""
    expected_prev = GENESIS
    expected_seq = 1
    for payload in payloads:
        ref, seq, kind = payload["case"], payload["seq"], payload["kind"]
        if seq != expected_seq:
            return BrokenLink(ref, seq, kind, f"expected event #{expected_seq}: events are missing")
        if payload["prev_hash"] != expected_prev:
            return BrokenLink(
                ref,
                seq,
                kind,
                "does not link to the event before it (an event was changed or removed)",
            )
        computed = payload_hash(payload)
        if computed != payload["hash"]:
            return BrokenLink(
                ref,
                seq,
                kind,
                f"content does not match its hash (stored {payload['hash'][:12]}…, "
                f"computed {computed[:12]}…): the event was altered",
            )
        expected_prev = payload["hash"]
        expected_seq += 1
    return None


def case_event_payloads(case: Case) -> Iterator[dict]:
    for event in CaseEvent.objects.filter(case=case).order_by("seq").iterator():
        yield event_payload(event, reference=case.reference)
