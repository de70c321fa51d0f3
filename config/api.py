"""The REST API's conventions: errors in one shape, pagination without counts.

Every error is ``{"code": ..., "message": ..., "field"?: ..., "errors"?: {...}}``:
a wrong-state action is 409, a missing permission 403, something the caller may not
see 404 (existence never leaks across tenants), invalid input 400 naming the field.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cases.errors import RedressError


class NoCountPagination(CursorPagination):
    """Cursor pages: no COUNT over a permission-filtered list, stable under inserts."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"


def _first_field(detail) -> str | None:
    if isinstance(detail, dict) and detail:
        return next(iter(detail))
    return None


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        key = next(iter(detail), None)
        return f"{key}: {_flatten(detail[key])}" if key is not None else "Invalid input."
    if isinstance(detail, list) and detail:
        return _flatten(detail[0])
    return str(detail)


def exception_handler(exc, context):
    """Map every failure to the one error shape."""
    if isinstance(exc, RedressError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        return Response({"code": "not_found", "message": "Not found."}, status=404)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "invalid_input",
            "message": _flatten(exc.detail),
            "errors": exc.detail,
        }
        field = _first_field(exc.detail)
        if field and field != "non_field_errors":
            body["field"] = field
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = {"code": code, "message": _flatten(exc.detail)}
    return response
