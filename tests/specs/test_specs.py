"""Tests for protocol_tracker.specs.language (pure Python, no database)."""

import math
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from protocol_tracker.specs.language import (
    FAIL,
    NO_SPEC,
    PASS,
    SPEC_KEYS,
    VALUE_TYPES,
    SpecError,
    ValueType,
    describe_spec,
    evaluate,
    parse_value,
    validate_spec,
)
from protocol_tracker.specs.units import UnitError, to_fraction


def test_value_type_strings():
    assert [v.value for v in ValueType] == [
        "number",
        "percent",
        "boolean",
        "choice",
        "text",
        "file",
        "identity",
    ]
    assert sorted(VALUE_TYPES) == [
        "boolean",
        "choice",
        "file",
        "identity",
        "number",
        "percent",
        "text",
    ]
    assert ValueType.NUMBER == "number"
    assert ValueType("percent") is ValueType.PERCENT


def test_outcomes_and_keys():
    assert (PASS, FAIL, NO_SPEC) == ("pass", "fail", "no_spec")
    assert SPEC_KEYS == (
        "min",
        "max",
        "min_inclusive",
        "max_inclusive",
        "allowed",
        "expected",
        "iscn",
    )


def test_spec_error_is_value_error():
    assert issubclass(SpecError, ValueError)


# --- validate_spec -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value_type", "unit"),
    [
        (None, "number", "cells/mL"),
        ({}, "number", ""),
        ({"min": 5}, "number", "10^6 cells/mL"),
        ({"min": 90}, "percent", "%"),
        ({"min": 75, "min_inclusive": False}, "percent", "%"),
        ({"max": 5}, "number", "EU/mL"),
        ({"max": 5.0, "max_inclusive": False}, "number", "EU/kg"),
        ({"min": 70, "max": 100}, "percent", "%"),
        ({"min": 5, "max": 5}, "number", "EU/mL"),
        ({"max": 7}, "percent", "% NGSP"),
        ({"min": 1, "min_inclusive": False}, "number", "SI"),
        ({"min": 20, "min_inclusive": False}, "number", "metaphases"),
        ({"min": 120, "max": 500}, "number", "%"),  # "number" may exceed 100 %
        ({"expected": False}, "boolean", ""),
        ({"expected": True}, "boolean", ""),
        ({"allowed": ["A", "B"]}, "choice", ""),
        ({"expected": "negative"}, "choice", ""),
        ({"expected": "46,XY"}, "text", ""),
        ({}, "file", ""),
        # A form that always saves every key, with the unused ones left empty.
        (
            {
                "min": None,
                "max": None,
                "min_inclusive": True,
                "max_inclusive": True,
                "allowed": None,
                "expected": False,
            },
            "boolean",
            "",
        ),
        (
            {
                "min": 90,
                "max": None,
                "min_inclusive": True,
                "max_inclusive": True,
                "allowed": None,
                "expected": None,
            },
            "percent",
            "%",
        ),
    ],
)
def test_validate_spec_valid(spec, value_type, unit):
    assert validate_spec(spec, value_type=value_type, unit=unit) == []


@pytest.mark.parametrize(
    ("spec", "value_type", "unit", "problems"),
    [
        ({"min": 10, "max": 5}, "number", "", ["min (10) is greater than max (5)"]),
        ({"min": 10.0, "max": 5.5}, "number", "", ["min (10) is greater than max (5.5)"]),
        ({"min": 1}, "number", "foo", ["unknown unit 'foo'"]),
        (
            {"min": 1},
            "colour",
            "",
            [
                "unknown value type 'colour' (one of: number, percent, boolean, choice, text, "
                "file, identity)"
            ],
        ),
        (
            {"min": 1, "expected": True},
            "boolean",
            "",
            ["a boolean checkpoint takes 'expected', not min/max"],
        ),
        (
            {"max": 1},
            "boolean",
            "",
            ["a boolean checkpoint takes 'expected', not min/max"],
        ),
        (
            {"allowed": ["yes"]},
            "boolean",
            "",
            ["a boolean checkpoint takes 'expected', not 'allowed'"],
        ),
        (
            {"expected": "negative"},
            "boolean",
            "",
            ["expected must be true or false for a boolean checkpoint, got 'negative'"],
        ),
        (
            {"min": -1},
            "percent",
            "%",
            ["percent limits must lie within 0-100 (min is -1)"],
        ),
        (
            {"min": 50, "max": 100.5},
            "percent",
            "%",
            ["percent limits must lie within 0-100 (max is 100.5)"],
        ),
        ({"min": math.nan}, "number", "", ["min must be a finite number, got nan"]),
        ({"max": math.inf}, "number", "", ["max must be a finite number, got inf"]),
        ({"max": -math.inf}, "percent", "%", ["max must be a finite number, got -inf"]),
        ({"min": "5"}, "number", "", ["min must be a number, got '5'"]),
        ({"min": True}, "number", "", ["min must be a number, got True"]),
        ({"foo": 1}, "number", "", ["unknown key 'foo'"]),
        ({"Min": 1, "maximum": 2}, "number", "", ["unknown key 'Min'", "unknown key 'maximum'"]),
        (
            {"min": 1, "min_inclusive": "yes"},
            "number",
            "",
            ["min_inclusive must be true or false, got 'yes'"],
        ),
        (
            {"min": 5, "max": 5, "max_inclusive": False},
            "number",
            "",
            ["min (5) equals max (5) with an exclusive bound, so no value can pass"],
        ),
        (
            {"expected": "x"},
            "number",
            "",
            ["a number checkpoint takes min/max, not 'allowed'/'expected'"],
        ),
        (
            {"allowed": ["a"]},
            "percent",
            "%",
            ["a percent checkpoint takes min/max, not 'allowed'/'expected'"],
        ),
        (
            {"min": 1},
            "percent",
            "cells/mL",
            ["a percent checkpoint must use a percent unit such as '%', not 'cells/mL'"],
        ),
        (
            {"min": 1},
            "percent",
            "",
            ["a percent checkpoint must use a percent unit such as '%', not ''"],
        ),
        (
            {"expected": True},
            "boolean",
            "cells/mL",
            ["a boolean checkpoint takes no unit, got 'cells/mL'"],
        ),
        (
            {"min": 1},
            "choice",
            "",
            ["a choice checkpoint takes 'allowed' or 'expected', not min/max"],
        ),
        ({"allowed": []}, "choice", "", ["allowed is empty, so no value can pass"]),
        ({"allowed": "A"}, "choice", "", ["allowed must be a list of strings, got 'A'"]),
        ({"allowed": ["A", 1]}, "choice", "", ["allowed must be a list of strings, got ['A', 1]"]),
        ({"allowed": ["A", " "]}, "choice", "", ["allowed contains an empty answer"]),
        ({"allowed": ["A", "a "]}, "choice", "", ["allowed lists 'a ' twice"]),
        ({"expected": True}, "text", "", ["expected must be a string for a text checkpoint"]),
        ({"expected": ""}, "file", "", ["expected must not be empty"]),
        (
            {"allowed": ["A"], "expected": "A"},
            "choice",
            "",
            ["give either 'allowed' or 'expected', not both"],
        ),
        ([1, 2], "number", "", ["spec must be a JSON object, got list"]),
        (None, "number", 5, ["unit must be a string, got int"]),
    ],
)
def test_validate_spec_problems(spec, value_type, unit, problems):
    assert validate_spec(spec, value_type=value_type, unit=unit) == problems


def test_validate_spec_reports_several_problems():
    problems = validate_spec(
        {"min": 10, "max": 5, "colour": "red"}, value_type="number", unit="bogus"
    )
    assert problems == [
        "unknown unit 'bogus'",
        "unknown key 'colour'",
        "min (10) is greater than max (5)",
    ]


# --- parse_value ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, 12.0),
        (12.5, 12.5),
        ("12.5", 12.5),
        (" 12.5 ", 12.5),
        ("-3", -3.0),
        ("+3", 3.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e6", 1_000_000.0),
        ("2.5E-3", 0.0025),
        (0, 0.0),
    ],
)
def test_parse_number_accepts(raw, expected):
    result = parse_value(raw, value_type="number")
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (math.nan, "nan is not a finite number"),
        (math.inf, "inf is not a finite number"),
        (-math.inf, "-inf is not a finite number"),
        ("nan", "'nan' is not a number"),
        ("NaN", "'NaN' is not a number"),
        ("inf", "'inf' is not a number"),
        ("-Infinity", "'-Infinity' is not a number"),
        ("1e400", "1e400 is not a finite number"),
        ("12abc", "'12abc' is not a number"),
        ("", "'' is not a number"),
        ("1_000", "'1_000' is not a number"),
        ("1,5", "'1,5' is not a number"),
        ("5,000,000", "'5,000,000' is not a number"),
        ("0x10", "'0x10' is not a number"),
        ("１２", "'１２' is not a number"),  # full-width digits
        (True, "True is a boolean, not a number"),
        (False, "False is a boolean, not a number"),
        ([1], "expected a number, got list"),
        (None, "no value given"),
        (10**400, f"{10**400} is too large"),
    ],
)
def test_parse_number_refuses(raw, message):
    with pytest.raises(SpecError) as excinfo:
        parse_value(raw, value_type="number")
    assert str(excinfo.value) == message


@pytest.mark.parametrize(("raw", "expected"), [(0, 0.0), (100, 100.0), ("99.5", 99.5)])
def test_parse_percent_accepts(raw, expected):
    assert parse_value(raw, value_type="percent") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (-0.1, "a percent must be between 0 and 100, got -0.1"),
        ("100.01", "a percent must be between 0 and 100, got 100.01"),
        (150, "a percent must be between 0 and 100, got 150"),
        (math.nan, "nan is not a finite number"),
        ("abc", "'abc' is not a number"),
    ],
)
def test_parse_percent_refuses(raw, message):
    with pytest.raises(SpecError) as excinfo:
        parse_value(raw, value_type="percent")
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("TRUE", True),
        (" false ", False),
        ("yes", True),
        ("No", False),
        ("1", True),
        ("0", False),
    ],
)
def test_parse_boolean_accepts(raw, expected):
    assert parse_value(raw, value_type="boolean") is expected


@pytest.mark.parametrize("raw", ["negative", "Positive", "pass", "fail", "detected"])
def test_parse_boolean_refuses_ambiguous_words(raw):
    with pytest.raises(SpecError) as excinfo:
        parse_value(raw, value_type="boolean")
    assert str(excinfo.value) == (
        f"'{raw}' is ambiguous for a boolean result; send true or false "
        "(the spec's 'expected' says which answer passes)"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("maybe", "'maybe' is not a boolean (use true/false, yes/no or 1/0)"),
        ("", "'' is not a boolean (use true/false, yes/no or 1/0)"),
        (1, "expected true or false, got int"),
        (0.0, "expected true or false, got float"),
        (None, "no value given"),
    ],
)
def test_parse_boolean_refuses(raw, message):
    with pytest.raises(SpecError) as excinfo:
        parse_value(raw, value_type="boolean")
    assert str(excinfo.value) == message


@pytest.mark.parametrize("value_type", ["choice", "text", "file"])
def test_parse_string_types(value_type):
    assert parse_value("  Normal  ", value_type=value_type) == "Normal"
    with pytest.raises(SpecError) as excinfo:
        parse_value("   ", value_type=value_type)
    assert str(excinfo.value) == f"a {value_type} result must not be empty"
    with pytest.raises(SpecError) as excinfo:
        parse_value(3, value_type=value_type)
    assert str(excinfo.value) == f"a {value_type} result must be a string, got int"


def test_parse_value_unknown_type():
    with pytest.raises(SpecError) as excinfo:
        parse_value(1, value_type="integer")
    assert str(excinfo.value) == (
        "unknown value type 'integer' (one of: number, percent, boolean, choice, text, file, "
        "identity)"
    )


# --- evaluate: numbers ---------------------------------------------------------------------


def _number(spec, value, unit, spec_unit, value_type="number", analyte=None):
    return evaluate(
        spec, value_type=value_type, value=value, unit=unit, spec_unit=spec_unit, analyte=analyte
    )


def test_cell_density_boundary():
    spec = {"min": 5}
    assert _number(spec, 5_000_000, "cells/mL", "10^6 cells/mL") == PASS
    assert _number(spec, 4_999_999, "cells/mL", "10^6 cells/mL") == FAIL
    assert _number(spec, "5000000", "cells/ml", "10^6 cells/mL") == PASS
    assert _number(spec, 5.0e6, "cells/mL", "10^6 cells/mL") == PASS
    assert _number(spec, 5, "10^6 cells/mL", "10^6 cells/mL") == PASS
    assert _number(spec, 5, None, "10^6 cells/mL") == PASS
    assert _number(spec, 4.999999, "1e6 cells/mL", "10^6 cells/mL") == FAIL


def test_cells_per_ml_against_percent_is_a_unit_error():
    with pytest.raises(UnitError) as excinfo:
        _number({"min": 5}, 5_000_000, "cells/mL", "%")
    assert str(excinfo.value) == "cannot convert 'cells/mL' to '%'"


def test_cells_per_ml_against_percent_message():
    with pytest.raises(UnitError) as excinfo:
        _number({"min": 90}, 5_000_000, "cells/mL", "%", value_type="percent")
    assert str(excinfo.value) == "cannot convert 'cells/mL' to '%'"


@pytest.mark.parametrize(
    ("spec", "value", "outcome"),
    [
        ({"min": 75, "min_inclusive": False}, 75, FAIL),  # "> 75 %"
        ({"min": 75, "min_inclusive": False}, 75.01, PASS),
        ({"min": 90}, 90, PASS),  # "≥ 90 %"
        ({"min": 90}, 89.99, FAIL),
        ({"min": 70, "max": 100}, 70, PASS),
        ({"min": 70, "max": 100}, 100, PASS),
        ({"min": 70, "max": 100}, 69.9, FAIL),
        ({"max": 1, "max_inclusive": False}, 1, FAIL),  # TRA-1-60 < 1 %
        ({"max": 1, "max_inclusive": False}, 0.99, PASS),
        ({"max": 0.1, "max_inclusive": False}, 0.1, FAIL),
        ({"max": 0.1, "max_inclusive": False}, 0.09, PASS),
    ],
)
def test_percent_bounds(spec, value, outcome):
    assert _number(spec, value, "%", "%", value_type="percent") == outcome


@pytest.mark.parametrize(
    ("value", "outcome"),
    [(5, PASS), (5.0, PASS), ("5.0", PASS), (4.99, PASS), (5.01, FAIL), (0, PASS)],
)
def test_endotoxin_max_inclusive(value, outcome):
    assert _number({"max": 5}, value, "EU/mL", "EU/mL") == outcome


def test_exclusive_max_endotoxin():
    spec = {"max": 5.0, "max_inclusive": False}  # "< 5.0 EU/mL" (LUMC MCB)
    assert _number(spec, 5, "EU/mL", "EU/mL") == FAIL
    assert _number(spec, 4.9, "EU/mL", "EU/mL") == PASS


def test_endotoxin_per_ml_vs_per_kg_is_a_unit_error():
    with pytest.raises(UnitError) as excinfo:
        _number({"max": 5}, 1, "EU/mL", "EU/kg")
    assert str(excinfo.value) == "cannot convert 'EU/mL' to 'EU/kg'"


def test_stimulation_index_and_karyotype():
    assert _number({"min": 1, "min_inclusive": False}, 1, "SI", "SI") == FAIL
    assert _number({"min": 1, "min_inclusive": False}, 1.2, "", "SI") == PASS
    assert _number({"min": 20, "min_inclusive": False}, 20, "metaphases", "metaphases") == FAIL
    assert _number({"min": 20, "min_inclusive": False}, 21, "metaphases", "metaphases") == PASS


def test_decimal_inputs_are_exact_at_limits():
    assert _number({"min": 0.3}, 0.1 + 0.2, None, "") == PASS  # 0.30000000000000004
    assert _number({"max": 99.3}, 0.3, "ng/mL", "pmol/L", analyte="c_peptide") == PASS
    assert _number({"max": 99.3}, 0.30001, "ng/mL", "pmol/L", analyte="c_peptide") == FAIL
    assert _number({"min": 5}, "4.9999999999", "10^6 cells/mL", "10^6 cells/mL") == FAIL


def test_clinical_endpoints_with_analyte():
    # C-peptide spec in pmol/L, result in ng/mL.
    assert _number({"min": 200}, 0.7, "ng/mL", "pmol/L", analyte="c_peptide") == PASS
    assert _number({"min": 200}, 0.6, "ng/mL", "pmol/L", analyte="c_peptide") == FAIL
    # HbA1c < 7 % NGSP, result in mmol/mol: 53 mmol/mol ≈ 6.9995 %.
    hba1c = {"max": 7, "max_inclusive": False}
    assert _number(hba1c, 53, "mmol/mol", "% NGSP", "percent", "hba1c") == PASS
    assert _number(hba1c, 54, "mmol/mol", "% NGSP", "percent", "hba1c") == FAIL
    # Glucose in range 70-180 mg/dL, result in mmol/L.
    tir = {"min": 70, "max": 180}
    assert _number(tir, 3.9, "mmol/L", "mg/dL", analyte="glucose") == PASS
    assert _number(tir, 3.8, "mmol/L", "mg/dL", analyte="glucose") == FAIL
    assert _number(tir, 10, "mmol/L", "mg/dL", analyte="glucose") == PASS


def test_mass_to_molar_without_analyte_is_a_unit_error():
    with pytest.raises(UnitError, match="without an analyte"):
        _number({"min": 200}, 0.7, "ng/mL", "pmol/L")


def test_percent_result_out_of_range_after_conversion():
    with pytest.raises(SpecError) as excinfo:
        _number({"max": 7}, 101, "%", "%", value_type="percent")
    assert str(excinfo.value) == "a percent must be between 0 and 100, got 101"


def test_unknown_spec_unit_is_a_unit_error():
    with pytest.raises(UnitError) as excinfo:
        _number({"min": 1}, 1, None, "furlongs")
    assert str(excinfo.value) == "unknown unit 'furlongs'"


def test_unknown_value_unit_is_a_unit_error():
    with pytest.raises(UnitError) as excinfo:
        _number({"min": 1}, 1, "xyz", "mL")
    assert str(excinfo.value) == "unknown unit 'xyz'"


@pytest.mark.parametrize(
    "spec",
    [None, {}, {"min": None, "max": None}, {"min": None, "min_inclusive": True}],
)
def test_number_without_limits_is_no_spec(spec):
    assert _number(spec, 12, "mL", "mL") == NO_SPEC


def test_no_spec_still_checks_units_and_values():
    with pytest.raises(UnitError):
        _number(None, 12, "cells/mL", "%")
    with pytest.raises(SpecError):
        _number(None, math.nan, None, "mL")
    with pytest.raises(SpecError):
        _number(None, None, None, "mL")


def test_invalid_spec_raises():
    with pytest.raises(SpecError) as excinfo:
        _number({"min": 10, "max": 5}, 7, None, "mL")
    assert str(excinfo.value) == "invalid spec: min (10) is greater than max (5)"


@pytest.mark.parametrize("value", [math.nan, "nan", "NaN", math.inf, "-inf", True, "12abc"])
def test_evaluate_refuses_bad_numbers(value):
    with pytest.raises(SpecError):
        _number({"min": 0}, value, None, "")


# --- evaluate: boolean, choice, text, file -------------------------------------------------


def _other(spec, value_type, value):
    return evaluate(spec, value_type=value_type, value=value, unit=None, spec_unit="")


def test_boolean_mycoplasma_detected_must_be_false():
    spec = {"expected": False}
    assert _other(spec, "boolean", False) == PASS
    assert _other(spec, "boolean", "no") == PASS
    assert _other(spec, "boolean", "0") == PASS
    assert _other(spec, "boolean", True) == FAIL
    assert _other(spec, "boolean", "yes") == FAIL


def test_boolean_expected_true():
    assert _other({"expected": True}, "boolean", "true") == PASS
    assert _other({"expected": True}, "boolean", False) == FAIL


def test_boolean_without_expected_is_no_spec():
    assert _other({}, "boolean", True) == NO_SPEC
    assert _other({"expected": None}, "boolean", False) == NO_SPEC


def test_boolean_refuses_ambiguous_words():
    with pytest.raises(SpecError, match="ambiguous"):
        _other({"expected": False}, "boolean", "negative")


def test_boolean_ignores_value_unit():
    assert (
        evaluate({"expected": True}, value_type="boolean", value=True, unit="", spec_unit="")
        == PASS
    )


def test_choice_allowed():
    spec = {"allowed": ["Normal", "Normal with variant"]}
    assert _other(spec, "choice", "normal") == PASS
    assert _other(spec, "choice", " Normal  with   variant ") == PASS
    assert _other(spec, "choice", "Abnormal") == FAIL


def test_choice_and_text_expected():
    assert _other({"expected": "negative"}, "choice", "Negative") == PASS
    assert _other({"expected": "negative"}, "choice", "positive") == FAIL
    assert _other({"expected": "46,XY[20]"}, "text", "46,XY[20]") == PASS
    assert _other({"expected": "46,XY[20]"}, "text", "47,XY,+12[3]/46,XY[17]") == FAIL


@pytest.mark.parametrize("value_type", ["text", "file", "choice"])
def test_string_types_without_expected_are_no_spec(value_type):
    assert _other(None, value_type, "anything") == NO_SPEC
    assert _other({}, value_type, "anything") == NO_SPEC
    assert _other({"expected": None, "allowed": None}, value_type, "anything") == NO_SPEC


def test_file_with_expected():
    assert _other({"expected": "report.pdf"}, "file", "REPORT.pdf") == PASS


def test_evaluate_unknown_value_type():
    with pytest.raises(SpecError, match="unknown value type 'integer'"):
        _other({}, "integer", 1)


def test_evaluate_bool_spec_with_limits_is_invalid():
    with pytest.raises(SpecError) as excinfo:
        _other({"min": 1}, "boolean", True)
    assert str(excinfo.value) == (
        "invalid spec: a boolean checkpoint takes 'expected', not min/max"
    )


# --- describe_spec -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "unit", "label"),
    [
        ({"min": 90}, "%", "≥ 90 %"),
        ({"min": 75, "min_inclusive": False}, "%", "> 75 %"),
        ({"max": 5}, "EU/mL", "≤ 5 EU/mL"),
        ({"max": 5.0, "max_inclusive": False}, "EU/mL", "< 5 EU/mL"),
        ({"min": 70, "max": 100}, "%", "70–100 %"),
        ({"min": 70, "max": 100, "min_inclusive": False}, "%", "> 70 and ≤ 100 %"),
        ({"min": 5, "max": 5}, "EU/mL", "= 5 EU/mL"),
        ({"min": 5}, "10^6 cells/mL", "≥ 5 × 10^6 cells/mL"),
        ({"min": 5}, "cells/ml", "≥ 5 cells/mL"),
        ({"min": 1.5}, "", "≥ 1.5"),
        ({"min": 1, "min_inclusive": False}, "SI", "> 1 SI"),
        ({"expected": "negative"}, "", "= negative"),
        ({"expected": False}, "", "= false"),
        ({"expected": True}, "", "= true"),
        ({"allowed": ["A", "B"]}, "", "one of: A, B"),
        ({"max": 0.001, "max_inclusive": False}, "%", "< 0.001 %"),
        ({}, "%", "no spec"),
        (None, "", "no spec"),
        ({"min": None, "max": None, "expected": None}, "", "no spec"),
        ({"max": 5}, "bogus", "≤ 5 bogus"),
    ],
)
def test_describe_spec(spec, unit, label):
    assert describe_spec(spec, unit) == label


# --- properties ----------------------------------------------------------------------------

limits = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def number_specs(draw):
    lo = draw(st.none() | limits)
    hi = draw(st.none() | limits)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    spec = {
        "min": lo,
        "max": hi,
        "min_inclusive": draw(st.booleans()),
        "max_inclusive": draw(st.booleans()),
    }
    assume(not validate_spec(spec, value_type="number", unit=""))
    return spec


@given(spec=number_specs(), value=values)
def test_evaluate_never_passes_outside_limits(spec, value):
    outcome = _number(spec, value, None, "")
    if spec["min"] is None and spec["max"] is None:
        assert outcome == NO_SPEC
        return
    exact = to_fraction(value)
    below = spec["min"] is not None and (
        exact < to_fraction(spec["min"])
        or (exact == to_fraction(spec["min"]) and not spec["min_inclusive"])
    )
    above = spec["max"] is not None and (
        exact > to_fraction(spec["max"])
        or (exact == to_fraction(spec["max"]) and not spec["max_inclusive"])
    )
    assert outcome == (FAIL if below or above else PASS)
    if spec["min"] is not None and value < spec["min"]:
        assert outcome == FAIL
    if spec["max"] is not None and value > spec["max"]:
        assert outcome == FAIL


@given(lo=limits, hi=limits)
def test_inclusive_limits_themselves_pass(lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    spec = {"min": lo, "max": hi}
    assert _number(spec, lo, None, "") == PASS
    assert _number(spec, hi, None, "") == PASS


@given(limit=limits)
def test_exclusive_limits_themselves_fail(limit):
    assert _number({"min": limit, "min_inclusive": False}, limit, None, "") == FAIL
    assert _number({"max": limit, "max_inclusive": False}, limit, None, "") == FAIL


@given(
    nan=st.sampled_from(
        [math.nan, -math.nan, "nan", "NaN", "-nan", " nan ", "inf", "Infinity", math.inf]
    ),
    value_type=st.sampled_from(["number", "percent"]),
    spec=st.sampled_from([None, {}, {"min": 0}, {"max": 100}, {"min": 0, "max": 100}]),
)
def test_nan_and_infinity_always_refused(nan, value_type, spec):
    with pytest.raises(SpecError):
        parse_value(nan, value_type=value_type)
    with pytest.raises(SpecError):
        evaluate(spec, value_type=value_type, value=nan, unit=None, spec_unit="%")


@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_round_trips_repr(value):
    assert parse_value(repr(value), value_type="number") == value
    assert parse_value(value, value_type="number") == value


@given(text=st.text(max_size=12))
def test_parse_number_result_is_finite_or_refused(text):
    try:
        result = parse_value(text, value_type="number")
    except SpecError:
        return
    assert isinstance(result, float)
    assert math.isfinite(result)


@given(value=st.floats(min_value=0, max_value=1e9, allow_nan=False), limit=st.integers(0, 1000))
def test_unit_conversion_agrees_with_direct_evaluation(value, limit):
    spec = {"min": limit}
    in_cells = _number(spec, value, "cells/mL", "10^6 cells/mL")
    expected = PASS if to_fraction(value) >= Fraction(limit) * 10**6 else FAIL
    assert in_cells == expected


@given(value=st.floats(min_value=0, max_value=100, allow_nan=False), limit=st.integers(0, 100))
def test_percent_evaluation_is_monotonic(value, limit):
    spec = {"min": limit}
    outcome = _number(spec, value, "%", "%", value_type="percent")
    assert outcome == (PASS if value >= limit else FAIL)
