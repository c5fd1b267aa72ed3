"""Reads of equipment and its records, and the rule that says whether a piece may be used now.

``equipment_check_use`` is the one statement of the rule: the stage-usage services refuse with
it, the lists show it, and ``instrument_calibration_problem`` applies it to an instrument posting
results (qc refuses them, 409).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, Q, QuerySet

from labs.models import Instrument, Lab
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict
from protocol_tracker.equipment.models import (
    CalibrationRecord,
    Equipment,
    EquipmentStatus,
    MaintenanceRecord,
)
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    RecordedBy,
)


def lab_date(lab: Lab, now: datetime) -> date:
    return now.astimezone(lab.tz).date()


def due_instant(lab: Lab, day: date) -> datetime:
    """The start of ``day`` on the lab's clock: when something due that day falls due."""
    return datetime.combine(day, time(0), tzinfo=lab.tz)


@dataclass(frozen=True)
class EquipmentState:
    """Whether ``equipment`` may be used on ``today``, and what to warn about."""

    equipment: Equipment
    today: date
    problem_code: str = ""
    problem: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def calibration_days_left(self) -> int | None:
        due = self.equipment.calibration_due
        return None if due is None else (due - self.today).days


def equipment_state(equipment: Equipment, *, now: datetime) -> EquipmentState:
    """The rule: retired or out-of-service equipment is not used; equipment that needs
    calibration is used only before the start of its calibration due date (lab time) and only
    after a passed calibration; a calibration or maintenance falling due within the
    equipment's lead days, and overdue maintenance, are warnings."""
    today = lab_date(equipment.lab, now)
    label = f"{equipment.name} ({equipment.code})"
    warnings: list[str] = []
    code, problem = "", ""
    due = equipment.calibration_due
    if equipment.status != EquipmentStatus.IN_SERVICE:
        code = "equipment_out_of_service"
        reason = f": {equipment.status_reason}" if equipment.status_reason else ""
        problem = f"{label} is {equipment.get_status_display().lower()}{reason}"
    elif equipment.needs_calibration and due is None:
        code = "calibration_lapsed"
        problem = f"{label} has no passed calibration on record"
    elif due is not None and today >= due:
        code = "calibration_lapsed"
        problem = (
            f"{label} is out of calibration: its calibration was due on {due:%Y-%m-%d} "
            f"(the lab's date is {today:%Y-%m-%d})"
        )
    elif due is not None and (due - today).days <= equipment.reminder_lead_days:
        warnings.append(f"{label}: calibration due on {due:%Y-%m-%d}")
    maintenance = equipment.maintenance_due
    if maintenance is not None:
        if today >= maintenance:
            warnings.append(f"{label}: maintenance overdue since {maintenance:%Y-%m-%d}")
        elif (maintenance - today).days <= equipment.reminder_lead_days:
            warnings.append(f"{label}: maintenance due on {maintenance:%Y-%m-%d}")
    return EquipmentState(
        equipment=equipment, today=today, problem_code=code, problem=problem, warnings=warnings
    )


def equipment_check_use(equipment: Equipment, *, now: datetime, field: str = "equipment"):
    """``equipment_state`` of a piece about to be used: a Conflict naming the rule when it may
    not be (``equipment_out_of_service`` or ``calibration_lapsed``), else its state."""
    state = equipment_state(equipment, now=now)
    if not state.usable:
        message = f"{state.problem}; it cannot be used"
        raise Conflict(message, code=state.problem_code, fields={field: [message]})
    return state


def instrument_calibration_problem(instrument: Instrument, *, now: datetime) -> str:
    """Why ``instrument``'s results are refused now ('' when they are not): the equipment it is
    registered as is out of service or out of calibration. An instrument that is not registered
    as equipment has no calibration on record to lapse. Asked once per instrument object."""
    cached = getattr(instrument, "_calibration_problem", None)
    if cached is not None and cached[0] == now.date():
        return cached[1]
    equipment = Equipment.objects.select_related("lab").filter(instrument=instrument).first()
    problem = ""
    if equipment is not None:
        state = equipment_state(equipment, now=now)
        problem = state.problem
    instrument._calibration_problem = (now.date(), problem)  # type: ignore[attr-defined]
    return problem


# --- lists ----------------------------------------------------------------------------------


def equipment_for_user(
    user: Person, *, kind: str | None = None, status: str | None = None
) -> QuerySet[Equipment]:
    qs = (
        Equipment.objects.for_user(user)
        .select_related("lab", "instrument")
        .order_by("lab__name", "kind", "code")
    )
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def equipment_detail_for_user(*, user: Person, equipment_id: int) -> Equipment:
    """One piece with its calibration and maintenance records (newest first)."""
    return (
        Equipment.objects.for_user(user)
        .select_related("lab", "instrument")
        .prefetch_related(  # type: ignore[type-var]
            Prefetch(
                "calibrations",
                queryset=CalibrationRecord.objects.select_related("recorded_by").order_by(
                    "-performed_at", "-id"
                ),
            ),
            Prefetch(
                "maintenance",
                queryset=MaintenanceRecord.objects.select_related("recorded_by").order_by(
                    "-performed_at", "-id"
                ),
            ),
        )
        .get(pk=equipment_id)
    )


def equipment_choices_for(*, lab: Lab, kinds: list[str]) -> QuerySet[Equipment]:
    """The lab's equipment of ``kinds`` that is not retired (the picker shows which may be used
    and which may not, and why)."""
    return (
        Equipment.objects.for_lab(lab)
        .filter(kind__in=kinds)
        .exclude(status=EquipmentStatus.RETIRED)
        .select_related("lab")
        .order_by("kind", "code")
    )


def equipment_by_scan(*, lab: Lab, code: str) -> Equipment | None:
    code = (code or "").strip()
    if not code:
        return None
    return Equipment.objects.for_lab(lab).select_related("lab").filter(code__iexact=code).first()


def equipment_falling_due(*, lab: Lab, now: datetime, within_days: int) -> QuerySet[Equipment]:
    """In-service equipment whose calibration or maintenance falls due within ``within_days``
    of the lab's today, or is overdue."""
    limit = lab_date(lab, now) + timedelta(days=within_days)
    return (
        Equipment.objects.for_lab(lab)
        .filter(status=EquipmentStatus.IN_SERVICE)
        .filter(Q(calibration_due__lte=limit) | Q(maintenance_due__lte=limit))
        .order_by("calibration_due", "maintenance_due", "code")
    )


def instrument_assays_of_lab(*, lab: Lab | int) -> list[str]:
    """The assays an instrument of ``lab`` may be allowed: those of checkpoints of the lab's
    published protocols that instruments may record, sorted."""
    lab_id = lab if isinstance(lab, int) else lab.pk
    return sorted(
        set(
            CheckpointTemplate.objects.filter(
                protocol__lab_id=lab_id,
                protocol__status=ProtocolStatus.PUBLISHED,
                recorded_by__in=[RecordedBy.INSTRUMENT, RecordedBy.ANY],
            ).values_list("assay", flat=True)
        )
    )


def instrument_checkpoints_of_lab(*, lab: Lab | int) -> list[dict]:
    """What an instrument posting to ``lab`` needs to know: per assay, the checkpoint keys of the
    published protocols (stable across versions, unlike their ids), their units and stages."""
    lab_id = lab if isinstance(lab, int) else lab.pk
    rows = (
        CheckpointTemplate.objects.filter(
            protocol__lab_id=lab_id,
            protocol__status=ProtocolStatus.PUBLISHED,
            recorded_by__in=[RecordedBy.INSTRUMENT, RecordedBy.ANY],
        )
        .order_by("assay", "protocol__code", "key")
        .values("assay", "key", "unit", "protocol__code", "stage__key")
        .distinct()
    )
    return [dict(row) for row in rows]
