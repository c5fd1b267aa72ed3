"""What the cell-bank services share: number checks, the next code of a run's vials or vessels,
the audited state of a vial."""

from __future__ import annotations

import math
import re

from protocol_tracker.cellbank.models import Vessel, Vial
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.runs.models import Run

# No vial holds more than 10^10 cells and no vessel more than 10^12 (a typing error above).
MAX_CELLS_PER_VIAL = 1e10
MAX_CELLS = 1e12


def check_number(
    value: object,
    field: str,
    errors: dict[str, list[str]],
    *,
    lo: float,
    hi: float,
    required: bool = True,
    lo_inclusive: bool = True,
) -> float | None:
    """``value`` as a finite float within [lo, hi] (or (lo, hi]); the problem filed in
    ``errors`` under ``field`` otherwise."""
    if value in (None, ""):
        if required:
            errors[field] = ["is required"]
        return None
    if isinstance(value, bool):
        errors[field] = ["must be a number"]
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors[field] = ["must be a number"]
        return None
    if not math.isfinite(number):
        errors[field] = ["must be a finite number"]
        return None
    low_ok = number >= lo if lo_inclusive else number > lo
    if not low_ok or number > hi:
        bracket = "[" if lo_inclusive else "("
        errors[field] = [f"must be within {bracket}{lo:g}, {hi:g}]"]
        return None
    return number


def raise_errors(errors: dict[str, list[str]]) -> None:
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)


def _next_number(codes, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)$")
    numbers = [int(m.group(1)) for code in codes if (m := pattern.match(code))]
    return max(numbers, default=0) + 1


def next_vial_number(run: Run) -> int:
    """The next number of ``run``'s vial codes (``<run code>-V001``…); the run is locked."""
    codes = Vial.objects.filter(run=run).values_list("code", flat=True)
    return _next_number(codes, f"{run.code}-V")


def next_vessel_number(run: Run) -> int:
    codes = Vessel.objects.filter(run=run).values_list("code", flat=True)
    return _next_number(codes, f"{run.code}-C")


def vial_state(vial: Vial) -> dict:
    return {
        "status": vial.status,
        "position": vial.position_id,
        "reserved_for": vial.reserved_for,
        "checked_out_at": vial.checked_out_at,
    }
