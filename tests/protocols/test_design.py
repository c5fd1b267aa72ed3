"""Designing a draft: stages, tasks, checkpoints; field validation, roles and audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import NotPermitted, ValidationFailed
from protocol_tracker.protocols import services
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)
from tests.builders import H, approve
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _stage(protocol, key, actor, **kwargs):
    values = {"name": key.title(), "kind": "expansion", "expected_duration": 24 * H,
              "window_early": 2 * H, "window_late": 4 * H}  # fmt: skip
    values.update(kwargs)
    return services.stage_template_add(protocol=protocol, key=key, actor=actor, **values)


def _counts():
    return (ProtocolTemplate.objects.count(), StageTemplate.objects.count(),
            TaskTemplate.objects.count(), CheckpointTemplate.objects.count(),
            AuditEvent.objects.count())  # fmt: skip


def test_create_draft_numbers_versions_per_code_and_lab(lab, other_lab, lab_admin):
    first = services.protocol_create_draft(lab=lab, code="islet", name="Islet", actor=lab_admin)
    second = services.protocol_create_draft(lab=lab, code="islet", name="Islet", actor=lab_admin)
    elsewhere = services.protocol_create_draft(lab=other_lab, code="islet", name="I", actor=None)

    assert (first.version, second.version, elsewhere.version) == (1, 2, 1)
    assert first.status == ProtocolStatus.DRAFT
    assert first.created_by == lab_admin
    assert second.previous_version is None  # only frozen versions are linked
    event = AuditEvent.objects.get(action="protocol.draft_created", object_id=str(first.pk))
    assert event.actor_user == lab_admin
    assert event.lab_id == lab.pk
    assert event.after == {"code": "islet", "name": "Islet", "version": 1}


@pytest.mark.parametrize("role_user", ["technician", "reviewer", "viewer", "other_technician"])
def test_only_lab_admins_design(request, lab, role_user):
    user = request.getfixturevalue(role_user)
    before = _counts()

    with pytest.raises(NotPermitted) as exc:
        services.protocol_create_draft(lab=lab, code="x", name="X", actor=user)

    assert exc.value.message == (
        "only a lab admin of this lab may design, publish or retire protocols"
    )
    assert _counts() == before


def test_stage_add_orders_and_links_dependencies(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    a = _stage(protocol, "a", lab_admin)
    b = _stage(protocol, "b", lab_admin, depends_on=["a"], reminder_lead=3 * H)

    assert (a.order, b.order) == (1, 2)
    assert list(b.depends_on.values_list("key", flat=True)) == ["a"]
    event = AuditEvent.objects.get(action="stage_template.added", object_id=str(b.pk))
    assert event.after["depends_on"] == ["a"]
    assert event.after["reminder_lead"] == "P0DT03H00M00S"


def test_stage_add_rejects_bad_fields_and_writes_nothing(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    _stage(protocol, "a", lab_admin)
    before = _counts()

    with pytest.raises(ValidationFailed) as exc:
        _stage(
            protocol,
            "a",
            lab_admin,
            kind="brewing",
            expected_duration=timedelta(0),
            window_early=-H,
            reminder_lead=-H,
            depends_on=["a", "zzz"],
            order=1,
        )

    assert exc.value.fields == {
        "key": ["stage 'a' already exists in this protocol"],
        "kind": ["must be one of: collection, reprogramming, expansion, banking, "
                 "differentiation, release, transplant, follow_up"],
        "expected_duration": ["must be positive"],
        "window_early": ["must not be negative"],
        "reminder_lead": ["must not be negative"],
        "depends_on": ["a stage cannot depend on itself", "unknown stage 'zzz'"],
        "order": ["order 1 is taken by 'a'"],
    }  # fmt: skip
    assert _counts() == before


def test_stage_update_refuses_a_cycle_and_names_it(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    a = _stage(protocol, "a", lab_admin)
    _stage(protocol, "b", lab_admin, depends_on=["a"])
    _stage(protocol, "c", lab_admin, depends_on=["b"])

    with pytest.raises(ValidationFailed) as exc:
        services.stage_template_update(stage=a, actor=lab_admin, depends_on=["c"])

    assert exc.value.fields == {"depends_on": ["would make a dependency cycle: a → c → b → a"]}
    assert list(a.depends_on.all()) == []


def test_stage_update_changes_fields_and_audits_only_the_difference(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    _stage(protocol, "a", lab_admin)
    b = _stage(protocol, "b", lab_admin)

    services.stage_template_update(
        stage=b, actor=lab_admin, name="Bee", depends_on=["a"], expected_duration=48 * H
    )

    b.refresh_from_db()
    assert (b.name, b.expected_duration) == ("Bee", 48 * H)
    assert list(b.depends_on.values_list("key", flat=True)) == ["a"]
    event = AuditEvent.objects.get(action="stage_template.updated")
    assert event.before == {"name": "B", "expected_duration": "P1DT00H00M00S", "depends_on": []}
    assert event.after == {"name": "Bee", "expected_duration": "P2DT00H00M00S", "depends_on": ["a"]}


def test_stage_update_rejects_unknown_fields(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    a = _stage(protocol, "a", lab_admin)

    with pytest.raises(ValidationFailed) as exc:
        services.stage_template_update(stage=a, actor=lab_admin, protocol_id=99)

    assert exc.value.fields == {"protocol_id": ["cannot be changed"]}


def test_stage_remove_refused_while_needed_then_removes_children(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    a = _stage(protocol, "a", lab_admin)
    b = _stage(protocol, "b", lab_admin, depends_on=["a"])
    services.task_template_add(stage=b, key="feed", name="Feed", every=24 * H, actor=lab_admin)
    services.checkpoint_template_add(stage=b, key="v", assay="count", name="V", metric="v",
                                     unit="%", value_type="percent", spec={"min": 70},
                                     actor=lab_admin)  # fmt: skip

    with pytest.raises(ValidationFailed) as exc:
        services.stage_template_remove(stage=a, actor=lab_admin)
    assert exc.value.message == "stage 'a' is needed by 'b'; remove those dependencies first"

    services.stage_template_remove(stage=b, actor=lab_admin)

    assert list(StageTemplate.objects.filter(protocol=protocol).values_list("key", flat=True)) \
        == ["a"]  # fmt: skip
    assert TaskTemplate.objects.count() == 0
    assert CheckpointTemplate.objects.count() == 0
    event = AuditEvent.objects.get(action="stage_template.removed")
    assert event.object_id == str(b.pk)
    assert (event.before["key"], event.before["tasks"], event.before["checkpoints"]) == (
        "b", ["feed"], ["v"])  # fmt: skip


def test_stages_reorder(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    for key in ("a", "b", "c"):
        _stage(protocol, key, lab_admin)

    services.stage_templates_reorder(protocol=protocol, keys=["c", "a", "b"], actor=lab_admin)

    assert dict(StageTemplate.objects.values_list("key", "order")) == {"c": 1, "a": 2, "b": 3}
    event = AuditEvent.objects.get(action="stage_template.reordered")
    assert event.after == {"order": {"c": 1, "a": 2, "b": 3}}
    with pytest.raises(ValidationFailed):
        services.stage_templates_reorder(protocol=protocol, keys=["a", "b"], actor=lab_admin)


@pytest.mark.parametrize(
    ("every", "on_days", "fields"),
    [
        (None, None, {"every": ["give either a repeat interval or days from the stage start, "
                                "not both and not neither"]}),
        (24 * H, [1], {"every": ["give either a repeat interval or days from the stage start, "
                                 "not both and not neither"]}),
        (timedelta(minutes=30), None, {"every": ["must be at least 1 hour"]}),
        (None, [], {"on_days": ["must be a non-empty list of days"]}),
        (None, [1, -1], {"on_days": ["days must be whole numbers ≥ 0"]}),
        (None, [2, 2], {"on_days": ["lists a day twice"]}),
    ],
)  # fmt: skip
def test_task_add_validates_schedule(lab, lab_admin, every, on_days, fields):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    stage = _stage(protocol, "a", lab_admin)

    with pytest.raises(ValidationFailed) as exc:
        services.task_template_add(
            stage=stage, key="t", name="T", every=every, on_days=on_days, actor=lab_admin
        )

    assert exc.value.fields == fields
    assert TaskTemplate.objects.count() == 0


def test_task_add_update_remove_are_audited(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    stage = _stage(protocol, "a", lab_admin)

    task = services.task_template_add(
        stage=stage, key="t", name="T", on_days=[7, 0, 3], actor=lab_admin
    )
    services.task_template_update(task=task, actor=lab_admin, on_days=None, every=H)
    services.task_template_remove(task=task, actor=lab_admin)

    assert TaskTemplate.objects.count() == 0
    events = list(AuditEvent.objects.filter(action__startswith="task_template.")
                  .values_list("action", "before", "after"))  # fmt: skip
    assert events == [
        ("task_template.added", None,
         {"stage": "a", "key": "t", "name": "T", "every": None, "on_days": [0, 3, 7],
          "description": ""}),
        ("task_template.updated", {"every": None, "on_days": [0, 3, 7]},
         {"every": "P0DT01H00M00S", "on_days": None}),
        ("task_template.removed",
         {"stage": "a", "key": "t", "name": "T", "every": "P0DT01H00M00S", "on_days": None,
          "description": ""}, None),
    ]  # fmt: skip


def test_checkpoint_add_validates_unit_and_spec(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    stage = _stage(protocol, "a", lab_admin)

    with pytest.raises(ValidationFailed) as exc:
        services.checkpoint_template_add(
            stage=stage, key="v", assay="count", name="V", metric="v", unit="furlongs",
            value_type="number", spec={"min": 5, "max": 3}, actor=lab_admin)  # fmt: skip
    assert exc.value.fields == {"unit": ["unknown unit 'furlongs'"]}

    with pytest.raises(ValidationFailed) as exc:
        services.checkpoint_template_add(
            stage=stage, key="v", assay="count", name="V", metric="v", unit="cells/mL",
            value_type="number", spec={"min": 5, "max": 3}, recorded_by="robot",
            actor=lab_admin)  # fmt: skip
    assert exc.value.fields == {
        "recorded_by": ["must be one of: person, instrument, any, system"],
        "spec": ["min (5) is greater than max (3)"],
    }

    with pytest.raises(ValidationFailed) as exc:
        services.checkpoint_template_add(
            stage=stage, key="v", assay="count", name="V", metric="v", unit="cells/mL",
            value_type="percent", spec={}, actor=lab_admin)  # fmt: skip
    assert exc.value.fields == {
        "unit": ["a percent checkpoint must use a percent unit such as '%', not 'cells/mL'"]
    }
    assert CheckpointTemplate.objects.count() == 0


def test_checkpoint_update_rechecks_spec_against_new_unit(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    stage = _stage(protocol, "a", lab_admin)
    cp = services.checkpoint_template_add(
        stage=stage, key="v", assay="count", name="V", metric="v", unit="%",
        value_type="percent", spec={"min": 70}, actor=lab_admin)  # fmt: skip

    with pytest.raises(ValidationFailed) as exc:
        services.checkpoint_template_update(checkpoint=cp, actor=lab_admin, value_type="boolean")
    assert exc.value.fields == {
        "unit": ["a boolean checkpoint takes no unit, got '%'"],
        "spec": ["a boolean checkpoint takes 'expected', not min/max"],
    }

    services.checkpoint_template_update(
        checkpoint=cp, actor=lab_admin, spec={"min": 80}, blocking=False
    )
    cp.refresh_from_db()
    assert (cp.spec, cp.blocking) == ({"min": 80}, False)
    event = AuditEvent.objects.get(action="checkpoint_template.updated")
    assert event.before == {"spec": {"min": 70}, "blocking": True}
    assert event.after == {"spec": {"min": 80}, "blocking": False}

    services.checkpoint_template_remove(checkpoint=cp, actor=lab_admin)
    assert CheckpointTemplate.objects.count() == 0
    assert (
        AuditEvent.objects.filter(
            action="checkpoint_template.removed", object_id=str(cp.pk)
        ).count()
        == 1
    )


def test_checkpoint_keys_unique_per_protocol(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    a = _stage(protocol, "a", lab_admin)
    b = _stage(protocol, "b", lab_admin)
    kwargs = {
        "key": "v",
        "assay": "count",
        "name": "V",
        "metric": "v",
        "unit": "",
        "value_type": "boolean",
        "spec": {"expected": True},
        "actor": lab_admin,
    }
    services.checkpoint_template_add(stage=a, **kwargs)

    with pytest.raises(ValidationFailed) as exc:
        services.checkpoint_template_add(stage=b, **kwargs)

    assert exc.value.fields == {"key": ["checkpoint 'v' already exists in this protocol"]}


def test_protocol_update_and_discard(lab, lab_admin):
    protocol = services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    _stage(protocol, "a", lab_admin)

    services.protocol_update(protocol=protocol, actor=lab_admin, name="Renamed")
    services.protocol_draft_discard(protocol=protocol, actor=lab_admin)

    assert ProtocolTemplate.objects.count() == 0
    assert StageTemplate.objects.count() == 0
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [
        "protocol.draft_created", "stage_template.added", "protocol.updated",
        "protocol.draft_discarded",
    ]  # fmt: skip


def test_every_write_leaves_audit_events(lab, lab_admin, reviewer):
    """Each service call appends its events (import and publish-with-retire append more)."""
    from tests.builders import chain_definition

    def events_of(call):
        start = AuditEvent.objects.count()
        result = call()
        new = list(AuditEvent.objects.order_by("id")[start:].values_list("action", "actor_label"))
        return result, new

    p, ev = events_of(
        lambda: services.protocol_create_draft(lab=lab, code="p", name="P", actor=lab_admin)
    )
    assert ev == [("protocol.draft_created", "admin-a")]
    a, ev = events_of(lambda: _stage(p, "a", lab_admin))
    assert ev == [("stage_template.added", "admin-a")]
    _, ev = events_of(lambda: services.stage_template_update(stage=a, actor=lab_admin, name="A1"))
    assert ev == [("stage_template.updated", "admin-a")]
    _, ev = events_of(lambda: services.stage_template_update(stage=a, actor=lab_admin, name="A1"))
    assert ev == []  # nothing changed, nothing written
    _, ev = events_of(
        lambda: services.task_template_add(stage=a, key="t", name="T", every=H, actor=lab_admin)
    )
    assert ev == [("task_template.added", "admin-a")]
    _, ev = events_of(lambda: services.checkpoint_template_add(
        stage=a, key="c", assay="a", name="C", metric="m", unit="", value_type="boolean",
        spec={"expected": True}, actor=lab_admin))  # fmt: skip
    assert ev == [("checkpoint_template.added", "admin-a")]
    signed = [("signature.sign", "reviewer-a"), ("protocol.approved", "reviewer-a")]
    _, ev = events_of(lambda: approve(p, reviewer))
    assert ev == [("protocol.published", "reviewer-a"), *signed]
    v2, ev = events_of(lambda: services.protocol_new_version(protocol=p, actor=lab_admin))
    assert ev == [("protocol.version_created", "admin-a")]
    _, ev = events_of(lambda: approve(v2, reviewer, retire_previous=True))
    assert ev == [("protocol.published", "reviewer-a"), ("protocol.retired", "reviewer-a"), *signed]
    _, ev = events_of(
        lambda: services.protocol_retire(
            protocol=v2, actor=reviewer, password=PASSWORD, reason="withdrawn"
        )
    )
    assert ev == [("protocol.retired", "reviewer-a"), ("signature.sign", "reviewer-a")]
    _, ev = events_of(
        lambda: services.protocol_import(
            lab=lab, definition=chain_definition(2), actor=lab_admin, publish=False
        )
    )
    assert ev == [("protocol.imported", "admin-a")]


def test_import_default_protocols_command(lab):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("import_default_protocols", "--lab", lab.slug, stdout=out)
    call_command("import_default_protocols", "--lab", lab.slug, stdout=out)

    assert (
        out.getvalue().splitlines()
        == [
            "e-islet-autologous v1: draft",
            "sc-beta-stepwise v1: draft",
        ]
        * 2
    )
    assert ProtocolTemplate.objects.count() == 2
