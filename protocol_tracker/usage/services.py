"""Recording the lots and equipment a stage run or a bench task used: the gates at the moment of
use, then the rows, the lots' quantities and the audit trail.

The gates (each refusal names its rule and writes nothing):

- a lot of another lab is not found; a quarantined, expired (by status, or its expiry date begun
  on the lab's clock), recalled or used-up lot is refused (409, ``lot_*``); a lot within its
  material's warning days is used with a warning, kept on the row;
- a lot must be of the material of the bill line it fills; the amount is a positive quantity in a
  unit of the lot's dimension, the bill's when none is given, and no more than is left (409);
- equipment of another lab is not found; equipment out of service or out of calibration is
  refused (409, ``equipment_out_of_service`` / ``calibration_lapsed``);
- a bench task whose bill has required materials is done only with a lot for each (409,
  ``materials_missing``); for a stage that check is part of its completion gate (qc).

A required line is enforced where the lab tracks that material: it has the material's code in its
catalogue (``Material.is_active``). A lab that has not catalogued a material sees the line as
"not tracked" (selectors) rather than being stopped; the batch record lists it.

Locks: the run first (``runs.locks``), then the lots in ``pk`` order (``materials.locks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.equipment.selectors import equipment_check_use
from protocol_tracker.materials.locks import lock_lots
from protocol_tracker.materials.models import MaterialLot
from protocol_tracker.materials.services import lot_check_use, lot_draw, parse_draw
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence
from protocol_tracker.runs.services import (
    WORKING_STAGE_STATUSES,
    refuse_unless_workable,
    run_audit_change,
    task_done,
)
from protocol_tracker.specs.quantities import normalize_stock_unit, parse_quantity
from protocol_tracker.usage.models import EquipmentUse, LotConsumption
from protocol_tracker.usage.selectors import tracked_codes


@dataclass(frozen=True)
class LotUse:
    """A lot drawn: ``quantity`` of ``unit`` (None: the bill line's amount; unit "": the bill's,
    else the lot's), filling the bill line of ``material`` (""; the lot's own material)."""

    lot: MaterialLot
    quantity: object = None
    unit: str = ""
    material: str = ""


@dataclass
class Recorded:
    consumptions: list[LotConsumption] = field(default_factory=list)
    uses: list[EquipmentUse] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _line_for(lines: list[dict], code: str) -> dict | None:
    return next((line for line in lines if line.get("material") == code), None)


def record_usage(
    *,
    run: Run,
    stage_run: StageRun,
    actor: Person,
    now: datetime,
    lots: Sequence[LotUse] = (),
    equipment: Sequence[Equipment] = (),
    task_occurrence: TaskOccurrence | None = None,
    bill: list[dict] | None = None,
    purpose: str = "",
) -> Recorded:
    """Check and record ``lots`` and ``equipment`` for ``stage_run`` (locked with its ``run`` by
    the caller), or for ``task_occurrence`` of it; ``bill`` is the bill of materials the lots
    fill (default: the stage's, or the task's). Returns the rows, warnings and audit changes."""
    errors: dict[str, list[str]] = {}
    if bill is None:
        owner = task_occurrence.task if task_occurrence is not None else stage_run.stage
        bill = list(owner.materials or [])
    seen: set[int] = set()
    for i, use in enumerate(lots):
        if use.lot.lab_id != run.lab_id:
            errors.setdefault(f"lots[{i}]", []).append("lot not found in this lab")
        elif use.lot.pk in seen:
            errors.setdefault(f"lots[{i}]", []).append("this lot is listed twice")
        seen.add(use.lot.pk)
    equipment_ids: set[int] = set()
    for i, piece in enumerate(equipment):
        if piece.lab_id != run.lab_id:
            errors.setdefault(f"equipment[{i}]", []).append("equipment not found in this lab")
        elif piece.pk in equipment_ids:
            errors.setdefault(f"equipment[{i}]", []).append("listed twice")
        equipment_ids.add(piece.pk)
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)

    recorded = Recorded()
    locked = lock_lots([use.lot.pk for use in lots])
    for i, use in enumerate(lots):
        lot = locked[use.lot.pk]
        check = lot_check_use(lot, now=now, field=f"lots[{i}]")
        code = (use.material or lot.material.code).strip().lower()
        if code != lot.material.code:
            message = (
                f"{lot.material.name} lot {lot.lot_number} is not {code}: pick a lot of the "
                "material of this line"
            )
            raise ValidationFailed(message, fields={f"lots[{i}]": [message]})
        line = _line_for(bill, code) or {}
        quantity, unit = use.quantity, use.unit
        if quantity in (None, ""):
            quantity, unit = line.get("quantity"), line.get("unit") or ""
            if quantity is None:
                message = f"how much of {lot.material.name} lot {lot.lot_number} was used?"
                raise ValidationFailed(message, fields={f"lots[{i}].quantity": [message]})
        unit = (unit or lot.unit).strip()
        amount = parse_draw(quantity, unit, lot, field=f"lots[{i}].quantity")
        recorded.changes += lot_draw(lot, amount=amount, now=now, run_id=run.pk)
        consumption = LotConsumption(
            lab_id=run.lab_id,
            lot=lot,
            run=run,
            stage_run=stage_run,
            task_occurrence=task_occurrence,
            material_code=code,
            quantity=parse_quantity(quantity),
            unit=normalize_stock_unit(unit),
            quantity_in_lot_unit=amount,
            purpose=purpose or ("task" if task_occurrence is not None else "stage"),
            consumed_at=now,
            consumed_by=actor,
            days_to_expiry=check.days_left,
            near_expiry=check.near_expiry,
            warning=check.warning[:300],
        )
        recorded.consumptions.append(consumption)
        if check.warning:
            recorded.warnings.append(check.warning)
    for i, piece in enumerate(equipment):
        state = equipment_check_use(piece, now=now, field=f"equipment[{i}]")
        if EquipmentUse.objects.filter(stage_run=stage_run, equipment=piece).exists():
            continue  # already recorded for this stage run: the first use stands
        recorded.uses.append(
            EquipmentUse(
                lab_id=run.lab_id,
                equipment=piece,
                run=run,
                stage_run=stage_run,
                kind=piece.kind,
                used_at=now,
                used_by=actor,
                calibration_due=piece.calibration_due,
                warning="; ".join(state.warnings)[:500],
            )
        )
        recorded.warnings += state.warnings
    LotConsumption.objects.bulk_create(recorded.consumptions)
    EquipmentUse.objects.bulk_create(recorded.uses)
    for consumption in recorded.consumptions:
        recorded.changes.append(
            run_audit_change(
                "lot_consumption.record",
                consumption,
                run,
                None,
                {
                    "lot": consumption.lot_id,
                    "lot_code": consumption.lot.code,
                    "stage_run": stage_run.pk,
                    "task_occurrence": task_occurrence.pk if task_occurrence else None,
                    "material": consumption.material_code,
                    "quantity": str(consumption.quantity),
                    "unit": consumption.unit,
                    "days_to_expiry": consumption.days_to_expiry,
                    "warning": consumption.warning,
                },
            )
        )
    for equipment_use in recorded.uses:
        recorded.changes.append(
            run_audit_change(
                "equipment_use.record",
                equipment_use,
                run,
                None,
                {
                    "equipment": equipment_use.equipment_id,
                    "code": equipment_use.equipment.code,
                    "stage_run": stage_run.pk,
                    "calibration_due": equipment_use.calibration_due,
                    "warning": equipment_use.warning,
                },
            )
        )
    return recorded


def require_task_materials(occurrence: TaskOccurrence, lots: Sequence[LotUse]) -> None:
    """A Conflict (``materials_missing``) naming the required bill lines of the task, of
    materials the lab tracks, that ``lots`` leave unfilled."""
    bill = occurrence.task.materials or []
    given = {(use.material or use.lot.material.code).strip().lower() for use in lots}
    tracked = tracked_codes(
        lab_id=occurrence.stage_run.run.lab_id,
        codes=[line["material"] for line in bill if line.get("required", True)],
    )
    missing = [
        line["name"]
        for line in bill
        if line.get("required", True)
        and line["material"] in tracked
        and line["material"] not in given
    ]
    if missing:
        message = f"record the lot used of {', '.join(missing)}"
        raise Conflict(
            f"'{occurrence.task.name}' cannot be logged as done: {message}",
            code="materials_missing",
            fields={"lots": [message]},
        )


@transaction.atomic
def stage_usage_record(
    *,
    stage_run: StageRun,
    actor: Person,
    lots: Sequence[LotUse] = (),
    equipment: Sequence[Equipment] = (),
) -> Recorded:
    """Record lots and equipment used by a stage in progress (anyone who works in the lab)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "record materials and equipment")
    refuse_unless_workable(
        run, sr, doing="recording materials", refused="cannot have materials recorded"
    )
    if sr.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; materials are recorded while it is in "
            "progress"
        )
    if not lots and not equipment:
        raise ValidationFailed(
            "give the lots or the equipment used", fields={"lots": ["nothing to record"]}
        )
    recorded = record_usage(
        run=run, stage_run=sr, actor=actor, now=timezone.now(), lots=lots, equipment=equipment
    )
    audit_record_many(actor=actor, changes=recorded.changes)
    return recorded


@transaction.atomic
def task_record(
    *, occurrence: TaskOccurrence, actor: Person, lots: Sequence[LotUse] = (), note: str = ""
) -> tuple[TaskOccurrence, Recorded]:
    """Log a bench task as done with the lots it used: every required line of its bill of
    materials (of a material the lab tracks) needs a lot; each lot passes the gates."""
    sr = lock_stage_run(occurrence.stage_run_id)
    occ = TaskOccurrence.objects.select_related("task").get(pk=occurrence.pk)
    occ.stage_run = sr
    require_role(actor, sr.run.lab_id, CAN_WORK, "log bench tasks")
    require_task_materials(occ, lots)
    done = task_done(occurrence=occ, actor=actor, note=note)
    recorded = Recorded()
    if lots:
        recorded = record_usage(
            run=sr.run,
            stage_run=sr,
            actor=actor,
            now=done.done_at or timezone.now(),
            lots=lots,
            task_occurrence=occ,
        )
        audit_record_many(actor=actor, changes=recorded.changes)
    return done, recorded
