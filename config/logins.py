"""Limits on guessing: failed logins from one address, and password-reset mails.

django-axes locks a username at an address after a few failures (``AXES_*``). That does
not stop password spraying, one guess each for many usernames from one address, so
``LoginThrottleHandler`` adds a second limit to axes' own check: failed logins from an
address across all usernames, counted in axes' failure log over a short sliding window
(``REDRESS_LOGIN_ADDRESS_*``). It applies wherever axes does: the login page and
``POST /api/v1/auth/token/``, both answering 429 with the lockout's message.

``PasswordResetView`` is Django's (viewflow's ``AuthViewset`` mounts it at
``/accounts/password_reset/``) with a limit per address and per e-mail address typed
(``cases.accounts.password_reset_admit``); its mail goes through the outbox
(``PasswordResetForm``).

Why the database and not a cache-based limiter (django-ratelimit, REST framework's
throttles): the counts must be shared by every web process, and Redress runs without a
cache server in its embedded set-up; axes keeps its counts in the database for the same
reason. See docs/decisions/0011-api-tokens-and-login-throttling.md.
"""

from __future__ import annotations

import math

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessFailureLog
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from viewflow.contrib.auth import AuthenticationForm, AuthViewset

from api import conventions
from api.conventions import ADDRESS_THROTTLED, client_ip
from cases import accounts
from cases.errors import TooManyRequests


def address_failures(address: str | None) -> list:
    """When the failed logins from ``address`` within the window happened, newest first
    (at most as many as the limit: enough to decide and to tell when it frees up)."""
    if not address:
        return []
    since = timezone.now() - settings.REDRESS_LOGIN_ADDRESS_WINDOW
    return list(
        AccessFailureLog.objects.filter(ip_address=address, attempt_time__gte=since)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)[: settings.REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT]
    )


def address_throttled_minutes(address: str | None) -> int:
    """Minutes until ``address`` may try again, 0 when it may now."""
    failures = address_failures(address)
    if len(failures) < settings.REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT:
        return 0
    wait = failures[-1] + settings.REDRESS_LOGIN_ADDRESS_WINDOW - timezone.now()
    return max(1, math.ceil(wait.total_seconds() / 60))


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler with the address throttle added to its lockout.

    An address is throttled while it has ``REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT`` failed
    logins (any usernames) in the last ``REDRESS_LOGIN_ADDRESS_WINDOW``: the failure
    that reaches the limit is answered 429, and so is every attempt until the oldest of
    them leaves the window. Attempts refused meanwhile check no password and are not
    counted (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False``). axes' address
    allow list (``AXES_IP_WHITELIST``) exempts an address from both limits.
    """

    def is_locked(self, request, credentials=None) -> bool:
        if super().is_locked(request, credentials):
            return True
        minutes = address_throttled_minutes(getattr(request, "axes_ip_address", None))
        if minutes:
            setattr(request, ADDRESS_THROTTLED, minutes)
            return True
        return False

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if self.is_whitelisted(request, credentials):
            return
        minutes = address_throttled_minutes(getattr(request, "axes_ip_address", None))
        if minutes:
            setattr(request, ADDRESS_THROTTLED, minutes)
            request.axes_locked_out = True
            request.axes_credentials = credentials


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, whose mail is queued in the outbox instead of sent at once.

    Django makes the link (its one-time token) for each active account with the address
    typed and hands it here; ``cases.accounts.password_reset_send`` records the request
    and the notifications outbox composes Django's own mail from it, in the language of
    this page. The request never talks to the mail server: a server that is down delays
    the mail (the worker retries it) instead of losing it, and how long the answer takes
    does not tell whether the address has an account.
    """

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        accounts.password_reset_send(
            user=context["user"], link=context, language=translation.get_language()
        )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset request, limited per address and per e-mail address.

    Over a limit, the form comes back with the reason and HTTP 429, for an address that
    has an account and one that has none alike; nothing is mailed.
    """

    form_class = PasswordResetForm

    def form_valid(self, form):
        try:
            accounts.password_reset_admit(
                address=client_ip(self.request), email=form.cleaned_data["email"]
            )
        except TooManyRequests as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.render_to_response(self.get_context_data(form=form), status=exc.http_status)
        return super().form_valid(form)


class RedressAuthViewset(AuthViewset):
    """viewflow's log-in, log-out and password pages, with the limited password reset."""

    pass_reset_view_class = PasswordResetView


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a refused login (429): on the login page, the page again with
    the reason above the form, so that the browser (Turbo renders an HTML answer to a
    form it sent, and shows nothing for plain text) shows why and until when; the API's
    error shape elsewhere."""
    if request.path.startswith("/api/"):
        return conventions.lockout_response(request, original_response, credentials)
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    return render(
        request,
        "registration/login.html",
        {"form": form, "refusal": conventions.locked_out_message(request)},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
