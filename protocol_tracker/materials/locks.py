"""Row locks for lots: the only place that calls ``select_for_update`` on them.

A service that also changes a run locks the run first (``runs.locks``), then its lots, in ``pk``
order; a lot is never locked before a run.
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol_tracker.materials.models import MaterialLot


def lock_lots(pks: Iterable[int]) -> dict[int, MaterialLot]:
    """Lock lots in ``pk`` order; fresh from the database, with their material, by pk."""
    ordered = sorted(set(pks))
    lots = (
        MaterialLot.objects.select_for_update(of=("self",))
        .select_related("material", "lab")
        .filter(pk__in=ordered)
        .order_by("pk")
    )
    return {lot.pk: lot for lot in lots}


def lock_lot(pk: int) -> MaterialLot:
    return lock_lots([pk])[pk]
