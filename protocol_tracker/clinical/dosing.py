"""Dose and endotoxin per kilogram of the recipient's body weight.

Endotoxin: the LAL result (EU/mL) × the product's volume (mL) ÷ the body weight (kg), judged
against K of USP <85> "Bacterial Endotoxins Test" (the endotoxin limit K/M: K = 5.0 EU/kg for
any route of administration except intrathecal, 0.2 EU/kg intrathecal; M is the dose per kg
given in one hour, here the whole lot at once). The endotoxin checkpoint's spec is written for
the non-intrathecal route ([B6]: ≤ 5.0 EU/kg); the formulation's route picks the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from protocol_tracker.clinical.models import InfusionRoute

ENDOTOXIN_LIMIT_EU_PER_KG = {
    InfusionRoute.NON_INTRATHECAL: Fraction(5),
    InfusionRoute.INTRATHECAL: Fraction(1, 5),
}
USP_85 = "USP <85> Bacterial Endotoxins Test: K = 5.0 EU/kg (0.2 EU/kg intrathecal)"


@dataclass(frozen=True)
class Dosing:
    cells_per_kg: float | None
    ieq_per_kg: float | None
    endotoxin_eu_per_ml: float | None
    endotoxin_eu_per_kg: float | None
    endotoxin_limit_eu_per_kg: float
    endotoxin_pass: bool | None
    basis: str


def _exact(value: float | Decimal) -> Fraction:
    return Fraction(str(value))


def dosing(
    *,
    weight_kg: Decimal | float,
    volume_ml: Decimal | float,
    dose_cells: float | None,
    dose_ieq: float | None,
    route: str,
    endotoxin_eu_per_ml: float | None,
) -> Dosing:
    """Per-kg dose and endotoxin, in exact arithmetic, rounded once at the end."""
    weight, volume = _exact(weight_kg), _exact(volume_ml)
    limit = ENDOTOXIN_LIMIT_EU_PER_KG[InfusionRoute(route)]
    eu_per_kg = None
    if endotoxin_eu_per_ml is not None:
        eu_per_kg = _exact(endotoxin_eu_per_ml) * volume / weight
    return Dosing(
        cells_per_kg=None if dose_cells is None else float(_exact(dose_cells) / weight),
        ieq_per_kg=None if dose_ieq is None else float(_exact(dose_ieq) / weight),
        endotoxin_eu_per_ml=endotoxin_eu_per_ml,
        endotoxin_eu_per_kg=None if eu_per_kg is None else float(eu_per_kg),
        endotoxin_limit_eu_per_kg=float(limit),
        endotoxin_pass=None if eu_per_kg is None else eu_per_kg <= limit,
        basis=USP_85,
    )
