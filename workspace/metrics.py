"""The supervisors' dashboard: an agency's figures (or all of a person's agencies) at a glance.

Every figure is a table (``workflows.metrics.MetricsReport.tables``); the page draws three
of them as charts (server-rendered SVG) with the table beside each, and offers the same
tables as CSV and XLSX. Supervisors see the agencies they supervise, auditors the ones
they audit, nobody else anything (403; an agency not theirs is 404).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from openpyxl import Workbook

from cases.errors import NotPermitted
from cases.models import ListType
from workflows.metrics import (
    NotFound,
    metrics_agencies,
    metrics_filters_parse,
    metrics_report,
    metrics_scope,
    officers_of,
    step_choices,
)
from workspace.views import frame_context


def _report(request):
    try:
        agencies = metrics_scope(request.user, (request.GET.get("agency") or "").strip())
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except NotFound as exc:
        raise Http404(exc.message) from exc
    filters, errors = metrics_filters_parse(request.GET, agencies)
    return agencies, metrics_report([a.pk for a in agencies], filters), errors


def _cell(value) -> str:
    return "—" if value is None else str(value)


def table_body(table) -> str:
    """The rows of a table as HTML, the first cell of each its header: built here rather
    than in the template, which spent most of a large page's time on these cells."""
    return format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        (
            (_cell(row[0]), format_html_join("", "<td>{}</td>", ((_cell(c),) for c in row[1:])))
            for row in table.rows
        ),
    )


# --- charts: geometry for the templates' SVG ------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: float


def bar_chart(rows, *, limit: int = 15) -> dict:
    """A horizontal bar per row (label, value): the first ``limit`` rows."""
    rows = rows[:limit]
    top = max((row[1] for row in rows), default=0) or 1
    bars = [
        Bar(label=str(label), value=value, y=10 + 28 * i, width=round(300 * value / top, 1))
        for i, (label, value) in enumerate(rows)
    ]
    return {"bars": bars, "height": 20 + 28 * len(bars)}


@dataclass(frozen=True)
class WeekBars:
    label: str
    x: float
    backlog_y: float
    backlog_height: float
    missed_x: float
    missed_y: float
    missed_height: float


def trend_chart(rows) -> dict:
    """Per week: the backlog at its end and the deadlines missed, side by side."""
    top = max((max(row[3], row[5]) for row in rows), default=0) or 1
    step = 560 / max(len(rows), 1)
    weeks = []
    for i, row in enumerate(rows):
        backlog = 180 * max(row[3], 0) / top
        missed = 180 * row[5] / top
        x = 40 + i * step
        weeks.append(
            WeekBars(
                label=row[0][5:],
                x=round(x, 1),
                backlog_y=round(200 - backlog, 1),
                backlog_height=round(backlog, 1),
                missed_x=round(x + max(step / 2 - 2, 2), 1),
                missed_y=round(200 - missed, 1),
                missed_height=round(missed, 1),
            )
        )
    return {"weeks": weeks, "bar": round(max(step / 2 - 2, 2), 1), "top": top}


# --- pages ------------------------------------------------------------------------------


@require_GET
def metrics_page(request):
    agencies, report, errors = _report(request)
    tables = report.tables()
    by_key = {table.key: table for table in tables}
    own = metrics_agencies(request.user)
    chosen = request.GET.get("agency", "")
    query = request.GET.urlencode()
    return render(
        request,
        "workspace/metrics.html",
        {
            **frame_context(request.user, _("Figures of the agency")),
            "agencies": agencies,
            "own_agencies": own,
            "chosen_agency": chosen,
            "report": report,
            "errors": errors,
            "values": {name: request.GET.get(name, "") for name in ("start", "end")},
            "chosen": {
                "step": report.filters.step,
                "list": report.filters.list_code,
                "officer": report.filters.officer_id,
            },
            "steps": step_choices(),
            # Lists named in the reader's language, as in the figures below.
            "lists": [(t.code, t.localized_name()) for t in ListType.objects.order_by("code")],
            "officers": officers_of(agencies),
            "tables": [{"table": table, "body": table_body(table)} for table in tables],
            "trend_chart": trend_chart(by_key["trend"].rows),
            "ageing_chart": bar_chart(by_key["ageing"].rows),
            "officer_chart": bar_chart(by_key["officer_load"].rows),
            "query": query,
        },
    )


def _filename(report, extension: str) -> str:
    return f"redress-figures-{report.as_of.isoformat()}.{extension}"


def _as_of_text(report) -> str:
    if report.computed_at is None:
        return _("not computed yet")
    return date_format(timezone.localtime(report.computed_at), "Y-m-d H:i")


@require_GET
def metrics_csv(request):
    _agencies, report, _errors = _report(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("As of"), _as_of_text(report)])
    writer.writerow([_("Period"), report.first_week.isoformat(), report.last_week.isoformat()])
    for table in report.tables():
        writer.writerow([str(table.title), *map(str, table.columns)])
        for row in table.rows:
            writer.writerow([str(table.title), *("" if c is None else c for c in row)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, "csv")}"'
    return response


@require_GET
def metrics_xlsx(request):
    _agencies, report, _errors = _report(request)
    book = Workbook()
    about = book.active
    about.title = "about"
    about.append([_("As of"), _as_of_text(report)])
    about.append([_("Period"), report.first_week.isoformat(), report.last_week.isoformat()])
    for table in report.tables():
        about.append([table.key, str(table.title), str(table.definition)])
        sheet = book.create_sheet(table.key)
        sheet.append([str(c) for c in table.columns])
        for row in table.rows:
            sheet.append(
                [None if c is None else (c if isinstance(c, int) else str(c)) for c in row]
            )
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, "xlsx")}"'
    return response
