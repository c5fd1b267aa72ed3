"""Personal tokens (issue, use, revoke), sessions with CSRF, login lockout, ``/me/``."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.middleware.csrf import _get_new_csrf_string
from django.utils import timezone
from rest_framework.test import APIClient

from protocol_tracker.api.models import PersonalToken
from tests.api.conftest import client_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def obtain(username: str, password: str = PASSWORD, **extra):
    return client_for().post(
        "/api/v1/auth/token/", {"username": username, "password": password, **extra}, format="json"
    )


def test_a_token_is_issued_once_and_stored_hashed(technician):
    response = obtain("tech-a", name="plate script")

    assert response.status_code == 201
    body = response.json()
    kind, prefix, secret = body["token"].split("_", 2)
    token = PersonalToken.objects.get(pk=body["id"])
    assert (kind, token.prefix, body["prefix"], token.name) == (
        "ptp",
        prefix,
        prefix,
        "plate script",
    )
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert len(secret) >= 43  # 256 bits, URL-safe base64
    listed = client_for(body["token"]).get("/api/v1/auth/tokens/").json()["results"]
    assert [t["prefix"] for t in listed] == [prefix]
    assert "token" not in listed[0] and "secret_hash" not in listed[0]


def test_wrong_credentials_are_401(technician):
    response = obtain("tech-a", "wrong password")
    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username or password."
    assert not PersonalToken.objects.exists()


def test_a_token_records_when_it_was_last_used(technician):
    token = obtain("tech-a").json()["token"]
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        client_for(token).get("/api/v1/labs/")
    first = PersonalToken.objects.get().last_used_at
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client_for(token).get("/api/v1/labs/")
    unchanged = PersonalToken.objects.get().last_used_at
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        client_for(token).get("/api/v1/labs/")

    assert first == unchanged == start
    assert PersonalToken.objects.get().last_used_at == start + timedelta(minutes=2)


def test_revoking_the_token_in_use(technician):
    token = obtain("tech-a").json()["token"]
    client = client_for(token)

    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/labs/").status_code == 401
    assert PersonalToken.objects.get().revoked_at is not None


def test_revoking_another_of_my_tokens_but_not_someone_elses(technician, technician2):
    mine = [obtain("tech-a").json() for _ in range(2)]
    theirs = obtain("tech-a2").json()
    client = client_for(mine[0]["token"])

    assert client.delete(f"/api/v1/auth/tokens/{mine[1]['id']}/").status_code == 204
    assert client.delete(f"/api/v1/auth/tokens/{theirs['id']}/").status_code == 404
    assert client_for(mine[1]["token"]).get("/api/v1/labs/").status_code == 401
    assert client_for(theirs["token"]).get("/api/v1/labs/").status_code == 200


def test_an_inactive_users_token_stops_working(technician):
    token = obtain("tech-a").json()["token"]
    technician.is_active = False
    technician.save(update_fields=["is_active"])

    assert client_for(token).get("/api/v1/labs/").status_code == 401


def test_the_browser_session_needs_csrf_for_writes(lab, technician):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(technician)

    read = client.get("/api/v1/me/")
    refused = client.post("/api/v1/donors/", {"code": "DC-001", "consent": True}, format="json")
    client.cookies["csrftoken"] = secret = _get_new_csrf_string()  # what the UI's page sets
    allowed = client.post(
        "/api/v1/donors/",
        {"code": "DC-001", "consent": True},
        format="json",
        HTTP_X_CSRFTOKEN=secret,
    )

    assert read.status_code == 200
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert allowed.status_code == 201, allowed.content


def test_repeated_wrong_passwords_lock_the_username_out(technician):
    statuses = [obtain("tech-a", "nope").status_code for _ in range(5)]
    locked = obtain("tech-a")

    assert statuses == [401, 401, 401, 401, 429]
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/problem+json"
    assert locked.json()["code"] == "throttled"


def test_me_lists_labs_roles_and_the_calendar(api, lab, other_lab, technician):
    from labs.services import membership_set

    membership_set(lab=other_lab, user=technician, role="viewer", actor=None)

    body = api(technician).get("/api/v1/me/").json()

    assert body["username"] == "tech-a"
    assert body["labs"] == [
        {
            "id": lab.pk,
            "name": "Lab A",
            "slug": "lab-a",
            "timezone": "Asia/Shanghai",
            "role": "technician",
        },
        {
            "id": other_lab.pk,
            "name": "Lab B",
            "slug": "lab-b",
            "timezone": "Europe/London",
            "role": "viewer",
        },
    ]
    assert body["calendar_url"] is None  # until the caller creates one (POST)
    created = api(technician).post("/api/v1/notifications/calendar/").json()["calendar_url"]
    assert created.startswith("http://testserver/calendar/")
    assert api(technician).get("/api/v1/me/").json()["calendar_url"] == created
