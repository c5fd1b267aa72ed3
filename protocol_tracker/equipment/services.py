"""Writes for equipment: the register, its status, calibration and maintenance records, and
instruments registered in one step.

Roles: reviewers and lab admins keep the register (add, change, retire, return to service); anyone
who works in the lab records a calibration or maintenance visit and takes a faulty piece out of
service. Every write locks the equipment row and is audited; records are never changed, a
correction is a new record that supersedes the wrong one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_MANAGE, CAN_WORK, Instrument, InstrumentKind, Lab
from labs.selectors import require_role
from labs.services import instrument_create, instrument_update
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.core.files import keep_document
from protocol_tracker.core.text import clean_identifier, clean_text
from protocol_tracker.equipment.models import (
    CalibrationRecord,
    Equipment,
    EquipmentStatus,
    MaintenanceKind,
    MaintenanceRecord,
)
from protocol_tracker.equipment.selectors import instrument_assays_of_lab, lab_date
from protocol_tracker.protocols.models import EquipmentKind

# The equipment kind an instrument kind is registered as.
INSTRUMENT_EQUIPMENT_KIND = {
    InstrumentKind.FLOW_CYTOMETER: EquipmentKind.FLOW_CYTOMETER,
    InstrumentKind.CELL_COUNTER: EquipmentKind.CELL_COUNTER,
    InstrumentKind.PLATE_READER: EquipmentKind.PLATE_READER,
    InstrumentKind.QPCR: EquipmentKind.QPCR,
    InstrumentKind.OTHER: EquipmentKind.OTHER,
}
_TEXT_FIELDS = {"name": 200, "make": 100, "model": 100, "serial": 100, "location": 200}
EDITABLE = (
    *_TEXT_FIELDS,
    "kind",
    "calibration_interval_days",
    "maintenance_interval_days",
    "reminder_lead_days",
)


def lock_equipment(pk: int) -> Equipment:
    return Equipment.objects.select_for_update(of=("self",)).select_related("lab").get(pk=pk)


def equipment_state_audit(equipment: Equipment) -> dict:
    return {
        "status": equipment.status,
        "status_reason": equipment.status_reason,
        "calibration_due": equipment.calibration_due,
        "maintenance_due": equipment.maintenance_due,
    }


def _days(value: Any, field: str, errors: dict, *, allow_none: bool = True, hi: int = 3650):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
        errors[field] = [f"a whole number of days from 1 to {hi}"]
        return None
    return value


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        try:
            if name in _TEXT_FIELDS:
                cleaned[name] = clean_text(
                    value,
                    field=name,
                    max_length=_TEXT_FIELDS[name],
                    multiline=False,
                    required=name == "name",
                )
            elif name == "code":
                cleaned[name] = clean_identifier(value, field="code")
            elif name == "kind":
                if value not in EquipmentKind.values:
                    errors["kind"] = [f"one of {', '.join(EquipmentKind.values)}"]
                cleaned[name] = value
            elif name in ("calibration_interval_days", "maintenance_interval_days"):
                cleaned[name] = _days(value, name, errors)
            elif name == "reminder_lead_days":
                cleaned[name] = _days(value, name, errors, allow_none=False, hi=365)
            else:
                errors[name] = ["cannot be changed"]
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    return cleaned


@transaction.atomic
def equipment_create(
    *,
    lab: Lab,
    code: str,
    name: str,
    kind: str,
    make: str = "",
    model: str = "",
    serial: str = "",
    location: str = "",
    calibration_interval_days: int | None = None,
    maintenance_interval_days: int | None = None,
    reminder_lead_days: int = 14,
    instrument: Instrument | None = None,
    actor: Person | None,
) -> Equipment:
    """Add equipment to the register (a reviewer or lab admin; ``actor=None`` is the system).
    With a calibration interval it is out of calibration until its first passed calibration."""
    if actor is not None:
        require_role(actor, lab, CAN_MANAGE, "keep the equipment register")
    values = _clean(
        {
            "code": code,
            "name": name,
            "kind": kind,
            "make": make,
            "model": model,
            "serial": serial,
            "location": location,
            "calibration_interval_days": calibration_interval_days,
            "maintenance_interval_days": maintenance_interval_days,
            "reminder_lead_days": reminder_lead_days,
        }
    )
    equipment = Equipment(lab=lab, instrument=instrument, created_by=actor, **values)
    try:
        with transaction.atomic():
            equipment.save()
    except IntegrityError:
        raise Conflict(
            f"equipment code '{values['code']}' is already in this lab's register",
            code="duplicate",
            fields={"code": ["already in the register"]},
        ) from None
    audit_record(
        actor=actor,
        action="equipment.create",
        obj=equipment,
        lab_id=lab.pk,
        after={**values, "instrument": instrument.pk if instrument else None},
    )
    return equipment


@transaction.atomic
def equipment_update(*, equipment: Equipment, actor: Person, **changes: Any) -> Equipment:
    """Change the register's fields of ``equipment`` (``EDITABLE``)."""
    equipment = lock_equipment(equipment.pk)
    require_role(actor, equipment.lab_id, CAN_MANAGE, "keep the equipment register")
    values = _clean({k: v for k, v in changes.items()})
    unknown = [k for k in values if k not in EDITABLE]
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]} cannot be changed", fields={k: ["cannot be changed"] for k in unknown}
        )
    before = {k: getattr(equipment, k) for k, v in values.items() if getattr(equipment, k) != v}
    if not before:
        return equipment
    for key in before:
        setattr(equipment, key, values[key])
    equipment.save(update_fields=list(before))
    audit_record(
        actor=actor,
        action="equipment.update",
        obj=equipment,
        lab_id=equipment.lab_id,
        before=before,
        after={k: values[k] for k in before},
    )
    return equipment


@transaction.atomic
def equipment_status_set(
    *, equipment: Equipment, status: str, reason: str, actor: Person
) -> Equipment:
    """Take equipment out of service (anyone who works in the lab: a fault found at the bench),
    return it to service or retire it (a reviewer or lab admin). A reason is required."""
    equipment = lock_equipment(equipment.pk)
    if status not in EquipmentStatus.values:
        raise ValidationFailed(
            f"status must be one of {EquipmentStatus.values}",
            fields={"status": [f"one of {EquipmentStatus.values}"]},
        )
    roles = CAN_WORK if status == EquipmentStatus.OUT_OF_SERVICE else CAN_MANAGE
    require_role(actor, equipment.lab_id, roles, "change the status of equipment")
    reason = clean_text(reason, field="reason", max_length=1000, required=True)
    if not equipment.can_transition_to(status):
        raise InvalidTransition(
            f"{equipment.name} is {equipment.get_status_display().lower()}; it cannot become "
            f"{EquipmentStatus(status).label.lower()}"
        )
    before = equipment_state_audit(equipment)
    equipment.status = status
    equipment.status_reason = reason
    equipment.save(update_fields=["status", "status_reason"])
    audit_record(
        actor=actor,
        action="equipment.status",
        obj=equipment,
        lab_id=equipment.lab_id,
        before=before,
        after=equipment_state_audit(equipment),
        reason=reason,
    )
    return equipment


def _performed(performed_at: Any, now: datetime, errors: dict) -> None:
    if not isinstance(performed_at, datetime) or timezone.is_naive(performed_at):
        errors["performed_at"] = ["a date and time with a time zone is required"]
    elif performed_at > now + timedelta(minutes=5):
        errors["performed_at"] = ["is in the future"]


def _next_due(
    next_due: date | None,
    *,
    interval: int | None,
    performed_on: date | None,
    errors: dict,
    needed: bool,
) -> date | None:
    if next_due is None:
        if performed_on is not None and interval is not None:
            return performed_on + timedelta(days=interval)
        if needed:
            errors["next_due"] = ["give the next due date (the equipment has no interval)"]
        return None
    if not isinstance(next_due, date) or isinstance(next_due, datetime):
        errors["next_due"] = ["a date is required"]
    elif performed_on is not None and next_due <= performed_on:
        errors["next_due"] = ["must be after the date it was performed"]
    return next_due


def _current(model, equipment: Equipment):
    return (
        model.objects.filter(equipment=equipment, superseded_by__isnull=True)
        .order_by("-performed_at", "-id")
        .first()
    )


@transaction.atomic
def calibration_record_add(
    *,
    equipment: Equipment,
    performed_at: datetime,
    performed_by: str,
    passed: bool,
    actor: Person,
    next_due: date | None = None,
    certificate: bytes | None = None,
    certificate_filename: str = "",
    notes: str = "",
    supersedes: CalibrationRecord | None = None,
    reason: str = "",
) -> CalibrationRecord:
    """Record a calibration. Passed: in calibration until ``next_due`` (default: the date it was
    performed plus the equipment's interval). Failed: out of calibration from now on.
    ``supersedes`` corrects an earlier record (with a ``reason``); the equipment's due date then
    follows the latest record that stands."""
    equipment = lock_equipment(equipment.pk)
    require_role(actor, equipment.lab_id, CAN_WORK, "record calibrations")
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    _performed(performed_at, now, errors)
    if not isinstance(passed, bool):
        errors["passed"] = ["true or false"]
    try:
        performed_by = clean_text(
            performed_by, field="performed_by", max_length=200, required=True, multiline=False
        )
        notes = clean_text(notes, field="notes", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    performed_on = lab_date(equipment.lab, performed_at) if "performed_at" not in errors else None
    due = (
        _next_due(
            next_due,
            interval=equipment.calibration_interval_days,
            performed_on=performed_on,
            errors=errors,
            needed=True,
        )
        if passed
        else None
    )
    if supersedes is not None:
        reason = _correction(supersedes, equipment, CalibrationRecord, reason, errors)
    kept = None
    if certificate is not None:
        try:
            kept = keep_document(
                certificate, certificate_filename or "certificate.pdf", field="certificate"
            )
        except ValidationFailed as exc:
            errors.update(exc.fields)
    _raise(errors)
    record = CalibrationRecord(
        lab_id=equipment.lab_id,
        equipment=equipment,
        performed_at=performed_at,
        performed_by=performed_by,
        passed=passed,
        next_due=due,
        notes=notes,
        recorded_by=actor,
        supersedes=supersedes,
        reason=reason,
    )
    _attach(record, kept)
    record.save()
    before = equipment_state_audit(equipment)
    standing = _current(CalibrationRecord, equipment)
    if standing is None:
        equipment.calibration_due = None
    elif standing.passed:
        equipment.calibration_due = standing.next_due
    else:
        equipment.calibration_due = lab_date(equipment.lab, standing.performed_at)
    equipment.save(update_fields=["calibration_due"])
    audit_record(
        actor=actor,
        action="equipment.calibration",
        obj=record,
        lab_id=equipment.lab_id,
        before={"equipment": before},
        after={
            "equipment": equipment.code,
            "performed_at": performed_at,
            "performed_by": performed_by,
            "passed": passed,
            "next_due": due,
            "certificate_sha256": record.certificate_sha256,
            "supersedes": supersedes.pk if supersedes else None,
            "calibration_due": equipment.calibration_due,
        },
        reason=reason,
    )
    return record


@transaction.atomic
def maintenance_record_add(
    *,
    equipment: Equipment,
    performed_at: datetime,
    performed_by: str,
    kind: str,
    actor: Person,
    next_due: date | None = None,
    certificate: bytes | None = None,
    certificate_filename: str = "",
    notes: str = "",
    supersedes: MaintenanceRecord | None = None,
    reason: str = "",
) -> MaintenanceRecord:
    """Record maintenance; ``next_due`` defaults to the date plus the maintenance interval."""
    equipment = lock_equipment(equipment.pk)
    require_role(actor, equipment.lab_id, CAN_WORK, "record maintenance")
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    _performed(performed_at, now, errors)
    if kind not in MaintenanceKind.values:
        errors["kind"] = [f"one of {MaintenanceKind.values}"]
    try:
        performed_by = clean_text(
            performed_by, field="performed_by", max_length=200, required=True, multiline=False
        )
        notes = clean_text(notes, field="notes", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    performed_on = lab_date(equipment.lab, performed_at) if "performed_at" not in errors else None
    due = _next_due(
        next_due,
        interval=equipment.maintenance_interval_days,
        performed_on=performed_on,
        errors=errors,
        needed=False,
    )
    if supersedes is not None:
        reason = _correction(supersedes, equipment, MaintenanceRecord, reason, errors)
    kept = None
    if certificate is not None:
        try:
            kept = keep_document(
                certificate, certificate_filename or "report.pdf", field="certificate"
            )
        except ValidationFailed as exc:
            errors.update(exc.fields)
    _raise(errors)
    record = MaintenanceRecord(
        lab_id=equipment.lab_id,
        equipment=equipment,
        performed_at=performed_at,
        performed_by=performed_by,
        kind=kind,
        next_due=due,
        notes=notes,
        recorded_by=actor,
        supersedes=supersedes,
        reason=reason,
    )
    _attach(record, kept)
    record.save()
    before = equipment_state_audit(equipment)
    standing = _current(MaintenanceRecord, equipment)
    equipment.maintenance_due = standing.next_due if standing is not None else None
    equipment.save(update_fields=["maintenance_due"])
    audit_record(
        actor=actor,
        action="equipment.maintenance",
        obj=record,
        lab_id=equipment.lab_id,
        before={"equipment": before},
        after={
            "equipment": equipment.code,
            "performed_at": performed_at,
            "performed_by": performed_by,
            "kind": kind,
            "next_due": due,
            "certificate_sha256": record.certificate_sha256,
            "supersedes": supersedes.pk if supersedes else None,
            "maintenance_due": equipment.maintenance_due,
        },
        reason=reason,
    )
    return record


def _correction(old, equipment: Equipment, model, reason: str, errors: dict) -> str:
    if old.equipment_id != equipment.pk:
        errors["supersedes"] = ["not a record of this equipment"]
    elif model.objects.filter(supersedes=old).exists():
        errors["supersedes"] = ["was already corrected; correct the record that stands"]
    try:
        return clean_text(reason, field="reason", max_length=1000, required=True)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        return ""


def _attach(record, kept) -> None:
    if kept is not None:
        record.certificate_sha256 = kept.sha256
        record.certificate_filename = kept.name
        record.certificate.save(kept.name, kept.content, save=False)


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)


# --- instruments ----------------------------------------------------------------------------


def _clean_assays(lab: Lab, assays: Any) -> list[str]:
    if isinstance(assays, str) or not isinstance(assays, list | tuple):
        raise ValidationFailed(
            "allowed_assays must be a list of assay codes",
            fields={"allowed_assays": ["a list of assay codes"]},
        )
    known = set(instrument_assays_of_lab(lab=lab))
    unknown = sorted({a for a in assays if a not in known}, key=str)
    if unknown:
        message = (
            f"not an assay an instrument may record in this lab's published protocols: "
            f"{', '.join(map(str, unknown))} (known: {', '.join(sorted(known)) or 'none'})"
        )
        raise ValidationFailed(message, fields={"allowed_assays": [message]})
    return sorted(set(assays))


@transaction.atomic
def instrument_register(
    *,
    lab: Lab,
    name: str,
    kind: str,
    allowed_assays: list[str],
    actor: Person | None,
    make: str = "",
    model: str = "",
    serial: str = "",
    code: str = "",
    calibration_interval_days: int | None = None,
    location: str = "",
) -> Instrument:
    """Create an instrument in one step: the API client (kind, make/model/serial, the assays it
    may post, checked against the lab's published protocols) and the equipment it is, for its
    calibration (a lab admin or reviewer; ``actor=None`` is the system)."""
    if actor is not None:
        require_role(actor, lab, CAN_MANAGE, "register instruments")
    errors: dict[str, list[str]] = {}
    try:
        name = clean_identifier(name, field="name", max_length=100)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if kind not in InstrumentKind.values:
        errors["kind"] = [f"one of {', '.join(InstrumentKind.values)}"]
    assays: list[str] = []
    try:
        assays = _clean_assays(lab, allowed_assays)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    _raise(errors)
    if Instrument.objects.filter(lab=lab, name=name).exists():
        raise Conflict(
            f"an instrument named {name!r} already exists in this lab",
            code="duplicate",
            fields={"name": ["already exists"]},
        )
    instrument = instrument_create(
        lab=lab,
        name=name,
        kind=kind,
        make=clean_text(make, field="make", max_length=100, multiline=False),
        model=clean_text(model, field="model", max_length=100, multiline=False),
        serial=clean_text(serial, field="serial", max_length=100, multiline=False),
        allowed_assays=assays,
        actor=actor,
    )
    equipment_create(
        lab=lab,
        code=code or name,
        name=name,
        kind=INSTRUMENT_EQUIPMENT_KIND[InstrumentKind(kind)],
        make=instrument.make,
        model=instrument.model,
        serial=instrument.serial,
        location=location,
        calibration_interval_days=calibration_interval_days,
        instrument=instrument,
        actor=None,
    )
    return instrument


@transaction.atomic
def instrument_assays_set(
    *, instrument: Instrument, allowed_assays: list[str], actor: Person | None
) -> Instrument:
    """Set the assays ``instrument`` may post (from the lab's published protocols; a reviewer
    or lab admin, ``actor=None`` the system)."""
    if actor is not None:
        require_role(actor, instrument.lab_id, CAN_MANAGE, "change an instrument's assays")
    assays = _clean_assays(instrument.lab, allowed_assays)
    return instrument_update(instrument=instrument, actor=actor, allowed_assays=assays)


@transaction.atomic
def instrument_equipment_ensure(*, instrument: Instrument, actor: Person | None) -> Equipment:
    """The equipment an existing instrument is (registered now when it was not)."""
    existing = Equipment.objects.filter(instrument=instrument).first()
    if existing is not None:
        return existing
    return equipment_create(
        lab=instrument.lab,
        code=instrument.name,
        name=instrument.name,
        kind=INSTRUMENT_EQUIPMENT_KIND.get(InstrumentKind(instrument.kind), EquipmentKind.OTHER),
        make=instrument.make,
        model=instrument.model,
        serial=instrument.serial,
        instrument=instrument,
        actor=actor,
    )
