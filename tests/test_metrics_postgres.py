"""The supervisors' figures refreshed twice at once, on PostgreSQL.

At 1,000,000 cases with a year of history one refresh of every agency takes longer than
the beat's 15 minutes (bench/RESULTS.md), so a second refresh can start while the first
still runs. In a module of its own: its tests commit from threads and so flush the
database, and the reference data comes back after the module (tests/conftest.py).
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

from tests.test_metrics import TODAY, build_history
from workflows import metrics
from workflows.models import MetricsFact, MetricsSnapshot, MetricsSummary
from workflows.tasks import metrics_refresh as refresh_task

pytestmark = pytest.mark.postgres


def _figures(agency) -> list[tuple]:
    return sorted(
        MetricsFact.objects.filter(agency=agency).values_list(
            "figure", "week", "step", "list_code", "officer_id", "kind", "tier", "value", "count"
        )
    )


def test_two_refreshes_of_an_agency_at_once_count_each_figure_once(postgres_only, monkeypatch):
    agency = build_history()
    expected = _figures(agency)
    summaries = MetricsSummary.objects.filter(agency=agency).count()
    assert expected and summaries

    # Both refreshes have read the agency's facts before either writes them; the first
    # to write takes a while over its summaries, so the second arrives while it writes.
    both_read = threading.Barrier(2, timeout=30)
    read = metrics.agency_facts
    store = metrics.summaries_store

    def facts_then_wait(agency, **kwargs):
        facts = read(agency, **kwargs)
        both_read.wait()
        return facts

    def slow_store(*args, **kwargs):
        time.sleep(0.5)
        return store(*args, **kwargs)

    monkeypatch.setattr(metrics, "agency_facts", facts_then_wait)
    monkeypatch.setattr(metrics, "summaries_store", slow_store)
    failures: list[Exception] = []

    def refresh():
        try:
            metrics.metrics_refresh([agency], today=TODAY)
        except Exception as exc:  # noqa: BLE001 (the assertion below names it)
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert _figures(agency) == expected
    assert MetricsSummary.objects.filter(agency=agency).count() == summaries


def test_the_beat_skips_a_refresh_while_the_previous_one_runs(postgres_only):
    agency = build_history()
    before = MetricsSnapshot.objects.get(agency=agency).computed_at
    settings = connection.settings_dict
    # The previous refresh, in another process's connection, still holds the run.
    other = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s, 0)", [metrics.REFRESH_LOCK])
        assert refresh_task() == 0
        assert MetricsSnapshot.objects.get(agency=agency).computed_at == before
        # The previous refresh ends. (Released by the session itself: a closed connection's
        # lock goes only when its backend exits, a moment later, and the next beat under
        # load could still find it held.)
        other.execute("SELECT pg_advisory_unlock(%s, 0)", [metrics.REFRESH_LOCK])
    finally:
        other.close()
    assert refresh_task() >= 1
    assert MetricsSnapshot.objects.get(agency=agency).computed_at > before
