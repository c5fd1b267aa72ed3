"""Outbound webhooks: a lab's endpoints receive its events as signed JSON POSTs.

Each event has a deterministic id (``stage.due:<stage run>:<due time>``, ``qc.failed:<result>``,
...); a delivery is unique per (webhook, event id), so an event emitted twice is delivered once.
The body is signed with HMAC-SHA256 of the webhook's secret, sent as
``X-Protocol-Tracker-Signature: sha256=<hex>``; a receiver recomputes it over the raw body. Failed
attempts (network error or a non-2xx answer) are retried with backoff; every attempt's answer is
kept in ``WebhookDelivery.responses``. Payloads carry codes (run, donor, stage), never free text
or personal data. Delivery uses the standard library (``urllib``), with redirects refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.qc.models import Deviation
from protocol_tracker.reminders.models import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from protocol_tracker.reminders.services.claims import webhook_deliveries_enqueue_pending
from protocol_tracker.runs.models import Run

SIGNATURE_HEADER = "X-Protocol-Tracker-Signature"
EVENT_HEADER = "X-Protocol-Tracker-Event"
DELIVERY_HEADER = "X-Protocol-Tracker-Delivery"
TIMEOUT_SECONDS = 10
_KEPT_BODY = 500
_CHUNK = 900


class WebhookDeliveryFailed(Exception):
    """One attempt failed (network error or a non-2xx answer); the task retries it."""


def webhook_signature(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload_body(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


# --- configuration -------------------------------------------------------------------------


def _clean(url: str, events: Sequence[str]) -> tuple[str, list[str]]:
    errors: dict[str, list[str]] = {}
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors["url"] = ["Use an http:// or https:// URL."]
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if unknown or not events:
        errors["events"] = [
            f"Unknown event: {', '.join(unknown)}." if unknown else "Choose at least one event."
        ]
    if errors:
        raise ValidationFailed("Invalid webhook.", fields=errors)
    return url, sorted(set(events))


@transaction.atomic
def webhook_create(
    *,
    lab: Lab,
    url: str,
    events: Sequence[str],
    actor: Person,
    secret: str = "",
    description: str = "",
) -> Webhook:
    """Add an endpoint to ``lab`` (a random secret when none is given). Audited."""
    url, events = _clean(url, events)
    webhook = Webhook.objects.create(
        lab=lab,
        url=url,
        events=events,
        secret=secret or secrets.token_urlsafe(32),
        description=description,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="webhook.create",
        obj=webhook,
        after={"url": url, "events": events, "active": True},
    )
    return webhook


@transaction.atomic
def webhook_update(
    *,
    webhook: Webhook,
    actor: Person,
    url: str | None = None,
    events: Sequence[str] | None = None,
    active: bool | None = None,
    secret: str | None = None,
    description: str | None = None,
) -> Webhook:
    """Change an endpoint (URL, events, active, secret). The secret never enters the audit."""
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    before = {"url": webhook.url, "events": webhook.events, "active": webhook.active}
    new_url, new_events = _clean(
        url if url is not None else webhook.url, events if events is not None else webhook.events
    )
    webhook.url, webhook.events = new_url, new_events
    if active is not None:
        webhook.active = active
    if description is not None:
        webhook.description = description
    secret_changed = False
    if secret and secret != webhook.secret:
        webhook.secret, secret_changed = secret, True
    webhook.save()
    after = {"url": webhook.url, "events": webhook.events, "active": webhook.active}
    if after != before or secret_changed:
        audit_record(
            actor=actor,
            action="webhook.update",
            obj=webhook,
            before=before,
            after={**after, "secret_changed": secret_changed},
        )
    return webhook


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryDraft:
    lab_id: int
    event: str
    event_id: str
    data: dict


def webhook_deliveries_create(
    *, drafts: Sequence[DeliveryDraft], now: datetime, enqueue: bool = False
) -> int:
    """One delivery per (subscribed active webhook, event id) not delivered already."""
    if not drafts:
        return 0
    hooks: dict[int, list[Webhook]] = defaultdict(list)
    for hook in (
        Webhook.objects.filter(active=True, lab_id__in={d.lab_id for d in drafts})
        .select_related("lab")
        .order_by("pk")
    ):
        hooks[hook.lab_id].append(hook)
    rows = [
        WebhookDelivery(
            webhook=hook,
            event=draft.event,
            event_id=draft.event_id,
            created_at=now,
            payload={
                "id": draft.event_id,
                "event": draft.event,
                "lab": hook.lab.slug,
                "created_at": now.isoformat(),
                "data": draft.data,
            },
        )
        for draft in drafts
        for hook in hooks.get(draft.lab_id, [])
        if hook.wants(draft.event)
    ]
    if not rows:
        return 0
    event_ids = sorted({row.event_id for row in rows})
    existing: set[tuple[int, str]] = set()
    for start in range(0, len(event_ids), _CHUNK):
        existing.update(
            WebhookDelivery.objects.filter(
                webhook_id__in={row.webhook_id for row in rows},
                event_id__in=event_ids[start : start + _CHUNK],
            ).values_list("webhook_id", "event_id")
        )
    new = [row for row in rows if (row.webhook_id, row.event_id) not in existing]
    WebhookDelivery.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    if enqueue and new:
        webhook_deliveries_enqueue_pending(now=now)
    return len(new)


@transaction.atomic
def deviation_opened_emit(*, deviation_id: int) -> int:
    """Emit ``deviation.opened`` for a deviation to its lab's webhooks (once per event id)."""
    deviation = (
        Deviation.objects.select_related("run__donor", "stage_run__stage")
        .filter(pk=deviation_id)
        .first()
    )
    if deviation is None:
        return 0
    data = {
        "deviation": deviation.pk,
        "kind": deviation.kind,
        "severity": deviation.severity,
        "run": deviation.run.code,
        "donor": deviation.run.donor.code,
        "stage": deviation.stage_run.stage.name if deviation.stage_run else None,
        "qc_result": deviation.qc_result_id,
        "opened_at": deviation.opened_at.isoformat(),
    }
    return webhook_deliveries_create(
        drafts=[
            DeliveryDraft(
                deviation.lab_id,
                WebhookEvent.DEVIATION_OPENED,
                f"deviation.opened:{deviation.pk}",
                data,
            )
        ],
        now=timezone.now(),
        enqueue=True,
    )


@transaction.atomic
def run_released_emit(*, run_id: int) -> int:
    """Emit ``run.released`` for a released run to its lab's webhooks (once per event id)."""
    run = Run.objects.select_related("donor").filter(pk=run_id, status="released").first()
    if run is None:
        return 0
    data = {
        "run": run.code,
        "donor": run.donor.code,
        "released_at": run.closed_at.isoformat() if run.closed_at else None,
        "conditional_release": run.conditional_release,
    }
    return webhook_deliveries_create(
        drafts=[
            DeliveryDraft(run.lab_id, WebhookEvent.RUN_RELEASED, f"run.released:{run.pk}", data)
        ],
        now=timezone.now(),
        enqueue=True,
    )


# --- delivery ------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer (logged, retried), never followed with the body


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """POST and return (status, body excerpt, error)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return None, "", "refused: not an http(s) URL"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(_KEPT_BODY).decode(errors="replace"), ""
    except urllib.error.HTTPError as exc:
        text = exc.read(_KEPT_BODY).decode(errors="replace") if exc.fp else ""
        return exc.code, text, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "", f"{type(exc).__name__}: {reason}"


def _finish(pk: int, **fields) -> None:
    WebhookDelivery.objects.filter(pk=pk, status=DeliveryStatus.SENDING).update(**fields)


def webhook_deliver(*, delivery_id: int, final_attempt: bool = True) -> WebhookDelivery | None:
    """POST one delivery (claimed first, so it is never sent by two workers at once).

    Not one transaction, like ``notification_send``: the claim is committed before the request.
    Raises :class:`WebhookDeliveryFailed` after a failed attempt that will be retried.
    """
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    if not webhook.active:
        _finish(
            delivery.pk,
            status=DeliveryStatus.FAILED,
            last_error="The webhook was deactivated before delivery.",
        )
        delivery.refresh_from_db()
        return delivery
    body = payload_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "protocol-tracker-webhooks/1",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: delivery.event_id,
        SIGNATURE_HEADER: webhook_signature(webhook.secret, body),
    }
    started = time.monotonic()
    status, text, error = _post(webhook.url, body, headers)
    entry = {
        "at": timezone.now().isoformat(),
        "attempt": delivery.attempts,
        "status": status,
        "body": text,
        "error": error,
        "ms": round((time.monotonic() - started) * 1000),
    }
    responses = [*delivery.responses, entry]
    if status is not None and 200 <= status < 300:
        _finish(
            delivery.pk,
            status=DeliveryStatus.DELIVERED,
            delivered_at=timezone.now(),
            responses=responses,
            last_error="",
        )
    elif final_attempt:
        _finish(
            delivery.pk,
            status=DeliveryStatus.FAILED,
            responses=responses,
            last_error=error or f"HTTP {status}",
        )
    else:
        _finish(
            delivery.pk,
            status=DeliveryStatus.PENDING,
            responses=responses,
            last_error=error or f"HTTP {status}",
            enqueued_at=timezone.now(),
        )
        raise WebhookDeliveryFailed(error or f"HTTP {status}")
    delivery.refresh_from_db()
    return delivery
