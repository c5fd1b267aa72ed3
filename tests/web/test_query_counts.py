"""The main pages cost a fixed number of queries, whatever the number of runs in the lab."""

from __future__ import annotations

import pytest
from django.utils import timezone

from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, StageRun
from tests.builders import active_run, web_protocol

pytestmark = pytest.mark.django_db


def _add_runs(lab, protocol, technician, count: int, start: int) -> None:
    """Active runs whose first stage is in progress with a viability result (for the trend)."""
    checkpoint = CheckpointTemplate.objects.get(protocol=protocol, key="viability")
    for i in range(start, start + count):
        run = active_run(protocol, technician, donor_code=f"DON-Q{i:03d}")
        stage_run = StageRun.objects.filter(run=run).order_by("order").first()
        stage_run = run_services.stage_start(stage_run=stage_run, actor=technician)
        qc_services.qc_result_record(
            stage_run=stage_run,
            checkpoint=checkpoint,
            value=60 + i % 30,
            unit="%",
            measured_at=timezone.now(),
            actor=technician,
        )


# Page → exact query count: session, user, the user's labs, role, unread badge (5), then the
# page's own fixed set (bench: two aggregate counts and three capped lists each of stage runs
# and bench tasks; run page: the run and its stages, checkpoints, results, tasks, deviations,
# signatures, children and audit trail; the batch record adds its review by exception: results,
# deviations, stage runs, bench tasks, acknowledgements, the post-release stages, the stored
# documents; and the lots and equipment used,
# vials and vessels: four more).
PAGES = {
    "bench": (lambda s: "/", 14),  # + the re-tests due (one query)
    "runs": (lambda s: "/runs/", 8),
    "run": (
        lambda s: f"/runs/{s['run'].pk}/",
        23,
    ),  # + the chain of custody: items, hand-offs, scans, shipments, label prints; stock (4)
    "batch_record": (
        lambda s: f"/runs/{s['run'].pk}/record/",
        30,
    ),  # + the review by exception (7), the chain of custody (4) and the recipient (1), stock (4)
    "review": (lambda s: "/review/", 8),
    "trend": (lambda s: f"/trends/{s['checkpoint'].pk}/", 7),
}


def test_main_pages_cost_the_same_queries_with_2_and_20_runs(
    client, lab, technician, reviewer, django_assert_num_queries
):
    protocol = web_protocol(lab)
    _add_runs(lab, protocol, technician, 2, 0)
    subject = {
        "run": Run.objects.for_lab(lab).order_by("pk").first(),
        "checkpoint": CheckpointTemplate.objects.get(protocol=protocol, key="viability"),
    }
    client.force_login(reviewer)
    client.get("/")  # the session's first request
    for runs in (2, 20):
        if runs == 20:
            _add_runs(lab, protocol, technician, 18, 2)
        for url, expected in PAGES.values():
            with django_assert_num_queries(expected):
                assert client.get(url(subject)).status_code == 200
    assert Run.objects.for_lab(lab).count() == 20
