"""What vial and vessel labels say: plain label content for the label service.

A vial's barcode carries its code (``<run code>-V001``), which ``selectors.vial_by_scan`` looks
up and a thaw compares with the vial it checks out; the text carries the COI (the donor's code)
with the passage and contents, the two identifiers a person checks by eye.
"""

from __future__ import annotations

from protocol_tracker.cellbank.models import Vessel, Vial
from protocol_tracker.inventory.selectors import location_of


def vial_label(vial: Vial) -> dict:
    return {
        "kind": "vial",
        "code": vial.code,
        "barcode": vial.code,
        "title": vial.contents,
        "fields": [
            ("COI", vial.coi),
            ("Run", vial.run.code if vial.run_id else "-"),
            ("Passage", f"P{vial.passage}"),
            ("Cells", f"{vial.cells_per_vial:.3g}"),
            ("Frozen", f"{vial.frozen_at.astimezone(vial.lab.tz):%Y-%m-%d}"),
            ("Location", location_of(vial.position)),
        ],
    }


def vessel_label(vessel: Vessel) -> dict:
    return {
        "kind": "vessel",
        "code": vessel.code,
        "barcode": vessel.code,
        "title": vessel.get_kind_display(),
        "fields": [
            ("COI", vessel.coi),
            ("Run", vessel.run.code),
            ("Passage", f"P{vessel.passage}"),
            ("Seeded", f"{vessel.seeded_at.astimezone(vessel.run.lab.tz):%Y-%m-%d}"),
        ],
    }
