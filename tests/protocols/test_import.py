"""Importing definitions: defaults, idempotency, new versions, malformed input, round trips."""

from __future__ import annotations

import copy

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import NotPermitted, ValidationFailed
from protocol_tracker.protocols import services
from protocol_tracker.protocols.defaults import PROTOCOLS
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.protocols.selectors import protocol_export
from tests.builders import H, approve, chain_definition, published_defaults

pytestmark = pytest.mark.django_db


def _counts():
    return (ProtocolTemplate.objects.count(), StageTemplate.objects.count(),
            StageTemplate.depends_on.through.objects.count(), TaskTemplate.objects.count(),
            CheckpointTemplate.objects.count(), AuditEvent.objects.count())  # fmt: skip


def test_import_defaults_makes_drafts_for_the_lab_to_confirm(lab):
    protocols = services.protocol_import_defaults(lab=lab)

    # Their convention-marked specs wait for the lab's signed confirmation, and each version for
    # a reviewer's approval: nothing of them may gate a batch yet.
    assert [(p.code, p.version, p.status) for p in protocols] == [
        ("e-islet-autologous", 1, ProtocolStatus.DRAFT),
        ("sc-beta-stepwise", 1, ProtocolStatus.DRAFT),
    ]
    for protocol, definition in zip(protocols, PROTOCOLS, strict=True):
        stages = definition["stages"]
        assert StageTemplate.objects.filter(protocol=protocol).count() == len(stages)
        assert TaskTemplate.objects.filter(stage__protocol=protocol).count() == sum(
            len(s["tasks"]) for s in stages)  # fmt: skip
        assert CheckpointTemplate.objects.filter(protocol=protocol).count() == sum(
            len(s["checkpoints"]) for s in stages)  # fmt: skip
        assert StageTemplate.depends_on.through.objects.filter(
            from_stagetemplate__protocol=protocol).count() == sum(
            len(s["depends_on"]) for s in stages)  # fmt: skip
        assert protocol.published_by is None
        assert services.protocol_validate(protocol=protocol) == []
    assert list(AuditEvent.objects.values_list("action", "actor_label")) == [
        ("protocol.imported", "system"), ("protocol.imported", "system"),
    ]  # fmt: skip


def test_import_keeps_durations_specs_and_order(lab):
    protocol = services.protocol_import_defaults(lab=lab)[0]
    source = PROTOCOLS[0]["stages"][1]  # pbmc_collection

    stage = StageTemplate.objects.get(protocol=protocol, key=source["key"])
    assert stage.order == 2
    assert stage.expected_duration == source["expected_duration_hours"] * H
    assert stage.window_late == source["window_late_hours"] * H
    assert stage.reminder_lead == source["reminder_lead_hours"] * H
    assert list(stage.depends_on.values_list("key", flat=True)) == source["depends_on"]
    for position, cp in enumerate(source["checkpoints"], start=1):
        row = CheckpointTemplate.objects.get(protocol=protocol, key=cp["key"])
        assert (row.order, row.spec, row.unit, row.blocking, row.analyte) == (
            position, cp["spec"], cp["unit"], cp["blocking"], cp["analyte"] or "")  # fmt: skip


def test_import_is_idempotent(lab, lab_admin):
    first = services.protocol_import_defaults(lab=lab)
    before = _counts()

    again = services.protocol_import_defaults(lab=lab, actor=lab_admin)

    assert [p.pk for p in again] == [p.pk for p in first]
    assert _counts() == before


def test_import_of_a_changed_definition_creates_the_next_version(lab):
    v1 = services.protocol_import(lab=lab, definition=chain_definition(3))
    changed = chain_definition(3)
    changed["stages"][1]["window_late_hours"] = 36

    v2 = services.protocol_import(lab=lab, definition=changed)
    v1_again = services.protocol_import(lab=lab, definition=chain_definition(3))

    assert (v2.version, v2.previous_version, v2.status) == (2, v1, ProtocolStatus.PUBLISHED)
    assert v2.definition_hash != v1.definition_hash
    assert v1_again == v1  # an identical older version is found, not re-created
    v1.refresh_from_db()
    assert v1.status == ProtocolStatus.PUBLISHED


def test_import_hash_ignores_spelling_that_does_not_change_meaning(lab):
    v1 = services.protocol_import(lab=lab, definition=chain_definition(3))
    respelled = chain_definition(3)
    respelled["stages"][0]["expected_duration_hours"] = 48.0
    respelled["stages"][0]["tasks"][0]["description"] = None  # missing text is ""
    respelled["stages"][1].pop("reminder_lead_hours")
    respelled["stages"][1]["reminder_lead_hours"] = 4

    assert services.protocol_import(lab=lab, definition=respelled) == v1


def test_import_as_draft_then_again_with_publish_publishes_that_draft(lab):
    draft = services.protocol_import(lab=lab, definition=chain_definition(2), publish=False)
    assert (draft.status, draft.definition_hash) == (ProtocolStatus.DRAFT, "")

    published = services.protocol_import(lab=lab, definition=chain_definition(2))

    assert published.pk == draft.pk
    assert published.status == ProtocolStatus.PUBLISHED
    assert ProtocolTemplate.objects.count() == 1


def test_an_edited_draft_no_longer_matches(lab, lab_admin):
    draft = services.protocol_import(lab=lab, definition=chain_definition(2), publish=False)
    services.stage_template_update(stage=StageTemplate.objects.get(protocol=draft, key="s2"),
                                   actor=lab_admin, name="Edited")  # fmt: skip

    fresh = services.protocol_import(lab=lab, definition=chain_definition(2))

    assert (fresh.version, fresh.previous_version) == (2, None)  # the draft is not linked


def test_import_refuses_a_definition_that_breaks_the_rules(lab):
    definition = chain_definition(3)
    definition["stages"][0]["depends_on"] = ["s3"]
    definition["stages"][1]["checkpoints"][0]["spec"] = {}
    definition["stages"][2]["key"] = "s2"
    before = _counts()

    with pytest.raises(ValidationFailed) as exc:
        services.protocol_import(lab=lab, definition=definition, publish=False)

    assert exc.value.fields == {"protocol": [
        "stage key 's2' is used more than once",
        "stage 's1' depends on unknown stage 's3'",
        "dependency cycle: s2 → s2",
        "checkpoint 's2_viability' in stage 's2': a blocking checkpoint needs an acceptance spec",
    ]}  # fmt: skip
    assert _counts() == before


def test_import_refuses_a_malformed_definition(lab):
    definition = chain_definition(2)
    definition["colour"] = "blue"
    del definition["stages"][0]["kind"]
    definition["stages"][1]["expected_duration_hours"] = "two days"
    definition["stages"][1]["checkpoints"][0]["threshold"] = 3
    before = _counts()

    with pytest.raises(ValidationFailed) as exc:
        services.protocol_import(lab=lab, definition=definition)

    assert exc.value.message == "the protocol definition is malformed"
    assert exc.value.fields == {
        "colour": ["unknown key"],
        "stages[0].kind": ["is required"],
        "stages[1].checkpoints[0].threshold": ["unknown key"],
        "stages[1].expected_duration_hours": ["must be a number of hours"],
    }
    assert _counts() == before


def test_import_needs_a_lab_admin(lab, technician):
    with pytest.raises(NotPermitted):
        services.protocol_import(lab=lab, definition=chain_definition(2), actor=technician)
    assert ProtocolTemplate.objects.count() == 0


def test_export_then_import_into_another_lab_is_the_same_protocol(lab, other_lab):
    source = published_defaults(lab)[1]
    definition = protocol_export(protocol=source)

    # The other lab confirms the conventions for itself: its copy is a draft until then.
    copy_ = approve(
        services.protocol_import(lab=other_lab, definition=copy.deepcopy(definition), publish=False)
    )

    assert copy_.lab == other_lab
    assert copy_.definition_hash == source.definition_hash
    assert protocol_export(protocol=copy_) == definition
