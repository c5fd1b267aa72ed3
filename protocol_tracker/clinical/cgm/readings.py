"""Readings, the parsed export and its problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Export rows refused above this: 90 days at 5-minute readings is 25,920 rows; a year 105,120.
MAX_ROWS = 200_000
# Physical bounds of a glucose reading, mg/dL (sensors report 40-400 and "Low"/"High").
MIN_MG_DL, MAX_MG_DL = 20.0, 600.0
MG_DL_PER_MMOL_L = 18.0  # the clinical convention (specs.units: glucose mmol/L = mg/dL / 18)


class CGMError(ValueError):
    """A file that cannot be read as a CGM export: what is wrong, and where."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime  # aware, UTC
    mg_dl: float
    flag: str = ""  # "low" / "high" when the sensor reported out of its range


@dataclass
class ParsedExport:
    format: str  # "dexcom_clarity" / "libreview"
    unit: str  # "mg/dL" / "mmol/L", as the file says
    device_timezone: str
    device: str
    readings: list[Reading]
    rows: int  # data rows read (glucose rows, before duplicates were dropped)
    duplicates: int = 0
    out_of_range_flags: int = 0  # "Low"/"High" readings
    nonexistent_local_times: int = 0  # in a spring-forward gap (read with the earlier offset)
    ambiguous_local_times: int = 0  # in a repeated autumn hour (resolved by file order)
    dst_transitions: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)  # what identifying fields were blanked
    stored_bytes: bytes = b""  # the file with the identifying fields blanked
    interval_minutes: int = 5
