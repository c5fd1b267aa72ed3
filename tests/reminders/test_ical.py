"""The per-user calendar feed: valid iCal, the right events, a secret and revocable URL."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from protocol_tracker.reminders.services import calendar_token_issue, calendar_token_rotate
from protocol_tracker.runs.models import StageStatus
from tests.factories import H, TaskOccurrenceFactory, stage_run_due

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _feed_path(user) -> str:
    token = calendar_token_issue(user=user)
    return reverse("web:calendar_feed", kwargs={"token": token.secret})


def test_the_feed_parses_and_holds_the_users_due_stages_and_tasks(
    client, lab, technician, technician2, other_technician
):
    mine = stage_run_due(lab, NOW + 5 * H, assignee=technician, name="Banking")
    task = TaskOccurrenceFactory(stage_run=mine, due_at=NOW + 2 * H)
    TaskOccurrenceFactory(
        stage_run=mine,
        due_at=NOW - H,
        done_at=NOW - H,
        task=task.task.stage.tasks.create(key="old", name="Old", every=H),
    )
    stage_run_due(lab, NOW + 6 * H, assignee=technician2)
    stage_run_due(lab, NOW + 7 * H, assignee=technician, status=StageStatus.COMPLETED)

    response = client.get(_feed_path(technician))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [(str(e["UID"]), str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events] == [
        (
            f"stage-run-{mine.pk}@protocol-tracker",
            f"Due: Banking, run {mine.run.code}",
            NOW + 5 * H,
        ),
        (f"task-{task.pk}@protocol-tracker", f"Media change, run {mine.run.code}", NOW + 2 * H),
    ]
    assert mine.run.donor.code in str(events[0]["DESCRIPTION"])
    assert str(calendar["VERSION"]) == "2.0"
    assert all(e.decoded("DTEND") > e.decoded("DTSTART") for e in events)


def test_unassigned_work_is_in_every_lab_technicians_feed(client, lab, technician, reviewer):
    stage_run = stage_run_due(lab, NOW + 5 * H)

    tech_events = Calendar.from_ical(client.get(_feed_path(technician)).content).walk("VEVENT")
    reviewer_events = Calendar.from_ical(client.get(_feed_path(reviewer)).content).walk("VEVENT")

    assert [str(e["UID"]) for e in tech_events] == [f"stage-run-{stage_run.pk}@protocol-tracker"]
    assert reviewer_events == []


def test_the_url_is_stable_until_rotated_and_the_old_one_then_dies(client, technician):
    first = _feed_path(technician)
    again = _feed_path(technician)

    calendar_token_rotate(user=technician, actor=technician)
    rotated = _feed_path(technician)

    assert first == again
    assert first.startswith("/calendar/") and first.endswith(".ics")
    assert rotated != first
    assert client.get(first).status_code == 404
    assert client.get(rotated).status_code == 200


def test_an_unknown_token_or_an_inactive_user_is_not_found(client, technician):
    path = _feed_path(technician)
    technician.is_active = False
    technician.save(update_fields=["is_active"])

    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert client.get(path).status_code == 404


def test_the_feed_costs_a_fixed_number_of_queries(
    client, lab, technician, django_assert_num_queries
):
    for hours in range(1, 6):
        TaskOccurrenceFactory(stage_run=stage_run_due(lab, NOW + hours * H, assignee=technician))
    path = _feed_path(technician)

    with django_assert_num_queries(4):
        response = client.get(path)

    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == 10


def test_another_labs_work_is_not_in_the_feed(client, lab, technician, other_technician):
    own = stage_run_due(lab, NOW + 5 * H)
    foreign = stage_run_due(other_technician.memberships.get().lab, NOW + 5 * H)

    own_events = Calendar.from_ical(client.get(_feed_path(technician)).content).walk("VEVENT")
    other_events = Calendar.from_ical(client.get(_feed_path(other_technician)).content).walk(
        "VEVENT"
    )

    assert [str(e["UID"]) for e in own_events] == [f"stage-run-{own.pk}@protocol-tracker"]
    assert [str(e["UID"]) for e in other_events] == [f"stage-run-{foreign.pk}@protocol-tracker"]
