"""Rows for the reminder tests, written directly (test data, not workflow): a protocol
with one stage and one bench task, donors, active runs, open stage runs and task occurrences."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from protocol_tracker.protocols.models import (
    ProtocolStatus,
    ProtocolTemplate,
    StageKind,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.runs.models import (
    Donor,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)
from tests.factories import LabFactory

H = timedelta(hours=1)


class ProtocolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProtocolTemplate

    lab = factory.SubFactory(LabFactory)
    code = factory.Sequence(lambda n: f"proto-{n}")
    name = "Test protocol"
    version = 1
    status = ProtocolStatus.DRAFT  # editable for the tests: a published template is frozen


class StageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageTemplate

    protocol = factory.SubFactory(ProtocolFactory)
    key = factory.Sequence(lambda n: f"stage-{n}")
    order = factory.Sequence(lambda n: n + 1)
    name = "Expansion"
    kind = StageKind.EXPANSION
    expected_duration = 72 * H
    window_early = 2 * H
    window_late = 2 * H
    reminder_lead = None


class TaskTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskTemplate

    stage = factory.SubFactory(StageTemplateFactory)
    key = factory.Sequence(lambda n: f"task-{n}")
    name = "Media change"
    every = 24 * H


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor

    lab = factory.SubFactory(LabFactory)
    code = factory.Sequence(lambda n: f"DN-{n:04d}")
    consent_given = True


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    lab = factory.SubFactory(LabFactory)
    protocol = factory.SubFactory(ProtocolFactory, lab=factory.SelfAttribute("..lab"))
    donor = factory.SubFactory(DonorFactory, lab=factory.SelfAttribute("..lab"))
    code = factory.Sequence(lambda n: f"RUN-{n:04d}")
    status = RunStatus.ACTIVE
    planned_start = factory.LazyFunction(timezone.now)


class StageRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageRun

    run = factory.SubFactory(RunFactory)
    stage = factory.SubFactory(
        StageTemplateFactory, protocol=factory.SelfAttribute("..run.protocol")
    )
    order = 1
    status = StageStatus.IN_PROGRESS
    planned_start = factory.LazyAttribute(lambda o: o.due_at - 72 * H)
    due_at = factory.LazyFunction(lambda: timezone.now() + 48 * H)


class TaskOccurrenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskOccurrence

    stage_run = factory.SubFactory(StageRunFactory)
    task = factory.SubFactory(TaskTemplateFactory, stage=factory.SelfAttribute("..stage_run.stage"))
    due_at = factory.LazyFunction(lambda: timezone.now() + 12 * H)


def stage_run_due(
    lab,
    due_at,
    *,
    assignee=None,
    lead=None,
    window_late=2 * H,
    status=StageStatus.IN_PROGRESS,
    name="Expansion",
) -> StageRun:
    """An open stage run of a new active run in ``lab``, due at ``due_at``."""
    run = RunFactory(lab=lab)
    stage = StageTemplateFactory(
        protocol=run.protocol, reminder_lead=lead, window_late=window_late, name=name
    )
    return StageRunFactory(run=run, stage=stage, due_at=due_at, assignee=assignee, status=status)


def failed_result(stage_run, *, recorded_by=None, value=61.0):
    """An out-of-spec viability result on ``stage_run`` (written directly, as test data)."""
    from protocol_tracker.protocols.models import CheckpointTemplate, ValueType
    from protocol_tracker.qc.models import QCResult, Verdict

    checkpoint = CheckpointTemplate.objects.create(
        stage=stage_run.stage,
        protocol=stage_run.run.protocol,
        key=f"viability-{stage_run.pk}",
        assay="viability",
        name="Viability",
        metric="viability",
        unit="%",
        value_type=ValueType.PERCENT,
        spec={"min": 70},
    )
    return QCResult.objects.create(
        stage_run=stage_run,
        checkpoint=checkpoint,
        value_number=value,
        unit="%",
        value_in_spec_unit=value,
        spec_snapshot={"min": 70},
        verdict=Verdict.FAIL,
        recorded_by=recorded_by,
        measured_at=timezone.now(),
    )
