"""E-islet, reference §2 stages 6-7: EnSC derivation, the EnSC bank, E-islet differentiation."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    WEEK,
    at_least,
    checkpoint,
    expect,
    identity_scan,
    iscn_karyotype,
    less_than,
    media_change,
    no_spec,
    passage,
    stage,
)
from protocol_tracker.protocols.defaults.shared import CONV_NOTE, STERILITY_METHOD
from protocol_tracker.protocols.defaults.sources import CONV, GK, src

STAGES: list[dict[str, Any]] = [
    stage(
        "ensc_de_induction",
        name="Definitive endoderm induction (EnSC derivation)",
        kind="differentiation",
        expected_duration_hours=4 * DAY,
        window_early_hours=1 * DAY,
        window_late_hours=1 * DAY,
        depends_on=["ipsc_bank"],
        reminder_lead_hours=12,
        description=(
            "First half of reference stage 6: induce definitive endoderm from the released iPSC "
            "bank towards an EnSC line. Record as stage 4 (lineage, passage, lots)."
        ),
        source=src(
            "S7",
            "B5",
            CONV,
            "duration: 'DE induction about 3-5 days' (reference §2 stage 6) -> 4 d, window 3-5 d",
        ),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "ipsc_thaw_identity",
                assay="identity_scan",
                name="Thaw: iPSC bank vial label scanned",
                metric="identity_match",
                unit="",
                value_type="identity",
                spec=identity_scan("vial"),
                blocking=True,
                recorded_by="person",
                source=src("Q11", "Q12", GK),
                notes=(
                    "The vial thawed from the released iPSC bank (a vial of this lineage) must "
                    "carry this run's COI; hand-over: LN2 storage → culture."
                ),
                zh_name="复苏：扫描 iPSC 库冻存管标签",
            ),
            checkpoint(
                "de_identity",
                assay="flow_cytometry",
                name="Definitive endoderm identity (SOX17+/FOXA2+ or CXCR4+/CD117+)",
                metric="de_marker_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=src(CONV, "B5"),
                notes=(
                    "Reference gate ≥80-90% (CONV); the lower end is encoded. For comparison the "
                    "StemXVivo kit spec is ≥70% SOX17+ [B5]. " + CONV_NOTE
                ),
            ),
        ],
    ),
    stage(
        "ensc_bank",
        name="EnSC line expansion and EnSC bank",
        kind="banking",
        expected_duration_hours=6 * WEEK,
        window_early_hours=2 * WEEK,
        window_late_hours=2 * WEEK,
        depends_on=["ensc_de_induction"],
        reminder_lead_hours=3 * DAY,
        description=(
            "Second half of reference stage 6: expand the self-renewing EnSC line and bank it. "
            "Record as stage 4, plus EnSC passage number and doubling time. EnSC banks repeat "
            "identity, sterility, mycoplasma and karyotype."
        ),
        source=src(
            "S7",
            CONV,
            "duration: 'expansion and banking several weeks (not found for Changzheng)' "
            "(reference §2 stage 6); 6 weeks chosen with a 4-8 week window to match the bank "
            "assay turnaround of stage 5 (GK)",
        ),
        tasks=[
            media_change(),
            passage("Passage the EnSC line; log passage number, split ratio and doubling time."),
        ],
        checkpoints=[
            checkpoint(
                "ensc_identity",
                assay="flow_cytometry",
                name="EnSC identity (SOX17+/FOXA2+ or CXCR4+/CD117+)",
                metric="de_marker_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=src(CONV, "S7", "B5"),
                notes=(
                    "Repeat of the DE/EnSC identity gate at bank: ≥80-90% (CONV), lower end "
                    "encoded. " + CONV_NOTE
                ),
            ),
            checkpoint(
                "ensc_residual_oct4",
                assay="flow_cytometry",
                name="Residual OCT4+ cells",
                metric="oct4_positive",
                unit="%",
                value_type="percent",
                spec=less_than(5),
                blocking=True,
                source=CONV,
                notes=(
                    "Lab-defined, e.g. <1-5% (CONV); the permissive end is encoded because the "
                    "final product has its own residual-PSC gate (TRA-1-60 <1% [R5]). The lab "
                    "should tighten toward 1%."
                ),
            ),
            checkpoint(
                "ensc_str_identity",
                assay="str_profile",
                name="STR identity matches donor",
                metric="matches_donor",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                retest_every_passages=12,
                retest_every_days=56,
                source=src("R2", "R3", "R4"),
                notes=(
                    "EnSC banks repeat identity (reference §2 stage 6); STR per §3: every 6-8 "
                    "weeks or 10-12 passages, whichever comes first [R4]."
                ),
            ),
            checkpoint(
                "ensc_sterility",
                assay="sterility_culture",
                name="Bacteria/fungi (sterility)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=src("R2", "B6"),
                notes=STERILITY_METHOD,
            ),
            checkpoint(
                "ensc_mycoplasma",
                assay="mycoplasma_pcr",
                name="Mycoplasma",
                metric="detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                retest_every_passages=6,
                retest_every_days=28,
                source=src("R2", "R4", "C4"),
                notes=(
                    "In culture every 3-4 weeks or 5-6 passages, whichever comes first [R4] "
                    "(28 days, 6 passages encoded)."
                ),
            ),
            checkpoint(
                "ensc_karyotype_metaphases",
                assay="karyotype_gbanding",
                name="Karyotype: normal metaphases counted",
                metric="normal_metaphases",
                unit="metaphases",
                value_type="number",
                spec=at_least(20),
                blocking=True,
                retest_every_passages=10,
                retest_every_days=42,
                requires_consent=["genetic_testing"],
                source=src("C2", "R3", "R2", "R4"),
                notes="At least 20 metaphases (ISCBI); 46,XY[20] passes.",
            ),
            checkpoint(
                "ensc_karyotype_iscn",
                assay="karyotype_gbanding",
                name="Karyotype (ISCN result): no clonal abnormality",
                metric="karyotype_iscn",
                unit="",
                value_type="text",
                spec=iscn_karyotype(20),
                blocking=True,
                recorded_by="person",
                retest_every_passages=10,
                retest_every_days=42,
                requires_consent=["genetic_testing"],
                source=src("C3", "C2", "R3", "R2", "R4"),
                notes=(
                    "The ISCN string as reported, parsed: ≥ 20 cells, no clonal abnormality. "
                    "Every 6 weeks or 10 passages, whichever comes first [R4]."
                ),
                zh_name="EnSC 核型（ISCN 结果）：无克隆性异常",
            ),
            checkpoint(
                "ensc_doubling_time",
                assay="cell_count",
                name="EnSC doubling time",
                metric="doubling_time",
                unit="h",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("S7", GK),
            ),
        ],
    ),
    stage(
        "eislet_differentiation",
        name="EnSC -> E-islet differentiation",
        kind="differentiation",
        expected_duration_hours=14 * DAY,
        window_early_hours=2 * DAY,
        window_late_hours=2 * DAY,
        depends_on=["ensc_bank"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Stage-day log, media/factor lots, aggregate size and number, images. Gates are "
            "lab-defined (endocrine fraction, beta fraction, GSIS, residual PSC; see §4)."
        ),
        source=src(
            "S9",
            CONV,
            "duration: 'about 14 days per 2026 press on the later process [S9]; 2021 value not "
            "found' -> 14 d; ±2 d window GK",
        ),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "ensc_thaw_identity",
                assay="identity_scan",
                name="Thaw: EnSC bank vial label scanned",
                metric="identity_match",
                unit="",
                value_type="identity",
                spec=identity_scan("vial"),
                blocking=True,
                recorded_by="person",
                source=src("Q11", "Q12", GK),
                notes="The EnSC vial thawed to seed the differentiation; hand-over: LN2 → culture.",
                zh_name="复苏：扫描 EnSC 库冻存管标签",
            ),
            checkpoint(
                "eislet_endocrine_fraction",
                assay="flow_cytometry",
                name="Endocrine fraction (CHGA+)",
                metric="chga_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=CONV,
                notes="Lab-defined; no threshold in the reference.",
            ),
            checkpoint(
                "eislet_beta_fraction",
                assay="flow_cytometry",
                name="Beta-cell fraction (C-peptide+/NKX6.1+)",
                metric="cpep_nkx61_positive",
                unit="%",
                value_type="percent",
                spec=at_least(30),
                blocking=False,
                source=src(CONV, "B10"),
                notes=(
                    "Lab-defined for E-islets. §4 S6 convention ≥30-50% (CONV, lower end), "
                    "informational only; Deng CiPSC-islets were about 60% beta cells [B10]."
                ),
            ),
            checkpoint(
                "eislet_gsis_in_process",
                assay="gsis_elisa",
                name="In-process GSIS stimulation index",
                metric="stimulation_index",
                unit="SI",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src(CONV, "B8"),
                notes="Trend only; the release gate is on the final lot (SI >1 [B6]).",
            ),
            checkpoint(
                "eislet_residual_pluripotent",
                assay="flow_cytometry",
                name="In-process residual OCT4/TRA-1-60",
                metric="tra160_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=CONV,
                notes="Lab-defined in process; the release gate is TRA-1-60 <1% [R5].",
            ),
        ],
    ),
]
