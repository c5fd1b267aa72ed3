"""QC trends: a checkpoint's values across the lab's batches as a control chart."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from protocol_tracker.protocols.models import CheckpointTemplate, ValueType
from protocol_tracker.qc.models import QCResult, Verdict
from protocol_tracker.web.access import lab_view, scoped_or_404, use_lab
from protocol_tracker.web.charts import control_chart

TREND_POINTS = 60
NUMERIC = (ValueType.NUMBER, ValueType.PERCENT)


@lab_view
def trend_index(request: HttpRequest) -> HttpResponse:
    lab = request.lab
    latest: dict[tuple[str, str], CheckpointTemplate] = {}
    if lab is not None:
        checkpoints = (
            CheckpointTemplate.objects.for_lab(lab)
            .filter(value_type__in=NUMERIC)
            .select_related("protocol", "stage")
            .order_by("protocol__code", "-protocol__version", "stage__order", "order")
        )
        for cp in checkpoints:
            latest.setdefault((cp.protocol.code, cp.key), cp)
    groups: dict[str, list[CheckpointTemplate]] = {}
    for cp in latest.values():
        groups.setdefault(f"{cp.protocol.name} v{cp.protocol.version}", []).append(cp)
    return render(request, "web/trend_index.html", {"nav": "trends", "groups": groups})


def trend_rows(checkpoint: CheckpointTemplate, lab) -> list[dict]:
    """The current numeric results of this checkpoint (any version of its protocol) in ``lab``,
    oldest first, at most ``TREND_POINTS``. One query."""
    results = list(
        QCResult.objects.for_lab(lab)
        .filter(
            checkpoint_id__in=CheckpointTemplate.objects.for_lab(lab)
            .filter(protocol__code=checkpoint.protocol.code, key=checkpoint.key)
            .values("pk"),
            superseded_by__isnull=True,
            value_number__isnull=False,
        )
        .exclude(verdict=Verdict.INVALID)
        .select_related("stage_run__run")
        .only(
            "pk",
            "value_number",
            "value_in_spec_unit",
            "verdict",
            "measured_at",
            "stage_run__run_id",
            "stage_run__run__code",
        )
        .order_by("-measured_at", "-pk")[:TREND_POINTS]
    )
    results.reverse()
    return [
        {
            "value": r.value_in_spec_unit if r.value_in_spec_unit is not None else r.value_number,
            "label": r.stage_run.run.code,
            "when": r.measured_at,
            "failed": r.verdict == Verdict.FAIL,
            "run_id": r.stage_run.run_id,
        }
        for r in results
    ]


@lab_view
def trend_chart(request: HttpRequest, pk: int) -> HttpResponse:
    checkpoint = scoped_or_404(
        request, CheckpointTemplate.objects.select_related("protocol__lab", "stage"), pk=pk
    )
    lab = checkpoint.protocol.lab
    use_lab(request, lab)
    rows = trend_rows(checkpoint, lab) if checkpoint.value_type in NUMERIC else []
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
            "numeric": checkpoint.value_type in NUMERIC,
        },
    )
