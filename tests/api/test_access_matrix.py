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

import pytest
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import TaskOccurrence
from tests import builders as f
from tests.api.access_cases_stock import stock_cases
from tests.api.conftest import client_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PEOPLE = ("technician", "reviewer", "lab_admin", "viewer", "clinician")
ALL = frozenset(PEOPLE)
WORK = frozenset({"technician", "reviewer", "lab_admin"})
REVIEW = frozenset({"reviewer"})
ADMIN = frozenset({"lab_admin"})
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
        ADMIN,
        200,
        target=lambda w: w.draft,
        fresh=_fresh_draft,
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
        ADMIN,
        200,
        target=lambda w: w.protocol,
        fresh=_fresh_published,
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
        fresh=lambda w: f.completed_run(w.protocol, w.worker),
        body=lambda w, _: {"password": PASSWORD},
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
        body=lambda w, _: {"note": "all good"},
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
]


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
