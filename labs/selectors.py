"""Reads about labs and roles."""

from __future__ import annotations

from django.db.models import QuerySet

from labs.models import Lab, Membership
from protocol_tracker.core.errors import NotPermitted


def labs_for_user(user) -> QuerySet[Lab]:
    return Lab.objects.for_user(user).order_by("name")


def role_in_lab(user, lab: Lab | int) -> str | None:
    """The user's role in ``lab``, or None when they are not a member."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    lab_id = lab if isinstance(lab, int) else lab.pk
    cache = getattr(user, "_lab_roles", None)
    if cache is None:
        cache = dict(Membership.objects.filter(user=user).values_list("lab_id", "role"))
        user._lab_roles = cache
    return cache.get(lab_id)


def has_role(user, lab: Lab | int, roles) -> bool:
    return role_in_lab(user, lab) in roles


def require_role(actor, lab: Lab | int, roles, doing: str) -> None:
    """Raise NotPermitted unless ``actor`` (a user) has one of ``roles`` in ``lab``.

    The guard every service calls first; ``doing`` completes "<user> may not ... in this lab"."""
    if actor is None or not has_role(actor, lab, roles):
        who = actor.get_username() if actor is not None else "nobody"
        raise NotPermitted(f"{who} may not {doing} in this lab")


def sole_lab_for(user, roles) -> Lab | None:
    """The one lab where ``user`` has one of ``roles``; None when there are none or several."""
    role_in_lab(user, 0)  # fills the per-request cache of the user's roles
    candidates = [
        lab_id for lab_id, role in getattr(user, "_lab_roles", {}).items() if role in roles
    ]
    return Lab.objects.get(pk=candidates[0]) if len(candidates) == 1 else None
