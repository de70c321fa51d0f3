"""The case event log: append an event, compute and verify the hash chain.

Each event's hash is SHA-256 over the canonical JSON of its content and the
previous event's hash (a per-case chain starting from 64 zeros). The canonical
form uses only what an export carries (case reference, actor's username, ...)
so that ``verify_export`` can check a chain offline, without the database.

Every event also signs its case's head (the last event's number and hash) on the case
row with the audit key (``head_sign``), so that a chain cut at its end or rewritten
with recomputed hashes no longer matches what was signed; ``cases.anchoring`` has the
checkpoints and the checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from cases import signing
from cases.held import held_by_pk, held_memo_any
from cases.models import Case, CaseEvent, Record, RecordEvent
from cases.signals import case_event_recorded, record_event_recorded
from cases.vocabulary import EventKind, event_kind_check

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_FORMAT = "redress-case-head/1"


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


def case_lock(case: Case | int) -> Case:
    """Re-read the case under a row lock; the caller must be inside ``transaction.atomic``.

    The case a step's completion holds (``cases.held``) is already locked in this
    transaction: that instance is returned, not read again."""
    pk = case.pk if isinstance(case, Case) else case
    held = held_by_pk(pk)
    if held is not None:
        return held
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("rule_set__list_type", "agency")
        .get(pk=pk)
    )


def event_record(
    case: Case,
    kind: EventKind | str,
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
    (case, seq) constraint refuses a fork if a caller forgot. Signs the case's new
    head onto that row (one ``UPDATE``); without the audit key it raises
    ``KeyUnavailable`` and the change rolls back.

    ``kind`` must be in the vocabulary (``cases.vocabulary.EventKind``), so that every
    page can name the event in the reader's language; any other raises ``ValueError``.
    What is stored and hashed is the kind's code, a plain string.
    """
    kind = event_kind_check(kind).value
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it records")
    if actor is None and not automated:
        raise ValueError("An event without a named person must be marked automated.")
    at = at or timezone.now()
    # Inside a step that holds the case locked (cases.held), the event this function wrote
    # last is the chain's end: a step that records several events reads the end once.
    memo = held_memo_any() if held_by_pk(case.pk) is not None else None
    last = memo.get(("last_event", case.pk)) if memo is not None else None
    if last is None:
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
    if memo is not None:
        memo[("last_event", case.pk)] = {"seq": event.seq, "hash": event.hash}
    head_sign(
        case,
        seq=event.seq,
        hash_=event.hash,
        previous=(last["seq"], last["hash"]) if last else (0, ""),
    )
    case_event_recorded.send(sender=CaseEvent, case=case, event=event)
    return event


def record_event_payload(event: RecordEvent) -> dict:
    """A record event as hashed: plain JSON types only, the record named by its agency,
    decision number and subject (what stays true of it)."""
    record = event.record
    return {
        "record": f"{record.agency.code}|{record.decision_no}|{record.subject.code}",
        "seq": event.seq,
        "kind": event.kind,
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


def record_event_record(
    record: Record,
    kind: EventKind | str,
    *,
    role: str,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    data: dict | None = None,
    rule_version: str = "",
    at: datetime | None = None,
) -> RecordEvent:
    """Append an event to the record's own trail (something that happened to the record
    outside any case, done by the system or a platform: always automated).

    Like ``event_record``: inside the caller's transaction, after the caller locked the
    record row; the unique (record, seq) constraint refuses a fork. ``kind`` must be in
    the vocabulary. Sends ``record_event_recorded`` so that the subscribers queue what
    the event calls for.
    """
    kind = event_kind_check(kind).value
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "record_event_record must run inside the transaction of the change it records"
        )
    last = RecordEvent.objects.filter(record=record).order_by("-seq").values("seq", "hash").first()
    event = RecordEvent(
        record=record,
        seq=(last["seq"] + 1) if last else 1,
        kind=kind,
        actor_role=role,
        automated=True,
        at=at or timezone.now(),
        before=_plain(before or {}),
        after=_plain(after or {}),
        note=note,
        data=_plain(data or {}),
        rule_version=rule_version,
        prev_hash=last["hash"] if last else GENESIS,
    )
    event.hash = payload_hash(record_event_payload(event))
    event.save()
    record_event_recorded.send(sender=RecordEvent, record=record, event=event)
    return event


def head_message(reference: str, seq: int, hash_: str) -> bytes:
    """The bytes a case head's signature covers."""
    return canonical_json({"format": HEAD_FORMAT, "case": reference, "seq": seq, "hash": hash_})


def head_sign(case: Case, *, seq: int, hash_: str, previous: tuple[int, str]) -> bool:
    """Sign ``seq``/``hash_`` as the case's head, on the (locked) case row: one UPDATE.

    The head moves only from ``previous`` (the event before, or ``(0, "")``). If the
    row holds another head (events at the end were removed, or the case predates
    anchoring and was never adopted), it stays where it is rather than vouch for a cut
    chain, ``verify_events`` keeps naming the mismatch, and this returns False.
    """
    signature = signing.sign(head_message(case.reference, seq, hash_))
    moved = Case.objects.filter(pk=case.pk, head_seq=previous[0], head_hash=previous[1]).update(
        head_seq=seq, head_hash=hash_, head_signature=signature
    )
    if moved:
        case.head_seq, case.head_hash, case.head_signature = seq, hash_, signature
        return True
    logger.error(
        "Case %s: its signed head does not match its event #%s, so it is not moved to "
        "event #%s. Run 'manage.py verify_events --case %s'.",
        case.reference,
        previous[0],
        seq,
        case.reference,
    )
    return False


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
        # A case's chain names its case; a record's own trail names its record.
        ref = payload["case"] if "case" in payload else f"record {payload['record']}"
        seq, kind = payload["seq"], payload["kind"]
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


def case_event_payloads_by_case(cases: Iterable[Case]) -> Iterator[tuple[Case, list[dict]]]:
    """Each case of ``cases`` with its events' payloads in order, the events of all of
    them read in one query (by the chain's index, case by case): for a batch of cases,
    one query instead of one a case. Holds the batch's events in memory."""
    cases = list(cases)
    events: dict[int, list[CaseEvent]] = {case.pk: [] for case in cases}
    for event in (
        CaseEvent.objects.filter(case_id__in=list(events)).order_by("case_id", "seq").iterator()
    ):
        events[event.case_id].append(event)
    for case in cases:
        yield case, [event_payload(event, reference=case.reference) for event in events[case.pk]]


def record_event_payloads(record: Record) -> Iterator[dict]:
    for event in (
        RecordEvent.objects.filter(record=record)
        .select_related("record__agency", "record__subject")
        .order_by("seq")
        .iterator()
    ):
        yield record_event_payload(event)
