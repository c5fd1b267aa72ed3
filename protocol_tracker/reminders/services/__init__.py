"""Writes for reminders: the sweep, the claims, sending, alerts, webhooks, read state, preferences,
calendar links.

One module per seam, importing only those before it: ``claims`` (insert once, claim, enqueue by
task name after commit) ← ``webhooks`` (endpoints, events, signed POSTs) ← ``sweep`` (what is owed
now), ``digests`` (the reviewers' daily digest), ``qc_alerts`` (out-of-spec results), ``delivery``
(sending one notification); ``account`` (read state, preferences, calendar tokens) stands alone.
Everything public is importable from here.

Exactly once, by construction:

1. The sweep inserts what is owed with ``bulk_create(ignore_conflicts=True)`` against the unique
   (object, kind, due time, recipient) constraint: two sweeps at once insert one row.
2. It enqueues each pending row after claiming it for enqueueing (``select_for_update(
   skip_locked=True)`` then ``enqueued_at``), so two sweeps do not enqueue the same row.
3. The send task claims its row with a conditional ``UPDATE ... WHERE status = 'pending'`` before
   it touches SMTP, so a duplicated or redelivered message sends nothing.

A row whose enqueue was lost (broker down) is enqueued again by a later sweep; a row left in
``sending`` by a worker that died mid-send is marked failed (the outcome is unknown, so it is not
resent blindly; a lab admin sees it and may retry it).
"""

from protocol_tracker.reminders.services.account import (
    PREFERENCE_FIELDS,
    calendar_token_issue,
    calendar_token_rotate,
    notification_mark_read,
    notification_mark_unread,
    notification_preference_update,
    notifications_mark_all_read,
)
from protocol_tracker.reminders.services.claims import (
    REENQUEUE_AFTER,
    claim_for_enqueue,
    dispatch_on_commit,
    insert_missing,
    notifications_enqueue_pending,
    webhook_deliveries_enqueue_pending,
)
from protocol_tracker.reminders.services.delivery import (
    TRANSIENT_SEND_ERRORS,
    PermanentSendError,
    notification_retry,
    notification_send,
)
from protocol_tracker.reminders.services.digests import digests_sweep
from protocol_tracker.reminders.services.qc_alerts import qc_failure_notify, qc_failures_catch_up
from protocol_tracker.reminders.services.recall_alerts import (
    lot_recall_notify,
    lot_recalls_catch_up,
)
from protocol_tracker.reminders.services.sweep import SENDING_LEASE, SweepResult, reminders_sweep
from protocol_tracker.reminders.services.webhooks import (
    DeliveryDraft,
    WebhookDeliveryFailed,
    deviation_opened_emit,
    run_released_emit,
    webhook_create,
    webhook_deliver,
    webhook_deliveries_create,
    webhook_update,
)

__all__ = [
    "PREFERENCE_FIELDS",
    "REENQUEUE_AFTER",
    "SENDING_LEASE",
    "TRANSIENT_SEND_ERRORS",
    "DeliveryDraft",
    "PermanentSendError",
    "SweepResult",
    "WebhookDeliveryFailed",
    "calendar_token_issue",
    "calendar_token_rotate",
    "claim_for_enqueue",
    "deviation_opened_emit",
    "digests_sweep",
    "dispatch_on_commit",
    "insert_missing",
    "lot_recall_notify",
    "lot_recalls_catch_up",
    "notification_mark_read",
    "notification_mark_unread",
    "notification_preference_update",
    "notification_retry",
    "notification_send",
    "notifications_enqueue_pending",
    "notifications_mark_all_read",
    "qc_failure_notify",
    "qc_failures_catch_up",
    "reminders_sweep",
    "run_released_emit",
    "webhook_create",
    "webhook_deliver",
    "webhook_deliveries_create",
    "webhook_deliveries_enqueue_pending",
    "webhook_update",
]
