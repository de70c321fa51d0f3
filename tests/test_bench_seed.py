"""The benchmarks' one seeder (bench/seed.py), at a small size: what it writes is what the
route leaves, so the audit check finds every chain whole, and the supervisors' figures
read a year of it (issue 17)."""

import io
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from cases.models import Case, Deadline, ReferenceCounter
from workflows.metrics import metrics_refresh, metrics_report
from workflows.models import MetricsSnapshot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import seed as bench_seed

pytestmark = pytest.mark.django_db


def verified() -> str:
    out = io.StringIO()
    call_command("verify_events", stdout=out, stderr=out)
    return out.getvalue()


def test_the_queue_seed_leaves_whole_chains_and_gap_free_references():
    bench_seed.seed(120, agency_count=3)
    assert Case.objects.count() == 120
    assert ReferenceCounter.objects.get(year=bench_seed.YEAR).last == 120
    assert set(Case.objects.values_list("status", flat=True)) == {"submitted", "not_accepted"}
    report = verified()
    assert "120 case" in report and "broken" not in report


def test_the_history_seed_gives_the_figures_a_year_and_stays_verifiable():
    people = bench_seed.seed(300, agency_count=3, history=True)
    statuses = set(Case.objects.values_list("status", flat=True))
    assert statuses > {"submitted", "under_review", "closed", "not_accepted"}
    # Both deadlines of every case; some missed, some running.
    assert Deadline.objects.count() == 600
    assert Deadline.objects.filter(status="missed").exists()
    assert Deadline.objects.filter(status="running", step="decision").exists()
    report = verified()
    assert "300 case" in report and "broken" not in report

    assert metrics_refresh() == 3
    assert MetricsSnapshot.objects.count() == 3
    agencies = [m.agency_id for m in people["chief"].memberships.all()]
    tables = {t.key: t for t in metrics_report(agencies).tables()}
    backlog = tables["backlog_by_step"]
    assert sum(row[-1] for row in backlog.rows if isinstance(row[-1], int)) > 0
