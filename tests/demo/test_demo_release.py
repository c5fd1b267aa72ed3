"""The release demo: the defaults approved by the demo reviewer, and a run released with its
stored documents; idempotent."""

from __future__ import annotations

import pytest

from protocol_tracker.demo.release import RELEASED_DONOR, demo_protocols_approve, demo_release_seed
from protocol_tracker.outcomes.models import ExceptionAcknowledgement, ReleaseDocument
from protocol_tracker.protocols.models import ConventionConfirmation, ProtocolApproval
from protocol_tracker.runs.models import Run
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_demo_approves_the_defaults_and_releases_a_run(lab, lab_admin, technician, reviewer):
    for _ in range(2):
        protocols = demo_protocols_approve(
            lab=lab, author=lab_admin, reviewer=reviewer, password=PASSWORD
        )
        demo_release_seed(lab=lab, technician=technician, reviewer=reviewer, password=PASSWORD)

    assert [p.status for p in protocols] == ["published", "published"]
    assert ProtocolApproval.objects.count() == 2
    assert ConventionConfirmation.objects.filter(confirmed_by=reviewer).exists()
    run = Run.objects.get(donor__code=RELEASED_DONOR)
    assert run.status == "released"
    assert sorted(ReleaseDocument.objects.filter(run=run).values_list("kind", flat=True)) == [
        "batch_record",
        "certificate",
    ]
    assert ExceptionAcknowledgement.objects.filter(run=run, kind="correction").count() == 1
