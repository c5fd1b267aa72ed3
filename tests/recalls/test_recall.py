"""A recall reaches every run that used the lot (released ones too) and nobody else's: the runs
are flagged, each gets a deviation, the reviewers are told at once; another lab sees nothing."""

from __future__ import annotations

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import Conflict, NotPermitted, SignatureRefused, ValidationFailed
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import stage_complete
from protocol_tracker.recalls.services import lot_recall
from protocol_tracker.reminders.models import Notification
from protocol_tracker.reminders.rendering import notification_headline
from protocol_tracker.reminders.services import lot_recall_notify, lot_recalls_catch_up
from protocol_tracker.runs.models import Run, RunStatus
from protocol_tracker.signatures.models import Signature
from protocol_tracker.usage.services import LotUse
from tests.builders import record, working_stage
from tests.builders.stock import stocked
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def _use(stock, lot, *, release=False):
    sr = working_stage(stock.protocol, stock.technician)
    record(sr, stock.technician)
    stage_complete(
        stage_run=sr,
        actor=stock.technician,
        lots=[LotUse(lot), LotUse(stock.matrix_lot, quantity=1)],
        equipment=[stock.cabinet],
    )
    if release:
        Run.objects.filter(pk=sr.run_id).update(status=RunStatus.RELEASED)
    return sr.run


@pytest.fixture
def world(lab, technician, reviewer, other_lab, other_technician):
    mine = stocked(lab, technician, reviewer)
    other_reviewer = MembershipFactory(lab=other_lab, role="reviewer").user
    theirs = stocked(other_lab, other_technician, other_reviewer, protocol_code="bom-b")
    return mine, theirs


def test_the_recall_flags_every_using_run_released_too_and_nobody_elses(world, reviewer2):
    mine, theirs = world
    active = _use(mine, mine.medium_lot)
    released = _use(mine, mine.medium_lot, release=True)
    other_medium_lot = MaterialLot.objects.create(
        lab=mine.lab,
        material=mine.medium,
        lot_number="MT-OTHER",
        code="mtesr-MT-OTHER",
        expiry_date=mine.medium_lot.expiry_date,
        unit="mL",
        quantity_received=100,
        quantity_remaining=100,
        received_at=mine.medium_lot.received_at,
        status=LotStatus.RELEASED,
    )
    clean = _use(mine, other_medium_lot)
    # The other lab holds a lot of the same supplier lot number, used by its own run.
    MaterialLot.objects.filter(pk=theirs.medium_lot.pk).update(lot_number="MT-001")
    their_run = _use(theirs, theirs.medium_lot)

    deviations = lot_recall(
        lot=mine.medium_lot, actor=reviewer2, password=PASSWORD, reason="endotoxin above CoA"
    )

    mine.medium_lot.refresh_from_db()
    assert (mine.medium_lot.status, mine.medium_lot.status_reason) == (
        LotStatus.RECALLED,
        "endotoxin above CoA",
    )
    reached = sorted([active.pk, released.pk])
    assert sorted(d.run_id for d in deviations) == reached
    flagged = set(Run.objects.filter(flagged=True).values_list("pk", flat=True))
    assert flagged == set(reached)
    assert not Run.objects.filter(pk__in=[clean.pk, their_run.pk], flagged=True).exists()
    by_run = {d.run_id: d for d in Deviation.objects.filter(kind="recall")}
    assert by_run[released.pk].severity == "critical" and by_run[active.pk].severity == "major"
    assert by_run[active.pk].title == "Recalled material used: mTeSR Plus lot MT-001"
    assert Run.objects.get(pk=released.pk).flag_reason == (
        "material lot recalled: mTeSR Plus lot MT-001 (endotoxin above CoA)"
    )
    signature = Signature.objects.get(object_type="materials.materiallot", meaning="rejected")
    assert signature.signer == reviewer2
    assert not Deviation.objects.filter(lab=theirs.lab, kind="recall").exists()
    theirs.medium_lot.refresh_from_db()
    assert theirs.medium_lot.status == LotStatus.RELEASED


def test_the_reviewers_are_told_at_once_with_the_runs_once(world, reviewer, reviewer2):
    mine, _ = world
    run = _use(mine, mine.medium_lot)
    lot_recall(lot=mine.medium_lot, actor=reviewer, password=PASSWORD, reason="supplier recall")

    first = lot_recall_notify(lot_id=mine.medium_lot.pk)
    again = lot_recall_notify(lot_id=mine.medium_lot.pk)

    assert [n.recipient for n in first] == [reviewer, reviewer2]
    assert [n.pk for n in again] == [n.pk for n in first]
    assert Notification.objects.filter(kind="lot_recalled").count() == 2
    assert notification_headline(first[0]) == (
        f"mTeSR Plus lot MT-001 was recalled (supplier recall). Runs that used it (1), now "
        f"flagged: {run.code}."
    )
    assert lot_recalls_catch_up(now=first[0].created_at) == []


def test_refused_recalls_write_nothing(world, technician, reviewer, other_reviewer):
    mine, _ = world
    _use(mine, mine.medium_lot)
    before = (AuditEvent.objects.count(), Deviation.objects.count())

    with pytest.raises(NotPermitted):
        lot_recall(lot=mine.medium_lot, actor=technician, password=PASSWORD, reason="x")
    with pytest.raises(NotPermitted):
        # Another lab's reviewer: not theirs to recall (the API and web answer 404).
        lot_recall(lot=mine.medium_lot, actor=other_reviewer, password=PASSWORD, reason="x")
    with pytest.raises(SignatureRefused):
        lot_recall(lot=mine.medium_lot, actor=reviewer, password="nope", reason="x")
    with pytest.raises(ValidationFailed):
        lot_recall(lot=mine.medium_lot, actor=reviewer, password=PASSWORD, reason="  ")

    assert (AuditEvent.objects.count(), Deviation.objects.count()) == before
    assert not Run.objects.filter(flagged=True).exists()
    lot_recall(lot=mine.medium_lot, actor=reviewer, password=PASSWORD, reason="first")
    with pytest.raises(Conflict) as exc:
        lot_recall(lot=mine.medium_lot, actor=reviewer, password=PASSWORD, reason="again")
    assert exc.value.code == "already_recalled"
