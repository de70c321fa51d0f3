"""Views: the public verification page, and the auditor's export pages.

Views translate HTTP to services and selectors and back; they decide nothing.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import policy
from cases.errors import RedressError
from cases.models import Role
from documents import services
from documents.forms import ExportForm, LetterCopyForm
from documents.models import Export, Letter
from documents.selectors import exports_for, letter_by_code


def _sha256_upload(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


@require_http_methods(["GET", "POST"])
def letter_verify(request, code: str):
    """Public: who issued the letter with this code, when, for which case, and its hash.

    Nothing else about the case is shown. An uploaded copy is compared by SHA-256.
    """
    letter = letter_by_code(code)
    if letter is None:
        response = render(request, "documents/verify_unknown.html", status=404)
        response["X-Robots-Tag"] = "noindex"
        return response
    match = None
    form = LetterCopyForm()
    if request.method == "POST":
        form = LetterCopyForm(request.POST, request.FILES)
        if form.is_valid():
            match = _sha256_upload(form.cleaned_data["file"]) == letter.sha256
    response = render(
        request,
        "documents/verify.html",
        {
            "issuer": letter.case.agency.name,
            "issuer_en": letter.case.agency.name_en,
            "issued_on": letter.issued_at,
            "reference": letter.case.reference,
            "kind": letter.get_kind_display(),
            "sha256": letter.sha256,
            "code": letter.code_display,
            "form": form,
            "match": match,
        },
    )
    response["X-Robots-Tag"] = "noindex"
    return response


def _export_for(request, pk: int) -> Export:
    export = get_object_or_404(Export.objects.select_related("agency"), pk=pk)
    if not policy.has_role(request.user, Role.AUDITOR, export.agency):
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
            return redirect("documents:export_detail", pk=export.pk)
    return render(
        request,
        "documents/export_list.html",
        {"form": form, "exports": exports_for(request.user)[:50]},
    )


@login_required
@require_GET
def export_detail(request, pk: int):
    export = _export_for(request, pk)
    return render(
        request,
        "documents/export_detail.html",
        {"export": export, "progress_url": reverse("documents:export_progress", args=[pk])},
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
        "download_url": reverse("documents:export_download", args=[export.pk])
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


@login_required
@require_POST
def letter_retry(request, pk: int):
    """A supervisor re-queues a failed letter (the button on the supervisor's page posts here)."""
    letter = get_object_or_404(Letter.objects.select_related("case__agency"), pk=pk)
    if not policy.has_role(request.user, Role.SUPERVISOR, letter.case.agency):
        raise Http404("No such letter.")
    try:
        services.letter_retry(letter, by=request.user)
    except RedressError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        return redirect(next_url)
    return JsonResponse({"status": Letter.Status.PENDING, "letter": letter.pk})
