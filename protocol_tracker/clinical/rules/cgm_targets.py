"""Consensus CGM targets: Battelino T, Danne T, Bergenstal RM, et al. "Clinical targets for
continuous glucose monitoring data interpretation: recommendations from the international
consensus on time in range." Diabetes Care 2019;42:1593-1603 (Table and Figure 2).

Two target sets: for most adults with type 1 or type 2 diabetes, and for older or high-risk
people (fewer hypoglycaemia targets, looser time in range). The recipient's record says which
set applies (a clinical decision, recorded with a reason).
"""

from __future__ import annotations

from dataclasses import dataclass

CITATION = "Battelino T et al., Diabetes Care 2019;42:1593-1603 (international consensus on TIR)"
STANDARD, OLDER_HIGH_RISK = "standard", "older_high_risk"
# Less than 70 % of the expected readings: too little data to interpret (the consensus asks
# for 14 days with at least 70 % of the possible readings).
MIN_WEAR_PERCENT = 70.0
MIN_DAYS = 14


@dataclass(frozen=True)
class Target:
    metric: str
    label: str
    op: str  # ">" or "<" or "<="
    limit: float

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.op == ">":
            return value > self.limit
        if self.op == "<":
            return value < self.limit
        return value <= self.limit


TARGETS: dict[str, tuple[Target, ...]] = {
    STANDARD: (
        Target("tir", "TIR 70-180 mg/dL", ">", 70),
        Target("tbr70", "TBR < 70 mg/dL", "<", 4),
        Target("tbr54", "TBR < 54 mg/dL", "<", 1),
        Target("tar180", "TAR > 180 mg/dL", "<", 25),
        Target("tar250", "TAR > 250 mg/dL", "<", 5),
        Target("cv", "CV", "<=", 36),
    ),
    OLDER_HIGH_RISK: (
        Target("tir", "TIR 70-180 mg/dL", ">", 50),
        Target("tbr70", "TBR < 70 mg/dL", "<", 1),
        Target("tar250", "TAR > 250 mg/dL", "<", 10),
        Target("cv", "CV", "<=", 36),
    ),
}


def judge_targets(metrics: dict[str, float | None], target_set: str) -> list[dict]:
    """Each target of ``target_set`` with the value and whether it is met (None: no value)."""
    return [
        {
            "metric": t.metric,
            "label": t.label,
            "target": f"{t.op} {t.limit:g}%",
            "value": metrics.get(t.metric),
            "met": t.met(metrics.get(t.metric)),
        }
        for t in TARGETS[target_set]
    ]
