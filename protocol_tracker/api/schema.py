"""OpenAPI generation (drf-spectacular): auth schemes, the problem shape on every operation,
the ``Idempotency-Key`` header on creates and ``?fields=`` on reads."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from protocol_tracker.api.exceptions import PROBLEM_CONTENT_TYPE


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the field, or null.")
    message = serializers.CharField(help_text="The rule that was broken, in words.")
    code = serializers.CharField(allow_null=True)


class RowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="0-based index of the row.")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """Problem details (RFC 9457)."""

    type = serializers.CharField(help_text="URI naming the problem type.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Machine-readable problem code.")
    instance = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)
    errors = FieldErrorSerializer(many=True)
    rows = RowErrorSerializer(
        many=True, required=False, help_text="Bulk requests: one entry per bad field of a bad row."
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `errors` names each field and the rule it broke.",
    "401": "Not authenticated, or the token is invalid or revoked.",
    "403": "Authenticated, but the role (or the instrument) may not do this.",
    "404": "No such object in your labs (another lab's objects are indistinguishable).",
    "409": "Illegal state transition or a lost race; `detail` names the rule.",
    "413": "The request or the file is too large.",
    "415": "Unsupported media type or file type.",
    "422": "The Idempotency-Key was already used with a different request.",
    "429": "Throttled; retry after the `Retry-After` seconds.",
}


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "protocol_tracker.api.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A person's token from `POST /api/v1/auth/token/`, sent as "
            "`Authorization: Token ptp_…`.",
        }


class InstrumentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "protocol_tracker.api.authentication.InstrumentTokenAuthentication"
    name = "instrumentToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An instrument's token from `manage.py create_instrument_token`, sent "
            "as `Authorization: Token pti_…`. Only the operations that list this "
            "scheme accept it.",
        }

    def get_security_requirement(self, auto_schema):
        view = auto_schema.view
        action = getattr(view, "action", None) or auto_schema.method.lower()
        if action in getattr(view, "instrument_actions", ()):
            return {self.name: []}
        return None


def _view_method(view, method: str):
    action = getattr(view, "action", None)
    if action:
        return getattr(view, action, None)
    return getattr(view, method.lower(), None)


def error_codes(*, extra: tuple[str, ...] = (), omit: tuple[str, ...] = ()):
    """Adjust the error statuses documented for one view method."""

    def decorate(func):
        func.extra_error_codes = extra
        func.omit_error_codes = omit
        return func

    return decorate


def is_idempotent_operation(view, method: str) -> bool:
    return bool(getattr(_view_method(view, method), "idempotent", False))


class ApiAutoSchema(AutoSchema):
    def _allows_anonymous(self) -> bool:
        return any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())

    def _has_object(self) -> bool:
        return "{" in self.path

    def error_codes(self) -> list[str]:
        codes = ["400"]
        if not self._allows_anonymous():
            codes += ["401", "403"]
        if self._has_object():
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        if is_idempotent_operation(self.view, self.method):
            codes.append("422")
        codes.append("429")
        method = _view_method(self.view, self.method)
        extra = getattr(method, "extra_error_codes", ())
        omitted = getattr(method, "omit_error_codes", ())
        return sorted((set(codes) | set(extra)) - set(omitted))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for code in self.error_codes():
            responses.setdefault(
                code,
                {
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
                    "description": ERROR_DESCRIPTIONS.get(code, ""),
                },
            )
        return responses

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.method == "POST" and is_idempotent_operation(self.view, self.method):
            params.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    str,
                    OpenApiParameter.HEADER,
                    required=False,
                    pattern=r"^[\x21-\x7e]{1,255}$",
                    description="Makes a create safe to retry: the same key and body return the "
                    "first response and write nothing; the same key with another body "
                    "is a 422. Keys are per caller (person or instrument).",
                )
            )
        action = getattr(self.view, "action", None)
        sparse = getattr(self.view, "sparse_actions", ("list", "retrieve"))
        if self.method == "GET" and action in sparse and hasattr(self.view, "model"):
            params.append(
                OpenApiParameter(
                    "fields",
                    str,
                    OpenApiParameter.QUERY,
                    required=False,
                    description="Comma-separated field names to return (plus `id`); "
                    "unknown names are a 400.",
                )
            )
        return params
