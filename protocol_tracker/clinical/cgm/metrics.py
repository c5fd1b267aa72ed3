"""The consensus CGM metrics of a list of readings (Battelino et al., Diabetes Care 2019).

Percentages are of the readings in the period (each reading stands for one sampling interval).
Wear time is the readings present over those expected from the first to the last reading at the
device's interval (or over the period asked for); under 70 % is flagged. CV is the population
standard deviation over the mean. GMI (%) = 3.31 + 0.02392 × mean glucose in mg/dL (Bergenstal RM
et al., Diabetes Care 2018;41:2275-2280), the formula the consensus adopts.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta

from protocol_tracker.clinical.cgm.readings import Reading
from protocol_tracker.clinical.rules.cgm_targets import MIN_WEAR_PERCENT

GAP_FACTOR = 3  # a gap is more than 3 sampling intervals without a reading


def _pct(n: int, total: int) -> float:
    return round(100.0 * n / total, 2)


def cgm_metrics(
    readings: list[Reading],
    *,
    interval_minutes: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict:
    """The metrics of ``readings`` (sorted, UTC) between ``start`` and ``end`` (inclusive)."""
    if start is not None or end is not None:
        readings = [
            r for r in readings if (start is None or r.at >= start) and (end is None or r.at <= end)
        ]
    n = len(readings)
    if n == 0:
        raise ValueError("no readings in the period")
    first, last = start or readings[0].at, end or readings[-1].at
    step = timedelta(minutes=interval_minutes)
    expected = int((last - first) / step) + 1
    values = [r.mg_dl for r in readings]
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n)
    gaps = [
        (a.at, b.at) for a, b in itertools.pairwise(readings) if b.at - a.at > GAP_FACTOR * step
    ]
    longest = max((b - a for a, b in gaps), default=timedelta())
    wear = min(100.0, _pct(n, expected))
    return {
        "readings": n,
        "expected_readings": expected,
        "interval_minutes": interval_minutes,
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "days": round((last - first) / timedelta(days=1), 2),
        "tir": _pct(sum(1 for v in values if 70 <= v <= 180), n),
        "tbr70": _pct(sum(1 for v in values if v < 70), n),
        "tbr54": _pct(sum(1 for v in values if v < 54), n),
        "tar180": _pct(sum(1 for v in values if v > 180), n),
        "tar250": _pct(sum(1 for v in values if v > 250), n),
        "mean_glucose": round(mean, 1),
        "gmi": round(3.31 + 0.02392 * mean, 2),
        "cv": round(100.0 * sd / mean, 1),
        "wear": wear,
        "low_wear": wear < MIN_WEAR_PERCENT,
        "gaps": len(gaps),
        "longest_gap_minutes": int(longest.total_seconds() // 60),
    }
