"""Who may call what.

Each viewset says which roles an action needs (``action_roles``; absent means any member of
the object's lab may call it) and which actions instruments may call (``instrument_actions``;
every other action refuses them). The object's lab decides: a role in another lab does not count.
Objects of labs the caller does not belong to never reach these checks: they are filtered out
of the queryset and answer 404.

The services check the same roles again; this layer answers earlier and states the reason.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from labs.models import Role
from labs.selectors import role_in_lab
from protocol_tracker.api.principals import InstrumentPrincipal

ROLE_NAMES = {str(role.value): str(role.label) for role in Role}


def _roles_in_any_lab(user) -> set[str]:
    role_in_lab(user, 0)  # fills the per-request cache of the user's memberships
    return set(getattr(user, "_lab_roles", {}).values())


def lab_id_of(obj) -> int | None:
    """The id of the lab ``obj`` belongs to, following its model's ``lab_field``."""
    field = getattr(type(obj), "lab_field", None)
    if field is None:
        return None
    if field == "pk":
        return obj.pk
    *path, last = field.split("__")
    value = obj
    for part in path:
        value = getattr(value, part)
    return getattr(value, f"{last}_id")


def describe_roles(roles) -> str:
    return " or ".join(sorted(ROLE_NAMES.get(str(r), str(r)) for r in roles))


class LabRolePermission(BasePermission):
    message = _("Your role does not allow this action.")

    @staticmethod
    def _action(request, view) -> str:
        return getattr(view, "action", None) or request.method.lower()

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        action = self._action(request, view)
        if isinstance(user, InstrumentPrincipal):
            if action in getattr(view, "instrument_actions", ()):
                return True
            self.message = _("Instrument tokens may not call this endpoint.")
            return False
        roles = getattr(view, "action_roles", {}).get(action)
        if roles is None:
            return True
        if _roles_in_any_lab(user) & {str(r) for r in roles}:
            return True
        self.message = _("This needs the %(roles)s role.") % {"roles": describe_roles(roles)}
        return False

    def has_object_permission(self, request, view, obj) -> bool:
        user = request.user
        if isinstance(user, InstrumentPrincipal):
            return True  # already limited to its actions and to its own lab's objects
        roles = getattr(view, "action_roles", {}).get(self._action(request, view))
        if roles is None:
            return True
        lab_id = lab_id_of(obj)
        if lab_id is not None and role_in_lab(user, lab_id) in {str(r) for r in roles}:
            return True
        self.message = _("This needs the %(roles)s role in this lab.") % {
            "roles": describe_roles(roles)
        }
        return False


class IsPerson(BasePermission):
    """People only (sessions and personal tokens), not instruments."""

    message = _("Instrument tokens may not call this endpoint.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and not isinstance(user, InstrumentPrincipal))
