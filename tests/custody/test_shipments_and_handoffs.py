"""Shipments with their loggers (an excursion opens a deviation linked to the run), the
draw-to-processing time computed from the records, hand-offs scanned on both sides and the
chain's gaps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from protocol_tracker.custody import services as custody
from protocol_tracker.custody.models import HandOff, LoggerFile
from protocol_tracker.custody.selectors import (
    custody_chain,
    custody_for_batch_record,
    manual_identity_entries,
)
from protocol_tracker.qc.models import Deviation, QCResult
from tests.builders.custody import blood_shipment, payload

pytestmark = pytest.mark.django_db


def _shipment(cw, actor, **kwargs):
    now = timezone.now()
    values = {
        "run": cw.run, "kind": "product", "courier": "Cold chain Ltd", "origin": "GMP lab",
        "destination": "Ward 5", "range_min_c": 2, "range_max_c": 8,
        "packed_at": now - timedelta(hours=6), "actor": actor,
    } | kwargs  # fmt: skip
    return custody.shipment_create(**values)


def _logger(start, values, step=5) -> bytes:
    rows = ["\ufeffDate/Time;Temperature (°C)"]
    rows += [
        f"{(start + timedelta(minutes=step * i)).isoformat()};{v}".replace(".", ",")
        for i, v in enumerate(values)
    ]
    return ("\n".join(rows) + "\n").encode()


def test_an_excursion_opens_a_deviation_linked_to_the_run(cw, technician):
    shipment = _shipment(cw, technician)
    start = timezone.now() - timedelta(hours=5)
    data = _logger(start, [5.0] * 10 + [9.5, 10.2, 9.1] + [5.0] * 10)

    logger = custody.shipment_logger_attach(
        shipment=shipment, data=data, filename="tl-42.csv", actor=technician
    )

    assert (logger.readings, logger.minutes_outside, len(logger.excursions)) == (23, 15.0, 1)
    assert logger.sha256 == __import__("hashlib").sha256(data).hexdigest()
    assert logger.file.read() == data
    deviation = logger.deviation
    assert (deviation.kind, deviation.severity, deviation.run_id) == ("custody", "major", cw.run.pk)
    assert f"SH-{shipment.pk}" in deviation.title and "15 min outside 2–8 °C" in deviation.title
    assert "delimiter ';'" in logger.notes


def test_an_in_range_logger_opens_nothing(cw, technician):
    shipment = _shipment(cw, technician)
    logger = custody.shipment_logger_attach(
        shipment=shipment, data=_logger(timezone.now() - timedelta(hours=2), [4.5] * 12),
        filename="ok.csv", actor=technician,
    )  # fmt: skip
    assert logger.in_range and logger.deviation is None
    assert Deviation.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"time,temp\n03/04/2026 08:00,5\n", "ambiguous"),
     (b"time,temp\n2026-03-02 08:00,5\n2026-03-02 08:00,7\n", "two different readings")],
)  # fmt: skip
def test_an_unreadable_logger_file_is_refused_and_nothing_is_kept(cw, technician, data, message):
    shipment = _shipment(cw, technician)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed, match=message):
        custody.shipment_logger_attach(
            shipment=shipment, data=data, filename="bad.csv", actor=technician
        )
    assert LoggerFile.objects.count() == 0 and AuditEvent.objects.count() == events


def test_the_same_logger_file_twice_is_refused(cw, technician):
    shipment = _shipment(cw, technician)
    data = _logger(timezone.now() - timedelta(hours=2), [4.5] * 12)
    custody.shipment_logger_attach(shipment=shipment, data=data, filename="a.csv", actor=technician)
    with pytest.raises(ValidationFailed, match="already attached"):
        custody.shipment_logger_attach(
            shipment=shipment, data=data, filename="b.csv", actor=technician
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"range_min_c": 8, "range_max_c": 2}, "range_min_c"),
     ({"range_min_c": float("nan")}, "range_min_c"),
     ({"packed_at": timezone.now().replace(tzinfo=None)}, "packed_at"),
     ({"packed_at": timezone.now() + timedelta(days=1)}, "packed_at"),
     ({"courier": "Evil\u202eCorp"}, "courier"),
     ({"kind": "teleport"}, "kind")],
)  # fmt: skip
def test_bad_shipments_are_refused(cw, technician, kwargs, field):
    with pytest.raises(ValidationFailed) as exc:
        _shipment(cw, technician, **kwargs)
    assert field in exc.value.fields


def test_draw_to_processing_is_computed_from_the_shipment(cw, technician):
    with pytest.raises(ValidationFailed, match="record the shipment"):
        custody.computed_result_record(
            stage_run=cw.stage_run, checkpoint=cw.computed, actor=technician
        )
    blood_shipment(cw.run, technician, hours=6.5)

    result = QCResult.objects.get(checkpoint=cw.computed)  # computed when the blood arrived

    assert (result.value_number, result.unit, result.verdict) == (6.5, "h", "pass")
    assert "Computed from shipment SH-" in result.comment


def test_a_late_blood_receipt_fails_the_24_hour_checkpoint(cw, technician):
    # Receiving the blood fills in the checkpoint of the stage being worked at once.
    blood_shipment(cw.run, technician, hours=30, drawn_hours_ago=31)
    result = QCResult.objects.get(checkpoint=cw.computed)
    assert (result.value_number, result.verdict) == (30.0, "fail")
    assert Deviation.objects.get(qc_result=result).kind == "oos"


def test_a_computed_checkpoint_is_never_typed(cw, technician):
    from protocol_tracker.qc.services import qc_result_record

    with pytest.raises(NotPermitted, match="computed from the run's records"):
        qc_result_record(
            stage_run=cw.stage_run, checkpoint=cw.computed, value=3, unit="h",
            measured_at=timezone.now(), actor=technician,
        )  # fmt: skip
    assert QCResult.objects.count() == 0


def _send(cw, actor, item, from_location, to_location, hours_ago, scanned=None):
    return custody.handoff_send(
        item=item, from_party="Ward nurse", from_location=from_location, to_party="Technician",
        to_location=to_location, sent_at=timezone.now() - timedelta(hours=hours_ago),
        scanned=scanned or payload(item), actor=actor,
    )  # fmt: skip


def _receive(handoff, actor, hours_ago, scanned=None):
    return custody.handoff_receive(
        handoff=handoff, received_at=timezone.now() - timedelta(hours=hours_ago),
        scanned=scanned or payload(handoff.item), condition="intact", temperature_c=21.0,
        actor=actor,
    )  # fmt: skip


def test_hand_offs_form_an_unbroken_chain(cw, technician, technician2):
    first = _send(cw, technician, cw.tube, "Ward 5", "Courier box", 5)
    _receive(first, technician2, 4.9)
    second = _send(cw, technician2, cw.tube, "Courier box", "GMP lab", 2)
    _receive(second, technician, 1.9)

    (tube_chain, vial_chain) = sorted(custody_chain(run=cw.run), key=lambda c: c.item.kind)
    assert [link.gap for link in tube_chain.links] == ["", ""]
    assert tube_chain.where == "GMP lab" and vial_chain.links == []
    rows = custody_for_batch_record(cw.run)
    assert [(r["item"], r["from"], r["to"], r["scanned"], r["gap"]) for r in rows] == [
        (cw.tube.item_id, "Ward nurse (Ward 5)", "Technician (Courier box)", True, ""),
        (cw.tube.item_id, "Ward nurse (Courier box)", "Technician (GMP lab)", True, ""),
    ]


def test_an_item_arriving_where_no_hand_off_sent_it_is_a_gap(cw, technician):
    first = _send(cw, technician, cw.tube, "Ward 5", "Courier box", 5)
    _receive(first, technician, 4.9)
    second = _send(cw, technician, cw.tube, "Freezer 3", "GMP lab", 2)
    _receive(second, technician, 1.9)

    chain = next(c for c in custody_chain(run=cw.run) if c.item == cw.tube)
    assert chain.links[1].gap == "left Freezer 3 but the last hand-off delivered it to Courier box"


def test_a_hand_off_with_the_wrong_label_in_hand_is_refused(cw, technician):
    with pytest.raises(ValidationFailed, match="wrong material in hand") as exc:
        _send(cw, technician, cw.tube, "Ward", "Lab", 1, scanned=payload(cw.other_tube))
    assert exc.value.code == "identity_mismatch"
    handoff = _send(cw, technician, cw.tube, "Ward", "Lab", 2)
    with pytest.raises(ValidationFailed, match="wrong material in hand"):
        _receive(handoff, technician, 1, scanned=payload(cw.vial))
    with pytest.raises(InvalidTransition, match="on its way"):
        _send(cw, technician, cw.tube, "Lab", "Freezer", 1)
    assert HandOff.objects.count() == 1


@pytest.mark.parametrize("temperature", [float("nan"), 400, "warm"])
def test_a_receipt_with_an_impossible_temperature_is_refused(cw, technician, temperature):
    handoff = _send(cw, technician, cw.tube, "Ward", "Lab", 2)
    with pytest.raises(ValidationFailed, match="temperature"):
        custody.handoff_receive(
            handoff=handoff, received_at=timezone.now(), scanned=payload(cw.tube),
            condition="intact", temperature_c=temperature, actor=technician,
        )  # fmt: skip


def test_typed_entries_are_listed_for_review_by_exception(cw, technician, technician2):
    from tests.factories import PASSWORD

    custody.identity_scan_record(
        stage_run=cw.stage_run, checkpoint=cw.checkpoint, scanned=cw.good_scan(),
        actor=technician, method="manual", witness=technician2.username,
        witness_password=PASSWORD,
    )  # fmt: skip

    (row,) = manual_identity_entries(cw.run)
    assert (row["kind"], row["by"], row["witness"], row["verdict"]) == (
        "identity_manual_entry", technician.username, technician2.username, "match"
    )  # fmt: skip
