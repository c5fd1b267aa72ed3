"""The chain of identity and custody on the run page and in the batch record: one context
builder each, a fixed number of queries; and the shipment's temperature plot (server-side SVG)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from protocol_tracker.custody import selectors as custody_selectors
from protocol_tracker.custody.models import Shipment
from protocol_tracker.custody.services import RUN_SUBJECT
from protocol_tracker.identity import selectors as identity_selectors
from protocol_tracker.runs.models import Run
from protocol_tracker.web.custody_forms import LabelPrintForm

WIDTH, HEIGHT = 860, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 16, 40


def custody_context(run: Run) -> dict:
    """What the run page's custody section shows: the COI, the items and their chain (gaps
    flagged), identity scans, shipments, label prints and their reconciliation."""
    chain = custody_selectors.custody_chain(run=run)
    prints = list(
        identity_selectors.label_prints_of_subject(
            lab=run.lab_id, subject_type=RUN_SUBJECT, subject_id=run.pk
        )
    )
    for record in prints:
        record.unaccounted = record.label_count - record.used_total - record.destroyed_total
    return {
        "custody": {
            "coi": run.donor.coi.value if run.donor.coi_id else "",
            "chain": chain,
            "gaps": sum(len(c.gaps) for c in chain),
            "scans": list(custody_selectors.scans_of_run(run=run)),
            "shipments": list(custody_selectors.shipments_of_run(run=run)),
            "prints": prints,
            "print_form": LabelPrintForm(),
        }
    }


def custody_record_context(run: Run) -> dict:
    """The batch record's custody section: plain rows (``custody_for_batch_record``)."""
    return {
        "custody_record": {
            "coi": run.donor.coi.value if run.donor.coi_id else "",
            "handoffs": custody_selectors.custody_for_batch_record(run),
            "scans": custody_selectors.identity_scans_for_batch_record(run),
            "shipments": list(custody_selectors.shipments_of_run(run=run)),
        }
    }


@dataclass
class TemperaturePlot:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    path: str = ""
    band_y: float = 0
    band_h: float = 0
    excursions: list[tuple[float, float]] = field(default_factory=list)  # x, width
    marks: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, °C
    ticks: list[tuple[float, str]] = field(default_factory=list)  # y, label
    times: list[tuple[float, str, str]] = field(default_factory=list)  # x, label, anchor
    empty: bool = True

    @property
    def plot_width(self) -> int:
        return self.right - self.left


def temperature_plot(shipment: Shipment, *, tz) -> TemperaturePlot:
    """The last logger file of ``shipment``: readings, the allowed range shaded, excursions
    marked."""
    plot = TemperaturePlot()
    files = list(shipment.logger_files.all())
    if not files or not files[-1].series:
        return plot
    logger = files[-1]
    points = [(datetime.fromisoformat(t), float(v)) for t, v in logger.series]
    t0, t1 = points[0][0], points[-1][0]
    span = max((t1 - t0).total_seconds(), 1)
    lo = min(min(v for _t, v in points), shipment.range_min_c) - 1
    hi = max(max(v for _t, v in points), shipment.range_max_c) + 1

    def x(moment: datetime) -> float:
        return round(plot.left + (moment - t0).total_seconds() / span * (plot.right - plot.left), 1)

    def y(value: float) -> float:
        return round(plot.bottom - (value - lo) / (hi - lo) * (plot.bottom - plot.top), 1)

    plot.empty = False
    plot.path = "M" + " L".join(f"{x(t)},{y(v)}" for t, v in points)
    plot.band_y = y(shipment.range_max_c)
    plot.band_h = round(y(shipment.range_min_c) - plot.band_y, 1)
    for excursion in logger.excursions:
        start = x(datetime.fromisoformat(excursion["start"]))
        end = x(datetime.fromisoformat(excursion["end"]))
        plot.excursions.append((start, max(end - start, 2)))
    plot.marks = [
        (x(t), y(v), v) for t, v in points if v < shipment.range_min_c or v > shipment.range_max_c
    ][:200]
    plot.ticks = [(y(v), f"{v:g} °C") for v in (shipment.range_min_c, shipment.range_max_c)]
    plot.times = [
        (x(t), t.astimezone(tz).strftime("%m-%d %H:%M"), anchor)
        for t, anchor in ((t0, "start"), (t0 + (t1 - t0) / 2, "middle"), (t1, "end"))
    ]
    return plot
