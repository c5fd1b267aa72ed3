"""Donors, run creation and planning, run and stage transitions, bench tasks, passages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed
from protocol_tracker.protocols.models import ProtocolStatus
from protocol_tracker.qc.services import stage_complete
from protocol_tracker.runs.models import (
    Donor,
    PassageEvent,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)
from protocol_tracker.runs.services import (
    donor_create,
    run_create,
    run_hold,
    run_passage,
    run_resume,
    run_spawn_child,
    run_start,
    run_terminate,
    stage_assign,
    stage_fail,
    stage_start,
    task_done,
)
from tests.builders import T0, complete, simple_protocol_data
from tests.factories import DonorFactory, protocol_from_dict

H = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def _stages(run) -> dict[str, StageRun]:
    return {sr.stage.key: sr for sr in run.stage_runs.select_related("stage")}


# --- donors ---------------------------------------------------------------------------------


def test_donor_create_records_consent_and_audits(lab, technician):
    donor = donor_create(
        lab=lab,
        code="PT-0042",
        consent_given=True,
        consent_scope=["reprogramming", "banking"],
        consent_version="2.1",
        actor=technician,
    )

    assert (donor.code, donor.consent_given, donor.consent_scope) == (
        "PT-0042",
        True,
        ["reprogramming", "banking"],
    )
    event = AuditEvent.objects.get(action="donor.create")
    assert (event.object_id, event.actor_user, event.lab_id) == (str(donor.pk), technician, lab.pk)


@pytest.mark.parametrize("code", ["john smith", "ab", "x" * 40, "lower-case"])
def test_donor_code_must_be_a_pseudonym(lab, technician, code):
    with pytest.raises(ValidationFailed) as exc:
        donor_create(lab=lab, code=code, consent_given=True, actor=technician)

    assert list(exc.value.fields) == ["code"]
    assert Donor.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_duplicate_donor_is_a_conflict(lab, technician):
    donor_create(lab=lab, code="PT-0042", consent_given=True, actor=technician)

    with pytest.raises(Conflict):
        donor_create(lab=lab, code="PT-0042", consent_given=True, actor=technician)
    assert Donor.objects.count() == 1


def test_viewer_and_other_lab_cannot_create_donors(lab, viewer, other_technician):
    for actor in (viewer, other_technician):
        with pytest.raises(NotPermitted):
            donor_create(lab=lab, code="PT-0042", consent_given=True, actor=actor)
    assert Donor.objects.count() == 0


# --- creating and planning ------------------------------------------------------------------


def test_run_create_plans_every_stage_along_the_chain(planned_run, protocol, donor):
    stages = _stages(planned_run)

    assert planned_run.code == "DON-001-SIMPLE-001"
    assert planned_run.status == RunStatus.PLANNED
    assert [(k, sr.status, sr.planned_start, sr.due_at) for k, sr in stages.items()] == [
        ("collect", StageStatus.PENDING, T0, T0 + 24 * H),
        ("expand", StageStatus.PENDING, T0 + 24 * H, T0 + 96 * H),
        ("release", StageStatus.PENDING, T0 + 96 * H, T0 + 144 * H),
    ]
    feeds = list(
        TaskOccurrence.objects.filter(stage_run=stages["expand"]).values_list("due_at", flat=True)
    )
    assert feeds == [T0 + 48 * H, T0 + 72 * H, T0 + 96 * H]


def test_run_create_audits_the_run_and_each_stage_run(planned_run):
    events = list(AuditEvent.objects.filter(run=planned_run).values_list("action", flat=True))

    assert events == ["run.create", "stage_run.plan", "stage_run.plan", "stage_run.plan"]
    assert AuditEvent.objects.get(action="run.create").after["task_occurrences"] == 3


def test_second_run_of_the_same_donor_gets_the_next_code(
    lab, protocol, donor, technician, planned_run
):
    second = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician)

    assert second.code == "DON-001-SIMPLE-002"


def test_plan_follows_the_dag_a_stage_waits_for_all_its_dependencies(lab, technician, donor):
    data = simple_protocol_data("dag")
    data["stages"] = [
        {**data["stages"][0], "checkpoints": []},
        {
            **data["stages"][1],
            "key": "left",
            "expected_duration_hours": 10,
            "tasks": [],
            "checkpoints": [],
        },
        {
            **data["stages"][1],
            "key": "right",
            "expected_duration_hours": 30,
            "tasks": [],
            "checkpoints": [],
        },
        {**data["stages"][2], "depends_on": ["left", "right"], "checkpoints": []},
    ]
    protocol = protocol_from_dict(lab, data)

    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)

    plan = {k: (sr.planned_start - T0, sr.due_at - T0) for k, sr in _stages(run).items()}
    assert plan == {
        "collect": (0 * H, 24 * H),
        "left": (24 * H, 34 * H),
        "right": (24 * H, 54 * H),
        "release": (54 * H, 102 * H),
    }


def test_durations_are_wall_clock_in_the_labs_zone_across_daylight_saving(
    other_lab, technician, donor
):
    """Europe/London springs forward on 29 March 2026: a 24 h stage ends at the same local time."""
    from tests.factories import MembershipFactory

    MembershipFactory(user=technician, lab=other_lab, role="technician")
    protocol = protocol_from_dict(other_lab, simple_protocol_data())
    london_donor = DonorFactory(lab=other_lab, code="LDN-001")
    start = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # 09:00 GMT

    run = run_create(
        lab=other_lab, protocol=protocol, donor=london_donor, actor=technician, planned_start=start
    )

    collect = _stages(run)["collect"]
    assert collect.due_at == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert collect.due_at - collect.planned_start == 23 * H


def test_run_create_refuses_without_consent_and_writes_nothing(lab, protocol, technician):
    donor = DonorFactory(lab=lab, code="NOCONSENT", consent_given=False)

    with pytest.raises(ValidationFailed, match="consent"):
        run_create(lab=lab, protocol=protocol, donor=donor, actor=technician)
    assert (Run.objects.count(), StageRun.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)


def test_run_create_enforces_a_recorded_consent_scope(lab, technician):
    data = simple_protocol_data("reprog")
    data["stages"][0]["kind"] = "reprogramming"
    protocol = protocol_from_dict(lab, data)
    donor = DonorFactory(lab=lab, code="SCOPED", consent_scope=["banking"])

    with pytest.raises(ValidationFailed, match="does not cover reprogramming"):
        run_create(lab=lab, protocol=protocol, donor=donor, actor=technician)
    assert Run.objects.count() == 0


def test_run_create_refuses_a_draft_protocol_or_another_labs(lab, other_lab, donor, technician):
    draft = protocol_from_dict(lab, simple_protocol_data("draft"), status=ProtocolStatus.DRAFT)
    foreign = protocol_from_dict(other_lab, simple_protocol_data("foreign"))

    for protocol in (draft, foreign):
        with pytest.raises(ValidationFailed) as exc:
            run_create(lab=lab, protocol=protocol, donor=donor, actor=technician)
        assert list(exc.value.fields) == ["protocol"]
    assert Run.objects.count() == 0


def test_run_create_refuses_a_naive_planned_start(lab, protocol, donor, technician):
    with pytest.raises(ValidationFailed) as exc:
        run_create(
            lab=lab,
            protocol=protocol,
            donor=donor,
            actor=technician,
            planned_start=datetime(2026, 1, 1, 9, 0),
        )
    assert list(exc.value.fields) == ["planned_start"]


def test_run_create_refuses_a_duplicate_code(lab, protocol, donor, technician, planned_run):
    with pytest.raises(Conflict):
        run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, code=planned_run.code)
    assert Run.objects.count() == 1


def test_run_create_query_count_does_not_grow_with_the_runs_in_the_database(
    lab, protocol, donor, technician
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            run_create(lab=lab, protocol=protocol, donor=donor, actor=technician)
        return len(ctx.captured_queries)

    first = count()  # includes the actor's role lookup, cached on the user afterwards
    later = [count() for _ in range(6)]
    # stages, dependencies, tasks, codes taken, run, stage runs, tasks, audit head + insert,
    # and savepoints (one more on PostgreSQL: the audit chain's advisory lock)
    expected = 15 if connection.vendor == "sqlite" else 16
    assert (first, later) == (expected + 1, [expected] * 6)


# --- lineage ----------------------------------------------------------------------------------


def test_child_run_inherits_donor_passage_and_root(lab, protocol, technician, active_run):
    run_passage(run=active_run, actor=technician)
    run_passage(run=active_run, actor=technician, kind="split")

    child = run_spawn_child(parent=active_run, protocol=protocol, actor=technician)
    grandchild = run_spawn_child(parent=child, protocol=protocol, actor=technician)

    assert (child.donor_id, child.passage, child.parent_id, child.root_id) == (
        active_run.donor_id,
        2,
        active_run.pk,
        active_run.pk,
    )
    assert (grandchild.root_id, grandchild.parent_id) == (active_run.pk, child.pk)
    assert child.code == "DON-001-SIMPLE-002"


def test_child_run_must_keep_the_parents_donor(lab, protocol, technician, active_run):
    stranger = DonorFactory(lab=lab, code="OTHER-01")

    with pytest.raises(ValidationFailed, match="chain of identity"):
        run_create(lab=lab, protocol=protocol, donor=stranger, actor=technician, parent=active_run)
    assert Run.objects.count() == 1


# --- run transitions --------------------------------------------------------------------------


def test_run_start_makes_the_roots_ready(planned_run, technician):
    run = run_start(run=planned_run, actor=technician)

    assert run.status == RunStatus.ACTIVE
    assert {k: sr.status for k, sr in _stages(run).items()} == {
        "collect": StageStatus.READY,
        "expand": StageStatus.PENDING,
        "release": StageStatus.PENDING,
    }
    assert list(AuditEvent.objects.filter(run=run).values_list("action", flat=True))[-2:] == [
        "run.start",
        "stage_run.ready",
    ]


def test_run_start_twice_is_refused(active_run, technician):
    with pytest.raises(InvalidTransition, match="is active; it cannot start"):
        run_start(run=active_run, actor=technician)


def test_hold_blocks_stage_work_until_resumed(active_run, technician):
    collect = _stages(active_run)["collect"]
    run_hold(run=active_run, actor=technician, reason="incubator alarm")

    with pytest.raises(InvalidTransition, match="needs an active run"):
        stage_start(stage_run=collect, actor=technician)

    run_resume(run=active_run, actor=technician)
    assert stage_start(stage_run=collect, actor=technician).status == StageStatus.IN_PROGRESS


def test_hold_needs_a_reason(active_run, technician):
    with pytest.raises(ValidationFailed):
        run_hold(run=active_run, actor=technician, reason="  ")
    active_run.refresh_from_db()
    assert active_run.status == RunStatus.ACTIVE


def test_terminate_is_for_reviewers_and_closes_open_work(active_run, technician, reviewer):
    with pytest.raises(NotPermitted):
        run_terminate(run=active_run, actor=technician, reason="contaminated")

    collect = _stages(active_run)["collect"]
    stage_start(stage_run=collect, actor=technician)
    run = run_terminate(run=active_run, actor=reviewer, reason="contaminated")

    assert run.status == RunStatus.TERMINATED
    assert {k: sr.status for k, sr in _stages(run).items()} == {
        "collect": StageStatus.FAILED,
        "expand": StageStatus.SKIPPED,
        "release": StageStatus.SKIPPED,
    }
    assert not TaskOccurrence.objects.filter(stage_run__run=run, skipped=False).exists()


# --- stage transitions ------------------------------------------------------------------------


def test_stage_cannot_start_before_its_predecessor_completes(active_run, technician):
    with pytest.raises(InvalidTransition) as exc:
        stage_start(stage_run=_stages(active_run)["expand"], actor=technician)

    assert exc.value.message == "stage 'Expand' cannot start: 'Collect' is not completed"


def test_stage_complete_is_refused_while_a_blocking_result_is_missing(active_run, technician):
    collect = stage_start(stage_run=_stages(active_run)["collect"], actor=technician)
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidTransition) as exc:
        stage_complete(stage_run=collect, actor=technician)

    assert exc.value.message == "stage 'Collect' cannot complete: no result yet for 'Volume Ok'"
    assert exc.value.fields == {"checkpoints": ["volume_ok"]}
    collect.refresh_from_db()
    assert collect.status == StageStatus.IN_PROGRESS
    assert AuditEvent.objects.count() == events


def test_stage_fail_and_assign(active_run, technician, technician2, viewer):
    collect = stage_start(stage_run=_stages(active_run)["collect"], actor=technician)

    assert (
        stage_assign(stage_run=collect, assignee=technician2, actor=technician).assignee
        == technician2
    )
    with pytest.raises(ValidationFailed):
        stage_assign(stage_run=collect, assignee=viewer, actor=technician)

    failed = stage_fail(stage_run=collect, actor=technician, reason="clotted sample")
    assert failed.status == StageStatus.FAILED
    assert "clotted sample" in failed.notes
    with pytest.raises(InvalidTransition):
        stage_fail(stage_run=collect, actor=technician, reason="again")


# --- bench tasks ------------------------------------------------------------------------------


def test_task_done_once(active_run, technician):
    from protocol_tracker.qc.services import qc_result_record

    collect = stage_start(stage_run=_stages(active_run)["collect"], actor=technician)
    qc_result_record(
        stage_run=collect,
        checkpoint=collect.stage.checkpoints.get(),
        value=True,
        unit=None,
        measured_at=T0,
        actor=technician,
    )
    with time_machine.travel(T0 + 24 * H, tick=False):
        complete(collect, technician)
        expand = stage_start(stage_run=_stages(active_run)["expand"], actor=technician)
    feed = TaskOccurrence.objects.filter(stage_run=expand).first()

    done = task_done(occurrence=feed, actor=technician, note="mTeSR lot 123")

    assert (done.done_by, done.note) == (technician, "mTeSR lot 123")
    with pytest.raises(Conflict):
        task_done(occurrence=feed, actor=technician)
    assert AuditEvent.objects.filter(action="task.done").count() == 1


def test_task_done_needs_a_started_stage(active_run, technician):
    feed = TaskOccurrence.objects.filter(stage_run__run=active_run).first()

    with pytest.raises(InvalidTransition, match="while it is in progress"):
        task_done(occurrence=feed, actor=technician)


# --- passages ---------------------------------------------------------------------------------


def test_passage_counter_moves_on_passage_and_split_not_on_thaw_or_freeze(active_run, technician):
    for kind in ("passage", "freeze", "thaw", "split", "passage"):
        run = run_passage(run=active_run, actor=technician, kind=kind)

    assert run.passage == 3
    assert list(
        PassageEvent.objects.filter(run=run).values_list("kind", "passage_before", "passage_after")
    ) == [("passage", 0, 1), ("freeze", 1, 1), ("thaw", 1, 1), ("split", 1, 2), ("passage", 2, 3)]
    assert AuditEvent.objects.filter(action="passage_event.create").count() == 5


def test_passage_refuses_an_unknown_kind(active_run, technician):
    with pytest.raises(ValidationFailed):
        run_passage(run=active_run, actor=technician, kind="bleach")
    assert PassageEvent.objects.count() == 0
