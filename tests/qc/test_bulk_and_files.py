"""Bulk recording (all or nothing, per-row errors, one insert) and raw file storage."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import NotPermitted, RowErrors, ValidationFailed
from protocol_tracker.qc.models import Deviation, QCResult, RawFile
from protocol_tracker.qc.services import qc_results_record_bulk, raw_file_store
from protocol_tracker.runs.services import stage_start
from tests.builders import T0, work_stage
from tests.factories import InstrumentFactory

H = timedelta(hours=1)
NOW = T0 + 31 * H
pytestmark = pytest.mark.django_db


@pytest.fixture
def expand(active_run, technician):
    work_stage(active_run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 24 * H)
    with time_machine.travel(T0 + 25 * H, tick=False):
        return stage_start(
            stage_run=active_run.stage_runs.get(stage__key="expand"), actor=technician
        )


def _row(expand, key, value, **kw):
    cp = expand.stage.checkpoints.get(key=key)
    return {
        "stage_run": expand.pk,
        "checkpoint": cp.pk,
        "value": value,
        "unit": kw.pop("unit", None),
        "measured_at": kw.pop("measured_at", T0 + 30 * H),
        **kw,
    }


def test_bulk_records_all_rows_with_one_insert(expand, technician):
    rows = [
        _row(expand, "viability", 90, unit="%"),
        _row(expand, "density", 7_000_000, unit="cells/mL", idempotency_key="k1"),
        _row(expand, "mycoplasma", "false", comment="PCR kit lot 7"),
    ]

    with time_machine.travel(NOW, tick=False):
        results = qc_results_record_bulk(rows=rows, actor=technician)

    assert [(r.checkpoint.key, r.verdict, r.value_in_spec_unit) for r in results] == [
        ("viability", "pass", 90.0),
        ("density", "pass", 7.0),
        ("mycoplasma", "pass", None),
    ]
    assert AuditEvent.objects.filter(action="qc_result.record").count() == 3 + 1  # + collect's


def test_bulk_query_count_does_not_grow_with_rows(expand, technician):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for keys in (["viability"], ["density", "mycoplasma", "morphology"]):
        rows = [
            _row(
                expand,
                k,
                {"viability": 90, "density": 6, "mycoplasma": False, "morphology": "compact"}[k],
            )
            for k in keys
        ]
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as ctx:
            qc_results_record_bulk(rows=rows, actor=technician)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_bulk_is_all_or_nothing_with_per_row_errors(expand, technician):
    before = (QCResult.objects.count(), AuditEvent.objects.count())
    rows = [
        _row(expand, "viability", 90, unit="%"),
        _row(expand, "density", float("nan")),
        _row(expand, "density", 5, unit="parsecs"),
        {"stage_run": expand.pk, "checkpoint": 999999, "value": 1, "measured_at": T0},
        _row(expand, "mycoplasma", False, shoe_size=42),
    ]

    with time_machine.travel(NOW, tick=False), pytest.raises(RowErrors) as exc:
        qc_results_record_bulk(rows=rows, actor=technician)

    assert [(e["index"], e["field"]) for e in exc.value.rows] == [
        (1, "value"),
        (2, "unit"),
        (3, "checkpoint"),
        (4, "shoe_size"),
    ]
    assert exc.value.message == "4 of 5 rows are invalid; nothing was recorded"
    assert (QCResult.objects.count(), AuditEvent.objects.count()) == before


def test_bulk_refuses_duplicates_within_the_batch(expand, technician):
    rows = [_row(expand, "viability", 90), _row(expand, "viability", 91)]

    with time_machine.travel(NOW, tick=False), pytest.raises(RowErrors) as exc:
        qc_results_record_bulk(rows=rows, actor=technician)
    assert exc.value.rows == [
        {"index": 1, "field": "checkpoint", "message": "row 0 records the same checkpoint"}
    ]


def test_bulk_replays_are_idempotent(expand, technician):
    rows = [
        _row(expand, "viability", 90, idempotency_key="a"),
        _row(expand, "density", 6, idempotency_key="b"),
    ]
    with time_machine.travel(NOW, tick=False):
        first = qc_results_record_bulk(rows=rows, actor=technician)
        again = qc_results_record_bulk(rows=rows, actor=technician)
        assert [r.pk for r in again] == [r.pk for r in first]
        rows[1]["value"] = 7
        with pytest.raises(RowErrors) as exc:
            qc_results_record_bulk(rows=rows, actor=technician)
    assert exc.value.rows == [
        {"index": 1, "field": "idempotency_key", "message": "already used for a different result"}
    ]


def test_bulk_failures_open_deviations(expand, technician):
    with time_machine.travel(NOW, tick=False):
        qc_results_record_bulk(rows=[_row(expand, "viability", 40)], actor=technician)
    assert Deviation.objects.get().kind == "oos"


def test_bulk_rows_from_another_lab_are_not_found(expand, other_technician):
    with time_machine.travel(NOW, tick=False), pytest.raises(RowErrors) as exc:
        qc_results_record_bulk(rows=[_row(expand, "viability", 90)], actor=other_technician)
    assert exc.value.rows == [{"index": 0, "field": "stage_run", "message": "not found"}]


def test_bulk_refuses_more_than_5000_rows(technician):
    with pytest.raises(ValidationFailed, match="at most 5000 rows"):
        qc_results_record_bulk(rows=[{}] * 5001, actor=technician)


def test_bulk_by_instrument(lab, expand):
    counter = InstrumentFactory(lab=lab, name="Countess", allowed_assays=["cell_count"])
    with time_machine.travel(NOW, tick=False):
        results = qc_results_record_bulk(rows=[_row(expand, "density_auto", 6)], actor=counter)
        assert results[0].recorded_by_instrument == counter
        with pytest.raises(RowErrors) as exc:
            qc_results_record_bulk(rows=[_row(expand, "mycoplasma", False)], actor=counter)
    assert (
        exc.value.rows[0]["message"] == "instrument Countess may not post 'mycoplasma_pcr' results"
    )


def test_raw_file_is_stored_once_with_its_hash(lab, technician, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = b"FCS3.1    sample"

    first = raw_file_store(lab=lab, data=data, filename="../../etc/A1.fcs", actor=technician)
    again = raw_file_store(lab=lab, data=data, filename="copy.fcs", actor=technician)

    assert again.pk == first.pk
    assert (first.filename, first.kind, first.size_bytes) == ("A1.fcs", "fcs", len(data))
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert first.file.read() == data
    assert RawFile.objects.count() == 1
    assert AuditEvent.objects.filter(action="raw_file.store").count() == 1


def test_raw_file_refuses_empty_data_and_strangers(lab, technician, other_technician):
    with pytest.raises(ValidationFailed):
        raw_file_store(lab=lab, data=b"", filename="x.csv", actor=technician)
    with pytest.raises(NotPermitted):
        raw_file_store(lab=lab, data=b"x", filename="x.csv", actor=other_technician)
    assert RawFile.objects.count() == 0


@pytest.mark.parametrize("copy_min_events", [1, 10_000])
def test_bulk_audit_events_are_the_same_through_copy_or_insert(
    expand, technician, monkeypatch, copy_min_events
):
    """On PostgreSQL a large batch is streamed in with COPY; the events are those an INSERT
    writes (same content, chained in id order) and the chain verifies."""
    from protocol_tracker.audit import services as audit_services

    monkeypatch.setattr(audit_services, "COPY_MIN_EVENTS", copy_min_events)
    rows = [
        _row(expand, "viability", 90.5, unit="%"),
        _row(expand, "density", 7_000_000, unit="cells/mL", idempotency_key="k1"),
        _row(expand, "mycoplasma", "false", comment="PCR kit lot 7, “Zelle” 细胞"),
        _row(expand, "morphology", "compact"),
    ]

    with time_machine.travel(NOW, tick=False):
        results = qc_results_record_bulk(rows=rows, actor=technician)

    events = list(AuditEvent.objects.filter(action="qc_result.record").order_by("id"))[1:]
    assert [(e.object_id, e.run_id, e.lab_id, e.actor_user_id) for e in events] == [
        (str(r.pk), expand.run_id, expand.run.lab_id, technician.pk) for r in results
    ]
    assert events[1].after == {
        "stage_run": expand.pk,
        "checkpoint": results[1].checkpoint_id,
        "value_number": 7_000_000.0,
        "value_bool": None,
        "value_text": "",
        "unit": "cells/mL",
        "value_in_spec_unit": 7.0,
        "verdict": "pass",
        "measured_at": "2026-03-03T07:00:00Z",
        "supersedes": None,
        "raw_file": None,
        "idempotency_key": "k1",
        "comment": "",
    }
    assert (events[0].before, events[2].object_repr) == (None, "Mycoplasma: no (pass)")
    assert audit_services.audit_chain_verify().ok
