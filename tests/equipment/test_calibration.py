"""Calibration and maintenance records decide whether equipment may be used: due dates on the
lab's clock, a failed calibration lapses at once, corrections supersede; an instrument whose
calibration lapsed has its results refused until it is calibrated again; instruments are
registered in one step (the command too)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from labs.models import Instrument, InstrumentCredential
from labs.services import instrument_authenticate
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import Conflict, NotPermitted, ValidationFailed
from protocol_tracker.equipment import services
from protocol_tracker.equipment.models import CalibrationRecord, Equipment
from protocol_tracker.equipment.selectors import (
    equipment_state,
    instrument_assays_of_lab,
    instrument_calibration_problem,
)
from protocol_tracker.qc.models import QCResult
from protocol_tracker.qc.services import qc_result_record, qc_results_record_bulk
from tests.builders import api_protocol, working_stage

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def cabinet(lab, reviewer):
    return services.equipment_create(
        lab=lab,
        code="BSC-7",
        name="Class II cabinet",
        kind="biosafety_cabinet",
        calibration_interval_days=180,
        maintenance_interval_days=90,
        reminder_lead_days=10,
        actor=reviewer,
    )


def test_equipment_that_needs_calibration_is_out_until_its_first_passed_one(cabinet, technician):
    with time_machine.travel(NOON, tick=False):
        assert equipment_state(cabinet, now=NOON).problem == (
            "Class II cabinet (BSC-7) has no passed calibration on record"
        )
        record = services.calibration_record_add(
            equipment=cabinet,
            performed_at=NOON - timedelta(hours=2),
            performed_by="Acme Service",
            passed=True,
            certificate=b"%PDF cert",
            certificate_filename="cert.pdf",
            actor=technician,
        )
    cabinet.refresh_from_db()
    # 180 days from the day it was performed on the lab's clock.
    assert record.next_due == date(2026, 8, 29) == cabinet.calibration_due
    assert len(record.certificate_sha256) == 64
    assert equipment_state(cabinet, now=NOON).usable
    # In calibration until the start of the due date, Shanghai time.
    eve = datetime(2026, 8, 28, 15, 59, tzinfo=UTC)  # 23:59 on 28 Aug in Shanghai
    assert equipment_state(cabinet, now=eve).usable
    assert equipment_state(cabinet, now=eve).warnings == [
        "Class II cabinet (BSC-7): calibration due on 2026-08-29"
    ]
    state = equipment_state(cabinet, now=eve + timedelta(minutes=1))
    assert (state.problem_code, state.problem) == (
        "calibration_lapsed",
        "Class II cabinet (BSC-7) is out of calibration: its calibration was due on 2026-08-29 "
        "(the lab's date is 2026-08-29)",
    )


def test_a_failed_calibration_lapses_it_at_once_and_a_correction_supersedes(cabinet, technician):
    passed = services.calibration_record_add(
        equipment=cabinet,
        performed_at=timezone.now() - timedelta(days=1),
        performed_by="Acme",
        passed=True,
        actor=technician,
    )
    failed = services.calibration_record_add(
        equipment=cabinet,
        performed_at=timezone.now(),
        performed_by="Acme",
        passed=False,
        notes="airflow low",
        actor=technician,
    )
    cabinet.refresh_from_db()
    assert not equipment_state(cabinet, now=timezone.now()).usable

    with pytest.raises(ValidationFailed) as exc:
        services.calibration_record_add(
            equipment=cabinet,
            performed_at=timezone.now(),
            performed_by="Acme",
            passed=True,
            supersedes=failed,
            reason="",
            actor=technician,
        )
    assert "reason" in exc.value.fields
    services.calibration_record_add(
        equipment=cabinet,
        performed_at=failed.performed_at,
        performed_by="Acme",
        passed=True,
        supersedes=failed,
        reason="the airflow reading was of another cabinet",
        actor=technician,
    )
    cabinet.refresh_from_db()
    assert equipment_state(cabinet, now=timezone.now()).usable
    assert CalibrationRecord.objects.filter(equipment=cabinet).count() == 3
    assert passed.next_due is not None
    with pytest.raises(ValidationFailed, match="already corrected"):
        services.calibration_record_add(
            equipment=cabinet,
            performed_at=failed.performed_at,
            performed_by="Acme",
            passed=True,
            supersedes=failed,
            reason="again",
            actor=technician,
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"performed_at": timezone.now() + timedelta(days=2)}, "performed_at"),
        ({"performed_at": datetime(2026, 3, 1, 9, 0)}, "performed_at"),  # naive
        ({"performed_by": " "}, "performed_by"),
        ({"next_due": date(2000, 1, 1)}, "next_due"),
        ({"certificate": b""}, "certificate"),
    ],
)
def test_bad_calibration_records_are_refused_and_write_nothing(cabinet, technician, changes, field):
    values = {
        "equipment": cabinet,
        "performed_at": timezone.now(),
        "performed_by": "Acme",
        "passed": True,
        "actor": technician,
        **changes,
    }
    before = (CalibrationRecord.objects.count(), AuditEvent.objects.count())

    with pytest.raises(ValidationFailed) as exc:
        services.calibration_record_add(**values)

    assert field in exc.value.fields
    assert (CalibrationRecord.objects.count(), AuditEvent.objects.count()) == before


def test_maintenance_sets_its_own_due_date_and_only_warns(cabinet, technician):
    services.calibration_record_add(
        equipment=cabinet,
        performed_at=timezone.now(),
        performed_by="Acme",
        passed=True,
        actor=technician,
    )
    services.maintenance_record_add(
        equipment=cabinet,
        performed_at=timezone.now() - timedelta(days=100),
        performed_by="Acme",
        kind="preventive",
        actor=technician,
    )
    cabinet.refresh_from_db()
    state = equipment_state(cabinet, now=timezone.now())
    assert state.usable
    assert state.warnings == [
        f"Class II cabinet (BSC-7): maintenance overdue since {cabinet.maintenance_due:%Y-%m-%d}"
    ]


def test_only_reviewers_and_admins_keep_the_register_technicians_take_it_out_of_service(
    lab, cabinet, technician, reviewer
):
    with pytest.raises(NotPermitted):
        services.equipment_create(lab=lab, code="X", name="X", kind="incubator", actor=technician)
    out = services.equipment_status_set(
        equipment=cabinet, status="out_of_service", reason="alarm", actor=technician
    )
    assert out.status == "out_of_service"
    with pytest.raises(NotPermitted):
        services.equipment_status_set(
            equipment=cabinet, status="in_service", reason="fixed", actor=technician
        )
    assert (
        services.equipment_status_set(
            equipment=cabinet, status="in_service", reason="fixed", actor=reviewer
        ).status
        == "in_service"
    )
    with pytest.raises(Conflict):
        services.equipment_create(
            lab=lab, code="BSC-7", name="dup", kind="incubator", actor=reviewer
        )


# --- instruments ----------------------------------------------------------------------------


def test_an_instrument_is_registered_in_one_step_with_assays_of_the_labs_protocols(lab, lab_admin):
    api_protocol(lab)
    assert instrument_assays_of_lab(lab=lab) == ["cell_count", "flow_cytometry"]

    with pytest.raises(ValidationFailed) as exc:
        services.instrument_register(
            lab=lab,
            name="Countess",
            kind="cell_counter",
            allowed_assays="cell_count",
            actor=lab_admin,
        )
    assert exc.value.fields == {"allowed_assays": ["a list of assay codes"]}
    with pytest.raises(ValidationFailed, match="viability_count"):
        services.instrument_register(
            lab=lab,
            name="Countess",
            kind="cell_counter",
            allowed_assays=["viability_count"],
            actor=lab_admin,
        )
    assert not Instrument.objects.exists()

    instrument = services.instrument_register(
        lab=lab,
        name="Countess",
        kind="cell_counter",
        allowed_assays=["cell_count"],
        make="Thermo",
        model="Countess 3",
        serial="C3-0042",
        calibration_interval_days=365,
        actor=lab_admin,
    )

    equipment = Equipment.objects.get(instrument=instrument)
    assert (instrument.allowed_assays, equipment.kind, equipment.serial) == (
        ["cell_count"],
        "cell_counter",
        "C3-0042",
    )


def test_an_instrument_whose_calibration_lapsed_has_its_results_refused(
    lab, lab_admin, technician, reviewer
):
    protocol = api_protocol(lab)
    instrument = services.instrument_register(
        lab=lab,
        name="Countess",
        kind="cell_counter",
        allowed_assays=["cell_count"],
        calibration_interval_days=365,
        actor=lab_admin,
    )
    sr = working_stage(protocol, technician)
    checkpoint = sr.stage.checkpoints.get(key="viability")

    def post():
        return qc_result_record(
            stage_run=sr,
            checkpoint=checkpoint,
            value=91,
            unit="%",
            measured_at=timezone.now(),
            actor=Instrument.objects.get(pk=instrument.pk),
        )

    with pytest.raises(Conflict) as exc:
        post()
    assert exc.value.code == "calibration_lapsed"
    assert exc.value.message == (
        "results of instrument Countess are refused: Countess (Countess) has no passed "
        "calibration on record; record a passed calibration to post again"
    )
    with pytest.raises(Conflict):
        qc_results_record_bulk(
            rows=[
                {
                    "stage_run": sr.pk,
                    "checkpoint": checkpoint.pk,
                    "value": 91,
                    "unit": "%",
                    "measured_at": timezone.now(),
                }
            ],
            actor=Instrument.objects.get(pk=instrument.pk),
        )
    assert not QCResult.objects.exists()

    services.calibration_record_add(
        equipment=Equipment.objects.get(instrument=instrument),
        performed_at=timezone.now(),
        performed_by="Thermo field service",
        passed=True,
        actor=technician,
    )
    assert post().verdict == "pass"
    fresh = Instrument.objects.get(pk=instrument.pk)
    assert instrument_calibration_problem(fresh, now=timezone.now()) == ""


def test_create_instrument_token_creates_the_instrument_and_prints_what_it_needs(lab):
    api_protocol(lab)
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="give --kind"):
        call_command(
            "create_instrument_token",
            "--lab",
            lab.slug,
            "--name",
            "Countess",
            stdout=out,
            stderr=err,
        )
    with pytest.raises(CommandError, match="viability_count"):
        call_command(
            "create_instrument_token",
            "--lab",
            lab.slug,
            "--name",
            "Countess",
            "--kind",
            "cell_counter",
            "--assays",
            "viability_count",
            stdout=out,
            stderr=err,
        )
    assert not Instrument.objects.exists()

    call_command(
        "create_instrument_token",
        "--lab",
        lab.slug,
        "--name",
        "Countess",
        "--kind",
        "cell_counter",
        "--assays",
        "cell_count",
        "--make",
        "Thermo",
        "--serial",
        "C3-1",
        stdout=out,
        stderr=err,
    )

    token = out.getvalue().strip()
    instrument = instrument_authenticate(token)
    assert instrument is not None and instrument.allowed_assays == ["cell_count"]
    assert Equipment.objects.filter(instrument=instrument, serial="C3-1").exists()
    assert "Created instrument Countess (cell_counter)" in err.getvalue()
    assert "may post cell_count: checkpoint key 'viability' (protocol api-test, stage expand" in (
        err.getvalue()
    )
    # Again, for the existing instrument: a second token (--rotate revokes the first).
    call_command(
        "create_instrument_token",
        "--lab",
        lab.slug,
        "--name",
        "Countess",
        "--rotate",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert InstrumentCredential.objects.filter(revoked_at__isnull=True).count() == 1
    assert instrument_authenticate(token) is None
