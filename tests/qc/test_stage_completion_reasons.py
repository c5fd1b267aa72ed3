"""Completing a stage resolves its open bench tasks (each with a reason) and needs the reason
first when it finishes outside its window; the window deviation carries that reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import qc_result_record, stage_complete
from protocol_tracker.runs.models import StageRun, TaskOccurrence
from protocol_tracker.runs.services import NOT_DUE_REASON, TaskResolutionInput, stage_start
from tests.builders import T0

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def expand(active_run, technician):
    """'expand' in progress from T0 + 24 h (due T0 + 96 h; feeds at +48, +72, +96 h), its
    blocking checks recorded."""
    collect = StageRun.objects.select_related("stage").get(run=active_run, stage__key="collect")
    with time_machine.travel(T0, tick=False):
        collect = stage_start(stage_run=collect, actor=technician)
        qc_result_record(stage_run=collect, checkpoint=collect.stage.checkpoints.get(),
                         value=True, unit=None, measured_at=T0, actor=technician)  # fmt: skip
    with time_machine.travel(T0 + 24 * H, tick=False):
        stage_complete(stage_run=collect, actor=technician)
        sr = stage_start(
            stage_run=StageRun.objects.get(run=active_run, stage__key="expand"), actor=technician
        )
        for key, value in (("viability", 90), ("density", 6), ("mycoplasma", False)):
            qc_result_record(
                stage_run=sr,
                checkpoint=sr.stage.checkpoints.get(key=key),
                value=value,
                unit=None,
                measured_at=T0 + 24 * H,
                actor=technician,
            )
    return StageRun.objects.select_related("stage", "run").get(pk=sr.pk)


def _feeds(sr):
    return list(TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at"))


def _written():
    return (
        AuditEvent.objects.count(),
        list(TaskOccurrence.objects.order_by("pk").values_list("resolution", "skipped", "done_at")),
        Deviation.objects.count(),
        list(StageRun.objects.order_by("pk").values_list("status", flat=True)),
    )


def test_open_tasks_that_fell_due_need_a_resolution_each(expand, technician):
    feeds = _feeds(expand)
    before = _written()
    with time_machine.travel(T0 + 96 * H, tick=False), pytest.raises(ValidationFailed) as exc:
        stage_complete(stage_run=expand, actor=technician)

    assert exc.value.code == "completion_needs_reasons"
    assert list(exc.value.fields) == ["tasks"]
    assert [m.split(" is open")[0] for m in exc.value.fields["tasks"]] == [
        f"'Feed' due {f.due_at:%Y-%m-%d %H:%M} UTC" for f in feeds
    ]
    assert _written() == before

    with time_machine.travel(T0 + 96 * H, tick=False):
        stage_complete(
            stage_run=expand,
            actor=technician,
            task_resolutions=[
                TaskResolutionInput(feeds[0].pk, "done_late", "fed, logged on paper"),
                TaskResolutionInput(feeds[1].pk, "skipped", "incubator alarm"),
                TaskResolutionInput(feeds[2].pk, "not_applicable", "harvest day"),
            ],
        )
    rows = list(
        TaskOccurrence.objects.filter(stage_run=expand).order_by("due_at").values_list(
            "resolution", "resolution_reason", "skipped", "done_by", "resolved_by")
    )  # fmt: skip
    assert rows == [
        ("done_late", "fed, logged on paper", False, technician.pk, technician.pk),
        ("skipped", "incubator alarm", True, None, technician.pk),
        ("not_applicable", "harvest day", True, None, technician.pk),
    ]
    assert AuditEvent.objects.filter(action="task.resolve").count() == 3
    assert Deviation.objects.count() == 0  # on time


def test_tasks_not_yet_due_become_not_applicable(expand, technician):
    feeds = _feeds(expand)
    early = T0 + 90 * H  # 6 h early: outside the 2 h window, so a reason too
    with time_machine.travel(early, tick=False):
        stage_complete(
            stage_run=expand,
            actor=technician,
            window_reason="harvest brought forward",
            task_resolutions=[
                TaskResolutionInput(feeds[0].pk, "done_late", "logged late"),
                TaskResolutionInput(feeds[1].pk, "done_late", "logged late"),
            ],
        )
    feeds = _feeds(expand)
    assert (feeds[2].resolution, feeds[2].resolution_reason) == ("not_applicable", NOT_DUE_REASON)


def test_outside_the_window_the_reason_comes_first_and_goes_into_the_deviation(expand, technician):
    feeds = _feeds(expand)
    resolutions = [TaskResolutionInput(f.pk, "done_late", "logged late") for f in feeds]
    before = _written()
    with time_machine.travel(T0 + 102 * H, tick=False):
        with pytest.raises(ValidationFailed) as exc:
            stage_complete(stage_run=expand, actor=technician, task_resolutions=resolutions)
        assert exc.value.fields == {
            "window_reason": [
                "stage 'Expand' finishes 6.0 h late, outside its allowed window: give the reason "
                "first (it goes into the window deviation)"
            ]
        }
        assert _written() == before
        stage_complete(stage_run=expand, actor=technician, task_resolutions=resolutions,
                       window_reason="waited for the QC lab")  # fmt: skip

    deviation = Deviation.objects.get()
    assert (deviation.kind, deviation.severity, deviation.title) == (
        "window", "minor", "Stage 'Expand' finished 6.0 h late")  # fmt: skip
    assert deviation.description.endswith("Reason given at completion: waited for the QC lab")


def test_both_missing_are_named_in_one_refusal(expand, technician):
    with time_machine.travel(T0 + 102 * H, tick=False), pytest.raises(ValidationFailed) as exc:
        stage_complete(stage_run=expand, actor=technician)
    assert sorted(exc.value.fields) == ["tasks", "window_reason"]


@pytest.mark.parametrize(
    ("resolution", "reason", "message"),
    [
        ("forgotten", "x", "resolution must be one of"),
        ("skipped", "   ", "reason is required"),
        ("skipped", "bad\x07bell", "control characters"),
    ],
)
def test_a_bad_resolution_is_refused_and_nothing_written(
    expand, technician, resolution, reason, message
):
    feeds = _feeds(expand)
    items = [TaskResolutionInput(feeds[0].pk, resolution, reason)] + [
        TaskResolutionInput(f.pk, "skipped", "ok") for f in feeds[1:]
    ]
    before = _written()
    with time_machine.travel(T0 + 96 * H, tick=False), pytest.raises(ValidationFailed) as exc:
        stage_complete(stage_run=expand, actor=technician, task_resolutions=items)
    assert message in " ".join(exc.value.fields["tasks"])
    assert _written() == before


def test_a_resolution_for_another_stage_s_task_is_refused(expand, technician):
    feeds = _feeds(expand)
    items = [TaskResolutionInput(f.pk, "skipped", "ok") for f in feeds]
    items.append(TaskResolutionInput(10**9, "skipped", "not mine"))
    with time_machine.travel(T0 + 96 * H, tick=False), pytest.raises(ValidationFailed) as exc:
        stage_complete(stage_run=expand, actor=technician, task_resolutions=items)
    assert exc.value.fields["tasks"] == [f"task occurrence {10**9} is not open on this stage"]
