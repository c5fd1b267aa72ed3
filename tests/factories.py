"""factory_boy factories: rows written directly, as test data (no service, no audit entry).

Builders that go through the real services are in ``tests.builders``. ``protocol_from_dict``
writes a whole protocol definition as rows; ``stage_run_due`` and ``failed_result`` give the
reminder tests open work and failed results without running the workflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from labs.models import Instrument, InstrumentKind, Lab, Membership, Role
from protocol_tracker.identity.layouts import PtLayout
from protocol_tracker.identity.models import Coi
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
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

PASSWORD = "correct horse battery"
H = timedelta(hours=1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lab
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Lab {n}")
    slug = factory.Sequence(lambda n: f"lab-{n}")
    timezone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    lab = factory.SubFactory(LabFactory)
    role = Role.TECHNICIAN


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument

    lab = factory.SubFactory(LabFactory)
    name = factory.Sequence(lambda n: f"Instrument {n}")
    kind = InstrumentKind.FLOW_CYTOMETER
    make = "BD"
    model = "FACSCanto II"
    serial = factory.Sequence(lambda n: f"SN{n:05d}")
    allowed_assays = factory.LazyFunction(lambda: ["flow_cytometry"])


class CoiFactory(factory.django.DjangoModelFactory):
    """A COI row in the built-in layout (numbers from 90000 up, clear of the services')."""

    class Meta:
        model = Coi

    lab = factory.SubFactory(LabFactory)
    layout = "pt"
    prefix = "TF"
    year = 2026
    sequence = factory.Sequence(lambda n: 90000 + n)
    value = factory.LazyAttribute(
        lambda o: PtLayout().format(prefix=o.prefix, year=o.year, sequence=o.sequence)
    )


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor

    lab = factory.SubFactory(LabFactory)
    code = factory.Sequence(lambda n: f"DN-{n:04d}")
    consent_given = True
    consent_scope = factory.LazyFunction(
        lambda: ["reprogramming", "banking", "genetic_testing", "future_use"]
    )
    consent_version = "v1"


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
    """An out-of-spec viability result on ``stage_run``."""
    from protocol_tracker.protocols.models import ValueType
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


def protocol_from_dict(
    lab, data: dict[str, Any], *, version: int = 1, status: str = ProtocolStatus.PUBLISHED
) -> ProtocolTemplate:
    """``data`` (a definition from ``tests.builders``) as rows of ``lab``, ``status`` at once:
    no import rules, no audit entry, any ``version``."""
    protocol = ProtocolTemplate.objects.create(
        lab=lab,
        code=data["code"],
        name=data["name"],
        version=version,
        status=ProtocolStatus.DRAFT,
        description=data.get("description", ""),
    )
    stages: dict[str, StageTemplate] = {}
    for order, s in enumerate(data["stages"], start=1):
        stages[s["key"]] = StageTemplate.objects.create(
            protocol=protocol,
            key=s["key"],
            order=order,
            name=s["name"],
            kind=s["kind"],
            expected_duration=timedelta(hours=s["expected_duration_hours"]),
            window_early=timedelta(hours=s["window_early_hours"]),
            window_late=timedelta(hours=s["window_late_hours"]),
            reminder_lead=timedelta(hours=s.get("reminder_lead_hours") or 0) or None,
            description=s.get("description", ""),
            source=s.get("source", ""),
        )
        for t in s.get("tasks", []):
            TaskTemplate.objects.create(
                stage=stages[s["key"]],
                key=t["key"],
                name=t["name"],
                every=timedelta(hours=t["every_hours"]) if t.get("every_hours") else None,
                on_days=t.get("on_days"),
                description=t.get("description", ""),
            )
        for c_order, c in enumerate(s.get("checkpoints", [])):
            CheckpointTemplate.objects.create(
                stage=stages[s["key"]],
                protocol=protocol,
                key=c["key"],
                order=c_order,
                assay=c["assay"],
                name=c["name"],
                metric=c["metric"],
                unit=c["unit"],
                value_type=c["value_type"],
                spec=c["spec"] or {},
                blocking=c["blocking"],
                recorded_by=c["recorded_by"],
                analyte=c.get("analyte") or "",
                pending_allowed=c["pending_allowed"],
                retest_every_passages=c["retest_every_passages"],
                retest_every_days=c.get("retest_every_days"),
                requires_consent=c.get("requires_consent") or [],
                source=c["source"],
                notes=c.get("notes", ""),
            )
    for s in data["stages"]:
        if s["depends_on"]:
            stages[s["key"]].depends_on.set([stages[d] for d in s["depends_on"]])
    if status != ProtocolStatus.DRAFT:
        # Frozen last: published templates refuse changes to their stages (a DB trigger).
        ProtocolTemplate.objects.filter(pk=protocol.pk).update(status=status)
        protocol.status = status
    return protocol
