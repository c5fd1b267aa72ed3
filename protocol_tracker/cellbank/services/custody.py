"""A vial's custody: thawed into a vessel of a run, withdrawn, discarded, transferred between
positions, reserved. Each checks the vial out or moves it only after its label was scanned (the
scan must read the vial's own code: a mismatch writes nothing) and logs a movement row.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import has_role, require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.cellbank.locks import lock_vials
from protocol_tracker.cellbank.models import (
    GROWTH_AREA_CM2,
    MovementKind,
    Vessel,
    VesselKind,
    Vial,
    VialMovement,
    VialStatus,
)
from protocol_tracker.cellbank.services.common import (
    MAX_CELLS,
    check_number,
    next_vessel_number,
    raise_errors,
    vial_state,
)
from protocol_tracker.cellbank.services.freezes import occupied
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.inventory.models import Position
from protocol_tracker.inventory.selectors import location_of
from protocol_tracker.inventory.services import clear_reservation, lock_positions
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import PassageKind, Run
from protocol_tracker.runs.services import run_audit_change, run_passage
from protocol_tracker.runs.services.common import refuse_unless_active


def _scan_matches(vial: Vial, scanned: str) -> None:
    code = (scanned or "").strip()
    if not code:
        raise ValidationFailed(
            "scan the vial's label first", fields={"scanned_code": ["scan the vial's label"]}
        )
    if code.casefold() != vial.code.casefold():
        message = (
            f"the scanned label reads {code[:80]!r} but this is vial {vial.code}; "
            "check the vial in your hand (nothing was changed)"
        )
        raise Conflict(message, code="identity_mismatch", fields={"scanned_code": [message]})


def _checkout(vial: Vial, status: str, *, doing: str) -> None:
    if not vial.can_transition_to(status):
        raise InvalidTransition(f"vial {vial.code} is {vial.status}; it cannot be {doing}")


def _movement_change(vial: Vial, action: str, before: dict, reason: str = "") -> Change:
    return Change(
        action=action,
        obj=vial,
        before=before,
        after=vial_state(vial),
        reason=reason,
        run_id=vial.run_id,
        lab_id=vial.lab_id,
    )


@transaction.atomic
def vial_thaw(
    *,
    vial: Vial,
    scanned_code: str,
    run: Run,
    actor: Person,
    vessel_kind: str,
    cells_seeded: object = None,
    surface_area_cm2: object = None,
    note: str = "",
) -> Vessel:
    """Thaw ``vial`` (scanned) into a new vessel of ``run`` (active, the same donor: the chain
    of identity) at the vial's passage."""
    run = lock_run(run.pk)
    vial = lock_vials([vial.pk])[vial.pk]
    require_role(actor, vial.lab_id, CAN_WORK, "thaw vials")
    if run.lab_id != vial.lab_id:
        raise ValidationFailed("run not found in this lab", fields={"run": ["not found"]})
    _scan_matches(vial, scanned_code)
    if run.donor_id != vial.donor_id:
        message = (
            f"chain of identity: vial {vial.code} is of donor {vial.coi}; run {run.code} is of "
            f"donor {run.donor.code}"
        )
        raise Conflict(message, code="identity_mismatch", fields={"run": [message]})
    refuse_unless_active(run, "a thaw")
    _checkout(vial, VialStatus.THAWED, doing="thawed")
    errors: dict[str, list[str]] = {}
    if vessel_kind not in VesselKind.values:
        errors["vessel_kind"] = [f"one of {', '.join(VesselKind.values)}"]
    cells = check_number(cells_seeded, "cells_seeded", errors, lo=0, hi=MAX_CELLS, required=False)
    area = check_number(
        surface_area_cm2,
        "surface_area_cm2",
        errors,
        lo=0,
        hi=10_000,
        required=False,
        lo_inclusive=False,
    )
    if area is None and vessel_kind in VesselKind.values:
        area = GROWTH_AREA_CM2.get(VesselKind(vessel_kind))
    try:
        note = clean_text(note, field="note", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    raise_errors(errors)
    now = timezone.now()
    before = vial_state(vial)
    vial.status = VialStatus.THAWED
    vial.checked_out_at = now
    vial.checked_out_by = actor
    vial.save(update_fields=["status", "checked_out_at", "checked_out_by"])
    vessel = Vessel.objects.create(
        lab_id=run.lab_id,
        code=f"{run.code}-C{next_vessel_number(run):03d}",
        run=run,
        donor_id=run.donor_id,
        coi=vial.coi,
        source_vial=vial,
        passage=vial.passage,
        kind=vessel_kind,
        surface_area_cm2=area,
        seeded_at=now,
        seeded_by=actor,
        cells_seeded=cells,
        seeding_density=(cells / area) if cells is not None and area else None,
        note=note,
    )
    VialMovement.objects.create(
        lab_id=vial.lab_id,
        vial=vial,
        kind=MovementKind.THAW,
        at=now,
        by=actor,
        from_position=vial.position,
        scanned_code=scanned_code.strip()[:200],
        reason=note,
    )
    audit_record_many(
        actor=actor,
        changes=[
            _movement_change(vial, "vial.thaw", before),
            run_audit_change(
                "vessel.seed",
                vessel,
                run,
                None,
                {
                    "code": vessel.code,
                    "from_vial": vial.code,
                    "passage": vessel.passage,
                    "kind": vessel.kind,
                    "cells_seeded": cells,
                    "seeding_density": vessel.seeding_density,
                },
            ),
        ],
    )
    run_passage(run=run, actor=actor, kind=PassageKind.THAW, note=f"vial {vial.code}")
    return vessel


@transaction.atomic
def vial_check_out(
    *,
    vial: Vial,
    scanned_code: str,
    actor: Person,
    status: str,
    reason: str,
    received_by: Person | None = None,
) -> Vial:
    """Withdraw (``withdrawn``: taken out of storage for testing or shipment, handed to
    ``received_by``) or discard (``discarded``) a scanned vial, with a reason."""
    vial = lock_vials([vial.pk])[vial.pk]
    require_role(actor, vial.lab_id, CAN_WORK, "check vials out")
    if status not in (VialStatus.WITHDRAWN, VialStatus.DISCARDED):
        raise ValidationFailed("status must be withdrawn or discarded", fields={"status": ["?"]})
    _scan_matches(vial, scanned_code)
    reason = clean_text(reason, field="reason", max_length=1000, required=True)
    if received_by is not None and not has_role(received_by, vial.lab_id, CAN_WORK):
        raise ValidationFailed(
            "the person taking it over does not work in this lab",
            fields={"received_by": ["not a member who works in this lab"]},
        )
    _checkout(vial, status, doing=status)
    now = timezone.now()
    before = vial_state(vial)
    vial.status = status
    vial.checked_out_at = now
    vial.checked_out_by = actor
    vial.save(update_fields=["status", "checked_out_at", "checked_out_by"])
    kind = MovementKind.WITHDRAW if status == VialStatus.WITHDRAWN else MovementKind.DISCARD
    VialMovement.objects.create(
        lab_id=vial.lab_id,
        vial=vial,
        kind=kind,
        at=now,
        by=actor,
        received_by=received_by,
        from_position=vial.position,
        scanned_code=scanned_code.strip()[:200],
        reason=reason,
    )
    audit_record_many(actor=actor, changes=[_movement_change(vial, f"vial.{kind}", before, reason)])
    return vial


@transaction.atomic
def vial_transfer(
    *,
    vial: Vial,
    scanned_code: str,
    to_position: Position,
    actor: Person,
    received_by: Person | None = None,
    reason: str = "",
) -> Vial:
    """Move a stored vial to a free position (a custody hand-off to ``received_by`` when
    given): the new position is locked and checked free, the old one freed."""
    vial = lock_vials([vial.pk])[vial.pk]
    require_role(actor, vial.lab_id, CAN_WORK, "transfer vials")
    _scan_matches(vial, scanned_code)
    if to_position.lab_id != vial.lab_id:
        raise ValidationFailed("position not found in this lab", fields={"to_position": ["?"]})
    if not vial.in_storage:
        raise InvalidTransition(f"vial {vial.code} is {vial.status}; it is not in storage")
    if to_position.pk == vial.position_id:
        raise ValidationFailed("the vial is already there", fields={"to_position": ["same"]})
    if received_by is not None and not has_role(received_by, vial.lab_id, CAN_WORK):
        raise ValidationFailed(
            "the person taking it over does not work in this lab",
            fields={"received_by": ["not a member who works in this lab"]},
        )
    reason = clean_text(reason, field="reason", max_length=1000)
    target = lock_positions([to_position.pk])[to_position.pk]
    taken = occupied([target.pk])
    if taken:
        message = f"position {location_of(target)} holds vial {taken[target.pk]}"
        raise Conflict(message, code="position_occupied", fields={"to_position": [message]})
    if clear_reservation(target) is not None:
        target.save(update_fields=["reserved_at", "reserved_by", "reserved_for"])
    now = timezone.now()
    before = vial_state(vial)
    origin = vial.position
    vial.position = target
    vial.save(update_fields=["position"])
    VialMovement.objects.create(
        lab_id=vial.lab_id,
        vial=vial,
        kind=MovementKind.TRANSFER,
        at=now,
        by=actor,
        received_by=received_by,
        from_position=origin,
        to_position=target,
        scanned_code=scanned_code.strip()[:200],
        reason=reason,
    )
    audit_record_many(
        actor=actor, changes=[_movement_change(vial, "vial.transfer", before, reason)]
    )
    return vial


@transaction.atomic
def vial_reserve(*, vial: Vial, reserved_for: str, actor: Person) -> Vial:
    """Set a stored vial aside (``reserved_for``: the run or purpose); it stays in place."""
    vial = lock_vials([vial.pk])[vial.pk]
    require_role(actor, vial.lab_id, CAN_WORK, "reserve vials")
    reserved_for = clean_text(
        reserved_for, field="reserved_for", max_length=200, required=True, multiline=False
    )
    if vial.status != VialStatus.STORED:
        raise InvalidTransition(
            f"vial {vial.code} is {vial.status}; only a stored vial is reserved"
        )
    before = vial_state(vial)
    vial.status = VialStatus.RESERVED
    vial.reserved_for = reserved_for
    vial.save(update_fields=["status", "reserved_for"])
    VialMovement.objects.create(
        lab_id=vial.lab_id,
        vial=vial,
        kind=MovementKind.RESERVE,
        at=timezone.now(),
        by=actor,
        reason=reserved_for,
    )
    audit_record_many(actor=actor, changes=[_movement_change(vial, "vial.reserve", before)])
    return vial


@transaction.atomic
def vial_unreserve(*, vial: Vial, actor: Person, reason: str = "") -> Vial:
    vial = lock_vials([vial.pk])[vial.pk]
    require_role(actor, vial.lab_id, CAN_WORK, "reserve vials")
    if vial.status != VialStatus.RESERVED:
        raise InvalidTransition(f"vial {vial.code} is {vial.status}; it is not reserved")
    before = vial_state(vial)
    vial.status = VialStatus.STORED
    vial.reserved_for = ""
    vial.save(update_fields=["status", "reserved_for"])
    VialMovement.objects.create(
        lab_id=vial.lab_id,
        vial=vial,
        kind=MovementKind.UNRESERVE,
        at=timezone.now(),
        by=actor,
        reason=reason,
    )
    audit_record_many(actor=actor, changes=[_movement_change(vial, "vial.unreserve", before)])
    return vial
