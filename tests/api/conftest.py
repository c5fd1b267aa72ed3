"""API test fixtures: clients per principal and a standing world in each lab."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import builders


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache: start every test with a full budget.
    cache.clear()
    yield
    cache.clear()


_handler = None


def client_for(token: str | None = None) -> APIClient:
    """An APIClient sending ``Authorization: Token <token>`` (none when ``token`` is None).

    All clients share one request handler: building the middleware chain (WhiteNoise scans the
    static files) costs ~0.15 s, and every test makes many clients.
    """
    global _handler
    client = APIClient()
    if _handler is None:
        _handler = client.handler
    client.handler = _handler
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api():
    """``api(user_or_token)`` → an APIClient authenticated with a personal token."""

    def make(who=None) -> APIClient:
        if who is None:
            return client_for()
        if isinstance(who, str):
            return client_for(who)
        return client_for(builders.token_for(who))

    return make


@pytest.fixture
def world(lab, technician2):
    return builders.lab_world(lab, technician2)


@pytest.fixture
def other_world(other_lab, other_technician):
    return builders.lab_world(other_lab, other_technician)
