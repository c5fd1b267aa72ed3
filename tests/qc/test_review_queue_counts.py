"""The reviewer queue counts each run's open deviations and out-of-spec results exactly, however
many results and deviations a run holds (two multi-valued counts over joins once multiplied
each other: 9 open deviations × 63 results showed 567). The web page and the API show the same
numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from protocol_tracker.protocols.services import protocol_import
from protocol_tracker.qc.models import QCResult
from protocol_tracker.qc.selectors import review_queue
from protocol_tracker.qc.services import (
    deviation_disposition,
    deviation_open,
    qc_result_correct,
    qc_results_record_bulk,
)
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, RunStatus, StageRun
from tests.builders import complete, new_donor, wide_definition
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

CHECKPOINTS = 63


@dataclass(frozen=True)
class Expected:
    results: int  # every result recorded, corrections included
    current: int  # results no correction superseded
    failed: int  # current results out of spec
    open_deviations: int
    deviations: int  # open and closed


def _completed_run(protocol, technician, reviewer, *, results, failing, corrected, open_, closed):
    """A completed one-stage run: ``results`` informational results (the first ``failing`` out
    of spec, ``corrected`` of those corrected to a passing value), ``open_`` deviations left
    open and ``closed`` closed with a reviewer's signature."""
    run = run_services.run_create(
        lab=protocol.lab,
        protocol=protocol,
        donor=new_donor(protocol.lab, technician),
        actor=technician,
        planned_start=timezone.now() - timedelta(hours=2),
    )
    run = run_services.run_start(run=run, actor=technician)
    stage_run = run_services.stage_start(
        stage_run=StageRun.objects.select_related("run__lab", "stage").get(run=run),
        actor=technician,
    )
    measured = timezone.now() - timedelta(hours=1)
    checkpoints = list(protocol.checkpoints.order_by("key"))[:results]
    rows = [
        {
            "stage_run": stage_run.pk,
            "checkpoint": cp.pk,
            "value": -1.0 if i < failing else float(i),
            "unit": "",
            "measured_at": measured,
        }
        for i, cp in enumerate(checkpoints)
    ]
    recorded = qc_results_record_bulk(rows=rows, actor=technician)
    for result in recorded[:corrected]:
        qc_result_correct(
            result=result,
            value=5,
            unit="",
            measured_at=timezone.now() - timedelta(minutes=30),
            reason="transcription error",
            actor=technician,
        )
    deviations = [
        deviation_open(run=run, kind="manual", title=f"Event {i}", actor=technician)
        for i in range(open_ + closed)
    ]
    for deviation in deviations[open_:]:
        deviation_disposition(
            deviation=deviation,
            decision="accept",
            justification="no impact on the batch",
            password=PASSWORD,
            actor=reviewer,
        )
    complete(StageRun.objects.get(pk=stage_run.pk), technician)
    run = Run.objects.get(pk=run.pk)
    assert run.status == RunStatus.COMPLETED
    return run


@pytest.fixture
def queue(lab, technician, reviewer):
    """Run A: 63 results (5 out of spec), 9 open deviations. Run B: 10 results (2 out of
    spec, one of them corrected to a pass: 11 results, 1 failing), 3 open and 1 closed."""
    protocol = protocol_import(lab=lab, definition=wide_definition("queue", CHECKPOINTS))
    a = _completed_run(
        protocol, technician, reviewer, results=63, failing=5, corrected=0, open_=9, closed=0
    )
    b = _completed_run(
        protocol, technician, reviewer, results=10, failing=2, corrected=1, open_=3, closed=1
    )
    return {
        a: Expected(results=63, current=63, failed=5, open_deviations=9, deviations=9),
        b: Expected(results=11, current=10, failed=1, open_deviations=3, deviations=4),
    }


def test_the_data_is_what_the_queue_must_count(queue):
    for run, expected in queue.items():
        assert QCResult.objects.filter(stage_run__run=run).count() == expected.results
        assert run.deviations.count() == expected.deviations


def test_the_queue_counts_each_run_exactly(lab, queue, django_assert_num_queries):
    with django_assert_num_queries(3):  # runs (with both counts), stages, deviations
        found = review_queue(lab=lab)

    assert {r.pk: (r.open_deviations, r.failed_results) for r in found.runs} == {
        run.pk: (expected.open_deviations, expected.failed) for run, expected in queue.items()
    }
    assert len(found.deviations) == sum(e.open_deviations for e in queue.values())


def _queue_row(body: str, run: Run) -> list[str]:
    """The cells of the run's row in the queue's "Runs awaiting release" table."""
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    (row,) = [r for r in rows if f'href="/runs/{run.pk}/record/"' in r]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_the_web_queue_shows_the_exact_counts(client, queue, reviewer):
    client.force_login(reviewer)
    body = client.get("/review/").content.decode()

    for run, expected in queue.items():
        cells = _queue_row(body, run)
        # run, protocol, donor, completed, open deviations, out-of-spec results, actions
        assert (cells[0], cells[4], cells[5]) == (
            run.code,
            str(expected.open_deviations),
            str(expected.failed),
        )


def test_the_api_shows_the_same_counts(client, queue, reviewer):
    client.force_login(reviewer)

    for run, expected in queue.items():
        detail = client.get(f"/api/v1/runs/{run.pk}/").json()
        current = [r for sr in detail["stage_runs"] for r in sr["current_results"]]
        open_listed = client.get(f"/api/v1/deviations/?run={run.pk}&open=true").json()["results"]
        failed_listed = client.get(
            f"/api/v1/qc-results/?run={run.pk}&current=true&verdict=fail"
        ).json()["results"]
        assert (
            len([d for d in detail["deviations"] if d["status"] != "closed"]),
            len(detail["deviations"]),
            len(current),
            len([r for r in current if r["verdict"] == "fail"]),
            len(open_listed),
            len(failed_listed),
        ) == (
            expected.open_deviations,
            expected.deviations,
            expected.current,
            expected.failed,
            expected.open_deviations,
            expected.failed,
        )
