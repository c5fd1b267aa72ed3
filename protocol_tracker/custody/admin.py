"""Read-only admin of the custody records: they are written only by the services."""

from __future__ import annotations

from django.contrib import admin

from protocol_tracker.custody.models import HandOff, IdentityScan, Item, Shipment


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


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ("item_id", "kind", "run", "created_at")
    search_fields = ("item_id",)


@admin.register(IdentityScan)
class IdentityScanAdmin(ReadOnlyAdmin):
    list_display = ("pk", "run", "checkpoint", "verdict", "method", "scanned_by", "scanned_at")
    list_filter = ("verdict", "method")


@admin.register(HandOff)
class HandOffAdmin(ReadOnlyAdmin):
    list_display = ("item", "from_location", "to_location", "sent_at", "received_at")


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ("pk", "run", "kind", "status", "courier", "packed_at", "received_at")
