"""Re-tests due by passage or time on runs in culture (the bench board lists them), and consent
scope enforced when a result is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import InvalidTransition
from protocol_tracker.qc.models import QCResult
from protocol_tracker.qc.selectors import retests_due
from protocol_tracker.qc.services import qc_result_record
from protocol_tracker.runs import services as run_services
from tests.builders import T0, checkpoint_definition, stage_definition
from tests.factories import protocol_from_dict

pytestmark = pytest.mark.django_db
D = timedelta(days=1)


def _protocol(lab):
    return protocol_from_dict(
        lab,
        {
            "code": "culture",
            "name": "Culture",
            "description": "",
            "stages": [
                stage_definition(
                    "expand",
                    24 * 90,
                    checkpoints=[
                        {
                            **checkpoint_definition(
                                "myco", value_type="boolean", spec={"expected": False}
                            ),
                            "retest_every_passages": 6,
                            "retest_every_days": 28,
                        },
                        {
                            **checkpoint_definition(
                                "karyo", value_type="boolean", spec={"expected": True}
                            ),
                            "requires_consent": ["genetic_testing"],
                        },
                    ],
                )
            ],
        },
    )


def _working(lab, technician, donor):
    protocol = _protocol(lab)
    run = run_services.run_create(
        lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0
    )
    with time_machine.travel(T0, tick=False):
        run = run_services.run_start(run=run, actor=technician)
        sr = run.stage_runs.get()
        return run, run_services.stage_start(stage_run=sr, actor=technician)


def _record(sr, key, value, technician, at):
    with time_machine.travel(at, tick=False):
        return qc_result_record(
            stage_run=sr,
            checkpoint=sr.stage.checkpoints.get(key=key),
            value=value,
            unit=None,
            measured_at=at,
            actor=technician,
        )


def test_a_retest_falls_due_by_time_or_by_passage(
    lab, technician, donor, django_assert_num_queries
):
    run, sr = _working(lab, technician, donor)
    _record(sr, "myco", False, technician, T0 + D)

    assert retests_due(lab=lab, now=T0 + 28 * D) == []
    with django_assert_num_queries(1):
        due = retests_due(lab=lab, now=T0 + 29 * D)
    assert [(d.run_code, d.checkpoint_key, d.status.by) for d in due] == [
        (run.code, "myco", "time")
    ]
    with time_machine.travel(T0 + 5 * D, tick=False):
        for _ in range(6):
            run_services.run_passage(run=run, actor=technician, kind="passage")
    due = retests_due(lab=lab, now=T0 + 6 * D)
    assert [(d.checkpoint_key, d.status.by, d.passage_now) for d in due] == [("myco", "passage", 6)]


def test_a_genetic_test_needs_the_donors_consent(lab, technician):
    donor = run_services.donor_create(
        lab=lab,
        code="NOGEN-1",
        consent_given=True,
        consent_scope=["reprogramming"],
        actor=technician,
    )
    _run, sr = _working(lab, technician, donor)
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidTransition) as excinfo:
        _record(sr, "karyo", True, technician, T0 + D)

    assert excinfo.value.code == "consent_missing"
    assert "donor NOGEN-1 has not consented to genetic testing" in excinfo.value.message
    assert not QCResult.objects.filter(stage_run=sr).exists()
    assert AuditEvent.objects.count() == events
    _record(sr, "myco", False, technician, T0 + D)  # other tests are not affected
