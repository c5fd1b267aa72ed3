"""Checks the clinical services share."""

from __future__ import annotations

import math
from datetime import date

from labs.models import CAN_WORK, Role
from protocol_tracker.clinical.measures import MEASURES
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.specs import units

# Clinicians record clinical data, and the PI (reviewer) may; lab admins and technicians read.
CAN_RECORD_CLINICAL = frozenset({Role.CLINICIAN, Role.REVIEWER})
# The formulated product (weight, volume, dose, expiry) is part of the batch: run workers or a
# clinician record it.
CAN_FORMULATE = frozenset({*CAN_WORK, Role.CLINICIAN})


def refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


def number(value: object, field: str) -> float:
    """A finite number (not a boolean, not NaN or infinite); text is read as a decimal."""
    if isinstance(value, bool) or value is None:
        raise refuse(field, "a number is required")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            raise refuse(field, f"'{text[:20]}' is not a number") from None
    if not isinstance(value, int | float):
        raise refuse(field, "a number is required")
    result = float(value)
    if not math.isfinite(result):
        raise refuse(field, "must be a finite number")
    return result


def canonical(
    measure: str, value: object, unit: object, field: str = "value"
) -> tuple[float, str, float]:
    """``value`` in ``unit`` → (value in the measure's canonical unit, the unit's canonical name,
    the value as a number);
    refuses unknown measures, units not accepted for the measure and values out of bounds."""
    spec = MEASURES.get(measure)
    if spec is None:
        raise refuse("measure", f"unknown measure '{measure}'")
    amount = number(value, field)
    if not isinstance(unit, str) or not unit.strip():
        unit = spec.unit
    accepted = ", ".join(spec.units)
    try:
        name = units.normalize_unit(unit)
    except units.UnitError:
        raise refuse("unit", f"unknown unit '{unit}' for {measure} (use {accepted})") from None
    if name not in {units.normalize_unit(u) for u in spec.units}:
        raise refuse("unit", f"'{name}' is not a unit of {measure} (use {accepted})")
    result = units.convert(amount, name, spec.unit, analyte=spec.analyte)
    if spec.whole and not float(result).is_integer():
        raise refuse(field, f"{measure} is a whole number")
    if not spec.low <= result <= spec.high:
        raise refuse(
            field,
            f"{amount:g} {name} is outside {spec.low:g}-{spec.high:g} {spec.unit} for {measure}",
        )
    return result, name, amount


def not_future(day: date, today: date, field: str) -> None:
    if day > today:
        raise refuse(field, "is in the future")
