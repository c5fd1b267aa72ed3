"""The OpenAPI document: valid, complete on errors and auth, served with offline docs."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.validation import validate_schema

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def spec(django_db_blocker):
    with django_db_blocker.unblock():
        response = client_for().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def test_the_schema_is_valid_openapi_3(spec):
    validate_schema(spec)
    assert spec["openapi"].startswith("3.")


def test_every_operation_documents_the_problem_shape(spec):
    for path, method, op in operations(spec):
        responses = op["responses"]
        errors = {code for code in responses if code >= "400"}
        assert {"400", "429"} <= errors, (path, method)
        for code in errors:
            content = responses[code]["content"]
            assert content == {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}}, (
                path,
                method,
                code,
            )
        if "{id}" in path or "{" in path:
            assert "404" in errors, (path, method)


def test_auth_schemes_and_who_may_use_them(spec):
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"personalToken", "instrumentToken", "cookieAuth"}
    instrument_ops = {
        (path, method)
        for path, method, op in operations(spec)
        if {"instrumentToken": []} in op.get("security", [])
    }
    assert instrument_ops == {
        ("/api/v1/labs/", "get"),
        ("/api/v1/labs/{id}/", "get"),
        ("/api/v1/protocols/", "get"),
        ("/api/v1/protocols/{id}/", "get"),
        ("/api/v1/runs/", "get"),
        ("/api/v1/stage-runs/", "get"),
        ("/api/v1/stage-runs/{id}/", "get"),
        ("/api/v1/qc-results/", "get"),
        ("/api/v1/qc-results/", "post"),
        ("/api/v1/qc-results/{id}/", "get"),
        ("/api/v1/qc-results/bulk/", "post"),
        ("/api/v1/instrument-uploads/", "get"),
        ("/api/v1/instrument-uploads/", "post"),
        ("/api/v1/instrument-uploads/{id}/", "get"),
    }
    token = spec["paths"]["/api/v1/auth/token/"]["post"]
    assert token.get("security", [{}]) == [{}]
    assert "401" in token["responses"] and "403" not in token["responses"]


def test_creates_document_the_idempotency_key(spec):
    keyed = {
        (path, method)
        for path, method, op in operations(spec)
        if any(
            p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op.get("parameters", [])
        )
    }
    assert keyed == {
        ("/api/v1/protocols/", "post"),
        ("/api/v1/protocols/{id}/new-version/", "post"),
        ("/api/v1/donors/", "post"),
        ("/api/v1/runs/", "post"),
        ("/api/v1/qc-results/", "post"),
        ("/api/v1/qc-results/bulk/", "post"),
        ("/api/v1/qc-results/{id}/correct/", "post"),
        ("/api/v1/deviations/", "post"),
        ("/api/v1/instrument-uploads/", "post"),
        ("/api/v1/identity-scans/", "post"),
        ("/api/v1/handoffs/", "post"),
        ("/api/v1/shipments/", "post"),
        ("/api/v1/shipments/{id}/logger/", "post"),
        ("/api/v1/computed-results/", "post"),
        ("/api/v1/donors/{id}/patient-identifiers/", "post"),
        ("/api/v1/runs/{id}/labels/", "post"),
        ("/api/v1/recipients/", "post"),
        ("/api/v1/recipients/{id}/formulation/", "post"),
        ("/api/v1/recipients/{id}/therapy-events/", "post"),
        ("/api/v1/visits/", "post"),
        ("/api/v1/visits/{id}/values/", "post"),
        ("/api/v1/visits/{id}/correct-value/", "post"),
        ("/api/v1/visits/{id}/cgm-import/", "post"),
        ("/api/v1/runs/{id}/exceptions/acknowledge/", "post"),
        ("/api/v1/protocols/{id}/conventions/confirm/", "post"),
        ("/api/v1/disposition-groups/", "post"),
        # Materials, equipment, storage and the cell bank (issue 15).
        ("/api/v1/materials/", "post"),
        ("/api/v1/material-lots/", "post"),
        ("/api/v1/equipment/", "post"),
        ("/api/v1/equipment/{id}/calibrations/", "post"),
        ("/api/v1/equipment/{id}/maintenance/", "post"),
        ("/api/v1/stage-runs/{id}/usage/", "post"),
        ("/api/v1/storage/tanks/", "post"),
        ("/api/v1/storage/tanks/{id}/racks/", "post"),
        ("/api/v1/storage/boxes/", "post"),
        ("/api/v1/vials/freeze/", "post"),
        ("/api/v1/vials/{id}/thaw/", "post"),
        ("/api/v1/vessels/", "post"),
        ("/api/v1/vessels/{id}/split/", "post"),
        ("/api/v1/vessels/{id}/observe/", "post"),
        ("/api/v1/inventory/import/", "post"),
    }
    for path, method in keyed:
        assert "422" in spec["paths"][path][method]["responses"]


def test_the_fixed_integration_fields(spec):
    schemas = spec["components"]["schemas"]

    def props(name):
        return schemas[name]["properties"], set(schemas[name].get("required", []))

    _, required = props("TokenRequestRequest")
    assert {"username", "password"} <= required
    donor, required = props("DonorCreateRequest")
    assert {"code", "consent"} <= required and "consent_scope" in donor
    run, required = props("RunCreateRequest")
    assert required == {"protocol", "donor"} and {"parent", "planned_start"} <= set(run)
    result, required = props("QCResultCreateRequest")
    # The checkpoint by id or by its key (stable across protocol versions): one is needed.
    assert required == {"stage_run", "measured_at"}
    assert {"checkpoint", "checkpoint_key", "value", "unit", "comment"} <= set(result)
    bulk, _ = props("QCResultBulkRequest")
    assert bulk["results"]["maxItems"] == 5000
    _, required = props("DispositionRequest")
    assert required == {"decision", "justification", "password"}
    release, required = props("ReleaseRequest")
    assert required == {"password", "audit_trail_reviewed"} and "pending_tests" in release
    for path in (
        "/api/v1/stage-runs/",
        "/api/v1/deviations/",
        "/api/v1/audit-events/",
        "/api/v1/qc-results/",
    ):
        names = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert {"run", "cursor", "page_size", "fields"} <= names, path


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_docs_are_served_without_a_cdn(path):
    response = client_for().get(path)

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith(("/static/", "/api/v1/")) for s in sources), sources
    assert "cdn" not in html.lower()
