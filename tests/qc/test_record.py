"""Recording QC results: parsing, units, verdicts, idempotency, retests, corrections, gating."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed
from protocol_tracker.qc.models import Deviation, DeviationKind, QCResult, Verdict
from protocol_tracker.qc.services import qc_result_correct, qc_result_record, stage_complete
from protocol_tracker.runs.models import RunStatus, StageStatus
from protocol_tracker.runs.services import stage_start
from tests.builders import T0, complete
from tests.factories import InstrumentFactory

H = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def _stage(run, key):
    return run.stage_runs.select_related("stage").get(stage__key=key)


def _cp(stage_run, key):
    return stage_run.stage.checkpoints.get(key=key)


@pytest.fixture
def expand(active_run, technician):
    """The run with 'collect' done at its due time and 'expand' started."""
    collect = stage_start(stage_run=_stage(active_run, "collect"), actor=technician)
    qc_result_record(
        stage_run=collect,
        checkpoint=_cp(collect, "volume_ok"),
        value=True,
        unit=None,
        measured_at=T0,
        actor=technician,
    )
    with time_machine.travel(T0 + 24 * H, tick=False):
        complete(collect, technician)
        return stage_start(stage_run=_stage(active_run, "expand"), actor=technician)


def record(stage_run, key, value, *, actor, unit=None, **kw):
    kw.setdefault("measured_at", T0 + 30 * H)
    with time_machine.travel(T0 + 31 * H, tick=False):
        return qc_result_record(
            stage_run=stage_run,
            checkpoint=_cp(stage_run, key),
            value=value,
            unit=unit,
            actor=actor,
            **kw,
        )


def test_a_passing_result_snapshots_the_spec(expand, technician, protocol):
    result = record(expand, "viability", "92.5", actor=technician, unit="%")

    assert (result.value_number, result.unit, result.verdict) == (92.5, "%", Verdict.PASS)
    assert result.spec_snapshot == {
        "spec": {"min": 70},
        "unit": "%",
        "value_type": "percent",
        "blocking": True,
        "protocol_id": protocol.pk,
        "protocol_version": 1,
        "checkpoint_key": "viability",
        "source": "test",
    }
    assert result.recorded_by == technician
    event = AuditEvent.objects.get(action="qc_result.record", object_id=str(result.pk))
    assert event.after["verdict"] == "pass"


def test_units_are_converted_to_the_spec_unit(expand, technician):
    """5,000,000 cells/mL meets 'at least 5 x 10^6 cells/mL' exactly; 4,999,999 does not."""
    passing = record(expand, "density", 5_000_000, actor=technician, unit="cells/mL")

    assert (passing.verdict, passing.value_in_spec_unit, passing.unit) == (
        Verdict.PASS,
        5.0,
        "cells/mL",
    )


def test_one_below_the_limit_after_conversion_fails(expand, technician):
    failing = record(expand, "density", 4_999_999, actor=technician, unit="cells/mL")

    assert failing.verdict == Verdict.FAIL


@pytest.mark.parametrize(
    ("key", "value", "unit", "field"),
    [
        ("density", math.nan, None, "value"),
        ("density", math.inf, None, "value"),
        ("density", "12abc", None, "value"),
        ("density", True, None, "value"),
        ("viability", 101, "%", "value"),
        ("mycoplasma", "maybe", None, "value"),
        ("density", 5, "furlongs", "unit"),
        ("density", 5, "EU/mL", "unit"),
        ("mycoplasma", True, "mL", "unit"),
    ],
)
def test_bad_values_and_units_are_refused_with_nothing_written(
    expand, technician, key, value, unit, field
):
    before = (QCResult.objects.count(), AuditEvent.objects.count())

    with pytest.raises(ValidationFailed) as exc:
        record(expand, key, value, actor=technician, unit=unit)

    assert list(exc.value.fields) == [field]
    assert (QCResult.objects.count(), AuditEvent.objects.count()) == before


def test_measured_at_must_be_aware_and_not_in_the_future(expand, technician):
    from datetime import datetime

    for when in (datetime(2026, 3, 3, 9, 0), T0 + 31 * H + 6 * timedelta(minutes=1)):
        with pytest.raises(ValidationFailed) as exc:
            record(expand, "viability", 90, actor=technician, measured_at=when)
        assert list(exc.value.fields) == ["measured_at"]
    assert (
        record(
            expand,
            "viability",
            90,
            actor=technician,
            measured_at=T0 + 31 * H + 4 * timedelta(minutes=1),
        ).verdict
        == Verdict.PASS
    )


def test_idempotent_recording_returns_the_first_result(expand, technician):
    first = record(expand, "viability", 90, actor=technician, idempotency_key="abc")
    events = AuditEvent.objects.count()

    again = record(expand, "viability", 90, actor=technician, idempotency_key="abc")

    assert again.pk == first.pk
    assert (QCResult.objects.count(), AuditEvent.objects.count()) == (2, events)
    with pytest.raises(Conflict) as exc:
        record(expand, "viability", 91, actor=technician, idempotency_key="abc")
    assert exc.value.code == "idempotency_mismatch"


def test_a_second_result_must_be_a_correction(expand, technician):
    first = record(expand, "viability", 90, actor=technician)

    with pytest.raises(ValidationFailed, match="correct it instead"):
        record(expand, "viability", 95, actor=technician)

    with time_machine.travel(T0 + 32 * H, tick=False):
        corrected = qc_result_correct(
            result=first,
            value=85,
            unit="%",
            measured_at=T0 + 30 * H,
            reason="transcription error",
            actor=technician,
        )
    assert (corrected.supersedes_id, corrected.reason, corrected.verdict) == (
        first.pk,
        "transcription error",
        Verdict.PASS,
    )
    event = AuditEvent.objects.get(action="qc_result.correct")
    assert (event.before["value_number"], event.after["value_number"], event.reason) == (
        90.0,
        85.0,
        "transcription error",
    )
    with pytest.raises(Conflict):
        qc_result_correct(
            result=first,
            value=80,
            unit="%",
            measured_at=T0 + 30 * H,
            reason="again",
            actor=technician,
        )
    with pytest.raises(ValidationFailed):
        qc_result_correct(
            result=corrected,
            value=80,
            unit="%",
            measured_at=T0 + 30 * H,
            reason=" ",
            actor=technician,
        )


def test_a_failing_blocking_result_opens_a_deviation_and_a_retest_supersedes_it(expand, technician):
    failed = record(expand, "viability", 60, actor=technician)

    deviation = Deviation.objects.get()
    assert (deviation.kind, deviation.qc_result_id, deviation.stage_run_id, deviation.status) == (
        DeviationKind.OUT_OF_SPEC,
        failed.pk,
        expand.pk,
        "open",
    )

    retest = record(expand, "viability", 80, actor=technician)
    assert (retest.supersedes_id, retest.reason, retest.verdict) == (failed.pk, "retest", "pass")


def test_a_failing_informational_result_opens_no_deviation(expand, technician):
    result = record(expand, "morphology", "spread out", actor=technician)

    assert result.verdict == Verdict.FAIL
    assert Deviation.objects.count() == 0


def test_an_invalid_assay_needs_a_retest(expand, technician):
    invalid = record(expand, "mycoplasma", None, actor=technician, state="invalid")

    assert invalid.verdict == Verdict.INVALID
    retest = record(expand, "mycoplasma", False, actor=technician)
    assert (retest.supersedes_id, retest.verdict) == (invalid.pk, Verdict.PASS)


def test_stage_completes_only_when_every_blocking_checkpoint_passes(expand, technician):
    record(expand, "viability", 60, actor=technician)
    record(expand, "mycoplasma", None, actor=technician, state="pending")

    with pytest.raises(InvalidTransition) as exc:
        stage_complete(stage_run=expand, actor=technician)
    assert exc.value.message == (
        "stage 'Expand' cannot complete: no result yet for 'Density'; still pending: "
        "'Mycoplasma'; out of specification without an accepted disposition: 'Viability'"
    )

    record(expand, "viability", 75, actor=technician)
    record(expand, "density", 6, actor=technician)
    record(expand, "mycoplasma", False, actor=technician)
    with time_machine.travel(T0 + 96 * H, tick=False):
        done = complete(expand, technician)
    assert done.status == StageStatus.COMPLETED


def test_results_are_refused_on_a_stage_not_in_progress(active_run, technician):
    release = _stage(active_run, "release")

    with pytest.raises(InvalidTransition, match="results are recorded while it is in progress"):
        record(release, "endotoxin", 1, actor=technician)
    assert QCResult.objects.count() == 0


def test_viewer_cannot_record(expand, viewer):
    with pytest.raises(NotPermitted):
        record(expand, "viability", 90, actor=viewer)


def test_instrument_records_only_its_assays_in_its_lab(lab, other_lab, expand):
    counter = InstrumentFactory(lab=lab, name="Countess", allowed_assays=["cell_count"])
    result = record(expand, "viability", 88, actor=counter, idempotency_key="run-1/well-A1")

    assert (result.recorded_by, result.recorded_by_instrument) == (None, counter)
    with pytest.raises(NotPermitted, match="may not post 'mycoplasma_pcr' results"):
        record(expand, "mycoplasma", False, actor=counter)
    foreign = InstrumentFactory(lab=other_lab, name="Foreign", allowed_assays=["cell_count"])
    with pytest.raises(NotPermitted):
        record(expand, "density", 6, actor=foreign)
    counter.is_active = False
    counter.save()
    with pytest.raises(NotPermitted):
        record(expand, "density", 6, actor=counter)


def test_people_cannot_record_instrument_only_checkpoints(expand, technician):
    with pytest.raises(NotPermitted, match="recorded by instruments only"):
        record(expand, "density_auto", 6, actor=technician)


def test_results_are_refused_once_the_run_is_closed(expand, technician, reviewer):
    from protocol_tracker.runs.services import run_terminate

    run_terminate(run=expand.run, actor=reviewer, reason="contamination")

    with pytest.raises(InvalidTransition, match="is terminated; results can no longer be recorded"):
        record(expand, "viability", 90, actor=technician)
    assert expand.run.status == RunStatus.ACTIVE  # the caller's copy is untouched
