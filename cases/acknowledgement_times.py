"""How long each platform takes to acknowledge each effect a decision asked of it.

Per platform and per effect (publication ended, sharing stopped, each measure lifted:
《信用修复管理办法》第三条; and a temporary shielding during reorganisation): from the
decision (``Case.decided_at``) to the platform's acknowledgement, the median and the 95th
percentile of the acknowledged ones, and how long the oldest still open has waited. The
rule gives 3 working days (《中华人民共和国行政处罚法》第四十八条，《市场监督管理信用修复管理
办法》第十七条); these figures show who keeps it. One function, read by the supervisors'
page, the API (``GET /api/v1/reconciliation/acknowledgement-times/``) and the auditor's
export.
"""

from __future__ import annotations

import datetime
import math
import statistics
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, Deadline, Platform, Publication, PublicationEffect

SHIELDING = "shielding"  # a temporary shielding is asked per publication, not per effect
SHIELD_DONE = Publication.Status.SHIELDED
SHIELD_OPEN = Publication.Status.SHIELD_REQUESTED
DECIDED = (Case.Decision.APPROVED, Case.Decision.PARTLY_APPROVED)


@dataclass(frozen=True)
class PlatformTimes:
    code: str
    name: str
    effect: str
    measure: str
    acknowledged: int
    median_hours: float | None
    p95_hours: float | None
    open: int
    oldest_open_hours: float | None

    @property
    def effect_words(self) -> str:
        """The effect in plain words, in the active language."""
        if self.effect == SHIELDING:
            return _("Temporarily shielded (reorganisation)")
        words = str(PublicationEffect.Kind(self.effect).label)
        return f"{words}: {self.measure}" if self.measure else words


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0-1) of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def _hours(delta: datetime.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def summarise(rows, *, now: datetime.datetime) -> list[PlatformTimes]:
    """``rows``: (code, name, effect, measure, decided_at, acknowledged_at or None), one per
    thing asked; one ``PlatformTimes`` per (platform, effect, measure), in that order."""
    durations: dict[tuple, list[float]] = {}
    waiting: dict[tuple, list[float]] = {}
    names: dict[str, str] = {}
    for code, name, effect, measure, decided_at, acknowledged_at in rows:
        key = (code, effect, measure or "")
        names[code] = name
        durations.setdefault(key, [])
        waiting.setdefault(key, [])
        if acknowledged_at is not None:
            durations[key].append(_hours(acknowledged_at - decided_at))
        else:
            waiting[key].append(_hours(now - decided_at))
    return [
        PlatformTimes(
            code=code,
            name=names[code],
            effect=effect,
            measure=measure,
            acknowledged=len(durations[key]),
            median_hours=round(statistics.median(durations[key]), 1) if durations[key] else None,
            p95_hours=percentile(durations[key], 0.95) if durations[key] else None,
            open=len(waiting[key]),
            oldest_open_hours=max(waiting[key]) if waiting[key] else None,
        )
        for key in sorted(durations)
        for code, effect, measure in [key]
    ]


def acknowledgement_times(agency_ids, *, now: datetime.datetime | None = None):
    """One ``PlatformTimes`` per platform and effect asked by a decision of the agencies."""
    now = now or timezone.now()
    rows = []
    # Each effect carries the removal deadline of the case that asked for it (decision 0024);
    # an appeal's withdrawal runs on its own deadline, from the appeal's outcome, not here.
    for code, name, kind, measure, decided_at, acknowledged_at in PublicationEffect.objects.filter(
        deadline__step=Deadline.Step.REMOVAL,
        deadline__case__agency_id__in=agency_ids,
        deadline__case__decided_at__isnull=False,
        deadline__case__decision__in=DECIDED,
    ).values_list(
        "publication__platform__code",
        "publication__platform__name",
        "kind",
        "measure__code",
        "deadline__case__decided_at",
        "acknowledged_at",
    ):
        if acknowledged_at is not None and acknowledged_at < decided_at:
            continue  # an answer to an earlier request
        rows.append((code, name, kind, measure, decided_at, acknowledged_at))
    # A temporary shielding has no effects: the publication's own acknowledgement.
    latest: dict[int, tuple] = {}
    for pk, code, name, status, acknowledged_at, decided_at in Publication.objects.filter(
        status__in=(SHIELD_DONE, SHIELD_OPEN),
        record__case_records__case__agency_id__in=agency_ids,
        record__case_records__case__decided_at__isnull=False,
        record__case_records__case__decision__in=DECIDED,
    ).values_list(
        "pk",
        "platform__code",
        "platform__name",
        "status",
        "acknowledged_at",
        "record__case_records__case__decided_at",
    ):
        if acknowledged_at is not None and decided_at > acknowledged_at:
            continue
        kept = latest.get(pk)
        if kept is None or decided_at > kept[4]:
            done = acknowledged_at if status == SHIELD_DONE else None
            latest[pk] = (code, name, SHIELDING, "", decided_at, done)
    rows.extend(latest.values())
    # Each platform named in the reader's language.
    names = {
        p.code: p.localized_name()
        for p in Platform.objects.filter(code__in={row[0] for row in rows})
    }
    rows = [(row[0], names.get(row[0], row[1]), *row[2:]) for row in rows]
    return summarise(rows, now=now)
