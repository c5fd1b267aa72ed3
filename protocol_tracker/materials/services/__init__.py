"""Writes for materials and lots.

One module per seam: :mod:`.catalogue` (materials), :mod:`.lots` (receipt, certificate, signed
release, used up, the expiry sweep), :mod:`.use` (the building blocks the layers above call with
a lot they locked: the gate at the moment of use, drawing a quantity, a recall's status change).
Import from here.

Rules: a lot arrives in quarantine; a reviewer other than the person who received it releases it
with a signature, against its certificate of analysis; it expires at the start of its expiry
date in the lab's time zone (the beat sweep marks it, and every use checks the date itself, so a
lot is never used on its expiry date whether or not the sweep has run); a lot within its
material's warning days of expiry may be used, with a warning kept on the use.
"""

from protocol_tracker.materials.services.catalogue import material_create, material_update
from protocol_tracker.materials.services.lots import (
    lot_coa_attach,
    lot_mark_consumed,
    lot_receive,
    lot_release,
    lots_expire_due,
)
from protocol_tracker.materials.services.use import (
    LotCheck,
    lab_today,
    lot_check_use,
    lot_draw,
    lot_mark_recalled,
    lot_state,
    parse_draw,
)

__all__ = [
    "LotCheck",
    "lab_today",
    "lot_check_use",
    "lot_coa_attach",
    "lot_draw",
    "lot_mark_consumed",
    "lot_mark_recalled",
    "lot_receive",
    "lot_release",
    "lot_state",
    "lots_expire_due",
    "material_create",
    "material_update",
    "parse_draw",
]
