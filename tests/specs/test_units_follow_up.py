"""The follow-up units (issue 13): exact factors, both unit systems, analyte-specific pairs."""

from fractions import Fraction

import pytest

from protocol_tracker.specs.units import UnitError, convert, convert_exact, normalize_unit


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "analyte", "expected"),
    [
        # Knopp et al. 2019: 1 uIU/mL = 6.00 pmol/L.
        (10, "µIU/mL", "pmol/L", "insulin", Fraction(60)),
        (60, "pmol/L", "mU/L", "insulin", Fraction(10)),
        # 1 mg/dL creatinine = 88.4 umol/L (KDIGO 2012).
        (1, "mg/dL", "µmol/L", "creatinine", Fraction("88.4")),
        (88.4, "umol/L", "mg/dL", "creatinine", Fraction(1)),
        # Tacrolimus 804.02 g/mol.
        (8.0402, "ng/mL", "nmol/L", "tacrolimus", Fraction(10)),
        (5, "ng/mL", "ug/L", None, Fraction(5)),
        # eGFR: 1 mL/s = 60 mL/min.
        (1, "mL/s/1.73 m²", "mL/min/1.73 m2", None, Fraction(60)),
        # The international pound.
        (100, "lb", "kg", None, Fraction("45.359237")),
    ],
)
def test_follow_up_conversions_are_exact(value, from_unit, to_unit, analyte, expected):
    assert convert_exact(value, from_unit, to_unit, analyte=analyte) == expected


def test_insulin_activity_needs_the_insulin_analyte():
    with pytest.raises(UnitError, match="only defined for insulin"):
        convert(10, "uIU/mL", "pmol/L", analyte="c_peptide")
    with pytest.raises(UnitError, match="without an analyte"):
        convert(10, "uIU/mL", "pmol/L")


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("mU/L", "uIU/mL"),
        ("mL/min/1.73m2", "mL/min/1.73 m2"),
        ("kilograms", "kg"),
        ("mcg/L", "ug/L"),
    ],
)
def test_follow_up_spellings(spelling, canonical):
    assert normalize_unit(spelling) == canonical
