"""A failing blocking result reaches the reviewers at once, through a real Celery worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from protocol_tracker.celery import app
from protocol_tracker.qc.services import qc_result_record
from protocol_tracker.reminders.models import Notification
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import run_create, run_start, stage_start
from tests.builders import simple_protocol_data
from tests.factories import DonorFactory, protocol_from_dict

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_failing_result_notifies_the_reviewers_after_commit(
    lab, technician, reviewer, celery_worker
):
    app.control.purge()
    protocol = protocol_from_dict(lab, simple_protocol_data())
    run = run_create(
        lab=lab,
        protocol=protocol,
        donor=DonorFactory(lab=lab, code="NOTE-01"),
        actor=technician,
        planned_start=timezone.now() - timedelta(hours=1),
    )
    run_start(run=run, actor=technician)
    collect = stage_start(
        stage_run=StageRun.objects.get(run=run, stage__key="collect"), actor=technician
    )

    result = qc_result_record(
        stage_run=collect,
        checkpoint=collect.stage.checkpoints.get(),
        value=False,
        unit=None,
        measured_at=timezone.now(),
        actor=technician,
    )

    assert _wait_until(
        lambda: Notification.objects.filter(kind="qc_failed", object_id=result.pk).exists()
    )
    assert list(
        Notification.objects.filter(kind="qc_failed").values_list("recipient__username", flat=True)
    ) == ["reviewer-a"]
