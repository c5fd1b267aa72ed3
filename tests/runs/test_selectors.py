"""Run and QC selectors: lab scoping, progress counts, constant query counts, lineage, retests,
trends and the review queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.qc.selectors import (
    checkpoint_trend,
    current_results,
    deviations_for_user,
    review_queue,
)
from protocol_tracker.qc.services import deviation_open, qc_result_record
from protocol_tracker.runs.models import Run
from protocol_tracker.runs.selectors import (
    retests_due,
    run_detail,
    run_lineage,
    runs_for_user,
    stage_runs_due,
)
from protocol_tracker.runs.services import (
    run_create,
    run_passage,
    run_spawn_child,
    run_start,
    stage_start,
)
from tests.builders import T0, simple_protocol_data, work_stage
from tests.factories import DonorFactory, protocol_from_dict

H = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def _runs(lab, protocol, technician, n):
    runs = []
    for i in range(n):
        run = run_create(
            lab=lab,
            protocol=protocol,
            donor=DonorFactory(lab=lab, code=f"SEL-{i:02d}"),
            actor=technician,
            planned_start=T0,
        )
        runs.append(run_start(run=run, actor=technician))
    return runs


def test_runs_for_user_is_scoped_and_counts_progress(
    lab, other_lab, protocol, technician, other_technician, django_assert_num_queries
):
    runs = _runs(lab, protocol, technician, 3)
    work_stage(runs[0].stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
    deviation_open(run=runs[1], kind="manual", title="spill", actor=technician)

    with django_assert_num_queries(1):  # memberships and counts are subqueries
        rows = {
            r.pk: (
                r.stages_total,
                r.stages_completed,
                r.stages_open,
                r.open_deviations,
                r.protocol.code,
                r.donor.code,
            )
            for r in runs_for_user(technician)
        }

    assert rows == {
        runs[0].pk: (3, 1, 1, 0, "simple", "SEL-00"),
        runs[1].pk: (3, 0, 1, 1, "simple", "SEL-01"),
        runs[2].pk: (3, 0, 1, 0, "simple", "SEL-02"),
    }
    assert list(runs_for_user(other_technician)) == []
    assert runs_for_user(technician, status="planned").count() == 0


def test_run_detail_has_a_constant_query_count(
    lab, protocol, technician, django_assert_num_queries
):
    small, big = _runs(lab, protocol, technician, 2)
    for key, at in (("collect", 24), ("expand", 96)):
        work_stage(big.stage_runs.get(stage__key=key), actor=technician, at=T0 + at * H)

    counts = []
    for run in (small, big):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            detail = run_detail(run_id=run.pk, user=technician)
            for sr in detail.stage_runs.all():
                _ = [(r.checkpoint.key, r.recorded_by) for r in sr.current_results]
                _ = [c.key for c in sr.stage.checkpoints.all()]
                _ = [t.task.name for t in sr.tasks.all()]
                _ = list(sr.deviations.all())
            _ = list(detail.deviations.all()), list(detail.signatures.all())
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert [len(sr.current_results) for sr in detail.stage_runs.all()] == [1, 3, 0]


def test_run_detail_hides_other_labs(lab, protocol, technician, other_technician):
    (run,) = _runs(lab, protocol, technician, 1)
    with pytest.raises(Run.DoesNotExist):
        run_detail(run_id=run.pk, user=other_technician)


def test_lineage_is_one_query(lab, protocol, technician, django_assert_num_queries):
    (root,) = _runs(lab, protocol, technician, 1)
    a = run_spawn_child(parent=root, protocol=protocol, actor=technician)
    b = run_spawn_child(parent=root, protocol=protocol, actor=technician)
    a1 = run_spawn_child(parent=a, protocol=protocol, actor=technician)

    with django_assert_num_queries(1):
        tree = run_lineage(run=a1)

    assert [(n.run.pk, [c.run.pk for c in n.children]) for n in tree.walk()] == [
        (root.pk, [a.pk, b.pk]),
        (a.pk, [a1.pk]),
        (a1.pk, []),
        (b.pk, []),
    ]


def test_retest_is_due_after_the_passage_interval(lab, protocol, technician):
    (run,) = _runs(lab, protocol, technician, 1)
    work_stage(run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
    expand = run.stage_runs.select_related("stage").get(stage__key="expand")
    with time_machine.travel(T0 + 26 * H, tick=False):
        expand = stage_start(stage_run=expand, actor=technician)
        run_passage(run=run, actor=technician)
        qc_result_record(
            stage_run=expand,
            checkpoint=expand.stage.checkpoints.get(key="mycoplasma"),
            value=False,
            unit=None,
            measured_at=T0 + 26 * H,
            actor=technician,
        )
        for _ in range(4):
            run_passage(run=run, actor=technician)
    run.refresh_from_db()
    assert retests_due(run) == []

    run = run_passage(run=run, actor=technician)  # passage 6: five since the passing test
    (due,) = retests_due(run)
    assert (due.checkpoint.key, due.last_passage, due.passages_since, due.interval) == (
        "mycoplasma",
        1,
        5,
        5,
    )
    child = run_spawn_child(parent=run, protocol=protocol, actor=technician)
    assert [d.checkpoint.key for d in retests_due(child)] == ["mycoplasma"]


def test_stage_runs_due(lab, protocol, technician, other_technician):
    (_run,) = _runs(lab, protocol, technician, 1)

    assert [sr.stage.key for sr in stage_runs_due(technician, before=T0 + 25 * H)] == ["collect"]
    assert list(stage_runs_due(technician, before=T0 + 23 * H)) == []
    assert list(stage_runs_due(other_technician, before=T0 + 999 * H)) == []


def test_checkpoint_trend_and_current_results(lab, protocol, technician):
    runs = _runs(lab, protocol, technician, 3)
    for i, run in enumerate(runs):
        work_stage(run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
        work_stage(
            run.stage_runs.get(stage__key="expand"),
            actor=technician,
            at=T0 + (96 + i) * H,
            values={"density": 6 + i},
        )

    trend = checkpoint_trend(checkpoint_key="density", protocol_code="simple", lab=lab)

    assert [(p["run_code"], p["value"], p["unit"], p["verdict"]) for p in trend] == [
        (runs[0].code, 6.0, "10^6 cells/mL", "pass"),
        (runs[1].code, 7.0, "10^6 cells/mL", "pass"),
        (runs[2].code, 8.0, "10^6 cells/mL", "pass"),
    ]
    expand = runs[0].stage_runs.get(stage__key="expand")
    assert [r.checkpoint.key for r in current_results(expand)] == [
        "viability",
        "density",
        "mycoplasma",
    ]


def test_review_queue_is_for_reviewers(lab, protocol, technician, reviewer):
    (run,) = _runs(lab, protocol, technician, 1)
    deviation = deviation_open(run=run, kind="manual", title="spill", actor=technician)

    queue = review_queue(reviewer)
    assert list(queue.deviations_to_close) == [deviation]
    assert list(queue.runs_to_release) == []
    assert len(review_queue(technician)) == 0
    assert list(deviations_for_user(technician, status="open")) == [deviation]
    assert list(deviations_for_user(technician, status="closed")) == []


def test_two_protocol_versions_share_a_trend(lab, technician):
    v2 = protocol_from_dict(lab, simple_protocol_data(), version=2)
    (run,) = _runs(lab, v2, technician, 1)
    work_stage(run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
    work_stage(run.stage_runs.get(stage__key="expand"), actor=technician, at=T0 + 96 * H)

    (point,) = checkpoint_trend(checkpoint_key="viability", protocol_code="simple", lab=lab)
    assert point["protocol_version"] == 2
