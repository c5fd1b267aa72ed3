"""Outbound webhooks against a real local HTTP server: signed, retried, once per event id."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.qc.models import Deviation, DeviationKind
from protocol_tracker.reminders.models import Webhook, WebhookDelivery
from protocol_tracker.reminders.services import (
    deviation_opened_emit,
    notification_send,
    qc_failure_notify,
    run_released_emit,
    webhook_create,
    webhook_deliver,
)
from protocol_tracker.runs.models import RunStatus
from tests.factories import H, failed_result, stage_run_due
from tests.reminders.helpers import rows, sweep_and_send

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


class Receiver:
    """A local endpoint: answers with the queued status codes (then 200), records each POST."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def webhook(lab, lab_admin, receiver) -> Webhook:
    return webhook_create(
        lab=lab,
        url=receiver.url,
        events=["stage.due", "qc.failed", "deviation.opened", "run.released"],
        actor=lab_admin,
        secret="s3cret",
    )


def _deliver_all(final_attempt: bool = True) -> None:
    for pk in WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True):
        webhook_deliver(delivery_id=pk, final_attempt=final_attempt)


def test_a_stage_falling_due_is_posted_signed_and_once(lab, technician, webhook, receiver):
    stage_run = stage_run_due(lab, NOW - H / 10, assignee=technician)

    sweep_and_send(NOW)
    sweep_and_send(NOW)
    with time_machine.travel(NOW, tick=False):
        _deliver_all()
        _deliver_all()

    [post] = receiver.received
    body = post["body"]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert post["headers"]["X-Protocol-Tracker-Signature"] == expected
    assert post["headers"]["X-Protocol-Tracker-Event"] == "stage.due"
    event_id = f"stage.due:{stage_run.pk}:{stage_run.due_at.isoformat()}"
    assert post["headers"]["X-Protocol-Tracker-Delivery"] == event_id
    assert json.loads(body) == {
        "id": event_id,
        "event": "stage.due",
        "lab": "lab-a",
        "created_at": NOW.isoformat(),
        "data": {
            "stage_run": stage_run.pk,
            "due_at": stage_run.due_at.isoformat(),
            "run": stage_run.run.code,
            "donor": stage_run.run.donor.code,
            "stage": "Expansion",
        },
    }
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert [(r["status"], r["body"]) for r in delivery.responses] == [(200, "ok")]


def test_a_failing_endpoint_is_retried_and_every_answer_logged(lab, webhook, receiver):
    stage_run_due(lab, NOW - H / 2)
    sweep_and_send(NOW)
    receiver.answers = [500, 503]

    outcomes = []
    for _ in range(3):
        try:
            webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk, final_attempt=False)
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    delivery = WebhookDelivery.objects.get()
    assert outcomes == ["WebhookDeliveryFailed", "WebhookDeliveryFailed", "ok"]
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert [r["status"] for r in delivery.responses] == [500, 503, 200]
    assert len(receiver.received) == 3
    assert len({post["body"] for post in receiver.received}) == 1


def test_the_last_failed_attempt_marks_the_delivery_failed(lab, webhook, receiver):
    stage_run_due(lab, NOW - H / 2)
    sweep_and_send(NOW)
    receiver.answers = [500]

    webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk, final_attempt=True)

    assert WebhookDelivery.objects.values_list("status", "last_error").get() == (
        "failed",
        "HTTP 500",
    )


def test_an_unreachable_endpoint_is_logged_as_a_connection_error(lab, lab_admin):
    webhook_create(lab=lab, url="http://127.0.0.1:9/hook", events=["stage.due"], actor=lab_admin)
    stage_run_due(lab, NOW - H / 2)
    sweep_and_send(NOW)

    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk, final_attempt=True)

    assert delivery.status == "failed"
    assert delivery.responses[0]["status"] is None
    assert "Connection refused" in delivery.responses[0]["error"]


def test_an_out_of_spec_result_notifies_the_reviewers_at_once(
    lab, technician, reviewer, reviewer2, webhook, receiver, mailoutbox
):
    stage_run = stage_run_due(lab, NOW + 30 * H, assignee=technician)
    result = failed_result(stage_run, recorded_by=technician)

    created = qc_failure_notify(result_id=result.pk)
    again = qc_failure_notify(result_id=result.pk)
    for notification in created:
        notification_send(notification_id=notification.pk)
    _deliver_all()

    assert [n.pk for n in created] == [n.pk for n in again]
    assert rows() == [("qc_failed", "reviewer-a", "sent"), ("qc_failed", "reviewer-a2", "sent")]
    assert mailoutbox[0].subject == (
        f"[protocol_tracker] Out of spec: Viability, run {stage_run.run.code}"
    )
    assert (
        f"Out of spec: Viability = 61 % for run {stage_run.run.code} "
        f"(donor {stage_run.run.donor.code}), stage Expansion."
    ) in mailoutbox[0].body
    [post] = receiver.received
    assert json.loads(post["body"])["id"] == f"qc.failed:{result.pk}"


def test_a_flagged_run_says_so_in_the_qc_failure(lab, technician, reviewer, mailoutbox):
    stage_run = stage_run_due(lab, NOW + 30 * H, assignee=technician)
    stage_run.run.flagged = True
    stage_run.run.save(update_fields=["flagged"])

    [notification] = qc_failure_notify(result_id=failed_result(stage_run).pk)
    notification_send(notification_id=notification.pk)

    assert "The run was released conditionally and is now flagged." in mailoutbox[0].body


def test_deviations_and_releases_are_posted_once(lab, technician, webhook, receiver):
    stage_run = stage_run_due(lab, NOW + 30 * H)
    deviation = Deviation.objects.create(
        lab=lab,
        run=stage_run.run,
        stage_run=stage_run,
        kind=DeviationKind.MANUAL,
        title="Free text, not sent",
    )
    stage_run.run.status = RunStatus.RELEASED
    stage_run.run.save(update_fields=["status"])

    counts = [
        deviation_opened_emit(deviation_id=deviation.pk),
        deviation_opened_emit(deviation_id=deviation.pk),
        run_released_emit(run_id=stage_run.run.pk),
    ]
    _deliver_all()

    assert counts == [1, 0, 1]
    events = [json.loads(p["body"]) for p in receiver.received]
    assert [e["id"] for e in events] == [
        f"deviation.opened:{deviation.pk}",
        f"run.released:{stage_run.run.pk}",
    ]
    assert "Free text" not in receiver.received[0]["body"].decode()


def test_events_a_webhook_did_not_subscribe_to_are_not_sent(lab, lab_admin, receiver):
    webhook_create(lab=lab, url=receiver.url, events=["run.released"], actor=lab_admin)
    stage_run_due(lab, NOW - H / 2)

    sweep_and_send(NOW)

    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        ("file:///etc/passwd", ["stage.due"], "url"),
        ("https://example.org/hook", ["stage.exploded"], "events"),
        ("https://example.org/hook", [], "events"),
    ],
)
def test_a_bad_webhook_is_refused_and_nothing_is_written(lab, lab_admin, url, events, field):
    with pytest.raises(ValidationFailed) as refused:
        webhook_create(lab=lab, url=url, events=events, actor=lab_admin)

    assert list(refused.value.fields) == [field]
    assert (Webhook.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_a_lab_admin_adds_a_webhook_in_the_admin_through_the_service(client, lab, lab_admin):
    client.force_login(lab_admin)

    response = client.post(
        "/admin/reminders/webhook/add/",
        {
            "lab": lab.pk,
            "url": "https://hooks.example.org/pt",
            "events": '["run.released"]',
            "secret": "",
            "active": "on",
            "description": "LIMS",
        },
    )

    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert (webhook.url, webhook.events, webhook.active) == (
        "https://hooks.example.org/pt",
        ["run.released"],
        True,
    )
    assert len(webhook.secret) >= 32
    assert list(AuditEvent.objects.values_list("action", "actor_user")) == [
        ("webhook.create", lab_admin.pk)
    ]
