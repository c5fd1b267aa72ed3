"""Storage in the Django admin: read-only, scoped; it changes on the storage screens."""

from django.contrib import admin

from labs.admin import LabScopedAdmin
from protocol_tracker.inventory.models import Box, Tank


@admin.register(Tank)
class TankAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("code", "name", "kind", "location", "lab")


@admin.register(Box)
class BoxAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("code", "rack", "rows", "columns", "label")
