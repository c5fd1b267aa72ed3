"""The reference's source tags and the two tags for what no source gives (``GK``, ``CONV``).

A ``source`` field cites the tags exactly as ``docs/domain-reference.md`` gives them;
:func:`src` expands a known tag to its short title.
"""

from __future__ import annotations

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
    # Added with the clinical-outcomes work (reference §7, "Clinical outcomes and standards").
    "C1": "[C1] Battelino T et al., Diabetes Care 2019 (international consensus on time in range)",
    "C2": "[C2] ISCBI seed-stock guidance (20 G-banded metaphases; markers > 70 %)",
    "C3": "[C3] ISCN 2020 (clone: ≥ 2 cells same gain or structural change, ≥ 3 same loss)",
    "C4": "[C4] USP <63> mycoplasma tests (28-day culture)",
}


def src(*parts: str) -> str:
    """Join source citations: a known tag ("R3") expands to its title, anything else is kept."""
    return "; ".join(SOURCES.get(part, part) for part in parts)
