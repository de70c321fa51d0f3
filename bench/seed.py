"""Seed N cases on PostgreSQL, fast, as the real route leaves them (issues 16 and 17).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_h16a_bench \\
        .venv/bin/python bench/seed.py --cases 100000 [--history] [--agencies 20]

The one seeder of the benchmarks: ``bench/pages.py`` measures what it seeds, and
``bench/metrics.py`` calls it with ``history=True``.

Drops and re-creates the named database (never point it at a database others use),
migrates it, then writes the cases in batches of 5,000 by PostgreSQL's ``COPY`` (``Writer``;
``bulk_create`` on the tests' SQLite). Each case has what ``workflows.actions`` leaves at its stage:

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

``--history`` seeds instead the year of history the supervisors' figures need (issue 17):
each case filed in the last 365 days, open at any step (most of the last 60 days' cases)
or closed (decided, not accepted, withdrawn); each with its record (a list and a tier),
an acceptance and a decision deadline met, missed or running, a stop for missing
materials in one case of ten, its review officer (eight case officers ``officer-AGnn-k``
per agency), the platforms' effects of the decided cases with their acknowledgements, and
its events (submitted, then accepted or not, then decided) chained and signed like the
others. People: ``supervisor`` (of AG00) and ``chief`` (of every agency).
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


OPEN = ["submitted", "awaiting_materials", "under_review", "legal_review", "sign_off", "removal"]
CLOSED = ["closed", "appeal_window", "not_accepted", "withdrawn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--agencies", type=int, default=AGENCIES)
    parser.add_argument(
        "--history",
        action="store_true",
        help="A year of cases at every step, with what the supervisors' figures read.",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="Processes writing the batches side by side (each batch then draws from a "
        "random sequence of its own: other data than one process writes).",
    )
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
    seed(args.cases, agency_count=args.agencies, history=args.history, jobs=args.jobs)
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


def agency_weights(count: int = AGENCIES) -> list[float]:
    """The provincial agency a quarter, the cities' falling off (a Zipf-like spread)."""
    if count == 1:
        return [1.0]
    rest = [1 / (n + 1) for n in range(count - 1)]
    scale = 0.75 / sum(rest)
    return [0.25] + [w * scale for w in rest]


def seed(total: int, *, agency_count: int = AGENCIES, history: bool = False, jobs: int = 1) -> dict:
    """Write ``total`` cases (see the module's docstring); the people the benches sign in as.

    ``jobs`` > 1 (PostgreSQL, outside a transaction) forks that many processes once the
    agencies, people and subjects are written, each writing every ``jobs``-th batch; each
    batch then draws from a random sequence of its own, seeded by its first case."""
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
        ListType,
        Membership,
        Platform,
        ReferenceCounter,
        Representation,
        Role,
        Subject,
    )
    from cases.signing import sign
    from workflows.flows import ObjectionFlow, RestorationFlow

    rng = random.Random(17 if history else 16)
    User = get_user_model()
    password = make_password("bench")  # hashed once: PBKDF2 per user would cost seconds

    def person(username, **fields):
        return User.objects.create(username=username, password=password, **fields)

    agencies = [
        Agency.objects.create(code=f"AG{n:02d}", name=f"信用修复机关{n}", region_code="440000")
        for n in range(agency_count)
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
    weights = agency_weights(agency_count)
    flows = {"restoration": RestorationFlow, "objection": ObjectionFlow}
    now = timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    people: dict = {"company": company, "applicant": applicant}
    officers: dict[int, list[int]] = {}
    if history:
        for agency in agencies:
            officers[agency.pk] = []
            for k in range(8):
                user = person(f"officer-{agency.code}-{k}", first_name=f"官{k}")
                Membership.objects.create(user=user, agency=agency, role=Role.CASE_OFFICER)
                officers[agency.pk].append(user.pk)
        people["supervisor"] = person("supervisor")
        Membership.objects.create(
            user=people["supervisor"], agency=agencies[0], role=Role.SUPERVISOR
        )
        people["chief"] = person("chief")
        Membership.objects.bulk_create(
            Membership(user=people["chief"], agency=agency, role=Role.SUPERVISOR)
            for agency in agencies
        )
        people["officer"] = officers[agencies[0].pk][0]
        lists = list(ListType.objects.all())
        platforms = [
            Platform.objects.create(code=f"platform{n}", name=f"平台{n}", kind="credit_china")
            for n in range(3)
        ]

    def chain_of(reference, status, ours, filed, intake, decided):
        """The events the route leaves, hashed into one chain; the head signed."""
        by = "company" if ours else "applicant"
        chain = [("submitted", by, "applicant", filed, {})]
        at = filed + datetime.timedelta(days=2)
        if status == "not_accepted":
            chain.append(("not_accepted", intake.username, Role.INTAKE, at, {"status": status}))
        elif status == "withdrawn":
            chain.append(("withdrawn", by, "applicant", at, {"status": status}))
        elif status != "submitted":
            chain.append(("accepted", intake.username, Role.INTAKE, at, {"status": "under_review"}))
        if decided is not None:
            chain.append(("signed", "signer", Role.SIGNER, decided, {"status": status}))
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

    def plan_queue(i):
        """The pages' spread: two years of filings, 70 % not accepted, the rest waiting."""
        roll = rng.random()
        state = "closed" if roll < 0.7 else ("queue" if roll < 0.9 else "claimed")
        filed = now - datetime.timedelta(minutes=(total - i) * 60 * 24 * 730 / total)
        status = "not_accepted" if state == "closed" else "submitted"
        return filed, state, status, None

    def plan_history(_i):
        """The figures' spread: a year of filings, most of the last 60 days' still open."""
        age = rng.randint(0, 365)
        filed = datetime.datetime.combine(
            today - datetime.timedelta(days=age), datetime.time(10), tz
        )
        is_open = age < 60 and rng.random() < 0.6
        status = rng.choice(OPEN) if is_open else rng.choice(CLOSED)
        decided = None
        if status in ("closed", "appeal_window"):
            decided = filed + datetime.timedelta(days=rng.randint(2, max(min(age, 40), 2)))
        state = "queue" if status == "submitted" else ("closed" if status in CLOSED else "past")
        return filed, state, status, decided

    plan_of = plan_history if history else plan_queue
    # The company's 1,000 cases are spread through the years' filings.
    company_every = max(total // COMPANY_CASES, 1)

    def write_batches(starts, forked: bool) -> None:
        write = Writer()
        for start in starts:
            if forked:  # one random sequence per batch, whichever process writes it
                rng.seed(f"{17 if history else 16}-{start}")
            write_batch(write, start, count=not forked)

    def write_batch(write, start, *, count: bool) -> None:
        n = min(BATCH, total - start)
        rows, chains = [], []
        for i in range(start, start + n):
            agency = rng.choices(agencies, weights)[0]
            kind = "restoration" if rng.random() < 0.8 else "objection"
            filed, state, status, decided = plan_of(i)
            ours = i % company_every == 0 and i // company_every < COMPANY_CASES
            subject = subjects[0] if ours else subjects[1 + rng.randrange(len(subjects) - 1)]
            reference = f"RD-{YEAR}-{i + 1:07d}"
            chains.append(chain_of(reference, status, ours, filed, intakes[agency.pk], decided))
            rows.append((i, agency, kind, state, status, subject, ours, filed, decided))
        with transaction.atomic():
            processes = write(
                Process,
                [
                    Process(
                        flow_class=flows[row[2]],
                        status="DONE" if row[3] == "closed" else "NEW",
                        finished=row[7] + datetime.timedelta(days=3)
                        if row[3] == "closed"
                        else None,
                    )
                    for row in rows
                ],
            )
            cases = write(
                Case,
                [
                    Case(
                        reference=f"RD-{YEAR}-{i + 1:07d}",
                        kind=kind,
                        subject=subject,
                        agency=agency,
                        grounds="bench",
                        applicant=company if ours else applicant,
                        filed_by=company if ours else applicant,
                        status=status,
                        process=process,
                        review_officer_id=(
                            rng.choice(officers[agency.pk] + [None]) if history else None
                        ),
                        submitted_at=filed,
                        decided_at=decided,
                        closed_at=(
                            (decided or filed + datetime.timedelta(days=3))
                            if state == "closed"
                            else None
                        ),
                        **head,
                    )
                    for (i, agency, kind, state, status, subject, ours, filed, decided), process, (
                        _e,
                        head,
                    ) in zip(rows, processes, chains, strict=True)
                ],
            )
            tasks = []
            deadlines = []
            events = []
            for (_i, agency, kind, state, _st, _s, _o, filed, _d), case, (chain, _h) in zip(
                rows, cases, chains, strict=True
            ):
                for event in chain:
                    event.case = case
                    events.append(event)
                node = flows[kind].instance.acceptance_check
                intake = intakes[agency.pk]
                waiting = state in ("queue", "claimed")
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
                        finished=None if waiting else filed + datetime.timedelta(days=2),
                        token=Token("start"),
                    )
                )
                if history:
                    continue
                deadlines.append(
                    Deadline(
                        case=case,
                        step="acceptance",
                        status="running" if waiting else "met",
                        started_on=filed.date(),
                        working_days=3,
                        due_on=filed.date() + datetime.timedelta(days=5),
                        computation="3 working days from the filing (bench).",
                    )
                )
            write(Task, tasks)
            write(Deadline, deadlines)
            write(CaseEvent, events)
            if history:
                history_rows(write, cases, start, rng, lists, platforms, tz, today)
            if count:
                ReferenceCounter.objects.update_or_create(year=YEAR, defaults={"last": start + n})
        print(f"  {start + n:,} cases", file=sys.stderr)

    starts = range(0, total, BATCH)
    if jobs > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        import multiprocessing

        from django.db import connections

        connections.close_all()  # each process opens its own
        context = multiprocessing.get_context("fork")
        parts = [
            context.Process(target=write_batches, args=(starts[k::jobs], True)) for k in range(jobs)
        ]
        for part in parts:
            part.start()
        for part in parts:
            part.join()
        if any(part.exitcode for part in parts):
            raise RuntimeError("A seeding process failed: see its traceback above.")
        ReferenceCounter.objects.update_or_create(year=YEAR, defaults={"last": total})
    else:
        write_batches(starts, False)
    if not connection.in_atomic_block:  # a test's transaction: no VACUUM there
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return people


class Writer:
    """Rows of a model written by PostgreSQL's COPY (bulk_create elsewhere).

    The instances are built as the ORM would build them (defaults, ``pre_save``, each
    field's own conversion to its database value), then streamed in one ``COPY … FROM
    STDIN`` per table and batch: no INSERT statement to build, parse and plan per 5,000
    rows. The ids are drawn here from the table's sequence, a batch's at once, so that
    several processes can write the same tables side by side.
    """

    def __init__(self):
        from django.db import DEFAULT_DB_ALIAS, connections

        # The connection itself, not the thread-local proxy: a value a field, a million times.
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.copy = self.connection.vendor == "postgresql"
        self.converters: dict = {}

    def converters_of(self, model) -> list:
        """For each concrete field, how its Python value becomes the database's: Django's own
        ``get_db_prep_save`` for JSON and third-party fields (viewflow's flow references and
        tokens); the value as it is for Django's plain fields, which already hold the str,
        int, date or aware datetime psycopg writes (their conversion would only check it)."""
        from django.db import models

        if model not in self.converters:
            plain = (
                models.CharField,
                models.TextField,
                models.IntegerField,  # the ids too
                models.BooleanField,
                models.DateField,  # DateTimeField too
                models.ForeignKey,
            )
            converters = []
            for field in model._meta.concrete_fields:
                own = type(field).__module__.startswith("django.")
                if own and isinstance(field, plain) and not isinstance(field, models.JSONField):
                    converters.append(None)
                else:
                    converters.append(field.get_db_prep_save)
            self.converters[model] = converters
        return self.converters[model]

    def __call__(self, model, instances):
        instances = list(instances)
        if not self.copy:
            return model.objects.bulk_create(instances)
        meta = model._meta
        fields = list(meta.concrete_fields)
        converters = self.converters_of(model)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [meta.db_table, len(instances)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        connection = self.connection
        copy_sql = f'COPY "{meta.db_table}" ({columns}) FROM STDIN'
        pairs = list(zip(fields, converters, strict=True))
        with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
            for pk, obj in zip(ids, instances, strict=True):
                obj.pk = pk
                row = []
                for field, convert in pairs:
                    value = getattr(obj, field.attname)
                    if value is None:
                        value = field.pre_save(obj, True)
                    row.append(value if convert is None else convert(value, connection))
                copy.write_row(row)
                obj._state.adding = False
                obj._state.db = "default"
        return instances


def history_rows(write, cases, start, rng, lists, platforms, tz, today) -> None:
    """What the supervisors' figures read besides the case: its record, both deadlines,
    the clock's stops, and the platforms' effects of a decision; written by the seeder's
    ``Writer`` (COPY) like the cases, so a million cases' history takes minutes."""
    from cases.models import (
        CaseRecord,
        ClockEntry,
        Deadline,
        Publication,
        PublicationEffect,
        Record,
    )

    records = write(
        Record,
        [
            Record(
                list_type=lists[(start + i) % len(lists)],
                subject=case.subject,
                agency=case.agency,
                decision_no=f"罚〔2025〕{start + i}号",
                severity=rng.choice(["minor", "general", "serious"]),
                penalty_type="fine",
                listed_on=today - datetime.timedelta(days=400),
                restorable_from=today - datetime.timedelta(days=300),
                expires_on=today + datetime.timedelta(days=400),
                status="active",
            )
            for i, case in enumerate(cases)
        ],
    )
    write(
        CaseRecord,
        [
            CaseRecord(case=case, record=records[i], status_before="active")
            for i, case in enumerate(cases)
        ],
    )
    deadlines = []
    for case in cases:
        submitted_day = case.submitted_at.astimezone(tz).date()
        for step, days in (("acceptance", 5), ("decision", 15)):
            due = submitted_day + datetime.timedelta(days=days * 7 // 5)
            if case.status in OPEN and (step == "decision" or case.status == "submitted"):
                status = "running"
            else:
                status = "met" if rng.random() < 0.85 else "missed"
            deadlines.append(
                Deadline(
                    case=case,
                    step=step,
                    status=status,
                    started_on=submitted_day,
                    working_days=days,
                    due_on=due,
                    computation="bench",
                )
            )
    deadlines = write(Deadline, deadlines)
    entries = []
    for deadline in deadlines[1::2]:  # one case in ten stops for materials
        if rng.random() < 0.1:
            at = deadline.case.submitted_at + datetime.timedelta(days=2)
            entries.append(ClockEntry(case=deadline.case, deadline=deadline, kind="stopped", at=at))
            if deadline.case.status != "awaiting_materials":
                entries.append(
                    ClockEntry(
                        case=deadline.case,
                        deadline=deadline,
                        kind="resumed",
                        at=at + datetime.timedelta(days=rng.randint(1, 20)),
                    )
                )
    write(ClockEntry, entries)
    decided_cases = [(i, c) for i, c in enumerate(cases) if c.decided_at]
    publications = write(
        Publication,
        [
            Publication(record=records[i], platform=rng.choice(platforms), status="withdrawn")
            for i, _case in decided_cases
        ],
    )
    write(
        PublicationEffect,
        [
            PublicationEffect(
                publication=publication,
                kind="publication_ended",
                requested_at=case.decided_at,
                acknowledged_at=(
                    case.decided_at + datetime.timedelta(hours=rng.randint(1, 200))
                    if rng.random() < 0.95
                    else None
                ),
            )
            for publication, (_i, case) in zip(publications, decided_cases, strict=True)
        ],
    )


if __name__ == "__main__":
    main()
