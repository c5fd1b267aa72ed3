"""The spec and unit language: a leaf that imports nothing of the project.

``from protocol_tracker import specs`` gives the spec language (:mod:`.language`): validate a
spec, parse a value, judge it. Units are :mod:`.units`; a checkpoint's fast judge is :mod:`.judge`.
"""

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
    format_number,
    judge_karyotype,
    parse_value,
    validate_spec,
)

__all__ = [
    "FAIL",
    "NO_SPEC",
    "PASS",
    "SPEC_KEYS",
    "VALUE_TYPES",
    "SpecError",
    "ValueType",
    "describe_spec",
    "evaluate",
    "format_number",
    "judge_karyotype",
    "parse_value",
    "validate_spec",
]
