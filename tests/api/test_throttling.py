"""Throttling per token: each token (and each instrument) has its own budget."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from tests import builders as f
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def rates(**overrides):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **overrides,
            },
        }
    )


def test_each_token_has_its_own_budget(world, technician):
    first, second = client_for(f.token_for(technician)), client_for(f.token_for(technician))

    with rates(person="3/min"):
        statuses = [first.get("/api/v1/labs/").status_code for _ in range(4)]
        other = second.get("/api/v1/labs/")
        throttled = first.get("/api/v1/labs/")

    assert statuses == [200, 200, 200, 429]
    assert other.status_code == 200
    assert throttled["Content-Type"] == "application/problem+json"
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60


def test_instruments_have_their_own_rate(world, technician):
    instrument, person = client_for(world.instrument_token), client_for(f.token_for(technician))

    with rates(instrument="2/min", person="100/min"):
        statuses = [instrument.get("/api/v1/stage-runs/").status_code for _ in range(3)]
        person_status = person.get("/api/v1/stage-runs/").status_code

    assert statuses == [200, 200, 429]
    assert person_status == 200


def test_token_requests_are_limited_per_address(technician):
    client = client_for()

    with rates(token_issue="2/min"):
        statuses = [
            client.post(
                "/api/v1/auth/token/", {"username": "tech-a", "password": "x"}, format="json"
            ).status_code
            for _ in range(3)
        ]

    assert statuses == [401, 401, 429]
