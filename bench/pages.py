"""Server time of the hot pages on a seeded database, with each page's slowest query's plan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_h16a_bench \\
        .venv/bin/python bench/seed.py --cases 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_h16a_bench \\
        .venv/bin/python bench/pages.py [--requests 60] [--plans bench/plans]

Times GET requests through Django's whole stack in-process (middleware, view, template;
DEBUG off, the project's settings): the server time of a request without the network.
Pages: the queue's first page and page 40 (reached by following "next" 39 times), the
inbox, the case list, a case page, the portal's case list of the company with 1,000
cases, the API's task list and case list. Each is warmed up 5 times, then timed
``--requests`` times; p50 and p95 are printed as a Markdown row, with the request's own
CPU time (this thread's) and the PostgreSQL backend's CPU per request (from /proc, a
mean: the kernel counts it in 10 ms ticks), which a loaded machine does not inflate the
way it does wall times. For each page the
slowest query of one request is run again under ``EXPLAIN (ANALYZE, BUFFERS)`` and the
plan written to ``<plans>/<cases>-<page>.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import html
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

DEEP_PAGE = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--plans", default=str(Path(__file__).parent / "plans"))
    parser.add_argument("--only", default="", help="page labels separated by semicolons")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from cases.models import Case

    assert not settings.DEBUG, "measure with DEBUG off"
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to the seeded PostgreSQL database (bench/seed.py).")
    total = Case.objects.count()
    User = get_user_model()
    intake = User.objects.get(username="intake-AG00")
    company = User.objects.get(username="company")

    officer = Client()
    officer.force_login(intake)
    entity = Client()
    entity.force_login(company)
    token = _token(intake)
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")

    deep = _follow(officer, "/workflow/queue/", DEEP_PAGE - 1)
    middle = (
        Case.objects.filter(agency=intake.memberships.first().agency, status="submitted")
        .order_by("id")
        .values_list("pk", flat=True)
    )
    case_pk = middle[middle.count() // 2]
    pages = {
        "queue, page 1": (officer, "/workflow/queue/"),
        f"queue, page {DEEP_PAGE}": (officer, deep),
        "inbox": (officer, "/workflow/inbox/"),
        "case list": (officer, "/workflow/cases/"),
        "case page": (officer, f"/workflow/cases/{case_pk}/"),
        "portal case list (1,000 cases)": (entity, "/portal/cases/"),
        "API task list": (api, "/api/v1/tasks/"),
        "API case list": (api, "/api/v1/cases/"),
    }
    if args.only:
        wanted = set(args.only.split(";"))
        pages = {k: v for k, v in pages.items() if k in wanted}
    results = {}
    plans = Path(args.plans)
    plans.mkdir(parents=True, exist_ok=True)
    for label, (client, url) in pages.items():
        for _ in range(5):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        times, cpu = [], []
        backend_before = _backend_cpu()
        for _ in range(args.requests):
            began, began_cpu = time.perf_counter(), time.thread_time()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.thread_time() - began_cpu) * 1000)
            assert response.status_code == 200
        backend = (_backend_cpu() - backend_before) / args.requests
        queries, plan = _slowest_plan(client, url)
        slug = label.split(" (")[0].replace(", ", "-").replace(" ", "-").lower()
        (plans / f"{total}-{slug}.txt").write_text(
            f"{label}: GET {url}\n{queries} queries; the slowest, under EXPLAIN ANALYZE:\n\n{plan}\n"
        )
        results[label] = (times, queries, cpu, backend)
    report(total, results)


def _backend_cpu() -> float:
    """CPU ms (user + system) the PostgreSQL backend of this connection has used so far,
    from /proc (the same machine): with the requests' own CPU, what a page costs whatever
    else runs (on a loaded machine wall times are mostly the wait for a core)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _token(user) -> str:
    from cases.accounts import api_token_create

    _t, text = api_token_create(user=user)
    return text


def _follow(client, url: str, steps: int) -> str:
    """The address of the page ``steps`` "next" links after ``url``."""
    for _ in range(steps):
        text = client.get(url).content.decode()
        if 'rel="next" href="' not in text:
            break
        url = "/workflow/queue/" + html.unescape(text.split('rel="next" href="')[1].split('"')[0])
    return url


def _slowest_plan(client, url: str) -> tuple[int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    selects = [q for q in captured if q["sql"].lstrip().upper().startswith("SELECT")]
    slowest = max(selects, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return len(captured), f"{slowest['sql']}\n\n{plan}"


def report(total: int, results: dict) -> None:
    import django

    load = os.getloadavg()
    print(f"\n#### {total:,} cases\n")
    print(
        f"{datetime.date.today()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, Python {sys.version.split()[0]}, "
        f"Django {django.get_version()}; {len(next(iter(results.values()))[0])} requests "
        "per page after 5 warm-up requests.\n"
    )
    print(
        "| page | queries | p50 ms | p95 ms | Python CPU p50 / p95 ms "
        "| PostgreSQL CPU ms a request (mean) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, (times, queries, cpu, backend) in results.items():
        print(
            f"| {label} | {queries} | {statistics.median(times):.1f} | {_p95(times):.1f} "
            f"| {statistics.median(cpu):.1f} / {_p95(cpu):.1f} | {backend:.1f} |"
        )


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * 0.95) - 1, 0)]


if __name__ == "__main__":
    main()
