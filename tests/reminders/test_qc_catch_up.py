"""An out-of-spec alert whose immediate enqueue was lost (broker down at commit) is caught up by
the sweep, once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import qc_result_record
from protocol_tracker.reminders.models import Notification
from protocol_tracker.reminders.services import qc_failures_catch_up
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import run_create, run_start, stage_start
from tests.builders import simple_protocol_data
from tests.factories import DonorFactory, protocol_from_dict

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_result(lab, technician, reviewer, django_capture_on_commit_callbacks):
    protocol = protocol_from_dict(lab, simple_protocol_data())
    run = run_create(
        lab=lab,
        protocol=protocol,
        donor=DonorFactory(lab=lab, code="LOST-01"),
        actor=technician,
        planned_start=timezone.now() - timedelta(hours=1),
    )
    run_start(run=run, actor=technician)
    collect = stage_start(
        stage_run=StageRun.objects.get(run=run, stage__key="collect"), actor=technician
    )
    # The on-commit enqueue of the immediate alert never runs: as if the broker were down.
    with django_capture_on_commit_callbacks(execute=False):
        result = qc_result_record(
            stage_run=collect,
            checkpoint=collect.stage.checkpoints.get(),
            value=False,
            unit=None,
            measured_at=timezone.now(),
            actor=technician,
        )
    return result


def test_lost_alert_is_created_by_the_catch_up_once(failing_result):
    assert Deviation.objects.filter(qc_result=failing_result).count() == 1
    assert not Notification.objects.filter(kind="qc_failed").exists()
    later = timezone.now() + timedelta(minutes=2)

    first = qc_failures_catch_up(now=later)
    second = qc_failures_catch_up(now=later + timedelta(minutes=1))

    assert first == [failing_result.pk]
    assert second == []
    assert list(
        Notification.objects.filter(kind="qc_failed", object_id=failing_result.pk).values_list(
            "recipient__username", flat=True
        )
    ) == ["reviewer-a"]


def test_catch_up_leaves_the_immediate_path_its_minute(failing_result):
    assert qc_failures_catch_up(now=timezone.now()) == []
    assert not Notification.objects.filter(kind="qc_failed").exists()


def test_catch_up_ignores_alerts_older_than_a_day(failing_result):
    assert qc_failures_catch_up(now=timezone.now() + timedelta(hours=25)) == []
