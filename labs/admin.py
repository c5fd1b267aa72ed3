"""Django admin for lab admins, scoped to the labs they administer.

Superusers see everything. Staff users see only the labs where they are ``lab_admin``; GMP
records (``read_only_model = True``) are view-only here: they change only through services.
"""

from django.contrib import admin

from labs.models import InstrumentCredential, Lab, Membership, Role
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.scoping import lab_ids_for_user

ADMIN_ROLES = (Role.LAB_ADMIN,)


class LabScopedAdmin(admin.ModelAdmin):
    read_only_model = False

    def _is_lab_admin(self, request) -> bool:
        user = request.user
        return (
            user.is_active
            and user.is_staff
            and (user.is_superuser or lab_ids_for_user(user, roles=ADMIN_ROLES).exists())
        )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.for_user(request.user, roles=ADMIN_ROLES)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not request.user.is_superuser and hasattr(related, "lab_field"):
            kwargs["queryset"] = related.objects.for_user(request.user, roles=ADMIN_ROLES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return self._is_lab_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._is_lab_admin(request)

    def has_add_permission(self, request):
        return not self.read_only_model and self._is_lab_admin(request)

    def has_change_permission(self, request, obj=None):
        return not self.read_only_model and self._is_lab_admin(request)

    def has_delete_permission(self, request, obj=None):
        # Nothing in a GMP system is deleted from the admin; retire or revoke instead.
        return False


@admin.register(Lab)
class LabAdmin(LabScopedAdmin):
    list_display = ("name", "slug", "timezone", "digest_hour")
    search_fields = ("name", "slug")

    def has_add_permission(self, request):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(LabScopedAdmin):
    list_display = ("user", "lab", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username",)


class CredentialInline(admin.TabularInline):
    model = InstrumentCredential
    fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


# The instrument admin (assays picked from the lab's published protocols, creation through the
# equipment services) is registered by ``protocol_tracker.equipment.admin``: it needs the protocols
# a layer above labs.


# The audit trail's read-only admin is registered here: audit sits below labs and imports nothing
# of it, while every admin page shares this module's lab scoping.
@admin.register(AuditEvent)
class AuditEventAdmin(LabScopedAdmin):
    list_display = ("id", "created_at", "actor_label", "action", "object_type", "object_id", "lab")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "object_repr", "actor_label", "reason")
    read_only_model = True
