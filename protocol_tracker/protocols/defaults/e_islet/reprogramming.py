"""E-islet, reference §2 stages 0-4: enrolment, blood draw, PBMC isolation, reprogramming and
clone expansion."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    WEEK,
    at_least,
    at_most,
    checkpoint,
    expect,
    identity_scan,
    media_change,
    no_spec,
    one_of,
    passage,
    stage,
)
from protocol_tracker.protocols.defaults.shared import CONV_NOTE
from protocol_tracker.protocols.defaults.sources import CONV, GK, src

STAGES: list[dict[str, Any]] = [
    stage(
        "enrolment",
        name="Enrolment, consent and chain-of-identity assignment",
        kind="collection",
        expected_duration_hours=1 * DAY,
        window_early_hours=1 * DAY,
        window_late_hours=2 * DAY,
        depends_on=[],
        reminder_lead_hours=1 * DAY,
        description=(
            "Before day 0. Record consent version and scope (reprogramming, banking, genetic "
            "testing, future use), the chain-of-identity (COI) ID, at least two patient "
            "identifiers and the clinical-trial subject ID. Kind 'collection': the schema has no "
            "enrolment kind and this stage opens the collection."
        ),
        source=src(
            "Q11",
            "Q12",
            "R1",
            "GK (duration: the reference says only 'before day 0'; 24 h chosen, window 0-72 h)",
        ),
        checkpoints=[
            checkpoint(
                "coi_assigned",
                assay="identity_scan",
                name="COI ID issued and linked to all later labels: first label scanned back",
                metric="coi_linked",
                unit="",
                value_type="identity",
                spec=identity_scan(),
                blocking=True,
                recorded_by="person",
                source=src("Q11", "Q12", "R1", GK),
                notes=(
                    "Pass/fail per reference §2 stage 0. The COI is issued when the donor is "
                    "registered; scanning a printed label of the run back proves it is on them."
                ),
                zh_name="COI 已签发并印在所有后续标签上：扫描第一张标签核对",
            ),
            checkpoint(
                "patient_identifiers",
                assay="vault_identifier_count",
                name="Unique patient identifiers on record and on labels",
                metric="identifier_count",
                unit="count",
                value_type="number",
                spec=at_least(2),
                blocking=True,
                recorded_by="system",
                source=src("Q12"),
                notes=(
                    "FDA CAR-T guidance recommends at least two unique identifiers on labels. "
                    "Counted in the identifier vault (the clinical team records them); not typed."
                ),
                zh_name="患者唯一标识符已登记（不少于两个）",
            ),
            checkpoint(
                "consent_scope",
                assay="consent_record",
                name="Consent covers reprogramming, banking and genetic testing",
                metric="consent_scope_covered",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("R1", GK),
                notes=(
                    "Record the consent version and scope (incl. future use) in the stage notes; "
                    "scope is enforced downstream (reference §6.4 item 14)."
                ),
            ),
        ],
    ),
    stage(
        "pbmc_collection",
        name="Blood draw (PBMC collection)",
        kind="collection",
        expected_duration_hours=1,
        window_early_hours=0,
        window_late_hours=1 * DAY,
        depends_on=["enrolment"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Day 0, less than 1 h. Record volume (mL), anticoagulant and tube lot, draw time, "
            "collector, transport temperature and time from draw to processing."
        ),
        source=src(
            "GK / CONV",
            "duration: 'day 0, less than 1 h' (reference §2 stage 1); late window 24 h GK",
        ),
        checkpoints=[
            checkpoint(
                "draw_to_processing_time",
                assay="draw_to_processing",
                name="Time from draw to processing",
                metric="draw_to_processing",
                unit="h",
                value_type="number",
                spec=at_most(24),
                blocking=True,
                recorded_by="system",
                source=CONV,
                notes=(
                    "Reference §2 stage 1: time to processing ≤24 h (CONV). Computed from the "
                    "blood shipment's draw and receipt times, not typed. " + CONV_NOTE
                ),
                zh_name="采血至处理的时间",
            ),
            checkpoint(
                "draw_tube_intact",
                assay="visual_inspection",
                name="Blood tube intact on receipt",
                metric="tube_intact",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source="GK / CONV",
            ),
            checkpoint(
                "draw_identifiers_match",
                assay="identity_scan",
                name="Blood receipt: tube label scanned against the COI",
                metric="identifiers_match",
                unit="",
                value_type="identity",
                spec=identity_scan("blood_tube"),
                blocking=True,
                recorded_by="person",
                source="GK / CONV",
                notes=(
                    "Reference §2 stage 1 'identifiers match'. Hand-over: courier → receiving "
                    "technician; record the custody hand-off (label scanned on both sides) and "
                    "the shipment's temperature logger."
                ),
                zh_name="血样接收：扫描采血管标签核对 COI",
            ),
            checkpoint(
                "draw_volume",
                assay="batch_record",
                name="Blood volume drawn",
                metric="volume",
                unit="mL",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=GK,
                notes="Recorded quantity; no acceptance limit in the reference.",
            ),
        ],
    ),
    stage(
        "pbmc_isolation",
        name="PBMC isolation (density gradient), optional cryopreservation",
        kind="collection",
        expected_duration_hours=1 * DAY,
        window_early_hours=20,
        window_late_hours=1 * DAY,
        depends_on=["pbmc_collection"],
        reminder_lead_hours=2,
        description=(
            "Day 0-1. Record Ficoll lot, total PBMCs, viability %, vial count, freezer profile "
            "and LN2 location."
        ),
        source=src(
            CONV,
            "duration: 'day 0-1' (reference §2 stage 2); 24 h expected, window 4-48 h (GK: a "
            "fresh isolation takes a few hours, a controlled-rate freeze runs overnight)",
        ),
        checkpoints=[
            checkpoint(
                "pbmc_viability_fresh",
                assay="viability_count",
                name="PBMC viability (fresh)",
                metric="viability",
                unit="%",
                value_type="percent",
                spec=at_least(90),
                blocking=True,
                source=CONV,
                notes="Reference §2 stage 2: ≥90% fresh (CONV). " + CONV_NOTE,
            ),
            checkpoint(
                "pbmc_viability_post_thaw",
                assay="viability_count",
                name="PBMC viability (post-thaw test vial)",
                metric="viability_post_thaw",
                unit="%",
                value_type="percent",
                spec=at_least(70),
                blocking=False,
                source=CONV,
                notes=(
                    "Only when PBMCs are cryopreserved. Reference gives ≥70-80% post-thaw (CONV); "
                    "the lower end is encoded and the lab may tighten it to 80%. Informational "
                    "because cryopreservation is optional."
                ),
            ),
            checkpoint(
                "pbmc_total_cells",
                assay="cell_count",
                name="Total PBMCs isolated",
                metric="total_cells",
                unit="10^6 cells",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=CONV,
                notes=(
                    "Cell number must be enough for the reprogramming method; the amount is "
                    "lab-defined, so no default limit."
                ),
            ),
        ],
    ),
    stage(
        "reprogramming",
        name="Reprogramming",
        kind="reprogramming",
        expected_duration_hours=3 * WEEK,
        window_early_hours=1 * WEEK,
        window_late_hours=1 * WEEK,
        depends_on=["pbmc_isolation"],
        reminder_lead_hours=1 * DAY,
        description=(
            "About 2-4 weeks to colonies. Record the method (Sendai, e.g. CytoTune: KOS, c-MYC, "
            "KLF4; or episomal oriP/EBNA1 plasmids: OCT4, SOX2, KLF4, L-MYC, LIN28, sh-p53 ± "
            "SV40LT/BCL-XL), vector lot and titre or MOI, cells seeded, medium and matrix lots, "
            "and the first colony day. The method is a per-run field."
        ),
        source=src(
            "R8",
            "R13",
            "GK (CytoTune composition, MOI)",
            "duration: 'about 2-4 weeks to colonies' (reference §2 stage 3) -> 21 d, window "
            "14-28 d",
        ),
        tasks=[media_change()],
        checkpoints=[
            checkpoint(
                "reprogramming_identity",
                assay="identity_scan",
                name="Start of reprogramming: PBMC vial label scanned",
                metric="identity_match",
                unit="",
                value_type="identity",
                spec=identity_scan("vial", "sample"),
                blocking=True,
                recorded_by="person",
                source=src("Q11", "Q12", GK),
                notes=(
                    "Chain of identity at the hand-over from PBMC isolation to reprogramming "
                    "(COC: every transfer and control point [Q11]); a mismatch stops the stage."
                ),
                zh_name="重编程开始：扫描 PBMC 冻存管标签",
            ),
            checkpoint(
                "reprogramming_method",
                assay="batch_record",
                name="Reprogramming method",
                metric="method",
                unit="",
                value_type="choice",
                spec=one_of("sendai", "episomal"),
                blocking=False,
                recorded_by="person",
                source=src("R8", GK),
                notes=(
                    "The reference lists the two common clinical options; the Changzheng method "
                    "was not found, so this stays a per-run choice. It decides which "
                    "vector-clearance assay applies."
                ),
            ),
            checkpoint(
                "es_like_colonies",
                assay="microscopy",
                name="Colonies with ES-like morphology",
                metric="es_like_morphology",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("R8", "R2", GK),
                notes="Qualitative; attach images.",
            ),
            checkpoint(
                "transduction_record_complete",
                assay="batch_record",
                name="Transduction/transfection record complete",
                metric="record_complete",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=src("R8", GK),
                notes="Vector lot, titre or MOI, cells seeded, medium and matrix lots.",
            ),
        ],
    ),
    stage(
        "clone_expansion",
        name="Clone picking and expansion",
        kind="expansion",
        expected_duration_hours=4 * WEEK,
        window_early_hours=2 * WEEK,
        window_late_hours=2 * WEEK,
        depends_on=["reprogramming"],
        reminder_lead_hours=1 * DAY,
        description=(
            "About 2-6 weeks. Record clone IDs (parent -> child lineage), passage number, split "
            "ratio and method, confluence and images."
        ),
        source=src(
            "R6",
            "R7",
            "R8",
            "duration: 'about 2-6 weeks' (reference §2 stage 4) -> 28 d, window 14-42 d",
        ),
        tasks=[
            media_change(),
            passage("Passage clones; log passage number, split ratio and method, confluence."),
        ],
        checkpoints=[
            checkpoint(
                "clone_vector_clearance",
                assay="vector_clearance_pcr",
                name="Reprogramming vector cleared (SeV RT-PCR or episomal qPCR)",
                metric="vector_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=src("R6", "R7", "R8"),
                notes=(
                    "Sendai: RT-PCR with SeV-specific primers, typically negative by P5-P10 (Ye "
                    "2013: undetectable after 5-8 passages). Episomal: plasmid undetectable "
                    "after about 5 passages. Hard stop before banking (reference §6.4 item 11)."
                ),
            ),
            checkpoint(
                "clone_clearance_passage",
                assay="batch_record",
                name="Passage number at vector clearance",
                metric="passage_number",
                unit="passages",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("R6", "R8"),
                notes="P5-P10 is typical, not a limit.",
            ),
            checkpoint(
                "clone_source_lineage",
                assay="tcr_igh_pcr",
                name="Source-cell lineage (TCR/IgH rearrangement)",
                metric="rearrangement",
                unit="",
                value_type="choice",
                spec=one_of("tcr_rearranged", "igh_rearranged", "none_detected"),
                blocking=False,
                source=src("R13", GK),
                notes=(
                    "Record whether the clone derives from a T or B cell (affects suitability); "
                    "the reference sets no acceptance rule."
                ),
            ),
        ],
    ),
]
