"""Reads of materials and lots, scoped to the viewer's labs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from labs.models import Lab
from protocol_tracker.core.actors import Person
from protocol_tracker.materials.models import LotStatus, Material, MaterialLot


def materials_for_user(user: Person, *, active: bool | None = None) -> QuerySet[Material]:
    """The materials of the user's labs, with how many of their lots are released."""
    qs = (
        Material.objects.for_user(user)
        .select_related("lab")
        .annotate(released_lots=Count("lots", filter=Q(lots__status=LotStatus.RELEASED)))
        .order_by("lab__name", "name", "code")
    )
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def material_for_user(*, user: Person, material_id: int) -> Material:
    return Material.objects.for_user(user).select_related("lab").get(pk=material_id)


def materials_of_lab(*, lab: Lab, codes: Iterable[str] | None = None) -> QuerySet[Material]:
    qs = Material.objects.for_lab(lab).order_by("name", "code")
    if codes is not None:
        qs = qs.filter(code__in=list(codes))
    return qs


def lots_for_user(
    user: Person,
    *,
    status: str | None = None,
    material_id: int | None = None,
    search: str = "",
) -> QuerySet[MaterialLot]:
    """Lots of the user's labs, soonest expiry first, shaped for lists and the API."""
    qs = (
        MaterialLot.objects.for_user(user)
        .select_related("material", "lab", "received_by", "released_by")
        .order_by("expiry_date", "id")
    )
    if status:
        qs = qs.filter(status=status)
    if material_id is not None:
        qs = qs.filter(material_id=material_id)
    if search:
        qs = qs.filter(
            Q(lot_number__icontains=search)
            | Q(material__name__icontains=search)
            | Q(material__code__icontains=search)
        )
    return qs


def lot_for_user(*, user: Person, lot_id: int) -> MaterialLot:
    return (
        MaterialLot.objects.for_user(user)
        .select_related("material", "lab", "received_by", "released_by", "release_signature")
        .get(pk=lot_id)
    )


def lots_in_use_for(*, lab: Lab, codes: Iterable[str]) -> QuerySet[MaterialLot]:
    """The lots a technician may pick for materials ``codes``: released, not used up, first
    expiry first (the date check at use refuses one that expired since the sweep)."""
    return (
        MaterialLot.objects.for_lab(lab)
        .filter(material__code__in=list(codes), status=LotStatus.RELEASED)
        .select_related("material", "lab")
        .order_by("material__code", "expiry_date", "id")
    )


def lots_by_scan(*, lab: Lab, code: str) -> list[MaterialLot]:
    """The lot a scanned code names in ``lab``: its label code (``<material>-<lot number>``), or
    a supplier's lot number (several lots when materials share one: the caller asks which)."""
    code = (code or "").strip()
    if not code:
        return []
    qs = MaterialLot.objects.for_lab(lab).select_related("material", "lab")
    exact = list(qs.filter(code__iexact=code)[:1])
    return exact or list(qs.filter(lot_number=code).order_by("pk")[:10])


def lots_expiring(*, lab: Lab, now: datetime, within_days: int) -> QuerySet[MaterialLot]:
    """Usable lots of ``lab`` whose expiry date is within ``within_days`` of the lab's today."""
    today = now.astimezone(lab.tz).date()
    return (
        MaterialLot.objects.for_lab(lab)
        .filter(
            status__in=[LotStatus.QUARANTINE, LotStatus.RELEASED],
            expiry_date__lte=today.fromordinal(today.toordinal() + within_days),
        )
        .select_related("material")
        .order_by("expiry_date", "id")
    )
