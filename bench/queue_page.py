"""Queue and case page server time with 100,000 cases on PostgreSQL.

Run (needs the PostgreSQL server; creates and drops the database ``bench_redress``):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_redress \\
        .venv/bin/python bench/queue_page.py [--cases 100000] [--requests 60]

Seeds cases, their viewflow processes and open tasks, running deadlines and events
with bulk inserts, then times GET requests through Django's full request stack
(middleware, view, template) in-process: that is the server time of a request,
without the network. Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is dropped and re-created).")
    recreate_database(settings.DATABASES["default"])
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    intake, case_ids = seed(args.cases)
    seeded = time.perf_counter() - started
    results = measure(intake, case_ids, args.requests)
    report(args.cases, seeded, results)


def recreate_database(db: dict) -> None:
    import psycopg

    name = db["NAME"]
    admin_url = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(total: int):
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone
    from viewflow.workflow.models import Process, Task
    from viewflow.workflow.token import Token

    from cases.identifiers import make_uscc
    from cases.models import Agency, Case, CaseEvent, Deadline, Membership, Role, Subject
    from workflows.flows import RestorationFlow

    User = get_user_model()
    agencies = [
        Agency.objects.create(code=f"AG{n:02d}", name=f"机关{n}", region_code="440300")
        for n in range(10)
    ]
    szamr = agencies[0]
    intake = User.objects.create_user("intake", password="bench")
    Membership.objects.create(user=intake, agency=szamr, role=Role.INTAKE)
    applicant = User.objects.create_user("applicant", password="bench")
    subjects = Subject.objects.bulk_create(
        Subject(kind="legal", code=make_uscc(org_body=f"MA{n:06d}"), name=f"公司{n}")
        for n in range(10_000)
    )
    node = RestorationFlow.instance.acceptance_check
    now = timezone.now()
    today = timezone.localdate()
    batch = 5_000
    case_ids = []
    for start in range(0, total, batch):
        n = min(batch, total - start)
        with transaction.atomic():
            processes = Process.objects.bulk_create(
                Process(flow_class=RestorationFlow, status="NEW") for _ in range(n)
            )
            cases = Case.objects.bulk_create(
                Case(
                    reference=f"RD-2026-{start + i + 1:06d}",
                    kind="restoration",
                    subject=subjects[(start + i) % len(subjects)],
                    agency=agencies[(start + i) % len(agencies)],
                    grounds="bench",
                    applicant=applicant,
                    filed_by=applicant,
                    status="submitted" if (start + i) % 3 == 0 else "closed",
                    process=processes[i],
                    submitted_at=now,
                )
                for i in range(n)
            )
            open_cases = [c for c in cases if c.status == "submitted"]
            Task.objects.bulk_create(
                Task(
                    process=c.process,
                    flow_task=node,
                    flow_task_type="HUMAN",
                    status="NEW",
                    owner_permission=Role.INTAKE,
                    token=Token("start"),
                )
                for c in open_cases
            )
            Deadline.objects.bulk_create(
                Deadline(
                    case=c,
                    step="acceptance",
                    started_on=today,
                    working_days=3,
                    due_on=today + datetime.timedelta(days=5),
                    computation="bench",
                )
                for c in open_cases
            )
            CaseEvent.objects.bulk_create(
                CaseEvent(
                    case=c,
                    seq=1,
                    kind="submitted",
                    actor_name="applicant",
                    actor_role="applicant",
                    at=now,
                    prev_hash="0" * 64,
                    hash="0" * 64,
                )
                for c in cases
            )
            case_ids.extend(c.pk for c in open_cases if c.agency_id == szamr.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return intake, case_ids


def measure(intake, case_ids, requests: int) -> dict[str, list[float]]:
    from django.test import Client

    client = Client()
    client.force_login(intake)
    pages = {
        "queue, page 1": "/workflow/queue/",
        "queue, page 40": "/workflow/queue/?page=40",
        "case list, page 1": "/workflow/cases/",
        "case page": f"/workflow/cases/{case_ids[len(case_ids) // 2]}/",
    }
    results = {}
    for label, url in pages.items():
        for _ in range(5):  # warm caches and connections
            assert client.get(url).status_code == 200, url
        times = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
        results[label] = times
    return results


def report(total: int, seeded: float, results: dict[str, list[float]]) -> None:
    import django
    import psycopg

    with_pg = psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres")
    pg_version = with_pg.execute("show server_version").fetchone()[0]
    with_pg.close()
    print(f"\n### Officers' pages with {total:,} cases (PostgreSQL {pg_version})\n")
    print(
        f"{datetime.date.today()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"Django {django.get_version()}; seeded in {seeded:.0f} s; "
        f"{len(next(iter(results.values())))} requests per page after 5 warm-up requests.\n"
    )
    print("| page | median ms | p95 ms |")
    print("| --- | ---: | ---: |")
    for label, times in results.items():
        ordered = sorted(times)
        p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
        print(f"| {label} | {statistics.median(times):.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
