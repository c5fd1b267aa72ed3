"""Reads about labs and roles."""

from __future__ import annotations

from django.db.models import QuerySet

from labs.models import Lab, Membership


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
