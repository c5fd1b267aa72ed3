"""Control chart geometry and the trend page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from protocol_tracker.web.charts import control_chart

LABELS = {"mean": "mean", "lsl": "spec min", "usl": "spec max"}


def _rows(values, failed=()):
    when = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        {"value": v, "label": f"R{i}", "when": when, "failed": i in failed, "run_id": i}
        for i, v in enumerate(values)
    ]


def test_mean_sigma_and_lines():
    chart = control_chart(
        _rows([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), spec_min=1.0, spec_max=None, labels=LABELS
    )
    assert chart.mean == 5.0
    assert round(chart.sigma, 6) == 2.13809  # sample standard deviation
    assert [line.css for line in chart.lines] == [
        "mean",
        "sigma2",
        "sigma2",
        "sigma3",
        "sigma3",
        "speclimit",
    ]
    assert chart.lines[-1].label == "spec min 1"
    ys = {line.css: line.y for line in chart.lines}
    assert chart.plot_top <= min(ys.values()) and max(ys.values()) <= chart.plot_bottom


def test_out_of_spec_and_beyond_three_sigma_points_are_marked():
    values = [10.0] * 11 + [10.5] * 11 + [30.0]
    chart = control_chart(_rows(values, failed={22}), spec_min=None, spec_max=20.0, labels=LABELS)
    assert chart.out_of_spec == 1 and chart.points[22].out_of_spec
    assert chart.beyond_3sigma == 1 and chart.points[22].beyond_3sigma
    assert chart.points[22].y < chart.points[0].y  # higher values are drawn higher


def test_one_point_and_no_points():
    single = control_chart(_rows([5.0]), spec_min=None, spec_max=None, labels=LABELS)
    assert (single.n, single.sigma, len(single.lines)) == (1, 0.0, 1)
    assert control_chart([], spec_min=None, spec_max=None, labels=LABELS).points == []


@pytest.mark.django_db
def test_trend_page_draws_the_batches_with_the_failure_marked(client, own, reviewer):
    client.force_login(reviewer)
    body = client.get(reverse("web:trend", args=[own.checkpoint.pk])).content.decode()
    assert '<svg class="chart"' in body and 'role="img"' in body
    assert body.count('class="pt pt-oos"') == 1
    assert "Control chart of Viability" in body
    assert f'<a href="/runs/{own.run.pk}/">{own.run.code}</a>' in body  # the data table


def test_drift_is_flagged_before_anything_fails():
    values = [90.0, 91.0, 89.0, 88.0, 86.0, 85.0, 83.0, 82.0]  # six falling from 91
    chart = control_chart(_rows(values), spec_min=70.0, spec_max=None, labels=LABELS)
    assert [p.drift for p in chart.points] == [False] * 6 + [True, True]
    assert (chart.drift, chart.out_of_spec) == (2, 0)


def test_nine_on_one_side_of_the_mean_is_drift():
    values = [10.0, 11.0, 10.0, 11.0, 10.0, 11.0, 10.0, 11.0, 10.0, 30.0]
    chart = control_chart(_rows(values), spec_min=None, spec_max=None, labels=LABELS)
    assert [p.drift for p in chart.points] == [False] * 8 + [True, False]
