"""The base of every resource viewset: lab scoping, roles, lean lists, safe ids."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from labs.selectors import role_in_lab
from protocol_tracker.api.pagination import IdCursorPagination
from protocol_tracker.api.permissions import LabRolePermission, describe_roles
from protocol_tracker.api.principals import actor_of, instrument_of, scope
from protocol_tracker.api.serializers.common import MAX_ID, sparse_fields

ID_PATTERN = r"[0-9]{1,19}"


class LeanColumns:
    """A list shape read with one ``.values()`` query and no serializer per row.

    ``columns`` maps each output field to its ORM path. Output matches the list serializer
    that documents it (a test holds them equal); ``?fields=`` narrows the columns fetched.
    """

    def __init__(self, columns: dict[str, str]) -> None:
        self.columns = columns

    def queryset(self, queryset, fields: list[str] | None):
        names = [n for n in self.columns if fields is None or n in fields]
        paths = list(dict.fromkeys(["id", *(self.columns[n] for n in names)]))
        return queryset.values(*paths), names

    def rows(self, values: list[dict], names: list[str]) -> list[dict]:
        columns = self.columns
        return [{name: row[columns[name]] for name in names} for row in values]


class LabScopedViewSet(viewsets.GenericViewSet):
    """Objects of the caller's labs only (an instrument: its own lab only).

    A resource reads through its app's selector: ``selector(viewer)`` (the person, or the
    instrument where ``instrument_actions`` let one in) returns the queryset already scoped to
    the viewer's labs and shaped (``select_related``) for the serializer. List filters and the
    page apply on top of it.
    """

    permission_classes = [LabRolePermission]
    pagination_class = IdCursorPagination
    filter_backends = [DjangoFilterBackend]
    lookup_value_regex = ID_PATTERN
    model = None
    #: ``selector(viewer) -> QuerySet`` (set as a ``staticmethod``).
    selector: Callable | None = None
    #: action -> roles needed in the object's (or the target) lab; absent: any member.
    action_roles: dict = {}
    #: actions an instrument token may call.
    instrument_actions: frozenset = frozenset()
    #: action -> serializer class (falls back to ``serializer_class``).
    serializers: dict = {}
    #: a lean list shape, or None to list with the list serializer.
    lean: LeanColumns | None = None

    def base_queryset(self):
        """Without a ``selector`` (instrument uploads, for now): the unscoped rows to scope."""
        return self.model.objects.all()

    def get_queryset(self):
        if self.selector is not None:
            return self.selector(actor_of(self.request))
        return scope(self.base_queryset(), self.request)

    def get_serializer_class(self):
        return self.serializers.get(self.action, self.serializer_class)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["sparse"] = self.action in ("list", "retrieve")
        return context

    def get_object(self):
        raw = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if raw is None or not str(raw).isdigit() or int(raw) > MAX_ID:
            raise Http404
        return super().get_object()

    # --- roles in the lab a create targets -------------------------------------------------

    def require_role_in(self, lab_id: int, action: str | None = None) -> None:
        if instrument_of(self.request) is not None:
            return
        roles = self.action_roles.get(action or self.action)
        if roles is None:
            return
        if role_in_lab(self.request.user, lab_id) not in {str(r) for r in roles}:
            raise PermissionDenied(f"This needs the {describe_roles(roles)} role in this lab.")

    # --- reads ---------------------------------------------------------------------------

    def filter_queryset(self, queryset):
        # Building a FilterSet deep-copies all its filters (~1 ms): skip it when the request
        # names none of them, which is most list calls.
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None and self.request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        if self.lean is not None:
            fields = sparse_fields(request, list(self.lean.columns))
            values, names = self.lean.queryset(queryset, fields)
            page = self.paginate_queryset(values)
            return self.get_paginated_response(self.lean.rows(page, names))
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)

    # --- helpers for actions -------------------------------------------------------------

    def validated(self, serializer_class=None, **context):
        serializer_class = serializer_class or self.get_serializer_class()
        serializer = serializer_class(
            data=self.request.data, context={**self.get_serializer_context(), **context}
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def output(self, obj, serializer_class, *, status_code=status.HTTP_200_OK, headers=None):
        data = serializer_class(obj, context=self.get_serializer_context()).data
        return Response(data, status=status_code, headers=headers)
