"""Row locks for vials and vessels. Order everywhere: the run(s) first (``runs.locks``), then
lots (``materials.locks``), then positions (``inventory.services.lock_positions``), then vials
and vessels, each in ``pk`` order."""

from __future__ import annotations

from collections.abc import Iterable

from protocol_tracker.cellbank.models import Vessel, Vial


def lock_vials(pks: Iterable[int]) -> dict[int, Vial]:
    ordered = sorted(set(pks))
    rows = (
        Vial.objects.select_for_update(of=("self",))
        .select_related("position__box__rack__tank", "donor", "lab")
        .filter(pk__in=ordered)
        .order_by("pk")
    )
    return {v.pk: v for v in rows}


def lock_vessel(pk: int) -> Vessel:
    return (
        Vessel.objects.select_for_update(of=("self",))
        .select_related("run__lab", "donor")
        .get(pk=pk)
    )
