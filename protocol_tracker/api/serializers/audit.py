"""The audit trail (read only)."""

from __future__ import annotations

from rest_framework import serializers

from protocol_tracker.api.serializers.common import SparseFieldsMixin
from protocol_tracker.audit.models import AuditEvent


class AuditEventSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "lab",
            "run",
            "actor_label",
            "actor_user",
            "actor_instrument",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "reason",
            "request_id",
            "created_at",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
