"""QC trends: a checkpoint's values across the lab's batches as a control chart."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from protocol_tracker.protocols import selectors as protocol_selectors
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.protocols.selectors import NUMERIC_VALUE_TYPES
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc.models import Verdict
from protocol_tracker.web.access import lab_view, or_404, use_lab
from protocol_tracker.web.charts import control_chart

TREND_POINTS = 60


@lab_view
def trend_index(request: HttpRequest) -> HttpResponse:
    lab = request.lab
    checkpoints = protocol_selectors.trend_checkpoints(lab=lab) if lab is not None else []
    groups: dict[str, list[CheckpointTemplate]] = {}
    for cp in checkpoints:
        groups.setdefault(f"{cp.protocol.name} v{cp.protocol.version}", []).append(cp)
    return render(request, "web/trend_index.html", {"nav": "trends", "groups": groups})


def trend_rows(checkpoint: CheckpointTemplate, lab) -> list[dict]:
    """The chart's points: the checkpoint's trend in ``lab`` (any version of its protocol),
    oldest first, at most ``TREND_POINTS``. One query."""
    return [
        {
            "value": point["value"],
            "label": point["run_code"],
            "when": point["measured_at"],
            "failed": point["verdict"] == Verdict.FAIL,
            "run_id": point["run_id"],
        }
        for point in qc_selectors.checkpoint_trend(
            checkpoint=checkpoint, lab=lab, limit=TREND_POINTS
        )
    ]


@lab_view
def trend_chart(request: HttpRequest, pk: int) -> HttpResponse:
    checkpoint = or_404(protocol_selectors.checkpoint_detail, checkpoint_id=pk, user=request.user)
    lab = checkpoint.protocol.lab
    use_lab(request, lab)
    numeric = checkpoint.value_type in NUMERIC_VALUE_TYPES
    rows = trend_rows(checkpoint, lab) if numeric else []
    spec = checkpoint.spec or {}
    chart = control_chart(
        rows,
        spec_min=spec.get("min"),
        spec_max=spec.get("max"),
        labels={"mean": _("mean"), "lsl": _("spec min"), "usl": _("spec max")},
    )
    return render(
        request,
        "web/trend_chart.html",
        {
            "nav": "trends",
            "checkpoint": checkpoint,
            "chart": chart,
            "rows": rows,
            "numeric": numeric,
        },
    )
