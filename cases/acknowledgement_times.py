"""How long each platform takes to acknowledge what a decision asked of it.

Per platform: from the decision (``Case.decided_at``) to the platform's acknowledgement of
each withdrawal or shielding it was asked for (``Publication.acknowledged_at``): the median
and the 95th percentile of the acknowledged ones, and how long the oldest still open has
waited. The rule gives 3 working days (《中华人民共和国行政处罚法》第四十八条，
《市场监督管理信用修复管理办法》第十七条); these figures show who keeps it. Read by the
supervisors' page and the auditor's export.
"""

from __future__ import annotations

import datetime
import math
import statistics
from dataclasses import dataclass

from django.utils import timezone

from cases.models import Case, Publication

ACKNOWLEDGED = (Publication.Status.WITHDRAWN, Publication.Status.SHIELDED)
OPEN = (Publication.Status.WITHDRAWAL_REQUESTED, Publication.Status.SHIELD_REQUESTED)


@dataclass(frozen=True)
class PlatformTimes:
    code: str
    name: str
    acknowledged: int
    median_hours: float | None
    p95_hours: float | None
    open: int
    oldest_open_hours: float | None


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0-1) of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def _hours(delta: datetime.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def acknowledgement_times(agency_ids, *, now: datetime.datetime | None = None):
    """One ``PlatformTimes`` per platform asked by a decision of the agencies, by code."""
    now = now or timezone.now()
    rows = Publication.objects.filter(
        status__in=ACKNOWLEDGED + OPEN,
        record__case_records__case__agency_id__in=agency_ids,
        record__case_records__case__decided_at__isnull=False,
        record__case_records__case__decision__in=[
            Case.Decision.APPROVED,
            Case.Decision.PARTLY_APPROVED,
        ],
    ).values_list(
        "pk",
        "platform__code",
        "platform__name",
        "status",
        "acknowledged_at",
        "record__case_records__case__decided_at",
    )
    # A record in several decided cases: the acknowledgement answers the latest decision
    # before it (an open request, the latest decision).
    latest: dict[int, tuple] = {}
    for pk, code, name, status, acknowledged_at, decided_at in rows:
        if acknowledged_at is not None and decided_at > acknowledged_at:
            continue
        kept = latest.get(pk)
        if kept is None or decided_at > kept[-1]:
            latest[pk] = (code, name, status, acknowledged_at, decided_at)
    durations: dict[str, list[float]] = {}
    waiting: dict[str, list[float]] = {}
    names: dict[str, str] = {}
    for code, name, status, acknowledged_at, decided_at in latest.values():
        names[code] = name
        durations.setdefault(code, [])
        waiting.setdefault(code, [])
        if status in ACKNOWLEDGED and acknowledged_at is not None:
            durations[code].append(_hours(acknowledged_at - decided_at))
        elif status in OPEN:
            waiting[code].append(_hours(now - decided_at))
    return [
        PlatformTimes(
            code=code,
            name=names[code],
            acknowledged=len(durations[code]),
            median_hours=round(statistics.median(durations[code]), 1) if durations[code] else None,
            p95_hours=percentile(durations[code], 0.95) if durations[code] else None,
            open=len(waiting[code]),
            oldest_open_hours=max(waiting[code]) if waiting[code] else None,
        )
        for code in sorted(names)
    ]
