"""The Igls criteria for the outcome of β-cell replacement, computed for one visit.

Two rule sets, both against the pre-transplant (baseline) assessment:

- ``igls_2018``: Rickels MR, Stock PG, de Koning EJP, et al. "Defining outcomes for β-cell
  replacement therapy in the treatment of diabetes: a consensus report on the Igls criteria from
  the IPITA/EPITA opinion leaders workshop." Transplantation 2018;102:1479-1486, joint
  publication Am J Transplant 2018;18:1301-1309 and Transpl Int 2018;31:343-352, Table 3.
- ``igls_2_0``: the "Igls criteria 2.0" proposed by Landstra CP, Andres A, Chetboun M, et al.
  "Examination of the Igls criteria for defining functional outcomes of β-cell replacement
  therapy: IPITA symposium report." J Clin Endocrinol Metab 2021;106:3049-3059, Table 2: adds
  CGM time in range and time below 54 mg/dL, and absolute C-peptide bands.

Where the table leaves a judgement open it is written down here (``detail`` of each criterion
says which rule was applied):

- "> baseline" C-peptide (2018) also needs > 0.5 ng/mL fasting or stimulated (footnote b); the
  higher of the two is used.
- Good (2018) needs insulin < 50 % of baseline and < 0.5 U/kg/day (footnote c).
- Marginal (2018) needs C-peptide > baseline and a benefit: fewer severe hypoglycaemia events
  per year than at baseline, or, where there were none at baseline, an HbA1c below baseline
  (footnote f: the measures used as the indication). Without a benefit the graft is a failure.
- 2.0: "Categorization of β-cell graft function must first meet treatment outcome" (footnote
  e): the class is the worse of the treatment outcome and the graft function.
"""

from __future__ import annotations

from protocol_tracker.clinical.rules.common import (
    C_PEPTIDE_PMOL_PER_NG,
    Assessment,
    Criterion,
    Measures,
    renal_warning,
)

OPTIMAL, GOOD, MARGINAL, FAILURE = "optimal", "good", "marginal", "failure"
CLASSES = (OPTIMAL, GOOD, MARGINAL, FAILURE)
RANK = {c: i for i, c in enumerate(CLASSES)}

CITATION_2018 = (
    "Rickels MR et al., Transplantation 2018;102:1479-1486 / Am J Transplant 2018;18:1301-1309 "
    "(Igls criteria), Table 3"
)
CITATION_2_0 = (
    "Landstra CP et al., J Clin Endocrinol Metab 2021;106:3049-3059 (proposed Igls criteria "
    "2.0), Table 2"
)

_HALF_NG = 0.5 * C_PEPTIDE_PMOL_PER_NG  # 0.5 ng/mL = 165.5 pmol/L


def _ng(pmol: float | None) -> str:
    return "-" if pmol is None else f"{pmol:g} pmol/L ({pmol / C_PEPTIDE_PMOL_PER_NG:.2f} ng/mL)"


def _missing(names: dict[str, object]) -> list[str]:
    return [name for name, value in names.items() if value is None]


def igls_2018(
    visit: Measures, baseline: Measures, *, egfr_threshold: float | None = None
) -> Assessment:
    """The Igls class (optimal, good, marginal, failure) of ``visit`` against ``baseline``."""
    result = Assessment(rule_set="igls_2018", citation=CITATION_2018, outcome=None)
    cpep, cpep0 = visit.c_peptide_best, baseline.c_peptide_best
    result.inputs = {
        "hba1c_percent": visit.hba1c,
        "baseline_hba1c_percent": baseline.hba1c,
        "severe_hypoglycaemia_per_year": visit.she_per_year,
        "baseline_severe_hypoglycaemia_per_year": baseline.she_per_year,
        "insulin_u_per_kg_day": visit.insulin,
        "baseline_insulin_u_per_kg_day": baseline.insulin,
        "c_peptide_pmol_per_l": cpep,
        "baseline_c_peptide_pmol_per_l": cpep0,
    }
    warning = renal_warning(visit.egfr, egfr_threshold)
    if warning:
        result.warnings.append(warning)
    result.missing = _missing(
        {
            "HbA1c": visit.hba1c,
            "severe hypoglycaemia": visit.she_per_year,
            "insulin dose": visit.insulin,
            "C-peptide": cpep,
            "baseline HbA1c": baseline.hba1c,
            "baseline severe hypoglycaemia": baseline.she_per_year,
            "baseline insulin dose": baseline.insulin,
            "baseline C-peptide": cpep0,
        }
    )
    if result.missing:
        return result
    assert cpep is not None and cpep0 is not None
    assert visit.hba1c is not None and baseline.hba1c is not None
    assert visit.insulin is not None and baseline.insulin is not None
    assert visit.she_per_year is not None and baseline.she_per_year is not None

    cpep_up = cpep > cpep0 and cpep > _HALF_NG
    she_none = visit.she_per_year == 0
    half_insulin = visit.insulin < 0.5 * baseline.insulin and visit.insulin < 0.5
    benefit_she = visit.she_per_year < baseline.she_per_year
    benefit_hba1c = baseline.she_per_year == 0 and visit.hba1c < baseline.hba1c
    c = result.criteria
    c.append(
        Criterion(
            "c_peptide",
            cpep_up,
            f"{_ng(cpep)} vs baseline {_ng(cpep0)}; > baseline and > 0.5 ng/mL (footnote b)",
        )
    )
    c.append(Criterion("hba1c_optimal", visit.hba1c <= 6.5, f"{visit.hba1c:g}% ≤ 6.5% (48)"))
    c.append(Criterion("hba1c_good", visit.hba1c < 7.0, f"{visit.hba1c:g}% < 7.0% (53)"))
    c.append(Criterion("no_severe_hypoglycaemia", she_none, f"{visit.she_per_year:g} per year"))
    c.append(Criterion("no_insulin", visit.insulin == 0, f"{visit.insulin:g} U/kg/day"))
    c.append(
        Criterion(
            "insulin_below_half_baseline",
            half_insulin,
            f"{visit.insulin:g} < 50% of {baseline.insulin:g} and < 0.5 U/kg/day (footnote c)",
        )
    )
    c.append(
        Criterion(
            "benefit_over_baseline",
            benefit_she or benefit_hba1c,
            (
                f"severe hypoglycaemia {visit.she_per_year:g} < baseline "
                f"{baseline.she_per_year:g} per year"
                if baseline.she_per_year > 0
                else f"no events at baseline: HbA1c {visit.hba1c:g}% < baseline "
                f"{baseline.hba1c:g}% (footnote f)"
            ),
        )
    )
    if not cpep_up:
        result.outcome = FAILURE
    elif visit.hba1c <= 6.5 and she_none and visit.insulin == 0:
        result.outcome = OPTIMAL
    elif visit.hba1c < 7.0 and she_none and half_insulin:
        result.outcome = GOOD
    elif benefit_she or benefit_hba1c:
        result.outcome = MARGINAL
    else:
        result.outcome = FAILURE
    return result


def _treatment_outcome_2_0(visit: Measures, baseline: Measures, c: list[Criterion]) -> str:
    assert visit.hba1c is not None and visit.tir is not None and visit.tbr54 is not None
    assert visit.she_per_year is not None
    assert baseline.hba1c is not None and baseline.tir is not None
    assert baseline.tbr54 is not None and baseline.she_per_year is not None
    she_none = visit.she_per_year == 0
    optimal = visit.hba1c <= 6.5 and visit.tir >= 80 and she_none and visit.tbr54 == 0
    good = visit.hba1c < 7.0 and visit.tir >= 70 and she_none and visit.tbr54 < 1
    she_better = visit.she_per_year < baseline.she_per_year or (
        she_none and baseline.she_per_year == 0
    )
    tbr_better = visit.tbr54 < baseline.tbr54 or visit.tbr54 == baseline.tbr54 == 0
    marginal = (
        visit.hba1c <= baseline.hba1c and visit.tir > baseline.tir and she_better and tbr_better
    )
    c.append(
        Criterion(
            "treatment_optimal",
            optimal,
            f"HbA1c {visit.hba1c:g}% ≤ 6.5, TIR {visit.tir:g}% ≥ 80, no severe "
            f"hypoglycaemia, TBR<54 {visit.tbr54:g}% = 0",
        )
    )
    c.append(
        Criterion(
            "treatment_good",
            good,
            f"HbA1c < 7.0, TIR ≥ 70, no severe hypoglycaemia, TBR<54 {visit.tbr54:g}% < 1",
        )
    )
    c.append(
        Criterion(
            "treatment_marginal",
            marginal,
            f"HbA1c ≤ baseline {baseline.hba1c:g}%, TIR > baseline {baseline.tir:g}%, severe "
            f"hypoglycaemia and TBR<54 below baseline (or none at either)",
        )
    )
    return OPTIMAL if optimal else GOOD if good else MARGINAL if marginal else FAILURE


def _graft_function_2_0(visit: Measures, c: list[Criterion]) -> str:
    fasting, stimulated = visit.c_peptide_fasting, visit.c_peptide_stimulated
    ng = C_PEPTIDE_PMOL_PER_NG
    no_therapy = visit.insulin == 0 and visit.oral_agents == 0
    good = (stimulated is not None and stimulated > 0.5 * ng) or (
        fasting is not None and fasting >= 0.2 * ng
    )
    marginal = (stimulated is not None and stimulated >= 0.3 * ng) or (
        fasting is not None and fasting >= 0.1 * ng
    )
    c.append(
        Criterion(
            "graft_no_therapy",
            no_therapy,
            f"insulin {visit.insulin:g} U/kg/day, {visit.oral_agents} non-insulin agents",
        )
    )
    c.append(
        Criterion(
            "graft_c_peptide_good",
            good,
            f"stimulated {_ng(stimulated)} > 0.5 ng/mL or fasting {_ng(fasting)} ≥ 0.2 ng/mL",
        )
    )
    c.append(
        Criterion(
            "graft_c_peptide_marginal",
            marginal,
            "stimulated ≥ 0.3 ng/mL or fasting ≥ 0.1 ng/mL",
        )
    )
    if no_therapy and (good or marginal):
        return OPTIMAL
    return GOOD if good else MARGINAL if marginal else FAILURE


def igls_2_0(
    visit: Measures, baseline: Measures, *, egfr_threshold: float | None = None
) -> Assessment:
    """The proposed Igls 2.0 class: the worse of the treatment outcome (HbA1c, CGM, severe
    hypoglycaemia) and the β-cell graft function (C-peptide, therapy)."""
    result = Assessment(rule_set="igls_2_0", citation=CITATION_2_0, outcome=None)
    result.inputs = {
        "hba1c_percent": visit.hba1c,
        "baseline_hba1c_percent": baseline.hba1c,
        "tir_percent": visit.tir,
        "baseline_tir_percent": baseline.tir,
        "tbr54_percent": visit.tbr54,
        "baseline_tbr54_percent": baseline.tbr54,
        "severe_hypoglycaemia_per_year": visit.she_per_year,
        "baseline_severe_hypoglycaemia_per_year": baseline.she_per_year,
        "insulin_u_per_kg_day": visit.insulin,
        "oral_agents": visit.oral_agents,
        "c_peptide_fasting_pmol_per_l": visit.c_peptide_fasting,
        "c_peptide_stimulated_pmol_per_l": visit.c_peptide_stimulated,
    }
    warning = renal_warning(visit.egfr, egfr_threshold)
    if warning:
        result.warnings.append(warning)
    result.missing = _missing(
        {
            "HbA1c": visit.hba1c,
            "CGM time in range": visit.tir,
            "CGM time below 54 mg/dL": visit.tbr54,
            "severe hypoglycaemia": visit.she_per_year,
            "insulin dose": visit.insulin,
            "oral agents": visit.oral_agents,
            "C-peptide": visit.c_peptide_best,
            "baseline HbA1c": baseline.hba1c,
            "baseline CGM time in range": baseline.tir,
            "baseline CGM time below 54 mg/dL": baseline.tbr54,
            "baseline severe hypoglycaemia": baseline.she_per_year,
        }
    )
    if result.missing:
        return result
    treatment = _treatment_outcome_2_0(visit, baseline, result.criteria)
    graft = _graft_function_2_0(visit, result.criteria)
    result.inputs["treatment_outcome"] = RANK[treatment]
    result.inputs["graft_function"] = RANK[graft]
    result.outcome = CLASSES[max(RANK[treatment], RANK[graft])]
    return result
