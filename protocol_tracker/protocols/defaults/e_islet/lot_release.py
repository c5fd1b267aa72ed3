"""E-islet, reference §2 stage 8: final formulation and lot release (COA rows from §5)."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    at_least,
    at_most,
    checkpoint,
    expect,
    identity_scan,
    less_than,
    more_than,
    no_spec,
    stage,
)
from protocol_tracker.protocols.defaults.shared import release_coa
from protocol_tracker.protocols.defaults.sources import GK, src

STAGES: list[dict[str, Any]] = [
    stage(
        "lot_release",
        name="Final formulation and lot release",
        kind="release",
        expected_duration_hours=2 * DAY,
        window_early_hours=1 * DAY,
        window_late_hours=1 * DAY,
        depends_on=["eislet_differentiation"],
        reminder_lead_hours=12,
        description=(
            "Final cell/IEQ count, volume, container, label and COA (reference §5). A "
            "conditional release before the 14-day sterility result must be explicitly recorded "
            "(QP/QU release with open tests)."
        ),
        source=src(
            "B6",
            "Q5",
            "duration: '1-3 days (sterility result needs 14 days)' (reference §2 stage 8) -> "
            "2 d, window 1-3 d",
        ),
        checkpoints=[
            checkpoint(
                "formulation_identity",
                assay="identity_scan",
                name="Formulation: final bag label scanned",
                metric="identity_match",
                unit="",
                value_type="identity",
                spec=identity_scan("bag"),
                blocking=True,
                recorded_by="person",
                source=src("B6", "Q12"),
                notes=(
                    "The final container's label (COI, FOR AUTOLOGOUS USE ONLY) scanned at "
                    "formulation (reference §2 stage 8: container, label)."
                ),
                zh_name="制剂：扫描终产品袋标签",
            ),
            checkpoint(
                "release_recipient_identity",
                assay="identity_check",
                name="Recipient identity: COA vs bag label vs batch record",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("B6"),
                notes=(
                    "Study ID and medical record number identical on the COA, every bag label "
                    "and the batch record."
                ),
            ),
            checkpoint(
                "release_label_identifiers",
                assay="identity_check",
                name="Final label carries COI ID and at least two patient identifiers",
                metric="label_compliant",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("Q12", GK),
                notes="Autologous label 'FOR AUTOLOGOUS USE ONLY' (21 CFR 1271, GK).",
            ),
            checkpoint(
                "release_dose_ieq",
                assay="ieq_count",
                name="Final lot dose (islet equivalents)",
                metric="total_ieq",
                unit="IEQ",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("B6", "B10"),
                notes=(
                    "Protocol minimum is lab-defined for an SC product, so no default. For "
                    "comparison: primary islets ≥5.0x10^3 IEQ/kg first infusion [B6]; Deng "
                    "2024 about 1.5x10^6 IEQ [B10]."
                ),
            ),
            release_coa("release_dose_cells"),
            release_coa("release_viability"),
            checkpoint(
                "release_ieq_concentration",
                assay="ieq_count",
                name="IEQ per mL settled tissue",
                metric="ieq_concentration",
                unit="IEQ/mL",
                value_type="number",
                spec=at_least(20000),
                blocking=False,
                source=src("B6"),
                notes=(
                    "CIT-07 primary-islet limit; informational because SC products measure "
                    "purity by flow and the applicable limit is lab-defined."
                ),
            ),
            checkpoint(
                "release_settled_volume",
                assay="batch_record",
                name="Settled tissue volume per bag",
                metric="settled_volume",
                unit="mL",
                value_type="number",
                spec=at_most(7.5),
                blocking=False,
                recorded_by="person",
                source=src("B6"),
                notes=(
                    "CIT-07: ≤7.5 mL per bag and ≤15 mL total (primary islets); informational "
                    "for an SC product."
                ),
            ),
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
                notes=(
                    "SI = insulin at high glucose / insulin at low glucose, static incubation. "
                    "SI >1 post-culture (CIT-07 [B6]); another programme uses ≥1.5 at 1.6 vs "
                    "16.7 mM [B7]. Glucose steps are not standardised [B8]."
                ),
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
                notes=(
                    "21 CFR 610.12 / USP<71>, no growth. The 14-day result arrives after "
                    "infusion: may be pending at a recorded conditional release; a late failure "
                    "must trigger an alert and clinical notification."
                ),
            ),
            release_coa("release_gram_stain"),
            release_coa("release_endotoxin"),
            release_coa("release_mycoplasma"),
            checkpoint(
                "release_residual_tra160",
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
                "release_residual_oct4",
                assay="flow_cytometry",
                name="Residual PSC: OCT3/4+ / TRA-2-49/6E+ cells",
                metric="oct4_positive",
                unit="%",
                value_type="percent",
                spec=less_than(0.1),
                blocking=False,
                source=src("R5"),
                notes=(
                    "Kyoto spec <0.1% [R5] (dopaminergic product); informational here, the lab "
                    "decides whether to gate on it."
                ),
            ),
            checkpoint(
                "release_residual_lin28_ddpcr",
                assay="ddpcr",
                name="Residual PSC: LIN28 ddPCR",
                metric="lin28_copies",
                unit="copies/uL",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("R12"),
                notes=(
                    "LIN28 ddPCR detects 0.001% hiPSC (1 in 10^5) [R12]; record the LoD with "
                    "each result. No acceptance limit in the reference."
                ),
            ),
        ],
    ),
]
