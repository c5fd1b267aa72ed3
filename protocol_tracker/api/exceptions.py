"""One error shape for the whole API: problem details (RFC 9457).

Every error body is ``application/problem+json``::

    {"type": "urn:problem:protocol-tracker:validation_failed", "title": "Invalid input",
     "status": 400, "detail": "...", "code": "validation_failed", "instance": "/api/v1/runs/",
     "errors": [{"field": "planned_start", "message": "...", "code": "invalid"}]}

``errors`` names each bad field and the rule it broke; a bulk request adds ``rows``
(``[{"index", "field", "message"}]``). Domain errors (``protocol_tracker.core.errors``) map by their
own ``http_status`` and ``code``; DRF's and Django's exceptions by their type. Anything the
handler does not know stays a 500 (a bug, logged by Django), except malformed input that reached
the database driver, which is a 400.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from protocol_tracker.core.errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:problem:protocol-tracker:"

TITLES = {
    400: _("Invalid input"),
    401: _("Not authenticated"),
    403: _("Not allowed"),
    404: _("Not found"),
    405: _("Method not allowed"),
    406: _("Not acceptable"),
    409: _("Conflict"),
    413: _("Payload too large"),
    415: _("Unsupported media type"),
    422: _("Unprocessable request"),
    429: _("Too many requests"),
    500: _("Internal error"),
}


class ProblemException(exceptions.APIException):
    """An API error with an explicit status and code (for API-layer rules)."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int,
        code: str,
        errors: list[dict] | None = None,
        headers: dict | None = None,
    ) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.problem_code = code
        self.errors = errors or []
        self.headers = headers or {}


class PayloadTooLarge(ProblemException):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, status_code=413, code="payload_too_large")


class IdempotencyMismatch(ProblemException):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, status_code=422, code="idempotency_key_reused")


def problem(
    status_code: int,
    code: str,
    detail: str,
    *,
    request=None,
    errors: list[dict] | None = None,
    rows: list[dict] | None = None,
    title: str | None = None,
    headers: dict | None = None,
) -> Response:
    body: dict = {
        "type": f"{TYPE_PREFIX}{code}",
        "title": str(title or TITLES.get(status_code, _("Error"))),
        "status": status_code,
        "detail": str(detail),
        "code": code,
        "errors": errors or [],
    }
    if request is not None:
        body["instance"] = request.path
        request_id = getattr(request, "request_id", None) or getattr(
            getattr(request, "_request", None), "request_id", None
        )
        if request_id:
            body["request_id"] = request_id
    if rows is not None:
        body["rows"] = rows
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def flatten_errors(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error detail as ``[{field, message, code}]`` with dotted field paths."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key)
            if name in ("non_field_errors", "__all__"):
                out.extend(flatten_errors(value, prefix))
            else:
                out.extend(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.extend(
                {
                    "field": prefix or None,
                    "message": str(item),
                    "code": getattr(item, "code", None) or "invalid",
                }
                for item in detail
            )
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.append(
            {
                "field": prefix or None,
                "message": str(detail),
                "code": getattr(detail, "code", None) or "invalid",
            }
        )
    return out


def _validation_summary(errors: list[dict]) -> str:
    if not errors:
        return str(_("The request is invalid."))
    first = errors[0]
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}{first['message']}{more}"


def domain_error_parts(exc: DomainError) -> tuple[list[dict], list[dict] | None]:
    """A domain error's field errors and (bulk) row errors in the problem shape."""
    record = exc.as_record()
    return record["errors"], record.get("rows")


def problem_body(record: dict) -> dict:
    """The problem body of a failure kept as a domain error record (a background job's):
    :meth:`DomainError.as_record` plus the problem's ``type`` and ``title``."""
    if "type" in record:  # kept whole by an earlier version
        return record
    status = record.get("status", 500)
    return {
        "type": f"{TYPE_PREFIX}{record.get('code', 'error')}",
        "title": str(TITLES.get(status, _("Error"))),
        **record,
    }


def _domain_problem(exc: DomainError, request) -> Response:
    errors, rows = domain_error_parts(exc)
    return problem(
        exc.http_status, exc.code, exc.message, request=request, errors=errors, rows=rows
    )


def exception_handler(exc, context):
    request = context.get("request")
    set_rollback()
    if isinstance(exc, DomainError):
        return _domain_problem(exc, request)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(str(_("The request body is larger than the server accepts.")))
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ValidationError(str(exc))
    elif isinstance(exc, DataError | OverflowError):
        # Input the validators let through but the database refused (e.g. a number out of
        # range): still the client's input, so a 400 and not a 500. Logged to be fixed.
        logger.warning("database refused input: %s", exc)
        exc = exceptions.ValidationError(str(_("A value is out of the range the server accepts.")))

    if not isinstance(exc, exceptions.APIException):
        return None

    headers = dict(getattr(exc, "headers", None) or {})
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, ProblemException):
        return problem(
            exc.status_code,
            exc.problem_code,
            str(exc.detail),
            request=request,
            errors=exc.errors,
            headers=headers,
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        return problem(
            400,
            "validation_failed",
            _validation_summary(errors),
            request=request,
            errors=errors,
            headers=headers,
        )
    code = _code_for(exc)
    detail = exc.detail if not isinstance(exc.detail, list | dict) else exc.default_detail
    return problem(exc.status_code, code, str(detail), request=request, headers=headers)


def _code_for(exc: exceptions.APIException) -> str:
    mapping = {
        exceptions.NotAuthenticated: "not_authenticated",
        exceptions.AuthenticationFailed: "authentication_failed",
        exceptions.PermissionDenied: "not_permitted",
        exceptions.NotFound: "not_found",
        exceptions.MethodNotAllowed: "method_not_allowed",
        exceptions.NotAcceptable: "not_acceptable",
        exceptions.UnsupportedMediaType: "unsupported_media_type",
        exceptions.Throttled: "throttled",
        exceptions.ParseError: "malformed_request",
    }
    for klass, code in mapping.items():
        if isinstance(exc, klass):
            return code
    return getattr(exc, "default_code", None) or "error"
