"""The per-checkpoint judge of the bulk path gives what the general path gives: the same value
in the spec's unit, the same verdict, the same errors."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.qc.services import result_prepare
from protocol_tracker.specs.judge import CheckpointJudge

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
UNITS = ["", "%", "EU/mL", "10^6 cells/mL", "cells/mL", "pmol/L", "ng/mL", "bogus"]
ANSWERS = ["compact", "Flat", " flat ", "negative"]

limits = st.none() | st.integers(-5, 120) | st.floats(-5, 120) | st.sampled_from(["5", 0.1])
specs_ = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "min": limits,
        "max": limits,
        "min_inclusive": st.booleans() | st.just("yes"),
        "max_inclusive": st.booleans(),
        "allowed": st.none() | st.lists(st.sampled_from(ANSWERS), max_size=3),
        "expected": st.none() | st.booleans() | st.sampled_from(ANSWERS),
    },
)
anything = st.builds(
    SimpleNamespace,
    value_type=st.sampled_from(["number", "percent", "boolean", "choice", "text", "file", "x"]),
    unit=st.sampled_from(UNITS),
    spec=specs_,
    analyte=st.sampled_from(["", "c_peptide"]),
)
bounds = st.fixed_dictionaries(
    {},
    optional={
        "min": st.integers(0, 50) | st.sampled_from([0.1, 0.3, 70.5]),
        "max": st.integers(50, 100) | st.sampled_from([99.9, 5.0]),
        "min_inclusive": st.booleans(),
        "max_inclusive": st.booleans(),
    },
)
numeric = st.builds(
    SimpleNamespace,
    value_type=st.sampled_from(["number", "percent"]),
    unit=st.sampled_from(["%", "EU/mL", "10^6 cells/mL"]),
    spec=st.none() | bounds,
    analyte=st.just(""),
)
boolean = st.builds(
    SimpleNamespace,
    value_type=st.just("boolean"),
    unit=st.just(""),
    spec=st.none() | st.fixed_dictionaries({"expected": st.booleans()}),
    analyte=st.just(""),
)
answers = st.builds(
    SimpleNamespace,
    value_type=st.sampled_from(["choice", "text", "file"]),
    unit=st.just(""),
    spec=st.none()
    | st.fixed_dictionaries({"allowed": st.sampled_from([["compact", "flat"], ["negative"]])})
    | st.fixed_dictionaries({"expected": st.sampled_from(ANSWERS)}),
    analyte=st.just(""),
)
valid = numeric | numeric | boolean | answers
checkpoints = anything | valid
plausible = (
    st.integers(0, 100)
    | st.floats(0, 100)
    | st.sampled_from([0.1, 0.3, 5, 5.0, 50, 70.5, 99.9, 100])
    | st.booleans()
    | st.sampled_from([" compact", "FLAT", "negative", "Negative  "])
)
anything_value = (
    st.none()
    | st.booleans()
    | st.integers(-10, 200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["0.1", "70", "1e3", " 12 ", "abc", "true", "no", "", *ANSWERS])
    | st.sampled_from([0.1, 0.3, 5, 5.0, 50, 70.5, 99.9, 100, " compact", "FLAT"])
)
values = anything_value | plausible | plausible | plausible


def _outcome(checkpoint, value, unit, state, judge):
    try:
        return result_prepare(
            checkpoint=checkpoint,
            value=value,
            unit=unit,
            measured_at=NOW,
            state=state,
            now=NOW,
            judge=judge,
        )
    except ValidationFailed as exc:
        return ("error", exc.message, exc.fields)


@settings(max_examples=200, deadline=None)
@given(
    checkpoint=checkpoints,
    value=values,
    unit=st.none() | st.none() | st.sampled_from([*UNITS, "EU/ml", " % "]),
    state=st.sampled_from([None, None, None, "invalid"]),
)
def test_the_judge_agrees_with_the_general_path(checkpoint, value, unit, state):
    judge = CheckpointJudge(checkpoint)

    assert _outcome(checkpoint, value, unit, state, judge) == _outcome(
        checkpoint, value, unit, state, None
    )


@settings(max_examples=300, deadline=None)
@given(checkpoint=valid, value=plausible, same_unit=st.booleans())
def test_the_judge_answers_valid_checkpoints_like_the_general_path(checkpoint, value, same_unit):
    judge = CheckpointJudge(checkpoint)
    unit = checkpoint.unit if same_unit and checkpoint.value_type in ("number", "percent") else None

    assert _outcome(checkpoint, value, unit, None, judge) == _outcome(
        checkpoint, value, unit, None, None
    )


def test_the_judge_compares_exactly_at_the_limit():
    checkpoint = SimpleNamespace(
        value_type="number", unit="10^6 cells/mL", spec={"min": 5}, analyte=""
    )
    judge = CheckpointJudge(checkpoint)

    assert judge.judge(5.0, "10^6 cells/mL") == (5.0, "pass")
    assert judge.judge(4.999999, "10^6 cells/mL") == (4.999999, "fail")
    assert judge.judge(5.0, "cells/mL") is None  # another unit: the general path converts
