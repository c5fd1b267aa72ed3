"""Pieces both default protocols share: the final-product release (COA) rows and two notes."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    at_least,
    at_most,
    checkpoint,
    expect,
    no_spec,
)
from protocol_tracker.protocols.defaults.sources import src


# Final-product COA rows ([B6] CIT-07, [B7], [R5] Kyoto) that both protocols release against.
def release_coa(key: str) -> dict[str, Any]:
    """A fresh copy of one shared release (COA) checkpoint."""
    rows = {
        "release_dose_cells": lambda: checkpoint(
            "release_dose_cells",
            assay="cell_count",
            name="Final lot dose (cells)",
            metric="total_cells",
            unit="10^6 cells",
            value_type="number",
            spec=no_spec(),
            blocking=False,
            source=src("B9"),
            notes="Lab-defined minimum; VX-880 full dose was 0.8x10^9 cells [B9].",
        ),
        "release_viability": lambda: checkpoint(
            "release_viability",
            assay="viability_count",
            name="Viability per bag",
            metric="viability",
            unit="%",
            value_type="percent",
            spec=at_least(70),
            blocking=True,
            source=src("B6", "R5"),
            notes="≥70% per bag (islets, [B6]); the Kyoto iPSC product used >90% [R5].",
        ),
        "release_gram_stain": lambda: checkpoint(
            "release_gram_stain",
            assay="gram_stain",
            name="Gram stain",
            metric="organisms_seen",
            unit="",
            value_type="boolean",
            spec=expect(False),
            blocking=True,
            recorded_by="person",
            source=src("B7"),
        ),
        "release_endotoxin": lambda: checkpoint(
            "release_endotoxin",
            assay="endotoxin_lal",
            name="Endotoxin per kg recipient body weight",
            metric="endotoxin_dose",
            unit="EU/kg",
            value_type="number",
            spec=at_most(5.0),
            blocking=True,
            source=src("B6"),
            notes="≤5.0 EU/kg recipient body weight, total per infusion.",
        ),
        "release_mycoplasma": lambda: checkpoint(
            "release_mycoplasma",
            assay="mycoplasma_pcr",
            name="Mycoplasma",
            metric="detected",
            unit="",
            value_type="boolean",
            spec=expect(False),
            blocking=True,
            source=src("R5"),
        ),
    }
    return rows[key]()


# Shared notes.
CONV_NOTE = "Convention, not a published requirement: the lab must confirm it in its own spec."
STERILITY_METHOD = (
    "BacT/ALERT, or USP<71>/21 CFR 610.12 membrane filtration with 14-day incubation. "
    "Record 'growth detected' = False for no growth."
)
