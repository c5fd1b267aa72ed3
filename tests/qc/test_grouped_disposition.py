"""Grouped disposition: one signature closes several minor deviations of one run and one kind;
critical (and major) ones are signed one by one; any deviation that cannot be disposed of now
refuses the whole group."""

from __future__ import annotations

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import (
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.qc.models import Deviation, DispositionGroup
from protocol_tracker.qc.services import (
    deviation_disposition,
    deviation_disposition_group,
    deviation_open,
)
from protocol_tracker.signatures import services as signatures
from protocol_tracker.signatures.models import Signature
from protocol_tracker.signatures.selectors import signature_of
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _minor(run, actor, title, **kwargs):
    kwargs.setdefault("severity", "minor")
    return deviation_open(run=run, kind="manual", title=title, actor=actor, **kwargs)


def _state():
    return (
        list(Deviation.objects.order_by("pk").values_list("status", "disposition_group")),
        DispositionGroup.objects.count(),
        Signature.objects.count(),
        AuditEvent.objects.count(),
    )


def _group(deviations, actor, **kwargs):
    kwargs.setdefault("decision", "accept")
    kwargs.setdefault("justification", "labels reprinted at once")
    return deviation_disposition_group(
        deviations=deviations, password=PASSWORD, actor=actor, **kwargs
    )


def test_one_signature_closes_several_minor_deviations(active_run, technician, reviewer):
    a, b, c = (_minor(active_run, technician, f"Label {n}") for n in (1, 2, 3))

    group = _group([c, a, b], reviewer)

    closed = list(Deviation.objects.order_by("pk"))
    assert [(d.status, d.disposition, d.disposition_group_id, d.closed_by) for d in closed] == [
        ("closed", "accept", group.pk, reviewer)
    ] * 3
    signature = signature_of(group)
    assert (signature.meaning, signature.signer, signature.run_id) == (
        "approved", reviewer, active_run.pk)  # fmt: skip
    assert signature.statement == (
        f"accept 3 minor manual deviations as one disposition (DEV-{a.pk}, DEV-{b.pk}, "
        f"DEV-{c.pk}): labels reprinted at once"
    )
    content = {"deviations": [{"id": d.pk, "title": d.title, "kind": "manual",
                               "severity": "minor"} for d in (a, b, c)]}  # fmt: skip
    assert signature.record_hash == signatures.record_hash(group, content=content)
    assert sorted(group.deviations.values_list("pk", flat=True)) == [a.pk, b.pk, c.pk]
    assert AuditEvent.objects.filter(action="deviation.disposition").count() == 3


@pytest.mark.parametrize(
    ("severity", "message"),
    [
        ("critical", "critical deviations are signed one by one"),
        ("major", "only minor deviations can be grouped"),
    ],
)
def test_critical_and_major_deviations_are_never_grouped(
    active_run, technician, reviewer, severity, message
):
    minor = _minor(active_run, technician, "Label")
    other = _minor(active_run, technician, "Spill", severity=severity)
    before = _state()

    with pytest.raises(InvalidTransition, match=message):
        _group([minor, other], reviewer)

    assert _state() == before


def test_a_deviation_closed_meanwhile_refuses_the_whole_group(
    active_run, technician, reviewer, reviewer2
):
    a, b = _minor(active_run, technician, "Label 1"), _minor(active_run, technician, "Label 2")
    deviation_disposition(
        deviation=b, decision="accept", justification="alone", password=PASSWORD, actor=reviewer2
    )
    before = _state()

    with pytest.raises(InvalidTransition) as exc:
        _group([a, b], reviewer)

    assert exc.value.fields == {"deviations": [f"DEV-{b.pk} was closed meanwhile"]}
    assert _state() == before
    assert Deviation.objects.get(pk=a.pk).is_open


def test_a_group_spans_one_run_and_one_kind_and_two_or_more(
    lab, active_run, technician, reviewer, planned_run
):
    a = _minor(active_run, technician, "Label")
    oos_like = deviation_open(
        run=active_run, kind="window", title="Late", severity="minor", actor=technician
    )
    before = _state()
    with pytest.raises(ValidationFailed, match="of one kind"):
        _group([a, oos_like], reviewer)
    with pytest.raises(ValidationFailed, match="two or more"):
        _group([a], reviewer)
    with pytest.raises(ValidationFailed, match="a rejection fails the run"):
        _group([a, oos_like], reviewer, decision="reject")
    with pytest.raises(ValidationFailed, match="justification"):
        _group([a, oos_like], reviewer, justification="  ")
    assert _state() == before


def test_grouping_needs_a_reviewer_of_the_lab_four_eyes_and_the_password(
    active_run, technician, reviewer, other_reviewer
):
    a, b = _minor(active_run, technician, "Label 1"), _minor(active_run, technician, "Label 2")
    before = _state()
    with pytest.raises(NotPermitted):
        _group([a, b], technician)
    with pytest.raises(NotPermitted):  # another lab's reviewer
        _group([a, b], other_reviewer)
    with pytest.raises(SignatureRefused, match="password did not match"):
        deviation_disposition_group(
            deviations=[a, b], decision="accept", justification="x", password="no",
            actor=reviewer,
        )  # fmt: skip
    assert _state() == before
