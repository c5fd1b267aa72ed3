"""The review by exception: every kind listed exactly once, acknowledgements, and a release
refused until every item is acknowledged."""

from __future__ import annotations

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.core.review import ReviewItem
from protocol_tracker.outcomes import selectors, services
from protocol_tracker.outcomes.models import ExceptionAcknowledgement, ReleaseDocument
from protocol_tracker.qc import services as qc
from protocol_tracker.runs.models import RunStatus
from protocol_tracker.signatures.models import Signature
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _counts():
    return (
        ExceptionAcknowledgement.objects.count(),
        ReleaseDocument.objects.count(),
        Signature.objects.filter(meaning="released").count(),
        AuditEvent.objects.count(),
    )


def test_a_run_with_one_exception_of_each_kind_lists_each_exactly_once(exceptional):
    e = exceptional

    items = selectors.run_exceptions(e.run)

    assert [(i.kind, i.key) for i in items] == [
        ("out_of_spec", f"out_of_spec:qc_result:{e.oos.pk}"),
        ("deviation", f"deviation:deviation:{e.manual.pk}"),
        ("retest", f"retest:qc_result:{e.retest.pk}"),
        ("correction", f"correction:qc_result:{e.correction.pk}"),
        ("late_entry", f"late_entry:qc_result:{e.late.pk}"),
        ("window", f"window:stage_run:{e.collect.pk}"),
        ("bench_tasks", f"bench_tasks:stage_run:{e.expand.pk}"),
        ("pending_test", "pending_test:checkpoint:sterility"),
    ]
    by_kind = {i.kind: i for i in items}
    assert by_kind["out_of_spec"].title == "Out of specification: Viability = 55 % (spec ≥ 70 %)"
    assert "closed: Order a retest, repeat the count" in by_kind["out_of_spec"].detail
    assert by_kind["correction"].title == "Correction of Density: 6 10^6 cells/mL → 7 10^6 cells/mL"
    assert by_kind["correction"].detail == "Reason: transcription error (by tech-a)"
    assert by_kind["late_entry"].title == "Entered 59.0 h after it was measured: Mycoplasma"
    assert by_kind["window"].title == "Stage Collect finished 6.0 h late"
    assert by_kind["window"].detail.startswith("courier delayed; DEV-")
    assert "closed: Accept with justification, sample stable for 24 h" in by_kind["window"].detail
    assert by_kind["bench_tasks"].title == (
        "Stage Expand: bench tasks not done as planned (1 not applicable, 1 skipped)"
    )
    assert "(incubator alarm)" in by_kind["bench_tasks"].detail
    assert by_kind["deviation"].record == ("deviation", e.manual.pk)
    # Read twice: the same keys and content (what an acknowledgement binds).
    again = selectors.run_exceptions(e.run)
    assert [(i.key, i.content_hash) for i in again] == [(i.key, i.content_hash) for i in items]


def test_the_review_costs_a_fixed_number_of_queries(exceptional, django_assert_num_queries):
    with django_assert_num_queries(6):
        review = selectors.run_review(exceptional.run)
    assert len(review.rows) == 8


def test_release_is_refused_until_every_item_is_acknowledged(exceptional, reviewer):
    run = exceptional.run
    keys = [i.key for i in selectors.run_exceptions(run)]
    services.exceptions_acknowledge(run=run, keys=keys[:-1], actor=reviewer, comment="seen")
    before = _counts()

    with pytest.raises(InvalidTransition) as exc:
        services.run_release(
            run=run,
            actor=reviewer,
            password=PASSWORD,
            pending_tests=["sterility"],
            audit_trail_reviewed=True,
        )

    assert exc.value.code == "exceptions_unacknowledged"
    assert exc.value.fields == {"exceptions": ["pending_test:checkpoint:sterility"]}
    assert "1 exception(s) not acknowledged: Pending at release: Sterility" in exc.value.message
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert _counts() == before

    services.exceptions_acknowledge(run=run, keys=keys[-1:], actor=reviewer)
    released = services.run_release(
        run=run,
        actor=reviewer,
        password=PASSWORD,
        pending_tests=["sterility"],
        audit_trail_reviewed=True,
    )
    assert (released.status, released.pending_tests) == (RunStatus.RELEASED, ["sterility"])
    assert selectors.run_review(run).complete
    assert sorted(ReleaseDocument.objects.values_list("kind", flat=True)) == [
        "batch_record",
        "certificate",
    ]


def test_the_release_attests_the_audit_trail_review(exceptional, reviewer):
    run = exceptional.run
    services.exceptions_acknowledge(
        run=run, keys=[i.key for i in selectors.run_exceptions(run)], actor=reviewer
    )
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        services.run_release(
            run=run, actor=reviewer, password=PASSWORD, pending_tests=["sterility"]
        )
    assert exc.value.fields == {
        "audit_trail_reviewed": ["confirm that you reviewed the audit trail"]
    }
    with pytest.raises(SignatureRefused, match="password did not match"):
        services.run_release(
            run=run,
            actor=reviewer,
            password="wrong",
            pending_tests=["sterility"],
            audit_trail_reviewed=True,
        )
    assert _counts() == before


def test_an_item_that_changes_after_its_acknowledgement_needs_it_again(
    exceptional, reviewer, reviewer2, technician
):
    run = exceptional.run
    label = qc.deviation_open(
        run=run, kind="manual", severity="minor", title="Label smudged", actor=technician
    )
    keys = [i.key for i in selectors.run_exceptions(run)]
    services.exceptions_acknowledge(run=run, keys=keys, actor=reviewer, comment="seen open")
    assert selectors.run_review(run).complete

    qc.deviation_disposition(
        deviation=label, decision="accept", justification="relabelled", password=PASSWORD,
        actor=reviewer2,
    )  # fmt: skip

    review = selectors.run_review(run)
    [row] = review.unacknowledged
    assert row.item.key == f"deviation:deviation:{label.pk}"
    assert row.stale is not None and row.stale.comment == "seen open"
    services.exceptions_acknowledge(run=run, keys=[row.item.key], actor=reviewer, comment="closed")
    assert selectors.run_review(run).complete
    assert ExceptionAcknowledgement.objects.filter(key=row.item.key).count() == 2


def test_acknowledging_refuses_bad_keys_twice_others_and_four_eyes(
    exceptional, reviewer, reviewer2, technician, other_reviewer
):
    run = exceptional.run
    key = selectors.run_exceptions(run)[0].key
    before = _counts()

    with pytest.raises(ValidationFailed, match="not an exception of this run: nope"):
        services.exceptions_acknowledge(run=run, keys=[key, "nope"], actor=reviewer)
    with pytest.raises(ValidationFailed, match="choose the exceptions"):
        services.exceptions_acknowledge(run=run, keys=[], actor=reviewer)
    with pytest.raises(NotPermitted):
        services.exceptions_acknowledge(run=run, keys=[key], actor=technician)
    with pytest.raises(NotPermitted):  # another lab's reviewer: not a reviewer of this lab
        services.exceptions_acknowledge(run=run, keys=[key], actor=other_reviewer)
    with pytest.raises(ValidationFailed, match="control characters"):
        services.exceptions_acknowledge(run=run, keys=[key], actor=reviewer, comment="a\x00b")
    assert _counts() == before

    services.exceptions_acknowledge(run=run, keys=[key], actor=reviewer, comment="seen")
    with pytest.raises(Conflict, match="already acknowledged"):
        services.exceptions_acknowledge(run=run, keys=[key], actor=reviewer)
    ack = ExceptionAcknowledgement.objects.get()
    assert (ack.key, ack.acknowledged_by, ack.comment) == (key, reviewer, "seen")
    event = AuditEvent.objects.get(action="exception.acknowledge")
    assert (event.run_id, event.reason, event.after["key"]) == (run.pk, "seen", key)


def test_whoever_worked_the_run_cannot_acknowledge_its_exceptions(exceptional, reviewer2):
    """``reviewer2`` signed dispositions of this run, but recorded nothing: allowed; a
    reviewer who recorded a result is not."""
    run = exceptional.run
    key = selectors.run_exceptions(run)[0].key
    services.exceptions_acknowledge(run=run, keys=[key], actor=reviewer2)
    assert ExceptionAcknowledgement.objects.count() == 1


def test_a_source_registered_by_another_app_is_listed(exceptional, monkeypatch):
    """Adding a source is one function and one line in EXCEPTION_SOURCES."""

    def manual_identity_entries(run):
        return [ReviewItem(key=f"identity:run:{run.pk}", kind="manual_identity",
                           title="COI typed by hand at thaw", record=("run", run.pk))]  # fmt: skip

    monkeypatch.setattr(
        selectors.exceptions,
        "EXCEPTION_SOURCES",
        [*selectors.EXCEPTION_SOURCES, manual_identity_entries],
    )
    items = selectors.run_exceptions(exceptional.run)
    assert items[-1].title == "COI typed by hand at thaw"
    assert len(items) == 9


def test_two_sources_with_one_key_are_a_bug_not_a_silent_merge(exceptional, monkeypatch):
    def twice(run):
        item = ReviewItem(key="x:run:1", kind="x", title="x")
        return [item, item]

    monkeypatch.setattr(selectors.exceptions, "EXCEPTION_SOURCES", [twice])
    with pytest.raises(ValueError, match="share the key"):
        selectors.run_exceptions(exceptional.run)
