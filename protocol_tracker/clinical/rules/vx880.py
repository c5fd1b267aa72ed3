"""The composite primary endpoint of the VX-880 (zimislecel) trial, at one visit.

Reichman TW, Markmann JF, Odorico J, et al. "Stem cell-derived, fully differentiated islets for
type 1 diabetes." N Engl J Med 2025 (FORWARD-101), docs/domain-reference.md [B9]: the Part C
primary endpoint is no severe hypoglycaemic event from day 90 through day 365 **and** an HbA1c
< 7 % (or a drop of at least 1 percentage point from baseline, as the reference records it);
insulin independence is assessed from day 180 to day 365 (a secondary endpoint).

Before day 365 the answer is interim (``outcome`` says "met so far"); before day 90 the endpoint
does not apply yet.
"""

from __future__ import annotations

from protocol_tracker.clinical.rules.common import Assessment, Criterion

CITATION = "Reichman TW et al., N Engl J Med 2025 (VX-880/zimislecel, FORWARD-101) [B9]"
MET, MET_SO_FAR, NOT_MET, NOT_YET = "met", "met_so_far", "not_met", "not_yet"


def vx880_composite(
    *,
    day: int | None,
    hba1c: float | None,
    baseline_hba1c: float | None,
    she_events_since_day_90: int | None,
    insulin_free_since_day_180: bool | None,
) -> Assessment:
    """Is the composite endpoint met at ``day`` (days since transplant)?"""
    result = Assessment(rule_set="vx880", citation=CITATION, outcome=None)
    result.inputs = {
        "day": day,
        "hba1c_percent": hba1c,
        "baseline_hba1c_percent": baseline_hba1c,
        "severe_hypoglycaemia_since_day_90": she_events_since_day_90,
        "insulin_free_since_day_180": (
            None if insulin_free_since_day_180 is None else int(insulin_free_since_day_180)
        ),
    }
    if day is None:
        result.missing = ["day since transplant"]
        return result
    if day < 90:
        result.outcome = NOT_YET
        result.criteria.append(Criterion("window", False, f"day {day} < 90: not assessed yet"))
        return result
    result.missing = [
        name
        for name, value in (
            ("HbA1c", hba1c),
            ("baseline HbA1c", baseline_hba1c),
            ("severe hypoglycaemia since day 90", she_events_since_day_90),
        )
        if value is None
    ]
    if result.missing:
        return result
    assert hba1c is not None and baseline_hba1c is not None
    assert she_events_since_day_90 is not None
    no_she = she_events_since_day_90 == 0
    drop = baseline_hba1c - hba1c
    hba1c_ok = hba1c < 7.0 or drop >= 1.0
    result.criteria.append(
        Criterion("no_severe_hypoglycaemia", no_she, f"{she_events_since_day_90} since day 90")
    )
    result.criteria.append(
        Criterion(
            "hba1c",
            hba1c_ok,
            f"{hba1c:g}% < 7% or a drop of {drop:.1f} ≥ 1 point from {baseline_hba1c:g}%",
        )
    )
    if day >= 180 and insulin_free_since_day_180 is not None:
        result.criteria.append(
            Criterion(
                "insulin_independent",
                insulin_free_since_day_180,
                "no exogenous insulin from day 180 (secondary endpoint)",
            )
        )
    met = no_she and hba1c_ok
    result.outcome = (MET if day >= 365 else MET_SO_FAR) if met else NOT_MET
    return result
