"""The per-user iCal feed (RFC 5545) of due stages and bench tasks, built with ``icalendar``.

Each stage run and task occurrence is one event at its due time (UTC), with a stable UID so that a
calendar client moves the event when the due time is re-planned. Events carry codes only. It builds
the calendar from the rows it is given (``selectors.calendar_stage_runs_for_user`` and
``calendar_tasks_for_user``); the HTTP view that serves it lives in ``web``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from protocol_tracker.reminders.rendering import format_local
from protocol_tracker.runs.models import StageRun, TaskOccurrence

PRODID = "-//protocol_tracker//reminders//EN"
UID_DOMAIN = "protocol-tracker"
STAGE_EVENT_LENGTH = timedelta(minutes=30)
TASK_EVENT_LENGTH = timedelta(minutes=15)


def _event(
    *,
    uid: str,
    summary: str,
    description: str,
    start: datetime,
    length: timedelta,
    now: datetime,
    categories: str,
) -> Event:
    event = Event()
    event.add("uid", f"{uid}@{UID_DOMAIN}")
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", start + length)
    event.add("summary", summary)
    event.add("description", description)
    event.add("categories", [categories])
    event.add("transp", "TRANSPARENT")
    return event


def calendar_feed(
    *, stage_runs: Iterable[StageRun], tasks: Iterable[TaskOccurrence], now: datetime
) -> bytes:
    """A person's feed of ``stage_runs`` and bench ``tasks`` as bytes (``text/calendar``)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("protocol_tracker: my due work"))
    calendar.add("x-published-ttl", "PT1H")
    for stage_run in stage_runs:
        run = stage_run.run
        fields = {
            "stage": stage_run.stage.name,
            "run": run.code,
            "donor": run.donor.code,
            "due": format_local(stage_run.due_at, run.lab.tz),
            "status": stage_run.get_status_display(),
        }
        calendar.add_component(
            _event(
                uid=f"stage-run-{stage_run.pk}",
                summary=_("Due: %(stage)s, run %(run)s") % fields,
                description=_(
                    "Stage %(stage)s of run %(run)s (donor %(donor)s) is due at %(due)s. "
                    "Status: %(status)s."
                )
                % fields,
                start=stage_run.due_at,
                length=STAGE_EVENT_LENGTH,
                now=now,
                categories="stage",
            )
        )
    for task in tasks:
        run = task.stage_run.run
        fields = {
            "task": task.task.name,
            "stage": task.stage_run.stage.name,
            "run": run.code,
            "donor": run.donor.code,
            "due": format_local(task.due_at, run.lab.tz),
        }
        calendar.add_component(
            _event(
                uid=f"task-{task.pk}",
                summary=_("%(task)s, run %(run)s") % fields,
                description=_(
                    "Bench task %(task)s (stage %(stage)s) of run %(run)s (donor "
                    "%(donor)s) is due at %(due)s."
                )
                % fields,
                start=task.due_at,
                length=TASK_EVENT_LENGTH,
                now=now,
                categories="task",
            )
        )
    return calendar.to_ical()
