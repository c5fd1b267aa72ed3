"""Writes for storage: tanks, racks, boxes with their positions, and position reservations.

Reviewers and lab admins set storage up; anyone who works in the lab reserves a free position for
a planned freeze. Codes are short identifiers without ``/``, so that a location reads and scans as
``TANK/RACK/BOX/A1``.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_MANAGE, CAN_WORK, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.inventory.models import (
    MAX_BOX_SIDE,
    Box,
    Position,
    Rack,
    StorageKind,
    Tank,
)

_CODE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,30}[A-Za-z0-9])?\Z")
_CODE_RULE = "1-32 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"


def clean_storage_code(value: object, *, field: str) -> str:
    text = clean_text(value, field=field, max_length=32, required=True, multiline=False)
    if not _CODE_RE.match(text):
        raise ValidationFailed(f"{field}: {_CODE_RULE}", fields={field: [_CODE_RULE]})
    return text


def _duplicate(what: str, code: str, where: str) -> Conflict:
    return Conflict(
        f"{what} {code} already exists in {where}",
        code="duplicate",
        fields={"code": ["already exists"]},
    )


@transaction.atomic
def tank_create(
    *,
    lab: Lab,
    code: str,
    name: str,
    kind: str,
    location: str = "",
    equipment: Equipment | None = None,
    actor: Person | None,
) -> Tank:
    """Add a storage tank (or freezer) to the lab (a reviewer or lab admin)."""
    if actor is not None:
        require_role(actor, lab, CAN_MANAGE, "set up storage")
    code = clean_storage_code(code, field="code")
    name = clean_text(name, field="name", max_length=200, required=True, multiline=False)
    location = clean_text(location, field="location", max_length=200, multiline=False)
    if kind not in StorageKind.values:
        raise ValidationFailed(
            f"kind must be one of {StorageKind.values}",
            fields={"kind": [f"one of {StorageKind.values}"]},
        )
    if equipment is not None and equipment.lab_id != lab.pk:
        raise ValidationFailed(
            "equipment not found in this lab", fields={"equipment": ["not found"]}
        )
    tank = Tank(
        lab=lab,
        code=code,
        name=name,
        kind=kind,
        location=location,
        equipment=equipment,
        created_by=actor,
    )
    try:
        with transaction.atomic():
            tank.save()
    except IntegrityError:
        raise _duplicate("tank", code, "this lab") from None
    audit_record(
        actor=actor,
        action="tank.create",
        obj=tank,
        lab_id=lab.pk,
        after={
            "code": code,
            "name": name,
            "kind": kind,
            "location": location,
            "equipment": equipment.pk if equipment else None,
        },
    )
    return tank


@transaction.atomic
def rack_create(*, tank: Tank, code: str, actor: Person | None) -> Rack:
    if actor is not None:
        require_role(actor, tank.lab_id, CAN_MANAGE, "set up storage")
    code = clean_storage_code(code, field="code")
    rack = Rack(lab_id=tank.lab_id, tank=tank, code=code)
    try:
        with transaction.atomic():
            rack.save()
    except IntegrityError:
        raise _duplicate("rack", code, f"tank {tank.code}") from None
    audit_record(
        actor=actor,
        action="rack.create",
        obj=rack,
        lab_id=tank.lab_id,
        after={"tank": tank.code, "code": code},
    )
    return rack


@transaction.atomic
def box_create(
    *, rack: Rack, code: str, rows: int, columns: int, label: str = "", actor: Person | None
) -> Box:
    """Add a box of ``rows`` × ``columns`` positions (1-26 each) to a rack; its positions are
    created with it."""
    if actor is not None:
        require_role(actor, rack.lab_id, CAN_MANAGE, "set up storage")
    code = clean_storage_code(code, field="code")
    label = clean_text(label, field="label", max_length=200, multiline=False)
    errors = {
        name: [f"a whole number from 1 to {MAX_BOX_SIDE}"]
        for name, value in (("rows", rows), ("columns", columns))
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BOX_SIDE
    }
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", fields=errors)
    box = Box(lab_id=rack.lab_id, rack=rack, code=code, rows=rows, columns=columns, label=label)
    try:
        with transaction.atomic():
            box.save()
    except IntegrityError:
        raise _duplicate("box", code, f"rack {rack}") from None
    Position.objects.bulk_create(
        [
            Position(lab_id=rack.lab_id, box=box, row=row, column=column)
            for row in range(1, rows + 1)
            for column in range(1, columns + 1)
        ]
    )
    audit_record(
        actor=actor,
        action="box.create",
        obj=box,
        lab_id=rack.lab_id,
        after={"rack": str(rack), "code": code, "rows": rows, "columns": columns, "label": label},
    )
    return box


def lock_positions(pks) -> dict[int, Position]:
    """Lock positions in ``pk`` order (after any run the caller locked); fresh, by pk."""
    ordered = sorted(set(pks))
    rows = (
        Position.objects.select_for_update(of=("self",))
        .select_related("box__rack__tank")
        .filter(pk__in=ordered)
        .order_by("pk")
    )
    return {p.pk: p for p in rows}


@transaction.atomic
def position_reserve(*, position: Position, reserved_for: str, actor: Person) -> Position:
    """Hold a free position for a planned freeze (``reserved_for`` says which)."""
    position = lock_positions([position.pk])[position.pk]
    require_role(actor, position.lab_id, CAN_WORK, "reserve storage positions")
    reserved_for = clean_text(
        reserved_for, field="reserved_for", max_length=200, required=True, multiline=False
    )
    if position.is_reserved:
        raise Conflict(
            f"position {position} is already reserved for {position.reserved_for}",
            code="position_reserved",
        )
    position.reserved_at = timezone.now()
    position.reserved_by = actor
    position.reserved_for = reserved_for
    position.save(update_fields=["reserved_at", "reserved_by", "reserved_for"])
    audit_record(
        actor=actor,
        action="position.reserve",
        obj=position,
        lab_id=position.lab_id,
        after={"reserved_for": reserved_for},
    )
    return position


@transaction.atomic
def position_release(*, position: Position, actor: Person, reason: str = "") -> Position:
    """Give up a position's reservation."""
    position = lock_positions([position.pk])[position.pk]
    require_role(actor, position.lab_id, CAN_WORK, "reserve storage positions")
    if not position.is_reserved:
        raise InvalidTransition(f"position {position} is not reserved")
    before = {"reserved_for": position.reserved_for}
    position.reserved_at = None
    position.reserved_by = None
    position.reserved_for = ""
    position.save(update_fields=["reserved_at", "reserved_by", "reserved_for"])
    audit_record(
        actor=actor,
        action="position.release",
        obj=position,
        lab_id=position.lab_id,
        before=before,
        after={"reserved_for": ""},
        reason=reason,
    )
    return position


def clear_reservation(position: Position) -> dict | None:
    """Drop ``position``'s reservation (locked by the caller, who fills it); the old value for
    the caller's audit entry, or None when it had none."""
    if not position.is_reserved:
        return None
    before = {"reserved_for": position.reserved_for}
    position.reserved_at = None
    position.reserved_by = None
    position.reserved_for = ""
    return before
