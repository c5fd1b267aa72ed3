"""A task sent through the configured broker is run by a real worker process, not eager mode."""

import os

import pytest
from django.conf import settings

from protocol_tracker.celery import app, ping
from tests.celery_worker import celery_process


def _round_trip() -> dict:
    assert not app.conf.task_always_eager
    result = ping.delay("hello")
    return result.get(timeout=30)


def test_round_trip_through_configured_broker(celery_worker):
    reply = _round_trip()

    assert reply["echo"] == "hello"
    assert reply["pid"] == celery_worker.pid
    assert reply["pid"] != os.getpid()


@pytest.mark.django_db(transaction=True)
def test_round_trip_through_redis(redis_broker, tmp_path):
    assert redis_broker == settings.CELERY_BROKER_URL
    with celery_process("worker", log_dir=tmp_path, name="redis") as proc:
        reply = _round_trip()

    assert reply == {"pid": proc.pid, "echo": "hello"}
