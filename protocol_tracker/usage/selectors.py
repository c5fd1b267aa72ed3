"""Reads of what runs used: where a lot was used (one query), a run's materials and equipment, what
a stage still lacks for its completion, and the rows the batch record and the exception list show.

Every read is scoped: from a lot or a run the caller already read through its own lab-scoped
selector, or ``for_user``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import get_language

from labs.models import Lab
from protocol_tracker.core.actors import Person
from protocol_tracker.equipment.models import Equipment, EquipmentStatus
from protocol_tracker.equipment.selectors import EquipmentState, equipment_state
from protocol_tracker.materials.models import LotStatus, Material, MaterialLot
from protocol_tracker.protocols.models import EquipmentKind
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.usage.models import EquipmentUse, LotConsumption

WHERE_USED_COLUMNS = (
    "id",
    "run_id",
    "run__code",
    "run__status",
    "run__flagged",
    "run__donor__code",
    "stage_run_id",
    "stage_run__stage__key",
    "stage_run__stage__name",
    "task_occurrence_id",
    "task_occurrence__task__name",
    "purpose",
    "quantity",
    "unit",
    "consumed_at",
    "consumed_by__username",
    "near_expiry",
)


def lot_where_used(*, lot: MaterialLot) -> list[dict]:
    """Every use of ``lot``: run, stage run, task, amount, when, by whom; one query, oldest
    first. ``lot`` comes from a lab-scoped read, and its uses are its own lab's."""
    return list(
        LotConsumption.objects.for_lab(lot.lab_id)
        .filter(lot=lot)
        .order_by("consumed_at", "id")
        .values(*WHERE_USED_COLUMNS)
    )


def lot_using_run_ids(*, lot: MaterialLot) -> list[int]:
    """The ids of the runs that used ``lot``, in id order (one query)."""
    return list(
        LotConsumption.objects.for_lab(lot.lab_id)
        .filter(lot=lot)
        .order_by("run_id")
        .values_list("run_id", flat=True)
        .distinct()
    )


def consumptions_for_user(user: Person) -> QuerySet[LotConsumption]:
    return LotConsumption.objects.for_user(user).select_related(
        "lot__material", "run", "stage_run__stage", "task_occurrence__task", "consumed_by"
    )


def tracked_codes(*, lab_id: int, codes: Iterable[str]) -> set[str]:
    """Of ``codes``, those the lab tracks (an active material of its catalogue)."""
    codes = list(codes)
    if not codes:
        return set()
    return set(
        Material.objects.for_lab(lab_id)
        .filter(code__in=codes, is_active=True)
        .values_list("code", flat=True)
    )


def tracked_kinds(*, lab_id: int, kinds: Iterable[str]) -> set[str]:
    """Of equipment ``kinds``, those the lab has registered equipment of (not retired)."""
    kinds = list(kinds)
    if not kinds:
        return set()
    return set(
        Equipment.objects.for_lab(lab_id)
        .filter(kind__in=kinds)
        .exclude(status=EquipmentStatus.RETIRED)
        .values_list("kind", flat=True)
    )


@dataclass
class UsageGaps:
    """What a stage run lacks before it may complete: required materials without a lot, and
    required kinds of equipment without a piece recorded (of what the lab tracks)."""

    materials: list[str] = field(default_factory=list)
    equipment: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.materials or self.equipment)

    def describe(self) -> str:
        parts = []
        if self.materials:
            parts.append("no lot recorded for " + ", ".join(self.materials))
        if self.equipment:
            parts.append("no equipment recorded of kind " + ", ".join(self.equipment))
        return "; ".join(parts)


def stage_usage_gaps(stage_run: StageRun, *, lab_id: int) -> UsageGaps:
    """The required lines of ``stage_run``'s bill and equipment still unfilled (three queries)."""
    stage = stage_run.stage
    required = [line for line in stage.materials or [] if line.get("required", True)]
    kinds = [line["kind"] for line in stage.equipment or [] if line.get("required", True)]
    gaps = UsageGaps()
    if required:
        tracked = tracked_codes(lab_id=lab_id, codes=[line["material"] for line in required])
        filled = set(
            LotConsumption.objects.filter(
                stage_run=stage_run, task_occurrence__isnull=True
            ).values_list("material_code", flat=True)
        )
        gaps.materials = [
            line["name"]
            for line in required
            if line["material"] in tracked and line["material"] not in filled
        ]
    if kinds:
        present = tracked_kinds(lab_id=lab_id, kinds=kinds)
        used = set(EquipmentUse.objects.filter(stage_run=stage_run).values_list("kind", flat=True))
        gaps.equipment = [
            str(EquipmentKind(kind).label) for kind in kinds if kind in present and kind not in used
        ]
    return gaps


# --- the recording form: bill lines with the lots to pick, equipment with its state -----------


@dataclass
class BillLine:
    material: str
    name: str
    required: bool
    quantity: object
    unit: str
    tracked: bool
    lots: list[MaterialLot] = field(default_factory=list)
    recorded: list[LotConsumption] = field(default_factory=list)
    error: str = ""  # set by the recording page


@dataclass
class KindLine:
    kind: str
    label: str
    required: bool
    choices: list[EquipmentState] = field(default_factory=list)
    recorded: list[EquipmentUse] = field(default_factory=list)
    error: str = ""  # set by the recording page


def bill_lines(
    *, lab: Lab, bill: list[dict], recorded: Iterable[LotConsumption] = ()
) -> list[BillLine]:
    """``bill``'s lines with the lab's released lots of each material (first expiry first) and
    what was recorded already; two queries whatever the bill's length."""
    codes = [line["material"] for line in bill]
    tracked = tracked_codes(lab_id=lab.pk, codes=codes)
    lots: dict[str, list[MaterialLot]] = {code: [] for code in codes}
    if tracked:
        for lot in (
            MaterialLot.objects.for_lab(lab)
            .filter(material__code__in=list(tracked), status=LotStatus.RELEASED)
            .select_related("material", "lab")
            .order_by("expiry_date", "id")
        ):
            lots[lot.material.code].append(lot)
    done: dict[str, list[LotConsumption]] = {}
    for consumption in recorded:
        done.setdefault(consumption.material_code, []).append(consumption)
    return [
        BillLine(
            material=line["material"],
            name=_localized_name(line),
            required=line.get("required", True),
            quantity=line.get("quantity"),
            unit=line.get("unit") or "",
            tracked=line["material"] in tracked,
            lots=lots.get(line["material"], []),
            recorded=done.get(line["material"], []),
        )
        for line in bill
    ]


def _localized_name(line: dict) -> str:
    """The line's name in the active language when the protocol version translates it."""
    language = (get_language() or "").lower()
    translated = (line.get("i18n") or {}).get(language, {}).get("name")
    return translated or line.get("name") or line["material"]


def kind_lines(
    *, lab: Lab, kinds: list[dict], now: datetime, recorded: Iterable[EquipmentUse] = ()
) -> list[KindLine]:
    """The stage's equipment kinds with the lab's pieces of each and whether each may be used now
    (one query)."""
    wanted = [line["kind"] for line in kinds]
    by_kind: dict[str, list[EquipmentState]] = {kind: [] for kind in wanted}
    if wanted:
        for piece in (
            Equipment.objects.for_lab(lab)
            .filter(kind__in=wanted)
            .exclude(status=EquipmentStatus.RETIRED)
            .select_related("lab")
            .order_by("code")
        ):
            by_kind[piece.kind].append(equipment_state(piece, now=now))
    done: dict[str, list[EquipmentUse]] = {}
    for use in recorded:
        done.setdefault(use.kind, []).append(use)
    return [
        KindLine(
            kind=line["kind"],
            label=str(EquipmentKind(line["kind"]).label),
            required=line.get("required", True),
            choices=by_kind.get(line["kind"], []),
            recorded=done.get(line["kind"], []),
        )
        for line in kinds
    ]


# --- a run's materials and equipment (the run page, the batch record, the exception list) ----


def run_consumptions(*, run: Run) -> list[LotConsumption]:
    """``run``'s lot consumptions with their lots, materials, stages and tasks (one query)."""
    return list(
        LotConsumption.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("lot__material", "stage_run__stage", "task_occurrence__task", "consumed_by")
        .order_by("consumed_at", "id")
    )


def run_equipment_uses(*, run: Run) -> list[EquipmentUse]:
    return list(
        EquipmentUse.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("equipment", "stage_run__stage", "used_by")
        .order_by("used_at", "id")
    )


def run_usage_summary(*, run: Run) -> dict[str, list[dict]]:
    """What the run page and the batch record show, from two queries: ``used`` (the rows of
    :func:`run_materials_and_equipment`), ``near_expiry``, ``equipment_warnings`` and
    ``recalled`` (the rows of the selectors of those names)."""
    consumptions = run_consumptions(run=run)
    uses = run_equipment_uses(run=run)
    return {
        "used": _used_rows(consumptions, uses),
        "near_expiry": [_near_row(c) for c in consumptions if c.near_expiry],
        "equipment_warnings": [_warning_row(u) for u in uses if u.warning],
        "recalled": _recalled_rows(c for c in consumptions if c.lot.status == LotStatus.RECALLED),
    }


def run_materials_and_equipment(*, run: Run) -> list[dict]:
    """The "materials and equipment used by a run" as plain rows for the batch record: kind
    (``material`` / ``equipment``), stage, what, lot or asset, amount, when, by whom, status
    now, warning. Two queries."""
    return _used_rows(run_consumptions(run=run), run_equipment_uses(run=run))


def _used_rows(consumptions: list[LotConsumption], uses: list[EquipmentUse]) -> list[dict]:
    rows = [
        {
            "kind": "material",
            "stage": c.stage_run.stage.name,
            "task": c.task_occurrence.task.name if c.task_occurrence is not None else "",
            "what": c.lot.material.name,
            "identifier": c.lot.lot_number,
            "code": c.lot.code,
            "expiry": c.lot.expiry_date,
            "amount": f"{c.quantity.normalize():f} {c.unit}",
            "at": c.consumed_at,
            "by": c.consumed_by.get_username(),
            "status": c.lot.status,
            "warning": c.warning,
        }
        for c in consumptions
    ]
    rows += [
        {
            "kind": "equipment",
            "stage": u.stage_run.stage.name,
            "task": "",
            "what": u.equipment.name,
            "identifier": u.equipment.code,
            "code": u.equipment.code,
            "expiry": u.calibration_due,
            "amount": "",
            "at": u.used_at,
            "by": u.used_by.get_username(),
            "status": u.equipment.status,
            "warning": u.warning,
        }
        for u in uses
    ]
    return rows


def _near_row(c: LotConsumption) -> dict:
    return {
        "stage": c.stage_run.stage.name,
        "material": c.lot.material.name,
        "lot": c.lot.lot_number,
        "expiry": c.lot.expiry_date,
        "days_to_expiry": c.days_to_expiry,
        "at": c.consumed_at,
        "warning": c.warning,
    }


def _warning_row(u: EquipmentUse) -> dict:
    return {
        "stage": u.stage_run.stage.name,
        "equipment": u.equipment.name,
        "code": u.equipment.code,
        "at": u.used_at,
        "calibration_due": u.calibration_due,
        "warning": u.warning,
    }


def _recalled_rows(consumptions) -> list[dict]:
    """One row per recalled lot (its first use by the run)."""
    rows: dict[int, dict] = {}
    for c in consumptions:
        rows.setdefault(c.lot_id, _recalled_row(c))
    return list(rows.values())


def _recalled_row(c: LotConsumption) -> dict:
    return {
        "material": c.lot.material.name,
        "lot": c.lot.lot_number,
        "reason": c.lot.status_reason,
        "stage": c.stage_run.stage.name,
    }


def run_materials_near_expiry(*, run: Run) -> list[dict]:
    """The "materials near expiry at use": the run's lots used within their warning days (one
    query), as plain rows."""
    return [
        _near_row(c)
        for c in (
            LotConsumption.objects.for_lab(run.lab_id)
            .filter(run=run, near_expiry=True)
            .select_related("lot__material", "stage_run__stage")
            .order_by("consumed_at", "id")
        )
    ]


def run_equipment_warnings(*, run: Run) -> list[dict]:
    """The "equipment warnings": equipment used by the run with a warning at the time (calibration
    or maintenance falling due), as plain rows (one query)."""
    return [
        _warning_row(u)
        for u in (
            EquipmentUse.objects.for_lab(run.lab_id)
            .filter(run=run)
            .exclude(warning="")
            .select_related("equipment", "stage_run__stage")
            .order_by("used_at", "id")
        )
    ]


def run_recalled_lots(*, run: Run) -> list[dict]:
    """Lots the run used that were recalled since (one query), as plain rows, one per lot."""
    return _recalled_rows(
        c
        for c in (
            LotConsumption.objects.for_lab(run.lab_id)
            .filter(run=run, lot__status=LotStatus.RECALLED)
            .select_related("lot__material", "stage_run__stage")
            .order_by("lot_id", "id")
        )
    )
