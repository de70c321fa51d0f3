"""The public letter check at ``/verify/<code>/``: anyone holding a letter sees who
issued it, when, for which case, and whether an uploaded copy is the issued one."""

from __future__ import annotations

import hashlib

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from documents.selectors import letter_by_code
from portal.forms import LetterCopyForm


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
        response = render(request, "portal/letter_verify_unknown.html", status=404)
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
        "portal/letter_verify.html",
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
