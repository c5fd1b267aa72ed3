"""Judging many results of one checkpoint quickly: its spec is validated and its limits read once.

:func:`protocol_tracker.specs.language.evaluate` validates the spec, normalises both units and
converts the value exactly on every call, which is most of the cost of a 5,000-row bulk
recording. A :class:`CheckpointJudge` does that work once per checkpoint and then judges a parsed
value given in the checkpoint's own unit with the same exact (rational) comparison. It answers
only that common case; for anything else (another unit, an invalid spec) it returns None and the
caller takes the general path, which also words the errors. ``tests/qc/test_judge.py`` checks
that both paths agree.
"""

from __future__ import annotations

from fractions import Fraction

from protocol_tracker.specs import language as specs
from protocol_tracker.specs.units import to_fraction

_NUMERIC = frozenset({specs.ValueType.NUMBER, specs.ValueType.PERCENT})


def _fold(text: str) -> str:
    # As specs._fold: answers match ignoring case and surrounding or repeated whitespace.
    return " ".join(text.split()).casefold()


class CheckpointJudge:
    """The verdict and the value in the spec's unit for results of one checkpoint."""

    __slots__ = (
        "allowed",
        "expected",
        "hi",
        "hi_inclusive",
        "lo",
        "lo_inclusive",
        "numeric",
        "spec",
        "unit",
        "usable",
        "value_type",
    )

    def __init__(self, checkpoint) -> None:
        spec = checkpoint.spec or None
        self.spec = spec
        self.unit = checkpoint.unit
        self.value_type = checkpoint.value_type
        self.numeric = checkpoint.value_type in _NUMERIC
        self.usable = not specs.validate_spec(
            spec, value_type=checkpoint.value_type, unit=checkpoint.unit
        )
        self.lo: Fraction | None = None
        self.hi: Fraction | None = None
        self.lo_inclusive = self.hi_inclusive = True
        self.expected = None
        self.allowed: frozenset[str] | None = None
        if not (self.usable and spec):
            return
        if spec.get("min") is not None:
            self.lo = to_fraction(spec["min"])
        if spec.get("max") is not None:
            self.hi = to_fraction(spec["max"])
        self.lo_inclusive = bool(spec.get("min_inclusive", True))
        self.hi_inclusive = bool(spec.get("max_inclusive", True))
        self.expected = spec.get("expected")
        if spec.get("allowed") is not None:
            self.allowed = frozenset(_fold(a) for a in spec["allowed"])

    def judge(self, parsed, unit: str) -> tuple[float | None, str] | None:
        """(value in the spec's unit, verdict) for a value from ``specs.parse_value``, given in
        ``unit``; None when this judge cannot answer (use ``specs.evaluate``)."""
        if not self.usable:
            return None
        if self.numeric:
            if unit != self.unit:
                return None
            exact = to_fraction(parsed)
            in_spec_unit = float(exact)
            if self.lo is None and self.hi is None:
                return in_spec_unit, specs.NO_SPEC
            return in_spec_unit, specs.PASS if self._within(exact) else specs.FAIL
        if not self.spec:
            return None, specs.NO_SPEC
        if self.spec.get("iscn") is not None:
            return None  # parsed and judged by the general path (specs.judge_karyotype)
        if self.value_type == specs.ValueType.BOOLEAN:
            if self.expected is None:
                return None, specs.NO_SPEC
            return None, specs.PASS if parsed is self.expected else specs.FAIL
        if self.allowed is not None:
            return None, specs.PASS if _fold(str(parsed)) in self.allowed else specs.FAIL
        if self.expected is not None:
            return None, specs.PASS if _fold(str(parsed)) == _fold(self.expected) else specs.FAIL
        return None, specs.NO_SPEC

    def _within(self, value: Fraction) -> bool:
        lo, hi = self.lo, self.hi
        if lo is not None and (value < lo or (value == lo and not self.lo_inclusive)):
            return False
        return not (hi is not None and (value > hi or (value == hi and not self.hi_inclusive)))
