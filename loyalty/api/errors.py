"""One error type per API family and the one exception handler that renders them.

- Dintero family (`/v1/...`): `{"error": {"code": str, "message": str, "errors": [...]}}`.
- Open Loyalty family (`/api/...`): `{"code": int, "message": str}`, plus `errors` (items with `message`,
  `parameters`, `plural`, `code`, `path`) on 400.

Views say which family they belong to with `api_family`; DRF's own exceptions are translated here so every 4xx
from an API view has its family's shape.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from loyalty.core.errors import DomainError

logger = logging.getLogger(__name__)

DINTERO = "dintero"
OPEN_LOYALTY = "openloyalty"


class DinteroError(DomainError):
    """A request-shape problem a Dintero-family view finds itself (before any service runs), with the family's
    field errors already shaped (`errors`); rendered as given."""

    def __init__(self, status_code: int, code: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message, code=code, status=status_code)
        self.status_code = status_code
        self.errors = errors


class OpenLoyaltyError(DomainError):
    """The same for the Open Loyalty family (`errors` items as `ol_field_error` makes them)."""

    def __init__(self, status_code: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message, status=status_code)
        self.status_code = status_code
        self.errors = errors


def ol_field_error(path: str, message: str, code: str = "invalid", parameters: dict | None = None) -> dict:
    return {"message": message, "parameters": parameters or {}, "plural": None, "code": code, "path": path}


def dintero_body(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return {"error": body}


def open_loyalty_body(status_code: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": status_code, "message": message}
    if errors is not None or status_code == 400:
        body["errors"] = errors or []
    return body


def flatten_validation(detail: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """DRF's nested ValidationError detail → [(path, message, code)] with dotted/indexed paths."""
    out: list[tuple[str, str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(flatten_validation(value, path))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append((prefix, str(item), getattr(item, "code", "invalid") or "invalid"))
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(flatten_validation(item, f"{prefix}[{index}]"))
    else:
        out.append((prefix, str(detail), getattr(detail, "code", "invalid") or "invalid"))
    return out


_DRF_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _translate(exc: Exception) -> tuple[int, str, str, list[tuple[str, str, str]] | None, dict[str, str]]:
    """→ (status, code, message, field errors, extra headers) for any exception we render."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        fields = [(f.path, f.message, f.code) for f in exc.field_errors] or None
        return exc.status, exc.code, exc.message, fields, headers
    if isinstance(exc, OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError):
        # the database went away mid-request (a restart, a failover): nothing was committed; try again
        logger.warning("database unavailable: %s", type(exc).__name__)
        return (
            503,
            "service_unavailable",
            "The database is unavailable; nothing was stored. Retry shortly.",
            None,
            {"Retry-After": "5"},
        )
    if isinstance(exc, Http404):
        return 404, "not_found", "Not found.", None, headers
    if isinstance(exc, DjangoPermissionDenied):
        return 403, "forbidden", "You do not have permission to perform this action.", None, headers
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_validation(exc.detail)
        return 400, "validation_error", "The request is invalid.", fields, headers
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None)  # set by DRF's Throttled; its stubs leave it out
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return 429, "too_many_requests", str(exc.detail), None, headers
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return 401, "unauthorized", str(exc.detail), None, headers
    if isinstance(exc, exceptions.APIException):
        code = _DRF_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return exc.status_code, code, detail, None, headers
    raise exc


def render(family: str, exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    if isinstance(exc, DinteroError):
        return exc.status_code, dintero_body(exc.code, exc.message, exc.errors), {}
    if isinstance(exc, OpenLoyaltyError):
        return exc.status_code, open_loyalty_body(exc.status_code, exc.message, exc.errors), {}
    status_code, code, message, fields, headers = _translate(exc)
    if family == OPEN_LOYALTY:
        errors = [ol_field_error(path, msg, field_code) for path, msg, field_code in fields] if fields else None
        return status_code, open_loyalty_body(status_code, message, errors), headers
    with_codes = not isinstance(exc, DomainError) or exc.field_codes
    errors = [_dintero_field(path, msg, field_code, with_codes) for path, msg, field_code in fields] if fields else None
    return status_code, dintero_body(code, message, errors), headers


def _dintero_field(path: str, message: str, code: str, with_code: bool) -> dict[str, str]:
    return {"path": path, "message": message, "code": code} if with_code else {"path": path, "message": message}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    view = context.get("view")
    family = getattr(view, "api_family", DINTERO)
    try:
        status_code, body, headers = render(family, exc)
    except Exception:
        return None  # not ours: Django turns it into a 500 (and the family-shaped handler500 answers)
    if status_code == status.HTTP_401_UNAUTHORIZED:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return Response(body, status=status_code, headers=headers)


def family_for_path(path: str) -> str:
    return OPEN_LOYALTY if path.startswith("/api/") else DINTERO


def json_error_response(path: str, status_code: int, code: str, message: str) -> JsonResponse:
    if family_for_path(path) == OPEN_LOYALTY:
        return JsonResponse(open_loyalty_body(status_code, message), status=status_code)
    return JsonResponse(dintero_body(code, message), status=status_code)
