"""What anchoring costs per case event: the hash, the head's signature, the extra UPDATE.

Run on SQLite or PostgreSQL (a throw-away test database is created and dropped):

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/event_chain.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_bench \\
        DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/event_chain.py

Times, per event: the SHA-256 of a typical payload, the Ed25519 signature of a head,
and ``event_record`` end to end (lock the case, append, sign the head) in its own
transaction, with the head signed and, for comparison, with head signing switched off.
Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        rows = measure(args.events)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(
        f"Run with {connection.vendor}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {args.events} events per figure.\n"
    )
    print("| measure | median per event |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value:.3f} ms |")


def _median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000


def measure(n: int) -> list[tuple[str, float]]:
    from django.db import transaction

    from cases import events as events_module
    from cases import signing
    from cases.events import case_lock, event_payload, event_record, head_message, payload_hash
    from cases.models import Case, CaseEvent, ListType, RuleSet
    from cases.seeds import seed_national_defaults
    from tests import factories
    from workflows.actions import case_submit

    seed_national_defaults(ListType, RuleSet)
    agency = factories.AgencyFactory(code="SZAMR")
    subject = factories.SubjectFactory()
    applicant = factories.representative(subject, "bench")
    officer = factories.officer("case_officer", agency, username="bench-officer")

    def new_case() -> Case:
        record = factories.RecordFactory(subject=subject, agency=agency)
        return case_submit(
            kind=Case.Kind.OBJECTION,
            subject=subject,
            records=[record],
            grounds="bench",
            applicant=applicant,
        )

    sample = CaseEvent.objects.filter(case=new_case()).first()
    payload = event_payload(sample, reference="RD-2026-000001")
    hashing = []
    for _ in range(n):
        started = time.perf_counter()
        payload_hash(payload)
        hashing.append(time.perf_counter() - started)
    signing.private_key()
    signing_times = []
    for i in range(n):
        message = head_message("RD-2026-000001", i + 1, sample.hash)
        started = time.perf_counter()
        signing.sign(message)
        signing_times.append(time.perf_counter() - started)

    def record(case: Case, i: int) -> float:
        started = time.perf_counter()
        with transaction.atomic():
            event_record(
                case_lock(case),
                "evidence_reviewed",
                actor=officer,
                role="case_officer",
                note=str(i),
            )
        return time.perf_counter() - started

    # Interleaved, one event of each kind in turn, so that the machine's load and the
    # database's warming up fall on both alike.
    real = events_module.head_sign
    signed_case, unsigned_case = new_case(), new_case()
    signed, unsigned = [], []
    for i in range(n):
        signed.append(record(signed_case, i))
        events_module.head_sign = lambda case, **kwargs: True
        try:
            unsigned.append(record(unsigned_case, i))
        finally:
            events_module.head_sign = real
    return [
        ("SHA-256 of a payload (the hash chain)", _median_ms(hashing)),
        ("Ed25519 signature of a head", _median_ms(signing_times)),
        ("event_record in its own transaction, head signed", _median_ms(signed)),
        ("event_record in its own transaction, head signing off", _median_ms(unsigned)),
    ]


if __name__ == "__main__":
    main()
