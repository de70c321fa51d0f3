"""Project-wide HTTP rules: how big a request may be, how long a session lasts, and that
nothing personal is kept in a cache.

``RequestBodyLimitMiddleware`` refuses a request whose declared ``Content-Length`` is
more than its endpoint can accept, with 413, before anything reads the body.
``SessionLifetimeMiddleware`` ends a session a fixed time after its sign-in, however
active (the idle timeout is Django's own: ``SESSION_COOKIE_AGE`` with
``SESSION_SAVE_EVERY_REQUEST``). ``NoStoreMiddleware`` marks every response that a view
produced ``Cache-Control: no-store, private``; static files never reach it (whitenoise
answers them first, with their long cache lifetime).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from cases.errors import RequestTooLarge

logger = logging.getLogger(__name__)

# Multipart boundaries, each part's headers and the small form fields that travel with
# a file (the CSRF token, what the file is, which record): a few hundred bytes in
# practice; a generous allowance so that a file at exactly the limit is never refused.
MULTIPART_ALLOWANCE = 256 * 1024

# Every view that accepts a file, by URL name, and the setting that bounds that file.
# Anything else may carry at most REDRESS_REQUEST_MAX_BYTES.
UPLOAD_LIMITS = {
    "portal:evidence_upload": "REDRESS_UPLOAD_MAX_BYTES",  # evidence, from the portal
    "api:case-evidence": "REDRESS_UPLOAD_MAX_BYTES",  # evidence, from the API
    "api:case-revoke": "REDRESS_UPLOAD_MAX_BYTES",  # a revocation's evidence, from the API
    "workspace:case_revoke": "REDRESS_UPLOAD_MAX_BYTES",  # the same, from the workspace
    "api:case-meeting": "REDRESS_UPLOAD_MAX_BYTES",  # a decision meeting's minutes (API)
    "workspace:case_meeting": "REDRESS_UPLOAD_MAX_BYTES",  # the same, from the workspace
    "portal:link_request": "REDRESS_UPLOAD_MAX_BYTES",  # proof of authorisation
    "letter_verify": "REDRESS_LETTER_COPY_MAX_BYTES",  # a copy of a letter, to check
}


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or (
        request.headers.get("x-requested-with") == "XMLHttpRequest"
        or "application/json" in request.headers.get("accept", "")
    )


def _declared_length(request: HttpRequest) -> int | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django reads no body for a length it cannot parse
    return length if length > 0 else None


class RequestBodyLimitMiddleware:
    """413 for a request body larger than its endpoint accepts, before it is read.

    Django's own limits do not cover this: ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bounds the
    non-file fields (and ``request.body``), ``FILE_UPLOAD_MAX_MEMORY_SIZE`` only decides
    between memory and a temporary file, ``DATA_UPLOAD_MAX_NUMBER_FILES`` counts files:
    a 100 MB file sent to any form was streamed to disk before a form refused it. This
    runs as a view middleware (the endpoint is known) placed before
    ``CsrfViewMiddleware``, the first to read a form. A request without a length
    (chunked) has no body as far as Django's WSGI handler is concerned; the front proxy
    caps those (``client_max_body_size``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        length = _declared_length(request)
        if length is None:
            return None
        view_name = request.resolver_match.view_name if request.resolver_match else ""
        file_setting = UPLOAD_LIMITS.get(view_name)
        if file_setting is None:
            limit = settings.REDRESS_REQUEST_MAX_BYTES
            if length <= limit:
                return None
            message = _("The request is %(size)s, more than this address accepts (%(limit)s).") % {
                "size": filesizeformat(length),
                "limit": filesizeformat(limit),
            }
        else:
            file_limit = getattr(settings, file_setting)
            if length <= file_limit + MULTIPART_ALLOWANCE:
                return None
            message = _(
                "The upload is %(size)s, more than the %(limit)s a file may have here. "
                "Send one file of at most %(limit)s at a time."
            ) % {"size": filesizeformat(length), "limit": filesizeformat(file_limit)}
        logger.warning(
            "Refused %s %s: Content-Length %s is over the limit", request.method, view_name, length
        )
        error = RequestTooLarge(message)
        if _wants_json(request):
            response = JsonResponse(error.as_dict(), status=error.http_status)
        else:
            response = render(request, "413.html", {"message": message}, status=413)
        # The body was not read: the connection cannot carry another request.
        response["Connection"] = "close"
        return response


# --- sessions ----------------------------------------------------------------------------

SESSION_STARTED_KEY = "redress_signed_in_at"


SESSION_TOUCHED_KEY = "redress_touched_at"


def session_started(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the moment the absolute session lifetime counts from."""
    if hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[SESSION_STARTED_KEY] = now
        request.session[SESSION_TOUCHED_KEY] = now


class SessionTouchMiddleware:
    """The idle timeout's sliding expiry, without writing the session on every request.

    Django's ``SESSION_SAVE_EVERY_REQUEST`` saved the session (an ``UPDATE`` in its own
    transaction: three queries) on every page. Here a session is saved, and its expiry and
    cookie moved on, only when ``REDRESS_SESSION_TOUCH_SECONDS`` (60) have passed since it
    was last saved. A session idle for ``REDRESS_SESSION_IDLE_MINUTES`` still ends: it ends
    at most that minute earlier, never later. Must follow ``SessionMiddleware``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.modified or session.session_key is None:
            return response  # saved anyway, or nothing to keep alive
        if session.is_empty():
            return response
        now = timezone.now().timestamp()
        if now - session.get(SESSION_TOUCHED_KEY, 0) >= settings.REDRESS_SESSION_TOUCH_SECONDS:
            session[SESSION_TOUCHED_KEY] = now  # modified: SessionMiddleware saves it
        return response


class SessionLifetimeMiddleware:
    """Signs out a session ``REDRESS_SESSION_MAX_HOURS`` after its sign-in, however active.

    The request then goes on as an anonymous one: a page sends the person to the login
    page (as after the idle timeout), the API answers 401 in its error shape. A session
    signed in before this rule existed counts from its first request after it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now().timestamp()
            started = request.session.setdefault(SESSION_STARTED_KEY, now)
            if now - started > settings.REDRESS_SESSION_MAX_HOURS * 3600:
                logger.info("Session of user %s ended: older than its maximum lifetime", user.pk)
                logout(request)
        return self.get_response(request)


class NoStoreMiddleware:
    """``Cache-Control: no-store, private`` on every response a view produced.

    Pages, the API's JSON, letters and evidence are personal data or case files: no
    browser or proxy cache may keep them (a shared office computer's back button, a
    caching proxy). Nothing Redress renders gains from a cache; static files, which do,
    are answered by whitenoise before this middleware runs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
