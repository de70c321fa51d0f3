"""The REST API's conventions: errors in one shape, pagination without counts, logins.

Every error is ``{"code": ..., "message": ..., "field"?: ..., "basis"?: ..., "errors"?: {...}}``:
a wrong-state action is 409, a missing permission 403, something the caller may not
see 404 (existence never leaks across tenants), invalid input 400 naming the field,
no credentials 401, a locked-out login 429. The OpenAPI schema documents that shape
for every operation (``ErrorDocumentingAutoSchema``).

Logins: ``POST /api/v1/auth/token/`` gives a new token per login (django-rest-knox:
hashed, expiring); logging out and the caller's list of tokens are in
``api.tokens``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.core import signing
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from cases import accounts
from cases.errors import RedressError
from cases.ids import ID_LIMITS, whole_number

# Set on a request that the address throttle (``config.logins``) refused: the minutes
# until that address may try again, so that the answer can say so.
ADDRESS_THROTTLED = "redress_address_throttled"


def locked_out_message(request=None) -> str:
    """Why a login was refused before any password was checked, and for how long."""
    minutes = getattr(request, ADDRESS_THROTTLED, 0) if request is not None else 0
    if minutes:
        return _("Too many failed logins from your address: try again in %(minutes)s minutes.") % {
            "minutes": minutes
        }
    return _(
        "Too many failed logins for this username from your address: try again in "
        "%(minutes)s minutes, or ask an administrator to unlock the account."
    ) % {"minutes": _lockout_minutes()}


CURSOR_SALT = "api-cursor"
MAX_CURSOR_LENGTH = 512


class NoCountPagination(CursorPagination):
    """Cursor pages: no COUNT over a permission-filtered list, stable under inserts.

    ``page_size`` is a whole number from 1 to 200 or absent (50); anything else is
    refused with 400 rather than quietly replaced, as the schema says.
    """

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"

    def get_page_size(self, request):
        if self.page_size_query_param not in request.query_params:
            return self.page_size
        raw = request.query_params[self.page_size_query_param]
        size = whole_number(raw, minimum=1, maximum=self.max_page_size)
        if size is None:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        _("The page size is a whole number from 1 to %(max)s.")
                        % {"max": self.max_page_size}
                    ]
                }
            )
        return size

    def encode_cursor(self, cursor):
        """The cursor is signed (``django.core.signing``): an edited one is refused with
        400 instead of being trusted, and its position is always an id we issued."""
        tokens = {"o": cursor.offset, "r": int(cursor.reverse), "p": cursor.position}
        signed = signing.dumps(tokens, salt=CURSOR_SALT)
        return replace_query_param(self.base_url, self.cursor_query_param, signed)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = signing.loads(encoded[:MAX_CURSOR_LENGTH], salt=CURSOR_SALT)
            offset = whole_number(tokens["o"], minimum=0, maximum=self.offset_cutoff)
            reverse = tokens["r"] in (0, 1) and bool(tokens["r"])
            position = tokens["p"]
            if offset is None or (position is not None and whole_number(position) is None):
                raise ValueError(tokens)
        except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
            raise exceptions.ValidationError(
                {
                    self.cursor_query_param: [
                        _(
                            "This cursor is not valid (it was changed or is not one this "
                            "list gave): start again without it."
                        )
                    ]
                }
            ) from exc
        return Cursor(offset=offset, reverse=reverse, position=position)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
                parameter["description"] = (
                    f"Results per page, from 1 to {self.max_page_size} "
                    f"(default {self.page_size}); anything else is refused with 400."
                )
        return parameters


# --- input fields --------------------------------------------------------------------------


class IdField(serializers.IntegerField):
    """An id in a body: a JSON integer or a string of ASCII digits, 1 to 2**63-1.

    DRF's ``IntegerField`` reads ``"٣"`` as 3 (Python's ``int()``); an id here is written
    in ASCII digits or it is invalid (``cases.ids``).
    """

    def __init__(self, **kwargs):
        super().__init__(**{**ID_LIMITS, **kwargs})

    def to_internal_value(self, data):
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        number = whole_number(data)
        if number is None:
            self.fail("invalid")
        return number


class StrictCharField(serializers.CharField):
    """A text field that takes JSON strings only: ``{"reason": 0}`` is refused, not "0"."""

    default_error_messages = {
        "number": gettext_lazy("Send text (a JSON string), not a number."),
        "boolean": gettext_lazy("Send text (a JSON string), not true or false."),
        "structure": gettext_lazy("Send text (a JSON string), not a list or an object."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("boolean")
        if isinstance(data, int | float):
            self.fail("number")
        if not isinstance(data, str):
            self.fail("structure")
        return super().to_internal_value(data)


# --- errors --------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The one shape of every error the API returns."""

    code = serializers.CharField(help_text="Stable, machine-readable: e.g. wrong_state.")
    message = serializers.CharField(help_text="What went wrong, for a person to act on.")
    field = serializers.CharField(
        required=False, help_text="The input field at fault, when one is (400)."
    )
    basis = serializers.CharField(
        required=False,
        help_text="The article of law behind a refusal, when one is: e.g. "
        "《中华人民共和国行政处罚法》第四十三条 for a conflict of interest (403).",
    )
    errors = serializers.JSONField(
        required=False, help_text="Every invalid field with its messages (400)."
    )


def _first_field(detail) -> str | None:
    if isinstance(detail, dict) and detail:
        return next(iter(detail))
    return None


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        key = next(iter(detail), None)
        return f"{key}: {_flatten(detail[key])}" if key is not None else _("Invalid input.")
    if isinstance(detail, list) and detail:
        return _flatten(next((d for d in detail if d), detail[0]))
    return str(detail)


def exception_handler(exc, context):
    """Map every failure to the one error shape."""
    if isinstance(exc, RedressError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        return Response({"code": "not_found", "message": _("Not found.")}, status=404)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = {"code": "invalid_input", "message": _flatten(detail), "errors": detail}
        field = _first_field(detail)
        if field and field != "non_field_errors":
            body["field"] = field
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = {"code": code, "message": _flatten(exc.detail)}
    return response


@csrf_exempt  # it changes nothing: a POST to a wrong address is 404, not a CSRF failure
def api_not_found(request, *args, **kwargs):
    """An address under /api/ that names no endpoint: 404 in the API's shape, not a page."""
    return JsonResponse({"code": "not_found", "message": _("No such endpoint.")}, status=404)


def _error_documenting_auto_schema():
    # Built on first use: drf_spectacular.openapi imports rest_framework.generics, which
    # imports this module (for NoCountPagination) while it initialises.
    from drf_spectacular.openapi import AutoSchema

    class ErrorDocumentingAutoSchema(AutoSchema):
        """Adds the error responses an operation can give, in the one error shape.

        Every operation can answer 400 (an invalid filter, cursor or body), 401 (no or
        a bad token), 403 (not permitted) and 404 (not found, or not the caller's to
        see); an action that changes something can also answer 409 (wrong state).
        """

        def _get_response_bodies(self, direction="response"):
            responses = super()._get_response_bodies(direction=direction)
            codes = ["400", "401", "403", "404"]
            if self.method in {"POST", "PUT", "PATCH", "DELETE"}:
                codes.append("409")
            for code in codes:
                responses.setdefault(
                    code, self._get_response_for_code(ErrorSerializer, code, direction=direction)
                )
            return responses

    ErrorDocumentingAutoSchema.__module__ = __name__
    return ErrorDocumentingAutoSchema


def __getattr__(name):
    if name == "ErrorDocumentingAutoSchema":
        schema_class = _error_documenting_auto_schema()
        globals()[name] = schema_class
        return schema_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- logins --------------------------------------------------------------------------------


def client_ip(request) -> str | None:
    """The address a login attempt is counted against.

    ``REMOTE_ADDR``, unless ``REDRESS_TRUSTED_PROXY_COUNT`` proxies stand in front:
    then the address the outermost trusted proxy saw (counted from the right of
    X-Forwarded-For, so that a value the client wrote itself is never used).
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = getattr(settings, "REDRESS_TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


def _lockout_minutes() -> int:
    cool_off = getattr(settings, "AXES_COOLOFF_TIME", None)
    return int(cool_off.total_seconds() // 60) if cool_off else 0


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a locked-out login: the API's error shape, or a short text."""
    message = locked_out_message(request)
    code = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "locked_out", "message": message}, status=code)
    return HttpResponse(message, status=code, content_type="text/plain; charset=utf-8")


class TokenRequestSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send as the header: Authorization: Token <token>. Shown this once: "
        "Redress keeps only its hash."
    )
    expiry = serializers.DateTimeField(
        help_text="When the token stops working (REDRESS_API_TOKEN_HOURS after the login)."
    )


class TokenView(APIView):
    """``POST /api/v1/auth/token/`` with a username and password: a new API token.

    Every login gets a token of its own, valid for ``REDRESS_API_TOKEN_HOURS``. Counted
    by django-axes like the login page: after the configured number of failures for one
    username from one address, or too many failures from one address across usernames,
    the login is refused (429) for a while.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = (parsers.JSONParser, parsers.FormParser, parsers.MultiPartParser)
    renderer_classes = (JSONRenderer,)

    # Its OpenAPI description is attached in api.urls (``token_view``): the
    # decorator needs the schema class, which cannot be imported while this module is.
    def post(self, request):
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(request=request, **body.validated_data)
        if getattr(request, "axes_locked_out", False):
            return Response(
                {"code": "locked_out", "message": locked_out_message(request)},
                status=settings.AXES_HTTP_RESPONSE_CODE,
            )
        if user is None:
            return Response(
                {
                    "code": "invalid_credentials",
                    "message": _("Unable to log in with that username and password."),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        # A token is a login: the last login is recorded and the failure count reset
        # (django-axes listens to this signal, as for the login page).
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        token, text = accounts.api_token_create(user=user)
        return Response(TokenSerializer({"token": text, "expiry": token.expiry}).data)
