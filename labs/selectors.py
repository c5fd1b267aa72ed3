"""Reads about labs and roles, and the one switch between a person's and an instrument's view."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from labs.models import Instrument, Lab, Membership
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import NotPermitted
from protocol_tracker.core.scoping import LabScopedQuerySet

if TYPE_CHECKING:
    from protocol_tracker.core.actors import Actor

QS = TypeVar("QS", bound=LabScopedQuerySet)


def visible_to(queryset: QS, viewer: Actor) -> QS:
    """``queryset`` narrowed to the rows ``viewer`` may see: a person, the rows of their labs
    (``for_user``); an instrument, its own lab's rows (``for_instrument``: none once disabled).
    For the reads that people and instruments share (the API's instrument endpoints)."""
    if isinstance(viewer, Instrument):
        return queryset.for_instrument(viewer)
    return queryset.for_user(viewer)


def labs_for_user(user: Person) -> QuerySet[Lab]:
    return Lab.objects.for_user(user).order_by("name")


def labs_visible_to(viewer: Actor) -> QuerySet[Lab]:
    """The caller's labs (an instrument: its own)."""
    return visible_to(Lab.objects.all(), viewer)


def memberships_for_user(user: Person) -> QuerySet[Membership]:
    """The user's memberships with their labs, by lab name."""
    return Membership.objects.filter(user=user).select_related("lab").order_by("lab__name")


def role_in_lab(user: Actor | None, lab: Lab | int) -> str | None:
    """The user's role in ``lab``, or None when they are not a member."""
    if not isinstance(user, AbstractBaseUser) or not user.is_authenticated or not user.is_active:
        return None
    lab_id = lab if isinstance(lab, int) else lab.pk
    cache = getattr(user, "_lab_roles", None)
    if cache is None:
        cache = dict(Membership.objects.filter(user=user).values_list("lab_id", "role"))
        user._lab_roles = cache  # type: ignore[attr-defined]  # cached per request
    return cache.get(lab_id)


def has_role(user: Actor | None, lab: Lab | int, roles) -> bool:
    return role_in_lab(user, lab) in roles


def require_role(actor: Actor | None, lab: Lab | int, roles, doing: str) -> None:
    """Raise NotPermitted unless ``actor`` (a user) has one of ``roles`` in ``lab``.

    The guard every service calls first; ``doing`` completes "<user> may not ... in this lab"."""
    if not has_role(actor, lab, roles):
        who = (
            actor.get_username()
            if isinstance(actor, AbstractBaseUser)
            else getattr(actor, "name", "nobody")
        )
        raise NotPermitted(f"{who} may not {doing} in this lab")


def sole_lab_for(user: Person, roles) -> Lab | None:
    """The one lab where ``user`` has one of ``roles``; None when there are none or several."""
    role_in_lab(user, 0)  # fills the per-request cache of the user's roles
    candidates = [
        lab_id for lab_id, role in getattr(user, "_lab_roles", {}).items() if role in roles
    ]
    return Lab.objects.get(pk=candidates[0]) if len(candidates) == 1 else None
