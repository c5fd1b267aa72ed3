"""Default protocol templates, as plain Python data (no Django, no database).

Everything here is transcribed from ``/work/shared/domain/reference.md``. Every stage and
checkpoint carries a ``source`` that cites the reference's tags exactly as the reference gives
them (``[R3]``, ``[B6]``, ``GK``, ``CONV``, ...). Rules followed:

- No threshold is invented. Where the reference gives a number from a retrieved source, it is
  encoded with that source. Where the reference only gives a common convention (``CONV``), the
  convention is encoded and the source says ``CONV`` (the lab must confirm it in its own, versioned,
  specification). Where the reference says "lab-defined" and gives no number, the checkpoint is
  informational (``blocking`` False) with an empty spec.
- Nothing the reference marks UNVERIFIED (Changzheng-specific recollections: transplant site,
  dose, TIR/HbA1c values) is encoded.
- Durations come from the reference's "typical duration" ranges: ``expected_duration_hours`` is a
  point inside the range and the early/late windows span the rest of it; each stage's ``source``
  says which range it came from. Where the reference gives no range, the choice is tagged ``GK``.

Bench tasks have no ``source`` key in the schema, so their basis is tagged at the end of their
``description``.

The importer in ``protocols/services.py`` turns :data:`PROTOCOLS` into draft
``ProtocolTemplate`` rows; nothing here touches the database.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONV", "GK", "PROTOCOLS", "SOURCES"]

GK = "GK"
CONV = "CONV (common convention; lab must confirm)"

#: The reference's source tags (§7) with a short title, as cited in ``source`` fields.
SOURCES: dict[str, str] = {
    "S2": "[S2] Changzheng press release",
    "S7": "[S7] Cheng X et al., Cell Stem Cell 2012 (EnSC)",
    "S9": "[S9] secondary blog on the 2026 CEMCS press release (later E-islet process)",
    "R1": "[R1] ISSCR Standards (material and consent terms)",
    "R2": "[R2] CiRA iPS cell stock QC",
    "R3": "[R3] Novoa et al. GMP hiPSC (LUMC)",
    "R4": "[R4] EBiSC QC guidance",
    "R5": "[R5] Doi et al. 2020 (Kyoto iPSC-derived final product)",
    "R6": "[R6] Ye et al. SCTM 2013",
    "R7": "[R7] Sanquin iPSC facility",
    "R8": "[R8] JoVE 2017 episomal PBMC reprogramming (incl. Cedars-Sinai patent)",
    "R10": "[R10] Rehakova et al. IJMS 2020",
    "R11": "[R11] WiCell trilineage assay",
    "R12": "[R12] MEASURE LIN28 ddPCR",
    "R13": "[R13] Mack et al. PLoS One 2011",
    "B1": "[B1] Hogrebe et al. Nat Protoc 2021",
    "B2": "[B2] Balboa et al. Nat Biotechnol 2022",
    "B3": "[B3] Hogrebe et al. Nat Biotechnol 2020",
    "B5": "[B5] R&D Systems StemXVivo Endoderm Kit",
    "B6": "[B6] CIT-07 COA",
    "B7": "[B7] islet product-release table",
    "B8": "[B8] Alcazar & Buchwald 2019",
    "B9": "[B9] Reichman et al. NEJM 2025 (VX-880)",
    "B10": "[B10] Wang S et al. Cell 2024 (CiPSC-islets)",
    "B11": "[B11] Molano et al. 2024",
    "I10": "[I10] SNP-array QC of hPSCs (GenomeStudio)",
    "Q5": "[Q5] EU GMP Part IV (ATMP)",
    "Q11": "[Q11] SCB COC/COI project",
    "Q12": "[Q12] FDA CAR-T guidance on identifiers",
}


def _src(*parts: str) -> str:
    """Join source citations: a known tag ("R3") expands to its title, anything else is kept."""
    return "; ".join(SOURCES.get(part, part) for part in parts)


# --- acceptance specs -----------------------------------------------------------------------


def _spec(**values: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "min": None,
        "max": None,
        "min_inclusive": True,
        "max_inclusive": True,
        "allowed": None,
        "expected": None,
    }
    spec.update(values)
    return spec


def at_least(value: float) -> dict[str, Any]:
    return _spec(min=value, min_inclusive=True)


def more_than(value: float) -> dict[str, Any]:
    return _spec(min=value, min_inclusive=False)


def at_most(value: float) -> dict[str, Any]:
    return _spec(max=value, max_inclusive=True)


def less_than(value: float) -> dict[str, Any]:
    return _spec(max=value, max_inclusive=False)


def expect(value: bool) -> dict[str, Any]:
    return _spec(expected=value)


def one_of(*values: str) -> dict[str, Any]:
    return _spec(allowed=list(values))


def no_spec() -> dict[str, Any]:
    return {}


# --- builders (they only fill in defaults; the result is plain dicts and lists) -------------


def _checkpoint(
    key: str,
    *,
    assay: str,
    name: str,
    metric: str,
    unit: str,
    value_type: str,
    spec: dict[str, Any],
    blocking: bool,
    source: str,
    notes: str = "",
    recorded_by: str = "any",
    analyte: str | None = None,
    pending_allowed: bool = False,
    retest_every_passages: int | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "assay": assay,
        "name": name,
        "metric": metric,
        "unit": unit,
        "value_type": value_type,
        "spec": spec,
        "blocking": blocking,
        "recorded_by": recorded_by,
        "analyte": analyte,
        "pending_allowed": pending_allowed,
        "retest_every_passages": retest_every_passages,
        "source": source,
        "notes": notes,
    }


def _task(
    key: str,
    name: str,
    description: str,
    *,
    every_hours: int | None = None,
    on_days: list[int] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "every_hours": every_hours,
        "on_days": on_days,
        "description": description,
    }


def _stage(
    key: str,
    *,
    name: str,
    kind: str,
    expected_duration_hours: int,
    window_early_hours: int,
    window_late_hours: int,
    depends_on: list[str],
    reminder_lead_hours: int,
    description: str,
    source: str,
    tasks: list[dict[str, Any]] | None = None,
    checkpoints: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "kind": kind,
        "expected_duration_hours": expected_duration_hours,
        "window_early_hours": window_early_hours,
        "window_late_hours": window_late_hours,
        "depends_on": depends_on,
        "reminder_lead_hours": reminder_lead_hours,
        "description": description,
        "source": source,
        "tasks": tasks or [],
        "checkpoints": checkpoints or [],
    }


DAY = 24
WEEK = 7 * DAY


def _media_change(
    description: str = "Daily full medium change; log medium and supplement lots.",
) -> dict[str, Any]:
    return _task(
        "media_change",
        "Medium change",
        f"{description} (GK: daily feeding of PSC and differentiation cultures.)",
        every_hours=24,
    )


def _passage(description: str) -> dict[str, Any]:
    return _task(
        "passage",
        "Passage",
        f"{description} (GK: PSC cultures are typically passaged every 4-6 days; 5 days used.)",
        every_hours=5 * DAY,
    )


# Final-product COA rows ([B6] CIT-07, [B7], [R5] Kyoto) that both protocols release against.
def _release_coa(key: str) -> dict[str, Any]:
    """A fresh copy of one shared release (COA) checkpoint."""
    rows = {
        "release_dose_cells": lambda: _checkpoint(
            "release_dose_cells",
            assay="cell_count",
            name="Final lot dose (cells)",
            metric="total_cells",
            unit="10^6 cells",
            value_type="number",
            spec=no_spec(),
            blocking=False,
            source=_src("B9"),
            notes="Lab-defined minimum; VX-880 full dose was 0.8x10^9 cells [B9].",
        ),
        "release_viability": lambda: _checkpoint(
            "release_viability",
            assay="viability_count",
            name="Viability per bag",
            metric="viability",
            unit="%",
            value_type="percent",
            spec=at_least(70),
            blocking=True,
            source=_src("B6", "R5"),
            notes="≥70% per bag (islets, [B6]); the Kyoto iPSC product used >90% [R5].",
        ),
        "release_gram_stain": lambda: _checkpoint(
            "release_gram_stain",
            assay="gram_stain",
            name="Gram stain",
            metric="organisms_seen",
            unit="",
            value_type="boolean",
            spec=expect(False),
            blocking=True,
            recorded_by="person",
            source=_src("B7"),
        ),
        "release_endotoxin": lambda: _checkpoint(
            "release_endotoxin",
            assay="endotoxin_lal",
            name="Endotoxin per kg recipient body weight",
            metric="endotoxin_dose",
            unit="EU/kg",
            value_type="number",
            spec=at_most(5.0),
            blocking=True,
            source=_src("B6"),
            notes="≤5.0 EU/kg recipient body weight, total per infusion.",
        ),
        "release_mycoplasma": lambda: _checkpoint(
            "release_mycoplasma",
            assay="mycoplasma_pcr",
            name="Mycoplasma",
            metric="detected",
            unit="",
            value_type="boolean",
            spec=expect(False),
            blocking=True,
            source=_src("R5"),
        ),
    }
    return rows[key]()


# Shared notes.
_CONV_NOTE = "Convention, not a published requirement: the lab must confirm it in its own spec."
_STERILITY_METHOD = (
    "BacT/ALERT, or USP<71>/21 CFR 610.12 membrane filtration with 14-day incubation. "
    "Record 'growth detected' = False for no growth."
)


# =============================================================================================
# Protocol 1: autologous PBMC -> iPSC -> EnSC -> E-islet (reference §2 stages 0-10, §3, §4, §5)
# =============================================================================================

_E_ISLET_STAGES: list[dict[str, Any]] = [
    _stage(
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
        source=_src(
            "Q11",
            "Q12",
            "R1",
            "GK (duration: the reference says only 'before day 0'; 24 h chosen, window 0-72 h)",
        ),
        checkpoints=[
            _checkpoint(
                "coi_assigned",
                assay="identity_check",
                name="COI ID issued and linked to all later labels",
                metric="coi_linked",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("Q11", "Q12", "R1", GK),
                notes="Pass/fail per reference §2 stage 0.",
            ),
            _checkpoint(
                "patient_identifiers",
                assay="identity_check",
                name="Unique patient identifiers on record and on labels",
                metric="identifier_count",
                unit="count",
                value_type="number",
                spec=at_least(2),
                blocking=True,
                recorded_by="person",
                source=_src("Q12"),
                notes="FDA CAR-T guidance recommends at least two unique identifiers on labels.",
            ),
            _checkpoint(
                "consent_scope",
                assay="consent_record",
                name="Consent covers reprogramming, banking and genetic testing",
                metric="consent_scope_covered",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("R1", GK),
                notes=(
                    "Record the consent version and scope (incl. future use) in the stage notes; "
                    "scope is enforced downstream (reference §6.4 item 14)."
                ),
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "GK / CONV",
            "duration: 'day 0, less than 1 h' (reference §2 stage 1); late window 24 h GK",
        ),
        checkpoints=[
            _checkpoint(
                "draw_to_processing_time",
                assay="time_record",
                name="Time from draw to processing",
                metric="draw_to_processing",
                unit="h",
                value_type="number",
                spec=at_most(24),
                blocking=True,
                recorded_by="person",
                source=CONV,
                notes=(
                    "Reference §2 stage 1: time to processing ≤24 h (CONV). Recorded at hand-over "
                    "to PBMC isolation. " + _CONV_NOTE
                ),
            ),
            _checkpoint(
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
            _checkpoint(
                "draw_identifiers_match",
                assay="identity_check",
                name="Tube identifiers match COI and patient",
                metric="identifiers_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source="GK / CONV",
            ),
            _checkpoint(
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
    _stage(
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
        source=_src(
            CONV,
            "duration: 'day 0-1' (reference §2 stage 2); 24 h expected, window 4-48 h (GK: a "
            "fresh isolation takes a few hours, a controlled-rate freeze runs overnight)",
        ),
        checkpoints=[
            _checkpoint(
                "pbmc_viability_fresh",
                assay="viability_count",
                name="PBMC viability (fresh)",
                metric="viability",
                unit="%",
                value_type="percent",
                spec=at_least(90),
                blocking=True,
                source=CONV,
                notes="Reference §2 stage 2: ≥90% fresh (CONV). " + _CONV_NOTE,
            ),
            _checkpoint(
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
            _checkpoint(
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
    _stage(
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
        source=_src(
            "R8",
            "R13",
            "GK (CytoTune composition, MOI)",
            "duration: 'about 2-4 weeks to colonies' (reference §2 stage 3) -> 21 d, window "
            "14-28 d",
        ),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "reprogramming_method",
                assay="batch_record",
                name="Reprogramming method",
                metric="method",
                unit="",
                value_type="choice",
                spec=one_of("sendai", "episomal"),
                blocking=False,
                recorded_by="person",
                source=_src("R8", GK),
                notes=(
                    "The reference lists the two common clinical options; the Changzheng method "
                    "was not found, so this stays a per-run choice. It decides which "
                    "vector-clearance assay applies."
                ),
            ),
            _checkpoint(
                "es_like_colonies",
                assay="microscopy",
                name="Colonies with ES-like morphology",
                metric="es_like_morphology",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("R8", "R2", GK),
                notes="Qualitative; attach images.",
            ),
            _checkpoint(
                "transduction_record_complete",
                assay="batch_record",
                name="Transduction/transfection record complete",
                metric="record_complete",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("R8", GK),
                notes="Vector lot, titre or MOI, cells seeded, medium and matrix lots.",
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "R6",
            "R7",
            "R8",
            "duration: 'about 2-6 weeks' (reference §2 stage 4) -> 28 d, window 14-42 d",
        ),
        tasks=[
            _media_change(),
            _passage("Passage clones; log passage number, split ratio and method, confluence."),
        ],
        checkpoints=[
            _checkpoint(
                "clone_vector_clearance",
                assay="vector_clearance_pcr",
                name="Reprogramming vector cleared (SeV RT-PCR or episomal qPCR)",
                metric="vector_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=_src("R6", "R7", "R8"),
                notes=(
                    "Sendai: RT-PCR with SeV-specific primers, typically negative by P5-P10 (Ye "
                    "2013: undetectable after 5-8 passages). Episomal: plasmid undetectable "
                    "after about 5 passages. Hard stop before banking (reference §6.4 item 11)."
                ),
            ),
            _checkpoint(
                "clone_clearance_passage",
                assay="batch_record",
                name="Passage number at vector clearance",
                metric="passage_number",
                unit="passages",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("R6", "R8"),
                notes="P5-P10 is typical, not a limit.",
            ),
            _checkpoint(
                "clone_source_lineage",
                assay="tcr_igh_pcr",
                name="Source-cell lineage (TCR/IgH rearrangement)",
                metric="rearrangement",
                unit="",
                value_type="choice",
                spec=one_of("tcr_rearranged", "igh_rearranged", "none_detected"),
                blocking=False,
                source=_src("R13", GK),
                notes=(
                    "Record whether the clone derives from a T or B cell (affects suitability); "
                    "the reference sets no acceptance rule."
                ),
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "R2",
            "R3",
            "R4",
            "duration: '4-8 weeks of assays (karyotype, sterility and STR turnaround)' "
            "(reference §2 stage 5) -> 6 weeks, window 4-8 weeks",
        ),
        checkpoints=[
            _checkpoint(
                "bank_str_identity",
                assay="str_profile",
                name="STR identity matches donor PBMC",
                metric="matches_donor",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                retest_every_passages=12,
                source=_src("R2", "R3", "R4"),
                notes=(
                    "At bank and release; in routine culture every 6-8 weeks or 10-12 passages "
                    "[R4] (upper end encoded; the lab may tighten to 10). % match may be computed "
                    "with the ANSI/ATCC ASN-0002 algorithm (GK)."
                ),
            ),
            _checkpoint(
                "bank_hla_identity",
                assay="hla_typing",
                name="HLA typing matches origin",
                metric="matches_donor",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=_src("R2"),
                notes="PCR-SBT HLA typing, at bank.",
            ),
            _checkpoint(
                "bank_undifferentiated_markers",
                assay="flow_cytometry",
                name="Undifferentiated markers (OCT4, SOX2, NANOG, TRA-1-60, SSEA-4)",
                metric="undifferentiated_positive",
                unit="%",
                value_type="percent",
                spec=more_than(75),
                blocking=True,
                source=_src("R3", "R2"),
                notes=(
                    ">75% positive (one GMP MCB release, [R3]). CiRA [R2] lists flow as a "
                    "reference assay with no fixed criterion; conventions of ≥85-90% also "
                    "circulate (CONV) and are not encoded."
                ),
            ),
            _checkpoint(
                "bank_trilineage",
                assay="trilineage_differentiation",
                name="Functional pluripotency: all three germ layers",
                metric="three_lineages_detected",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=_src("R11", "R10"),
                notes=(
                    "Trilineage differentiation + flow (endoderm SOX17/CXCR4; mesoderm "
                    "Brachyury/NCAM; ectoderm PAX6/Nestin) or teratoma."
                ),
            ),
            _checkpoint(
                "bank_karyotype_metaphases",
                assay="karyotype_gbanding",
                name="Karyotype: normal metaphases counted",
                metric="normal_metaphases",
                unit="metaphases",
                value_type="number",
                spec=more_than(20),
                blocking=True,
                retest_every_passages=10,
                source=_src("R3", "R2", "R4"),
                notes=(
                    "Normal karyotype in >20 metaphases (G-banding). Re-test every 6 weeks or 10 "
                    "passages in extended culture, and after cloning or a morphology/growth "
                    "change [R4]."
                ),
            ),
            _checkpoint(
                "bank_karyotype_normal",
                assay="karyotype_gbanding",
                name="Karyotype normal (ISCN result)",
                metric="karyotype_normal",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                retest_every_passages=10,
                source=_src("R3", "R2", "R4"),
                notes="Record the ISCN string (e.g. 46,XY[20]) and attach the report.",
            ),
            _checkpoint(
                "bank_genetic_variants",
                assay="snp_array",
                name="No new CNVs/SNVs in cancer-related genes vs parental cells",
                metric="no_new_variants",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=_src("R2", "R5", "I10"),
                notes=(
                    "SNP array / WGS / WES. Watch recurrent culture-adaptation gains (20q11.21, "
                    "1q, 12p, 17q) (GK/CONV)."
                ),
            ),
            _checkpoint(
                "bank_vector_clearance",
                assay="vector_clearance_pcr",
                name="Residual reprogramming vector not detected",
                metric="vector_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=_src("R3", "R2", "R6", "R7"),
                notes="Sendai: SeV-specific RT-PCR. Episomal: TaqMan qPCR for plasmid/EBNA1.",
            ),
            _checkpoint(
                "bank_sterility",
                assay="sterility_culture",
                name="Bacteria/fungi (sterility)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=_src("R2", "B6"),
                notes=_STERILITY_METHOD,
            ),
            _checkpoint(
                "bank_mycoplasma",
                assay="mycoplasma_pcr",
                name="Mycoplasma",
                metric="detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                retest_every_passages=6,
                source=_src("R2", "R4"),
                notes=(
                    "PCR (NAT) or culture (21 CFR 610.30). In culture every 3-4 weeks or 5-6 "
                    "passages, and before sharing [R4] (upper end encoded)."
                ),
            ),
            _checkpoint(
                "bank_endotoxin",
                assay="endotoxin_lal",
                name="Endotoxin (LAL)",
                metric="endotoxin",
                unit="EU/mL",
                value_type="number",
                spec=at_most(5),
                blocking=True,
                source=_src("R2", "R3"),
                notes="≤5 EU/mL (iPSC stock, CiRA [R2]); LUMC MCB uses <5.0 EU/mL [R3].",
            ),
            _checkpoint(
                "bank_adventitious_viruses",
                assay="viral_pcr",
                name="Adventitious viruses (HIV-1/2, HBV, HCV, etc.)",
                metric="detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=_src("R2", "R4"),
                notes="PCR on the donor or the line.",
            ),
            _checkpoint(
                "bank_morphology",
                assay="microscopy",
                name="ES-cell-like colony morphology",
                metric="es_like_morphology",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("R2"),
                notes="Checked at every passage [R2].",
            ),
            _checkpoint(
                "bank_post_thaw_viability",
                assay="viability_count",
                name="Post-thaw viability (bank test vial)",
                metric="viability_post_thaw",
                unit="%",
                value_type="percent",
                spec=at_least(70),
                blocking=True,
                source=_src(CONV, "R2"),
                notes=(
                    "CiRA [R2] records post-thaw performance as a reference assay with no "
                    "standardised criterion; ≥70% is the convention. " + _CONV_NOTE
                ),
            ),
            _checkpoint(
                "bank_post_thaw_recovery",
                assay="microscopy",
                name="Recovery to a passageable culture within about 7 days",
                metric="recovered",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=False,
                recorded_by="person",
                source=_src(CONV, "R2"),
                notes="Informational: 'about 7 days' is a convention, not a hard limit.",
            ),
            _checkpoint(
                "bank_doubling_time",
                assay="cell_count",
                name="Doubling time over 3 passages",
                metric="doubling_time",
                unit="h",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src("R2"),
                notes="Reference assay with no standardised criterion [R2].",
            ),
            _checkpoint(
                "bank_passage_number",
                assay="batch_record",
                name="Passage number at banking",
                metric="passage_number",
                unit="passages",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("R4", CONV),
                notes=(
                    "Passage window is lab-defined (CONV: bank at low passage, differentiate "
                    "within a fixed number of passages from bank thaw)."
                ),
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "S7",
            "B5",
            CONV,
            "duration: 'DE induction about 3-5 days' (reference §2 stage 6) -> 4 d, window 3-5 d",
        ),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "de_identity",
                assay="flow_cytometry",
                name="Definitive endoderm identity (SOX17+/FOXA2+ or CXCR4+/CD117+)",
                metric="de_marker_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=_src(CONV, "B5"),
                notes=(
                    "Reference gate ≥80-90% (CONV); the lower end is encoded. For comparison the "
                    "StemXVivo kit spec is ≥70% SOX17+ [B5]. " + _CONV_NOTE
                ),
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "S7",
            CONV,
            "duration: 'expansion and banking several weeks (not found for Changzheng)' "
            "(reference §2 stage 6); 6 weeks chosen with a 4-8 week window to match the bank "
            "assay turnaround of stage 5 (GK)",
        ),
        tasks=[
            _media_change(),
            _passage("Passage the EnSC line; log passage number, split ratio and doubling time."),
        ],
        checkpoints=[
            _checkpoint(
                "ensc_identity",
                assay="flow_cytometry",
                name="EnSC identity (SOX17+/FOXA2+ or CXCR4+/CD117+)",
                metric="de_marker_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=_src(CONV, "S7", "B5"),
                notes=(
                    "Repeat of the DE/EnSC identity gate at bank: ≥80-90% (CONV), lower end "
                    "encoded. " + _CONV_NOTE
                ),
            ),
            _checkpoint(
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
            _checkpoint(
                "ensc_str_identity",
                assay="str_profile",
                name="STR identity matches donor",
                metric="matches_donor",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                retest_every_passages=12,
                source=_src("R2", "R3", "R4"),
                notes="EnSC banks repeat identity (reference §2 stage 6); STR per §3.",
            ),
            _checkpoint(
                "ensc_sterility",
                assay="sterility_culture",
                name="Bacteria/fungi (sterility)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=_src("R2", "B6"),
                notes=_STERILITY_METHOD,
            ),
            _checkpoint(
                "ensc_mycoplasma",
                assay="mycoplasma_pcr",
                name="Mycoplasma",
                metric="detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                retest_every_passages=6,
                source=_src("R2", "R4"),
            ),
            _checkpoint(
                "ensc_karyotype_metaphases",
                assay="karyotype_gbanding",
                name="Karyotype: normal metaphases counted",
                metric="normal_metaphases",
                unit="metaphases",
                value_type="number",
                spec=more_than(20),
                blocking=True,
                retest_every_passages=10,
                source=_src("R3", "R2", "R4"),
            ),
            _checkpoint(
                "ensc_karyotype_normal",
                assay="karyotype_gbanding",
                name="Karyotype normal (ISCN result)",
                metric="karyotype_normal",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                retest_every_passages=10,
                source=_src("R3", "R2", "R4"),
            ),
            _checkpoint(
                "ensc_doubling_time",
                assay="cell_count",
                name="EnSC doubling time",
                metric="doubling_time",
                unit="h",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src("S7", GK),
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "S9",
            CONV,
            "duration: 'about 14 days per 2026 press on the later process [S9]; 2021 value not "
            "found' -> 14 d; ±2 d window GK",
        ),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
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
            _checkpoint(
                "eislet_beta_fraction",
                assay="flow_cytometry",
                name="Beta-cell fraction (C-peptide+/NKX6.1+)",
                metric="cpep_nkx61_positive",
                unit="%",
                value_type="percent",
                spec=at_least(30),
                blocking=False,
                source=_src(CONV, "B10"),
                notes=(
                    "Lab-defined for E-islets. §4 S6 convention ≥30-50% (CONV, lower end), "
                    "informational only; Deng CiPSC-islets were about 60% beta cells [B10]."
                ),
            ),
            _checkpoint(
                "eislet_gsis_in_process",
                assay="gsis_elisa",
                name="In-process GSIS stimulation index",
                metric="stimulation_index",
                unit="SI",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src(CONV, "B8"),
                notes="Trend only; the release gate is on the final lot (SI >1 [B6]).",
            ),
            _checkpoint(
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
    _stage(
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
        source=_src(
            "B6",
            "Q5",
            "duration: '1-3 days (sterility result needs 14 days)' (reference §2 stage 8) -> "
            "2 d, window 1-3 d",
        ),
        checkpoints=[
            _checkpoint(
                "release_recipient_identity",
                assay="identity_check",
                name="Recipient identity: COA vs bag label vs batch record",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("B6"),
                notes=(
                    "Study ID and medical record number identical on the COA, every bag label "
                    "and the batch record."
                ),
            ),
            _checkpoint(
                "release_label_identifiers",
                assay="identity_check",
                name="Final label carries COI ID and at least two patient identifiers",
                metric="label_compliant",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("Q12", GK),
                notes="Autologous label 'FOR AUTOLOGOUS USE ONLY' (21 CFR 1271, GK).",
            ),
            _checkpoint(
                "release_dose_ieq",
                assay="ieq_count",
                name="Final lot dose (islet equivalents)",
                metric="total_ieq",
                unit="IEQ",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src("B6", "B10"),
                notes=(
                    "Protocol minimum is lab-defined for an SC product, so no default. For "
                    "comparison: primary islets ≥5.0x10^3 IEQ/kg first infusion [B6]; Deng "
                    "2024 about 1.5x10^6 IEQ [B10]."
                ),
            ),
            _release_coa("release_dose_cells"),
            _release_coa("release_viability"),
            _checkpoint(
                "release_ieq_concentration",
                assay="ieq_count",
                name="IEQ per mL settled tissue",
                metric="ieq_concentration",
                unit="IEQ/mL",
                value_type="number",
                spec=at_least(20000),
                blocking=False,
                source=_src("B6"),
                notes=(
                    "CIT-07 primary-islet limit; informational because SC products measure "
                    "purity by flow and the applicable limit is lab-defined."
                ),
            ),
            _checkpoint(
                "release_settled_volume",
                assay="batch_record",
                name="Settled tissue volume per bag",
                metric="settled_volume",
                unit="mL",
                value_type="number",
                spec=at_most(7.5),
                blocking=False,
                recorded_by="person",
                source=_src("B6"),
                notes=(
                    "CIT-07: ≤7.5 mL per bag and ≤15 mL total (primary islets); informational "
                    "for an SC product."
                ),
            ),
            _checkpoint(
                "release_potency_si",
                assay="gsis_elisa",
                name="Potency: GSIS stimulation index",
                metric="stimulation_index",
                unit="SI",
                value_type="number",
                spec=more_than(1),
                blocking=True,
                source=_src("B6"),
                notes=(
                    "SI = insulin at high glucose / insulin at low glucose, static incubation. "
                    "SI >1 post-culture (CIT-07 [B6]); another programme uses ≥1.5 at 1.6 vs "
                    "16.7 mM [B7]. Glucose steps are not standardised [B8]."
                ),
            ),
            _checkpoint(
                "release_sterility",
                assay="sterility_culture",
                name="Sterility (final product)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                pending_allowed=True,
                source=_src("B6", "Q5"),
                notes=(
                    "21 CFR 610.12 / USP<71>, no growth. The 14-day result arrives after "
                    "infusion: may be pending at a recorded conditional release; a late failure "
                    "must trigger an alert and clinical notification."
                ),
            ),
            _release_coa("release_gram_stain"),
            _release_coa("release_endotoxin"),
            _release_coa("release_mycoplasma"),
            _checkpoint(
                "release_residual_tra160",
                assay="flow_cytometry",
                name="Residual PSC: TRA-1-60+ cells",
                metric="tra160_positive",
                unit="%",
                value_type="percent",
                spec=less_than(1),
                blocking=True,
                source=_src("R5"),
                notes="Kyoto final-product spec: TRA-1-60 <1% by flow (pre-sort). Hard stop.",
            ),
            _checkpoint(
                "release_residual_oct4",
                assay="flow_cytometry",
                name="Residual PSC: OCT3/4+ / TRA-2-49/6E+ cells",
                metric="oct4_positive",
                unit="%",
                value_type="percent",
                spec=less_than(0.1),
                blocking=False,
                source=_src("R5"),
                notes=(
                    "Kyoto spec <0.1% [R5] (dopaminergic product); informational here, the lab "
                    "decides whether to gate on it."
                ),
            ),
            _checkpoint(
                "release_residual_lin28_ddpcr",
                assay="ddpcr",
                name="Residual PSC: LIN28 ddPCR",
                metric="lin28_copies",
                unit="copies/uL",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src("R12"),
                notes=(
                    "LIN28 ddPCR detects 0.001% hiPSC (1 in 10^5) [R12]; record the LoD with "
                    "each result. No acceptance limit in the reference."
                ),
            ),
        ],
    ),
    _stage(
        "transplant",
        name="Transplant",
        kind="transplant",
        expected_duration_hours=1 * DAY,
        window_early_hours=1 * DAY,
        window_late_hours=1 * DAY,
        depends_on=["lot_release"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Day T. Record site, route, dose (IEQ or cells; per kg), infusion start/stop, "
            "surgeon, bedside identity verification (two-person check) and portal pressure if "
            "intraportal. Record concomitant immunosuppression even for autologous runs."
        ),
        source=_src(
            "B6",
            "Q12",
            "GK (duration: the reference gives only 'day T'; 24 h from release with ±24 h "
            "chosen, the lab sets it to the product's shelf life)",
        ),
        checkpoints=[
            _checkpoint(
                "bedside_identity_check",
                assay="identity_check",
                name="Bedside two-person identity check (patient, COI, product label)",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("B6", "Q12"),
                notes="Hard gate; two people verify and both are recorded.",
            ),
            _checkpoint(
                "transplant_dose_ieq_per_kg",
                assay="batch_record",
                name="Dose administered (IEQ per kg)",
                metric="dose_per_kg",
                unit="IEQ/kg",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("B6", "B10"),
                notes=(
                    "Dose ≥ protocol minimum, which is lab-defined: set the limit in the lab's "
                    "protocol version. Primary islets ≥5.0x10^3 IEQ/kg first infusion [B6] is a "
                    "comparator only."
                ),
            ),
            _checkpoint(
                "transplant_dose_cells",
                assay="batch_record",
                name="Dose administered (cells)",
                metric="dose_cells",
                unit="10^6 cells",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("B9"),
                notes="Lab-defined minimum; VX-880 full dose 0.8x10^9 cells [B9] for comparison.",
            ),
            _checkpoint(
                "transplant_site_route",
                assay="batch_record",
                name="Transplant site and route",
                metric="site_route",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("B6", "B9", "B10"),
                notes="Free text; the reference gives no default site.",
            ),
            _checkpoint(
                "concomitant_immunosuppression",
                assay="clinical_record",
                name="Concomitant immunosuppression",
                metric="immunosuppression",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("inference", "S2"),
                notes="Confounds attribution of graft function even in autologous runs.",
            ),
        ],
    ),
    _stage(
        "follow_up",
        name="Clinical follow-up",
        kind="follow_up",
        expected_duration_hours=365 * DAY,
        window_early_hours=0,
        window_late_hours=2 * 365 * DAY,
        depends_on=["transplant"],
        reminder_lead_hours=3 * DAY,
        description=(
            "Weeks 1, 2, 4, 8, 12, then every 3 months to ≥1-3 years. Record fasting and "
            "stimulated (MMTT) C-peptide, HbA1c, daily insulin dose, oral agents and doses, CGM "
            "TIR/TBR/TAR, severe hypoglycaemia, immunosuppressant troughs, eGFR/creatinine, "
            "graft imaging, tumour surveillance and AEs/SAEs. Endpoints, not gates."
        ),
        source=_src(
            "B9",
            "B10",
            "S2",
            CONV,
            "duration: 'to ≥1-3 years' (reference §2 stage 10) -> 1 year, late window to 3 years",
        ),
        tasks=[
            _task(
                "follow_up_visit",
                "Follow-up visit",
                (
                    "Weeks 1, 2, 4, 8, 12, then months 6, 9 and 12 (every 3 months); extend in "
                    "the lab's protocol for follow-up beyond 1 year. (CONV, reference §2 stage "
                    "10.)"
                ),
                on_days=[7, 14, 28, 56, 84, 182, 273, 365],
            ),
        ],
        checkpoints=[
            _checkpoint(
                "fu_fasting_c_peptide",
                assay="clinical_lab",
                name="Fasting C-peptide",
                metric="c_peptide_fasting",
                unit="pmol/L",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                analyte="c_peptide",
                source=_src("S2", GK),
                notes="Endpoint. 1 ng/mL ≈ 331 pmol/L (GK).",
            ),
            _checkpoint(
                "fu_stimulated_c_peptide",
                assay="clinical_lab",
                name="Stimulated (MMTT) C-peptide",
                metric="c_peptide_stimulated",
                unit="pmol/L",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                analyte="c_peptide",
                source=_src("S2", GK),
                notes="Endpoint.",
            ),
            _checkpoint(
                "fu_hba1c",
                assay="clinical_lab",
                name="HbA1c",
                metric="hba1c",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                analyte="hba1c",
                source=_src("B9", GK),
                notes=(
                    "Endpoint. VX-880 Part C primary endpoint: no severe hypoglycaemia days "
                    "90-365 and HbA1c <7% (or ≥1-point drop) [B9]; composite, so no single "
                    "limit is encoded."
                ),
            ),
            _checkpoint(
                "fu_insulin_dose",
                assay="clinical_record",
                name="Daily exogenous insulin dose",
                metric="insulin_dose",
                unit="U/kg/day",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("S2", "B9"),
                notes="Endpoint. Insulin independence assessed days 180-365 [B9].",
            ),
            _checkpoint(
                "fu_insulin_independent",
                assay="clinical_record",
                name="Insulin independent",
                metric="insulin_independent",
                unit="",
                value_type="boolean",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("B9", "S2"),
                notes="Endpoint, assessed days 180-365 [B9].",
            ),
            _checkpoint(
                "fu_oral_agents",
                assay="clinical_record",
                name="Oral glucose-lowering agents and doses",
                metric="oral_agents",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("S2"),
                notes="Record each drug with dose and withdrawal date.",
            ),
            _checkpoint(
                "fu_cgm_tir",
                assay="cgm",
                name="CGM time in range (70-180 mg/dL)",
                metric="tir",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=False,
                source=_src(GK, "B9"),
                notes="Consensus target >70% (GK, Battelino 2019). Endpoint, not a gate.",
            ),
            _checkpoint(
                "fu_cgm_tbr",
                assay="cgm",
                name="CGM time below range (<70 mg/dL)",
                metric="tbr",
                unit="%",
                value_type="percent",
                spec=less_than(4),
                blocking=False,
                source=GK,
                notes="Consensus target <4% (GK, Battelino 2019). Endpoint, not a gate.",
            ),
            _checkpoint(
                "fu_severe_hypoglycaemia",
                assay="clinical_record",
                name="Severe hypoglycaemia events since last visit",
                metric="severe_hypo_events",
                unit="count",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("B9"),
                notes="Endpoint (VX-880: no severe hypoglycaemia days 90-365).",
            ),
            _checkpoint(
                "fu_immunosuppressant_troughs",
                assay="clinical_lab",
                name="Immunosuppressant trough levels",
                metric="troughs",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("inference", GK),
                notes="Drug, level and unit as text.",
            ),
            _checkpoint(
                "fu_renal_function",
                assay="clinical_lab",
                name="Kidney function (eGFR/creatinine)",
                metric="renal_function",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("S2"),
                notes="Transplanted-kidney function; values with units as text.",
            ),
            _checkpoint(
                "fu_tumour_surveillance",
                assay="imaging",
                name="Graft imaging and tumour surveillance",
                metric="imaging_report",
                unit="",
                value_type="file",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("B10", GK),
                notes="Attach the report.",
            ),
            _checkpoint(
                "fu_adverse_events",
                assay="clinical_record",
                name="Adverse events / serious adverse events",
                metric="adverse_events",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=GK,
            ),
        ],
    ),
]


# =============================================================================================
# Protocol 2: stepwise SC-beta differentiation from a released iPSC bank (reference §4)
# =============================================================================================

_DIFF_WINDOW = 6  # hours either side of a differentiation stage's due time (GK: fixed daily feeds)

_SC_BETA_STAGES: list[dict[str, Any]] = [
    _stage(
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
        source=_src(
            "R2",
            "R4",
            CONV,
            "duration: 'recovery to a passageable culture within about 7 days' (reference §3, "
            "CONV) -> 7 d, window 5-9 d GK",
        ),
        tasks=[
            _media_change(),
            _passage("Passage / seed for S1; log passage number from bank thaw."),
        ],
        checkpoints=[
            _checkpoint(
                "thaw_bank_released",
                assay="identity_check",
                name="Bank lot released for clinical manufacture",
                metric="bank_released",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("R2", "R3", "R4"),
                notes="All bank release assays must have passed (reference §2 stage 5, §3).",
            ),
            _checkpoint(
                "thaw_vial_identity",
                assay="identity_check",
                name="Vial label matches bank record and batch record",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("Q12", GK),
            ),
            _checkpoint(
                "thaw_viability",
                assay="viability_count",
                name="Post-thaw viability",
                metric="viability_post_thaw",
                unit="%",
                value_type="percent",
                spec=at_least(70),
                blocking=True,
                source=_src(CONV, "R2"),
                notes=(
                    "CiRA records post-thaw count/viability as a reference assay [R2]; ≥70% is "
                    "the convention. " + _CONV_NOTE
                ),
            ),
            _checkpoint(
                "thaw_passage_number",
                assay="batch_record",
                name="Passage number at S1 seeding",
                metric="passage_number",
                unit="passages",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=_src("R4", CONV),
                notes=(
                    "Passage window is lab-defined (CONV); genetics re-test every 10 passages [R4]."
                ),
            ),
        ],
    ),
    _stage(
        "s1_definitive_endoderm",
        name="S1 Definitive endoderm",
        kind="differentiation",
        expected_duration_hours=4 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["bank_thaw"],
        reminder_lead_hours=12,
        description="Activin A + CHIR99021 (Hogrebe 2021 planar). Log factor lots per feed.",
        source=_src("B1", "duration: S1 4 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "s1_de_identity",
                assay="flow_cytometry",
                name="DE identity (SOX17+/FOXA2+ or CXCR4+/CD117+)",
                metric="de_marker_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=_src(CONV, "B5"),
                notes=(
                    "≥80-90% (CONV), lower end encoded; kit spec ≥70% SOX17+ [B5] for "
                    "comparison. " + _CONV_NOTE
                ),
            ),
        ],
    ),
    _stage(
        "s2_primitive_gut_tube",
        name="S2 Primitive gut tube",
        kind="differentiation",
        expected_duration_hours=2 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s1_definitive_endoderm"],
        reminder_lead_hours=12,
        description="Markers HNF1B, HNF4A, FOXA2.",
        source=_src("B1", "duration: S2 2 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
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
    _stage(
        "s3_posterior_foregut",
        name="S3 Posterior foregut (PP1)",
        kind="differentiation",
        expected_duration_hours=2 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s2_primitive_gut_tube"],
        reminder_lead_hours=12,
        description="PDX1 induction.",
        source=_src("B1", "duration: S3 2 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "s3_pdx1",
                assay="flow_cytometry",
                name="PDX1+ cells",
                metric="pdx1_positive",
                unit="%",
                value_type="percent",
                spec=at_least(80),
                blocking=True,
                source=CONV,
                notes="≥80-90% (CONV), lower end encoded. " + _CONV_NOTE,
            ),
        ],
    ),
    _stage(
        "s4_pancreatic_progenitor",
        name="S4 Pancreatic progenitor (PP2)",
        kind="differentiation",
        expected_duration_hours=4 * DAY,
        window_early_hours=_DIFF_WINDOW,
        window_late_hours=_DIFF_WINDOW,
        depends_on=["s3_posterior_foregut"],
        reminder_lead_hours=12,
        description="KGF, SANT1, TPPB, LDN193189, RA. Markers PDX1/NKX6.1, SOX9.",
        source=_src("B1", "duration: S4 4 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "s4_pdx1_nkx61",
                assay="flow_cytometry",
                name="PDX1+/NKX6.1+ cells",
                metric="pdx1_nkx61_positive",
                unit="%",
                value_type="percent",
                spec=at_least(50),
                blocking=True,
                source=_src(CONV, "B2"),
                notes=(
                    "≥50% (CONV). Balboa 2022 reached ~80% after microwell aggregation [B2]. "
                    + _CONV_NOTE
                ),
            ),
        ],
    ),
    _stage(
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
        source=_src("B1", "duration: S5 7 d (Hogrebe 2021 planar); ±6 h window GK"),
        tasks=[
            _media_change(),
            _task(
                "latrunculin_washout",
                "End latrunculin A exposure",
                "Latrunculin A is given for the first 24 h of S5; switch medium at day 1. ([B1])",
                on_days=[1],
            ),
        ],
        checkpoints=[
            _checkpoint(
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
    _stage(
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
        source=_src("B1", "duration: S6 14+ d (Hogrebe 2021 planar) -> 14 d; ±6 h window GK"),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "s6_cpep_nkx61",
                assay="flow_cytometry",
                name="C-peptide+/NKX6.1+ cells",
                metric="cpep_nkx61_positive",
                unit="%",
                value_type="percent",
                spec=at_least(30),
                blocking=True,
                source=_src(CONV, "B10"),
                notes=(
                    "≥30-50% (CONV), lower end encoded. Deng CiPSC-islets were about 60% beta "
                    "cells [B10]. " + _CONV_NOTE
                ),
            ),
            _checkpoint(
                "s6_off_target",
                assay="flow_cytometry",
                name="Off-target GCG+/SST+ cells",
                metric="off_target_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=_src("B1", CONV),
                notes="Trend only; no threshold in the reference.",
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "B2",
            "duration: 'S7 runs up to 6 weeks; insulin content rose about 4-fold in the first 3 "
            "weeks' [B2] -> 21 d, window 7 d (Rezania S7 7-15+ d, GK) to 6 weeks",
        ),
        tasks=[_media_change()],
        checkpoints=[
            _checkpoint(
                "s7_insulin_content",
                assay="insulin_content_elisa",
                name="Insulin content",
                metric="insulin_content",
                unit="ng/ug DNA",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src(CONV, "B2"),
                notes=(
                    "Acid-ethanol extraction + ELISA. No accepted threshold (CONV: trend vs "
                    "reference islets)."
                ),
            ),
            _checkpoint(
                "s7_dynamic_gsis",
                assay="gsis_perifusion",
                name="Biphasic (first- and second-phase) dynamic GSIS observed",
                metric="biphasic_response",
                unit="",
                value_type="boolean",
                spec=no_spec(),
                blocking=False,
                source=_src("B3", "B2"),
                notes="Hogrebe 2020 SC-beta showed first- and second-phase GSIS [B3].",
            ),
            _checkpoint(
                "s7_sc_ec_fraction",
                assay="flow_cytometry",
                name="SC-EC (enterochromaffin-like) fraction",
                metric="sc_ec_positive",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                source=_src("B2"),
                notes="Balboa 2022: fell from ~13% to ~6.5% during S7 [B2]; trend only.",
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "R5",
            "R12",
            "B6",
            "duration: 14 d sterility incubation (USP<71>, reference §3 and §5); late window "
            "3 d GK",
        ),
        checkpoints=[
            _checkpoint(
                "safety_residual_tra160",
                assay="flow_cytometry",
                name="Residual PSC: TRA-1-60+ cells",
                metric="tra160_positive",
                unit="%",
                value_type="percent",
                spec=less_than(1),
                blocking=True,
                source=_src("R5"),
                notes="Kyoto final-product spec: TRA-1-60 <1% by flow (pre-sort). Hard stop.",
            ),
            _checkpoint(
                "safety_residual_oct4",
                assay="flow_cytometry",
                name="Residual PSC: OCT3/4+ / TRA-2-49/6E+ cells",
                metric="oct4_positive",
                unit="%",
                value_type="percent",
                spec=less_than(0.1),
                blocking=False,
                source=_src("R5"),
                notes="Kyoto spec <0.1% [R5]; informational, the lab decides whether to gate.",
            ),
            _checkpoint(
                "safety_residual_lin28_ddpcr",
                assay="ddpcr",
                name="Residual PSC: LIN28 ddPCR",
                metric="lin28_copies",
                unit="copies/uL",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src("R12"),
                notes="Detects 0.001% hiPSC [R12]; record the LoD. No limit in the reference.",
            ),
            _checkpoint(
                "safety_cnv",
                assay="snp_array",
                name="No new CNVs vs parental iPSC bank",
                metric="no_new_variants",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                source=_src("R2", "R5", "I10"),
                notes="SNP array / WGS 'before final product' (reference §3).",
            ),
            _checkpoint(
                "safety_sterility_in_process",
                assay="sterility_culture",
                name="Sterility (S6 in-process sample)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                source=_src("B6", "R2", GK),
                notes=(
                    _STERILITY_METHOD
                    + " In-process sample (GK); the final lot is tested again at release."
                ),
            ),
        ],
    ),
    _stage(
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
        source=_src(
            "B6",
            "Q5",
            "duration: '1-3 days (sterility result needs 14 days)' (reference §2 stage 8) -> "
            "2 d, window 1-3 d",
        ),
        checkpoints=[
            _checkpoint(
                "release_identity",
                assay="identity_check",
                name="Identity: COA vs bag label vs batch record",
                metric="identity_match",
                unit="",
                value_type="boolean",
                spec=expect(True),
                blocking=True,
                recorded_by="person",
                source=_src("B6"),
            ),
            _release_coa("release_dose_cells"),
            _checkpoint(
                "release_dose_ieq",
                assay="ieq_count",
                name="Final lot dose (islet equivalents)",
                metric="total_ieq",
                unit="IEQ",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                source=_src("B10"),
                notes="Lab-defined minimum; Deng 2024 about 1.5x10^6 IEQ [B10].",
            ),
            _release_coa("release_viability"),
            _checkpoint(
                "release_potency_si",
                assay="gsis_elisa",
                name="Potency: GSIS stimulation index",
                metric="stimulation_index",
                unit="SI",
                value_type="number",
                spec=more_than(1),
                blocking=True,
                source=_src("B6"),
                notes="SI >1 post-culture (CIT-07 [B6]); ≥1.5 in another programme [B7].",
            ),
            _checkpoint(
                "release_sterility",
                assay="sterility_culture",
                name="Sterility (final product)",
                metric="growth_detected",
                unit="",
                value_type="boolean",
                spec=expect(False),
                blocking=True,
                pending_allowed=True,
                source=_src("B6", "Q5"),
                notes="May be pending at a recorded conditional release (14-day result).",
            ),
            _release_coa("release_gram_stain"),
            _release_coa("release_endotoxin"),
            _release_coa("release_mycoplasma"),
        ],
    ),
]


PROTOCOLS: list[dict[str, Any]] = [
    {
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
        "stages": _E_ISLET_STAGES,
    },
    {
        "code": "sc-beta-stepwise",
        "name": "Stepwise SC-β differentiation from an iPSC bank (7 stages)",
        "description": (
            "Thaw a released iPSC bank vial and differentiate it through the planar stepwise "
            "protocol of Hogrebe et al. (Nat Protoc 2021: S1 definitive endoderm 4 d, S2 gut "
            "tube 2 d, S3 posterior foregut 2 d, S4 pancreatic progenitor 4 d, S5 endocrine "
            "progenitor 7 d, S6 SC-β 14 d), with an optional S7 maturation of up to 6 weeks "
            "(Balboa et al., Nat Biotechnol 2022). Residual-PSC, CNV and in-process sterility "
            "testing on the S6 product runs in parallel with S7; lot release waits for both. "
            "Stage gates are conventions (CONV) for the lab to confirm; release criteria follow "
            "the CIT-07 islet COA and the Kyoto iPSC-derived product specification."
        ),
        "stages": _SC_BETA_STAGES,
    },
]
