"""What the custody services share: who may act, the run's COI, cleaning inputs."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from labs.models import CAN_SEE_PATIENT, CAN_WORK
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.identity.models import Coi
from protocol_tracker.runs.models import Run

# Technicians handle the material in the lab; clinicians receive it and check it at the bedside.
CAN_HANDLE = CAN_WORK | CAN_SEE_PATIENT
MIN_TEMPERATURE_C, MAX_TEMPERATURE_C = -200.0, 100.0


def run_coi(run: Run) -> Coi:
    coi = run.donor.coi
    if coi is None:
        raise ValidationFailed(
            f"donor {run.donor.code} has no COI; chain-of-identity records need one",
            fields={"run": ["the donor has no COI"]},
        )
    return coi


def line(value: object, field: str, *, max_length: int = 200, required: bool = True) -> str:
    return clean_text(value, field=field, max_length=max_length, required=required, multiline=False)


def moment(value: datetime | None, field: str) -> datetime:
    """``value``, a time that happened: aware and not in the future."""
    if value is None:
        raise ValidationFailed(f"{field} is required", fields={field: ["required"]})
    return _past(value, field)


def moment_or_none(value: datetime | None, field: str) -> datetime | None:
    return None if value is None else _past(value, field)


def _past(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationFailed(f"{field} needs a time zone", fields={field: ["give a time zone"]})
    if value > timezone.now() + timedelta(minutes=5):
        raise ValidationFailed(f"{field} is in the future", fields={field: ["is in the future"]})
    return value


def temperature(value: object, field: str = "temperature_c") -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{field} must be a number (°C)", fields={field: ["a number"]})
    number = float(value)
    if number != number or not MIN_TEMPERATURE_C <= number <= MAX_TEMPERATURE_C:
        raise ValidationFailed(
            f"{field} must be between {MIN_TEMPERATURE_C:g} and {MAX_TEMPERATURE_C:g} °C",
            fields={field: [f"{MIN_TEMPERATURE_C:g} to {MAX_TEMPERATURE_C:g} °C"]},
        )
    return number
