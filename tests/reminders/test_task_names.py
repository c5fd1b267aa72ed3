"""The services enqueue by task name: each name they send is a registered task, and the names
other apps enqueue (qc: ``reminders.qc_failed`` and friends) stay as they are."""

from __future__ import annotations

from protocol_tracker.celery import app
from protocol_tracker.reminders.services import claims


def test_the_names_the_services_send_are_registered_tasks():
    app.loader.import_default_modules()

    for name in (claims.SEND_TASK, claims.WEBHOOK_TASK):
        assert name in app.tasks


def test_the_task_names_are_stable():
    app.loader.import_default_modules()

    assert sorted(name for name in app.tasks if name.startswith("reminders.")) == [
        "reminders.deviation_opened",
        "reminders.digests",
        "reminders.lot_recalled",
        "reminders.qc_failed",
        "reminders.run_released",
        "reminders.send",
        "reminders.sweep",
        "reminders.webhook",
    ]
