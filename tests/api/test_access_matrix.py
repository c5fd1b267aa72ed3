"""Every endpoint × every role × own lab / other lab, generated from one policy table.

The table below is the specification (who may do what), written independently of the views:

- anonymous: 401 everywhere;
- a role the action does not allow: 403 (in any lab, before any object is looked up);
- an allowed role on its own lab: the success status (a fresh object where the action changes
  state);
- an allowed role on another lab's object: 404, as for a missing object; a list never shows
  it; a create that names it is a 400 on that field ("does not exist").

Every refusal writes nothing (the audit trail does not grow).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.clinical.selectors import runs_of_recipient
from protocol_tracker.custody import services as custody
from protocol_tracker.protocols.services import protocol_import
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.services import deviation_disposition_group
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import TaskOccurrence
from tests import builders as f
from tests.api.access_cases_stock import stock_cases
from tests.api.conftest import client_for
from tests.builders import clinical as cb
from tests.builders import custody as custody_builders
from tests.builders.custody_world import custody_world, cw_of, handoff_of, logger_csv, shipment_of
from tests.builders.release import acknowledge_all, release
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PEOPLE = ("technician", "reviewer", "lab_admin", "viewer", "clinician")
ALL = frozenset(PEOPLE)
WORK = frozenset({"technician", "reviewer", "lab_admin"})
REVIEW = frozenset({"reviewer"})
ADMIN = frozenset({"lab_admin"})
CLINICAL = frozenset({"clinician", "reviewer"})
FORMULATE = WORK | {"clinician"}
INSTRUMENT = "instrument"
PRINCIPALS = (*PEOPLE, INSTRUMENT, "anonymous")


def _now() -> str:
    return timezone.now().isoformat()


def _unique(prefix: str) -> str:
    return (
        f"{prefix}-{uuid.uuid4().hex[:8]}".upper()
        if prefix.isupper()
        else (f"{prefix}-{uuid.uuid4().hex[:8]}")
    )


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    allowed: frozenset
    success: int
    target: Callable | None = None  # world -> object for {id} when nothing changes
    fresh: Callable | None = None  # world -> object for {id} when the action changes it
    body: Callable | None = None  # (world, target) -> request body
    standing: Callable | None = None  # world -> object the body names when nothing changes
    present: Callable | None = None  # world -> id a list must (own) / must not (other) show
    ref_field: str | None = None  # the body field naming the other lab's object
    multipart: bool = False
    custody: bool = False  # needs each world's chain-of-custody objects
    prepare: Callable | None = None  # world -> None: standing records a list must show

    def __str__(self) -> str:
        return self.name


def _fresh_draft(w):
    return f.api_protocol(w.lab, _unique("draft"), publish=False)


def _fresh_published(w):
    return f.api_protocol(w.lab, _unique("pub"))


def _held_run(w):
    return run_services.run_hold(
        run=f.active_run(w.protocol, w.worker), actor=w.worker, reason="incubator alarm"
    )


def _ready_stage(w):
    return f.stage(f.active_run(w.protocol, w.worker))


def _passing_stage(w):
    sr = f.working_stage(w.protocol, w.worker)
    f.record(sr, w.worker)
    return sr


def _open_task(w):
    sr = f.working_stage(w.protocol, w.worker)
    return TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at").first()


def _fresh_result(w):
    return f.record(f.working_stage(w.protocol, w.worker), w.worker)


def _fresh_deviation(w):
    return qc_services.deviation_open(
        run=w.run, kind="manual", title="Door left open", actor=w.worker
    )


def _acknowledged_run(w):
    run = f.completed_run(w.protocol, w.worker)
    acknowledge_all(run, f.qa_reviewer(w.lab))
    return run


def _with_exceptions(w):
    """A completed run with an exception left to acknowledge (a correction)."""
    sr = f.working_stage(w.protocol, w.worker)
    result = f.record(sr, w.worker)
    qc_services.qc_result_correct(
        result=result, value=96, unit="%", measured_at=timezone.now(), reason="typo",
        actor=w.worker,
    )  # fmt: skip
    f.complete(sr, w.worker)
    bank = run_services.stage_start(stage_run=f.stage(sr.run, "bank"), actor=w.worker)
    f.record(bank, w.worker, key="post_thaw_viability")
    f.complete(bank, w.worker)
    return sr.run


def _released(w):
    if "released" not in w.extra:
        w.extra["released"] = release(f.completed_run(w.protocol, w.worker), f.qa_reviewer(w.lab))
    return w.extra["released"]


def _minor_pair(w):
    run = f.active_run(w.protocol, w.worker)
    return [
        qc_services.deviation_open(
            run=run, kind="manual", severity="minor", title=f"Late label {n}", actor=w.worker
        )
        for n in (1, 2)
    ]


def _standing_pair(w):
    if "pair" not in w.extra:
        w.extra["pair"] = _minor_pair(w)
    return w.extra["pair"]


def _group(w):
    if "group" not in w.extra:
        w.extra["group"] = deviation_disposition_group(
            deviations=_minor_pair(w), decision="accept", justification="no impact",
            password=PASSWORD, actor=f.qa_reviewer(w.lab),
        )  # fmt: skip
    return w.extra["group"]


def _conv_draft(w):
    definition = f.api_definition(_unique("conv"))
    definition["stages"][0]["checkpoints"][0]["source"] = "CONV (common convention)"
    return protocol_import(lab=w.lab, definition=definition, publish=False)


def _publish_body(w, draft):
    from protocol_tracker.protocols.selectors import protocol_review_hash

    return {
        "password": PASSWORD,
        "reason": "validated",
        "reviewed_hash": protocol_review_hash(protocol=draft),
    }


def _result_body(w, sr):
    return {
        "stage_run": sr.pk,
        "checkpoint": sr.stage.checkpoints.get(key="viability").pk,
        "value": 91.5,
        "unit": "%",
        "measured_at": _now(),
    }


def _upload_body(w, sr):
    return {
        "file": f.named_file(f.fcs_bytes(), "sample.fcs"),
        "stage_run": sr.pk,
        "checkpoint": sr.stage.checkpoints.get(key="events").pk,
    }


def _new_run(w):
    return lambda: f.active_run(w.protocol, w.worker)


def _cgm_body(w, visit):
    data = (cb_data_dir() / "dexcom_small.csv").read_bytes()
    return {"file": f.named_file(data, "clarity.csv"), "device_timezone": "Asia/Shanghai"}


def cb_data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "clinical" / "data"


CLINICAL_CASES = [
    Case(
        "recipients list",
        "GET",
        "/api/v1/recipients/",
        ALL,
        200,
        present=lambda w: cb.standing(w).recipient.pk,
        prepare=cb.standing,
    ),
    Case(
        "recipients retrieve",
        "GET",
        "/api/v1/recipients/{id}/",
        ALL,
        200,
        target=lambda w: cb.standing(w).recipient,
    ),
    Case(
        "recipients create",
        "POST",
        "/api/v1/recipients/",
        CLINICAL,
        201,
        fresh=lambda w: f.active_run(w.protocol, w.worker).donor,
        body=lambda w, donor: {"donor": donor.pk},
        standing=lambda w: cb.standing(w).recipient.donor,
        ref_field="donor",
    ),
    Case(
        "recipients formulation",
        "POST",
        "/api/v1/recipients/{id}/formulation/",
        FORMULATE,
        201,
        target=lambda w: cb.standing(w).recipient,
        fresh=lambda w: cb.fresh_recipient(_new_run(w))[0],
        body=lambda w, r: {
            "run": runs_of_recipient(r).first().pk,
            "weight_kg": 70,
            "volume_ml": 10,
            "expires_at": (timezone.now() + timezone.timedelta(days=1)).isoformat(),
        },
    ),
    Case(
        "recipients targets",
        "POST",
        "/api/v1/recipients/{id}/targets/",
        CLINICAL,
        200,
        target=lambda w: cb.standing(w).recipient,
        body=lambda w, _: {"cgm_target_set": "older_high_risk", "reason": "aged 78"},
    ),
    Case(
        "recipients therapy-events",
        "POST",
        "/api/v1/recipients/{id}/therapy-events/",
        CLINICAL,
        201,
        target=lambda w: cb.standing(w).recipient,
        body=lambda w, _: {"kind": "insulin_stopped", "on_date": "2026-03-01"},
    ),
    Case(
        "recipients outcomes",
        "GET",
        "/api/v1/recipients/{id}/outcomes/",
        ALL,
        200,
        target=lambda w: cb.standing(w).recipient,
    ),
    Case(
        "visits list",
        "GET",
        "/api/v1/visits/",
        ALL,
        200,
        present=lambda w: cb.standing(w).visit.pk,
        prepare=cb.standing,
    ),
    Case(
        "visits retrieve",
        "GET",
        "/api/v1/visits/{id}/",
        ALL,
        200,
        target=lambda w: cb.standing(w).visit,
    ),
    Case(
        "visits create",
        "POST",
        "/api/v1/visits/",
        CLINICAL,
        201,
        fresh=lambda w: cb.fresh_recipient(_new_run(w))[0],
        body=lambda w, r: {
            "recipient": r.pk,
            "run": runs_of_recipient(r).first().pk,
            "kind": "baseline",
            "visit_date": "2026-03-01",
            "values": [{"measure": "hba1c", "value": 53, "unit": "mmol/mol"}],
        },
        standing=lambda w: cb.standing(w).recipient,
        ref_field="recipient",
    ),
    Case(
        "visits values",
        "POST",
        "/api/v1/visits/{id}/values/",
        CLINICAL,
        201,
        target=lambda w: cb.standing(w).visit,
        fresh=lambda w: cb.fresh_visit(_new_run(w)),
        body=lambda w, _: {
            "values": [{"measure": "c_peptide_fasting", "value": 0.2, "unit": "ng/mL"}]
        },
    ),
    Case(
        "visits correct-value",
        "POST",
        "/api/v1/visits/{id}/correct-value/",
        CLINICAL,
        201,
        target=lambda w: cb.standing(w).visit,
        fresh=lambda w: cb.fresh_visit(_new_run(w), with_value=True),
        body=lambda w, v: {
            "value": v.values.first().pk,
            "new_value": 8.2,
            "unit": "%",
            "reason": "report re-issued",
        },
    ),
    Case(
        "visits cgm-import",
        "POST",
        "/api/v1/visits/{id}/cgm-import/",
        CLINICAL,
        201,
        target=lambda w: cb.standing(w).visit,
        fresh=lambda w: cb.fresh_visit(_new_run(w)),
        body=_cgm_body,
        multipart=True,
    ),
]

CASES = [
    Case("labs list", "GET", "/api/v1/labs/", ALL | {INSTRUMENT}, 200, present=lambda w: w.lab.pk),
    Case(
        "labs retrieve",
        "GET",
        "/api/v1/labs/{id}/",
        ALL | {INSTRUMENT},
        200,
        target=lambda w: w.lab,
    ),
    Case(
        "protocols list",
        "GET",
        "/api/v1/protocols/",
        ALL | {INSTRUMENT},
        200,
        present=lambda w: w.protocol.pk,
    ),
    Case(
        "protocols retrieve",
        "GET",
        "/api/v1/protocols/{id}/",
        ALL | {INSTRUMENT},
        200,
        target=lambda w: w.protocol,
    ),
    Case(
        "protocols create",
        "POST",
        "/api/v1/protocols/",
        ADMIN,
        201,
        body=lambda w, _: {"lab": w.lab.pk, "code": _unique("new"), "name": "New"},
        ref_field="lab",
    ),
    Case(
        "protocols publish",
        "POST",
        "/api/v1/protocols/{id}/publish/",
        REVIEW,
        200,
        target=lambda w: w.draft,
        fresh=_fresh_draft,
        body=_publish_body,
    ),
    Case(
        "protocols conventions",
        "GET",
        "/api/v1/protocols/{id}/conventions/",
        ALL,
        200,
        target=lambda w: w.draft,
    ),
    Case(
        "protocols conventions confirm",
        "POST",
        "/api/v1/protocols/{id}/conventions/confirm/",
        REVIEW,
        201,
        target=lambda w: w.draft,
        fresh=_conv_draft,
        body=lambda w, p: {
            "checkpoint_keys": [p.checkpoints.order_by("stage__order", "order").first().key],
            "password": PASSWORD,
        },
    ),
    Case(
        "protocols approvals",
        "GET",
        "/api/v1/protocols/{id}/approvals/",
        ALL,
        200,
        target=lambda w: w.protocol,
    ),
    Case(
        "protocols new-version",
        "POST",
        "/api/v1/protocols/{id}/new-version/",
        ADMIN,
        201,
        target=lambda w: w.protocol,
    ),
    Case(
        "protocols retire",
        "POST",
        "/api/v1/protocols/{id}/retire/",
        REVIEW,
        200,
        target=lambda w: w.protocol,
        fresh=_fresh_published,
        body=lambda w, _: {"password": PASSWORD, "reason": "superseded"},
    ),
    Case("donors list", "GET", "/api/v1/donors/", ALL, 200, present=lambda w: w.donor.pk),
    Case("donors retrieve", "GET", "/api/v1/donors/{id}/", ALL, 200, target=lambda w: w.donor),
    Case(
        "donors create",
        "POST",
        "/api/v1/donors/",
        WORK,
        201,
        body=lambda w, _: {"lab": w.lab.pk, "code": _unique("DNR"), "consent": True},
        ref_field="lab",
    ),
    Case("runs list", "GET", "/api/v1/runs/", ALL | {INSTRUMENT}, 200, present=lambda w: w.run.pk),
    Case("runs retrieve", "GET", "/api/v1/runs/{id}/", ALL, 200, target=lambda w: w.run),
    Case(
        "runs create",
        "POST",
        "/api/v1/runs/",
        WORK,
        201,
        body=lambda w, _: {"protocol": w.protocol.pk, "donor": w.donor.pk},
        ref_field="protocol",
    ),
    Case(
        "runs start",
        "POST",
        "/api/v1/runs/{id}/start/",
        WORK,
        200,
        target=lambda w: w.run,
        fresh=lambda w: f.planned_run(w.protocol, w.worker),
    ),
    Case(
        "runs hold",
        "POST",
        "/api/v1/runs/{id}/hold/",
        WORK,
        200,
        target=lambda w: w.run,
        fresh=lambda w: f.active_run(w.protocol, w.worker),
        body=lambda w, _: {"reason": "incubator alarm"},
    ),
    Case(
        "runs resume",
        "POST",
        "/api/v1/runs/{id}/resume/",
        WORK,
        200,
        target=lambda w: w.run,
        fresh=_held_run,
    ),
    Case(
        "runs terminate",
        "POST",
        "/api/v1/runs/{id}/terminate/",
        REVIEW,
        200,
        target=lambda w: w.run,
        fresh=lambda w: f.active_run(w.protocol, w.worker),
        body=lambda w, _: {"reason": "contaminated"},
    ),
    Case(
        "runs release",
        "POST",
        "/api/v1/runs/{id}/release/",
        REVIEW,
        200,
        target=lambda w: w.run,
        fresh=_acknowledged_run,
        body=lambda w, _: {"password": PASSWORD, "audit_trail_reviewed": True},
    ),
    Case(
        "runs exceptions", "GET", "/api/v1/runs/{id}/exceptions/", ALL, 200, target=lambda w: w.run
    ),
    Case(
        "runs exceptions acknowledge",
        "POST",
        "/api/v1/runs/{id}/exceptions/acknowledge/",
        REVIEW,
        201,
        target=lambda w: w.run,
        fresh=_with_exceptions,
        body=lambda w, run: {
            "keys": [
                i["key"]
                for i in client_for(f.token_for(f.qa_reviewer(w.lab)))
                .get(f"/api/v1/runs/{run.pk}/exceptions/")
                .json()["items"]
            ]
            or ["none"],
            "comment": "seen",
        },
    ),
    Case(
        "runs batch-record",
        "GET",
        "/api/v1/runs/{id}/batch-record/",
        ALL,
        200,
        target=lambda w: w.run,
    ),
    Case("runs certificate", "GET", "/api/v1/runs/{id}/certificate/", ALL, 200, target=_released),
    Case(
        "qc-exports",
        "GET",
        "/api/v1/qc-exports/?run={id}",
        ALL,
        200,
        target=lambda w: w.run,
    ),
    Case(
        "runs reject",
        "POST",
        "/api/v1/runs/{id}/reject/",
        REVIEW,
        200,
        target=lambda w: w.run,
        fresh=lambda w: f.active_run(w.protocol, w.worker),
        body=lambda w, _: {"password": PASSWORD, "reason": "karyotype abnormal"},
    ),
    Case("runs lineage", "GET", "/api/v1/runs/{id}/lineage/", ALL, 200, target=lambda w: w.run),
    Case(
        "stage-runs list",
        "GET",
        "/api/v1/stage-runs/",
        ALL | {INSTRUMENT},
        200,
        present=lambda w: w.stage_run.pk,
    ),
    Case(
        "stage-runs retrieve",
        "GET",
        "/api/v1/stage-runs/{id}/",
        ALL | {INSTRUMENT},
        200,
        target=lambda w: w.stage_run,
    ),
    Case(
        "stage-runs start",
        "POST",
        "/api/v1/stage-runs/{id}/start/",
        WORK,
        200,
        target=lambda w: w.stage_run,
        fresh=_ready_stage,
    ),
    Case(
        "stage-runs complete",
        "POST",
        "/api/v1/stage-runs/{id}/complete/",
        WORK,
        200,
        target=lambda w: w.stage_run,
        fresh=_passing_stage,
        body=lambda w, _: {"note": "all good", "window_reason": "finished early: cells ready"},
    ),
    Case(
        "stage-runs assign",
        "POST",
        "/api/v1/stage-runs/{id}/assign/",
        WORK,
        200,
        target=lambda w: w.stage_run,
        body=lambda w, _: {"assignee": w.worker.pk},
    ),
    Case(
        "task-occurrences list",
        "GET",
        "/api/v1/task-occurrences/",
        ALL,
        200,
        present=lambda w: w.stage_run.tasks.first().pk,
    ),
    Case(
        "task-occurrences retrieve",
        "GET",
        "/api/v1/task-occurrences/{id}/",
        ALL,
        200,
        target=lambda w: w.stage_run.tasks.first(),
    ),
    Case(
        "task-occurrences done",
        "POST",
        "/api/v1/task-occurrences/{id}/done/",
        WORK,
        200,
        target=lambda w: w.stage_run.tasks.first(),
        fresh=_open_task,
    ),
    Case(
        "qc-results list",
        "GET",
        "/api/v1/qc-results/",
        ALL | {INSTRUMENT},
        200,
        present=lambda w: w.result.pk,
    ),
    Case(
        "qc-results retrieve",
        "GET",
        "/api/v1/qc-results/{id}/",
        ALL | {INSTRUMENT},
        200,
        target=lambda w: w.result,
    ),
    Case(
        "qc-results create",
        "POST",
        "/api/v1/qc-results/",
        WORK | {INSTRUMENT},
        201,
        fresh=lambda w: f.working_stage(w.protocol, w.worker),
        body=_result_body,
        standing=lambda w: w.stage_run,
        ref_field="stage_run",
    ),
    Case(
        "qc-results bulk",
        "POST",
        "/api/v1/qc-results/bulk/",
        WORK | {INSTRUMENT},
        201,
        fresh=lambda w: f.working_stage(w.protocol, w.worker),
        body=lambda w, sr: {"results": [_result_body(w, sr)]},
        standing=lambda w: w.stage_run,
        ref_field="stage_run",
    ),
    Case(
        "qc-results correct",
        "POST",
        "/api/v1/qc-results/{id}/correct/",
        WORK,
        201,
        target=lambda w: w.result,
        fresh=_fresh_result,
        body=lambda w, _: {
            "value": 88,
            "unit": "%",
            "measured_at": _now(),
            "reason": "transcription error",
        },
    ),
    Case(
        "deviations list", "GET", "/api/v1/deviations/", ALL, 200, present=lambda w: w.deviation.pk
    ),
    Case(
        "deviations retrieve",
        "GET",
        "/api/v1/deviations/{id}/",
        ALL,
        200,
        target=lambda w: w.deviation,
    ),
    Case(
        "deviations create",
        "POST",
        "/api/v1/deviations/",
        WORK,
        201,
        body=lambda w, _: {"run": w.run.pk, "title": "Wrong medium lot"},
        ref_field="run",
    ),
    Case(
        "deviations investigate",
        "POST",
        "/api/v1/deviations/{id}/investigate/",
        WORK,
        200,
        target=lambda w: w.deviation,
        fresh=_fresh_deviation,
        body=lambda w, _: {"phase": "phase1", "findings": "lot mix-up at thaw"},
    ),
    Case(
        "deviations disposition",
        "POST",
        "/api/v1/deviations/{id}/disposition/",
        REVIEW,
        200,
        target=lambda w: w.deviation,
        fresh=_fresh_deviation,
        body=lambda w, _: {
            "decision": "accept",
            "justification": "no impact",
            "password": PASSWORD,
        },
    ),
    Case(
        "disposition-groups list",
        "GET",
        "/api/v1/disposition-groups/",
        ALL,
        200,
        present=lambda w: _group(w).pk,
    ),
    Case(
        "disposition-groups retrieve",
        "GET",
        "/api/v1/disposition-groups/{id}/",
        ALL,
        200,
        target=_group,
    ),
    Case(
        "disposition-groups create",
        "POST",
        "/api/v1/disposition-groups/",
        REVIEW,
        201,
        fresh=_minor_pair,
        standing=_standing_pair,
        body=lambda w, pair: {
            "deviations": [d.pk for d in pair],
            "decision": "accept",
            "justification": "both labels reprinted at once",
            "password": PASSWORD,
        },
        ref_field="deviations.0",
    ),
    Case(
        "audit-events list",
        "GET",
        "/api/v1/audit-events/",
        ALL,
        200,
        present=lambda w: AuditEvent.objects.filter(lab=w.lab).first().pk,
    ),
    Case(
        "audit-events retrieve",
        "GET",
        "/api/v1/audit-events/{id}/",
        ALL,
        200,
        target=lambda w: AuditEvent.objects.filter(lab=w.lab).first(),
    ),
    Case(
        "instrument-uploads list",
        "GET",
        "/api/v1/instrument-uploads/",
        ALL | {INSTRUMENT},
        200,
        present=lambda w: w.upload.pk,
    ),
    Case(
        "instrument-uploads retrieve",
        "GET",
        "/api/v1/instrument-uploads/{id}/",
        ALL | {INSTRUMENT},
        200,
        target=lambda w: w.upload,
    ),
    Case(
        "instrument-uploads create",
        "POST",
        "/api/v1/instrument-uploads/",
        WORK | {INSTRUMENT},
        201,
        fresh=lambda w: f.working_stage(w.protocol, w.worker),
        body=_upload_body,
        standing=lambda w: w.stage_run,
        ref_field="stage_run",
        multipart=True,
    ),
    *CLINICAL_CASES,
]


# --- chain of identity and custody --------------------------------------------------------------

HANDLE = WORK | {"clinician"}
PATIENT = frozenset({"clinician"})


def _fresh_cw(w):
    return custody_world(w.lab, w.worker)


def _scan_body(w, cw):
    return {"stage_run": cw.stage_run.pk, "checkpoint": cw.checkpoint.pk, "scanned": cw.good_scan()}


def _computed_body(w, cw):
    return {"stage_run": cw.stage_run.pk, "checkpoint": cw.computed.pk}


def _cw_with_blood(w):
    return custody_world(w.lab, w.worker, blood_first=True)


def _handoff_body(w, it):
    return {
        "item": it.item_id, "from_party": "Nurse", "from_location": "Ward", "to_party": "Lab",
        "to_location": "Lab", "sent_at": _now(), "scanned": custody_builders.payload(it),
    }  # fmt: skip


def _shipment_body(w, run):
    return {
        "run": run.pk, "kind": "product", "courier": "Cold chain", "origin": "Lab",
        "destination": "Clinic", "range_min_c": 2, "range_max_c": 8, "packed_at": _now(),
    }  # fmt: skip


def CustodyCase(*args, **kwargs) -> Case:
    return Case(*args, custody=True, **kwargs)


CASES += [
    CustodyCase("custody-items list", "GET", "/api/v1/custody-items/", ALL, 200,
         present=lambda w: cw_of(w).tube.pk),
    CustodyCase("custody-items retrieve", "GET", "/api/v1/custody-items/{id}/", ALL, 200,
         target=lambda w: cw_of(w).tube),
    CustodyCase("identity-scans list", "GET", "/api/v1/identity-scans/", ALL, 200,
         present=lambda w: cw_of(w).stage_run.identity_scans.first().pk),
    CustodyCase("identity-scans retrieve", "GET", "/api/v1/identity-scans/{id}/", ALL, 200,
         target=lambda w: cw_of(w).stage_run.identity_scans.first()),
    CustodyCase("identity-scans create", "POST", "/api/v1/identity-scans/", HANDLE, 201,
         fresh=_fresh_cw, body=_scan_body, standing=cw_of, ref_field="stage_run"),
    CustodyCase("handoffs list", "GET", "/api/v1/handoffs/", ALL, 200,
         present=lambda w: (cw_of(w), w.extra["handoff"].pk)[1]),
    CustodyCase("handoffs retrieve", "GET", "/api/v1/handoffs/{id}/", ALL, 200,
         target=lambda w: (cw_of(w), w.extra["handoff"])[1]),
    CustodyCase("handoffs create", "POST", "/api/v1/handoffs/", HANDLE, 201,
         fresh=lambda w: custody_builders.item(cw_of(w).run, w.worker, "vial"),
         body=_handoff_body, standing=lambda w: cw_of(w).vial, ref_field="item"),
    CustodyCase("handoffs receive", "POST", "/api/v1/handoffs/{id}/receive/", HANDLE, 200,
         target=lambda w: (cw_of(w), w.extra["handoff"])[1],
         fresh=lambda w: handoff_of(cw_of(w), custody_builders.item(cw_of(w).run, w.worker)),
         body=lambda w, h: {"received_at": _now(), "condition": "intact",
                            "scanned": custody_builders.payload(h.item)}),
    CustodyCase("shipments list", "GET", "/api/v1/shipments/", ALL, 200,
         present=lambda w: (cw_of(w), w.extra["shipment"].pk)[1]),
    CustodyCase("shipments retrieve", "GET", "/api/v1/shipments/{id}/", ALL, 200,
         target=lambda w: (cw_of(w), w.extra["shipment"])[1]),
    CustodyCase("shipments create", "POST", "/api/v1/shipments/", HANDLE, 201,
         body=_shipment_body, standing=lambda w: cw_of(w).run, fresh=lambda w: cw_of(w).run,
         ref_field="run"),
    CustodyCase("shipments receive", "POST", "/api/v1/shipments/{id}/receive/", HANDLE, 200,
         target=lambda w: (cw_of(w), w.extra["shipment"])[1],
         fresh=lambda w: shipment_of(cw_of(w)), body=lambda w, _: {"received_at": _now()}),
    CustodyCase("shipments logger", "POST", "/api/v1/shipments/{id}/logger/", HANDLE, 201,
         target=lambda w: (cw_of(w), w.extra["shipment"])[1],
         fresh=lambda w: shipment_of(cw_of(w)),
         body=lambda w, _: {"file": f.named_file(logger_csv(), "logger.csv")}, multipart=True),
    CustodyCase("label-prints list", "GET", "/api/v1/label-prints/", ALL, 200,
         present=lambda w: (cw_of(w), w.extra["print"].pk)[1]),
    CustodyCase("label-prints retrieve", "GET", "/api/v1/label-prints/{id}/", ALL, 200,
         target=lambda w: (cw_of(w), w.extra["print"])[1]),
    CustodyCase("label-prints reconcile", "POST", "/api/v1/label-prints/{id}/reconcile/", HANDLE,
         200,
         target=lambda w: (cw_of(w), w.extra["print"])[1],
         fresh=lambda w: custody.run_labels_print(run=cw_of(w).run, template="tube", count=1,
                                                  actor=w.worker).record,
         body=lambda w, _: {"used": 1}),
    CustodyCase("run labels list", "GET", "/api/v1/runs/{id}/labels/", ALL, 200,
         target=lambda w: cw_of(w).run),
    CustodyCase("run labels print", "POST", "/api/v1/runs/{id}/labels/", HANDLE, 201,
         target=lambda w: cw_of(w).run,
         body=lambda w, _: {"template": "cryovial", "count": 1, "kind": "vial"}),
    CustodyCase("donor identifiers kinds", "GET", "/api/v1/donors/{id}/patient-identifiers/", ALL,
         200,
         target=lambda w: cw_of(w).run.donor),
    CustodyCase("donor identifiers record", "POST", "/api/v1/donors/{id}/patient-identifiers/",
         PATIENT, 201, target=lambda w: cw_of(w).run.donor,
         fresh=lambda w: _fresh_cw(w).run.donor,
         body=lambda w, _: {"values": {"hospital_record": "MRN-9"}}),
    CustodyCase("donor identifiers reveal", "POST",
         "/api/v1/donors/{id}/patient-identifiers/reveal/", PATIENT, 200,
         target=lambda w: cw_of(w).run.donor,
         body=lambda w, _: {"purpose": "bedside check"}),
    CustodyCase("computed-results list", "GET", "/api/v1/computed-results/", ALL, 200,
         present=lambda w: cw_of(w).stage_run.identity_scans.first().qc_result_id),
    CustodyCase("computed-results retrieve", "GET", "/api/v1/computed-results/{id}/", ALL, 200,
         target=lambda w: cw_of(w).stage_run.identity_scans.first().qc_result),
    CustodyCase("computed-results create", "POST", "/api/v1/computed-results/", HANDLE, 201,
         fresh=_cw_with_blood, body=_computed_body, standing=cw_of, ref_field="stage_run"),
]  # fmt: skip

CASES += stock_cases(Case, ALL=ALL, WORK=WORK, REVIEW=REVIEW)


def _client(principal: str, users: dict, own):
    if principal == "anonymous":
        return client_for()
    if principal == INSTRUMENT:
        return client_for(own.instrument_token)
    return client_for(f.token_for(users[principal]))


def _call(client, case: Case, obj, body):
    path = case.path.format(id=obj.pk) if obj is not None and "{id}" in case.path else case.path
    if case.method == "GET":
        return client.get(path)
    if case.multipart:
        return client.post(path, body or {}, format="multipart")
    return client.post(path, body or {}, format="json")


def _assert_problem(response, status: int, where: str) -> dict:
    assert response.status_code == status, (where, response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json", where
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:problem:"), where
    return body


@pytest.mark.parametrize("case", CASES, ids=str)
def test_access_matrix(
    case, world, other_world, technician, reviewer, lab_admin, viewer, clinician
):
    users = {
        "technician": technician,
        "reviewer": reviewer,
        "lab_admin": lab_admin,
        "viewer": viewer,
        "clinician": clinician,
    }
    f.attach_upload(world)
    f.attach_upload(other_world)
    if case.custody:
        cw_of(world), cw_of(other_world)
    if case.prepare is not None:
        case.prepare(world)
        case.prepare(other_world)
    if case.present is not None:  # what a list must (not) show exists before it is asked
        case.present(world), case.present(other_world)
    for principal, side in itertools.product(PRINCIPALS, ("own", "other")):
        where = f"{case.name} as {principal} on {side} lab"
        w = world if side == "own" else other_world
        client = _client(principal, users, world)
        allowed = principal in case.allowed
        succeeds = allowed and side == "own"
        if case.target is not None:
            obj = case.fresh(w) if case.fresh is not None and succeeds else case.target(w)
            body = case.body(w, obj) if case.body is not None else None
        else:  # a create: the object it needs is named in the body, not the path
            named = (
                case.fresh(w)
                if case.fresh is not None and succeeds
                else case.standing(w)
                if case.standing is not None
                else None
            )
            body = case.body(w, named) if case.body is not None else None
            obj = None
        events_before = AuditEvent.objects.count()

        response = _call(client, case, obj, body)

        if principal == "anonymous":
            _assert_problem(response, 401, where)
            assert response["WWW-Authenticate"] == "Token", where
        elif not allowed:
            _assert_problem(response, 403, where)
        elif side == "own":
            assert response.status_code == case.success, (
                where,
                response.status_code,
                response.content[:800],
            )
            if case.present is not None:
                ids = [item["id"] for item in response.json()["results"]]
                assert case.present(w) in ids, where
            continue
        elif case.present is not None:
            assert response.status_code == 200, where
            ids = [item["id"] for item in response.json()["results"]]
            assert case.present(w) not in ids, where
        elif case.ref_field is not None:
            problem = _assert_problem(response, 400, where)
            fields = {e["field"] for e in problem["errors"]} | {
                r["field"] for r in problem.get("rows", [])
            }
            assert case.ref_field in fields, (where, problem)
        else:
            _assert_problem(response, 404, where)
        assert AuditEvent.objects.count() == events_before, f"{where} wrote to the audit trail"
