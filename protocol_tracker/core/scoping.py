"""The one place that decides which lab data a user or an instrument may see.

Every model that holds lab data declares ``lab_field`` (the lookup path to its lab, e.g.
``"stage_run__run__lab"``) and uses :class:`LabScopedQuerySet`. Selectors, views, the API and the
admin all start from ``Model.objects.for_user(user)`` or ``.for_lab(lab)``; there is no other
path to another lab's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Self, TypeVar

from django.apps import apps
from django.db import models

if TYPE_CHECKING:
    from labs.models import Instrument, Lab


def lab_ids_for_user(user, *, roles: Iterable[str] | None = None) -> models.QuerySet:
    """A subquery of the lab ids ``user`` belongs to (optionally with one of ``roles``)."""
    # Named, not imported: every model uses this queryset, the audit trail's too, and audit sits
    # below labs. Django resolves the name from its registry, as it does a ForeignKey("labs.Lab").
    Membership = apps.get_model("labs", "Membership")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Membership.objects.none().values("lab_id")
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return memberships.values("lab_id")


_M = TypeVar("_M", bound=models.Model)


class LabScopedQuerySet(models.QuerySet[_M, _M]):
    def _lab_lookup(self) -> str:
        field = getattr(self.model, "lab_field", None)
        if field is None:
            raise TypeError(f"{self.model.__name__} declares no lab_field")
        return field

    def for_lab(self, lab: Lab | int) -> Self:
        lab_id = lab if isinstance(lab, int) else lab.pk
        return self.filter(**{self._lab_lookup(): lab_id})

    def for_user(self, user, *, roles: Iterable[str] | None = None) -> Self:
        """Rows of the labs ``user`` is a member of (with one of ``roles``, if given)."""
        return self.filter(**{f"{self._lab_lookup()}__in": lab_ids_for_user(user, roles=roles)})

    def for_instrument(self, instrument: Instrument) -> Self:
        if not instrument.is_active:
            return self.none()
        return self.for_lab(instrument.lab_id)
