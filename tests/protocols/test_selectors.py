"""Selectors: lab scoping, constant query counts, topological order."""

from __future__ import annotations

import pytest

from protocol_tracker.protocols import services
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate
from protocol_tracker.protocols.selectors import (
    protocol_detail,
    protocol_export,
    protocol_latest_published,
    protocol_versions,
    protocols_for_user,
    stage_order,
)
from tests.builders import approve, chain_definition, draft_protocol, published_protocol

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stages", [3, 12])
def test_protocol_detail_query_count_is_constant(
    lab, technician, django_assert_num_queries, stages
):
    protocol = published_protocol(lab, stages)

    # protocol (+ membership subquery), stages, depends_on, tasks, checkpoints
    with django_assert_num_queries(5):
        detail = protocol_detail(protocol_id=protocol.pk, viewer=technician)
        order = stage_order(detail)
        export = protocol_export(protocol=detail)
        for stage in detail.stages.all():
            [t.name for t in stage.tasks.all()]
            [c.spec for c in stage.checkpoints.all()]
            [d.key for d in stage.depends_on.all()]
        related = (detail.lab.name, detail.published_by, detail.previous_version)

    assert [s.key for s in order] == [f"s{i}" for i in range(1, stages + 1)]
    assert len(export["stages"]) == stages
    assert related == ("Lab A", None, None)


def test_protocol_detail_hides_other_labs(lab, other_technician, technician):
    protocol = published_protocol(lab, 2)

    with pytest.raises(ProtocolTemplate.DoesNotExist):
        protocol_detail(protocol_id=protocol.pk, viewer=other_technician)
    with pytest.raises(ProtocolTemplate.DoesNotExist):
        protocol_detail(protocol_id=protocol.pk + 1000, viewer=technician)


def test_protocols_for_user_scopes_and_filters(lab, other_lab, viewer, other_technician):
    published = published_protocol(lab, 2, code="a")
    draft = draft_protocol(lab, 2, code="b")
    published_protocol(other_lab, 2, code="a")

    assert list(protocols_for_user(viewer)) == [published, draft]
    assert list(protocols_for_user(viewer, status=ProtocolStatus.DRAFT)) == [draft]
    assert [p.lab for p in protocols_for_user(other_technician)] == [other_lab]


def test_stage_order_is_topological_with_ties_by_order(lab):
    definition = chain_definition(5)
    # Listed order s1..s5; dependencies: s1 -> s4 -> s2, s1 -> s3, s5 root.
    deps = {"s1": [], "s2": ["s4"], "s3": ["s1"], "s4": ["s1"], "s5": []}
    for stage in definition["stages"]:
        stage["depends_on"] = deps[stage["key"]]
    protocol = services.protocol_import(lab=lab, definition=definition)

    assert [s.key for s in stage_order(protocol)] == ["s1", "s3", "s4", "s2", "s5"]


def test_latest_published_and_versions(lab, lab_admin, reviewer):
    v1 = published_protocol(lab, 2)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)

    assert protocol_latest_published(lab=lab, code="chain") == v1
    approve(v2, reviewer)
    assert protocol_latest_published(lab=lab, code="chain") == v2
    assert list(protocol_versions(protocol=v1)) == [v2, v1]
    assert protocol_latest_published(lab=lab, code="nope") is None
