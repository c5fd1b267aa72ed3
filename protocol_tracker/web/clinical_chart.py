"""The outcome chart as server-side SVG geometry: panels over days since transplant (insulin
dose, HbA1c, C-peptide, time in range), each with its baseline as a dashed line, the therapy
events as vertical lines across all panels, and the Igls class per visit on a strip."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

WIDTH = 860
LEFT, RIGHT = 70, 24
PANEL_H, GAP, TOP, STRIP_H, AXIS_H = 96, 18, 12, 26, 34

PANELS = (
    ("insulin_dose", _("Insulin (U/kg/day)"), ("insulin_dose",)),
    ("hba1c", _("HbA1c (%)"), ("hba1c",)),
    ("c_peptide", _("C-peptide (pmol/L)"), ("c_peptide_fasting", "c_peptide_stimulated")),
    ("tir", _("Time in range (%)"), ("tir",)),
)
SERIES_CSS = {"c_peptide_fasting": "series", "c_peptide_stimulated": "series series-alt"}


@dataclass
class Dot:
    x: float
    y: float
    value: float
    day: int
    css: str


@dataclass
class Panel:
    key: str
    label: str
    top: float
    bottom: float
    paths: list[tuple[str, str]] = field(default_factory=list)  # (css, d)
    dots: list[Dot] = field(default_factory=list)
    baselines: list[tuple[float, float, str]] = field(default_factory=list)  # (y, value, css)
    ticks: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Mark:
    x: float
    label: str
    css: str = ""
    day: int = 0
    label_y: float = 0
    label_x: float = 0
    label_css: str = ""


@dataclass
class OutcomeChart:
    width: int
    height: int
    left: int
    right: int
    panels: list[Panel]
    events: list[Mark]
    classes: list[Mark]
    day_ticks: list[Mark]
    strip_y: float
    axis_y: float
    empty: bool


def _nice_max(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if value <= step:
            return float(step)
    return float(value)


def outcome_chart(picture: dict) -> OutcomeChart:
    """Geometry for ``picture`` (:func:`protocol_tracker.clinical.selectors.recipient_outcomes`)."""
    visit_days = [v["day"] for v in picture["visits"] if v["day"] is not None and v["day"] >= 0]
    event_days = [e["day"] for e in picture["events"] if e["day"] is not None]
    last = max([90, *visit_days, *event_days])
    span = float(last)
    right_edge = WIDTH - RIGHT

    def x_of(day: float) -> float:
        return round(LEFT + (right_edge - LEFT) * max(day, 0) / span, 1)

    panels: list[Panel] = []
    top = TOP
    for key, label, measures in PANELS:
        panel = Panel(key=key, label=str(label), top=top, bottom=top + PANEL_H)
        values = [
            p["value"]
            for m in measures
            for p in picture["series"].get(m, [])
            if p["value"] is not None
        ]
        base = [picture["baseline"].get(m) for m in measures]
        high = _nice_max(max([v for v in [*values, *base] if v is not None] or [1]) * 1.1)
        if key == "tir":
            high = 100.0

        def y_of(value: float, panel=panel, high=high) -> float:
            return round(panel.bottom - (panel.bottom - panel.top) * value / high, 1)

        panel.ticks = [(y_of(0), "0"), (y_of(high), f"{high:g}")]
        for m in measures:
            css = SERIES_CSS.get(m, "series")
            points = [
                p for p in picture["series"].get(m, []) if p["day"] is not None and p["day"] >= 0
            ]
            if points:
                panel.paths.append(
                    (
                        css,
                        " ".join(
                            f"{'M' if i == 0 else 'L'}{x_of(p['day'])},{y_of(p['value'])}"
                            for i, p in enumerate(points)
                        ),
                    )
                )
                panel.dots.extend(
                    Dot(x_of(p["day"]), y_of(p["value"]), p["value"], p["day"], css) for p in points
                )
            if picture["baseline"].get(m) is not None:
                b = picture["baseline"][m]
                panel.baselines.append((y_of(b), b, css))
        panels.append(panel)
        top += PANEL_H + GAP
    strip_y = top + 4
    axis_y = strip_y + STRIP_H
    events = [
        Mark(x_of(e["day"]), f"{e['label']} {e['drug']}".strip(), e["kind"], e["day"])
        for e in picture["events"]
        if e["day"] is not None and e["day"] >= 0
    ]
    for i, e in enumerate(events):  # staggered so that close events keep their labels apart
        e.label_y = TOP + 22 + 12 * (i % 3)
        right = e.x > LEFT + (right_edge - LEFT) * 0.6  # label to the left of late events
        e.label_x = round(e.x - 3 if right else e.x + 3, 1)
        e.label_css = "label-right" if right else ""
    classes = [
        Mark(
            x_of(v["day"]),
            v["assessments"]["igls_2018"]["outcome"] or "",
            f"igls-{v['assessments']['igls_2018']['outcome'] or 'none'}",
            v["day"],
        )
        for v in picture["visits"]
        if v.get("assessments") and v["day"] is not None
    ]
    step = 30 if last <= 200 else 90 if last <= 800 else 180
    day_ticks = [Mark(x_of(d), str(d), day=d) for d in range(0, last + 1, step)]
    return OutcomeChart(
        width=WIDTH,
        height=axis_y + AXIS_H,
        left=LEFT,
        right=right_edge,
        panels=panels,
        events=events,
        classes=classes,
        day_ticks=day_ticks,
        strip_y=strip_y,
        axis_y=axis_y,
        empty=not visit_days,
    )
