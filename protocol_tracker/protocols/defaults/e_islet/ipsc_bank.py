"""E-islet, reference §2 stage 5: the iPSC master/working bank and its release panel (§3)."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    WEEK,
    at_least,
    at_most,
    checkpoint,
    expect,
    iscn_karyotype,
    more_than,
    no_spec,
    stage,
)
from protocol_tracker.protocols.defaults.shared import CONV_NOTE, STERILITY_METHOD
from protocol_tracker.protocols.defaults.sources import CONV, src

STAGES: list[dict[str, Any]] = [
    stage(
        "ipsc_bank",
        name="iPSC master/working bank and release testing",
        kind="banking",
        expected_duration_hours=6 * WEEK,
        window_early_hours=2 * WEEK,
        window_late_hours=2 * WEEK,
        depends_on=["clone_expansion"],
        reminder_lead_hours=3 * DAY,
        description=(
            "Bank the selected clone and run the full bank QC panel (reference §3). All release "
            "assays must pass before the bank may be used for clinical manufacture."
        ),
        source=src(
            "R2",
            "R3",
            "R4",
            "duration: '4-8 weeks of assays (karyotype, sterility and STR turnaround)' "
            "(reference §2 stage 5) -> 6 weeks, window 4-8 weeks",
        ),
        checkpoints=[
            checkpoint(
                "bank_str_identity",
                assay="str_profile",
                name="STR identity matches donor PBMC",
                metric="matches_donor",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                retest_every_passages=12,
                retest_every_days=56,
                source=src("R2", "R3", "R4"),
                notes=(
                    "At bank and release; in routine culture every 6-8 weeks or 10-12 passages, "
                    "whichever comes first [R4] (upper ends encoded: 56 days, 12 passages; the "
                    "lab may tighten). Re-tested because long culture can select a contaminating "
                    "or swapped line. % match may be computed with the ANSI/ATCC ASN-0002 "
                    "algorithm (GK)."
                ),
            ),
            checkpoint(
                "bank_hla_identity",
                assay="hla_typing",
                name="HLA typing matches origin",
                metric="matches_donor",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=src("R2"),
                notes="PCR-SBT HLA typing, at bank.",
            ),
            checkpoint(
                "bank_marker_oct4",
                assay="flow_cytometry",
                name="Undifferentiated marker OCT4+ cells",
                metric="oct4_positive",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=True,
                source=src("C2", "R3", "R2"),
                notes=(
                    "Each marker judged on its own, > 70 % positive (ISCBI guidance tables, "
                    "reference §3); one GMP MCB release used > 75 % [R3]; CiRA [R2] lists flow as "
                    "a reference assay. Conventions of ≥ 85-90 % (CONV) are not encoded."
                ),
                zh_name="未分化标志物 OCT4 阳性细胞比例",
            ),
            checkpoint(
                "bank_marker_sox2",
                assay="flow_cytometry",
                name="Undifferentiated marker SOX2+ cells",
                metric="sox2_positive",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=True,
                source=src("C2", "R3", "R2"),
                notes=(
                    "Each marker judged on its own, > 70 % positive (ISCBI guidance tables, "
                    "reference §3); one GMP MCB release used > 75 % [R3]; CiRA [R2] lists flow as "
                    "a reference assay. Conventions of ≥ 85-90 % (CONV) are not encoded."
                ),
                zh_name="未分化标志物 SOX2 阳性细胞比例",
            ),
            checkpoint(
                "bank_marker_nanog",
                assay="flow_cytometry",
                name="Undifferentiated marker NANOG+ cells",
                metric="nanog_positive",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=True,
                source=src("C2", "R3", "R2"),
                notes=(
                    "Each marker judged on its own, > 70 % positive (ISCBI guidance tables, "
                    "reference §3); one GMP MCB release used > 75 % [R3]; CiRA [R2] lists flow as "
                    "a reference assay. Conventions of ≥ 85-90 % (CONV) are not encoded."
                ),
                zh_name="未分化标志物 NANOG 阳性细胞比例",
            ),
            checkpoint(
                "bank_marker_tra160",
                assay="flow_cytometry",
                name="Undifferentiated marker TRA-1-60+ cells",
                metric="tra160_positive",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=True,
                source=src("C2", "R3", "R2"),
                notes=(
                    "Each marker judged on its own, > 70 % positive (ISCBI guidance tables, "
                    "reference §3); one GMP MCB release used > 75 % [R3]; CiRA [R2] lists flow as "
                    "a reference assay. Conventions of ≥ 85-90 % (CONV) are not encoded."
                ),
                zh_name="未分化标志物 TRA-1-60 阳性细胞比例",
            ),
            checkpoint(
                "bank_marker_ssea4",
                assay="flow_cytometry",
                name="Undifferentiated marker SSEA-4+ cells",
                metric="ssea4_positive",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=True,
                source=src("C2", "R3", "R2"),
                notes=(
                    "Each marker judged on its own, > 70 % positive (ISCBI guidance tables, "
                    "reference §3); one GMP MCB release used > 75 % [R3]; CiRA [R2] lists flow as "
                    "a reference assay. Conventions of ≥ 85-90 % (CONV) are not encoded."
                ),
                zh_name="未分化标志物 SSEA-4 阳性细胞比例",
            ),
            checkpoint(
                "bank_trilineage",
                assay="trilineage_differentiation",
                name="Functional pluripotency: all three germ layers",
                metric="three_lineages_detected",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=src("R11", "R10"),
                notes=(
                    "Trilineage differentiation + flow (endoderm SOX17/CXCR4; mesoderm "
                    "Brachyury/NCAM; ectoderm PAX6/Nestin) or teratoma."
                ),
            ),
            checkpoint(
                "bank_karyotype_metaphases",
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
                notes=(
                    "At least 20 metaphases analysed (ISCBI: G-band analysis of 20 metaphase "
                    "spreads; [R3]'s 'normal karyotype in >20 metaphases' read as 20 or more, so "
                    "the common 46,XY[20] passes). Re-test every 6 weeks or 10 passages in "
                    "extended culture, whichever comes first, and after cloning or a "
                    "morphology/growth change [R4]: culture selects aneuploid cells."
                ),
            ),
            checkpoint(
                "bank_karyotype_iscn",
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
                    "Record the ISCN string as the report gives it (e.g. 46,XY[20]); it is "
                    "parsed: ≥ 20 cells and no clonal abnormality (≥ 2 cells with the same gain "
                    "or structural change, ≥ 3 with the same loss). Attach the report. "
                    "Re-tested with the count: every 6 weeks or 10 passages, whichever comes "
                    "first [R4]."
                ),
                zh_name="核型（ISCN 结果）：无克隆性异常",
            ),
            checkpoint(
                "bank_genetic_variants",
                assay="snp_array",
                name="No new CNVs/SNVs in cancer-related genes vs parental cells",
                metric="no_new_variants",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                requires_consent=["genetic_testing"],
                source=src("R2", "R5", "I10"),
                notes=(
                    "SNP array / WGS / WES (genetic testing: needs the donor's consent). Watch "
                    "recurrent culture-adaptation gains (20q11.21, "
                    "1q, 12p, 17q) (GK/CONV)."
                ),
            ),
            checkpoint(
                "bank_vector_clearance",
                assay="vector_clearance_pcr",
                name="Residual reprogramming vector not detected",
                metric="vector_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=src("R3", "R2", "R6", "R7"),
                notes="Sendai: SeV-specific RT-PCR. Episomal: TaqMan qPCR for plasmid/EBNA1.",
            ),
            checkpoint(
                "bank_sterility",
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
                "bank_mycoplasma",
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
                    "PCR (NAT) or culture (21 CFR 610.30). In culture every 3-4 weeks or 5-6 "
                    "passages, whichever comes first, and before sharing [R4] (upper ends "
                    "encoded: 28 days, 6 passages): a contamination spreads silently through "
                    "a culture; the USP <63> culture method itself takes 28 days."
                ),
            ),
            checkpoint(
                "bank_endotoxin",
                assay="endotoxin_lal",
                name="Endotoxin (LAL)",
                metric="endotoxin",
                unit="EU/mL",
                value_type="number",
                spec=at_most(5),
                blocking=True,
                source=src("R2", "R3"),
                notes="≤5 EU/mL (iPSC stock, CiRA [R2]); LUMC MCB uses <5.0 EU/mL [R3].",
            ),
            checkpoint(
                "bank_adventitious_viruses",
                assay="viral_pcr",
                name="Adventitious viruses (HIV-1/2, HBV, HCV, etc.)",
                metric="detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=src("R2", "R4"),
                notes="PCR on the donor or the line.",
            ),
            checkpoint(
                "bank_morphology",
                assay="microscopy",
                name="ES-cell-like colony morphology",
                metric="es_like_morphology",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("R2"),
                notes="Checked at every passage [R2].",
            ),
            checkpoint(
                "bank_post_thaw_viability",
                assay="viability_count",
                name="Post-thaw viability (bank test vial)",
                metric="viability_post_thaw",
                unit="%",
                value_type="percent",
                spec=at_least(70),
                blocking=True,
                source=src(CONV, "R2"),
                notes=(
                    "CiRA [R2] records post-thaw performance as a reference assay with no "
                    "standardised criterion; ≥70% is the convention. " + CONV_NOTE
                ),
            ),
            checkpoint(
                "bank_post_thaw_recovery",
                assay="microscopy",
                name="Recovery to a passageable culture within about 7 days",
                metric="recovered",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=False,
                recorded_by="person",
                source=src(CONV, "R2"),
                notes="Informational: 'about 7 days' is a convention, not a hard limit.",
            ),
            checkpoint(
                "bank_doubling_time",
                assay="cell_count",
                name="Doubling time over 3 passages",
                metric="doubling_time",
                unit="h",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=src("R2"),
                notes="Reference assay with no standardised criterion [R2].",
            ),
            checkpoint(
                "bank_passage_number",
                assay="batch_record",
                name="Passage number at banking",
                metric="passage_number",
                unit="passages",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("R4", CONV),
                notes=(
                    "Passage window is lab-defined (CONV: bank at low passage, differentiate "
                    "within a fixed number of passages from bank thaw)."
                ),
            ),
        ],
    ),
]
