"""Error pages: the API's error shape under /api/, a page in the person's language elsewhere.

Django calls these for an exception no view handled (``handler404`` and ``handler500``
in ``config.urls``). A 500 is logged with its traceback by Django (``django.request``)
before the handler runs; the answer shows no detail of the failure.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views import defaults


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"code": "not_found", "message": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        message = _(
            "Something went wrong on our side. The error has been recorded: try again later, "
            "or tell the administrator when it happened."
        )
        return JsonResponse({"code": "server_error", "message": message}, status=500)
    return defaults.server_error(request)


def favicon(request):
    """``/favicon.ico``, which browsers ask for on pages that name no icon (the admin's,
    the API's): Redress's icon."""
    return redirect(static("portal/favicon.svg"))
