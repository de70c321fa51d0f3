"""Anchoring the case event chains outside the database.

A hash chain shows a changed event, but not a chain cut at its end or rewritten from
some event on with the hashes recomputed: anyone who can write to the database can do
that with our own hash function. Three anchors make those visible:

* **Signed heads.** Every event moves its case's head (last event number and hash) on
  the case row, signed with the audit key (``cases.signing``), in the transaction of
  the event. The database does not hold the key, so a cut or rewritten chain no longer
  ends at the head it signed, and a head cannot be moved to match.
* **Checkpoints.** Periodically (Celery beat) and on demand (``audit_checkpoint``,
  every export), each agency's case heads, decision dates and the reference counters
  are signed as one checkpoint, chained to the one before, kept in the database and
  copied to a write-once store outside it (``STORAGES["checkpoints"]``). A case or an
  event removed after a checkpoint, even with an old signed head put back, is named
  against it; references are issued without gaps, so a case removed before any
  checkpoint leaves a hole in the numbers.
* **The database refuses** UPDATE and DELETE of events and checkpoints (PostgreSQL
  trigger, migration 0009), whoever asks; only a superuser who disables the trigger gets
  through, and then the anchors above show what was done.

``verify_events`` (database) and ``verify_export`` (an export, offline) run these checks
and name every problem in words an auditor can act on.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from cases import signing
from cases.events import (
    GENESIS,
    canonical_json,
    case_event_payloads,
    case_lock,
    chain_verify,
    head_message,
    head_sign,
)
from cases.models import Agency, AuditCheckpoint, Case, CaseEvent, ReferenceCounter

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "redress-checkpoint/1"
REFERENCE_NUMBER = re.compile(r"-(\d{4})-(\d+)$")
_PAIR_BATCH = 500


# --- heads --------------------------------------------------------------------------------------


def head_problem(
    key: Ed25519PublicKey,
    *,
    reference: str,
    head_seq: int,
    head_hash: str,
    signature: str,
    last_seq: int | None,
    last_hash: str,
) -> str | None:
    """Why a case's signed head does not vouch for its chain (ending at ``last_seq`` with
    ``last_hash``; ``last_seq`` None: somewhere before the head), or None when it does."""
    if not signature:
        return (
            "has no signed head, so the end of its chain is not anchored (a case from before "
            "anchoring is adopted with 'manage.py audit_checkpoint --adopt')"
        )
    bad = signing.signature_problem(key, head_message(reference, head_seq, head_hash), signature)
    if bad:
        return f"its signed head (event #{head_seq}) cannot be trusted: {bad}"
    if last_seq is None or last_seq < head_seq:
        ending = (
            "ends before it"
            if last_seq is None
            else (f"ends at event #{last_seq}" if last_seq else "has no events")
        )
        return (
            f"its signed head is event #{head_seq}, but its chain {ending}: "
            "events at the end were removed"
        )
    if last_seq > head_seq:
        return (
            f"events after #{head_seq} are not covered by its signed head: they were added "
            "outside Redress, or after the head had stopped matching the chain"
        )
    if last_hash != head_hash:
        return (
            f"event #{head_seq} is not the event its signed head vouches for: the chain was "
            "rewritten and its hashes recomputed"
        )
    return None


def heads_adopt(*, agency: Agency | None = None) -> tuple[list[str], list[str]]:
    """Sign the head of every case that has none (cases from before anchoring).

    Trust on first use: what the chain says now is what gets signed, so run it once,
    right after upgrading, and only on a chain that verifies. Returns the references
    adopted and the problems of those refused.
    """
    adopted, refused = [], []
    cases = Case.objects.filter(head_signature="").order_by("reference")
    if agency is not None:
        cases = cases.filter(agency=agency)
    for pk in cases.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            case = case_lock(pk)
            if case.head_signature:
                continue
            payloads = list(case_event_payloads(case))
            if not payloads:
                refused.append(f"{case.reference}: has no events to anchor")
                continue
            broken = chain_verify(payloads)
            if broken is not None:
                refused.append(f"{broken} (not adopted)")
                continue
            Case.objects.filter(pk=case.pk).update(head_seq=0, head_hash="")
            head_sign(case, seq=payloads[-1]["seq"], hash_=payloads[-1]["hash"], previous=(0, ""))
            adopted.append(case.reference)
    return adopted, refused


# --- checkpoints --------------------------------------------------------------------------------


@dataclass
class CheckpointRun:
    """What ``checkpoints_take`` did, per agency code."""

    taken: list[AuditCheckpoint] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)


def checkpoints_take(*, force: bool = False, agencies: Iterable[Agency] | None = None):
    """Take a checkpoint of each agency whose cases changed since its last one.

    Run by Celery beat every ``REDRESS_AUDIT_CHECKPOINT_MINUTES`` and by
    ``manage.py audit_checkpoint``. Also copies any agency's latest checkpoint that
    is not yet in the write-once store (the store was unreachable last time).
    """
    run = CheckpointRun()
    references = reference_state(_latest_bodies())
    for agency in agencies if agencies is not None else Agency.objects.order_by("code"):
        checkpoint = checkpoint_take(agency=agency, force=force, references=references)
        if checkpoint is None:
            run.unchanged.append(agency.code)
            checkpoint = AuditCheckpoint.objects.filter(agency=agency).order_by("-seq").first()
        else:
            run.taken.append(checkpoint)
        if checkpoint is not None and not checkpoint_publish(checkpoint):
            run.unpublished.append(f"{agency.code} #{checkpoint.seq}")
    return run


def checkpoint_take(
    *, agency: Agency, force: bool = False, references: dict | None = None
) -> AuditCheckpoint | None:
    """Sign the agency's case heads as they are now; None if nothing changed (unless
    ``force``). Every case the previous checkpoint listed must still be there with at
    least that event: if not, this checkpoint says so, and so does every later one."""
    signing.private_key()  # no key, no checkpoint: fail before anything is read
    references = references if references is not None else reference_state(_latest_bodies())
    with transaction.atomic():
        # One checkpoint writer per agency at a time: the next number depends on the last.
        Agency.objects.select_for_update().filter(pk=agency.pk).first()
        previous = AuditCheckpoint.objects.filter(agency=agency).order_by("-seq").first()
        earlier = json.loads(previous.body) if previous is not None else None
        content = _checkpoint_content(agency, earlier, references)
        # The counters move with any agency's new case; the newest high-water mark is
        # in that agency's checkpoint, so they alone do not call for a new one here.
        unchanged = earlier is not None and all(
            earlier.get(name) == value for name, value in content.items() if name != "references"
        )
        if unchanged and not force:
            return None
        now = timezone.now()
        key = signing.public_key()
        body = {
            "format": CHECKPOINT_FORMAT,
            "agency": agency.code,
            "seq": previous.seq + 1 if previous is not None else 1,
            "prev": previous.hash if previous is not None else GENESIS,
            "taken_at": now.astimezone(datetime.UTC).isoformat(timespec="seconds"),
            "key": signing.key_id(key),
            **content,
        }
        text = canonical_json(body).decode("utf-8")
        checkpoint = AuditCheckpoint(
            agency=agency,
            seq=body["seq"],
            taken_at=now,
            body=text,
            hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            prev_hash=body["prev"],
            signature=signing.sign(text.encode("utf-8")),
        )
        checkpoint.save()
    return checkpoint


def checkpoints_latest() -> dict[int, AuditCheckpoint]:
    """Each agency's latest checkpoint in the database, by agency id (one query)."""
    newest = AuditCheckpoint.objects.filter(agency=OuterRef("agency")).order_by("-seq")
    latest = AuditCheckpoint.objects.filter(seq=Subquery(newest.values("seq")[:1]))
    return {c.agency_id: c for c in latest.select_related("agency")}


def _latest_bodies() -> list[dict]:
    return [json.loads(c.body) for c in checkpoints_latest().values()]


def _local_day(at: datetime.datetime | None) -> str:
    return timezone.localdate(at).isoformat() if at is not None else ""


def _checkpoint_content(agency: Agency, earlier: dict | None, references: dict) -> dict:
    """The signed part of a checkpoint that changes when the agency's cases do."""
    key = signing.public_key()
    cases = list(
        Case.objects.filter(agency=agency)
        .order_by("reference")
        .values_list(
            "pk",
            "reference",
            "head_seq",
            "head_hash",
            "head_signature",
            "decided_at",
            "revoked_at",
        )
    )
    # The event each head names, and any event after it: one query.
    tails: dict[int, dict[int, str]] = defaultdict(dict)
    for case_id, seq, hash_ in CaseEvent.objects.filter(
        case__agency=agency, case__head_seq__gt=0, seq__gte=F("case__head_seq")
    ).values_list("case_id", "seq", "hash"):
        tails[case_id][seq] = hash_
    entries, problems = [], []
    by_reference: dict[str, tuple[int, int, str]] = {}
    for pk, reference, head_seq, head_hash, signature, decided_at, revoked_at in cases:
        tail = tails.get(pk, {})
        last_seq = max(tail) if tail else None
        problem = head_problem(
            key,
            reference=reference,
            head_seq=head_seq,
            head_hash=head_hash,
            signature=signature,
            last_seq=last_seq,
            last_hash=tail.get(last_seq, ""),
        )
        by_reference[reference] = (pk, head_seq, head_hash)
        if problem is not None:
            problems.append([reference, problem])
        else:
            entries.append(
                [reference, head_seq, head_hash, _local_day(decided_at), _local_day(revoked_at)]
            )
    if earlier is not None:
        problems.extend(_since(earlier, by_reference, {p[0] for p in problems}))
    problems.sort()
    return {
        "cases": entries,
        "case_count": len(cases),
        "problems": problems,
        "references": references["counters"],
        "reference_problems": references["problems"],
    }


def _since(earlier: dict, current: dict[str, tuple[int, int, str]], known: set[str]) -> list:
    """Problems with the cases the earlier checkpoint listed: gone, cut or rewritten since."""
    problems = []
    label = f"checkpoint #{earlier.get('seq')} of {earlier.get('taken_at', '')[:10]}"
    wanted: dict[tuple[int, int], tuple[str, str]] = {}
    for reference, seq, hash_, *_dates in earlier.get("cases", []):
        if reference in known:
            continue
        if reference not in current:
            problems.append(
                [
                    reference,
                    f"listed with event #{seq} in {label}, it is no longer in the database: "
                    "the case was deleted",
                ]
            )
            continue
        pk, head_seq, head_hash = current[reference]
        if head_seq < seq:
            problems.append(
                [reference, f"{label} vouches for event #{seq}, but its head is now #{head_seq}"]
            )
        elif (head_seq, head_hash) != (seq, hash_):
            # Moved on since: the event the earlier checkpoint named must still be there.
            wanted[(pk, seq)] = (reference, hash_)
        # else: unchanged, and the head was just checked against the chain.
    for pairs in _batches(list(wanted), _PAIR_BATCH):
        found = {
            (case_id, seq): hash_
            for case_id, seq, hash_ in CaseEvent.objects.filter(
                reduce(or_, (Q(case_id=pk, seq=seq) for pk, seq in pairs))
            ).values_list("case_id", "seq", "hash")
        }
        for pair in pairs:
            reference, hash_ = wanted[pair]
            if found.get(pair) != hash_:
                what = "is missing" if pair not in found else "has changed"
                problems.append([reference, f"event #{pair[1]}, vouched for by {label}, {what}"])
    # A problem the earlier checkpoint recorded about a case that is gone stays recorded.
    for reference, text in earlier.get("problems", []):
        if reference not in current and reference not in known:
            problems.append([reference, text])
    unique = {tuple(p) for p in problems}
    return [list(p) for p in sorted(unique)]


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def reference_state(earlier: Iterable[dict] = ()) -> dict:
    """The reference counters (the high-water mark of each year, as far as any checkpoint
    knows) and the problems with them: a number never used by a case, a counter gone back.

    References are issued without gaps (``cases.transitions.reference_allocate``), so a
    number below the counter with no case is a case that was deleted.
    """
    counters = {str(c.year): c.last for c in ReferenceCounter.objects.all()}
    marks = dict(counters)
    for body in earlier:
        for year, last in (body.get("references") or {}).items():
            marks[year] = max(marks.get(year, 0), last)
    used: dict[str, set[int]] = defaultdict(set)
    for reference in Case.objects.values_list("reference", flat=True).iterator():
        match = REFERENCE_NUMBER.search(reference)
        if match:
            used[match.group(1)].add(int(match.group(2)))
    problems = []
    for year in sorted(marks):
        if counters.get(year, 0) < marks[year]:
            problems.append(
                f"the reference counter of {year} went back from {marks[year]} to "
                f"{counters.get(year, 0)}: the newest cases were deleted"
            )
        missing = sorted(set(range(1, marks[year] + 1)) - used[year])
        for first, last in _runs(missing):
            problems.append(_missing_references(int(year), first, last))
    return {"counters": marks, "problems": problems}


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _missing_references(year: int, first: int, last: int) -> str:
    prefix = settings.REDRESS_REFERENCE_PREFIX
    if first == last:
        return (
            f"no case has reference {prefix}-{year}-{first:06d}: references are issued "
            "without gaps, so the case was deleted"
        )
    return (
        f"no case has a reference from {prefix}-{year}-{first:06d} to "
        f"{prefix}-{year}-{last:06d}: references are issued without gaps, so "
        f"{last - first + 1} cases were deleted"
    )


# --- the write-once store outside the database ----------------------------------------------


def checkpoint_document(checkpoint: AuditCheckpoint) -> dict:
    """A checkpoint as it is stored outside the database and put into exports."""
    return {"body": checkpoint.body, "signature": checkpoint.signature}


def _store_name(agency_code: str, seq: int) -> str:
    return f"{agency_code}/{seq:08d}.json"


def checkpoint_publish(checkpoint: AuditCheckpoint) -> bool:
    """Copy a checkpoint to the write-once store (never over an existing copy).

    False (and logged) when the store cannot be written: the next run tries again.
    """
    storage = storages["checkpoints"]
    name = _store_name(checkpoint.agency.code, checkpoint.seq)
    try:
        if storage.exists(name):
            return True
        content = json.dumps(checkpoint_document(checkpoint), ensure_ascii=False)
        storage.save(name, ContentFile(content.encode("utf-8")))
    except Exception:  # storage back-ends raise their own types (OSError, botocore, ...)
        logger.exception(
            "Checkpoint #%s of %s could not be written to the checkpoint store",
            checkpoint.seq,
            checkpoint.agency.code,
        )
        return False
    return True


def checkpoint_published_latest(agency_code: str) -> tuple[int, dict] | None:
    """The highest-numbered copy of the agency's checkpoints in the write-once store."""
    storage = storages["checkpoints"]
    try:
        _dirs, files = storage.listdir(agency_code)
    except (FileNotFoundError, NotADirectoryError):
        return None
    numbered = []
    for name in files:
        stem = name.removesuffix(".json")
        if stem.isdigit():
            numbered.append((int(stem), name))
    if not numbered:
        return None
    seq, name = max(numbered)
    with storage.open(f"{agency_code}/{name}", "rb") as handle:
        return seq, json.loads(handle.read().decode("utf-8"))


def checkpoint_open(document: dict, key: Ed25519PublicKey) -> tuple[dict | None, str | None]:
    """The body of a stored or exported checkpoint if ``key`` signed it, else the problem."""
    text = document.get("body") if isinstance(document, dict) else None
    if not isinstance(text, str):
        return None, "it is not a checkpoint"
    problem = signing.signature_problem(
        key, text.encode("utf-8"), str(document.get("signature", ""))
    )
    if problem:
        return None, problem
    try:
        body = json.loads(text)
    except ValueError:
        return None, "its body is not JSON"
    if body.get("format") != CHECKPOINT_FORMAT:
        return None, f"its format is {body.get('format')!r}, not {CHECKPOINT_FORMAT}"
    return body, None
