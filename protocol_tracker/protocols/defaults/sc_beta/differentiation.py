"""SC-β stages: thaw from the iPSC bank, then S1-S7 of the planar stepwise protocol."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    WEEK,
    at_least,
    checkpoint,
    expect,
    media_change,
    no_spec,
    passage,
    stage,
    task,
)
from protocol_tracker.protocols.defaults.shared import CONV_NOTE
from protocol_tracker.protocols.defaults.sources import CONV, GK, src

_DIFF_WINDOW = 6  # hours either side of a differentiation stage's due time (GK: fixed daily feeds)

STAGES: list[dict[str, Any]] = [
    stage(
        "bank_thaw",
        name="Thaw and seed from the iPSC bank",
        kind="expansion",
        expected_duration_hours=7 * DAY,
        window_early_hours=2 * DAY,
        window_late_hours=2 * DAY,
        depends_on=[],
        reminder_lead_hours=1 * DAY,
        description=(
            "Thaw a vial of a released iPSC bank, record vial ID, bank lot, passage number and "
            "post-thaw count/viability, expand to a passageable culture and seed for S1."
        ),
        source=src(
            "R2",
            "R4",
            CONV,
            "duration: 'recovery to a passageable culture within about 7 days' (reference §3, "
            "CONV) -> 7 d, window 5-9 d GK",
        ),
        tasks=[
            media_change(),
            passage("Passage / seed for S1; log passage number from bank thaw."),
        ],
        checkpoints=[
            checkpoint(
                "thaw_bank_released",
                assay="identity_check",
                name="Bank lot released for clinical manufacture",
                metric="bank_released",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("R2", "R3", "R4"),
                notes="All bank release assays must have passed (reference §2 stage 5, §3).",
            ),
            checkpoint(
                "thaw_vial_identity",
                assay="identity_check",
                name="Vial label matches bank record and batch record",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("Q12", GK),
            ),
            checkpoint(
                "thaw_viability",
                assay="viability_count",
                name="Post-thaw viability",
                metric="viability_post_thaw",
                unit="%",
                value_type="percent",
                spec=at_least(70),
                blocking=True,
                source=src(CONV, "R2"),
                notes=(
                    "CiRA records post-thaw count/viability as a reference assay [R2]; ≥70% is "
                    "the convention. " + CONV_NOTE
                ),
            ),
            checkpoint(
                "thaw_passage_number",
                assay="batch_record",
                name="Passage number at S1 seeding",
                metric="passage_number",
                unit="passages",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("R4", CONV),
                notes=(
                    "Passage window is lab-defined (CONV); genetics re-test every 10 passages [R4]."
                ),
            ),
        ],
    ),
    stage(
        "s1_definitive_endoderm",
        name="S1 Definitive endoderm",
        kind="differentiation",
        expected_duration_hours=4 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["bank_thaw"],
        reminder_lead_hours=12,
        description="Activin A + CHIR99021 (Hogrebe 2021 planar). Log factor lots per feed.",
        source=src("B1", "duration: S1 4 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "s1_de_identity",
                assay="flow_cytometry",
                name="DE identity (SOX17+/FOXA2+ or CXCR4+/CD117+)",
                metric="de_marker_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=src(CONV, "B5"),
                notes=(
                    "≥80-90% (CONV), lower end encoded; kit spec ≥70% SOX17+ [B5] for "
                    "comparison. " + CONV_NOTE
                ),
            ),
        ],
    ),
    stage(
        "s2_primitive_gut_tube",
        name="S2 Primitive gut tube",
        kind="differentiation",
        expected_duration_hours=2 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s1_definitive_endoderm"],
        reminder_lead_hours=12,
        description="Markers HNF1B, HNF4A, FOXA2.",
        source=src("B1", "duration: S2 2 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "s2_gut_tube_markers",
                assay="qpcr",
                name="Gut tube markers (HNF1B, HNF4A) by qPCR",
                metric="qpcr_export",
                unit="",
                value_type="file",
                spec=no_spec(),
                blocking=False,
                source=CONV,
                notes="Lab-defined (often qPCR only); attach the RDML/CSV export.",
            ),
        ],
    ),
    stage(
        "s3_posterior_foregut",
        name="S3 Posterior foregut (PP1)",
        kind="differentiation",
        expected_duration_hours=2 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s2_primitive_gut_tube"],
        reminder_lead_hours=12,
        description="PDX1 induction.",
        source=src("B1", "duration: S3 2 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "s3_pdx1",
                assay="flow_cytometry",
                name="PDX1+ cells",
                metric="pdx1_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=CONV,
                notes="≥80-90% (CONV), lower end encoded. " + CONV_NOTE,
            ),
        ],
    ),
    stage(
        "s4_pancreatic_progenitor",
        name="S4 Pancreatic progenitor (PP2)",
        kind="differentiation",
        expected_duration_hours=4 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s3_posterior_foregut"],
        reminder_lead_hours=12,
        description="KGF, SANT1, TPPB, LDN193189, RA. Markers PDX1/NKX6.1, SOX9.",
        source=src("B1", "duration: S4 4 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "s4_pdx1_nkx61",
                assay="flow_cytometry",
                name="PDX1+/NKX6.1+ cells",
                metric="pdx1_nkx61_positive",
                unit="%",
                value_type="percent",
                spec=at_least(50),
                blocking=True,
                source=src(CONV, "B2"),
                notes=(
                    "≥50% (CONV). Balboa 2022 reached ~80% after microwell aggregation [B2]. "
                    + CONV_NOTE
                ),
            ),
        ],
    ),
    stage(
        "s5_endocrine_progenitor",
        name="S5 Endocrine progenitor",
        kind="differentiation",
        expected_duration_hours=7 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s4_pancreatic_progenitor"],
        reminder_lead_hours=12,
        description=(
            "Latrunculin A for the first 24 h, then XXI, T3, ALK5i, SANT1, RA. Markers NEUROG3 "
            "(transient, early S5), NEUROD1, NKX2.2, CHGA."
        ),
        source=src("B1", "duration: S5 7 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[
            media_change(),
            task(
                "latrunculin_washout",
                "End latrunculin A exposure",
                "Latrunculin A is given for the first 24 h of S5; switch medium at day 1. ([B1])",
                on_days=[1],
            ),
        ],
        checkpoints=[
            checkpoint(
                "s5_chga",
                assay="flow_cytometry",
                name="CHGA+ endocrine fraction",
                metric="chga_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=CONV,
                notes="Should rise through S5; thresholds lab-defined (CONV), none encoded.",
            ),
        ],
    ),
    stage(
        "s6_sc_beta",
        name="S6 SC-beta / SC-islet",
        kind="differentiation",
        expected_duration_hours=14 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s5_endocrine_progenitor"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Markers C-peptide/NKX6.1, ISL1, MAFA; off-target GCG, SST and SC-EC cells. Total "
            "differentiation about 34 d [B1]."
        ),
        source=src("B1", "duration: S6 14+ d (Hogrebe 2021 planar) -> 14 d; ±6 h window GK"),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "s6_cpep_nkx61",
                assay="flow_cytometry",
                name="C-peptide+/NKX6.1+ cells",
                metric="cpep_nkx61_positive",
                unit="%",
                value_type="percent",
                spec=at_least(30),
                blocking=True,
                source=src(CONV, "B10"),
                notes=(
                    "≥30-50% (CONV), lower end encoded. Deng CiPSC-islets were about 60% beta "
                    "cells [B10]. " + CONV_NOTE
                ),
            ),
            checkpoint(
                "s6_off_target",
                assay="flow_cytometry",
                name="Off-target GCG+/SST+ cells",
                metric="off_target_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=src("B1", CONV),
                notes="Trend only; no threshold in the reference.",
            ),
        ],
    ),
    stage(
        "s7_maturation",
        name="S7 Maturation (optional)",
        kind="differentiation",
        expected_duration_hours=3 * WEEK,
        window_early_hours=2 * WEEK,
        window_late_hours=3 * WEEK,
        depends_on=["s6_sc_beta"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Optional extended culture: insulin content and biphasic GSIS. Skip the stage when "
            "the lab releases at the end of S6."
        ),
        source=src(
            "B2",
            "duration: 'S7 runs up to 6 weeks; insulin content rose about 4-fold in the first 3 "
            "weeks' [B2] -> 21 d, window 7 d (Rezania S7 7-15+ d, GK) to 6 weeks",
        ),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "s7_insulin_content",
                assay="insulin_content_elisa",
                name="Insulin content",
                metric="insulin_content",
                unit="ng/ug DNA",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src(CONV, "B2"),
                notes=(
                    "Acid-ethanol extraction + ELISA. No accepted threshold (CONV: trend vs "
                    "reference islets)."
                ),
            ),
            checkpoint(
                "s7_dynamic_gsis",
                assay="gsis_perifusion",
                name="Biphasic (first- and second-phase) dynamic GSIS observed",
                metric="biphasic_response",
                unit="",
                value_type="boolean",
                spec=no_spec(),
                blocking=False,
                source=src("B3", "B2"),
                notes="Hogrebe 2020 SC-beta showed first- and second-phase GSIS [B3].",
            ),
            checkpoint(
                "s7_sc_ec_fraction",
                assay="flow_cytometry",
                name="SC-EC (enterochromaffin-like) fraction",
                metric="sc_ec_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=src("B2"),
                notes="Balboa 2022: fell from ~13% to ~6.5% during S7 [B2]; trend only.",
            ),
        ],
    ),
]
