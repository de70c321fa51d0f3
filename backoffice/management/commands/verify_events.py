"""Check every case's audit trail against its anchors.

    python manage.py verify_events                 # every case
    python manage.py verify_events --case RD-2025-000001
    python manage.py verify_events --public-key auditor-copy.pem

For each case: every event links to the one before and matches its hash, and the chain
ends at the head the audit key signed (so a cut or a rewrite with recomputed hashes
shows). Then, for the whole database: every case the latest signed checkpoint of each
agency lists is still there with at least the event it vouched for (the checkpoint is
read from the database and from the write-once store, whichever is newer), checkpoints
follow each other, and no case reference is missing (they are issued without gaps).
Each record's own trail (events outside a case: publication ended at its maximum) must
link and match its hashes too.

Prints one line per problem, in words an auditor can act on, and exits non-zero; or a
summary when everything holds. Cases are read in batches of ``BATCH``, each batch's
events in one query, so memory use does not grow with the log (it holds one batch). The public key comes from the signing key file, or ``--public-key``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases import signing
from cases.anchoring import (
    checkpoint_document,
    checkpoint_open,
    checkpoint_published_latest,
    checkpoints_latest,
    head_problem,
    reference_state,
)
from cases.events import (
    BrokenLink,
    case_event_payloads_by_case,
    chain_verify,
    record_event_payloads,
)
from cases.models import Agency, AuditCheckpoint, Case, Record, RecordEvent

# Cases whose events are read in one query: one query a case made the check of 100,000
# cases take a round trip and a query's planning each (issue 16, bench/RESULTS.md).
BATCH = 500


class Command(BaseCommand):
    help = (
        "Verify every case's event chain against its signed head, the latest signed "
        "checkpoints and the gap-free case references; name every problem found."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--case", metavar="REFERENCE", help="Check only this case, e.g. RD-2025-000001."
        )
        parser.add_argument(
            "--public-key",
            metavar="PEM",
            help="Check signatures with this public key (default: the signing key's own).",
        )

    def handle(self, *args, **options):
        key = self._public_key(options["public_key"])
        cases = Case.objects.only(
            "pk", "reference", "agency_id", "head_seq", "head_hash", "head_signature"
        ).order_by("reference")
        if options["case"]:
            cases = cases.filter(reference=options["case"])
            if not cases.exists():
                raise CommandError(f"No case with reference {options['case']}.")

        others: list[str] = []
        notes: list[str] = []
        vouched, bodies = self._checkpoints(key, others, notes)

        checked = events = 0
        broken: list[str] = []
        broken_records: list[str] = []
        present: set[str] = set()
        for case, payloads in _by_batch(cases):
            checked += 1
            present.add(case.reference)
            wanted = vouched.get(case.reference)
            counted = _Counted(payloads, wanted[1] if wanted else None)
            link = chain_verify(counted)
            events += counted.count
            if link is None and counted.count == 0:
                # case_submit writes the first event with the case: a case without
                # any has lost its whole trail, which the chain alone cannot show.
                link = BrokenLink(case.reference, 1, "submitted", "the case has no events at all")
            problem = str(link) if link is not None else None
            if problem is None:
                head = head_problem(
                    key,
                    reference=case.reference,
                    head_seq=case.head_seq,
                    head_hash=case.head_hash,
                    signature=case.head_signature,
                    last_seq=counted.last_seq,
                    last_hash=counted.last_hash,
                )
                problem = f"{case.reference}: {head}" if head else None
            if problem is not None:
                broken.append(problem)
                self.stdout.write(self.style.ERROR(problem))
            if wanted is not None and link is None and counted.vouched != wanted[2]:
                label, seq, _hash = wanted
                what = "is missing" if counted.vouched is None else "has changed"
                others.append(f"{case.reference}: event #{seq}, vouched for by {label}, {what}")

        if not options["case"]:
            for reference, (label, seq, _hash) in sorted(vouched.items()):
                if reference not in present:
                    others.append(
                        f"{reference}: listed with event #{seq} in {label}, it is no longer "
                        "in the database: the case was deleted"
                    )
            for body in bodies:
                for reference, text in body.get("problems", []):
                    if reference not in present and reference not in vouched:
                        others.append(f"{reference}: {text} (recorded by {_label(body)})")
            others.extend(reference_state(bodies)["problems"])
            # A record's own trail (publication ended at its maximum, cases.expiry).
            with_trail = RecordEvent.objects.values("record_id")
            for record in Record.objects.filter(pk__in=with_trail).order_by("pk").iterator():
                link = chain_verify(record_event_payloads(record))
                if link is not None:
                    broken_records.append(str(link))
                    self.stdout.write(self.style.ERROR(str(link)))

        for problem in dict.fromkeys(others):
            self.stdout.write(self.style.ERROR(problem))
        for note in notes:
            self.stdout.write(self.style.WARNING(note))
        failures = []
        if broken:
            failures.append(f"{len(broken)} of {checked} case chains are broken.")
        if broken_records:
            failures.append(f"{len(broken_records)} records' own event trails are broken.")
        unique_others = len(dict.fromkeys(others))
        if unique_others:
            failures.append(
                f"{unique_others} other problem(s) with the checkpoints and case references."
            )
        if failures:
            raise CommandError(" ".join(failures))
        self.stdout.write(
            self.style.SUCCESS(f"Checked {checked} cases, {events} events: all chains intact.")
        )
        if bodies:
            self.stdout.write(
                "Every case is still as the latest checkpoints vouch: "
                + ", ".join(_label(body) for body in bodies)
                + "."
            )

    def _public_key(self, path: str | None):
        if path:
            try:
                return signing.public_key_load(Path(path).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--public-key {path}: {exc}") from None
        try:
            return signing.public_key()
        except signing.KeyUnavailable as exc:
            raise CommandError(f"{exc} (or pass the public key with --public-key)") from None

    def _checkpoints(self, key, others: list[str], notes: list[str]):
        """The latest trustworthy checkpoint of each agency: what it vouches for, per case
        reference (label, event number, hash), and the bodies."""
        chains: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        for agency_id, seq, hash_, prev_hash in AuditCheckpoint.objects.order_by(
            "agency_id", "seq"
        ).values_list("agency_id", "seq", "hash", "prev_hash"):
            chains[agency_id].append((seq, hash_, prev_hash))
        latest = checkpoints_latest()
        vouched: dict[str, tuple[str, int, str]] = {}
        bodies: list[dict] = []
        for agency_id, code in Agency.objects.order_by("code").values_list("id", "code"):
            others.extend(_chain_problems(code, chains.get(agency_id, [])))
            in_db = latest.get(agency_id)
            try:
                stored = checkpoint_published_latest(code)
            except Exception as exc:  # noqa: BLE001 - any storage back-end: say so, go on
                notes.append(f"{code}: the write-once checkpoint store cannot be read ({exc}).")
                stored = None
            document, where = _newer(code, in_db, stored, others, notes)
            if document is None:
                continue
            body, problem = checkpoint_open(document, key)
            if problem is not None:
                others.append(f"{code}: the latest checkpoint {where} cannot be trusted: {problem}")
                continue
            if body.get("agency") != code:
                others.append(f"{code}: the latest checkpoint {where} is {body.get('agency')}'s")
                continue
            bodies.append(body)
            for reference, seq, hash_, *_dates in body.get("cases", []):
                vouched[reference] = (_label(body), seq, hash_)
        return vouched, bodies


def _by_batch(cases):
    """Each case with its events' payloads, ``BATCH`` cases' events read at a time."""
    rows = cases.iterator(chunk_size=BATCH)
    while batch := list(itertools.islice(rows, BATCH)):
        yield from case_event_payloads_by_case(batch)


def _label(body: dict) -> str:
    return (
        f"{body.get('agency')}'s checkpoint #{body.get('seq')} of {str(body.get('taken_at'))[:10]}"
    )


def _chain_problems(code: str, chain: list[tuple[int, str, str]]) -> list[str]:
    problems = []
    previous_seq, previous_hash = 0, "0" * 64
    for seq, hash_, prev_hash in chain:
        if seq != previous_seq + 1:
            problems.append(
                f"{code}: checkpoints #{previous_seq + 1} to #{seq - 1} are missing from the "
                "database: they were deleted"
            )
        elif prev_hash != previous_hash:
            problems.append(
                f"{code}: checkpoint #{seq} does not follow checkpoint #{previous_seq}: "
                "a checkpoint was replaced"
            )
        previous_seq, previous_hash = seq, hash_
    return problems


def _newer(code, in_db: AuditCheckpoint | None, stored, others: list[str], notes: list[str]):
    """Whichever of the database's and the store's latest checkpoint is newer, and where."""
    if in_db is not None and hashlib.sha256(in_db.body.encode()).hexdigest() != in_db.hash:
        others.append(f"{code}: checkpoint #{in_db.seq} in the database was changed")
    if stored is None:
        if in_db is None:
            return None, ""
        notes.append(
            f"{code}: checkpoint #{in_db.seq} is not in the write-once store yet "
            "(run 'manage.py audit_checkpoint')."
        )
        return checkpoint_document(in_db), "in the database"
    stored_seq, document = stored
    if in_db is None or stored_seq > in_db.seq:
        others.append(
            f"{code}: checkpoint #{stored_seq} is in the write-once store but not in the "
            "database: checkpoints were deleted from the database"
        )
        return document, "in the write-once store"
    if stored_seq == in_db.seq and document != checkpoint_document(in_db):
        others.append(
            f"{code}: checkpoint #{in_db.seq} in the database differs from its copy in the "
            "write-once store"
        )
        return document, "in the write-once store"
    if stored_seq < in_db.seq:
        notes.append(
            f"{code}: checkpoint #{in_db.seq} is not in the write-once store yet "
            "(run 'manage.py audit_checkpoint')."
        )
    return checkpoint_document(in_db), "in the database"


class _Counted:
    """Pass payloads through while counting them, without keeping them; remember the
    last one and the hash of the event a checkpoint vouched for."""

    def __init__(self, payloads, wanted_seq: int | None):
        self._payloads = payloads
        self._wanted = wanted_seq
        self.count = 0
        self.last_seq = 0
        self.last_hash = ""
        self.vouched: str | None = None

    def __iter__(self):
        for payload in self._payloads:
            self.count += 1
            self.last_seq, self.last_hash = payload["seq"], payload["hash"]
            if payload["seq"] == self._wanted:
                self.vouched = payload["hash"]
            yield payload
