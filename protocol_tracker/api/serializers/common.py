"""Fields and helpers shared by the API's serializers."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from protocol_tracker.api.principals import is_person, scope
from protocol_tracker.core.scoping import lab_ids_for_user

MAX_ID = 2**63 - 1


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """An id of an object the caller may see; anything else (another lab's object included)
    is refused exactly like an id that does not exist."""

    default_error_messages = {
        "does_not_exist": _("No object with id {pk_value} exists (or it is not in your labs)."),
        "incorrect_type": _("Expected an id (a whole number), got {data_type}."),
    }

    def __init__(self, *, model, queryset_hook: Callable | None = None, **kwargs) -> None:
        self.model = model
        self.queryset_hook = queryset_hook
        kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        qs = self.model.objects.all()
        if self.queryset_hook is not None:
            qs = self.queryset_hook(qs)
        return scope(qs, request) if request is not None else qs.none()

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str):
            if not (data.isascii() and data.isdigit()):
                self.fail("incorrect_type", data_type="str")
            data = int(data)
        if not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class ColleagueField(serializers.PrimaryKeyRelatedField):
    """The id of an active user who shares a lab with the caller (others look missing)."""

    default_error_messages = ScopedPrimaryKeyField.default_error_messages

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("queryset", get_user_model().objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        users = get_user_model().objects.filter(is_active=True)
        if user is None or not is_person(request):
            return users.none()
        return users.filter(memberships__lab__in=lab_ids_for_user(user)).distinct()

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            self.fail("incorrect_type", data_type="str")
        if not 1 <= int(data) <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(int(data))


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string", "maxLength": 10000}],
        "description": "A number, a boolean or text, as the checkpoint's value type asks.",
    }
)
class QCValueField(serializers.Field):
    """A QC value as sent: number, boolean or text (the checkpoint's value type decides)."""

    default_error_messages = {
        "invalid": _("Must be a number, a boolean or text."),
        "too_long": _("Text values are at most 10,000 characters."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool | int | float):
            if isinstance(data, float) and data != data:  # NaN never reaches JSON, but be sure
                self.fail("invalid")
            return data
        if isinstance(data, str):
            if len(data) > 10000:
                self.fail("too_long")
            return data
        self.fail("invalid")
        return None

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.NUMBER)
class HoursField(serializers.Field):
    """A duration shown as hours (the protocol definition's unit)."""

    def to_representation(self, value):
        if value is None:
            return None
        hours = value.total_seconds() / 3600
        return int(hours) if float(hours).is_integer() else hours

    def to_internal_value(self, data):  # pragma: no cover - read-only use
        raise NotImplementedError


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", 512)
        kwargs.setdefault("style", {"input_type": "password"})
        kwargs.setdefault("help_text", _("The signer's own password: signing re-authenticates."))
        super().__init__(**kwargs)


def sparse_fields(request, available) -> list[str] | None:
    """The ``?fields=`` selection, validated against ``available`` (None means all)."""
    raw = request.query_params.get("fields") if request is not None else None
    if raw is None or raw == "":
        return None
    wanted = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in available]
    if unknown or not wanted:
        raise serializers.ValidationError(
            {
                "fields": [
                    _("Unknown field(s) %(unknown)s; choose from: %(available)s.")
                    % {"unknown": ", ".join(unknown) or "''", "available": ", ".join(available)}
                ]
            }
        )
    if "id" in available and "id" not in wanted:
        wanted.insert(0, "id")
    return list(dict.fromkeys(wanted))


class SparseFieldsMixin:
    """``?fields=a,b`` keeps only those fields (plus ``id``) in list and detail responses."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if not self.context.get("sparse") or request is None:
            return
        selected = sparse_fields(request, list(self.fields))
        if selected is not None:
            for name in list(self.fields):
                if name not in selected:
                    self.fields.pop(name)
