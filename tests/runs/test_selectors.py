"""Run selectors: lab scoping, progress counts, constant query counts, lineage and the bench
board. (The reads that need QC records are qc's: tests/qc/test_selectors.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.runs.models import Run
from protocol_tracker.runs.selectors import (
    bench_board,
    run_for_user,
    run_lineage,
    runs_for_user,
)
from protocol_tracker.runs.services import run_create, run_spawn_child, run_start
from tests.builders import T0, work_stage
from tests.factories import DonorFactory

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

    with django_assert_num_queries(1):  # memberships and counts are subqueries
        rows = {
            r.pk: (r.stages_total, r.stages_completed, r.stages_open, r.protocol.code, r.donor.code)
            for r in runs_for_user(technician)
        }

    assert rows == {
        runs[0].pk: (3, 1, 1, "simple", "SEL-00"),
        runs[1].pk: (3, 0, 1, "simple", "SEL-01"),
        runs[2].pk: (3, 0, 1, "simple", "SEL-02"),
    }
    assert list(runs_for_user(other_technician)) == []
    assert runs_for_user(technician, lab=other_lab).count() == 0
    assert runs_for_user(technician, status="planned").count() == 0
    assert [r.pk for r in runs_for_user(technician, search="sel-01")] == [runs[1].pk]


def test_run_for_user_hides_other_labs(lab, protocol, technician, other_technician):
    (run,) = _runs(lab, protocol, technician, 1)

    assert run_for_user(run_id=run.pk, user=technician) == run
    with pytest.raises(Run.DoesNotExist):
        run_for_user(run_id=run.pk, user=other_technician)


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


def _board(lab, **kwargs) -> dict[str, list[str]]:
    board = bench_board(lab=lab, **kwargs)
    return {c.key: [sr.stage.key for sr in c.stages] for c in board.columns}


def test_the_bench_board_sorts_open_stages_by_when_they_are_due(
    lab, other_lab, protocol, technician, django_assert_num_queries
):
    (_run,) = _runs(lab, protocol, technician, 1)  # collect is due at T0 + 24 h

    with time_machine.travel(T0 + 25 * H, tick=False):
        with django_assert_num_queries(8):  # two counts, then each column's stages and tasks
            board = bench_board(lab=lab)
        assert {c.key: (c.stage_count, c.task_count) for c in board.columns} == {
            "overdue": (1, 0),
            "today": (0, 0),
            "next": (0, 0),
        }
        assert _board(lab) == {"overdue": ["collect"], "today": [], "next": []}
        assert _board(lab, user=technician, mine=True) == {"overdue": [], "today": [], "next": []}
        assert _board(other_lab) == {"overdue": [], "today": [], "next": []}
    with time_machine.travel(T0, tick=False):  # 09:00 in Shanghai: due tomorrow morning
        assert _board(lab) == {"overdue": [], "today": [], "next": ["collect"]}
