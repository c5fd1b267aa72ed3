"""Acceptance specs on QC checkpoints: validation, value parsing and pass/fail evaluation.

A spec is a JSON-able dict (all keys optional; ``None`` or ``{}`` means "no spec")::

    {"min": 5, "max": None, "min_inclusive": True, "max_inclusive": True,
     "allowed": None, "expected": None}

- number / percent: ``min`` / ``max`` with inclusive flags (default inclusive).
  "> 75 %" is ``{"min": 75, "min_inclusive": False}``; "≤ 5 EU/mL" is ``{"max": 5}``.
- boolean: ``expected`` (True/False) is the passing answer. Results are plain True/False;
  for a mycoplasma "detected?" checkpoint the spec says ``expected: False``.
- choice / text / file: ``allowed`` (list of passing answers) or ``expected`` (the one
  passing answer). Matching ignores case and surrounding/repeated whitespace.
- identity: ``expected: "match"``, optionally ``item_kinds`` (the labelled items that may be
  presented here, e.g. ``["bag"]``) and ``witness`` (``"manual"``: a second person signs a
  typed entry; ``"always"``: every scan, the bedside two-person check). Its verdict is decided
  by a scan of the label (``custody``), never by a typed value.
- text: ``iscn`` (``{"min_metaphases": 20}``): the value is a karyotype in ISCN
  (:mod:`.iscn`); it passes with at least that many cells counted and no clonal abnormality,
  and a value that is not ISCN is refused.

Numbers are compared exactly (rational arithmetic, see ``units.py``), so there is no
tolerance at a limit: 5,000,000 cells/mL meets "≥ 5 × 10^6 cells/mL", 4,999,999 does not.
A "number" checkpoint may use the "%" unit without the 0-100 check (e.g. recovery can
exceed 100 %); the "percent" value type enforces 0-100.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from protocol_tracker.specs.iscn import ISCNError, parse_iscn
from protocol_tracker.specs.units import (
    PERCENT,
    UnitError,
    convert_exact,
    dimension_of,
    normalize_unit,
    to_fraction,
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
    "judge_karyotype",
    "parse_value",
    "validate_spec",
]


class SpecError(ValueError):
    """An invalid spec, value type or result value."""


class ValueType(StrEnum):
    """What kind of result a checkpoint records."""

    NUMBER = "number"
    PERCENT = "percent"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    TEXT = "text"
    FILE = "file"
    IDENTITY = "identity"


VALUE_TYPES: frozenset[str] = frozenset(v.value for v in ValueType)
PASS = "pass"  # noqa: S105 - an outcome, not a password
FAIL = "fail"
NO_SPEC = "no_spec"
SPEC_KEYS: tuple[str, ...] = (
    "min",
    "max",
    "min_inclusive",
    "max_inclusive",
    "allowed",
    "expected",
    "iscn",
)

IDENTITY_SPEC_KEYS: tuple[str, ...] = ("expected", "item_kinds", "witness")
IDENTITY_MATCH = "match"
WITNESS_RULES = ("manual", "always")

_NUMERIC = frozenset({ValueType.NUMBER, ValueType.PERCENT})
_STRINGY = frozenset({ValueType.CHOICE, ValueType.TEXT, ValueType.FILE, ValueType.IDENTITY})
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_AMBIGUOUS_BOOLEAN = frozenset(
    {"pass", "fail", "passed", "failed", "positive", "negative", "pos", "neg", "detected"}
    | {"not detected", "present", "absent"}
)


def _value_type(value_type: str) -> ValueType:
    try:
        return ValueType(value_type)
    except ValueError:
        choices = ", ".join(v.value for v in ValueType)
        raise SpecError(f"unknown value type '{value_type}' (one of: {choices})") from None


def format_number(x: object) -> str:
    """Compact label for a limit: ``5.0`` -> ``"5"``, ``1.5`` -> ``"1.5"``."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float | Decimal) and not isinstance(x, bool)


def _is_finite(x: int | float | Decimal) -> bool:
    if isinstance(x, Decimal):
        return x.is_finite()
    return isinstance(x, int) or math.isfinite(x)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


# --- validation ----------------------------------------------------------------------------


def _unit_problems(vt: ValueType | None, unit: object) -> list[str]:
    if not isinstance(unit, str):
        return [f"unit must be a string, got {type(unit).__name__}"]
    try:
        canonical = normalize_unit(unit)
    except UnitError as exc:
        return [str(exc)]
    if vt is ValueType.PERCENT and dimension_of(canonical) != PERCENT:
        return [f"a percent checkpoint must use a percent unit such as '%', not '{unit}'"]
    if (vt in _STRINGY or vt is ValueType.BOOLEAN) and canonical:
        return [f"a {vt.value} checkpoint takes no unit, got '{unit}'"]
    return []


def _limit_problems(spec: dict[Any, Any], vt: ValueType) -> list[str]:
    problems: list[str] = []
    limits: dict[str, Fraction] = {}
    for name in ("min", "max"):
        raw = spec.get(name)
        if raw is None:
            continue
        if not _is_number(raw):
            problems.append(f"{name} must be a number, got {raw!r}")
        elif not _is_finite(raw):
            problems.append(f"{name} must be a finite number, got {raw}")
        else:
            limits[name] = to_fraction(raw)
            if vt is ValueType.PERCENT and not 0 <= raw <= 100:
                problems.append(
                    f"percent limits must lie within 0-100 ({name} is {format_number(raw)})"
                )
    if "min" in limits and "max" in limits:
        lo, hi = spec["min"], spec["max"]
        if limits["min"] > limits["max"]:
            problems.append(f"min ({format_number(lo)}) is greater than max ({format_number(hi)})")
        elif limits["min"] == limits["max"] and not (
            spec.get("min_inclusive", True) is True and spec.get("max_inclusive", True) is True
        ):
            problems.append(
                f"min ({format_number(lo)}) equals max ({format_number(hi)}) with an "
                "exclusive bound, so no value can pass"
            )
    return problems


def _answer_problems(spec: dict[Any, Any], vt: ValueType) -> list[str]:
    problems: list[str] = []
    allowed, expected = spec.get("allowed"), spec.get("expected")
    if allowed is not None:
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            problems.append(f"allowed must be a list of strings, got {allowed!r}")
        elif not allowed:
            problems.append("allowed is empty, so no value can pass")
        else:
            seen: set[str] = set()
            for answer in allowed:
                if not answer.strip():
                    problems.append("allowed contains an empty answer")
                elif _fold(answer) in seen:
                    problems.append(f"allowed lists '{answer}' twice")
                seen.add(_fold(answer))
    if expected is not None:
        if not isinstance(expected, str):
            problems.append(f"expected must be a string for a {vt.value} checkpoint")
        elif not expected.strip():
            problems.append("expected must not be empty")
    if allowed is not None and expected is not None:
        problems.append("give either 'allowed' or 'expected', not both")
    return problems


def _identity_problems(spec: dict[Any, Any]) -> list[str]:
    problems = [f"unknown key {key!r}" for key in spec if key not in IDENTITY_SPEC_KEYS]
    expected = spec.get("expected")
    if expected is not None and expected != IDENTITY_MATCH:
        problems.append(f"an identity checkpoint expects {IDENTITY_MATCH!r}, got {expected!r}")
    kinds = spec.get("item_kinds")
    if kinds is not None and (
        not isinstance(kinds, list)
        or not kinds
        or not all(isinstance(k, str) and k.strip() for k in kinds)
    ):
        problems.append(f"item_kinds must be a non-empty list of item kinds, got {kinds!r}")
    witness = spec.get("witness")
    if witness is not None and witness not in WITNESS_RULES:
        problems.append(f"witness must be one of {list(WITNESS_RULES)}, got {witness!r}")
    return problems


def validate_spec(spec: dict[str, Any] | None, *, value_type: str, unit: str) -> list[str]:
    """Human-readable problems with ``spec`` for this value type and unit; [] if valid."""
    problems: list[str] = []
    try:
        vt: ValueType | None = _value_type(value_type)
    except SpecError as exc:
        problems.append(str(exc))
        vt = None
    problems += _unit_problems(vt, unit)
    if spec is None:
        return problems
    if not isinstance(spec, dict):
        return [*problems, f"spec must be a JSON object, got {type(spec).__name__}"]

    if vt is ValueType.IDENTITY:
        return problems + _identity_problems(spec)
    problems += [f"unknown key {key!r}" for key in spec if key not in SPEC_KEYS]
    for flag in ("min_inclusive", "max_inclusive"):
        if not isinstance(spec.get(flag, True), bool):
            problems.append(f"{flag} must be true or false, got {spec[flag]!r}")
    if vt is None:
        return problems

    has_limits = spec.get("min") is not None or spec.get("max") is not None
    has_allowed = spec.get("allowed") is not None
    has_expected = spec.get("expected") is not None
    if vt in _NUMERIC:
        if has_allowed or has_expected:
            problems.append(f"a {vt.value} checkpoint takes min/max, not 'allowed'/'expected'")
        problems += _limit_problems(spec, vt)
    elif vt is ValueType.BOOLEAN:
        if has_limits:
            problems.append("a boolean checkpoint takes 'expected', not min/max")
        if has_allowed:
            problems.append("a boolean checkpoint takes 'expected', not 'allowed'")
        if has_expected and not isinstance(spec["expected"], bool):
            problems.append(
                f"expected must be true or false for a boolean checkpoint, got {spec['expected']!r}"
            )
    else:
        if has_limits:
            problems.append(f"a {vt.value} checkpoint takes 'allowed' or 'expected', not min/max")
        problems += _answer_problems(spec, vt)
    if spec.get("iscn") is not None:
        problems += _iscn_problems(spec, vt)
    return problems


def _iscn_problems(spec: dict[Any, Any], vt: ValueType) -> list[str]:
    iscn = spec["iscn"]
    if vt is not ValueType.TEXT:
        return ["an ISCN spec needs a text checkpoint"]
    if spec.get("allowed") is not None or spec.get("expected") is not None:
        return ["give either 'iscn' or 'allowed'/'expected', not both"]
    count = iscn.get("min_metaphases") if isinstance(iscn, dict) else None
    if not isinstance(iscn, dict) or set(iscn) != {"min_metaphases"}:
        return ["iscn must be {'min_metaphases': <whole number>}"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return ["iscn min_metaphases must be a whole number ≥ 1"]
    return []


def judge_karyotype(text: str, min_metaphases: int) -> tuple[str, list[str]]:
    """(verdict, reasons) of an ISCN karyotype; raises SpecError when it is not ISCN."""
    try:
        karyotype = parse_iscn(text)
    except ISCNError as exc:
        raise SpecError(f"not an ISCN karyotype: {exc}") from None
    reasons = []
    if karyotype.metaphases < min_metaphases:
        reasons.append(f"{karyotype.metaphases} metaphases counted, fewer than {min_metaphases}")
    reasons += [f"clonal abnormality {a}" for a in karyotype.clonal]
    return (FAIL if reasons else PASS), reasons


# --- values --------------------------------------------------------------------------------


def _parse_number(raw: object) -> float:
    if isinstance(raw, bool):
        raise SpecError(f"{raw} is a boolean, not a number")
    if isinstance(raw, int | float | Decimal):
        try:
            number = float(raw)
        except OverflowError:
            raise SpecError(f"{raw} is too large") from None
    elif isinstance(raw, str):
        text = raw.strip()
        if not _NUMBER_RE.fullmatch(text):
            raise SpecError(f"'{raw}' is not a number")
        number = float(text)
    else:
        raise SpecError(f"expected a number, got {type(raw).__name__}")
    if not math.isfinite(number):
        raise SpecError(f"{raw} is not a finite number")
    return number


def _check_percent(value: Fraction, raw: object) -> None:
    if not 0 <= value <= 100:
        raise SpecError(f"a percent must be between 0 and 100, got {format_number(raw)}")


def _parse_boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = _fold(raw)
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text in _AMBIGUOUS_BOOLEAN:
            raise SpecError(
                f"'{raw}' is ambiguous for a boolean result; send true or false "
                "(the spec's 'expected' says which answer passes)"
            )
        raise SpecError(f"'{raw}' is not a boolean (use true/false, yes/no or 1/0)")
    raise SpecError(f"expected true or false, got {type(raw).__name__}")


def parse_value(raw: object, *, value_type: str) -> bool | float | str:
    """Coerce an incoming result; raise :class:`SpecError` if it is not acceptable.

    number/percent -> float (NaN, ±inf, booleans and strings like "12abc" are refused;
    a percent must lie in 0-100); boolean -> bool (True/False or the strings
    true/false, yes/no, 1/0); choice/text/file -> the stripped, non-empty string.
    """
    vt = _value_type(value_type)
    if raw is None:
        raise SpecError("no value given")
    if vt is ValueType.NUMBER:
        return _parse_number(raw)
    if vt is ValueType.PERCENT:
        number = _parse_number(raw)
        _check_percent(to_fraction(number), number)
        return number
    if vt is ValueType.BOOLEAN:
        return _parse_boolean(raw)
    if vt is ValueType.IDENTITY:
        raise SpecError(
            "an identity checkpoint is passed by scanning the label, not by a typed value "
            "(the scan page, or POST /api/v1/identity-scans/)"
        )
    if not isinstance(raw, str):
        raise SpecError(f"a {vt.value} result must be a string, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise SpecError(f"a {vt.value} result must not be empty")
    return text


# --- evaluation ----------------------------------------------------------------------------


def _within(value: Fraction, spec: dict[str, Any]) -> bool:
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None:
        limit = to_fraction(lo)
        if value < limit or (value == limit and not spec.get("min_inclusive", True)):
            return False
    if hi is not None:
        limit = to_fraction(hi)
        if value > limit or (value == limit and not spec.get("max_inclusive", True)):
            return False
    return True


def evaluate(
    spec: dict[str, Any] | None,
    *,
    value_type: str,
    value: object,
    unit: str | None,
    spec_unit: str,
    analyte: str | None = None,
) -> str:
    """Judge ``value`` against ``spec``: ``"pass"``, ``"fail"`` or ``"no_spec"``.

    Numeric values are converted from ``unit`` to ``spec_unit`` first (``unit=None`` means
    the value is already in ``spec_unit``); :class:`~protocol_tracker.specs.units.UnitError`
    propagates. ``unit`` is ignored for boolean/choice/text/file. An invalid value or spec
    raises :class:`SpecError`.
    """
    vt = _value_type(value_type)
    numeric_value: Fraction | None = None
    if vt in _NUMERIC:
        normalize_unit(spec_unit)  # UnitError for an unknown spec unit
        if value is None:
            raise SpecError("no value given")
        number = _parse_number(value)
        if unit is None:
            numeric_value = to_fraction(number)
        else:
            numeric_value = convert_exact(number, unit, spec_unit, analyte=analyte)
        if vt is ValueType.PERCENT:
            _check_percent(numeric_value, number)
        parsed: bool | float | str = number
    else:
        parsed = parse_value(value, value_type=vt)

    problems = validate_spec(spec, value_type=vt, unit=spec_unit)
    if problems:
        raise SpecError("invalid spec: " + "; ".join(problems))
    if not spec:
        return NO_SPEC

    if numeric_value is not None:
        if spec.get("min") is None and spec.get("max") is None:
            return NO_SPEC
        return PASS if _within(numeric_value, spec) else FAIL
    expected, allowed = spec.get("expected"), spec.get("allowed")
    if spec.get("iscn") is not None:
        return judge_karyotype(str(parsed), spec["iscn"]["min_metaphases"])[0]
    if vt is ValueType.BOOLEAN:
        if expected is None:
            return NO_SPEC
        return PASS if parsed is expected else FAIL
    if allowed is not None:
        return PASS if _fold(str(parsed)) in {_fold(a) for a in allowed} else FAIL
    if expected is not None:
        return PASS if _fold(str(parsed)) == _fold(expected) else FAIL
    return NO_SPEC


# --- labels --------------------------------------------------------------------------------


def _with_unit(text: str, unit: str) -> str:
    try:
        unit = normalize_unit(unit)
    except UnitError:
        unit = unit.strip() if isinstance(unit, str) else ""
    if not unit:
        return text
    if unit.startswith("10^"):
        return f"{text} × {unit}"
    return f"{text} {unit}"


def describe_spec(spec: dict[str, Any] | None, unit: str) -> str:
    """Short label such as "≥ 90 %", "> 75 %", "≤ 5 EU/mL", "70–100 %", "= negative"."""
    if not spec:
        return "no spec"
    lo, hi = spec.get("min"), spec.get("max")
    lo_inc = spec.get("min_inclusive", True) is not False
    hi_inc = spec.get("max_inclusive", True) is not False
    if lo is not None and hi is not None:
        if lo == hi and lo_inc and hi_inc:
            return _with_unit(f"= {format_number(lo)}", unit)
        if lo_inc and hi_inc:
            return _with_unit(f"{format_number(lo)}–{format_number(hi)}", unit)
        lower = f"{'≥' if lo_inc else '>'} {format_number(lo)}"
        upper = f"{'≤' if hi_inc else '<'} {format_number(hi)}"
        return _with_unit(f"{lower} and {upper}", unit)
    if lo is not None:
        return _with_unit(f"{'≥' if lo_inc else '>'} {format_number(lo)}", unit)
    if hi is not None:
        return _with_unit(f"{'≤' if hi_inc else '<'} {format_number(hi)}", unit)
    allowed, expected = spec.get("allowed"), spec.get("expected")
    if isinstance(spec.get("iscn"), dict):
        count = spec["iscn"].get("min_metaphases")
        return f"ISCN: ≥ {count} metaphases, no clonal abnormality"
    if allowed:
        return "one of: " + ", ".join(str(a) for a in allowed)
    if expected is not None:
        return f"= {format_number(expected)}"
    return "no spec"
