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
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cases import access
from cases.errors import NotPermitted, RedressError
from cases.ids import id_parse
from cases.metrics import AGE_BUCKETS, Figure, agency_facts, week_of
from cases.models import Agency, Case, Deadline, ListType, Platform, Role, Severity
from workflows.models import MetricsFact, MetricsSnapshot

DEFAULT_WEEKS = 12
CACHE_SECONDS = 3600


def metrics_refresh(agencies=None, *, today: datetime.date | None = None) -> int:
    """Recompute the figures of ``agencies`` (every active agency by default); the count."""
    agencies = agencies if agencies is not None else Agency.objects.filter(is_active=True)
    done = 0
    for agency in agencies:
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
            MetricsFact.objects.filter(agency=agency).delete()
            MetricsFact.objects.bulk_create(rows, batch_size=2000)
            snapshot, _created = MetricsSnapshot.objects.update_or_create(
                agency=agency,
                defaults={
                    "computed_at": timezone.now(),
                    "as_of": today or timezone.localdate(),
                    "seconds": round(time.monotonic() - started, 3),
                    "tables": {},
                },
            )
            snapshot.tables = first_tables(agency)
            snapshot.save(update_fields=["tables"])
        done += 1
    return done


def first_tables(agency: Agency) -> dict[str, list[dict]]:
    """The agency's figures as its dashboard first shows them, in every language, summed
    once (the labels alone differ by language): stored with the snapshot, so the first
    request after a refresh costs what a cached one does."""
    report = MetricsReport([agency.pk])
    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out[code] = [asdict(table) for table in report.rendered()]
    return out


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
        self._wanted = {figure: self._where(figure) for figure in _FILTERED_BY}
        self._summed: dict[tuple, list] = {}

    def _where(self, figure: str) -> Q:
        """The facts of ``figure`` the filters keep."""
        f = self.filters
        narrowed = _FILTERED_BY[figure]
        q = Q(figure=figure, agency_id__in=self.agency_ids)
        if "step" in narrowed and f.step:
            q &= Q(step=f.step)
        if "list" in narrowed and f.list_code:
            q &= Q(list_code=f.list_code)
        if "officer" in narrowed and f.officer_id:
            q &= Q(officer_id=f.officer_id)
        if "period" in narrowed:
            q &= Q(week__lte=self.last_week)
            # Opened and closed before the period still make its first week's backlog.
            if figure not in (Figure.OPENED, Figure.CLOSED):
                q &= Q(week__gte=self.first_week)
        return q

    def _grouped(self, figure: str, *fields: str):
        """(the values of ``fields``, count) of the facts of ``figure``, summed in the
        database: one narrow GROUP BY per table, so only its rows travel."""
        key = (figure, fields)
        if key not in self._summed:
            self._summed[key] = list(
                MetricsFact.objects.filter(self._wanted[figure])
                .values_list(*fields)
                .annotate(n=Sum("count"))
                .order_by()
            )
        return self._summed[key]

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
        lists = dict(ListType.objects.values_list("code", "name"))
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
        names = dict(Platform.objects.values_list("code", "name"))
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

        Kept in the cache until the next refresh of any of the agencies (the key holds the
        latest ``computed_at``): a dashboard opened again, its download and the API's
        answer cost one query instead of one per table.
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
            tables = self._stored() or self.rendered()
            cache.set(key, tables, CACHE_SECONDS)
        return tables

    def _stored(self) -> list[Table] | None:
        """The tables the worker stored with the one agency's snapshot at its refresh,
        when this is the view they are (no filter, the default period, this language)."""
        if len(self._snapshots) != 1 or self.filters != MetricsFilters():
            return None
        stored = (self._snapshots[0].tables or {}).get(get_language() or "")
        if not stored:
            return None
        return [Table(**table) for table in stored]

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
