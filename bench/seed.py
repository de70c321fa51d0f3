"""Seed N cases on PostgreSQL, fast, as the real route leaves them (issue 16).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_h16a_bench \\
        .venv/bin/python bench/seed.py --cases 100000 [--keep]

Drops and re-creates the named database (never point it at a database others use),
migrates it, then writes the cases in batches with ``bulk_create`` (one INSERT of many
rows per table and batch). Each case has what ``workflows.actions`` leaves at its stage:

- a viewflow ``Process`` of its flow and its tasks (the acceptance check, NEW and
  unassigned in the queue, or ASSIGNED to an intake officer, or DONE when closed);
- its running deadline (acceptance, 3 working days) or, closed, the deadline met;
- its events, hashed into the case's chain (``cases.events.payload_hash``) and the
  case's head signed with the audit key (``cases.events.head_message``), so that
  ``manage.py verify_events`` finds every chain whole; references are gap-free and the
  year's ``ReferenceCounter`` is at the last one.

Spread like a province: 20 agencies, the provincial one with a quarter of the cases and
the rest falling off; 70 % closed (approved, rejected, not accepted), 20 % waiting in the
queue, 10 % claimed. One company (``company-1000``, subject 0) has 1,000 cases filed by
its representative ``company``. Officers: ``intake-AGnn`` at every agency.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

AGENCIES = 20
BATCH = 5_000
COMPANY_CASES = 1_000
YEAR = 2026


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database of your own (it is re-created).")
    recreate_database(settings.DATABASES["default"])
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seed(args.cases)
    print(f"seeded {args.cases:,} cases in {time.perf_counter() - started:.0f} s")


def recreate_database(db: dict) -> None:
    import psycopg
    from django.db import connection

    connection.close()
    name = db["NAME"]
    if "test" in name or name in ("redress", "postgres"):
        sys.exit(f"Refusing to re-create {name!r}: name a bench database of your own.")
    admin = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def agency_weights() -> list[float]:
    """The provincial agency a quarter, the cities' falling off (a Zipf-like spread)."""
    rest = [1 / (n + 1) for n in range(AGENCIES - 1)]
    scale = 0.75 / sum(rest)
    return [0.25] + [w * scale for w in rest]


def seed(total: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone
    from viewflow.workflow.models import Process, Task
    from viewflow.workflow.token import Token

    from cases.events import GENESIS, event_payload, head_message, payload_hash
    from cases.identifiers import make_uscc
    from cases.models import (
        Agency,
        Case,
        CaseEvent,
        Deadline,
        Membership,
        ReferenceCounter,
        Representation,
        Role,
        Subject,
    )
    from cases.signing import sign
    from workflows.flows import ObjectionFlow, RestorationFlow

    rng = random.Random(16)
    User = get_user_model()
    password = make_password("bench")  # hashed once: PBKDF2 per user would cost seconds

    def person(username):
        return User.objects.create(username=username, password=password)

    agencies = [
        Agency.objects.create(code=f"AG{n:02d}", name=f"信用修复机关{n}", region_code="440000")
        for n in range(AGENCIES)
    ]
    intakes = {}
    for agency in agencies:
        intake = person(f"intake-{agency.code}")
        Membership.objects.create(user=intake, agency=agency, role=Role.INTAKE)
        intakes[agency.pk] = intake
    subjects = Subject.objects.bulk_create(
        Subject(kind="legal", code=make_uscc(org_body=f"MA{n:06d}"), name=f"公司{n}")
        for n in range(max(total // 20, 10))
    )
    company = person("company")
    Representation.objects.create(user=company, subject=subjects[0], confirmed_at=timezone.now())
    applicant = person("applicant")
    weights = agency_weights()
    flows = {"restoration": RestorationFlow, "objection": ObjectionFlow}
    now = timezone.now()

    def chain_of(reference, state, ours, filed, intake):
        """The events the route leaves, hashed into one chain; the head signed."""
        chain = [("submitted", "company" if ours else "applicant", "applicant", filed, {})]
        if state == "closed":
            at = filed + datetime.timedelta(days=3)
            chain.append(
                ("not_accepted", intake.username, Role.INTAKE, at, {"status": "not_accepted"})
            )
        events, prev = [], GENESIS
        for number, (kind_, actor, role, at, after) in enumerate(chain, start=1):
            event = CaseEvent(
                seq=number,
                kind=kind_,
                actor_name=actor,
                actor_role=role,
                at=at,
                after=after,
                prev_hash=prev,
            )
            event.hash = payload_hash(event_payload(event, reference=reference))
            prev = event.hash
            events.append(event)
        head = dict(
            head_seq=len(events),
            head_hash=prev,
            head_signature=sign(head_message(reference, len(events), prev)),
        )
        return events, head

    # The company's 1,000 cases are spread through the years' filings.
    company_every = max(total // COMPANY_CASES, 1)
    seq = 0
    for start in range(0, total, BATCH):
        n = min(BATCH, total - start)
        rows, chains = [], []
        for i in range(start, start + n):
            agency = rng.choices(agencies, weights)[0]
            kind = "restoration" if rng.random() < 0.8 else "objection"
            roll = rng.random()
            state = "closed" if roll < 0.7 else ("queue" if roll < 0.9 else "claimed")
            ours = i % company_every == 0 and i // company_every < COMPANY_CASES
            subject = subjects[0] if ours else subjects[1 + rng.randrange(len(subjects) - 1)]
            # Filed over the last two years, oldest first (ids follow filing order).
            filed = now - datetime.timedelta(minutes=(total - i) * 60 * 24 * 730 / total)
            reference = f"RD-{YEAR}-{i + 1:07d}"
            chains.append(chain_of(reference, state, ours, filed, intakes[agency.pk]))
            rows.append((i, agency, kind, state, subject, ours, filed))
        with transaction.atomic():
            processes = Process.objects.bulk_create(
                Process(
                    flow_class=flows[kind],
                    status="DONE" if state == "closed" else "NEW",
                    finished=filed + datetime.timedelta(days=3) if state == "closed" else None,
                )
                for _i, _a, kind, state, *_ in rows
            )
            cases = Case.objects.bulk_create(
                Case(
                    reference=f"RD-{YEAR}-{i + 1:07d}",
                    kind=kind,
                    subject=subject,
                    agency=agency,
                    grounds="bench",
                    applicant=company if ours else applicant,
                    filed_by=company if ours else applicant,
                    status={"closed": "not_accepted"}.get(state, "submitted"),
                    process=process,
                    submitted_at=filed,
                    closed_at=filed + datetime.timedelta(days=3) if state == "closed" else None,
                    **head,
                )
                for (i, agency, kind, state, subject, ours, filed), process, (_e, head) in zip(
                    rows, processes, chains, strict=True
                )
            )
            tasks = []
            deadlines = []
            events = []
            for (_i, agency, kind, state, _s, _o, filed), case, (chain, _h) in zip(
                rows, cases, chains, strict=True
            ):
                for event in chain:
                    event.case = case
                    events.append(event)
                node = flows[kind].instance.acceptance_check
                intake = intakes[agency.pk]
                tasks.append(
                    Task(
                        process=case.process,
                        flow_task=node,
                        flow_task_type="HUMAN",
                        status={"queue": "NEW", "claimed": "ASSIGNED"}.get(state, "DONE"),
                        owner=None if state == "queue" else intake,
                        owner_permission=Role.INTAKE,
                        created=filed,
                        assigned=None if state == "queue" else filed + datetime.timedelta(hours=2),
                        finished=filed + datetime.timedelta(days=3) if state == "closed" else None,
                        token=Token("start"),
                    )
                )
                deadlines.append(
                    Deadline(
                        case=case,
                        step="acceptance",
                        status="met" if state == "closed" else "running",
                        started_on=filed.date(),
                        working_days=3,
                        due_on=filed.date() + datetime.timedelta(days=5),
                        computation="3 working days from the filing (bench).",
                    )
                )
            Task.objects.bulk_create(tasks)
            Deadline.objects.bulk_create(deadlines)
            CaseEvent.objects.bulk_create(events)
            seq = start + n
            ReferenceCounter.objects.update_or_create(year=YEAR, defaults={"last": seq})
        print(f"  {seq:,} cases", file=sys.stderr)
    with connection.cursor() as cursor:
        # The task rows' times: viewflow's auto_now_add stamped them at insert.
        cursor.execute(
            "UPDATE viewflow_task t SET created = c.submitted_at FROM cases_case c "
            "WHERE c.process_id = t.process_id"
        )
        cursor.execute("VACUUM ANALYZE")


if __name__ == "__main__":
    main()
