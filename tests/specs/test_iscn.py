"""The ISCN parser on real karyotype strings, and the ISCN spec (ISCN 2020 clone rule; ISCBI:
at least 20 G-banded metaphases)."""

import pytest

from protocol_tracker import specs
from protocol_tracker.specs.iscn import ISCNError, parse_iscn

ISCN_SPEC = {"iscn": {"min_metaphases": 20}}


@pytest.mark.parametrize(
    ("text", "metaphases", "normal", "clonal", "non_clonal"),
    [
        ("46,XY[20]", 20, True, [], []),
        ("46,XX[30]", 30, True, [], []),
        # Gains and structural changes: clonal from 2 cells.
        ("47,XY,+12[3]/46,XY[17]", 20, False, ["+12 in 3 cells"], []),
        ("47,XX,+20[1]/46,XX[19]", 20, True, [], ["+20 in 1 cells"]),
        ("47,XX,+20[2]/46,XX[18]", 20, False, ["+20 in 2 cells"], []),
        ("46,XX,t(9;22)(q34;q11.2)[2]/46,XX[18]", 20, False, ["t(9;22)(q34;q11.2) in 2 cells"], []),
        ("46,XY,i(12)(p10)[3]/46,XY[17]", 20, False, ["i(12)(p10) in 3 cells"], []),
        (
            "46,XY,del(20)(q11.2q13.1)[5]/46,XY[15]",
            20,
            False,
            ["del(20)(q11.2q13.1) in 5 cells"],
            [],
        ),
        ("46,XY,dup(1)(q21q32)[1]/46,XY[19]", 20, True, [], ["dup(1)(q21q32) in 1 cells"]),
        ("47,XY,+mar[2]/46,XY[18]", 20, False, ["+mar in 2 cells"], []),
        # Losses: clonal from 3 cells.
        ("45,XY,-18[2]/46,XY[18]", 20, True, [], ["-18 in 2 cells"]),
        ("45,XY,-18[3]/46,XY[17]", 20, False, ["-18 in 3 cells"], []),
        # Sex chromosomes counted against the karyotype's own complement.
        ("45,X[4]/46,XX[16]", 20, False, ["-X in 4 cells"], []),
        ("45,X,-Y[2]/46,XY[18]", 20, True, [], ["-Y in 2 cells"]),
        ("mos 47,XXY[5]/46,XY[15]", 20, False, ["+X in 5 cells"], []),
        # Constitutional (c) and FISH follow-ups.
        ("47,XY,+21c[20]", 20, True, [], []),
        ("46,XY[20].ish 20q11.21(BCL2L1x2)", 20, True, [], []),
        ("46,XY[19]", 19, True, [], []),
    ],
)
def test_real_iscn_strings(text, metaphases, normal, clonal, non_clonal):
    karyotype = parse_iscn(text)

    assert (karyotype.metaphases, karyotype.normal) == (metaphases, normal)
    assert (karyotype.clonal, karyotype.non_clonal) == (clonal, non_clonal)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("46,XY", "no cell count in square brackets"),
        ("46XY[20]", "does not start with a chromosome count"),
        ("46,XZ[20]", "not a sex-chromosome complement"),
        ("46,XY,banana[20]", "not an ISCN aberration"),
        ("normal", "no cell count"),
        ("", "required"),
    ],
)
def test_malformed_iscn_is_refused(text, message):
    with pytest.raises(ISCNError, match=message):
        parse_iscn(text)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("46,XY[20]", "pass"),  # the common report passes: "at least 20", not "> 20"
        ("46,XY[19]", "fail"),
        ("47,XY,+12[3]/46,XY[17]", "fail"),
        ("47,XX,+20[1]/46,XX[19]", "pass"),  # one cell is not a clone
    ],
)
def test_iscn_spec(text, verdict):
    assert (
        specs.evaluate(ISCN_SPEC, value_type="text", value=text, unit=None, spec_unit="") == verdict
    )


def test_iscn_spec_reasons_and_errors():
    assert specs.judge_karyotype("45,XY,-7[4]/46,XY[15]", 20) == (
        "fail",
        ["19 metaphases counted, fewer than 20", "clonal abnormality -7 in 4 cells"],
    )
    with pytest.raises(specs.SpecError, match="not an ISCN karyotype"):
        specs.evaluate(ISCN_SPEC, value_type="text", value="normal", unit=None, spec_unit="")
    assert specs.validate_spec(ISCN_SPEC, value_type="boolean", unit="") == [
        "an ISCN spec needs a text checkpoint"
    ]
    assert specs.validate_spec({"iscn": {"min_metaphases": 0}}, value_type="text", unit="") == [
        "iscn min_metaphases must be a whole number ≥ 1"
    ]
    assert specs.describe_spec(ISCN_SPEC, "") == "ISCN: ≥ 20 metaphases, no clonal abnormality"
