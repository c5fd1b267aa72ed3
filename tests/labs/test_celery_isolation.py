"""The tests' workers take only the test session's tasks: a stray worker on the same broker
(on the default queue, as a developer's ``make run`` or another checkout's tests would run one)
never receives them. On the embedded filesystem broker and on Redis."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery
from django.conf import settings

from protocol_tracker import config
from protocol_tracker.celery import app, ping
from tests.celery_worker import ROOT, SESSION_QUEUE, celery_process, queue_drop, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
TASKS = 5


def test_the_session_sends_every_task_to_a_queue_of_its_own():
    assert SESSION_QUEUE.startswith("pt-test-")
    assert settings.CELERY_TASK_DEFAULT_QUEUE == app.conf.task_default_queue == SESSION_QUEUE
    route = app.amqp.router.route({}, ping.name)
    assert route["queue"].name == SESSION_QUEUE


@pytest.fixture(params=["filesystem", "redis"])
def broker_env(request, monkeypatch) -> dict[str, str | None]:
    """The environment that selects one broker (None unsets the variable), set in this process
    too: Celery lets ``CELERY_BROKER_URL`` in the environment override any app's broker."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_broker")
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        return {"CELERY_BROKER_URL": url}
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    return {"CELERY_BROKER_URL": None}


def producer(env: dict[str, str]) -> Celery:
    """A client of the broker ``env`` selects, configured as the project's app would be."""
    cfg = config.load(env, base_dir=ROOT)
    client = Celery("isolation-test", set_as_current=False)
    client.conf.update(
        broker_url=cfg.broker_url,
        broker_transport_options=cfg.broker_transport_options,
        result_backend=cfg.result_backend,
        task_default_queue=cfg.task_default_queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    return client


def test_a_stray_worker_on_the_default_queue_never_receives_the_sessions_tasks(
    broker_env, tmp_path
):
    # Given a stray worker on the same broker, started as by hand: the default queue
    # ("celery"), plus a queue of its own to prove that it is alive and consuming.
    canary_queue = f"pt-stray-{uuid.uuid4().hex[:8]}"
    stray_env = {**broker_env, "CELERY_TASK_DEFAULT_QUEUE": None}
    client = producer(worker_env(broker_env))
    assert client.conf.task_default_queue == SESSION_QUEUE
    with celery_process(
        "worker",
        log_dir=tmp_path,
        name="stray",
        extra_env=stray_env,
        queues=f"celery,{canary_queue}",
    ) as stray:
        # When the session's tasks are sent while the stray is the only worker running,
        ours = [client.send_task(ping.name, args=[f"ours-{i}"]) for i in range(TASKS)]
        # and the stray then answers a task sent after them,
        canary = client.send_task(ping.name, args=["canary"], queue=canary_queue)
        assert canary.get(timeout=30) == {"pid": stray.pid, "echo": "canary"}
        # then it has left every one of them,
        assert [r.state for r in ours] == ["PENDING"] * TASKS

        # and the session's own worker, started now, runs them all.
        with celery_process("worker", log_dir=tmp_path, name="own", extra_env=broker_env) as own:
            replies = [r.get(timeout=30) for r in ours]
    queue_drop(client, canary_queue)

    assert replies == [{"pid": own.pid, "echo": f"ours-{i}"} for i in range(TASKS)]
    stray_log = (tmp_path / "celery-worker-stray.log").read_text()
    assert canary.id in stray_log
    assert not [r.id for r in ours if r.id in stray_log]
    own_log = (tmp_path / "celery-worker-own.log").read_text()
    assert all(r.id in own_log for r in ours)
