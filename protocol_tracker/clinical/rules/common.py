"""What every rule set takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

# 1 ng/mL C-peptide = 331 pmol/L (docs/domain-reference.md §2, as in specs.units).
C_PEPTIDE_PMOL_PER_NG = 331.0


@dataclass(frozen=True)
class Measures:
    """One visit's values in canonical units (None: not measured).

    hba1c: % NGSP; c_peptide_*: pmol/L; insulin: U/kg/day; she_per_year: severe hypoglycaemia
    events per year over the visit's assessment period; she_events: the count in that period;
    tir, tbr54: % of CGM readings; egfr: mL/min/1.73 m2; oral_agents: number of non-insulin
    glucose-lowering drugs taken.
    """

    day: int | None = None
    hba1c: float | None = None
    c_peptide_fasting: float | None = None
    c_peptide_stimulated: float | None = None
    insulin: float | None = None
    she_events: int | None = None
    she_per_year: float | None = None
    tir: float | None = None
    tbr54: float | None = None
    egfr: float | None = None
    oral_agents: int | None = None

    @property
    def c_peptide_best(self) -> float | None:
        """The higher of fasting and stimulated C-peptide (either may show function)."""
        values = [v for v in (self.c_peptide_fasting, self.c_peptide_stimulated) if v is not None]
        return max(values) if values else None


@dataclass(frozen=True)
class Criterion:
    name: str
    met: bool
    detail: str


@dataclass
class Assessment:
    rule_set: str
    citation: str
    outcome: str | None  # None: not classifiable (see missing)
    criteria: list[Criterion] = field(default_factory=list)
    inputs: dict[str, float | int | None] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rule_set": self.rule_set,
            "citation": self.citation,
            "outcome": self.outcome,
            "criteria": [{"name": c.name, "met": c.met, "detail": c.detail} for c in self.criteria],
            "inputs": dict(self.inputs),
            "missing": list(self.missing),
            "warnings": list(self.warnings),
        }


def renal_warning(egfr: float | None, threshold: float | None) -> str | None:
    """C-peptide is cleared by the kidney: below the lab's eGFR threshold it may read high."""
    if egfr is None or threshold is None or egfr >= threshold:
        return None
    return (
        f"eGFR {egfr:g} mL/min/1.73 m2 is below the lab's threshold of {threshold:g}: C-peptide "
        "may not be reliable with impaired renal function (Igls, Rickels et al. 2018, Table 3 "
        "footnote g: 'may not be reliable in uremic patients')"
    )
