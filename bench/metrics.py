"""The supervisors' dashboard and ``GET /api/v1/metrics/``: server time at scale.

Run (needs the PostgreSQL server; drops and re-creates the database it is given):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_h17a_bench \\
        .venv/bin/python bench/metrics.py [--cases 100000] [--agencies 20] [--requests 40]
    DATABASE_URL=... .venv/bin/python bench/metrics.py --reuse [--refresh]  # seeded already

Seeds a year of history with ``bench/seed.py --history`` (cases at every step, each with
its record, a list and a tier, an acceptance and a decision deadline met, missed or
running, a stop for missing materials in one case of ten, the platforms' effects of the
decided ones with their acknowledgements, and every case's signed event chain), times the worker's refresh of every
agency's summary (``workflows.metrics.metrics_refresh``), then times GET requests through
Django's full request stack in-process (middleware, view, template or serializer): the
server time of a request, without the network. Prints a Markdown table to paste into
bench/RESULTS.md. The target is 200 ms (issue 17).
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


FIRST = (
    '"another process" empties the web process\'s cache of rendered tables before each '
    "request, as a request served by another process or the first after a refresh: the "
    "figures are read from the agencies' summaries, where the worker's refresh summed the "
    "first views (no filter, and each step, list and officer alone, over the last twelve "
    "weeks) and, for the agencies a supervisor reads together, added them up into one sum "
    'per view; "first request since the refresh" also deletes the summaries of a view the '
    "refresh does not sum (a chosen period, two filters together), so it is summed from the "
    'facts as on its first request; "again" is served from the process\'s cache'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--reuse", action="store_true", help="Measure the database seeded by an earlier run."
    )
    parser.add_argument(
        "--refresh", action="store_true", help="With --reuse: run the worker's refresh first."
    )
    parser.add_argument(
        "--refresh-jobs",
        type=int,
        default=1,
        help="Refresh the agencies from this many processes side by side (the largest first, "
        "each to the least loaded), then add up the scopes once.",
    )
    parser.add_argument(
        "--refresh-only", action="store_true", help="Refresh, print its time, measure nothing."
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
    if not args.reuse:
        from seed import recreate_database, seed  # bench/seed.py: the benches' one seeder

        recreate_database(settings.DATABASES["default"])
        call_command("migrate", verbosity=0)
        seed(args.cases, agency_count=args.agencies, history=True)
    seeded = time.perf_counter() - started

    from workflows.metrics import metrics_refresh
    from workflows.models import MetricsFact, MetricsScopeSummary, MetricsSummary

    started = time.perf_counter()
    if args.refresh or not args.reuse:  # else an earlier run refreshed it
        if args.refresh_jobs > 1:
            refresh_side_by_side(args.refresh_jobs)
        else:
            metrics_refresh()
    refreshed = time.perf_counter() - started
    if args.refresh_only:
        from workflows.models import MetricsSnapshot

        seconds = sorted(MetricsSnapshot.objects.values_list("seconds", flat=True))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"refreshed in {refreshed:.1f} s ({args.refresh_jobs} processes; the agencies' own "
            f"times add up to {sum(seconds):.1f} s, the longest {seconds[-1]:.1f} s); "
            f"{MetricsFact.objects.count():,} facts, {MetricsSummary.objects.count():,} "
            f"summaries, {MetricsScopeSummary.objects.count():,} sums of several agencies; "
            f"load average after {load}"
        )
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    facts = (
        MetricsFact.objects.count(),
        MetricsSummary.objects.count(),
        MetricsScopeSummary.objects.count(),
    )
    results = measure(seeded_people(), args.requests)
    report(args, seeded, refreshed, facts, results)


def refresh_side_by_side(jobs: int) -> None:
    """``metrics_refresh`` of every active agency from ``jobs`` forked processes, the
    agencies with the most cases first, each to the process with the fewest cases so far;
    then the sums of the agencies read together, once."""
    import multiprocessing

    from django.db import connections
    from django.db.models import Count

    from cases.models import Agency
    from workflows.metrics import metrics_refresh, scopes_refresh

    agencies = list(
        Agency.objects.filter(is_active=True).annotate(n=Count("cases")).order_by("-n", "pk")
    )
    shares: list[list[int]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for agency in agencies:
        k = loads.index(min(loads))
        shares[k].append(agency.pk)
        loads[k] += agency.n

    def refresh(ids: list[int]) -> None:
        metrics_refresh(Agency.objects.filter(pk__in=ids), scopes=False)

    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    parts = [context.Process(target=refresh, args=(ids,)) for ids in shares if ids]
    for part in parts:
        part.start()
    for part in parts:
        part.join()
    if any(part.exitcode for part in parts):
        raise RuntimeError("A refreshing process failed: see its traceback above.")
    scopes_refresh(agency.pk for agency in agencies)


def seeded_people() -> dict:
    """The people the requests are made as: ``supervisor`` (of the first agency) and
    ``chief`` (of every agency), made here when the database was seeded without the
    history (``bench/seed.py`` without ``--history`` has no supervisor), and an officer of
    the first agency whose cases the figures name."""
    from django.contrib.auth import get_user_model

    from cases.models import Agency, Membership, Role
    from workflows.models import MetricsSnapshot

    User = get_user_model()
    agencies = list(Agency.objects.order_by("code"))
    supervisor, _created = User.objects.get_or_create(username="supervisor")
    Membership.objects.get_or_create(user=supervisor, agency=agencies[0], role=Role.SUPERVISOR)
    chief, _created = User.objects.get_or_create(username="chief")
    for agency in agencies:
        Membership.objects.get_or_create(user=chief, agency=agency, role=Role.SUPERVISOR)
    named = MetricsSnapshot.objects.get(agency=agencies[0]).dimensions
    officer = next(iter(named["officer"]), None)
    if officer is None:  # no case has an officer: filter by someone who holds a role there
        officer = (
            Membership.objects.filter(agency=agencies[0])
            .exclude(role__in=[Role.SUPERVISOR, Role.AUDITOR])
            .values_list("user_id", flat=True)
            .first()
        )
    return {
        "supervisor": supervisor,
        "chief": chief,
        "officer": officer,
        "list": _busiest_list(),
        "agency": agencies[0].code,
    }


def _busiest_list() -> str:
    from django.db.models import Sum

    from workflows.models import MetricsFact

    busiest = (
        MetricsFact.objects.exclude(list_code="")
        .values_list("list_code", flat=True)
        .annotate(n=Sum("count"))
        .order_by("-n")
        .first()
    )
    if busiest is None:  # no list in the facts: any list there is
        from cases.models import ListType

        busiest = ListType.objects.values_list("code", flat=True).first()
    return busiest


def measure(people: dict, requests: int) -> dict[str, list[float]]:
    from django.core.cache import cache
    from django.test import Client

    from cases.accounts import api_token_create
    from workflows.metrics import WEEKLY, first_views, view_key
    from workflows.models import MetricsScopeSummary, MetricsSnapshot, MetricsSummary

    one, every = Client(), Client()
    one.force_login(people["supervisor"])
    every.force_login(people["chief"])
    _token, text = api_token_create(user=people["supervisor"])
    token = {"HTTP_AUTHORIZATION": f"Token {text}"}
    _token, text = api_token_create(user=people["chief"])
    chief_token = {"HTTP_AUTHORIZATION": f"Token {text}"}
    officer = people["officer"]
    a_year_ago = datetime.date.today() - datetime.timedelta(weeks=52)
    # label: (client, url, headers, summed at the refresh)
    calls = {
        "dashboard, one agency": (one, "/workflow/agency/metrics/", {}, True),
        "dashboard, one agency, filtered by officer": (
            one,
            f"/workflow/agency/metrics/?officer={officer}",
            {},
            True,
        ),
        "dashboard, one agency, filtered by step": (
            one,
            "/workflow/agency/metrics/?step=decision",
            {},
            True,
        ),
        "dashboard, one agency, filtered by officer and step": (
            one,
            f"/workflow/agency/metrics/?officer={officer}&step=decision",
            {},
            False,
        ),
        "dashboard, a year, one agency": (
            one,
            f"/workflow/agency/metrics/?start={a_year_ago}",
            {},
            False,
        ),
        "dashboard, one agency, filtered by step, a year": (
            one,
            f"/workflow/agency/metrics/?step=decision&start={a_year_ago}",
            {},
            False,
        ),
        "dashboard, across all agencies": (every, "/workflow/agency/metrics/", {}, True),
        "dashboard, across all agencies, filtered by list": (
            every,
            "/workflow/agency/metrics/?list=" + people["list"],
            {},
            True,
        ),
        "dashboard, a year, across all agencies": (
            every,
            f"/workflow/agency/metrics/?start={a_year_ago}",
            {},
            False,
        ),
        "CSV, across all agencies": (every, "/workflow/agency/metrics.csv", {}, True),
        "API, one agency (token)": (Client(), "/api/v1/metrics/", token, True),
        "API, across all agencies (token)": (Client(), "/api/v1/metrics/", chief_token, True),
        "API, across all agencies, filtered by step (token)": (
            Client(),
            "/api/v1/metrics/?step=under_review",
            chief_token,
            True,
        ),
    }
    first = set()  # the summaries the refresh wrote: (agency, view)
    for snapshot in MetricsSnapshot.objects.all():
        for filters in first_views(snapshot.dimensions):
            weeks = filters.period(snapshot.as_of)
            first.add((snapshot.agency_id, view_key(filters, *weeks)))
    stored = set(MetricsSummary.objects.values_list("agency_id", "view"))
    assert first <= stored, "not refreshed since the summaries came: run with --refresh"
    # The views the refresh adds up for the agencies read together (the chief's).
    snapshots = list(MetricsSnapshot.objects.all())
    named: dict = {"step": set(), "list": set(), "officer": set()}
    for snapshot in snapshots:
        for name, values in named.items():
            values.update(snapshot.dimensions.get(name, ()))
    as_of = min(s.as_of for s in snapshots)
    first_of_scopes = {
        view_key(filters, *filters.period(as_of))
        for filters in first_views({name: sorted(values) for name, values in named.items()})
    }

    def forget_asked_views():  # the summaries of views the refresh does not sum
        asked = [
            pk
            for pk, agency, view in MetricsSummary.objects.values_list("pk", "agency_id", "view")
            if (agency, view) not in first and view != WEEKLY and not view.startswith("total|")
        ]
        MetricsSummary.objects.filter(pk__in=asked).delete()
        MetricsScopeSummary.objects.exclude(view__in=first_of_scopes).exclude(view=WEEKLY).exclude(
            view__startswith="total|"
        ).delete()

    forget_asked_views()
    results = {}
    for label, (client, url, headers, summed) in calls.items():
        for _ in range(3):  # warm connections
            assert client.get(url, **headers).status_code == 200, url
        states = ["another process", "again"]
        if not summed:
            states.insert(0, "first request since the refresh")
        for state in states:
            times = []
            for _ in range(requests):
                if state != "again":
                    cache.clear()
                if state == "first request since the refresh":
                    forget_asked_views()
                began = time.perf_counter()
                response = client.get(url, **headers)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
            results[f"{label}, {state}"] = times
    return results


def report(args, seeded: float, refreshed: float, facts: tuple[int, int, int], results) -> None:
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
        f"{refreshed:.1f} s and wrote {facts[0]:,} facts, {facts[1]:,} summaries and "
        f"{facts[2]:,} sums of several agencies; "
        f"{args.requests} requests per page after 3 warm-up requests; " + FIRST + ".\n"
    )
    print("| request | median ms | p95 ms |")
    print("| --- | ---: | ---: |")
    for label, times in results.items():
        ordered = sorted(times)
        p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
        print(f"| {label} | {statistics.median(times):.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
