"""The request id of the current request or task, for audit events."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
