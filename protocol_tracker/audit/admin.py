from django.contrib import admin

from labs.admin import LabScopedAdmin
from protocol_tracker.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(LabScopedAdmin):
    list_display = ("id", "created_at", "actor_label", "action", "object_type", "object_id", "lab")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "object_repr", "actor_label", "reason")
    read_only_model = True
