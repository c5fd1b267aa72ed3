"""New versions deep-clone a frozen version; the diff names what changed between versions."""

from __future__ import annotations

import pytest
from django.db import connection

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import InvalidTransition
from protocol_tracker.protocols import services
from protocol_tracker.protocols.defaults import PROTOCOLS
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.protocols.selectors import protocol_diff, protocol_export
from tests.builders import H, approve, draft_protocol, published_protocol
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def new_version_queries() -> int:
    # role, lock source, read stages / edges / tasks / checkpoints, lock lab, next version,
    # insert protocol / stages / edges / tasks / checkpoints, audit head and insert: 15, plus
    # 4 savepoint statements, plus the audit chain's advisory lock on PostgreSQL.
    return 19 + (connection.vendor == "postgresql")


def _rows(protocol):
    """Everything of a protocol except ids, in a comparable form."""
    stages = list(StageTemplate.objects.filter(protocol=protocol).order_by("order").values(
        "key", "order", "name", "kind", "expected_duration", "window_early", "window_late",
        "reminder_lead", "description", "source"))  # fmt: skip
    edges = sorted(StageTemplate.depends_on.through.objects.filter(
        from_stagetemplate__protocol=protocol).values_list(
        "from_stagetemplate__key", "to_stagetemplate__key"))  # fmt: skip
    tasks = list(TaskTemplate.objects.filter(stage__protocol=protocol).order_by(
        "stage__order", "key").values("stage__key", "key", "name", "every", "on_days",
                                      "description"))  # fmt: skip
    checkpoints = list(CheckpointTemplate.objects.filter(protocol=protocol).order_by(
        "stage__order", "order").values(
        "stage__key", "key", "order", "assay", "name", "metric", "unit", "value_type", "spec",
        "blocking", "recorded_by", "analyte", "pending_allowed", "retest_every_passages",
        "source", "notes"))  # fmt: skip
    return stages, edges, tasks, checkpoints


def test_new_version_deep_clones_the_default_protocol(lab, lab_admin, reviewer):
    source = approve(
        services.protocol_import(lab=lab, definition=PROTOCOLS[0], publish=False), reviewer
    )

    draft = services.protocol_new_version(protocol=source, actor=lab_admin)

    assert (draft.version, draft.status, draft.previous_version) == (2, "draft", source)
    assert (draft.code, draft.name, draft.description) == (
        source.code, source.name, source.description)  # fmt: skip
    assert draft.created_by == lab_admin
    assert draft.definition_hash == ""
    stages, edges, tasks, checkpoints = _rows(draft)
    assert (stages, edges, tasks, checkpoints) == _rows(source)
    assert (len(stages), len(edges), len(tasks), len(checkpoints)) == (12, 11, 8, 97)
    # The copy is its own rows, pointing at its own stages.
    assert (
        not StageTemplate.depends_on.through.objects.filter(from_stagetemplate__protocol=draft)
        .exclude(to_stagetemplate__protocol=draft)
        .exists()
    )
    assert not CheckpointTemplate.objects.filter(protocol=draft).exclude(
        stage__protocol=draft).exists()  # fmt: skip
    event = AuditEvent.objects.get(action="protocol.version_created")
    assert event.after == {"code": source.code, "version": 2, "copied_from": source.pk,
                           "copied_from_version": 1, "stages": 12, "dependencies": 11,
                           "tasks": 8, "checkpoints": 97}  # fmt: skip
    # Republishing the unchanged copy yields the same definition hash; its conventions stay
    # confirmed (the same content), so the approval needs no new confirmation.
    approve(draft, reviewer)
    draft.refresh_from_db()
    assert draft.definition_hash == source.definition_hash


@pytest.mark.parametrize("stages", [3, 12])
def test_new_version_query_count_does_not_grow_with_stages(
    lab, lab_admin, django_assert_num_queries, stages
):
    protocol = published_protocol(lab, stages)
    lab_admin._lab_roles = None  # the role lookup is part of the count

    with django_assert_num_queries(new_version_queries()):
        services.protocol_new_version(protocol=protocol, actor=lab_admin)


def test_new_version_numbers_after_the_highest_and_refuses_drafts(lab, lab_admin):
    v1 = published_protocol(lab, 2)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)
    v3 = services.protocol_new_version(protocol=v1, actor=lab_admin)

    assert (v2.version, v3.version) == (2, 3)
    with pytest.raises(InvalidTransition) as exc:
        services.protocol_new_version(protocol=v2, actor=lab_admin)
    assert exc.value.message == "protocol 'Chain v2' is a draft; edit it instead of copying it"


def test_new_version_from_a_retired_version(lab, lab_admin, reviewer):
    v1 = published_protocol(lab, 2)
    services.protocol_retire(protocol=v1, actor=reviewer, password=PASSWORD, reason="withdrawn")

    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)

    assert v2.status == ProtocolStatus.DRAFT
    assert _rows(v2) == _rows(v1)


def test_editing_the_copy_leaves_the_source_alone(lab, lab_admin):
    v1 = published_protocol(lab, 3)
    before = _rows(v1)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)
    s2 = StageTemplate.objects.get(protocol=v2, key="s2")

    services.stage_template_update(stage=s2, actor=lab_admin, name="Renamed", depends_on=[])
    services.checkpoint_template_update(
        checkpoint=CheckpointTemplate.objects.get(protocol=v2, key="s1_viability"),
        actor=lab_admin, spec={"min": 85})  # fmt: skip

    assert _rows(v1) == before


def test_diff_names_added_removed_and_changed_fields(lab, lab_admin):
    v1 = published_protocol(lab, 3)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)
    s2 = StageTemplate.objects.get(protocol=v2, key="s2")
    s3 = StageTemplate.objects.get(protocol=v2, key="s3")
    v2 = services.protocol_update(protocol=v2, actor=lab_admin, description="revised")
    services.stage_template_update(stage=s2, actor=lab_admin, window_late=24 * H)
    services.stage_template_remove(stage=s3, actor=lab_admin)
    s4 = services.stage_template_add(protocol=v2, key="s4", name="Release", kind="release",
                                     expected_duration=H, window_early=H, window_late=H,
                                     depends_on=["s2"], actor=lab_admin)  # fmt: skip
    services.task_template_add(stage=s4, key="check", name="Check", on_days=[0], actor=lab_admin)
    services.task_template_update(task=TaskTemplate.objects.get(stage=s2), actor=lab_admin,
                                  every=12 * H)  # fmt: skip
    services.checkpoint_template_update(
        checkpoint=CheckpointTemplate.objects.get(protocol=v2, key="s1_viability"),
        actor=lab_admin, spec={"min": 85}, notes="tightened")  # fmt: skip

    diff = protocol_diff(old=v1, new=v2)

    assert diff == {
        "old": {"id": v1.pk, "version": 1, "status": "published"},
        "new": {"id": v2.pk, "version": 2, "status": "draft"},
        "protocol": {"description": {"old": "test protocol", "new": "revised"}},
        "stages": {
            "added": [{"key": "s4", "name": "Release"}],
            "removed": [{"key": "s3", "name": "Stage s3"}],
            "changed": [{"key": "s2", "name": "Stage s2",
                         "fields": {"window_late_hours": {"old": 12, "new": 24}}}],
        },
        "tasks": {
            "added": [{"stage": "s4", "key": "check", "name": "Check"}],
            "removed": [{"stage": "s3", "key": "feed", "name": "Medium change"}],
            "changed": [{"stage": "s2", "key": "feed", "name": "Medium change",
                         "fields": {"every_hours": {"old": 24, "new": 12}}}],
        },
        "checkpoints": {
            "added": [],
            "removed": [{"key": "s3_viability", "name": "Viability"}],
            "changed": [{"key": "s1_viability", "name": "Viability",
                         "fields": {"spec": {"old": {"min": 70}, "new": {"min": 85}},
                                    "notes": {"old": "", "new": "tightened"}}}],
        },
    }  # fmt: skip


def test_diff_of_identical_versions_is_empty(lab, lab_admin):
    v1 = published_protocol(lab, 3)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)

    diff = protocol_diff(old=v1, new=v2)

    empty = {"added": [], "removed": [], "changed": []}
    assert (diff["protocol"], diff["stages"], diff["tasks"], diff["checkpoints"]) == (
        {}, empty, empty, empty)  # fmt: skip


def test_diff_shows_dependency_changes(lab, lab_admin):
    old = draft_protocol(lab, 3, code="a")
    new = draft_protocol(lab, 3, code="b")
    services.stage_template_update(stage=StageTemplate.objects.get(protocol=new, key="s3"),
                                   actor=lab_admin, depends_on=["s1", "s2"])  # fmt: skip

    changed = protocol_diff(old=old, new=new)["stages"]["changed"]

    assert changed == [
        {
            "key": "s3",
            "name": "Stage s3",
            "fields": {"depends_on": {"old": ["s2"], "new": ["s1", "s2"]}},
        }
    ]
    assert protocol_export(protocol=new)["stages"][2]["depends_on"] == ["s1", "s2"]
