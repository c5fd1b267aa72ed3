"""What a storage position's label says (plain label content for the label service)."""

from __future__ import annotations

from protocol_tracker.inventory.models import Position
from protocol_tracker.inventory.selectors import location_of


def position_label(position: Position) -> dict:
    """``{"kind", "code", "barcode", "title", "fields"}``; the barcode is the location path,
    which ``selectors.position_by_path`` looks up."""
    path = location_of(position)
    box = position.box
    return {
        "kind": "position",
        "code": path,
        "barcode": path,
        "title": path,
        "fields": [
            ("Tank", box.rack.tank.code),
            ("Rack", box.rack.code),
            ("Box", box.code),
            ("Position", position.name),
        ],
    }
