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
from protocol_tracker.protocols.defaults.sources import CONV, GK, src

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
                "release_residual_pou5f1_qpcr",
                assay="qpcr",
                name="Residual undifferentiated cells: POU5F1 qPCR (% of iPSC reference)",
                metric="pou5f1_relative",
                unit="%",
                value_type="percent",
                spec=less_than(1),
                blocking=True,
                source=src("R5"),
                notes=(
                    "Kyoto final-product spec [R5]: POU5F1 (OCT3/4) expression < 1 % of "
                    "undifferentiated iPSCs, by qPCR against an iPSC reference. Hard stop."
                ),
                zh_name="残留未分化细胞：POU5F1 qPCR（相对 iPSC 参照的百分比）",
            ),
            checkpoint(
                "release_residual_lin28_qpcr",
                assay="qpcr",
                name="Residual undifferentiated cells: LIN28 qPCR (% of iPSC reference)",
                metric="lin28_relative",
                unit="%",
                value_type="percent",
                spec=less_than(1),
                blocking=True,
                source=src("R5"),
                notes="Kyoto final-product spec [R5]: LIN28 < 1 % of undifferentiated iPSCs.",
                zh_name="残留未分化细胞：LIN28 qPCR（相对 iPSC 参照的百分比）",
            ),
            checkpoint(
                "release_cnv_snp_array",
                assay="snp_array",
                name="Final-product CNV (SNP array): no abnormality vs the parental iPSC",
                metric="no_new_cnv",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                pending_allowed=True,
                requires_consent=["genetic_testing"],
                source=src("R5", "R2"),
                notes=(
                    "Kyoto final-product table [R5]: CNV by SNP array shows no abnormality "
                    "compared with the parental iPSC. Genetics may arrive after the transplant "
                    "(reference §6.4 item 7): may be pending at a recorded conditional release."
                ),
                zh_name="终产品拷贝数变异（SNP 芯片）：与亲本 iPSC 相比无异常",
            ),
            checkpoint(
                "release_identity_purity",
                assay="flow_cytometry",
                name="Identity/purity: C-peptide+/NKX6.1+ cells (gate set by the lab)",
                metric="beta_identity_positive",
                unit="%",
                value_type="percent",
                spec=at_least(30),
                blocking=True,
                source=src(CONV, "R5"),
                notes=(
                    "An identity/purity marker gate belongs in the final-product table [R5]; "
                    "its limit is the lab's: C-peptide+/NKX6.1+ ≥ 30-50 % is a convention "
                    "(reference §4, S6; CONV), the permissive end encoded for the lab to set."
                ),
                zh_name="鉴别/纯度：C 肽+/NKX6.1+ 细胞（由实验室设定门限）",
            ),
            checkpoint(
                "release_appearance",
                assay="visual_inspection",
                name="Appearance: conforms, no visible foreign matter",
                metric="appearance_conforms",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("R5"),
                notes="Kyoto final-product table [R5]: appearance and foreign matter.",
                zh_name="外观：符合要求，无可见异物",
            ),
            checkpoint(
                "release_endotoxin_lal",
                assay="endotoxin_lal",
                name="Endotoxin (LAL) of the final product, per mL",
                metric="endotoxin",
                unit="EU/mL",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("B6", "R5"),
                notes=(
                    "The LAL reading. The per-kg dose (EU/mL × volume ÷ the recipient's weight) "
                    "is computed in the clinical record and judged against USP <85> K (5 EU/kg; "
                    "0.2 EU/kg intrathecal); the Kyoto product used ≤ 1 EU/mL [R5]."
                ),
                zh_name="终产品内毒素（LAL，每毫升）",
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
