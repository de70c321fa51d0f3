"""The supervisors' dashboard and ``GET /api/v1/metrics/``: server time at 100,000 cases.

Run (needs the PostgreSQL server; drops and re-creates the database it is given):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_h17a_bench \\
        .venv/bin/python bench/metrics.py [--cases 100000] [--agencies 20] [--requests 40]

Seeds a year of history with bulk inserts (its own seeder: cases at every step, each with
its record, a list and a tier, an acceptance and a decision deadline met, missed or
running, a stop for missing materials in one case of ten, and the platforms' effects of
the decided ones with their acknowledgements), times the worker's refresh of every
agency's summary (``workflows.metrics.metrics_refresh``), then times GET requests through
Django's full request stack in-process (middleware, view, template or serializer): the
server time of a request, without the network. Prints a Markdown table to paste into
bench/RESULTS.md. The target is 200 ms (issue 17).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

OPEN = ["submitted", "awaiting_materials", "under_review", "legal_review", "sign_off", "removal"]
CLOSED = ["closed", "appeal_window", "not_accepted", "withdrawn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--reuse", action="store_true", help="Measure the database seeded by an earlier run."
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is dropped and re-created).")
    from django.core.management import call_command

    started = time.perf_counter()
    if args.reuse:
        people = seeded_people()
    else:
        recreate_database(settings.DATABASES["default"])
        call_command("migrate", verbosity=0)
        people = seed(args.cases, args.agencies)
    seeded = time.perf_counter() - started

    from workflows.metrics import metrics_refresh
    from workflows.models import MetricsFact

    started = time.perf_counter()
    if not args.reuse:  # an earlier run refreshed the summary of the database it seeded
        metrics_refresh()
    refreshed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    facts = MetricsFact.objects.count()
    results = measure(people, args.requests)
    report(args, seeded, refreshed, facts, results)


def recreate_database(db: dict) -> None:
    import psycopg

    name = db["NAME"]
    admin_url = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(total: int, agency_count: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.identifiers import make_uscc
    from cases.models import (
        Agency,
        Case,
        CaseRecord,
        ClockEntry,
        Deadline,
        ListType,
        Membership,
        Platform,
        Publication,
        PublicationEffect,
        Record,
        Role,
        Subject,
    )

    rng = random.Random(17)
    User = get_user_model()
    agencies = [
        Agency.objects.create(code=f"AG{n:02d}", name=f"机关{n}", region_code="440300")
        for n in range(agency_count)
    ]
    officers = {}
    for agency in agencies:
        officers[agency.pk] = []
        for k in range(8):
            user = User.objects.create_user(f"officer-{agency.code}-{k}", first_name=f"官{k}")
            Membership.objects.create(user=user, agency=agency, role=Role.CASE_OFFICER)
            officers[agency.pk].append(user.pk)
    supervisor = User.objects.create_user("supervisor")
    Membership.objects.create(user=supervisor, agency=agencies[0], role=Role.SUPERVISOR)
    chief = User.objects.create_user("chief")
    Membership.objects.bulk_create(
        Membership(user=chief, agency=agency, role=Role.SUPERVISOR) for agency in agencies
    )
    applicant = User.objects.create_user("applicant")
    lists = list(ListType.objects.all())
    platforms = [
        Platform.objects.create(code=f"platform{n}", name=f"平台{n}", kind="credit_china")
        for n in range(3)
    ]
    subjects = Subject.objects.bulk_create(
        Subject(kind="legal", code=make_uscc(org_body=f"MB{n:06d}"), name=f"公司{n}")
        for n in range(10_000)
    )
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    batch = 5_000
    for start in range(0, total, batch):
        n = min(batch, total - start)
        plan = []
        for i in range(n):
            agency = agencies[(start + i) % len(agencies)]
            age = rng.randint(0, 365)
            submitted = datetime.datetime.combine(
                today - datetime.timedelta(days=age), datetime.time(10), tz
            )
            is_open = age < 60 and rng.random() < 0.6
            status = rng.choice(OPEN) if is_open else rng.choice(CLOSED)
            decided = None
            if status in ("closed", "appeal_window"):
                decided = submitted + datetime.timedelta(days=rng.randint(0, min(age, 40)))
            plan.append((agency, submitted, status, decided))
        with transaction.atomic():
            records = Record.objects.bulk_create(
                Record(
                    list_type=lists[(start + i) % len(lists)],
                    subject=subjects[(start + i) % len(subjects)],
                    agency=plan[i][0],
                    decision_no=f"罚〔2025〕{start + i}号",
                    severity=rng.choice(["minor", "general", "serious"]),
                    penalty_type="fine",
                    listed_on=today - datetime.timedelta(days=400),
                    restorable_from=today - datetime.timedelta(days=300),
                    expires_on=today + datetime.timedelta(days=400),
                    status="active",
                )
                for i in range(n)
            )
            cases = Case.objects.bulk_create(
                Case(
                    reference=f"RD-M-{start + i + 1:07d}",
                    kind=rng.choice(["objection", "restoration", "restoration"]),
                    subject=records[i].subject,
                    agency=agency,
                    grounds="bench",
                    applicant=applicant,
                    filed_by=applicant,
                    status=status,
                    review_officer_id=rng.choice(officers[agency.pk] + [None]),
                    submitted_at=submitted,
                    decided_at=decided,
                    closed_at=decided if status == "closed" else None,
                )
                for i, (agency, submitted, status, decided) in enumerate(plan)
            )
            CaseRecord.objects.bulk_create(
                CaseRecord(case=case, record=records[i], status_before="active")
                for i, case in enumerate(cases)
            )
            deadlines = []
            for case in cases:
                submitted_day = case.submitted_at.astimezone(tz).date()
                for step, days in (("acceptance", 5), ("decision", 15)):
                    due = submitted_day + datetime.timedelta(days=days * 7 // 5)
                    if case.status in OPEN:
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
            deadlines = Deadline.objects.bulk_create(deadlines)
            entries = []
            for deadline in deadlines[1::2]:  # one case in ten stops for materials
                if rng.random() < 0.1:
                    at = deadline.case.submitted_at + datetime.timedelta(days=2)
                    entries.append(
                        ClockEntry(case=deadline.case, deadline=deadline, kind="stopped", at=at)
                    )
                    if deadline.case.status != "awaiting_materials":
                        entries.append(
                            ClockEntry(
                                case=deadline.case,
                                deadline=deadline,
                                kind="resumed",
                                at=at + datetime.timedelta(days=rng.randint(1, 20)),
                            )
                        )
            ClockEntry.objects.bulk_create(entries)
            decided_cases = [(i, c) for i, c in enumerate(cases) if c.decided_at]
            publications = Publication.objects.bulk_create(
                Publication(record=records[i], platform=rng.choice(platforms), status="withdrawn")
                for i, _case in decided_cases
            )
            PublicationEffect.objects.bulk_create(
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
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"supervisor": supervisor, "chief": chief, "officer": officers[agencies[0].pk][0]}


def seeded_people() -> dict:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {
        "supervisor": User.objects.get(username="supervisor"),
        "chief": User.objects.get(username="chief"),
        "officer": User.objects.get(username="officer-AG00-0").pk,
    }


def measure(people: dict, requests: int) -> dict[str, list[float]]:
    from django.test import Client

    from cases.accounts import api_token_create

    one, every = Client(), Client()
    one.force_login(people["supervisor"])
    every.force_login(people["chief"])
    _token, text = api_token_create(user=people["supervisor"])
    token = {"HTTP_AUTHORIZATION": f"Token {text}"}
    officer = people["officer"]
    calls = {
        "dashboard, one agency": (one, "/workflow/agency/metrics/", {}),
        "dashboard, one agency, filtered by officer and step": (
            one,
            f"/workflow/agency/metrics/?officer={officer}&step=decision",
            {},
        ),
        "dashboard, a year, one agency": (
            one,
            "/workflow/agency/metrics/?start=2025-01-01",
            {},
        ),
        "dashboard, across all agencies": (every, "/workflow/agency/metrics/", {}),
        "CSV, across all agencies": (every, "/workflow/agency/metrics.csv", {}),
        "API, one agency (token)": (Client(), "/api/v1/metrics/", token),
    }
    from django.core.cache import cache

    results = {}
    for label, (client, url, headers) in calls.items():
        for _ in range(3):  # warm connections
            assert client.get(url, **headers).status_code == 200, url
        for state in ("first after a refresh", "again"):
            times = []
            for _ in range(requests):
                if state == "first after a refresh":
                    cache.clear()  # as after the worker's refresh: every table summed anew
                began = time.perf_counter()
                response = client.get(url, **headers)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
            results[f"{label}, {state}"] = times
    return results


def report(args, seeded: float, refreshed: float, facts: int, results) -> None:
    import django
    import psycopg

    with_pg = psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres")
    pg_version = with_pg.execute("show server_version").fetchone()[0]
    with_pg.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n### Supervisors' figures with {args.cases:,} cases (PostgreSQL {pg_version})\n")
    print(
        f"{datetime.date.today()}, {os.cpu_count()} cores (load average {load}), Python "
        f"{sys.version.split()[0]}, Django {django.get_version()}; {args.agencies} agencies; "
        f"seeded in {seeded:.0f} s; the worker's refresh of every agency took "
        f"{refreshed:.1f} s and wrote {facts:,} summary rows; {args.requests} requests per "
        f'page after 3 warm-up requests; "first after a refresh" empties the cache of summed tables before each request, "again" is served from it.\n'
    )
    print("| request | median ms | p95 ms |")
    print("| --- | ---: | ---: |")
    for label, times in results.items():
        ordered = sorted(times)
        p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
        print(f"| {label} | {statistics.median(times):.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
