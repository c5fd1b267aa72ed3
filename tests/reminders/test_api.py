"""The notifications API: mine only, read and unread, preferences, the calendar URL."""

from datetime import UTC, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from protocol_tracker.reminders.models import Notification, NotificationPreference
from tests.factories import H, stage_run_due
from tests.reminders.helpers import sweep_and_send

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db
URL = "/api/v1/notifications/"


@pytest.fixture
def api(technician) -> APIClient:
    client = APIClient()
    client.force_authenticate(technician)
    return client


@pytest.fixture
def two_each(lab, technician, technician2):
    """Two unassigned stages coming due: each technician gets two notifications."""
    stage_run_due(lab, NOW + H)
    stage_run_due(lab, NOW + 2 * H)
    sweep_and_send(NOW)


def test_the_list_holds_only_my_notifications_newest_first(api, technician, two_each):
    response = api.get(URL)

    assert response.status_code == 200
    mine = list(Notification.objects.filter(recipient=technician).order_by("-id"))
    assert [item["id"] for item in response.json()["results"]] == [n.pk for n in mine]
    first = response.json()["results"][0]
    assert first["kind"] == "due_soon"
    assert first["lab"] == "lab-a"
    assert first["read"] is False
    assert first["headline"].endswith("is due soon, at 2026-05-04 12:00 CST.")


def test_someone_elses_notification_is_not_found(api, technician2, two_each):
    theirs = Notification.objects.filter(recipient=technician2).first()

    assert api.get(f"{URL}{theirs.pk}/").status_code == 404
    assert api.post(f"{URL}{theirs.pk}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_read_and_unread(api, technician, two_each):
    notification = Notification.objects.filter(recipient=technician).first()

    with time_machine.travel(NOW, tick=False):
        read = api.post(f"{URL}{notification.pk}/read/")
    unread_list = api.get(f"{URL}?unread=true").json()["results"]
    unread = api.post(f"{URL}{notification.pk}/unread/")

    assert (read.status_code, read.json()["read"]) == (200, True)
    assert [item["id"] for item in unread_list] == [
        n.pk for n in Notification.objects.filter(recipient=technician).exclude(pk=notification.pk)
    ]
    assert (unread.status_code, unread.json()["read"]) == (200, False)
    assert api.post(f"{URL}read-all/").json() == {"marked": 2}
    assert api.get(f"{URL}?unread=true").json()["results"] == []


def test_preferences_read_and_change(api, technician):
    default = api.get(f"{URL}preferences/")
    changed = api.patch(
        f"{URL}preferences/", {"language": "zh-hans", "email_due_soon": False}, format="json"
    )

    assert default.json() == {
        "language": "en",
        "digest": True,
        "email_due_soon": True,
        "email_due": True,
        "email_overdue": True,
        "email_escalation": True,
        "email_qc_failed": True,
    }
    assert changed.status_code == 200
    assert changed.json()["language"] == "zh-hans"
    preference = NotificationPreference.objects.get(user=technician)
    assert (preference.language, preference.email_due_soon, preference.digest) == (
        "zh-hans",
        False,
        True,
    )


def test_a_bad_preference_is_refused_and_nothing_is_written(api):
    response = api.patch(f"{URL}preferences/", {"language": "klingon"}, format="json")

    assert response.status_code == 400
    assert NotificationPreference.objects.count() == 0


def test_me_gives_the_calendar_url_once_created_and_rotating_replaces_it(api):
    before = api.get("/api/v1/me/").json()["calendar_url"]
    created = api.post(f"{URL}calendar/").json()["calendar_url"]
    listed = api.get("/api/v1/me/").json()["calendar_url"]
    rotated = api.post(f"{URL}calendar/rotate/").json()["calendar_url"]
    after = api.get("/api/v1/me/").json()["calendar_url"]

    assert before is None
    assert created.startswith("http://testserver/calendar/") and created.endswith(".ics")
    assert listed == created
    assert rotated == after != created


def test_anonymous_callers_are_refused():
    assert APIClient().get(URL).status_code in (401, 403)


def test_an_id_beyond_the_database_range_is_not_found(api):
    assert api.get(f"{URL}99999999999999999999/").status_code == 404
    assert api.get(f"{URL}9999999999999999999/").status_code == 404
