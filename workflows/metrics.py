"""The supervisors' figures: a summary the worker refreshes, and the report read from it.

``metrics_refresh`` (Celery beat: ``workflows.metrics_refresh``) computes each agency's
facts (``cases.metrics``) and rewrites its rows of ``MetricsFact`` in one transaction;
``metrics_report`` sums those rows for the agencies and filters a person asks for. The
page, its CSV and XLSX downloads and ``GET /api/v1/metrics/`` all print
``MetricsReport.tables()``: the same numbers everywhere, each with its definition.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cases import access
from cases.errors import NotPermitted, RedressError
from cases.ids import id_parse
from cases.metrics import AGE_BUCKETS, Figure, agency_facts, week_of
from cases.models import Agency, Case, Deadline, ListType, Membership, Platform, Role, Severity
from workflows.models import MetricsFact, MetricsScopeSummary, MetricsSnapshot, MetricsSummary

DEFAULT_WEEKS = 12
CACHE_SECONDS = 3600


def metrics_refresh(
    agencies=None, *, today: datetime.date | None = None, scopes: bool = True
) -> int:
    """Recompute the figures of ``agencies`` (every active agency by default); the count.

    Each agency in one transaction: its facts rewritten, its old summaries dropped, and
    the views a supervisor opens first summed again (``first_views``), so a dashboard,
    filtered or not, of one agency or several, reads sums instead of facts. Then the
    agencies a supervisor or an auditor reads together have their summaries added up
    (``scopes_refresh``; ``scopes=False`` leaves that to the caller, as when several
    processes refresh the agencies side by side): a dashboard of twenty agencies reads one
    sum, not twenty.
    """
    agencies = agencies if agencies is not None else Agency.objects.filter(is_active=True)
    done = 0
    refreshed = set()
    run_started = timezone.now()
    for agency in agencies:
        if _refreshed_since(agency, run_started):
            continue  # another refresh did this agency while this one did the others
        started = time.monotonic()
        facts = agency_facts(agency, today=today)
        rows = [
            MetricsFact(
                agency=agency,
                figure=fact.figure,
                week=fact.week,
                step=fact.step,
                list_code=fact.list_code or "",
                officer_id=fact.officer_id,
                kind=fact.kind,
                tier=fact.tier or "",
                platform=fact.platform,
                value=fact.value,
                count=count,
            )
            for fact, count in facts.items()
        ]
        with transaction.atomic():
            _agency_lock(agency)
            if _refreshed_since(agency, run_started):
                continue  # it committed while this one summed: its figures are as fresh
            MetricsFact.objects.filter(agency=agency).delete()
            MetricsSummary.objects.filter(agency=agency).delete()
            MetricsFact.objects.bulk_create(rows, batch_size=2000)
            snapshot, _created = MetricsSnapshot.objects.update_or_create(
                agency=agency,
                defaults={
                    "computed_at": timezone.now(),
                    "as_of": today or timezone.localdate(),
                    "seconds": 0,
                    "dimensions": facts_dimensions(agency),
                },
            )
            summaries_store(snapshot, first_views(snapshot.dimensions))
            weekly_store(snapshot)
            snapshot.seconds = round(time.monotonic() - started, 3)
            snapshot.save(update_fields=["seconds"])
        refreshed.add(agency.pk)
        done += 1
    if scopes:
        scopes_refresh(refreshed)
    return done


# Advisory locks of the refresh (PostgreSQL): the first key names the refresh, the second
# the agency, or 0 for a whole run.
REFRESH_LOCK = 0x4D455452  # "METR"


def _agency_lock(agency: Agency) -> None:
    """Hold, until this transaction ends, the right to rewrite ``agency``'s figures.

    Two refreshes of one agency at once (a run longer than its beat's interval, or one
    started by hand beside the worker's) would each delete the rows the other had not yet
    committed and insert their own: every count doubled. On PostgreSQL the second waits
    here, then finds the figures fresh and leaves them; SQLite lets one writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REFRESH_LOCK, agency.pk])


def _refreshed_since(agency: Agency, moment) -> bool:
    return MetricsSnapshot.objects.filter(agency=agency, computed_at__gt=moment).exists()


class refresh_run:
    """``with refresh_run() as mine:`` whether this process holds the one refresh of all
    agencies (PostgreSQL's session lock, across web processes, workers and machines).

    At 1,000,000 cases with a year of history one refresh takes longer than the beat's 15
    minutes (bench/RESULTS.md): the next beat finds the lock held and returns at once
    rather than queue a second refresh behind the first, beat after beat."""

    def __enter__(self) -> bool:
        self.mine = True
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [REFRESH_LOCK])
                self.mine = cursor.fetchone()[0]
        return self.mine

    def __exit__(self, *exc) -> None:
        if self.mine and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [REFRESH_LOCK])


def facts_dimensions(agency: Agency) -> dict[str, list]:
    """The officers, lists and steps the agency's facts name: a view filtered by another
    one has nothing of the agency in the figures that filter narrows."""
    facts = MetricsFact.objects.filter(agency=agency)
    return {
        "officer": sorted(
            facts.filter(officer_id__isnull=False)
            .values_list("officer_id", flat=True)
            .distinct()
            .order_by()
        ),
        "list": sorted(
            facts.exclude(list_code="").values_list("list_code", flat=True).distinct().order_by()
        ),
        "step": sorted(facts.exclude(step="").values_list("step", flat=True).distinct().order_by()),
    }


def first_views(dimensions: dict[str, list]) -> list[MetricsFilters]:
    """The views summed at the refresh: the last twelve weeks unfiltered, then with each
    step, each list and each officer of the agency's facts alone (the dashboard's filters
    one at a time). Other periods and filters together are summed on their first request."""
    return [
        MetricsFilters(),
        *(MetricsFilters(step=step) for step in dimensions["step"]),
        *(MetricsFilters(list_code=code) for code in dimensions["list"]),
        *(MetricsFilters(officer_id=pk) for pk in dimensions["officer"]),
    ]


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricsFilters:
    """What a person narrowed the figures to. Weeks are named by their Monday."""

    start: datetime.date | None = None
    end: datetime.date | None = None
    step: str = ""
    list_code: str = ""
    officer_id: int | None = None

    def period(self, as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
        """The first and last week shown: the last twelve weeks unless chosen."""
        end = week_of(self.end or as_of)
        start = (
            week_of(self.start) if self.start else end - datetime.timedelta(weeks=DEFAULT_WEEKS - 1)
        )
        return min(start, end), end


@dataclass
class Table:
    """One figure as a table: its key, title, definition, columns and rows."""

    key: str
    title: str
    definition: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


def percentile(histogram: dict[int, int], share: float) -> int | None:
    """The nearest-rank percentile of values counted in ``histogram`` (value → count)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(math.ceil(share * total), 1)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - rank never exceeds total


def median(histogram: dict[int, int]) -> int | None:
    return percentile(histogram, 0.5)


# Which filters narrow which figure: a filter a figure has no dimension for leaves it whole.
_FILTERED_BY = {
    Figure.OPEN: {"step", "list", "officer"},
    Figure.OPENED: {"list", "officer", "period"},
    Figure.CLOSED: {"list", "officer", "period"},
    Figure.CYCLE: {"list", "officer", "period"},
    Figure.PAUSED: {"list", "officer", "period"},
    Figure.MET: {"step", "list", "officer", "period"},
    Figure.MISSED: {"step", "list", "officer", "period"},
    Figure.ACK: {"list", "period"},
    Figure.ACK_OPEN: {"list"},
}


class MetricsReport:
    """The figures of some agencies under some filters, summed from the refreshed facts."""

    def __init__(self, agency_ids, filters: MetricsFilters | None = None):
        self.agency_ids = sorted(agency_ids)
        self.filters = filters or MetricsFilters()
        snapshots = list(MetricsSnapshot.objects.filter(agency_id__in=self.agency_ids))
        self._snapshots = snapshots
        self.computed_at = min((s.computed_at for s in snapshots), default=None)
        self.as_of = min((s.as_of for s in snapshots), default=timezone.localdate())
        self.latest = max((s.computed_at for s in snapshots), default=None)
        self.first_week, self.last_week = self.filters.period(self.as_of)
        self._summed: dict[str, list[tuple]] | None = None

    def _grouped(self, figure: str, *fields: str) -> list[tuple]:
        """(the values of ``fields``, count) of the facts of ``figure`` the filters keep,
        added up over the agencies from their summaries (``summaries_read``)."""
        if self._summed is None:
            self._summed = summaries_read(
                self._snapshots, self.filters, self.first_week, self.last_week
            )
        return self._summed.get(_group_name(figure, fields), [])

    def _sum(self, figure: str, field: str) -> dict:
        return {key: n for key, n in self._grouped(figure, field)}

    def _histograms(self, figure: str, field: str | None) -> dict:
        out: dict = defaultdict(lambda: defaultdict(int))
        if field is None:
            for value, n in self._grouped(figure, "value"):
                out[None][value] += n
            return out
        for key, value, n in self._grouped(figure, field, "value"):
            out[key][value] += n
        return out

    @property
    def weeks(self) -> list[datetime.date]:
        weeks, week = [], self.first_week
        while week <= self.last_week:
            weeks.append(week)
            week += datetime.timedelta(weeks=1)
        return weeks

    # --- the figures, each once ----------------------------------------------------------

    def backlog_by_step(self) -> Table:
        counts = self._sum(Figure.OPEN, "step")
        labels = dict(Case.Status.choices)
        return Table(
            "backlog_by_step",
            _("Backlog by step"),
            _(
                "Open cases now, by the step each is at (waiting for materials counts as a "
                "step). Filtered by step, list and officer."
            ),
            [_("Step"), _("Open cases")],
            [[labels[s], counts.get(s, 0)] for s in Case.OPEN_STATUSES],
        )

    def ageing(self) -> Table:
        rows = []
        histogram = self._histograms(Figure.OPEN, None)[None]
        for low, high, label in AGE_BUCKETS:
            n = sum(c for v, c in histogram.items() if v >= low and (high is None or v <= high))
            rows.append([label, n])
        return Table(
            "ageing",
            _("Ageing of the backlog"),
            _(
                "Open cases by age: working days on the agency's calendar since the case was "
                "submitted, less the working days its clock stood stopped for missing materials."
            ),
            [_("Age"), _("Open cases")],
            rows,
        )

    def officer_load(self) -> Table:
        counts = self._sum(Figure.OPEN, "officer_id")
        names = _officer_names(k for k in counts if k)
        # The busiest first; the cases nobody holds yet last.
        ordered = sorted(counts.items(), key=lambda item: (item[0] is None, -item[1]))
        rows = [[names.get(k, _("Not yet assigned")), n] for k, n in ordered]
        return Table(
            "officer_load",
            _("Open cases per officer"),
            _("Open cases now by their case officer (not yet assigned: no case officer yet)."),
            [_("Officer"), _("Open cases")],
            rows,
        )

    def trend(self) -> Table:
        opened = self._sum(Figure.OPENED, "week")
        closed = self._sum(Figure.CLOSED, "week")
        met = self._sum(Figure.MET, "week")
        missed = self._sum(Figure.MISSED, "week")
        backlog = sum(n for w, n in opened.items() if w < self.first_week) - sum(
            n for w, n in closed.items() if w < self.first_week
        )
        rows = []
        for week in self.weeks:
            backlog += opened.get(week, 0) - closed.get(week, 0)
            rows.append(
                [
                    week.isoformat(),
                    opened.get(week, 0),
                    closed.get(week, 0),
                    backlog,
                    met.get(week, 0),
                    missed.get(week, 0),
                ]
            )
        return Table(
            "trend",
            _("Backlog and breaches by week"),
            _(
                "Per week (named by its Monday): cases submitted, cases that left the open "
                "steps (decided, not accepted, withdrawn or lapsed), the backlog at the week's "
                "end, and the deadlines that fell due that week, met or missed (a deadline "
                "still running past its due day counts as missed)."
            ),
            [
                _("Week"),
                _("Submitted"),
                _("Left the backlog"),
                _("Backlog at week end"),
                _("Deadlines met"),
                _("Deadlines missed"),
            ],
            rows,
        )

    def _cycle_rows(self, key, labels) -> list[list]:
        rows = []
        for k, histogram in sorted(
            self._histograms(Figure.CYCLE, key).items(), key=lambda i: str(i[0])
        ):
            rows.append(
                [
                    labels.get(k, k or "—"),
                    sum(histogram.values()),
                    median(histogram),
                    percentile(histogram, 0.9),
                ]
            )
        return rows

    def cycle_times(self) -> list[Table]:
        definition = _(
            "Cases decided in the period: working days on the agency's calendar from "
            "submission to the decision, less the working days the clock stood stopped for "
            "missing materials; the median and the 90th percentile (nearest rank)."
        )
        columns = [
            None,
            _("Decided"),
            _("Median (working days)"),
            _("90th percentile (working days)"),
        ]
        lists = {t.code: t.localized_name() for t in ListType.objects.all()}
        tiers = dict(Severity.choices)
        return [
            Table(
                "cycle_by_kind",
                _("Cycle time by kind of case"),
                definition,
                [_("Kind of case"), *columns[1:]],
                self._cycle_rows("kind", dict(Case.Kind.choices)),
            ),
            Table(
                "cycle_by_list",
                _("Cycle time by list"),
                definition,
                [_("List"), *columns[1:]],
                self._cycle_rows("list_code", lists),
            ),
            Table(
                "cycle_by_tier",
                _("Cycle time by tier"),
                definition,
                [_("Tier (severity)"), *columns[1:]],
                self._cycle_rows("tier", tiers),
            ),
        ]

    def paused(self) -> Table:
        kinds = dict(Case.Kind.choices)
        rows = []
        for kind, histogram in sorted(self._histograms(Figure.PAUSED, "kind").items()):
            rows.append(
                [
                    kinds.get(kind, kind),
                    sum(histogram.values()),
                    sum(v * c for v, c in histogram.items()),
                    median(histogram),
                    percentile(histogram, 0.9),
                ]
            )
        return Table(
            "paused",
            _("Time paused for missing materials"),
            _(
                "Stops of the clock for missing materials that began in the period: how many, "
                "their working days in all, the median and the 90th percentile of one stop "
                "(a stop still lasting is counted to today)."
            ),
            [
                _("Kind of case"),
                _("Stops"),
                _("Working days paused"),
                _("Median"),
                _("90th percentile"),
            ],
            rows,
        )

    def _deadline_rows(self, key, labels, order=None) -> list[list]:
        met = self._sum(Figure.MET, key)
        missed = self._sum(Figure.MISSED, key)
        keys = order if order is not None else sorted(set(met) | set(missed), key=str)
        rows = []
        for k in keys:
            m, x = met.get(k, 0), missed.get(k, 0)
            if order is not None and not (m or x):
                continue
            rows.append([labels.get(k, k), m, x, f"{100 * m / (m + x):.0f}%" if m + x else "—"])
        return rows

    def deadlines(self) -> list[Table]:
        definition = _(
            "Deadlines that fell due in the period, kept (met) or not (missed, or still "
            "running past the due day); stopped and cancelled deadlines are not counted."
        )
        tail = [_("Met"), _("Missed"), _("Share met")]
        officers = (
            self._sum(Figure.MET, "officer_id").keys()
            | self._sum(Figure.MISSED, "officer_id").keys()
        )
        names = {None: _("Not yet assigned"), **_officer_names(k for k in officers if k)}
        return [
            Table(
                "deadlines_by_step",
                _("Deadlines met and missed by step"),
                definition,
                [_("Step"), *tail],
                self._deadline_rows(
                    "step", dict(Deadline.Step.choices), order=Deadline.Step.values
                ),
            ),
            Table(
                "deadlines_by_officer",
                _("Deadlines met and missed by officer"),
                definition + " " + _("The officer is the case's case officer."),
                [_("Officer"), *tail],
                self._deadline_rows("officer_id", names),
            ),
        ]

    def acknowledgements(self) -> Table:
        acked = self._histograms(Figure.ACK, "platform")
        waiting = self._histograms(Figure.ACK_OPEN, "platform")
        names = {p.code: p.localized_name() for p in Platform.objects.all()}
        rows = []
        for code in sorted(set(acked) | set(waiting)):
            a, w = acked.get(code, {}), waiting.get(code, {})
            rows.append(
                [
                    names.get(code, code),
                    sum(a.values()),
                    median(a),
                    percentile(a, 0.9),
                    sum(w.values()),
                    max(w) if w else None,
                ]
            )
        return Table(
            "acknowledgements",
            _("Platforms' acknowledgement lag"),
            _(
                "Each effect a platform was asked for in the period (publication ended, sharing "
                "stopped, a measure lifted): working days from the request to the platform's "
                "acknowledgement, median and 90th percentile; and those still waiting now, with "
                "the longest wait. The rule gives 3 working days "
                "(《中华人民共和国行政处罚法》第四十八条)."
            ),
            [
                _("Platform"),
                _("Acknowledged"),
                _("Median (working days)"),
                _("90th percentile (working days)"),
                _("Still waiting"),
                _("Longest wait"),
            ],
            rows,
        )

    def tables(self) -> list[Table]:
        """Every figure, in the page's order, its labels in the active language.

        Summed from the agencies' summaries (one query when the refresh or an earlier
        request summed this view), and kept in this process's cache until the next refresh
        of any of the agencies (the key holds the latest ``computed_at``).
        """
        key = (
            "metrics:"
            + hashlib.sha256(
                repr(
                    (
                        self.agency_ids,
                        self.filters,
                        self.first_week,
                        self.last_week,
                        self.latest,
                        get_language(),
                    )
                ).encode()
            ).hexdigest()
        )
        tables = cache.get(key)
        if tables is None:
            tables = self.rendered()
            cache.set(key, tables, CACHE_SECONDS)
        return tables

    def rendered(self) -> list[Table]:
        """Every table summed from the facts, its labels in the active language."""
        return [
            Table(
                t.key,
                str(t.title),
                str(t.definition),
                [str(c) for c in t.columns],
                [[c if c is None or isinstance(c, int) else str(c) for c in row] for row in t.rows],
            )
            for t in self._tables()
        ]

    def _tables(self) -> list[Table]:
        return [
            self.trend(),
            self.backlog_by_step(),
            self.ageing(),
            self.officer_load(),
            *self.cycle_times(),
            self.paused(),
            *self.deadlines(),
            self.acknowledgements(),
        ]


# --- the summaries: each agency's sums per view ----------------------------------------------

# Per figure, the groupings its tables read (``MetricsReport._grouped``): an agency's
# facts are summed once per figure, grouped by all of them, and rolled up to each.
GROUPINGS: dict[str, tuple[tuple[str, ...], ...]] = {
    Figure.OPEN: (("step",), ("value",), ("officer_id",)),
    Figure.OPENED: (("week",),),
    Figure.CLOSED: (("week",),),
    Figure.CYCLE: (("kind", "value"), ("list_code", "value"), ("tier", "value")),
    Figure.PAUSED: (("kind", "value"),),
    Figure.MET: (("week",), ("step",), ("officer_id",)),
    Figure.MISSED: (("week",), ("step",), ("officer_id",)),
    Figure.ACK: (("platform", "value"),),
    Figure.ACK_OPEN: (("platform", "value"),),
}


def _group_name(figure: str, fields: tuple[str, ...]) -> str:
    return f"{figure}:{','.join(fields)}"


def view_key(filters: MetricsFilters, first_week: datetime.date, last_week: datetime.date) -> str:
    """The name of a view among an agency's summaries: its weeks and its filters."""
    return "|".join(
        [
            first_week.isoformat(),
            last_week.isoformat(),
            filters.step,
            filters.list_code,
            str(filters.officer_id or ""),
        ]
    )


def facts_kept(
    figure: str,
    agency_ids,
    filters: MetricsFilters,
    first_week: datetime.date,
    last_week: datetime.date,
) -> Q:
    """The facts of ``figure`` the filters keep: the one place a filter narrows a figure."""
    narrowed = _FILTERED_BY[figure]
    q = Q(figure=figure, agency_id__in=list(agency_ids))
    if "step" in narrowed and filters.step:
        q &= Q(step=filters.step)
    if "list" in narrowed and filters.list_code:
        q &= Q(list_code=filters.list_code)
    if "officer" in narrowed and filters.officer_id:
        q &= Q(officer_id=filters.officer_id)
    if "period" in narrowed:
        q &= Q(week__lte=last_week)
        # Opened and closed before the period still make its first week's backlog.
        if figure not in (Figure.OPENED, Figure.CLOSED):
            q &= Q(week__gte=first_week)
    return q


def facts_sum(
    agency_ids,
    filters: MetricsFilters,
    first_week: datetime.date,
    last_week: datetime.date,
) -> dict[str, list[list]]:
    """The agencies' facts summed under a view, as a summary stores them (JSON: weeks as
    ISO dates): per grouping of ``GROUPINGS``, rows of (its fields' values, count). One
    GROUP BY per figure."""
    out: dict[str, list[list]] = {}
    for figure, groupings in GROUPINGS.items():
        fields = tuple(dict.fromkeys(f for grouping in groupings for f in grouping))
        rows = list(
            MetricsFact.objects.filter(
                facts_kept(figure, agency_ids, filters, first_week, last_week)
            )
            .values_list(*fields)
            .annotate(n=Sum("count"))
            .order_by()
        )
        for grouping in groupings:
            where = [fields.index(f) for f in grouping]
            summed: dict[tuple, int] = defaultdict(int)
            for row in rows:
                summed[tuple(row[i] for i in where)] += row[-1]
            out[_group_name(figure, grouping)] = [
                [*(k.isoformat() if isinstance(k, datetime.date) else k for k in key), n]
                for key, n in summed.items()
            ]
    return out


def facts_sum_each(
    agency_ids,
    filters: MetricsFilters,
    first_week: datetime.date,
    last_week: datetime.date,
    figures: set[str] | None = None,
) -> dict[int, dict[str, list[list]]]:
    """``facts_sum`` of each agency alone, in one GROUP BY per figure for them all (of
    ``figures`` only, when given)."""
    agency_ids = list(agency_ids)
    out: dict[int, dict[str, list[list]]] = {pk: {} for pk in agency_ids}
    for figure, groupings in GROUPINGS.items():
        if figures is not None and figure not in figures:
            continue
        fields = tuple(dict.fromkeys(f for grouping in groupings for f in grouping))
        rows: dict[int, list[tuple]] = defaultdict(list)
        for row in (
            MetricsFact.objects.filter(
                facts_kept(figure, agency_ids, filters, first_week, last_week)
            )
            .values_list("agency_id", *fields)
            .annotate(n=Sum("count"))
            .order_by()
        ):
            rows[row[0]].append(row[1:])
        for pk in agency_ids:
            for grouping in groupings:
                where = [fields.index(f) for f in grouping]
                summed: dict[tuple, int] = defaultdict(int)
                for row in rows[pk]:
                    summed[tuple(row[i] for i in where)] += row[-1]
                out[pk][_group_name(figure, grouping)] = [
                    [*(k.isoformat() if isinstance(k, datetime.date) else k for k in key), n]
                    for key, n in summed.items()
                ]
    return out


def summaries_store(snapshot: MetricsSnapshot, views: list[MetricsFilters]) -> None:
    """Sum ``views`` of the snapshot's agency and keep them (the refresh's first views)."""
    rows = []
    for filters in views:
        first, last = filters.period(snapshot.as_of)
        rows.append(
            MetricsSummary(
                agency_id=snapshot.agency_id,
                view=view_key(filters, first, last),
                computed_at=snapshot.computed_at,
                groups=facts_sum([snapshot.agency_id], filters, first, last),
            )
        )
    MetricsSummary.objects.bulk_create(rows, batch_size=100, ignore_conflicts=True)


def summaries_read(
    snapshots: list[MetricsSnapshot],
    filters: MetricsFilters,
    first_week: datetime.date,
    last_week: datetime.date,
) -> dict[str, list[tuple]]:
    """The agencies' sums under a view, added up: grouping name → [(values…, count)].

    Several agencies' come from their scope's sum of this view (``scope_read``) when the
    refresh or an earlier request added it up; else, and for one agency, from each
    agency's summary (``agencies_sum``), the sum then kept for the scope.
    """
    if len(snapshots) < 2:
        return groups_dated(agencies_sum(snapshots, filters, first_week, last_week))
    scope = scope_key(snapshots)
    added = scope_read(scope, snapshots, filters, first_week, last_week)
    if added is None:
        added = agencies_sum(snapshots, filters, first_week, last_week)
        # A refresh that began meanwhile makes a new scope: this row is then never read.
        MetricsScopeSummary.objects.bulk_create(
            [
                MetricsScopeSummary(
                    scope=scope,
                    view=view_key(filters, first_week, last_week),
                    agencies=sorted(s.agency_id for s in snapshots),
                    groups=added,
                )
            ],
            ignore_conflicts=True,
        )
    return groups_dated(added)


def agencies_sum(
    snapshots: list[MetricsSnapshot],
    filters: MetricsFilters,
    first_week: datetime.date,
    last_week: datetime.date,
    stored: dict[tuple[int, str], dict] | None = None,
) -> dict[str, list[list]]:
    """The agencies' sums under a view, added up, as a summary stores them.

    Each agency's come from its summary of this view when it is of its latest refresh
    (from ``stored``, (agency id, view) → sums, when given); an agency without one is
    summed from its facts now and its summary kept (a view asked for once is one query
    for every web process until the next refresh).
    """
    fresh = {s.agency_id: s.computed_at for s in snapshots}
    wanted = {s.agency_id: _agency_view(s, filters) for s in snapshots}
    keys = {pk: view_key(own, first_week, last_week) for pk, (own, _dropped) in wanted.items()}
    if stored is not None:
        stored = {pk: stored[pk, key] for pk, key in keys.items() if (pk, key) in stored}
    else:
        chosen = Q(pk__in=[])
        for pk, key in keys.items():
            chosen |= Q(agency_id=pk, view=key)
        stored = {
            row.agency_id: row.groups
            for row in MetricsSummary.objects.filter(chosen)
            if row.computed_at == fresh[row.agency_id]
        }
    # Unfiltered, any period: from the weekly running totals the refresh kept.
    stored.update(
        weekly_read(
            [
                s
                for s in snapshots
                if s.agency_id not in stored and _unfiltered(wanted[s.agency_id][0])
            ],
            first_week,
            last_week,
        )
    )
    # The agencies without a summary of their view, summed together per view: from the
    # facts, the figures its filters narrow; the others, as unfiltered, from the period's
    # unfiltered sums (the refresh's view or its running totals) when there are some.
    missing: dict[MetricsFilters, list[int]] = defaultdict(list)
    for pk, (own, _dropped) in wanted.items():
        if pk not in stored:
            missing[own].append(pk)
    whole = _unfiltered_sums(
        [s for s in snapshots if s.agency_id in {pk for pks in missing.values() for pk in pks}],
        first_week,
        last_week,
    )
    new = []
    for own, pks in missing.items():
        narrowed = narrowed_figures(own)
        apart = [pk for pk in pks if pk in whole]
        for pk, groups in facts_sum_each(apart, own, first_week, last_week, narrowed).items():
            groups.update(
                (name, rows)
                for name, rows in whole[pk].items()
                if name.split(":", 1)[0] not in narrowed
            )
            new.append((pk, own, groups))
        together = [pk for pk in pks if pk not in whole]
        new.extend(
            (pk, own, groups)
            for pk, groups in facts_sum_each(together, own, first_week, last_week).items()
        )
    new = [
        MetricsSummary(
            agency_id=pk,
            view=view_key(own, first_week, last_week),
            computed_at=fresh[pk],
            groups=groups,
        )
        for pk, own, groups in new
    ]
    if new:
        # A refresh that began meanwhile keeps its own (newer) summary: ours is dropped.
        MetricsSummary.objects.bulk_create(new, ignore_conflicts=True)
        stored.update((row.agency_id, row.groups) for row in new)
    return groups_sum(
        {name: rows for name, rows in groups.items() if name.split(":", 1)[0] not in wanted[pk][1]}
        for pk, groups in stored.items()
    )


def _unfiltered(filters: MetricsFilters) -> bool:
    return not (filters.step or filters.list_code or filters.officer_id)


def narrowed_figures(filters: MetricsFilters) -> set[str]:
    """The figures the filters narrow (``_FILTERED_BY``); the others are as unfiltered."""
    active = {
        name
        for name, value in (
            ("step", filters.step),
            ("list", filters.list_code),
            ("officer", filters.officer_id),
        )
        if value
    }
    return {figure for figure, narrowed in _FILTERED_BY.items() if narrowed & active}


def _unfiltered_sums(
    snapshots: list[MetricsSnapshot], first_week: datetime.date, last_week: datetime.date
) -> dict[int, dict[str, list[list]]]:
    """Each agency's unfiltered sums of the period, from its summary of that view or its
    running totals (two queries at most); an agency with neither is left out."""
    if not snapshots:
        return {}
    fresh = {s.agency_id: s.computed_at for s in snapshots}
    key = view_key(MetricsFilters(), first_week, last_week)
    found = {
        pk: groups
        for pk, computed_at, groups in MetricsSummary.objects.filter(
            agency_id__in=list(fresh), view=key
        ).values_list("agency_id", "computed_at", "groups")
        if computed_at == fresh[pk]
    }
    found.update(
        weekly_read([s for s in snapshots if s.agency_id not in found], first_week, last_week)
    )
    return found


# --- any period of the unfiltered view: weekly running totals ---------------------------------

WEEKLY = "weekly"  # the view of the sums a period cuts by their week, and those it leaves


def _running_view(week: datetime.date) -> str:
    return f"total|{week.isoformat()}"


def _by_week(figure: str, grouping: tuple[str, ...]) -> bool:
    """Whether a grouping's rows are kept whole and cut by their week when read: the
    figures no period narrows, and those grouped by week."""
    return "period" not in _FILTERED_BY[figure] or grouping == ("week",)


def weekly_store(snapshot: MetricsSnapshot) -> None:
    """Keep what makes any period of the agency's unfiltered figures two lookups: the sums
    grouped by week (and those no period narrows) once, and for each week from its first
    fact to ``as_of`` the running totals of the other sums up to that week's end. A period
    is then the total at its last week less the total before its first (``weekly_read``)."""
    agency_id = snapshot.agency_id
    whole: dict[str, list[list]] = {}
    weekly: dict[datetime.date, dict[str, dict[tuple, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for figure, groupings in GROUPINGS.items():
        fields = tuple(dict.fromkeys(f for grouping in groupings for f in grouping))
        if "period" in _FILTERED_BY[figure] and "week" not in fields:
            fields = ("week", *fields)
        rows = list(
            MetricsFact.objects.filter(figure=figure, agency_id=agency_id)
            .values_list(*fields)
            .annotate(n=Sum("count"))
            .order_by()
        )
        for grouping in groupings:
            where = [fields.index(f) for f in grouping]
            name = _group_name(figure, grouping)
            if _by_week(figure, grouping):
                summed: dict[tuple, int] = defaultdict(int)
                for row in rows:
                    if "week" in grouping and row[fields.index("week")] is None:
                        continue
                    summed[tuple(row[i] for i in where)] += row[-1]
                whole[name] = [
                    [*(k.isoformat() if isinstance(k, datetime.date) else k for k in key), n]
                    for key, n in summed.items()
                ]
                continue
            at = fields.index("week")
            for row in rows:
                if row[at] is not None:
                    weekly[row[at]][name][tuple(row[i] for i in where)] += row[-1]
    # Through the last week with a fact (a deadline met early falls due after today).
    last = max([week_of(snapshot.as_of), *weekly])
    summaries = [
        MetricsSummary(
            agency_id=agency_id, view=WEEKLY, computed_at=snapshot.computed_at, groups=whole
        )
    ]
    running: dict[str, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    week = min(weekly, default=last)
    while week <= last:
        for name, counts in weekly.get(week, {}).items():
            for key, n in counts.items():
                running[name][key] += n
        summaries.append(
            MetricsSummary(
                agency_id=agency_id,
                view=_running_view(week),
                computed_at=snapshot.computed_at,
                groups={
                    name: [[*key, n] for key, n in counts.items()]
                    for name, counts in running.items()
                },
            )
        )
        week += datetime.timedelta(weeks=1)
    MetricsSummary.objects.bulk_create(summaries, batch_size=50, ignore_conflicts=True)
    snapshot.dimensions = {**snapshot.dimensions, "through": last.isoformat()}
    snapshot.save(update_fields=["dimensions"])


def weekly_read(
    snapshots: list[MetricsSnapshot], first_week: datetime.date, last_week: datetime.date
) -> dict[int, dict[str, list[list]]]:
    """Each agency's unfiltered sums from ``first_week`` to ``last_week``, from what
    ``weekly_store`` kept (one query for them all); an agency without it is left out."""
    fresh = {s.agency_id: s.computed_at for s in snapshots}
    views: dict[int, tuple[str, str]] = {}
    chosen = Q(pk__in=[])
    for s in snapshots:
        if "through" not in s.dimensions:  # refreshed before the running totals were kept
            continue
        high, low = running_views(
            datetime.date.fromisoformat(s.dimensions["through"]), first_week, last_week
        )
        views[s.agency_id] = (high, low)
        chosen |= Q(agency_id=s.agency_id, view__in=[WEEKLY, high, low])
    if not views:
        return {}
    parts: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in MetricsSummary.objects.filter(chosen):
        if row.computed_at == fresh[row.agency_id]:
            parts[row.agency_id][row.view] = row.groups
    return {
        pk: period_sums(parts[pk], high, low, first_week, last_week)
        for pk, (high, low) in views.items()
        if WEEKLY in parts.get(pk, {})
    }


def running_views(
    through: datetime.date, first_week: datetime.date, last_week: datetime.date
) -> tuple[str, str]:
    """The running totals a period reads: to its last week, and to the week before its
    first (neither after ``through``, the last week kept)."""
    high = _running_view(min(last_week, through))
    low = _running_view(min(first_week - datetime.timedelta(weeks=1), through))
    return high, low


def period_sums(
    parts: dict[str, dict],
    high: str,
    low: str,
    first_week: datetime.date,
    last_week: datetime.date,
) -> dict[str, list[list]]:
    """The unfiltered sums of a period from the sums by week (``parts[WEEKLY]``) and the
    running totals at its ends (``parts[high]`` less ``parts[low]``)."""
    first, last = first_week.isoformat(), last_week.isoformat()
    groups: dict[str, list[list]] = {}
    for name, rows in parts[WEEKLY].items():
        figure = name.split(":", 1)[0]
        if "period" not in _FILTERED_BY[figure]:
            groups[name] = rows
        elif figure in (Figure.OPENED, Figure.CLOSED):  # the backlog before the period
            groups[name] = [row for row in rows if row[0] <= last]
        else:
            groups[name] = [row for row in rows if first <= row[0] <= last]
    # Before a week with facts there is no total: nothing up to it.
    below = {
        name: {tuple(row[:-1]): row[-1] for row in rows}
        for name, rows in parts.get(low, {}).items()
    }
    for figure, groupings in GROUPINGS.items():
        for grouping in groupings:
            if _by_week(figure, grouping):
                continue
            name = _group_name(figure, grouping)
            before = below.get(name, {})
            groups[name] = [
                [*row[:-1], row[-1] - before.get(tuple(row[:-1]), 0)]
                for row in parts.get(high, {}).get(name, [])
                if row[-1] > before.get(tuple(row[:-1]), 0)
            ]
    return groups


def _agency_view(
    snapshot: MetricsSnapshot, filters: MetricsFilters
) -> tuple[MetricsFilters, set[str]]:
    """The view of one agency to read for ``filters``, and the figures to leave out of it.

    A filter by an officer, list or step the agency's facts do not name leaves nothing of
    the agency in the figures it narrows, and the others whole: the agency's view without
    that filter is read (summed at the refresh for the first period) with those figures
    left out, instead of summing its facts to find nothing.
    """
    named = snapshot.dimensions
    if not named:  # refreshed before the dimensions were kept
        return filters, set()
    absent = {
        name
        for name, value in (
            ("officer", filters.officer_id),
            ("list", filters.list_code),
            ("step", filters.step),
        )
        if value and value not in named.get(name, ())
    }
    own = replace(
        filters,
        officer_id=None if "officer" in absent else filters.officer_id,
        list_code="" if "list" in absent else filters.list_code,
        step="" if "step" in absent else filters.step,
    )
    return own, {figure for figure, narrowed in _FILTERED_BY.items() if narrowed & absent}


def groups_add(summaries) -> dict[str, list[tuple]]:
    """Stored sums (``facts_sum``) of several agencies added up, weeks as dates again."""
    return groups_dated(groups_sum(summaries))


def groups_sum(summaries) -> dict[str, list[list]]:
    """Stored sums (``facts_sum``) of several agencies added up, as a summary stores them."""
    added: dict[str, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    for groups in summaries:
        for name, rows in groups.items():
            into = added[name]
            for row in rows:
                into[tuple(row[:-1])] += row[-1]
    return {name: [[*key, n] for key, n in counts.items()] for name, counts in added.items()}


def groups_dated(groups: dict[str, list[list]]) -> dict[str, list[tuple]]:
    """Stored sums as the report reads them: rows as tuples, weeks as dates."""
    out: dict[str, list[tuple]] = {}
    for name, rows in groups.items():
        if "week" in name.split(":", 1)[1].split(","):
            out[name] = [(datetime.date.fromisoformat(row[0]), *row[1:]) for row in rows]
        else:
            out[name] = [tuple(row) for row in rows]
    return out


# --- several agencies: their summaries added up once per scope ----------------------------------


def scope_key(snapshots: list[MetricsSnapshot]) -> str:
    """The name of several agencies' sums: which agencies, and the refresh of each."""
    stamp = sorted((s.agency_id, s.computed_at.isoformat()) for s in snapshots)
    return hashlib.sha256(repr(stamp).encode()).hexdigest()[:40]


def scope_read(
    scope: str,
    snapshots: list[MetricsSnapshot],
    filters: MetricsFilters,
    first_week: datetime.date,
    last_week: datetime.date,
) -> dict[str, list[list]] | None:
    """The scope's sums under a view, in one query: its sum of this view, or for the
    unfiltered figures of any period its running totals (as ``weekly_read`` for one
    agency); ``None`` when neither was added up."""
    key = view_key(filters, first_week, last_week)
    views = [key]
    weekly = _unfiltered(filters) and all("through" in s.dimensions for s in snapshots)
    if weekly:
        through = max(datetime.date.fromisoformat(s.dimensions["through"]) for s in snapshots)
        high, low = running_views(through, first_week, last_week)
        views += [WEEKLY, high, low]
    parts = {
        view: groups
        for view, groups in MetricsScopeSummary.objects.filter(
            scope=scope, view__in=views
        ).values_list("view", "groups")
    }
    if key in parts:
        return parts[key]
    if weekly and WEEKLY in parts:
        return period_sums(parts, high, low, first_week, last_week)
    return None


def scope_sets() -> set[frozenset[int]]:
    """The sets of agencies read together: each person's who supervises or audits several
    (``metrics_scope`` with no agency named)."""
    held: dict[int, set[int]] = defaultdict(set)
    for user_id, agency_id in Membership.objects.filter(
        role__in=[Role.SUPERVISOR, Role.AUDITOR]
    ).values_list("user_id", "agency_id"):
        held[user_id].add(agency_id)
    return {frozenset(ids) for ids in held.values() if len(ids) > 1}


def scopes_refresh(refreshed) -> int:
    """Add up, for each set of agencies read together that holds one of ``refreshed``,
    the first views of every agency's filters and the weekly running totals; drop the
    scopes no longer current. The count of scopes added up."""
    refreshed = set(refreshed)
    snapshots = {s.agency_id: s for s in MetricsSnapshot.objects.all()}
    done = 0
    for agency_ids in scope_sets():
        if not agency_ids & refreshed:
            continue
        members = [snapshots[pk] for pk in sorted(agency_ids) if pk in snapshots]
        if len(members) > 1:
            scope_store(members)
            done += 1
    stale = [
        scope
        for scope, agencies in MetricsScopeSummary.objects.values_list("scope", "agencies")
        .order_by()
        .distinct()
        if scope != scope_key([snapshots[pk] for pk in agencies if pk in snapshots])
    ]
    MetricsScopeSummary.objects.filter(scope__in=stale).delete()
    return done


def scope_store(snapshots: list[MetricsSnapshot]) -> None:
    """Add up the agencies' first views (each step, list and officer that any of their
    facts name, alone, and none) and their weekly running totals, as one scope."""
    scope = scope_key(snapshots)
    agency_ids = sorted(s.agency_id for s in snapshots)
    fresh = {s.agency_id: s.computed_at for s in snapshots}
    named: dict[str, set] = defaultdict(set)
    for s in snapshots:
        for name in ("step", "list", "officer"):
            named[name].update(s.dimensions.get(name, ()))
    stored: dict[tuple[int, str], dict] = {}
    totals: dict[int, dict[datetime.date, dict]] = defaultdict(dict)
    for pk, view, computed_at, groups in MetricsSummary.objects.filter(
        agency_id__in=agency_ids
    ).values_list("agency_id", "view", "computed_at", "groups"):
        if computed_at != fresh[pk]:
            continue
        if view.startswith("total|"):
            totals[pk][datetime.date.fromisoformat(view.split("|", 1)[1])] = groups
        else:
            stored[pk, view] = groups
    as_of = min(s.as_of for s in snapshots)
    rows = []
    for filters in first_views({name: sorted(values) for name, values in named.items()}):
        first, last = filters.period(as_of)
        rows.append(
            MetricsScopeSummary(
                scope=scope,
                view=view_key(filters, first, last),
                agencies=agency_ids,
                groups=agencies_sum(snapshots, filters, first, last, stored=stored),
            )
        )
    if all("through" in s.dimensions and (s.agency_id, WEEKLY) in stored for s in snapshots):
        rows.append(
            MetricsScopeSummary(
                scope=scope,
                view=WEEKLY,
                agencies=agency_ids,
                groups=groups_sum(stored[pk, WEEKLY] for pk in agency_ids),
            )
        )
        # A running total of the scope at a week: each agency's at that week, or at its
        # last week kept if earlier; an agency whose facts begin later adds nothing.
        through = {
            s.agency_id: datetime.date.fromisoformat(s.dimensions["through"]) for s in snapshots
        }
        weeks = [week for by_week in totals.values() for week in by_week]
        week = min(weeks, default=max(through.values()))
        while week <= max(through.values()):
            rows.append(
                MetricsScopeSummary(
                    scope=scope,
                    view=_running_view(week),
                    agencies=agency_ids,
                    groups=groups_sum(
                        totals[pk][min(week, through[pk])]
                        for pk in agency_ids
                        if min(week, through[pk]) in totals[pk]
                    ),
                )
            )
            week += datetime.timedelta(weeks=1)
    MetricsScopeSummary.objects.bulk_create(rows, batch_size=50, ignore_conflicts=True)


def _officer_names(ids) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    return {
        pk: f"{first} {last}".strip() or username
        for pk, username, first, last in get_user_model()
        .objects.filter(pk__in=ids)
        .values_list("pk", "username", "first_name", "last_name")
    }


def metrics_report(agency_ids, filters: MetricsFilters | None = None) -> MetricsReport:
    return MetricsReport(agency_ids, filters)


# --- who sees which agencies, and what they asked for ---------------------------------------


def metrics_agencies(user) -> list[Agency]:
    """The agencies whose figures ``user`` may read: those they supervise or audit."""
    ids = access.agency_ids(user, Role.SUPERVISOR) | access.agency_ids(user, Role.AUDITOR)
    return list(Agency.objects.filter(pk__in=ids).order_by("code"))


def metrics_scope(user, code: str = "") -> list[Agency]:
    """The agencies a request for figures covers: the one named by ``code``, else all of
    the person's. Nobody else's: no agency of their own → ``NotPermitted`` (403); an agency
    they neither supervise nor audit → ``NotFound`` (404, whether it exists or not)."""
    agencies = metrics_agencies(user)
    if not agencies:
        raise NotPermitted(_("Only a supervisor or an auditor of an agency reads its figures."))
    if not code:
        return agencies
    chosen = [agency for agency in agencies if agency.code == code]
    if not chosen:
        raise NotFound(_("You neither supervise nor audit an agency with this code."))
    return chosen


class NotFound(RedressError):
    code = "not_found"
    http_status = 404


FILTER_FIELDS = ("agency", "start", "end", "step", "list", "officer")


def metrics_filters_parse(params, agencies: list[Agency]) -> tuple[MetricsFilters, dict]:
    """``MetricsFilters`` from query parameters, and a message per parameter refused.

    A refused parameter is left out of the filters (the figures stay whole on it) and
    said so: nothing is guessed.
    """
    errors: dict[str, str] = {}
    dates: dict[str, datetime.date | None] = {}
    for name in ("start", "end"):
        text = (params.get(name) or "").strip()
        dates[name] = None
        if text:
            try:
                dates[name] = datetime.date.fromisoformat(text)
            except ValueError:
                errors[name] = _("Give a date as YYYY-MM-DD, for example 2025-03-03.")
    if dates["start"] and dates["end"] and dates["start"] > dates["end"]:
        errors["end"] = _("The end of the period is before its start.")
        dates["end"] = None
    step = (params.get("step") or "").strip()
    if step and step not in dict(step_choices()):
        errors["step"] = _("No such step.")
        step = ""
    list_code = (params.get("list") or "").strip()
    if list_code and not ListType.objects.filter(code=list_code).exists():
        errors["list"] = _("No such list.")
        list_code = ""
    officer_id = None
    officer = (params.get("officer") or "").strip()
    if officer:
        number = id_parse(officer)
        if number is None or not officers_of(agencies).filter(pk=number).exists():
            errors["officer"] = _("No such officer at these agencies.")
        else:
            officer_id = number
    filters = MetricsFilters(
        start=dates["start"],
        end=dates["end"],
        step=step,
        list_code=list_code,
        officer_id=officer_id,
    )
    return filters, errors


def step_choices() -> list[tuple[str, str]]:
    """The steps a person may filter by: the open cases' steps (the backlog) and the
    deadlines' steps (met and missed)."""
    statuses = dict(Case.Status.choices)
    return [(s, statuses[s]) for s in Case.OPEN_STATUSES] + [
        (value, label) for value, label in Deadline.Step.choices if value not in statuses
    ]


def officers_of(agencies: list[Agency]):
    """The officers of the agencies (anyone holding an officer's role there)."""
    return (
        get_user_model()
        .objects.filter(
            memberships__agency__in=agencies,
            memberships__role__in=[r for r in Role.values if r != Role.AUDITOR],
        )
        .distinct()
        .order_by("username")
    )
