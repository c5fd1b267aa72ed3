"""QC selectors: the run reads that need QC records (deviation counts, run detail, reviewer
queue), the trend of a checkpoint across batches, and results with their corrections."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.selectors import (
    checkpoint_trend,
    deviation_for_user,
    deviations_for_user,
    qc_result_correction,
    qc_result_history,
    review_queue,
    run_detail,
    runs_with_deviation_counts,
)
from protocol_tracker.qc.services import deviation_open, qc_result_correct
from protocol_tracker.runs.models import Run
from protocol_tracker.runs.services import run_create, run_start
from tests.builders import T0, simple_protocol_data, work_stage
from tests.factories import DonorFactory, protocol_from_dict

H = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def _runs(lab, protocol, technician, n, *, prefix="QCS"):
    runs = []
    for i in range(n):
        run = run_create(
            lab=lab,
            protocol=protocol,
            donor=DonorFactory(lab=lab, code=f"{prefix}-{i:02d}"),
            actor=technician,
            planned_start=T0,
        )
        runs.append(run_start(run=run, actor=technician))
    return runs


def test_runs_with_deviation_counts_adds_open_deviations(
    lab, protocol, technician, reviewer, other_technician, django_assert_num_queries
):
    runs = _runs(lab, protocol, technician, 3)
    deviation_open(run=runs[1], kind="manual", title="spill", actor=technician)
    deviation_open(run=runs[1], kind="manual", title="label", actor=technician)
    work_stage(runs[2].stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)

    with django_assert_num_queries(1):
        rows = {
            r.pk: (r.stages_completed, r.open_deviations)
            for r in runs_with_deviation_counts(technician, lab=lab)
        }

    assert rows == {runs[0].pk: (0, 0), runs[1].pk: (0, 2), runs[2].pk: (1, 0)}
    assert [r.pk for r in runs_with_deviation_counts(technician, flagged=True)] == [runs[1].pk]
    assert list(runs_with_deviation_counts(other_technician)) == []


def test_run_detail_has_a_constant_query_count(lab, protocol, technician):
    small, big = _runs(lab, protocol, technician, 2)
    for key, at in (("collect", 24), ("expand", 96)):
        work_stage(big.stage_runs.get(stage__key=key), actor=technician, at=T0 + at * H)

    counts = []
    for run in (small, big):
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
    expand = next(sr for sr in detail.stage_runs.all() if sr.stage.key == "expand")
    assert [r.checkpoint.key for r in expand.current_results] == [
        "viability",
        "density",
        "mycoplasma",
    ]


def test_run_detail_hides_other_labs(lab, protocol, technician, other_technician):
    (run,) = _runs(lab, protocol, technician, 1)
    with pytest.raises(Run.DoesNotExist):
        run_detail(run_id=run.pk, user=other_technician)


def test_every_member_sees_the_lab_queue(lab, other_lab, protocol, technician, reviewer):
    (run,) = _runs(lab, protocol, technician, 1)
    deviation = deviation_open(run=run, kind="manual", title="spill", actor=technician)

    queue = review_queue(lab=lab)
    assert (queue.deviations, queue.runs, queue.stages) == ([deviation], [], [])
    assert review_queue(lab=other_lab).deviations == []
    assert review_queue(lab=lab, limit=0).deviations == []


def test_deviations_are_read_in_the_users_labs(lab, protocol, technician, other_technician):
    (run,) = _runs(lab, protocol, technician, 1)
    deviation = deviation_open(run=run, kind="manual", title="spill", actor=technician)

    assert list(deviations_for_user(technician)) == [deviation]
    assert list(deviations_for_user(other_technician)) == []
    assert deviation_for_user(deviation_id=deviation.pk, user=technician).run == run
    with pytest.raises(Deviation.DoesNotExist):
        deviation_for_user(deviation_id=deviation.pk, user=other_technician)


def test_checkpoint_trend_is_oldest_first_in_the_spec_unit(lab, protocol, technician):
    runs = _runs(lab, protocol, technician, 3)
    for i, run in enumerate(runs):
        work_stage(run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
        work_stage(
            run.stage_runs.get(stage__key="expand"),
            actor=technician,
            at=T0 + (96 + i) * H,
            values={"density": 6 + i},
        )
    density = CheckpointTemplate.objects.get(protocol=protocol, key="density")

    trend = checkpoint_trend(checkpoint=density, lab=lab)

    assert [(p["run_code"], p["value"], p["verdict"]) for p in trend] == [
        (runs[0].code, 6.0, "pass"),
        (runs[1].code, 7.0, "pass"),
        (runs[2].code, 8.0, "pass"),
    ]
    assert [p["run_code"] for p in checkpoint_trend(checkpoint=density, lab=lab, limit=2)] == [
        runs[1].code,
        runs[2].code,
    ]


def test_two_protocol_versions_share_a_trend(lab, protocol, technician):
    v2 = protocol_from_dict(lab, simple_protocol_data(), version=2)
    (run,) = _runs(lab, v2, technician, 1)
    work_stage(run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
    work_stage(run.stage_runs.get(stage__key="expand"), actor=technician, at=T0 + 96 * H)
    viability_v1 = CheckpointTemplate.objects.get(protocol=protocol, key="viability")

    (point,) = checkpoint_trend(checkpoint=viability_v1, lab=lab)
    assert point["run_code"] == run.code


def test_a_correction_is_found_and_the_history_is_oldest_first(lab, protocol, technician):
    (run,) = _runs(lab, protocol, technician, 1)
    work_stage(run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
    expand = run.stage_runs.get(stage__key="expand")
    work_stage(expand, actor=technician, at=T0 + 96 * H)
    first = expand.qc_results.get(checkpoint__key="density")
    second = qc_result_correct(
        result=first, value=9, unit=None, measured_at=T0 + 95 * H, reason="typo", actor=technician
    )

    assert qc_result_correction(result=first, lab=lab) == second
    assert qc_result_correction(result=second, lab=lab) is None
    assert qc_result_history(result=second, lab=lab) == [first, second]
