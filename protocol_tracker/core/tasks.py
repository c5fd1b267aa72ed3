"""Enqueue Celery work by task name, once the current transaction commits.

A service never imports the task modules of a higher layer: it names the task (the stable
``name=`` of a ``shared_task``). The message goes out only after commit, so a worker never sees
a row that was rolled back; ``robust`` because a broker outage at that moment must not turn a
committed write into an error (every task the services enqueue has a state-driven catch-up in
beat, so a lost message is delayed, not lost).
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(name: str, *args: int | str) -> None:
    """Send task ``name`` with id-only ``args`` now (outside any transaction's concerns)."""
    current_app.send_task(name, args=args)


def enqueue_on_commit(name: str, *args: int | str) -> None:
    """Send task ``name`` with id-only ``args`` after the current transaction commits."""
    transaction.on_commit(lambda: enqueue(name, *args), robust=True)
