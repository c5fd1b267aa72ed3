"""Reads of the cell bank: the box map, vials and vessels, bank counts per clone, a run's stock
and lineage, and the inventory's export rows. Query counts do not grow with the number of vials:
a box map is two queries whatever the box holds and however many vials the lab has."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet

from labs.models import Lab
from protocol_tracker.cellbank.models import (
    IN_STORAGE,
    BankTier,
    Vessel,
    Vial,
    VialMovement,
    VialStatus,
)
from protocol_tracker.core.actors import Person
from protocol_tracker.inventory.models import Box, Position
from protocol_tracker.inventory.selectors import location_of
from protocol_tracker.materials.models import Material, MaterialLot
from protocol_tracker.runs.models import Run


@dataclass
class Cell:
    """One position of a box map: free, reserved (held for a freeze, or its vial set aside) or
    occupied (a stored vial)."""

    position: Position
    vial: Vial | None = None

    @property
    def state(self) -> str:
        if self.vial is not None:
            return "reserved" if self.vial.status == VialStatus.RESERVED else "occupied"
        return "reserved" if self.position.is_reserved else "free"


@dataclass
class BoxMap:
    box: Box
    rows: list[list[Cell]]
    counts: dict[str, int]

    @property
    def column_numbers(self) -> list[int]:
        return list(range(1, self.box.columns + 1))


def box_map(*, box: Box) -> BoxMap:
    """``box`` (read through a lab-scoped selector) as a grid of cells: two queries (its
    positions, the vials in storage in them), whatever the box holds and the lab's size."""
    positions = list(Position.objects.for_lab(box.lab_id).filter(box=box).order_by("row", "column"))
    # By the box's position ids: the vial table's position index answers it, whatever the lab's
    # size (a join on the box would read the lab's vials).
    vials = {
        v.position_id: v
        for v in Vial.objects.for_lab(box.lab_id)
        .filter(position_id__in=[p.pk for p in positions], status__in=IN_STORAGE)
        .select_related("run")
    }
    grid: list[list[Cell]] = [[] for _ in range(box.rows)]
    counts = {"free": 0, "reserved": 0, "occupied": 0}
    for position in positions:
        position.box = box
        cell = Cell(position=position, vial=vials.get(position.pk))
        counts[cell.state] += 1
        grid[position.row - 1].append(cell)
    return BoxMap(box=box, rows=grid, counts=counts)


def free_position_count(*, box: Box) -> int:
    return (
        Position.objects.filter(box=box, reserved_at__isnull=True)
        .exclude(vials__status__in=IN_STORAGE)
        .count()
    )


def vials_for_user(
    user: Person,
    *,
    status: str | None = None,
    run_id: int | None = None,
    bank: str | None = None,
    search: str = "",
) -> QuerySet[Vial]:
    qs = (
        Vial.objects.for_user(user)
        .select_related("position__box__rack__tank", "run", "donor", "lab")
        .order_by("code")
    )
    if status:
        qs = qs.filter(status=status)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if bank:
        qs = qs.filter(bank=bank)
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(coi__icontains=search))
    return qs


def vial_for_user(*, user: Person, vial_id: int) -> Vial:
    """One vial with its position and custody log."""
    return (
        Vial.objects.for_user(user)
        .select_related(
            "position__box__rack__tank", "run", "donor", "lab", "freeze__medium_consumption__lot"
        )
        .prefetch_related(
            Prefetch(
                "movements",
                queryset=VialMovement.objects.select_related(
                    "by",
                    "received_by",
                    "from_position__box__rack__tank",
                    "to_position__box__rack__tank",
                ).order_by("at", "id"),
            )
        )
        .get(pk=vial_id)
    )


def vial_by_scan(*, lab: Lab, code: str) -> Vial | None:
    """The vial a scanned label names in ``lab`` (its code)."""
    code = (code or "").strip()
    if not code:
        return None
    return (
        Vial.objects.for_lab(lab)
        .select_related("position__box__rack__tank", "run", "donor", "lab")
        .filter(code__iexact=code)
        .first()
    )


def vessels_for_user(user: Person, *, run_id: int | None = None, status: str | None = None):
    qs = (
        Vessel.objects.for_user(user)
        .select_related("run", "source_vial", "parent")
        .order_by("run", "seeded_at", "id")
    )
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def vessel_for_user(*, user: Person, vessel_id: int) -> Vessel:
    return (
        Vessel.objects.for_user(user)
        .select_related("run", "source_vial", "parent", "donor")
        .prefetch_related("observations__by", "children")
        .get(pk=vessel_id)
    )


def vessel_by_scan(*, lab: Lab, code: str) -> Vessel | None:
    code = (code or "").strip()
    if not code:
        return None
    return Vessel.objects.for_lab(lab).select_related("run").filter(code__iexact=code).first()


# --- bank counts per clone ------------------------------------------------------------------


@dataclass
class BankLine:
    donor: str
    run_id: int | None
    run_code: str
    contents: str
    bank: str
    count: int
    locations: list[tuple[str, int]] = field(default_factory=list)

    @property
    def low(self) -> bool:
        return self.count < settings.BANK_LOW_STOCK_VIALS

    @property
    def bank_label(self) -> str:
        return str(BankTier(self.bank).label)


def bank_counts(*, lab: Lab) -> list[BankLine]:
    """Master and working banks of ``lab`` per clone (the run the vials came from, or the donor
    and contents of vials imported from before): vials in storage and where (box, count); one
    query. A bank below ``BANK_LOW_STOCK_VIALS`` is ``low``."""
    rows = (
        Vial.objects.for_lab(lab)
        .filter(status__in=IN_STORAGE, bank__in=[BankTier.MASTER, BankTier.WORKING])
        .values(
            "donor__code",
            "run_id",
            "run__code",
            "contents",
            "bank",
            "position__box__rack__tank__code",
            "position__box__rack__code",
            "position__box__code",
        )
        .annotate(n=Count("id"))
        .order_by("donor__code", "run__code", "contents", "bank", "position__box__code")
    )
    lines: dict[tuple, BankLine] = {}
    for row in rows:
        key = (row["donor__code"], row["run_id"], row["contents"], row["bank"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = BankLine(
                donor=row["donor__code"],
                run_id=row["run_id"],
                run_code=row["run__code"] or "",
                contents=row["contents"],
                bank=row["bank"],
                count=0,
            )
        line.count += row["n"]
        box = (
            f"{row['position__box__rack__tank__code']}/{row['position__box__rack__code']}/"
            f"{row['position__box__code']}"
        )
        line.locations.append((box, row["n"]))
    return list(lines.values())


# --- a run's stock and lineage ---------------------------------------------------------------


@dataclass
class RunStock:
    vials: list[Vial]
    vessels: list[Vessel]
    freezes: int

    @property
    def vials_in_storage(self) -> int:
        return sum(1 for v in self.vials if v.in_storage)


def run_stock(*, run: Run) -> RunStock:
    """The vials frozen from ``run`` and the vessels of ``run`` (two queries)."""
    vials = list(
        Vial.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("position__box__rack__tank")
        .order_by("code")
    )
    vessels = list(
        Vessel.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("source_vial", "parent")
        .order_by("seeded_at", "id")
    )
    return RunStock(vials=vials, vessels=vessels, freezes=len({v.freeze_id for v in vials}))


@dataclass
class LineageNode:
    kind: str  # "vessel" or "vial"
    code: str
    passage: int
    status: str
    pk: int
    children: list[LineageNode] = field(default_factory=list)


def run_lineage_stock(*, run: Run, stock: RunStock | None = None) -> list[LineageNode]:
    """``run``'s vessels as a tree (splits) and the vials frozen from it: the lineage view's
    rows (two queries, none given ``stock``)."""
    stock = stock or run_stock(run=run)
    nodes = {v.pk: LineageNode("vessel", v.code, v.passage, v.status, v.pk) for v in stock.vessels}
    roots: list[LineageNode] = []
    for vessel in stock.vessels:
        node = nodes[vessel.pk]
        if vessel.parent_id in nodes:
            nodes[vessel.parent_id].children.append(node)
        else:
            roots.append(node)
    roots += [LineageNode("vial", v.code, v.passage, v.status, v.pk) for v in stock.vials]
    return roots


# --- export ------------------------------------------------------------------------------


EXPORT_COLUMNS = (
    "type",
    "material_code",
    "material_name",
    "kind",
    "supplier",
    "catalogue_number",
    "unit",
    "lot_number",
    "expiry_date",
    "quantity",
    "status",
    "vial_code",
    "donor_code",
    "run_code",
    "passage",
    "cells_per_vial",
    "contents",
    "bank",
    "tank",
    "rack",
    "box",
    "box_rows",
    "box_columns",
    "position",
    "frozen_at",
)


def inventory_export_rows(*, lab: Lab) -> list[dict]:
    """The lab's inventory as rows of ``EXPORT_COLUMNS`` (the import's columns): its materials,
    its lots and its vials in storage; three queries whatever the size. The lab's time zone is
    applied to the freeze times."""
    blank = dict.fromkeys(EXPORT_COLUMNS, "")
    rows: list[dict] = []
    materials = (
        Material.objects.for_lab(lab)
        .order_by("code")
        .values("code", "name", "kind", "supplier", "catalogue_number", "unit")
    )
    rows.extend(
        {
            **blank,
            "type": "material",
            "material_code": m["code"],
            "material_name": m["name"],
            "kind": m["kind"],
            "supplier": m["supplier"],
            "catalogue_number": m["catalogue_number"],
            "unit": m["unit"],
        }
        for m in materials
    )
    lots = (
        MaterialLot.objects.for_lab(lab)
        .order_by("material__code", "lot_number")
        .values(
            "material__code", "lot_number", "expiry_date", "quantity_remaining", "unit", "status"
        )
    )
    rows.extend(
        {
            **blank,
            "type": "lot",
            "material_code": lot["material__code"],
            "lot_number": lot["lot_number"],
            "expiry_date": lot["expiry_date"].isoformat(),
            "quantity": f"{lot['quantity_remaining'].normalize():f}",
            "unit": lot["unit"],
            "status": lot["status"],
        }
        for lot in lots
    )
    tz = lab.tz
    for v in (
        Vial.objects.for_lab(lab)
        .filter(status__in=IN_STORAGE)
        .order_by("code")
        .values(
            "code",
            "donor__code",
            "run__code",
            "passage",
            "cells_per_vial",
            "contents",
            "bank",
            "status",
            "frozen_at",
            "position__row",
            "position__column",
            "position__box__code",
            "position__box__rows",
            "position__box__columns",
            "position__box__rack__code",
            "position__box__rack__tank__code",
        )
    ):
        position = Position(row=v["position__row"], column=v["position__column"])
        rows.append(
            {
                **blank,
                "type": "vial",
                "vial_code": v["code"],
                "donor_code": v["donor__code"],
                "run_code": v["run__code"] or "",
                "passage": v["passage"],
                "cells_per_vial": f"{v['cells_per_vial']:g}",
                "contents": v["contents"],
                "bank": v["bank"],
                "status": v["status"],
                "tank": v["position__box__rack__tank__code"],
                "rack": v["position__box__rack__code"],
                "box": v["position__box__code"],
                "box_rows": v["position__box__rows"],
                "box_columns": v["position__box__columns"],
                "position": position.name,
                "frozen_at": v["frozen_at"].astimezone(tz).isoformat(timespec="minutes"),
            }
        )
    return rows


__all__ = [
    "EXPORT_COLUMNS",
    "BankLine",
    "BoxMap",
    "Cell",
    "bank_counts",
    "box_map",
    "free_position_count",
    "inventory_export_rows",
    "location_of",
    "run_lineage_stock",
    "run_stock",
    "vessel_by_scan",
    "vessel_for_user",
    "vessels_for_user",
    "vial_by_scan",
    "vial_for_user",
    "vials_for_user",
]
