"""The auditor's export: an agency's decisions of a period as one ZIP, verifiable offline.

Layout of the ZIP::

    letters/<reference>/<kind>-<code>.pdf   every issued letter of the cases
    events.jsonl                            every case event up to the case's signed
                                            head, one payload per line, in case
                                            (reference) then seq order
    manifest.csv                            one row per letter (cells a spreadsheet
                                            would evaluate are neutralised)
    platform_acknowledgements.csv           per platform: time from decision to its
                                            acknowledgement (median, 95th percentile,
                                            oldest open), as the supervisors see it
    manifest.json                           the same rows (each letter with how and
                                            when it was served), plus the export's
                                            scope and per case: decision, signers,
                                            the appeal window from service, the
                                            appeals and their outcomes, events, last
                                            hash and the signed head
    audit/checkpoint.json                   the agency's signed checkpoint, taken for
                                            the export (see ``cases.anchoring``)
    audit/public_key.pem                    the public key that signed heads and
                                            checkpoint (for convenience: an auditor
                                            checks with the key the agency gave them)

``export_write`` streams: cases and events are read from the database in chunks,
each PDF is copied from storage in pieces, and the ZIP is written to a file object
as it goes, so memory stays flat whatever the number of letters. ``export_verify``
checks a ZIP with no database at all: every letter against the manifest and
against the ``letter_issued`` event that recorded its hash, every case's event
chain against its signed head, and the export against the signed checkpoint (no
case decided in the period left out, no vouched-for event missing or changed).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import F, Q
from django.utils import timezone

from cases import signing
from cases.acknowledgement_times import acknowledgement_times
from cases.anchoring import (
    checkpoint_document,
    checkpoint_open,
    checkpoint_publish,
    checkpoint_take,
    head_problem,
)
from cases.clock import calendar_for
from cases.events import chain_verify, event_payload
from cases.models import Agency, Appeal, AuditCheckpoint, Case, CaseEvent, Signature
from documents.models import Letter, LetterService
from documents.selectors import APPEALABLE_LETTER_KINDS, appeal_periods

FORMAT = "redress-decisions-export/2"
FORMAT_UNSIGNED = "redress-decisions-export/1"  # before chains were anchored
MANIFEST_FIELDS = [
    "case_reference",
    "subject_name",
    "subject_code",
    "case_kind",
    "decision",
    "signers",
    "decided_on",
    "revoked_on",
    "letter_kind",
    "language",
    "verification_code",
    "document_number",
    "issued_on",
    "file",
    "sha256",
    "size",
]
# Per platform, from the decision to its acknowledgement (cases.acknowledgement_times).
ACKNOWLEDGEMENT_FIELDS = [
    "code",
    "name",
    "effect",
    "measure",
    "acknowledged",
    "median_hours",
    "p95_hours",
    "open",
    "oldest_open_hours",
]
# A spreadsheet (Excel, WPS, LibreOffice) reads a CSV cell that starts with a formula
# sign as a formula, so a subject named =HYPERLINK(...) would be a live link in the
# auditor's spreadsheet. OWASP ("CSV Injection") lists =, +, -, @, tab and carriage
# return; ASVS 1.2.10 adds NUL; line feed goes with carriage return. The full-width signs
# are what a Chinese input method types: not every version treats them as formula signs,
# but neutralising them costs nothing.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "＝", "＋", "－", "＠")
COPY_CHUNK = 256 * 1024
CASE_CHUNK = 500
EVENT_CHUNK = 2000


@dataclass
class ExportSummary:
    cases: int = 0
    letters: int = 0
    events: int = 0
    unreadable: list[str] = field(default_factory=list)


def _batched(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def decided_cases(agency: Agency, date_from: datetime.date, date_to: datetime.date):
    """The agency's cases with a decision of a local date in [date_from, date_to].

    Every decision is appealable, so every one is in: approved, partly approved,
    rejected or not accepted on such a day (``decided_at``), or revoked on such a day
    (``revoked_at``: a restoration approved earlier and revoked in the period).
    """
    start, end = _day_start(date_from), _day_start(date_to + datetime.timedelta(days=1))
    return (
        Case.objects.filter(agency=agency)
        .filter(
            Q(decided_at__gte=start, decided_at__lt=end)
            | Q(revoked_at__gte=start, revoked_at__lt=end)
        )
        .order_by("reference")
    )


def case_outcome(case: Case) -> str:
    """The decision as the manifest names it: a non-acceptance has no ``Case.decision``."""
    if case.decision:
        return case.decision
    return "not_accepted" if case.status == Case.Status.NOT_ACCEPTED else ""


def _local_iso(at: datetime.datetime | None) -> str:
    return timezone.localdate(at).isoformat() if at is not None else ""


def spreadsheet_cell(value) -> str:
    """``value`` as a CSV cell that no spreadsheet evaluates.

    A cell that could start a formula (after any leading spaces) gets a leading single
    quote, the spreadsheets' "this is text" mark, as OWASP recommends; anything else is
    written as it is. ``manifest.json`` keeps the values unchanged.
    """
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def manifest_csv_row(row: dict) -> dict:
    """A manifest row as ``manifest.csv`` writes it (and ``export_verify`` expects it)."""
    return {name: spreadsheet_cell(row.get(name)) for name in MANIFEST_FIELDS}


def _zip_time(at: datetime.datetime | None) -> tuple:
    at = timezone.localtime(at or timezone.now())
    return (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)


def _service_row(service: LetterService | None) -> dict | None:
    """How a letter was served, as the manifest carries it (None: not served)."""
    if service is None:
        return None
    return {
        "method": service.method,
        "served_on": service.served_on.isoformat(),
        "receipt_by": service.receipt_by,
        "tracking_number": service.tracking_number,
        "address": service.address,
        "note": service.note,
    }


def _appeals_by_case(by_id: dict) -> dict[int, list[dict]]:
    """The appeals of the cases and their outcomes, as the manifest carries them."""
    appeals = defaultdict(list)
    for appeal in Appeal.objects.filter(case_id__in=by_id).order_by("filed_on", "id"):
        appeals[appeal.case_id].append(
            {
                "kind": appeal.kind,
                "body": appeal.body,
                "filed_on": appeal.filed_on.isoformat(),
                "reference": appeal.reference,
                "outcome": appeal.outcome,
                "outcome_on": appeal.outcome_on.isoformat() if appeal.outcome_on else None,
                "outcome_reference": appeal.outcome_reference,
            }
        )
    return appeals


def _signers_by_case(cases: list[Case]) -> dict[int, list[str]]:
    rounds = {case.pk: case.signoff_round for case in cases}
    signers = defaultdict(list)
    for case_id, round_, username in (
        Signature.objects.filter(case_id__in=rounds)
        .order_by("signed_at", "id")
        .values_list("case_id", "round", "signer__username")
    ):
        if round_ == rounds[case_id]:
            signers[case_id].append(username)
    return signers


def export_write(
    fileobj,
    *,
    agency: Agency,
    date_from: datetime.date,
    date_to: datetime.date,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 100,
) -> ExportSummary:
    """Write the export ZIP to ``fileobj`` (a writable, seekable binary file).

    Takes the agency's checkpoint first (unless nothing changed since the last), so
    the export carries a signed statement of every case head at the time of export.
    """
    checkpoint = (
        checkpoint_take(agency=agency)
        or AuditCheckpoint.objects.filter(agency=agency).order_by("-seq").first()
    )
    if checkpoint is not None:
        checkpoint_publish(checkpoint)  # logged if the store is down; the beat run retries
    cases = decided_cases(agency, date_from, date_to)
    total = Letter.objects.filter(case__in=cases, status=Letter.Status.ISSUED).count()
    summary = ExportSummary()
    progress = progress or (lambda done, total: None)
    progress(0, total)
    storage = Letter.storage()
    rows: list[dict] = []
    case_rows: dict[str, dict] = {}
    calendar = calendar_for(agency)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for batch in _batched(
            cases.select_related("subject", "rule_set__list_type").iterator(chunk_size=CASE_CHUNK),
            CASE_CHUNK,
        ):
            signers = _signers_by_case(batch)
            by_id = {case.pk: case for case in batch}
            services = {
                service.letter_id: service
                for service in LetterService.objects.filter(case_id__in=by_id)
            }
            appeals = _appeals_by_case(by_id)
            for case in batch:
                summary.cases += 1
                case_rows[case.reference] = {
                    "reference": case.reference,
                    "subject_name": case.subject.name,
                    "subject_code": case.subject.code,
                    "case_kind": case.kind,
                    "decision": case_outcome(case),
                    "signers": signers.get(case.pk, []),
                    "decided_on": _local_iso(case.decided_at),
                    "revoked_on": _local_iso(case.revoked_at),
                    "appeal_window": None,
                    "appeals": appeals.get(case.pk, []),
                    "letters": 0,
                    "events": 0,
                    "last_hash": "",
                    "head": {
                        "seq": case.head_seq,
                        "hash": case.head_hash,
                        "signature": case.head_signature,
                    },
                }
            letters = (
                Letter.objects.filter(case_id__in=by_id, status=Letter.Status.ISSUED)
                .order_by("case__reference", "issued_at", "id")
                .only(
                    "id",
                    "case_id",
                    "kind",
                    "language",
                    "verification_code",
                    "document_number",
                    "issued_at",
                    "pdf",
                    "sha256",
                    "size",
                )
            )
            for letter in letters:
                case = by_id[letter.case_id]
                arcname = f"letters/{case.reference}/{letter.kind}-{letter.verification_code}.pdf"
                if not _copy_into(zf, storage, letter.pdf.name, arcname, letter.issued_at):
                    summary.unreadable.append(arcname)
                row = case_rows[case.reference]
                row["letters"] += 1
                service = services.get(letter.pk)
                if service is not None and letter.kind in APPEALABLE_LETTER_KINDS:
                    # The latest appealable letter's service starts the window (decision 0023).
                    row["appeal_window"] = {
                        "letter": letter.verification_code,
                        "served_on": service.served_on.isoformat(),
                        "periods": [
                            {"kind": p.kind, "ends_on": p.ends_on.isoformat(), "basis": p.basis.zh}
                            for p in appeal_periods(case, service.served_on, calendar=calendar)
                        ],
                    }
                rows.append(
                    {
                        "case_reference": case.reference,
                        "subject_name": case.subject.name,
                        "subject_code": case.subject.code,
                        "case_kind": case.kind,
                        "decision": row["decision"],
                        "signers": " ".join(row["signers"]),
                        "decided_on": row["decided_on"],
                        "revoked_on": row["revoked_on"],
                        "letter_kind": letter.kind,
                        "language": letter.language,
                        "verification_code": letter.verification_code,
                        "document_number": letter.document_number,
                        "issued_on": timezone.localdate(letter.issued_at).isoformat(),
                        "file": arcname,
                        "sha256": letter.sha256,
                        "size": letter.size,
                        "service": _service_row(service),
                    }
                )
                summary.letters += 1
                if summary.letters % progress_every == 0:
                    progress(summary.letters, total)
        progress(summary.letters, total)

        events = (
            CaseEvent.objects.filter(case__in=cases)
            .annotate(case_reference=F("case__reference"))
            .order_by("case__reference", "seq")
        )
        info = zipfile.ZipInfo("events.jsonl", date_time=_zip_time(None))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            for event in events.iterator(chunk_size=EVENT_CHUNK):
                row = case_rows.get(event.case_reference)
                if row is not None and 0 < row["head"]["seq"] < event.seq:
                    continue  # recorded after the head was read: the next export has it
                payload = event_payload(event, reference=event.case_reference)
                out.write(json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
                if row is not None:
                    row["events"] += 1
                    row["last_hash"] = event.hash
                summary.events += 1
            out.flush()
            out.detach()

        with zf.open("manifest.csv", "w") as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.DictWriter(out, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(manifest_csv_row(row) for row in rows)
            out.flush()
            out.detach()

        times = [asdict(t) for t in acknowledgement_times([agency.pk])]
        with zf.open("platform_acknowledgements.csv", "w") as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.DictWriter(out, fieldnames=ACKNOWLEDGEMENT_FIELDS)
            writer.writeheader()
            writer.writerows(
                {name: spreadsheet_cell(row[name]) for name in ACKNOWLEDGEMENT_FIELDS}
                for row in times
            )
            out.flush()
            out.detach()

        manifest = {
            "format": FORMAT,
            "agency": {"code": agency.code, "name": agency.name},
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "generated_at": timezone.localtime().isoformat(timespec="seconds"),
            "letters": rows,
            "cases": list(case_rows.values()),
            "platform_acknowledgements": times,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        if checkpoint is not None:
            zf.writestr(
                "audit/checkpoint.json",
                json.dumps(checkpoint_document(checkpoint), ensure_ascii=False),
            )
        zf.writestr("audit/public_key.pem", signing.public_key_pem(signing.public_key()))
    return summary


def _copy_into(zf: zipfile.ZipFile, storage, name: str, arcname: str, at) -> bool:
    """Copy one stored file into the ZIP in pieces; False if storage cannot read it."""
    info = zipfile.ZipInfo(arcname, date_time=_zip_time(at))
    info.compress_type = zipfile.ZIP_STORED  # PDFs are compressed already
    try:
        source = storage.open(name, "rb")
    except OSError:
        return False
    with source, zf.open(info, "w") as target:
        while chunk := source.read(COPY_CHUNK):
            target.write(chunk)
    return True


# --- offline verification ------------------------------------------------------------------


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    letters: int = 0
    cases: int = 0
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256_member(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with zf.open(name) as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _event_groups(zf: zipfile.ZipFile, report: VerifyReport) -> Iterator[tuple[str, list[dict]]]:
    """The events of each case, in file order; one case's events must be contiguous."""
    seen: set[str] = set()
    current: str | None = None
    group: list[dict] = []
    with zf.open("events.jsonl") as raw:
        for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
                reference = payload["case"]
            except (ValueError, KeyError, TypeError):
                report.problems.append(f"events.jsonl line {number}: not an event payload")
                continue
            if reference != current:
                if current is not None:
                    yield current, group
                if reference in seen:
                    report.problems.append(
                        f"events.jsonl line {number}: events of {reference} are not together"
                    )
                seen.add(reference)
                current, group = reference, []
            group.append(payload)
    if current is not None:
        yield current, group


class _Anchors:
    """The export's signed anchors: each case's head and the agency's checkpoint."""

    def __init__(self, key, checkpoint: dict | None, signed: bool):
        self.key = key
        self.checkpoint = checkpoint
        self.signed = signed
        self.vouched = {
            entry[0]: (entry[1], entry[2]) for entry in (checkpoint or {}).get("cases", [])
        }

    @classmethod
    def read(cls, zf, names, manifest: dict, public_key, report: VerifyReport) -> _Anchors:
        fmt = manifest.get("format")
        if fmt == FORMAT_UNSIGNED:
            if public_key is not None:
                report.problems.append(
                    f"the export is in format {fmt}, which carries no signatures: nothing in "
                    "it can be checked against the agency's key"
                )
            else:
                report.notes.append(
                    f"format {fmt}: no signed heads or checkpoint; only the hash chains and "
                    "letters were checked"
                )
            return cls(None, None, signed=False)
        key = public_key
        if key is None:
            if "audit/public_key.pem" not in names:
                report.problems.append(
                    "audit/public_key.pem is missing: pass the agency's public key with "
                    "--public-key to check the signatures"
                )
                return cls(None, None, signed=True)
            try:
                key = signing.public_key_load(zf.read("audit/public_key.pem"))
            except ValueError as exc:
                report.problems.append(f"audit/public_key.pem: {exc}")
                return cls(None, None, signed=True)
            report.notes.append(
                f"signatures checked with the key inside the export (key id "
                f"{signing.key_id(key)}): pass --public-key with the key the agency gave you "
                "to know the export itself is genuine"
            )
        checkpoint = None
        if "audit/checkpoint.json" not in names:
            report.problems.append(
                "audit/checkpoint.json is missing: the export cannot be checked for "
                "left-out decisions"
            )
        else:
            try:
                document = json.loads(zf.read("audit/checkpoint.json"))
            except ValueError:
                document = None
            checkpoint, problem = checkpoint_open(document, key)
            agency = (manifest.get("agency") or {}).get("code")
            if problem is not None:
                report.problems.append(f"audit/checkpoint.json cannot be trusted: {problem}")
            elif checkpoint.get("agency") != agency:
                report.problems.append(
                    f"audit/checkpoint.json is {checkpoint.get('agency')}'s, not {agency}'s"
                )
                checkpoint = None
        return cls(key, checkpoint, signed=True)

    def _label(self) -> str:
        body = self.checkpoint or {}
        return f"checkpoint #{body.get('seq')} of {str(body.get('taken_at'))[:10]}"

    def check_chain(self, reference, payloads: list[dict], case: dict | None, report) -> None:
        """The case's events end at its signed head and hold the event the checkpoint
        vouched for."""
        if not self.signed or self.key is None or case is None:
            return
        head = case.get("head") or {}
        last = payloads[-1] if payloads else {}
        problem = head_problem(
            self.key,
            reference=reference,
            head_seq=int(head.get("seq") or 0),
            head_hash=str(head.get("hash") or ""),
            signature=str(head.get("signature") or ""),
            last_seq=int(last.get("seq") or 0),
            last_hash=str(last.get("hash") or ""),
        )
        if problem is not None:
            report.problems.append(f"{reference}: {problem}")
        if reference in self.vouched:
            seq, hash_ = self.vouched[reference]
            found = next((p.get("hash") for p in payloads if p.get("seq") == seq), None)
            if found != hash_:
                what = "is missing" if found is None else "has changed"
                report.problems.append(
                    f"{reference}: event #{seq}, vouched for by {self._label()}, {what}"
                )

    def check_scope(self, manifest: dict, cases: dict, report) -> None:
        """Every case the checkpoint says was decided or revoked in the period is in the
        export; what the checkpoint recorded as wrong in the database is reported."""
        if self.checkpoint is None:
            return
        first, last = str(manifest.get("from")), str(manifest.get("to"))
        for reference, _seq, _hash, decided_on, revoked_on in self.checkpoint.get("cases", []):
            for what, day in (("decided", decided_on), ("revoked", revoked_on)):
                if day and first <= day <= last and reference not in cases:
                    report.problems.append(
                        f"{reference}: {what} on {day} according to the signed "
                        f"{self._label()}, but missing from the export"
                    )
        for reference, text in self.checkpoint.get("problems", []):
            report.problems.append(f"{reference}: {text} (recorded by {self._label()})")
        for text in self.checkpoint.get("reference_problems", []):
            report.problems.append(f"{text} (recorded by {self._label()})")


def _compare_manifests(
    zf: zipfile.ZipFile, letters: list[dict], report: VerifyReport, *, neutralised: bool
) -> None:
    """``manifest.csv`` must say what ``manifest.json`` says, cell for cell (as written for
    a spreadsheet, see ``spreadsheet_cell``; an export of format 1 wrote cells as they
    were, and had no ``revoked_on`` column)."""
    cell = spreadsheet_cell if neutralised else (lambda value: "" if value is None else str(value))
    with zf.open("manifest.csv") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        csv_rows = {row.get("file", ""): row for row in reader}
        columns = [name for name in MANIFEST_FIELDS if name in (reader.fieldnames or [])]
    json_rows = {cell(row.get("file")): {n: cell(row.get(n)) for n in columns} for row in letters}
    for name in sorted(set(csv_rows) | set(json_rows)):
        in_csv, in_json = csv_rows.get(name), json_rows.get(name)
        if in_csv is None or in_json is None:
            where = "manifest.json" if in_csv is None else "manifest.csv"
            report.problems.append(f"{name}: listed only in {where}")
            continue
        differ = [column for column in columns if in_csv.get(column) != in_json[column]]
        if differ:
            report.problems.append(
                f"{name}: manifest.csv and manifest.json disagree ({', '.join(differ)})"
            )
    missing = [name for name in MANIFEST_FIELDS if name not in columns]
    if neutralised and missing:
        report.problems.append(f"manifest.csv has no column {', '.join(missing)}")


def export_verify(path_or_file, *, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Check an export ZIP without a database; every problem is named in the report.

    Signatures are checked with ``public_key``, the agency's key as the auditor holds
    it; without one, with the key the export carries, which shows any change made
    after the export but not an export forged whole (the report says so in a note).
    """
    report = VerifyReport()
    try:
        zf = zipfile.ZipFile(path_or_file)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"not a readable ZIP file: {exc}")
        return report
    with zf:
        names = set(zf.namelist())
        for required in ("manifest.json", "manifest.csv", "events.jsonl"):
            if required not in names:
                report.problems.append(f"{required} is missing")
        if "manifest.json" not in names:
            return report
        try:
            manifest = json.loads(zf.read("manifest.json"))
            letters = manifest["letters"]
            cases = {c["reference"]: c for c in manifest["cases"]}
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"manifest.json is not a valid manifest: {exc}")
            return report

        if "manifest.csv" in names:
            _compare_manifests(
                zf, letters, report, neutralised=manifest.get("format") != FORMAT_UNSIGNED
            )
        anchors = _Anchors.read(zf, names, manifest, public_key, report)

        issued: dict[str, str] = {}
        chained: set[str] = set()
        if "events.jsonl" in names:
            for reference, payloads in _event_groups(zf, report):
                anchors.check_chain(reference, payloads, cases.get(reference), report)
                chained.add(reference)
                report.cases += 1
                report.events += len(payloads)
                broken = chain_verify(payloads)
                if broken is not None:
                    report.problems.append(f"event chain broken: {broken}")
                expected = cases.get(reference)
                if expected is None:
                    report.problems.append(f"{reference}: events of a case not in the manifest")
                elif (expected.get("events"), expected.get("last_hash")) != (
                    len(payloads),
                    payloads[-1].get("hash"),
                ):
                    report.problems.append(
                        f"{reference}: {len(payloads)} events end with "
                        f"{str(payloads[-1].get('hash'))[:12]}…, the manifest lists "
                        f"{expected.get('events')} ending with "
                        f"{str(expected.get('last_hash'))[:12]}…: events are missing or extra"
                    )
                for payload in payloads:
                    if payload.get("kind") == "letter_issued":
                        data = payload.get("data") or {}
                        issued[str(data.get("verification_code"))] = str(data.get("sha256"))
            for reference in sorted(set(cases) - chained):
                report.problems.append(f"{reference}: in the manifest but has no events")
                anchors.check_chain(reference, [], cases[reference], report)
        anchors.check_scope(manifest, cases, report)

        listed = set()
        for row in letters:
            report.letters += 1
            name = row.get("file", "")
            listed.add(name)
            if name not in names:
                report.problems.append(f"{name}: listed in the manifest but missing from the ZIP")
                continue
            actual = _sha256_member(zf, name)
            if actual != row.get("sha256"):
                report.problems.append(
                    f"{name}: SHA-256 is {actual[:12]}…, the manifest says "
                    f"{str(row.get('sha256'))[:12]}…: the file was changed"
                )
            recorded = issued.get(str(row.get("verification_code")))
            if recorded is None:
                report.problems.append(f"{name}: no letter_issued event records this letter")
            elif recorded != row.get("sha256"):
                report.problems.append(
                    f"{name}: the manifest's SHA-256 differs from the one its letter_issued "
                    f"event recorded ({recorded[:12]}…)"
                )
        for name in sorted(n for n in names if n.startswith("letters/") and not n.endswith("/")):
            if name not in listed:
                report.problems.append(f"{name}: in the ZIP but not in the manifest")
    return report
