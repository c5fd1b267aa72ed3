"""Materials and lots in the Django admin: read-only, scoped to the labs one administers; they
change through the services (the web screens and the API)."""

from django.contrib import admin

from labs.admin import LabScopedAdmin
from protocol_tracker.materials.models import Material, MaterialLot


@admin.register(Material)
class MaterialAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("code", "name", "kind", "supplier", "catalogue_number", "unit", "lab")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name", "catalogue_number")


@admin.register(MaterialLot)
class MaterialLotAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("code", "material", "expiry_date", "status", "quantity_remaining", "unit")
    list_filter = ("status",)
    search_fields = ("code", "lot_number", "material__name")
