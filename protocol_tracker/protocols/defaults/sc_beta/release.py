"""SC-β release: residual-PSC, genetic and sterility testing, then lot release."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    checkpoint,
    expect,
    less_than,
    more_than,
    no_spec,
    stage,
)
from protocol_tracker.protocols.defaults.shared import STERILITY_METHOD, release_coa
from protocol_tracker.protocols.defaults.sources import GK, src

STAGES: list[dict[str, Any]] = [
    stage(
        "safety_testing",
        name="Residual-PSC, genetic and sterility testing (parallel with S7)",
        kind="release",
        expected_duration_hours=14 * DAY,
        window_early_hours=0,
        window_late_hours=3 * DAY,
        depends_on=["s6_sc_beta"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Samples taken at the end of S6 are tested while S7 runs: residual undifferentiated "
            "cells, CNVs vs the parental bank, and sterility of the in-process culture. Release "
            "waits for this branch and for S7."
        ),
        source=src(
            "R5",
            "R12",
            "B6",
            "duration: 14 d sterility incubation (USP<71>, reference §3 and §5); late window "
            "3 d GK",
        ),
        checkpoints=[
            checkpoint(
                "safety_residual_tra160",
                assay="flow_cytometry",
                name="Residual PSC: TRA-1-60+ cells",
                metric="tra160_positive",
                unit="%",
                value_type="percent",
                spec=less_than(1),
                blocking=True,
                source=src("R5"),
                notes="Kyoto final-product spec: TRA-1-60 <1% by flow (pre-sort). Hard stop.",
            ),
            checkpoint(
                "safety_residual_oct4",
                assay="flow_cytometry",
                name="Residual PSC: OCT3/4+ / TRA-2-49/6E+ cells",
                metric="oct4_positive",
                unit="%",
                value_type="percent",
                spec=less_than(0.1),
                blocking=False,
                source=src("R5"),
                notes="Kyoto spec <0.1% [R5]; informational, the lab decides whether to gate.",
            ),
            checkpoint(
                "safety_residual_lin28_ddpcr",
                assay="ddpcr",
                name="Residual PSC: LIN28 ddPCR",
                metric="lin28_copies",
                unit="copies/uL",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("R12"),
                notes="Detects 0.001% hiPSC [R12]; record the LoD. No limit in the reference.",
            ),
            checkpoint(
                "safety_cnv",
                assay="snp_array",
                name="No new CNVs vs parental iPSC bank",
                metric="no_new_variants",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=src("R2", "R5", "I10"),
                notes="SNP array / WGS 'before final product' (reference §3).",
            ),
            checkpoint(
                "safety_sterility_in_process",
                assay="sterility_culture",
                name="Sterility (S6 in-process sample)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=src("B6", "R2", GK),
                notes=(
                    STERILITY_METHOD
                    + " In-process sample (GK); the final lot is tested again at release."
                ),
            ),
        ],
    ),
    stage(
        "lot_release",
        name="Final formulation and lot release",
        kind="release",
        expected_duration_hours=2 * DAY,
        window_early_hours=1 * DAY,
        window_late_hours=1 * DAY,
        depends_on=["s7_maturation", "safety_testing"],
        reminder_lead_hours=12,
        description=(
            "Final count, volume, container, label and COA (reference §5). Starts when both S7 "
            "(or its skip) and the safety-testing branch are complete. A conditional release "
            "before the 14-day final sterility result must be explicitly recorded."
        ),
        source=src(
            "B6",
            "Q5",
            "duration: '1-3 days (sterility result needs 14 days)' (reference §2 stage 8) -> "
            "2 d, window 1-3 d",
        ),
        checkpoints=[
            checkpoint(
                "release_identity",
                assay="identity_check",
                name="Identity: COA vs bag label vs batch record",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("B6"),
            ),
            release_coa("release_dose_cells"),
            checkpoint(
                "release_dose_ieq",
                assay="ieq_count",
                name="Final lot dose (islet equivalents)",
                metric="total_ieq",
                unit="IEQ",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("B10"),
                notes="Lab-defined minimum; Deng 2024 about 1.5x10^6 IEQ [B10].",
            ),
            release_coa("release_viability"),
            checkpoint(
                "release_potency_si",
                assay="gsis_elisa",
                name="Potency: GSIS stimulation index",
                metric="stimulation_index",
                unit="SI",
                value_type="number",
                spec=more_than(1),
                blocking=True,
                source=src("B6"),
                notes="SI >1 post-culture (CIT-07 [B6]); ≥1.5 in another programme [B7].",
            ),
            checkpoint(
                "release_sterility",
                assay="sterility_culture",
                name="Sterility (final product)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                pending_allowed=True,
                source=src("B6", "Q5"),
                notes="May be pending at a recorded conditional release (14-day result).",
            ),
            release_coa("release_gram_stain"),
            release_coa("release_endotoxin"),
            release_coa("release_mycoplasma"),
        ],
    ),
]
