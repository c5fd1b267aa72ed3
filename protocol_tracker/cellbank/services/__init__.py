"""Writes for the cell bank: freezes (:mod:`.freezes`), a vial's custody (:mod:`.custody`:
thaw, withdraw, discard, transfer, reserve), vessels (:mod:`.vessels`: seed, split, observe,
close) and the inventory import (:mod:`.importing`). Import from here.

Every service is keyword-only and atomic, checks the actor's role in the lab, locks in the
house order (run, lots, positions, vials/vessels; each in ``pk`` order), writes its movement rows
and audit events, and refuses with a message naming the rule, writing nothing.
"""

from protocol_tracker.cellbank.services.custody import (
    vial_check_out,
    vial_reserve,
    vial_thaw,
    vial_transfer,
    vial_unreserve,
)
from protocol_tracker.cellbank.services.freezes import (
    MAX_VIALS_PER_FREEZE,
    free_positions,
    vials_freeze,
)
from protocol_tracker.cellbank.services.importing import ImportResult, inventory_import
from protocol_tracker.cellbank.services.vessels import (
    vessel_close,
    vessel_observe,
    vessel_seed,
    vessel_split,
)

__all__ = [
    "MAX_VIALS_PER_FREEZE",
    "ImportResult",
    "free_positions",
    "inventory_import",
    "vessel_close",
    "vessel_observe",
    "vessel_seed",
    "vessel_split",
    "vial_check_out",
    "vial_reserve",
    "vial_thaw",
    "vial_transfer",
    "vial_unreserve",
    "vials_freeze",
]
