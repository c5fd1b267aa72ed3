"""Property-based run of the live OpenAPI schema against the app (schemathesis, in process).

Every operation gets its schema examples and a few generated requests, valid and invalid,
sent through the real WSGI stack with a technician's token: no response may be a 5xx, and
every response (status, content type, headers, body) must be what the schema says.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks

from tests import builders as f

pytestmark = pytest.mark.django_db

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20240105,
        "generation": {"max-examples": 6, "mode": "all", "deterministic": True},
        "phases": {
            "examples": {"enabled": True},
            "fuzzing": {"enabled": True},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
        "suppress-health-check": ["all"],
        # Half of the ids are small ones, which name the standing objects of the test's labs, so
        # that generated requests reach the services and not only the 404 path.
        "dictionaries": {"ids": {"values": list(range(1, 25))}},
        "parameters": {
            name: {"dictionary": "ids", "probability": 0.5}
            for name in (
                "path.id",
                "body.stage_run",
                "body.checkpoint",
                "body.protocol",
                "body.donor",
                "body.run",
                "body.lab",
                "body.results.[*].stage_run",
                "body.results.[*].checkpoint",
                "query.run",
            )
        },
    }
)
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


# The schema as the app serves it (generating it touches no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler(), config=CONFIG)


@pytest.fixture
def token(world, other_world, technician):
    # The WSGI app shares this test's database connection and transaction: keep Django from
    # closing "old" connections around each request (as its own test client does).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    rates = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            k: "100000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }
    try:
        with override_settings(REST_FRAMEWORK=rates):
            yield f.token_for(technician)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
def test_every_operation_conforms_to_the_schema(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
