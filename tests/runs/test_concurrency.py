"""Races on PostgreSQL with real threads: the row locks make one writer win and the other see
the new state (never two completions, two current results, or a lost passage increment)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from protocol_tracker.core.errors import DomainError
from protocol_tracker.qc.models import QCResult
from protocol_tracker.qc.services import qc_result_record, stage_complete
from protocol_tracker.runs.models import Run, StageRun, StageStatus
from protocol_tracker.runs.services import run_create, run_passage, run_start, stage_start
from tests.builders import completion_reasons, simple_protocol_data
from tests.factories import DonorFactory, protocol_from_dict

pytestmark = pytest.mark.postgres


def _race(*calls):
    """Run each call in its own thread, released together; returns results or exceptions."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


@pytest.fixture
def started(postgres, transactional_db, lab, technician, technician2):
    protocol = protocol_from_dict(lab, simple_protocol_data())
    donor = DonorFactory(lab=lab, code="RACE-01")
    run = run_create(
        lab=lab,
        protocol=protocol,
        donor=donor,
        actor=technician,
        planned_start=timezone.now() - timedelta(hours=24),
    )
    run_start(run=run, actor=technician)
    collect = StageRun.objects.select_related("stage").get(run=run, stage__key="collect")
    return stage_start(stage_run=collect, actor=technician)


def test_two_technicians_complete_the_same_stage_at_once(started, technician, technician2):
    qc_result_record(
        stage_run=started,
        checkpoint=started.stage.checkpoints.get(),
        value=True,
        unit=None,
        measured_at=timezone.now(),
        actor=technician,
    )

    reasons = completion_reasons(started)
    outcomes = _race(
        lambda: stage_complete(stage_run=started, actor=technician, **reasons),
        lambda: stage_complete(stage_run=started, actor=technician2, **reasons),
    )

    wins = [o for o in outcomes if isinstance(o, StageRun)]
    losses = [o for o in outcomes if isinstance(o, DomainError)]
    assert (len(wins), len(losses)) == (1, 1), outcomes
    assert losses[0].code == "invalid_transition"
    started.refresh_from_db()
    assert started.status == StageStatus.COMPLETED
    assert started.completed_by == wins[0].completed_by


def test_two_results_for_one_checkpoint_at_once(started, technician, technician2):
    checkpoint = started.stage.checkpoints.get()

    def record(actor):
        return lambda: qc_result_record(
            stage_run=started,
            checkpoint=checkpoint,
            value=True,
            unit=None,
            measured_at=timezone.now(),
            actor=actor,
        )

    outcomes = _race(record(technician), record(technician2))

    assert sorted(type(o).__name__ for o in outcomes) == ["QCResult", "ValidationFailed"]
    assert QCResult.objects.filter(stage_run=started, superseded_by__isnull=True).count() == 1


def test_concurrent_passages_are_all_counted(started, technician, technician2):
    run = started.run
    outcomes = _race(
        *[lambda a=a: run_passage(run=run, actor=a) for a in (technician, technician2) * 3]
    )

    assert all(isinstance(o, Run) for o in outcomes), outcomes
    run.refresh_from_db()
    assert run.passage == 6
    assert sorted(run.passage_events.values_list("passage_after", flat=True)) == [1, 2, 3, 4, 5, 6]
