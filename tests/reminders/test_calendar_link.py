"""The calendar link is made by an explicit POST, never by a GET: ``GET /api/v1/me/``, the
preferences page and the feed itself read only (no INSERT, UPDATE, DELETE or row lock), and asking
for a link twice gives one link."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.reminders.models import CalendarToken
from protocol_tracker.reminders.services import calendar_token_issue

pytestmark = pytest.mark.django_db
WRITES = ("INSERT", "UPDATE", "DELETE")


def writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements that changed a row or locked one."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(WRITES) or "FOR UPDATE" in q["sql"].upper()
    ]


@pytest.fixture
def api(technician) -> APIClient:
    client = APIClient()
    client.force_authenticate(technician)
    return client


@pytest.fixture
def browser(client, technician):
    client.force_login(technician)
    client.get("/notifications/")  # the session settles (current lab) on the first page
    return client


@pytest.mark.parametrize("has_link", [False, True])
def test_get_me_writes_nothing(api, technician, has_link):
    token = calendar_token_issue(user=technician) if has_link else None

    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/me/")

    assert response.status_code == 200
    assert writes(queries) == []
    url = response.json()["calendar_url"]
    assert url == (f"http://testserver/calendar/{token.secret}.ics" if token else None)
    assert CalendarToken.objects.count() == (1 if has_link else 0)


@pytest.mark.parametrize("has_link", [False, True])
def test_the_preferences_page_writes_nothing(browser, technician, has_link):
    token = calendar_token_issue(user=technician) if has_link else None

    with CaptureQueriesContext(connection) as queries:
        response = browser.get("/preferences/")

    page = response.content.decode()
    assert response.status_code == 200
    assert writes(queries) == []
    if token:
        assert f'value="http://testserver/calendar/{token.secret}.ics"' in page
        assert 'id="calendar-create"' not in page
    else:
        assert "You have no calendar link yet." in page
        assert f'action="{reverse("web:calendar_link_create")}"' in page
    assert CalendarToken.objects.count() == (1 if has_link else 0)


def test_the_feed_writes_nothing(client, technician):
    token = calendar_token_issue(user=technician)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/calendar/{token.secret}.ics")

    assert response.status_code == 200
    assert writes(queries) == []


def test_the_api_action_issues_the_link_once(api, technician):
    first = api.post("/api/v1/notifications/calendar/")
    second = api.post("/api/v1/notifications/calendar/")

    token = CalendarToken.objects.get(user=technician)
    url = f"http://testserver/calendar/{token.secret}.ics"
    assert (first.status_code, first.json()) == (200, {"calendar_url": url})
    assert (second.status_code, second.json()) == (200, {"calendar_url": url})
    assert api.get("/api/v1/me/").json()["calendar_url"] == url
    issued = AuditEvent.objects.filter(action="calendar_token.issue")
    assert list(issued.values_list("object_id", "actor_user")) == [(str(token.pk), technician.pk)]


def test_the_preferences_action_issues_the_link_once(browser, technician):
    first = browser.post(reverse("web:calendar_link_create"))
    second = browser.post(reverse("web:calendar_link_create"))
    page = browser.get("/preferences/").content.decode()

    token = CalendarToken.objects.get(user=technician)
    assert (first.status_code, first["Location"]) == (302, "/preferences/")
    assert (second.status_code, second["Location"]) == (302, "/preferences/")
    assert f'id="calendar-url" value="http://testserver/calendar/{token.secret}.ics"' in page
    assert AuditEvent.objects.filter(action="calendar_token.issue").count() == 1


def test_a_get_of_the_create_action_is_refused_and_writes_nothing(browser):
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(reverse("web:calendar_link_create"))

    assert response.status_code == 405
    assert writes(queries) == []
    assert CalendarToken.objects.count() == 0
