"""Tests for protocol_tracker.specs.units (pure Python, no database)."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol_tracker.specs.units import (
    KNOWN_UNITS,
    UNITS,
    UnitError,
    can_convert,
    convert,
    convert_exact,
    dimension_of,
    is_known_unit,
    normalize_analyte,
    normalize_unit,
    to_fraction,
)

# Units the brief and the domain reference require, in canonical spelling.
REQUIRED_UNITS = [
    "cells/mL",
    "10^6 cells/mL",
    "%",
    "% NGSP",
    "EU/mL",
    "EU/kg",
    "pmol/L",
    "nmol/L",
    "ng/mL",
    "mmol/mol",
    "mg/dL",
    "mmol/L",
    "IEQ",
    "IEQ/kg",
    "IEQ/mL",
    "cells",
    "10^6 cells",
    "10^9 cells",
    "mL",
    "h",
    "min",
    "d",
    "passages",
    "metaphases",
    "copies/uL",
    "ng/ug DNA",
    "SI",
    "ratio",
    "count",
    "°C",
    "U/kg/day",
    "",
]


# --- normalize_unit ------------------------------------------------------------------------


@pytest.mark.parametrize("unit", REQUIRED_UNITS)
def test_required_units_are_canonical(unit):
    assert unit in KNOWN_UNITS
    assert normalize_unit(unit) == unit


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("cells/ml", "cells/mL"),
        ("cells/mL", "cells/mL"),
        ("Cells / mL", "cells/mL"),
        ("  cells/mL  ", "cells/mL"),
        ("10^6 cells/mL", "10^6 cells/mL"),
        ("1e6 cells/mL", "10^6 cells/mL"),
        ("1E+06 cells/mL", "10^6 cells/mL"),
        ("1.0e6 cells/mL", "10^6 cells/mL"),
        ("x10^6 cells/mL", "10^6 cells/mL"),
        ("X10^6 cells/mL", "10^6 cells/mL"),
        ("× 10^6 cells/mL", "10^6 cells/mL"),
        ("10**6 cells/mL", "10^6 cells/mL"),
        ("10⁶ cells/mL", "10^6 cells/mL"),
        ("10^6cells/ml", "10^6 cells/mL"),
        ("million cells/mL", "10^6 cells/mL"),
        ("10^6 cells", "10^6 cells"),
        ("1e9 cells", "10^9 cells"),
        ("x10^9 cells", "10^9 cells"),
        ("%", "%"),
        ("percent", "%"),
        ("% NGSP", "% NGSP"),
        ("%NGSP", "% NGSP"),
        ("eu/ml", "EU/mL"),
        ("EU/kg", "EU/kg"),
        ("pmol/l", "pmol/L"),
        ("nmol/L", "nmol/L"),
        ("pM", "pmol/L"),
        ("nM", "nmol/L"),
        ("mM", "mmol/L"),
        ("µM", "umol/L"),
        ("μmol/L", "umol/L"),
        ("ng/ml", "ng/mL"),
        ("mmol/mol", "mmol/mol"),
        ("mg/dl", "mg/dL"),
        ("mmol/l", "mmol/L"),
        ("ieq", "IEQ"),
        ("IEQ/kg", "IEQ/kg"),
        ("10^3 IEQ/kg", "10^3 IEQ/kg"),
        ("IEQ/mL", "IEQ/mL"),
        ("ml", "mL"),
        ("µL", "uL"),
        ("hours", "h"),
        ("min", "min"),
        ("days", "d"),
        ("passage", "passages"),
        ("metaphases", "metaphases"),
        ("copies/µL", "copies/uL"),
        ("copies/ul", "copies/uL"),
        ("ng/µg DNA", "ng/ug DNA"),
        ("SI", "SI"),
        ("ratio", "ratio"),
        ("count", "count"),
        ("°C", "°C"),
        ("degC", "°C"),
        ("℃", "°C"),
        ("U/kg/d", "U/kg/day"),
        ("IU/kg/day", "U/kg/day"),
        ("", ""),
        ("   ", ""),
        ("dimensionless", ""),
    ],
)
def test_normalize_unit_aliases(spelling, canonical):
    assert normalize_unit(spelling) == canonical


@pytest.mark.parametrize(
    "unit",
    [
        "xyz",
        "mm",  # millimetre must not be read as millimolar
        "nm",
        "MM",
        "10e6 cells/mL",  # float syntax for 10^7: refused as ambiguous
        "10^7 cells/mL",  # multiplier not registered
        "10^6 %",
        "10 mL",
        "cells/mL/h",
    ],
)
def test_normalize_unit_unknown(unit):
    with pytest.raises(UnitError) as excinfo:
        normalize_unit(unit)
    assert str(excinfo.value) == f"unknown unit '{unit}'"


def test_unit_error_is_value_error():
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize("unit", [None, 5, b"mL"])
def test_normalize_unit_rejects_non_strings(unit):
    with pytest.raises(UnitError, match="unit must be a string"):
        normalize_unit(unit)


def test_known_units_is_frozenset_of_canonical_names():
    assert isinstance(KNOWN_UNITS, frozenset)
    assert frozenset(UNITS) == KNOWN_UNITS
    for name in KNOWN_UNITS:
        assert normalize_unit(name) == name


def test_is_known_unit():
    assert is_known_unit("cells/mL") is True
    assert is_known_unit("cells/ml") is True
    assert is_known_unit("1e6 cells/mL") is True
    assert is_known_unit("") is True
    assert is_known_unit("xyz") is False
    assert is_known_unit("mm") is False


@pytest.mark.parametrize(
    ("unit", "dimension"),
    [
        ("cells/mL", "cell_concentration"),
        ("10^6 cells/mL", "cell_concentration"),
        ("%", "percent"),
        ("% NGSP", "percent"),
        ("SI", "dimensionless"),
        ("", "dimensionless"),
        ("ng/mL", "mass_concentration"),
        ("pmol/L", "molar_concentration"),
        ("mmol/mol", "molar_ratio"),
        ("EU/mL", "endotoxin_concentration"),
        ("EU/kg", "endotoxin_dose"),
        ("h", "time"),
    ],
)
def test_dimension_of(unit, dimension):
    assert dimension_of(unit) == dimension


def test_normalize_analyte():
    assert normalize_analyte("C-peptide") == "c_peptide"
    assert normalize_analyte("C peptide") == "c_peptide"
    assert normalize_analyte("HbA1c") == "hba1c"
    assert normalize_analyte("Glucose") == "glucose"
    assert normalize_analyte(None) is None


# --- convert: same dimension ---------------------------------------------------------------


def test_cell_concentration_boundary_is_exact():
    assert convert(5, "10^6 cells/mL", "cells/mL") == 5_000_000.0
    assert convert(5_000_000, "cells/mL", "10^6 cells/mL") == 5.0
    assert convert_exact(5_000_000, "cells/mL", "10^6 cells/mL") == 5
    assert convert_exact(4_999_999, "cells/mL", "10^6 cells/mL") == Fraction(4_999_999, 10**6)
    assert convert_exact(4_999_999, "cells/mL", "10^6 cells/mL") < 5


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        (2, "h", "min", 120.0),
        (1, "d", "h", 24.0),
        (90, "min", "h", 1.5),
        (1500, "uL", "mL", 1.5),
        (1, "mg/dL", "ng/mL", 10_000.0),
        (0.8, "10^9 cells", "10^6 cells", 800.0),
        (1.5, "10^6 IEQ", "IEQ", 1_500_000.0),
        (5.0, "10^3 IEQ/kg", "IEQ/kg", 5000.0),
        (1, "nmol/L", "pmol/L", 1000.0),
        (12, "cells/uL", "cells/mL", 12_000.0),
        (7.5, "%", "% NGSP", 7.5),
        (2.5, "SI", "ratio", 2.5),
        (3, "cells/ml", "cells/mL", 3.0),
    ],
)
def test_convert_same_dimension(value, from_unit, to_unit, expected):
    assert convert(value, from_unit, to_unit) == expected


def test_convert_exact_reads_floats_as_typed_decimals():
    assert convert_exact(0.1, "10^6 cells/mL", "cells/mL") == 100_000
    assert convert_exact(0.3, "ng/mL", "pmol/L", analyte="c_peptide") == Fraction("99.3")
    assert convert_exact(Decimal("1.25"), "h", "min") == 75
    assert isinstance(convert_exact(1, "h", "min"), Fraction)


# --- convert: analyte-specific -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "analyte", "expected"),
    [
        (1, "ng/mL", "pmol/L", "c_peptide", 331.0),
        (1, "ng/mL", "nmol/L", "C-peptide", 0.331),
        (331, "pmol/L", "ng/mL", "c_peptide", 1.0),
        (2, "ng/mL", "pmol/L", "cpeptide", 662.0),
        (180, "mg/dL", "mmol/L", "glucose", 10.0),
        (5.5, "mmol/L", "mg/dL", "glucose", 99.0),
        (70, "mg/dL", "mmol/L", "Glucose", 70 / 18),
        (7, "% NGSP", "mmol/mol", "hba1c", 53.00565),
        (7, "%", "mmol/mol", "HbA1c", 53.00565),
        (2.15, "% NGSP", "mmol/mol", "hba1c", 0.0),
        (53.00565, "mmol/mol", "% NGSP", "hba1c", 7.0),
        (0, "mmol/mol", "%", "hba1c", 2.15),
    ],
)
def test_convert_analyte_specific(value, from_unit, to_unit, analyte, expected):
    assert convert(value, from_unit, to_unit, analyte=analyte) == expected


def test_analyte_is_ignored_for_same_dimension():
    assert convert(1, "h", "min", analyte="glucose") == 60.0


@pytest.mark.parametrize(
    ("from_unit", "to_unit"),
    [
        ("cells/mL", "%"),
        ("EU/mL", "EU/kg"),
        ("%", ""),
        ("SI", "%"),
        ("IEQ", "cells"),
        ("count", "cells"),
        ("passages", "metaphases"),
        ("°C", "h"),
    ],
)
def test_convert_incompatible_dimensions(from_unit, to_unit):
    with pytest.raises(UnitError) as excinfo:
        convert(1, from_unit, to_unit)
    assert str(excinfo.value) == f"cannot convert '{from_unit}' to '{to_unit}'"


def test_convert_message_uses_canonical_names():
    with pytest.raises(UnitError) as excinfo:
        convert(1, "cells/ml", "percent")
    assert str(excinfo.value) == "cannot convert 'cells/mL' to '%'"


def test_mass_to_molar_needs_an_analyte():
    with pytest.raises(UnitError) as excinfo:
        convert(1, "ng/mL", "pmol/L")
    assert str(excinfo.value) == (
        "cannot convert 'ng/mL' to 'pmol/L' without an analyte: "
        "mass↔molar conversion depends on the analyte "
        "('c_peptide' or 'creatinine' or 'glucose' or 'tacrolimus')"
    )


def test_hba1c_needs_its_analyte():
    with pytest.raises(UnitError) as excinfo:
        convert(7, "% NGSP", "mmol/mol")
    assert str(excinfo.value) == (
        "cannot convert '% NGSP' to 'mmol/mol' without an analyte: "
        "% ↔ mmol/mol is only defined for HbA1c (analyte 'hba1c')"
    )


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "analyte"),
    [
        ("ng/mL", "pmol/L", "insulin"),
        ("ng/mL", "pmol/L", "hba1c"),
        ("%", "mmol/mol", "glucose"),
        ("cells/mL", "%", "c_peptide"),
    ],
)
def test_convert_wrong_analyte(from_unit, to_unit, analyte):
    with pytest.raises(UnitError, match=f"cannot convert '{from_unit}' to '{to_unit}'"):
        convert(1, from_unit, to_unit, analyte=analyte)


def test_convert_unknown_unit():
    with pytest.raises(UnitError) as excinfo:
        convert(1, "xyz", "mL")
    assert str(excinfo.value) == "unknown unit 'xyz'"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, Decimal("NaN")])
def test_convert_refuses_non_finite(value):
    with pytest.raises(ValueError, match="finite"):
        convert(value, "mL", "uL")


def test_convert_refuses_booleans():
    with pytest.raises(TypeError):
        convert(True, "mL", "uL")


def test_to_fraction():
    assert to_fraction(0.1) == Fraction(1, 10)
    assert to_fraction(3) == 3
    assert to_fraction(Fraction(1, 3)) == Fraction(1, 3)
    with pytest.raises(TypeError):
        to_fraction("1")


def test_can_convert():
    assert can_convert("cells/mL", "10^6 cells/mL") is True
    assert can_convert("cells/mL", "%") is False
    assert can_convert("ng/mL", "pmol/L") is False
    assert can_convert("ng/mL", "pmol/L", analyte="c_peptide") is True


def test_unit_table_factors_are_positive():
    for unit in UNITS.values():
        assert unit.factor > 0
        assert isinstance(unit.factor, Fraction)


# --- properties ----------------------------------------------------------------------------

_UNITS_BY_DIMENSION: dict[str, list[str]] = {}
for _unit in UNITS.values():
    _UNITS_BY_DIMENSION.setdefault(_unit.dimension, []).append(_unit.name)


@st.composite
def same_dimension_pair(draw):
    dimension = draw(st.sampled_from(sorted(_UNITS_BY_DIMENSION)))
    names = _UNITS_BY_DIMENSION[dimension]
    return draw(st.sampled_from(names)), draw(st.sampled_from(names))


finite_values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(pair=same_dimension_pair(), value=finite_values)
def test_convert_round_trips(pair, value):
    from_unit, to_unit = pair
    back = convert(convert(value, from_unit, to_unit), to_unit, from_unit)
    assert math.isclose(back, value, rel_tol=1e-12, abs_tol=1e-300)


@given(pair=same_dimension_pair(), value=finite_values)
def test_convert_exact_round_trips_exactly(pair, value):
    from_unit, to_unit = pair
    there = convert_exact(value, from_unit, to_unit)
    assert convert_exact(there, to_unit, from_unit) == to_fraction(value)


@given(
    route=st.sampled_from(
        [
            ("ng/mL", "pmol/L", "c_peptide"),
            ("nmol/L", "ng/mL", "c_peptide"),
            ("mg/dL", "mmol/L", "glucose"),
            ("% NGSP", "mmol/mol", "hba1c"),
            ("%", "mmol/mol", "hba1c"),
        ]
    ),
    value=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_analyte_conversions_round_trip(route, value):
    from_unit, to_unit, analyte = route
    there = convert(value, from_unit, to_unit, analyte=analyte)
    back = convert(there, to_unit, from_unit, analyte=analyte)
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9)


@given(pair=same_dimension_pair(), a=finite_values, b=finite_values)
def test_convert_preserves_order(pair, a, b):
    from_unit, to_unit = pair
    lo, hi = min(a, b), max(a, b)
    assert convert_exact(lo, from_unit, to_unit) <= convert_exact(hi, from_unit, to_unit)


@given(text=st.text(max_size=20))
def test_normalize_unit_returns_known_or_raises(text):
    try:
        result = normalize_unit(text)
    except UnitError as exc:
        assert str(exc) == f"unknown unit '{text}'"
    else:
        assert result in KNOWN_UNITS
        assert normalize_unit(result) == result


@given(
    name=st.sampled_from(sorted(KNOWN_UNITS)),
    left=st.sampled_from(["", " ", "  ", "\t"]),
    right=st.sampled_from(["", " ", "\n"]),
)
def test_normalize_unit_ignores_surrounding_whitespace(name, left, right):
    assert normalize_unit(f"{left}{name}{right}") == name


@given(value=st.sampled_from([math.nan, math.inf, -math.inf]), pair=same_dimension_pair())
def test_convert_never_accepts_non_finite(value, pair):
    with pytest.raises(ValueError):
        convert(value, *pair)
