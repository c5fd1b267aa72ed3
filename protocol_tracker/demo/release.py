"""Demo change control and release for the embedded default (``manage.py seed_demo``).

The default protocols come in as drafts; the demo reviewer confirms their convention-marked
specs with one signature and approves each version for use, through the real services, as a
lab's QA would. Then a stepwise run (DEMO-005) is worked, one of its results corrected, its
exceptions acknowledged and the run released: its batch record and certificate of analysis are
stored. Idempotent: versions already published and a lab that has the donor are left alone.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.demo.runs import ALL_SCOPES, clock, work_until
from protocol_tracker.outcomes.selectors import run_review
from protocol_tracker.outcomes.services import exceptions_acknowledge, run_release
from protocol_tracker.protocols import selectors as protocol_selectors
from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.protocols.services import (
    conventions_confirm,
    protocol_import_defaults,
    protocol_publish,
)
from protocol_tracker.qc.models import QCResult
from protocol_tracker.qc.services import qc_result_correct
from protocol_tracker.runs.models import Donor
from protocol_tracker.runs.services import donor_create, run_create, run_start

APPROVAL_REASON = "Demo: the default protocols reviewed against their sources and approved for use"
RELEASED_DONOR = "DEMO-005"
H = timedelta(hours=1)


@transaction.atomic
def demo_protocols_approve(*, lab: Lab, author, reviewer, password: str) -> list[ProtocolTemplate]:
    """Import the defaults (by ``author``, or the system), confirm their conventions and approve
    them for use (``reviewer``)."""
    protocols = []
    for draft in protocol_import_defaults(lab=lab, actor=author):
        if draft.is_frozen:
            protocols.append(draft)
            continue
        unconfirmed = [
            row.key
            for row in protocol_selectors.protocol_conventions(protocol=draft)
            if not row.confirmed
        ]
        if unconfirmed:
            conventions_confirm(
                protocol=draft,
                checkpoint_keys=unconfirmed,
                actor=reviewer,
                password=password,
                comment="Demo: accepted as this lab's own acceptance criteria",
            )
        protocols.append(
            protocol_publish(
                protocol=draft,
                actor=reviewer,
                password=password,
                reason=APPROVAL_REASON,
                reviewed_hash=protocol_selectors.protocol_review_hash(protocol=draft),
            )
        )
    return protocols


@transaction.atomic
def demo_release_seed(*, lab: Lab, technician, reviewer, password: str) -> None:
    """A stepwise run worked to its end two weeks ago, a result corrected, its exceptions
    acknowledged and the run released by ``reviewer`` (idempotent on the donor)."""
    if Donor.objects.filter(lab=lab, code=RELEASED_DONOR).exists():
        return
    stepwise = (
        ProtocolTemplate.objects.filter(lab=lab, code="sc-beta-stepwise", status="published")
        .order_by("-version")
        .first()
    )
    if stepwise is None:
        return
    now = timezone.now()
    total = sum((s.expected_duration for s in stepwise.stages.all()), timedelta())
    start = now - total - 14 * 24 * H
    with clock(start - 48 * H):
        donor = donor_create(lab=lab, code=RELEASED_DONOR, consent_given=True,
                             consent_scope=ALL_SCOPES, consent_version="2024-01",
                             actor=technician)  # fmt: skip
        run = run_create(lab=lab, protocol=stepwise, donor=donor, actor=technician,
                         planned_start=start)  # fmt: skip
    with clock(start):
        run_start(run=run, actor=technician)
    work_until(run, actor=technician)
    run.refresh_from_db()
    first = (
        QCResult.objects.filter(stage_run__run=run, value_number__isnull=False)
        .order_by("recorded_at", "pk")
        .first()
    )
    if first is not None:
        with clock(run.completed_at + H):
            qc_result_correct(
                result=first,
                value=first.value_number,
                unit=first.unit or None,
                measured_at=first.measured_at,
                reason="Demo: the haemocytometer sheet was read again; the value stands",
                actor=technician,
            )
    with clock(run.completed_at + 20 * H):
        keys = [row.item.key for row in run_review(run).unacknowledged]
        if keys:
            exceptions_acknowledge(run=run, keys=keys, actor=reviewer,
                                   comment="Demo: reviewed against the batch record")  # fmt: skip
        run_release(run=run, actor=reviewer, password=password, audit_trail_reviewed=True)
