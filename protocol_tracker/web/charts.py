"""Control charts as server-side SVG geometry (no JavaScript, no charting library).

Individuals chart: each point is one batch's current result; the centre line is the mean, with
±2σ (warning) and ±3σ (action) lines from the sample standard deviation, and the spec limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 860, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 110, 20, 44


@dataclass
class Point:
    x: float
    y: float
    value: float
    label: str
    when: object
    out_of_spec: bool
    beyond_3sigma: bool
    run_id: int
    drift: bool = False


@dataclass
class Line:
    y: float
    value: float
    css: str
    label: str


@dataclass
class Chart:
    points: list[Point] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    ticks: list[Line] = field(default_factory=list)
    path: str = ""
    mean: float | None = None
    sigma: float | None = None
    n: int = 0
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    out_of_spec: int = 0
    beyond_3sigma: int = 0
    drift: int = 0


TREND_RUN = 6  # Nelson rule 3: six points in a row steadily rising or falling
SIDE_RUN = 9  # Nelson rule 2: nine points in a row on the same side of the mean


def drift_flags(values: list[float], mean: float) -> list[bool]:
    """Points that end a run of ``TREND_RUN`` steadily rising or falling values, or of
    ``SIDE_RUN`` values on one side of the mean: drift, before anything fails."""
    flags = [False] * len(values)
    rising = falling = 1
    side_len, side = 0, 0
    for i, value in enumerate(values):
        if i:
            rising = rising + 1 if value > values[i - 1] else 1
            falling = falling + 1 if value < values[i - 1] else 1
        this_side = (value > mean) - (value < mean)
        side_len = side_len + 1 if this_side and this_side == side else (1 if this_side else 0)
        side = this_side
        if rising >= TREND_RUN or falling >= TREND_RUN or side_len >= SIDE_RUN:
            flags[i] = True
    return flags


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min(
        (m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=magnitude * 10
    )
    start = math.ceil(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def control_chart(
    rows: list[dict], *, spec_min: float | None, spec_max: float | None, labels: dict[str, str]
) -> Chart:
    """``rows``: dicts with value, label, when, failed, run_id, in time order."""
    chart = Chart(n=len(rows))
    if not rows:
        return chart
    values = [r["value"] for r in rows]
    mean = sum(values) / len(values)
    sigma = (
        math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        if len(values) > 1
        else 0.0
    )
    chart.mean, chart.sigma = mean, sigma
    candidates = [*values, mean]
    if sigma:
        candidates += [mean - 3 * sigma, mean + 3 * sigma]
    candidates += [v for v in (spec_min, spec_max) if v is not None]
    lo, hi = min(candidates), max(candidates)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    x0, x1, y0, y1 = chart.plot_left, chart.plot_right, chart.plot_top, chart.plot_bottom

    def y_of(v: float) -> float:
        return round(y1 - (v - lo) / (hi - lo) * (y1 - y0), 1)

    step = (x1 - x0) / max(len(rows) - 1, 1)
    for i, row in enumerate(rows):
        beyond = bool(sigma) and abs(row["value"] - mean) > 3 * sigma
        x = round(x0 + (i * step if len(rows) > 1 else (x1 - x0) / 2), 1)
        chart.points.append(
            Point(
                x=x,
                y=y_of(row["value"]),
                value=row["value"],
                label=row["label"],
                when=row["when"],
                out_of_spec=row["failed"],
                beyond_3sigma=beyond,
                run_id=row["run_id"],
            )
        )
    for point, flag in zip(chart.points, drift_flags(values, mean), strict=True):
        point.drift = flag
    chart.drift = sum(p.drift for p in chart.points)
    chart.out_of_spec = sum(p.out_of_spec for p in chart.points)
    chart.beyond_3sigma = sum(p.beyond_3sigma for p in chart.points)
    chart.path = "M " + " L ".join(f"{p.x} {p.y}" for p in chart.points)
    chart.lines.append(Line(y_of(mean), mean, "mean", f"{labels['mean']} {_fmt(mean)}"))
    if sigma:
        for k, css in ((2, "sigma2"), (3, "sigma3")):
            for sign in (1, -1):
                v = mean + sign * k * sigma
                chart.lines.append(
                    Line(y_of(v), v, css, f"{'+' if sign > 0 else '−'}{k}σ {_fmt(v)}")
                )
    if spec_min is not None:
        chart.lines.append(
            Line(y_of(spec_min), spec_min, "speclimit", f"{labels['lsl']} {_fmt(spec_min)}")
        )
    if spec_max is not None:
        chart.lines.append(
            Line(y_of(spec_max), spec_max, "speclimit", f"{labels['usl']} {_fmt(spec_max)}")
        )
    chart.ticks = [Line(y_of(t), t, "grid", _fmt(t)) for t in _nice_ticks(lo, hi)]
    return chart
