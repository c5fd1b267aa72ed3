"""Read-only admin of the registry: COIs and label prints are written only by the services; the
vault's tokens are never shown."""

from __future__ import annotations

from django.contrib import admin

from protocol_tracker.identity.models import Coi, CoiSettings, LabelPrint


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return self.model.objects.for_user(request.user)


@admin.register(Coi)
class CoiAdmin(ReadOnlyAdmin):
    list_display = ("value", "lab", "issued_at", "issued_by")
    search_fields = ("value",)


@admin.register(CoiSettings)
class CoiSettingsAdmin(ReadOnlyAdmin):
    list_display = ("lab", "layout", "prefix", "updated_at")


@admin.register(LabelPrint)
class LabelPrintAdmin(ReadOnlyAdmin):
    list_display = ("pk", "lab", "template", "label_count", "printed_by", "printed_at")
    exclude = ("labels",)
