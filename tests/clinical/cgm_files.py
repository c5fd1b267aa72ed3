"""Generated CGM exports for tests and the benchmark (Dexcom Clarity layout)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

HEADER = (
    "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
    "Source Device ID,Glucose Value ({unit}),Insulin Value (u),Carb Value (grams),"
    "Duration (hh:mm:ss),Glucose Rate of Change ({unit}/min),Transmitter Time (Long Integer),"
    "Transmitter ID\n"
)
# One day of 288 five-minute readings with known fractions: 10 at 60 and 2 at 50 (below 70, two
# below 54), 240 at 120 (in range), 30 at 200 and 6 at 300 (above 180, six above 250).
DAY_PROFILE = [60] * 10 + [50] * 2 + [120] * 240 + [200] * 30 + [300] * 6


def dexcom_export(
    *,
    start_utc: datetime,
    readings: int,
    tz: str = "Asia/Shanghai",
    unit: str = "mg/dL",
    profile: list[int] | None = None,
    skip: set[int] | None = None,
) -> bytes:
    """A Dexcom Clarity export of ``readings`` five-minute readings from ``start_utc``, with
    local timestamps in ``tz`` as the device writes them (DST included)."""
    zone = zoneinfo.ZoneInfo(tz)
    profile = profile or DAY_PROFILE
    lines = [
        HEADER.format(unit=unit),
        "1,,FirstName,,Test,,,,,,,,,\n",
        "2,,LastName,,Person,,,,,,,,,\n",
        "3,,Device,,,Dexcom G7 Mobile App,iOS G7,,,,,,,\n",
    ]
    for i in range(readings):
        if skip and i in skip:
            continue
        at = (start_utc + timedelta(minutes=5 * i)).astimezone(zone)
        mg = profile[i % len(profile)]
        value = f"{mg / 18:.1f}" if unit == "mmol/L" else str(mg)
        lines.append(f"{i + 4},{at:%Y-%m-%dT%H:%M:%S},EGV,,,,iOS G7,{value},,,,,{i * 300},TX1\n")
    return "".join(lines).encode()


def start_of_day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
