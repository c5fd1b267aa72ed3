"""Reads of storage: tanks with their racks and boxes, one box, a position by its path.

What occupies a position (vials) is one floor up: ``protocol_tracker.cellbank.selectors``
(the box map, free positions) reads it there.
"""

from __future__ import annotations

import re

from django.db.models import Prefetch, QuerySet

from labs.models import Lab
from protocol_tracker.core.actors import Person
from protocol_tracker.inventory.models import MAX_BOX_SIDE, Box, Position, Rack, Tank

_POSITION_RE = re.compile(r"^([A-Za-z])([0-9]{1,2})\Z")


def parse_position_name(name: str) -> tuple[int, int] | None:
    """``"B7"`` → (2, 7); None when it is not a position name."""
    match = _POSITION_RE.match((name or "").strip())
    if match is None:
        return None
    row = ord(match.group(1).upper()) - ord("A") + 1
    column = int(match.group(2))
    if not (1 <= row <= MAX_BOX_SIDE and 1 <= column <= MAX_BOX_SIDE):
        return None
    return row, column


def tanks_for_user(user: Person) -> QuerySet[Tank]:
    """The user's labs' tanks with their racks and boxes (three queries, whatever the size)."""
    return (
        Tank.objects.for_user(user)
        .select_related("lab", "equipment")
        .prefetch_related(
            Prefetch(
                "racks",
                queryset=Rack.objects.order_by("code").prefetch_related(
                    Prefetch("boxes", queryset=Box.objects.order_by("code"))
                ),
            )
        )
        .order_by("lab__name", "code")
    )


def tank_for_user(*, user: Person, tank_id: int) -> Tank:
    return tanks_for_user(user).get(pk=tank_id)


def boxes_for_user(user: Person) -> QuerySet[Box]:
    return (
        Box.objects.for_user(user)
        .select_related("rack__tank", "lab")
        .order_by("rack__tank__code", "rack__code", "code")
    )


def box_for_user(*, user: Person, box_id: int) -> Box:
    return boxes_for_user(user).get(pk=box_id)


def boxes_of_lab(*, lab: Lab) -> QuerySet[Box]:
    return (
        Box.objects.for_lab(lab)
        .select_related("rack__tank")
        .order_by("rack__tank__code", "rack__code", "code")
    )


def position_for_user(*, user: Person, position_id: int) -> Position:
    return Position.objects.for_user(user).select_related("box__rack__tank").get(pk=position_id)


def position_by_path(*, lab: Lab, path: str) -> Position | None:
    """The position ``TANK/RACK/BOX/A1`` names in ``lab`` (what its label's barcode holds)."""
    parts = [p.strip() for p in (path or "").strip().split("/")]
    if len(parts) != 4 or not all(parts):
        return None
    where = parse_position_name(parts[3])
    if where is None:
        return None
    return (
        Position.objects.for_lab(lab)
        .select_related("box__rack__tank")
        .filter(
            box__rack__tank__code=parts[0],
            box__rack__code=parts[1],
            box__code=parts[2],
            row=where[0],
            column=where[1],
        )
        .first()
    )


def location_of(position: Position) -> str:
    """``TANK/RACK/BOX/A1`` (``position`` with its box, rack and tank loaded)."""
    box = position.box
    return f"{box.rack.tank.code}/{box.rack.code}/{box.code}/{position.name}"
