"""What a lot's label says: plain label content, for the label service to lay out and print.

The barcode carries the lot's label code (``<material code>-<lot number>``), which
``selectors.lots_by_scan`` looks up; the text repeats it with what a person checks by eye.
"""

from __future__ import annotations

from protocol_tracker.materials.models import MaterialLot


def lot_label(lot: MaterialLot) -> dict:
    """``{"kind", "code", "barcode", "title", "fields": [(name, value)]}`` of ``lot``."""
    return {
        "kind": "material_lot",
        "code": lot.code,
        "barcode": lot.code,
        "title": lot.material.name,
        "fields": [
            ("Material", lot.material.code),
            ("Lot", lot.lot_number),
            ("Expiry", f"{lot.expiry_date:%Y-%m-%d}"),
            ("Received", f"{lot.received_at.astimezone(lot.lab.tz):%Y-%m-%d}"),
            ("Storage", lot.material.storage or "-"),
        ],
    }
