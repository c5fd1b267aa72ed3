"""One error shape everywhere (problem details), and never a 500 for bad input."""

from __future__ import annotations

import pytest
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc.models import QCResult
from protocol_tracker.runs.models import Run
from tests import builders as f
from tests.builders.release import acknowledge_all

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:600]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code", "errors", "instance"}
    assert body["status"] == status
    assert body["type"] == f"urn:problem:protocol-tracker:{body['code']}"
    return body


def test_validation_error_names_the_field_and_the_rule(api, world, technician):
    before = Run.objects.count()

    response = api(technician).post(
        "/api/v1/runs/", {"protocol": world.protocol.pk, "planned_start": "tomorrow"}, format="json"
    )

    body = problem(response, 400)
    assert body["code"] == "validation_failed"
    errors = {e["field"]: e for e in body["errors"]}
    assert errors["donor"]["message"] == "This field is required."
    assert errors["donor"]["code"] == "required"
    assert errors["planned_start"]["code"] == "invalid"
    assert "Datetime has wrong format" in errors["planned_start"]["message"]
    assert Run.objects.count() == before


def test_domain_validation_error_keeps_its_fields(api, world, technician):
    response = api(technician).post(
        "/api/v1/donors/", {"code": "not a code", "consent": True}, format="json"
    )

    body = problem(response, 400)
    assert body["code"] == "validation_failed"
    assert [e["field"] for e in body["errors"]] == ["code"]
    assert "pseudonym" in body["errors"][0]["message"]


def test_unauthenticated_is_401_with_the_scheme(api):
    response = api().get("/api/v1/runs/")

    body = problem(response, 401)
    assert body["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("token", ["ptp_abc_def", "pti_abc_def", "garbage", "ptp_" + "x" * 300])
def test_a_bad_token_is_401(api, token):
    body = problem(api(token).get("/api/v1/runs/"), 401)
    assert body["code"] == "authentication_failed"


def test_wrong_role_is_403_and_names_the_role(api, world, viewer):
    response = api(viewer).post(
        f"/api/v1/runs/{world.run.pk}/hold/", {"reason": "x"}, format="json"
    )

    body = problem(response, 403)
    assert body["detail"] == "This needs the Lab admin or Reviewer (PI / QA) or Technician role."


def test_another_labs_object_is_a_plain_404(api, world, other_world, technician):
    missing = problem(api(technician).get("/api/v1/runs/999999/"), 404)
    foreign = problem(api(technician).get(f"/api/v1/runs/{other_world.run.pk}/"), 404)

    assert {k: v for k, v in foreign.items() if k not in ("instance", "request_id")} == {
        k: v for k, v in missing.items() if k not in ("instance", "request_id")
    }


def test_illegal_transition_is_409_naming_the_rule(api, world, technician):
    client = api(technician)
    events = AuditEvent.objects.count()

    response = client.post(f"/api/v1/runs/{world.run.pk}/start/", format="json")

    body = problem(response, 409)
    assert body["code"] == "invalid_transition"
    assert body["detail"] == f"run {world.run.code} is active; it cannot start"
    assert AuditEvent.objects.count() == events


def test_stage_gate_refusal_is_409_listing_the_checkpoints(api, world, technician):
    sr = f.working_stage(world.protocol, world.worker)

    response = api(technician).post(f"/api/v1/stage-runs/{sr.pk}/complete/", {}, format="json")

    body = problem(response, 409)
    assert body["detail"] == "stage 'Expansion' cannot complete: no result yet for 'Viability'"
    assert body["errors"] == [
        {"field": "checkpoints", "message": "viability", "code": "invalid_transition"}
    ]


def test_wrong_password_refuses_the_signature(api, world, reviewer):
    run = f.completed_run(world.protocol, world.worker)
    acknowledge_all(run, reviewer)

    response = api(reviewer).post(
        f"/api/v1/runs/{run.pk}/release/",
        {"password": "not it", "audit_trail_reviewed": True},
        format="json",
    )

    body = problem(response, 403)
    assert body["code"] == "signature_refused"
    run.refresh_from_db()
    assert run.status == "completed"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs/99999999999999999999/",
        "/api/v1/runs/9223372036854775808/",
        "/api/v1/runs/abc/",
        "/api/v1/runs/-1/",
        "/api/v1/no-such-thing/",
    ],
)
def test_odd_paths_are_problem_404s(api, technician, path):
    problem(api(technician).get(path), 404)


@pytest.mark.parametrize(
    "query",
    [
        "page_size=0",
        "page_size=-3",
        "page_size=201",
        "page_size=x",
        "cursor=cD1hYmM=",
        "protocol=abc",
        "protocol=99999999999999999999",
        "status=bogus",
        "due_before=yesterday",
        "fields=id,nope",
        "fields=,",
    ],
)
def test_bad_query_parameters_are_400(api, world, technician, query):
    body = problem(api(technician).get(f"/api/v1/runs/?{query}"), 400)
    assert body["errors"], body


@pytest.mark.parametrize(
    "payload",
    [
        {"protocol": 99999999999999999999, "donor": 0},
        {"protocol": True, "donor": -1},
        {"protocol": [1], "donor": {"id": 1}},
        {"protocol": "1 OR 1=1", "donor": "x"},
    ],
)
def test_bad_ids_in_bodies_are_400(api, world, technician, payload):
    body = problem(api(technician).post("/api/v1/runs/", payload, format="json"), 400)
    assert {e["field"] for e in body["errors"]} == {"protocol", "donor"}


def test_malformed_json_is_400(api, technician):
    response = api(technician).generic(
        "POST", "/api/v1/donors/", b'{"code": "D-1",', content_type="application/json"
    )
    assert problem(response, 400)["code"] == "malformed_request"


def test_a_json_array_body_is_400_not_500(api, technician):
    response = api(technician).post("/api/v1/donors/", [1, 2, 3], format="json")
    assert problem(response, 400)["code"] == "validation_failed"


def test_unsupported_media_type_is_415(api, technician):
    response = api(technician).generic(
        "POST", "/api/v1/donors/", b"code=D-1", content_type="application/x-www-form-urlencoded"
    )
    assert problem(response, 415)["code"] == "unsupported_media_type"


def test_method_not_allowed_is_405(api, world, technician):
    response = api(technician).delete(f"/api/v1/runs/{world.run.pk}/")
    assert problem(response, 405)["code"] == "method_not_allowed"


def test_an_instrument_may_not_call_people_endpoints(api, world):
    body = problem(api(world.instrument_token).get("/api/v1/donors/"), 403)
    assert body["detail"] == "Instrument tokens may not call this endpoint."
    problem(api(world.instrument_token).get("/api/v1/me/"), 403)


def test_an_instrument_may_not_post_an_assay_it_is_not_allowed(api, world):
    world.instrument.allowed_assays = ["flow_cytometry"]
    world.instrument.save(update_fields=["allowed_assays"])
    sr = f.working_stage(world.protocol, world.worker)

    response = api(world.instrument_token).post(
        "/api/v1/qc-results/",
        {
            "stage_run": sr.pk,
            "checkpoint": sr.stage.checkpoints.get(key="viability").pk,
            "value": 95,
            "unit": "%",
            "measured_at": timezone.now().isoformat(),
        },
        format="json",
    )

    body = problem(response, 403)
    assert body["detail"] == "instrument Counter may not post 'cell_count' results"
    assert not QCResult.objects.filter(stage_run=sr).exists()


def test_every_error_carries_the_request_id(api, technician):
    response = api(technician).get("/api/v1/runs/0/", HTTP_X_REQUEST_ID="req-123")
    body = problem(response, 404)
    assert body["request_id"] == "req-123"
    assert response["X-Request-ID"] == "req-123"


def test_a_json_body_over_the_limit_is_413(api, settings, technician):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"code": "D-001", "consent": true, "consent_version": "' + b"x" * 2000 + b'"}'

    response = api(technician).generic(
        "POST", "/api/v1/donors/", body, content_type="application/json"
    )

    assert problem(response, 413)["code"] == "payload_too_large"


def test_an_instrument_has_no_notifications(api, world):
    problem(api(world.instrument_token).get("/api/v1/notifications/"), 403)
