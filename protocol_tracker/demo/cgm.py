"""Synthetic CGM exports for the demo and the benchmark (Dexcom Clarity layout; made-up data)."""

from __future__ import annotations

import random
import zoneinfo
from datetime import datetime, timedelta

HEADER = (
    "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
    "Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),"
    "Duration (hh:mm:ss),Glucose Rate of Change (mg/dL/min),Transmitter Time (Long Integer),"
    "Transmitter ID\n"
)
# (low, high) mg/dL of each band the fractions describe.
BANDS = {
    "tbr54": (42, 53),
    "tbr70": (54, 69),
    "tir": (70, 180),
    "tar180": (181, 250),
    "tar250": (251, 330),
}


def _day(rng: random.Random, fractions: dict[str, float]) -> list[int]:
    counts = {band: round(288 * fractions.get(band, 0) / 100) for band in BANDS}
    counts["tir"] = 288 - sum(v for k, v in counts.items() if k != "tir")
    values = [rng.randint(*BANDS[band]) for band, n in counts.items() for _ in range(n)]
    rng.shuffle(values)
    return values


def synthetic_dexcom_export(
    *,
    end_utc: datetime,
    days: int,
    tz: str,
    fractions: dict[str, float],
    seed: int = 1,
    skip_every: int = 0,
) -> bytes:
    """``days`` of five-minute readings ending at ``end_utc``, local times in ``tz``; the
    percentages in ``fractions`` (tbr54, tbr70 = 54-69, tar180 = 181-250, tar250) hold per day;
    ``skip_every`` drops every n-th reading (sensor gaps)."""
    rng = random.Random(seed)
    zone = zoneinfo.ZoneInfo(tz)
    start = end_utc - timedelta(days=days)
    lines = [HEADER, "1,,Device,,,Dexcom G7 Mobile App,Android G7,,,,,,,\n"]
    index = 2
    for d in range(days):
        for i, value in enumerate(_day(rng, fractions)):
            n = d * 288 + i
            if skip_every and n % skip_every == 0:
                continue
            at = (start + timedelta(minutes=5 * n)).astimezone(zone)
            lines.append(
                f"{index},{at:%Y-%m-%dT%H:%M:%S},EGV,,,,Android G7,{value},,,,,{n * 300},TXD\n"
            )
            index += 1
    return "".join(lines).encode()
