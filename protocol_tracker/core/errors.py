"""Domain exceptions. Services raise these; the API maps them to HTTP in one handler and the web
UI shows their message. The domain never imports DRF.

Each carries a stable ``code`` (machine-readable, used as the problem ``type``), a human message
naming the rule that was broken, and optional per-field errors.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(
        self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}

    def as_record(self) -> dict:
        """The error as plain data, for a failure reported later (a background job keeps it):
        ``{code, status, detail, errors: [{field, message, code}]}`` (+ ``rows`` for bulk)."""
        return {
            "code": self.code,
            "status": self.http_status,
            "detail": self.message,
            "errors": [
                {"field": field, "message": str(message), "code": self.code}
                for field, messages in self.fields.items()
                for message in (messages if isinstance(messages, list | tuple) else [messages])
            ],
        }


class ValidationFailed(DomainError):
    """Bad input: a value, unit, type or range the rules refuse (HTTP 400)."""

    code = "validation_failed"
    http_status = 400


class RowErrors(ValidationFailed):
    """Bad rows in a bulk request: ``rows`` is a list of {index, field, message} (HTTP 400)."""

    code = "bulk_validation_failed"

    def __init__(self, message: str, *, rows: list[dict]) -> None:
        super().__init__(message)
        self.rows = rows

    def as_record(self) -> dict:
        return {
            **super().as_record(),
            "rows": [
                {
                    "index": row.get("index"),
                    "field": row.get("field") or None,
                    "message": str(row.get("message", "")),
                }
                for row in self.rows
            ],
        }


class NotPermitted(DomainError):
    """The actor's role does not allow this (HTTP 403)."""

    code = "not_permitted"
    http_status = 403


class InvalidTransition(DomainError):
    """An illegal state transition: the message names the rule (HTTP 409)."""

    code = "invalid_transition"
    http_status = 409


class Conflict(DomainError):
    """A lost race or a duplicate (HTTP 409)."""

    code = "conflict"
    http_status = 409


class SignatureRefused(DomainError):
    """Re-authentication failed or four-eyes violated (HTTP 403)."""

    code = "signature_refused"
    http_status = 403
