"""Default protocol 1: autologous PBMC -> iPSC -> EnSC -> E-islet (reference §2 stages 0-10,
§3, §4, §5). The stages live in one data module per part of the run, in run order."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.e_islet import (
    clinical,
    differentiation,
    ipsc_bank,
    lot_release,
    reprogramming,
)

STAGES: list[dict[str, Any]] = [
    *reprogramming.STAGES,
    *ipsc_bank.STAGES,
    *differentiation.STAGES,
    *lot_release.STAGES,
    *clinical.STAGES,
]

PROTOCOL: dict[str, Any] = {
    "code": "e-islet-autologous",
    "name": "Autologous iPSC-derived islet (E-islet)",
    "description": (
        "Lot-of-one autologous run: blood draw (PBMC) -> iPSC reprogramming, clone "
        "expansion and a released iPSC bank -> endoderm stem cells (EnSC) and an EnSC bank "
        "-> E-islet differentiation -> lot release -> transplant -> clinical follow-up. "
        "Modelled on the Shanghai Changzheng case (Wu J. et al., Cell Discovery 2024) and "
        "the EnSC platform of Cheng et al. (Cell Stem Cell 2012). QC gates come from the "
        "published iPSC bank, islet-product and iPSC-derived-product specifications cited "
        "on each checkpoint; conventions are marked CONV for the lab to confirm. "
        "Changzheng-specific details that are unverified or were not found (transplant "
        "site and dose, reprogramming method, glycaemic values) are left out: site, dose "
        "and method are per-run fields."
    ),
    "stages": STAGES,
}
