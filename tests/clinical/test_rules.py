"""The Igls rule sets and the VX-880 composite on the published tables' cases and boundaries.

Igls (Rickels et al. 2018, Table 3): Optimal HbA1c ≤ 6.5 %, no severe hypoglycaemia, no insulin,
C-peptide > baseline; Good HbA1c < 7.0 %, none, insulin < 50 % of baseline (and < 0.5 U/kg/d),
C-peptide > baseline; Marginal: C-peptide > baseline with fewer events than at baseline;
Failure: C-peptide at baseline. C-peptide > baseline also needs > 0.5 ng/mL (165.5 pmol/L).
"""

from __future__ import annotations

import pytest

from protocol_tracker.clinical.rules.cgm_targets import judge_targets
from protocol_tracker.clinical.rules.common import Measures
from protocol_tracker.clinical.rules.igls import igls_2_0, igls_2018
from protocol_tracker.clinical.rules.vx880 import vx880_composite

BASELINE = Measures(
    hba1c=8.5,
    she_per_year=3,
    insulin=0.6,
    c_peptide_fasting=50,
    c_peptide_stimulated=90,
    tir=45,
    tbr54=3,
)


def visit(**kw) -> Measures:
    values = {
        "hba1c": 6.2,
        "she_per_year": 0.0,
        "insulin": 0.0,
        "c_peptide_fasting": 500.0,
        "c_peptide_stimulated": 1200.0,
        "tir": 92.0,
        "tbr54": 0.0,
        "oral_agents": 0,
    }
    values.update(kw)
    return Measures(**values)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "optimal"),
        ({"hba1c": 6.5}, "optimal"),  # ≤ 6.5 (48 mmol/mol)
        ({"hba1c": 6.6}, "good"),  # no longer ≤ 6.5, still < 7.0
        ({"insulin": 0.01}, "good"),  # any insulin is not "none"
        ({"insulin": 0.29}, "good"),  # < 50 % of 0.6
        ({"insulin": 0.30}, "marginal"),  # = 50 % of baseline: ≥ 50 %
        ({"hba1c": 6.99, "insulin": 0.1}, "good"),
        ({"hba1c": 7.0}, "marginal"),  # not < 7.0 (53 mmol/mol)
        ({"she_per_year": 1.0}, "marginal"),  # events, but fewer than the 3 at baseline
        ({"she_per_year": 3.0}, "failure"),  # no benefit over baseline
        ({"c_peptide_fasting": 50.0, "c_peptide_stimulated": 90.0}, "failure"),  # = baseline
        ({"c_peptide_fasting": 120.0, "c_peptide_stimulated": 165.5}, "failure"),  # ≤ 0.5 ng/mL
        ({"c_peptide_fasting": 120.0, "c_peptide_stimulated": 166.0}, "optimal"),  # > 0.5 ng/mL
    ],
)
def test_igls_2018_classes_and_boundaries(changes, expected):
    result = igls_2018(visit(**changes), BASELINE)

    assert result.outcome == expected
    assert result.missing == []
    assert result.inputs["baseline_insulin_u_per_kg_day"] == 0.6


def test_igls_2018_good_needs_insulin_below_half_a_unit_per_kg():
    # Footnote c: < 50 % of a high baseline (1.2) is not enough when it is ≥ 0.5 U/kg/day.
    baseline = Measures(hba1c=8.5, she_per_year=3, insulin=1.2, c_peptide_fasting=50)

    assert igls_2018(visit(insulin=0.5), baseline).outcome == "marginal"
    assert igls_2018(visit(insulin=0.49), baseline).outcome == "good"


def test_igls_2018_without_baseline_events_benefit_is_hba1c_below_baseline():
    # Footnote f: no severe hypoglycaemia before transplant (type 2 diabetes, as in [S2]).
    baseline = Measures(hba1c=8.5, she_per_year=0, insulin=0.6, c_peptide_fasting=50)

    assert igls_2018(visit(hba1c=8.0, insulin=0.4), baseline).outcome == "marginal"
    assert igls_2018(visit(hba1c=8.5, insulin=0.4), baseline).outcome == "failure"


def test_igls_2018_names_what_is_missing_and_shows_its_inputs():
    result = igls_2018(Measures(hba1c=6.0), BASELINE)

    assert result.outcome is None
    assert result.missing == ["severe hypoglycaemia", "insulin dose", "C-peptide"]
    assert result.inputs["hba1c_percent"] == 6.0
    assert "Rickels" in result.citation


def test_renal_warning_below_the_lab_threshold():
    low = igls_2018(visit(egfr=45.0), BASELINE, egfr_threshold=60)
    ok = igls_2018(visit(egfr=60.0), BASELINE, egfr_threshold=60)

    assert len(low.warnings) == 1 and "eGFR 45" in low.warnings[0]
    assert "threshold of 60" in low.warnings[0]
    assert ok.warnings == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "optimal"),
        ({"tir": 79.9}, "good"),  # TIR ≥ 80 for optimal
        ({"tbr54": 0.5}, "good"),  # TBR<54 = 0 for optimal, < 1 for good
        ({"tbr54": 1.0, "tir": 75.0}, "marginal"),  # < 1 fails good; better than baseline
        ({"tir": 69.9}, "marginal"),
        ({"tir": 45.0}, "failure"),  # TIR not above baseline
        ({"oral_agents": 1}, "good"),  # graft function: therapy in use, C-peptide good
        ({"oral_agents": 1, "c_peptide_stimulated": 165.5, "c_peptide_fasting": 60.0}, "marginal"),
        ({"oral_agents": 1, "c_peptide_stimulated": 99.0, "c_peptide_fasting": 33.0}, "failure"),
    ],
)
def test_igls_2_0_classes_and_boundaries(changes, expected):
    assert igls_2_0(visit(**changes), BASELINE).outcome == expected


@pytest.mark.parametrize(
    ("day", "hba1c", "she", "expected"),
    [
        (60, 6.0, 0, "not_yet"),
        (180, 6.9, 0, "met_so_far"),
        (365, 6.9, 0, "met"),
        (365, 7.0, 0, "met"),  # not < 7 %, but 1.5 points below the 8.5 % baseline
        (365, 7.6, 0, "not_met"),  # 0.9-point drop only
        (365, 6.0, 1, "not_met"),
    ],
)
def test_vx880_composite(day, hba1c, she, expected):
    result = vx880_composite(
        day=day,
        hba1c=hba1c,
        baseline_hba1c=8.5,
        she_events_since_day_90=she,
        insulin_free_since_day_180=True,
    )

    assert result.outcome == expected


def test_cgm_targets_both_sets():
    metrics = {"tir": 60.0, "tbr70": 0.5, "tbr54": 0.2, "tar180": 30.0, "tar250": 6.0, "cv": 30}

    standard = {t["metric"]: t["met"] for t in judge_targets(metrics, "standard")}
    older = {t["metric"]: t["met"] for t in judge_targets(metrics, "older_high_risk")}

    assert standard == {
        "tir": False,
        "tbr70": True,
        "tbr54": True,
        "tar180": False,
        "tar250": False,
        "cv": True,
    }
    assert older == {"tir": True, "tbr70": True, "tar250": True, "cv": True}
