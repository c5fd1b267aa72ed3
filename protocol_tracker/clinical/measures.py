"""What a visit may record: each measure with its canonical unit, the units accepted for it (both
unit systems, through :mod:`protocol_tracker.specs.units`) and its physical bounds."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Measure(models.TextChoices):
    HBA1C = "hba1c", _("HbA1c")
    C_PEPTIDE_FASTING = "c_peptide_fasting", _("Fasting C-peptide")
    C_PEPTIDE_STIMULATED = "c_peptide_stimulated", _("Stimulated (MMTT) C-peptide")
    INSULIN_DOSE = "insulin_dose", _("Daily insulin dose")
    ORAL_AGENTS = "oral_agents", _("Oral glucose-lowering agents (number)")
    SEVERE_HYPO = "severe_hypo_events", _("Severe hypoglycaemia events")
    FASTING_GLUCOSE = "fasting_glucose", _("Fasting glucose")
    FASTING_INSULIN = "fasting_insulin", _("Fasting insulin")
    EGFR = "egfr", _("eGFR")
    CREATININE = "creatinine", _("Creatinine")
    TACROLIMUS = "tacrolimus_trough", _("Tacrolimus trough")
    BODY_WEIGHT = "body_weight", _("Body weight")
    TIR = "tir", _("CGM time in range 70-180 mg/dL")
    TBR70 = "tbr70", _("CGM time below 70 mg/dL")
    TBR54 = "tbr54", _("CGM time below 54 mg/dL")
    TAR180 = "tar180", _("CGM time above 180 mg/dL")
    TAR250 = "tar250", _("CGM time above 250 mg/dL")
    MEAN_GLUCOSE = "mean_glucose", _("CGM mean glucose")
    GMI = "gmi", _("Glucose management indicator")
    CV = "cv", _("CGM coefficient of variation")
    WEAR = "wear", _("CGM wear time")


@dataclass(frozen=True)
class MeasureSpec:
    unit: str  # canonical (stored) unit
    units: tuple[str, ...]  # accepted input units (any spelling specs.units knows)
    analyte: str | None
    low: float
    high: float
    whole: bool = False


_PCT = MeasureSpec("%", ("%",), None, 0, 100)
MEASURES: dict[str, MeasureSpec] = {
    Measure.HBA1C: MeasureSpec("%", ("%", "% NGSP", "mmol/mol"), "hba1c", 3, 20),
    Measure.C_PEPTIDE_FASTING: MeasureSpec(
        "pmol/L", ("pmol/L", "nmol/L", "ng/mL"), "c_peptide", 0, 20_000
    ),
    Measure.C_PEPTIDE_STIMULATED: MeasureSpec(
        "pmol/L", ("pmol/L", "nmol/L", "ng/mL"), "c_peptide", 0, 20_000
    ),
    Measure.INSULIN_DOSE: MeasureSpec("U/kg/day", ("U/kg/day",), None, 0, 5),
    Measure.ORAL_AGENTS: MeasureSpec("count", ("count",), None, 0, 10, whole=True),
    Measure.SEVERE_HYPO: MeasureSpec("count", ("count",), None, 0, 1000, whole=True),
    Measure.FASTING_GLUCOSE: MeasureSpec("mg/dL", ("mg/dL", "mmol/L"), "glucose", 10, 1000),
    Measure.FASTING_INSULIN: MeasureSpec("pmol/L", ("pmol/L", "uIU/mL"), "insulin", 0, 10_000),
    Measure.EGFR: MeasureSpec("mL/min/1.73 m2", ("mL/min/1.73 m2", "mL/s/1.73 m2"), None, 0, 200),
    Measure.CREATININE: MeasureSpec("umol/L", ("umol/L", "mg/dL"), "creatinine", 5, 2_000),
    Measure.TACROLIMUS: MeasureSpec("ng/mL", ("ng/mL", "ug/L", "nmol/L"), "tacrolimus", 0, 100),
    Measure.BODY_WEIGHT: MeasureSpec("kg", ("kg", "lb"), None, 20, 300),
    Measure.TIR: _PCT,
    Measure.TBR70: _PCT,
    Measure.TBR54: _PCT,
    Measure.TAR180: _PCT,
    Measure.TAR250: _PCT,
    Measure.MEAN_GLUCOSE: MeasureSpec("mg/dL", ("mg/dL", "mmol/L"), "glucose", 20, 600),
    Measure.GMI: MeasureSpec("%", ("%",), None, 3, 20),
    Measure.CV: _PCT,
    Measure.WEAR: _PCT,
}
CGM_MEASURES = (
    Measure.TIR,
    Measure.TBR70,
    Measure.TBR54,
    Measure.TAR180,
    Measure.TAR250,
    Measure.MEAN_GLUCOSE,
    Measure.GMI,
    Measure.CV,
    Measure.WEAR,
)
# The other unit system each measure is shown in (SI ↔ conventional).
ALTERNATE_UNIT: dict[str, str] = {
    Measure.HBA1C: "mmol/mol",
    Measure.C_PEPTIDE_FASTING: "ng/mL",
    Measure.C_PEPTIDE_STIMULATED: "ng/mL",
    Measure.FASTING_GLUCOSE: "mmol/L",
    Measure.FASTING_INSULIN: "uIU/mL",
    Measure.EGFR: "mL/s/1.73 m2",
    Measure.CREATININE: "mg/dL",
    Measure.TACROLIMUS: "nmol/L",
    Measure.BODY_WEIGHT: "lb",
    Measure.MEAN_GLUCOSE: "mmol/L",
}
