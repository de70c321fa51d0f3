"""The auditor's exports of decisions: ask for one, follow its progress, download it.

An auditor sees the exports of the agencies they audit, and nothing of any other.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from cases import access
from cases.errors import RedressError
from cases.models import Role
from documents import services
from documents.models import Export
from documents.selectors import exports_for
from workspace.forms import ExportForm
from workspace.views import frame_context


def _export_for(request, pk: int) -> Export:
    export = get_object_or_404(Export.objects.select_related("agency"), pk=pk)
    if not access.has_role(request.user, Role.AUDITOR, export.agency):
        raise Http404("No such export.")
    return export


@login_required
@require_http_methods(["GET", "POST"])
def export_list(request):
    """An auditor's exports, and the form to ask for a new one."""
    form = ExportForm(request.POST or None, user=request.user)
    if not form.fields["agency"].queryset.exists():
        raise PermissionDenied(_("Only an auditor of an agency can export its decisions."))
    if request.method == "POST" and form.is_valid():
        try:
            export = services.export_request(
                agency=form.cleaned_data["agency"],
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
                requested_by=request.user,
            )
        except RedressError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("exports:detail", pk=export.pk)
    return render(
        request,
        "workspace/exports/list.html",
        {
            **frame_context(request.user, _("Decisions export")),
            "form": form,
            "exports": exports_for(request.user)[:50],
        },
    )


@login_required
@require_GET
def export_detail(request, pk: int):
    export = _export_for(request, pk)
    return render(
        request,
        "workspace/exports/detail.html",
        {
            **frame_context(request.user, _("Decisions export")),
            "export": export,
            "progress_url": reverse("exports:progress", args=[pk]),
        },
    )


def _progress(export: Export) -> dict:
    return {
        "status": export.status,
        "status_label": export.get_status_display(),
        "done": export.done,
        "total": export.total,
        "percent": export.percent,
        "cases": export.cases,
        "letters": export.letters,
        "sha256": export.sha256,
        "error": export.error if export.status == Export.Status.FAILED else "",
        "download_url": reverse("exports:download", args=[export.pk])
        if export.status == Export.Status.DONE
        else "",
    }


@login_required
@require_GET
def export_progress(request, pk: int):
    """JSON the export page polls: status, done/total, percent, and the download when ready."""
    return JsonResponse(_progress(_export_for(request, pk)))


@login_required
@require_GET
def export_download(request, pk: int):
    export = _export_for(request, pk)
    if export.status != Export.Status.DONE or not export.file:
        raise Http404("The export is not ready.")
    name = export.file.name.rsplit("/", 1)[-1]
    return FileResponse(
        export.file.open("rb"), as_attachment=True, filename=name, content_type="application/zip"
    )
