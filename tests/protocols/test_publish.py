"""Publishing rules, frozen versions, retiring, and the database guard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from protocol_tracker.protocols import selectors, services
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.signatures.selectors import signature_of
from tests.builders import H, chain_definition, draft_protocol, published_protocol
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _publish(protocol, reviewer, **kwargs):
    """Approve ``protocol`` for use as ``reviewer`` would: signed, with the hash reviewed."""
    return services.protocol_publish(
        protocol=protocol,
        actor=reviewer,
        password=PASSWORD,
        reason="validated for use",
        reviewed_hash=selectors.protocol_review_hash(protocol=protocol),
        **kwargs,
    )


def _retire(protocol, reviewer, reason="superseded"):
    return services.protocol_retire(
        protocol=protocol, actor=reviewer, password=PASSWORD, reason=reason
    )


def _counts():
    return (ProtocolTemplate.objects.count(), StageTemplate.objects.count(),
            StageTemplate.depends_on.through.objects.count(), TaskTemplate.objects.count(),
            CheckpointTemplate.objects.count(), AuditEvent.objects.count())  # fmt: skip


def _depend(protocol, key, on):
    stage = StageTemplate.objects.get(protocol=protocol, key=key)
    stage.depends_on.add(StageTemplate.objects.get(protocol=protocol, key=on))


def _stage(protocol, key, **fields):
    StageTemplate.objects.filter(protocol=protocol, key=key).update(**fields)


def _checkpoint(protocol, key, **fields):
    CheckpointTemplate.objects.filter(protocol=protocol, key=key).update(**fields)


def _remove_all_stages(protocol):
    for stage in StageTemplate.objects.filter(protocol=protocol).order_by("-order"):
        services.stage_template_remove(stage=stage, actor=None)


CP = "checkpoint 's1_viability' in stage 's1'"

# Each breaks a draft the way raw data could (the services refuse most of these up front).
BROKEN = {
    "cycle through the root": (
        lambda p: _depend(p, "s1", "s3"),
        ["dependency cycle: s1 → s3 → s2 → s1",
         "no root stage: every stage depends on another stage"],
    ),
    "cycle below the root": (
        lambda p: _depend(p, "s2", "s3"),
        ["dependency cycle: s2 → s3 → s2"],
    ),
    "self dependency": (lambda p: _depend(p, "s3", "s3"), ["dependency cycle: s3 → s3"]),
    "zero duration": (
        lambda p: _stage(p, "s2", expected_duration=timedelta(0)),
        ["stage 's2': expected duration must be positive"],
    ),
    "negative early window": (
        lambda p: _stage(p, "s2", window_early=-H),
        ["stage 's2': early window must not be negative"],
    ),
    "negative late window": (
        lambda p: _stage(p, "s3", window_late=-H),
        ["stage 's3': late window must not be negative"],
    ),
    "negative reminder lead": (
        lambda p: _stage(p, "s1", reminder_lead=-H),
        ["stage 's1': reminder lead must not be negative"],
    ),
    "min above max": (
        lambda p: _checkpoint(p, "s1_viability", spec={"min": 90, "max": 10}),
        [f"{CP}: min (90) is greater than max (10)"],
    ),
    "unknown unit": (
        lambda p: _checkpoint(p, "s1_viability", unit="furlongs"),
        [f"{CP}: unknown unit 'furlongs'"],
    ),
    "blocking without spec": (
        lambda p: _checkpoint(p, "s1_viability", spec={}),
        [f"{CP}: a blocking checkpoint needs an acceptance spec"],
    ),
    "blocking with an all-empty spec": (
        lambda p: _checkpoint(p, "s1_viability", spec={"min": None, "max": None}),
        [f"{CP}: a blocking checkpoint needs an acceptance spec"],
    ),
    "task repeats too often": (
        lambda p: TaskTemplate.objects.filter(stage__protocol=p).update(every=timedelta(minutes=5)),
        ["task 'feed' in stage 's1': every must be at least 1 hour",
         "task 'feed' in stage 's2': every must be at least 1 hour",
         "task 'feed' in stage 's3': every must be at least 1 hour"],
    ),
    "no stages": (lambda p: _remove_all_stages(p), ["the protocol has no stages"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN))
def test_publish_refuses_each_rule_with_its_message(lab, reviewer, case):
    protocol = draft_protocol(lab, 3)
    breakage, expected = BROKEN[case]
    breakage(protocol)
    assert services.protocol_validate(protocol=protocol) == expected
    before = _counts()

    with pytest.raises(ValidationFailed) as exc:
        _publish(protocol, reviewer)

    assert exc.value.fields == {"protocol": expected}
    assert exc.value.message == ("protocol 'Chain v1' cannot be published: " + "; ".join(expected))
    protocol.refresh_from_db()
    assert protocol.status == ProtocolStatus.DRAFT
    assert _counts() == before


def test_validate_lists_every_problem_at_once(lab):
    protocol = draft_protocol(lab, 3)
    _depend(protocol, "s2", "s3")
    _checkpoint(protocol, "s3_viability", unit="furlongs")
    _stage(protocol, "s1", window_late=-H)

    assert services.protocol_validate(protocol=protocol) == [
        "dependency cycle: s2 → s3 → s2",
        "stage 's1': late window must not be negative",
        "checkpoint 's3_viability' in stage 's3': unknown unit 'furlongs'",
    ]


def test_several_roots_are_allowed(lab, reviewer):
    definition = chain_definition(3)
    definition["stages"][2]["depends_on"] = []  # s3 starts with s1
    protocol = services.protocol_import(lab=lab, definition=definition, publish=False)

    assert services.protocol_validate(protocol=protocol) == []
    _publish(protocol, reviewer)


def test_publish_freezes_and_audits(lab, reviewer):
    protocol = draft_protocol(lab, 3)

    _publish(protocol, reviewer)

    protocol.refresh_from_db()
    assert protocol.status == ProtocolStatus.PUBLISHED
    assert protocol.published_by == reviewer
    assert protocol.published_at is not None
    assert len(protocol.definition_hash) == 64
    event = AuditEvent.objects.get(action="protocol.published")
    assert (event.actor_user, event.object_id) == (reviewer, str(protocol.pk))
    assert event.after == {"status": "published", "definition_hash": protocol.definition_hash}
    with pytest.raises(InvalidTransition) as exc:
        _publish(protocol, reviewer)
    assert exc.value.message == ("protocol 'Chain v1' is published; only a draft can be published")


@pytest.mark.parametrize(
    "role_user", ["technician", "lab_admin", "viewer", "clinician", "other_reviewer"]
)
def test_only_reviewers_of_the_lab_approve_or_retire(request, lab, role_user):
    user = request.getfixturevalue(role_user)
    draft = draft_protocol(lab, 2)
    published = published_protocol(lab, 2, code="other")
    before = _counts()

    with pytest.raises(NotPermitted):
        _publish(draft, user)
    with pytest.raises(NotPermitted):
        _retire(published, user)
    if role_user != "lab_admin":
        with pytest.raises(NotPermitted):
            services.protocol_new_version(protocol=published, actor=user)

    assert _counts() == before
    draft.refresh_from_db()
    assert draft.status == ProtocolStatus.DRAFT


def _every_edit(protocol, actor):
    stage = StageTemplate.objects.filter(protocol=protocol).order_by("-order").first()
    task = TaskTemplate.objects.filter(stage=stage).first()
    checkpoint = CheckpointTemplate.objects.filter(stage=stage).first()
    return {
        "protocol_update": lambda: services.protocol_update(protocol=protocol, actor=actor,
                                                            name="New"),
        "protocol_draft_discard": lambda: services.protocol_draft_discard(protocol=protocol,
                                                                          actor=actor),
        "stage_template_add": lambda: services.stage_template_add(
            protocol=protocol, key="new", name="New", kind="release", expected_duration=H,
            window_early=H, window_late=H, actor=actor),
        "stage_template_update": lambda: services.stage_template_update(stage=stage, actor=actor,
                                                                        name="New"),
        "stage_template_remove": lambda: services.stage_template_remove(stage=stage, actor=actor),
        "stage_templates_reorder": lambda: services.stage_templates_reorder(
            protocol=protocol, keys=["s3", "s2", "s1"], actor=actor),
        "task_template_add": lambda: services.task_template_add(stage=stage, key="new",
                                                                name="New", every=H, actor=actor),
        "task_template_update": lambda: services.task_template_update(task=task, actor=actor,
                                                                      name="New"),
        "task_template_remove": lambda: services.task_template_remove(task=task, actor=actor),
        "checkpoint_template_add": lambda: services.checkpoint_template_add(
            stage=stage, key="new", assay="a", name="New", metric="m", unit="", value_type="text",
            spec={}, blocking=False, actor=actor),
        "checkpoint_template_update": lambda: services.checkpoint_template_update(
            checkpoint=checkpoint, actor=actor, name="New"),
        "checkpoint_template_remove": lambda: services.checkpoint_template_remove(
            checkpoint=checkpoint, actor=actor),
    }  # fmt: skip


EDITS = [
    "protocol_update", "protocol_draft_discard", "stage_template_add", "stage_template_update",
    "stage_template_remove", "stage_templates_reorder", "task_template_add",
    "task_template_update", "task_template_remove", "checkpoint_template_add",
    "checkpoint_template_update", "checkpoint_template_remove",
]  # fmt: skip


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("status", ["published", "retired"])
def test_frozen_protocol_refuses_every_edit(lab, lab_admin, reviewer, edit, status):
    protocol = published_protocol(lab, 3)
    if status == "retired":
        _retire(protocol, reviewer)
    before = _counts()

    with pytest.raises(InvalidTransition) as exc:
        _every_edit(protocol, lab_admin)[edit]()

    assert exc.value.message == (
        f"protocol 'Chain v1' is {status} and frozen; create a new version to change it"
    )
    assert exc.value.code == "protocol_frozen"
    assert _counts() == before


def test_every_edit_works_on_a_draft(lab, lab_admin):
    """The counterpart of the test above: the same calls succeed on a draft."""
    for edit in EDITS:
        if edit == "protocol_draft_discard":
            continue
        protocol = draft_protocol(lab, 3, code=edit.replace("_", "-"))
        _every_edit(protocol, lab_admin)[edit]()


def test_retire_keeps_runs_version_and_refuses_twice(lab, reviewer):
    protocol = published_protocol(lab, 2)

    _retire(protocol, reviewer, reason="superseded")

    protocol.refresh_from_db()
    assert protocol.status == ProtocolStatus.RETIRED
    event = AuditEvent.objects.get(action="protocol.retired")
    approval = protocol.approvals.get()
    assert (event.before, event.after, event.reason) == (
        {"status": "published"}, {"status": "retired"}, "superseded")  # fmt: skip
    signature = signature_of(approval)
    assert (approval.action, signature.meaning, signature.statement) == (
        "retired", "retired", "retired Chain v1 from use: superseded")  # fmt: skip
    with pytest.raises(InvalidTransition) as exc:
        _retire(protocol, reviewer)
    assert exc.value.message == (
        "protocol 'Chain v1' is retired; only a published version can be retired"
    )


def test_publishing_a_new_version_keeps_or_retires_the_previous(lab, lab_admin, reviewer):
    v1 = published_protocol(lab, 2)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)
    _publish(v2, reviewer)
    v3 = services.protocol_new_version(protocol=v2, actor=lab_admin)

    v1.refresh_from_db()
    assert v1.status == ProtocolStatus.PUBLISHED  # default: runs on v1 and new runs unaffected

    _publish(v3, reviewer, retire_previous=True)

    statuses = dict(ProtocolTemplate.objects.values_list("version", "status"))
    assert statuses == {1: "retired", 2: "retired", 3: "published"}
    assert list(AuditEvent.objects.filter(action="protocol.retired").values_list(
        "object_id", "reason")) == [(str(v1.pk), "superseded by v3"),
                                    (str(v2.pk), "superseded by v3")]  # fmt: skip


def _raw(sql, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refused(attempts):
    before = _counts()
    for name, attempt in attempts.items():
        with pytest.raises(IntegrityError, match="frozen"), transaction.atomic():
            attempt()
            pytest.fail(f"{name} was allowed")
    assert _counts() == before


def test_database_refuses_changes_to_a_frozen_protocol(lab):
    protocol = published_protocol(lab, 2)
    s1, s2 = StageTemplate.objects.filter(protocol=protocol).order_by("order")
    _refused({
        "protocol update": lambda: ProtocolTemplate.objects.filter(pk=protocol.pk).update(
            name="x"),
        "back to draft": lambda: ProtocolTemplate.objects.filter(pk=protocol.pk).update(
            status="draft"),
        "stage update": lambda: StageTemplate.objects.filter(pk=s1.pk).update(name="x"),
        "stage insert": lambda: StageTemplate.objects.create(
            protocol=protocol, key="new", order=9, name="n", kind="release",
            expected_duration=H, window_early=H, window_late=H),
        "edge insert": lambda: s1.depends_on.add(s2),
        "task update": lambda: TaskTemplate.objects.filter(stage=s1).update(name="x"),
        "checkpoint update": lambda: CheckpointTemplate.objects.filter(stage=s1).update(
            spec={}),
    })  # fmt: skip

    # The one change allowed: published -> retired, nothing else; and never back.
    ProtocolTemplate.objects.filter(pk=protocol.pk).update(status="retired")
    _refused({
        "un-retire": lambda: ProtocolTemplate.objects.filter(pk=protocol.pk).update(
            status="published"),
    })  # fmt: skip


def test_postgresql_also_refuses_deletes_from_a_frozen_protocol(postgres, lab):
    protocol = published_protocol(lab, 2)
    stage = StageTemplate.objects.filter(protocol=protocol).order_by("order").first()
    _refused({
        "protocol delete": lambda: _raw("DELETE FROM protocols_protocoltemplate WHERE id = %s",
                                        protocol.pk),
        "edge delete": lambda: stage.dependants.clear(),
        "task delete": lambda: TaskTemplate.objects.filter(stage=stage).delete(),
        "checkpoint delete": lambda: CheckpointTemplate.objects.filter(stage=stage).delete(),
    })  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_transactional_tests_can_flush_published_protocols(lab):
    """The guard must not stop Django from flushing the test database (SQLite: DELETE FROM)."""
    published_protocol(lab, 2)
    assert ProtocolTemplate.objects.filter(status=ProtocolStatus.PUBLISHED).count() == 1
