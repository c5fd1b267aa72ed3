"""Labs and the audit trail (read only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view

from labs.models import Lab
from labs.selectors import labs_visible_to
from protocol_tracker.api.filters import AuditEventFilter
from protocol_tracker.api.pagination import AscendingIdCursorPagination
from protocol_tracker.api.serializers.audit import AuditEventSerializer
from protocol_tracker.api.serializers.labs import LabSerializer
from protocol_tracker.api.views.base import LabScopedViewSet, LeanColumns
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.audit.selectors import audit_events_for_user


@extend_schema_view(
    list=extend_schema(summary="Your labs"),
    retrieve=extend_schema(summary="One of your labs"),
)
class LabViewSet(LabScopedViewSet):
    model = Lab
    selector = staticmethod(labs_visible_to)
    serializer_class = LabSerializer
    pagination_class = AscendingIdCursorPagination
    filter_backends: list = []
    instrument_actions = frozenset({"list", "retrieve"})


@extend_schema_view(
    list=extend_schema(summary="Audit trail (filter by run, action, object)"),
    retrieve=extend_schema(summary="One audit event"),
)
class AuditEventViewSet(LabScopedViewSet):
    model = AuditEvent
    selector = staticmethod(audit_events_for_user)
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AscendingIdCursorPagination
    lean = LeanColumns(
        {
            name: f"{name}_id" if name in ("lab", "run", "actor_user", "actor_instrument") else name
            for name in AuditEventSerializer.Meta.fields
        }
    )
