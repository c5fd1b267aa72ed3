"""A person's side: read state, notification preferences, the calendar token."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import NotPermitted, ValidationFailed
from protocol_tracker.reminders.models import (
    CalendarToken,
    Notification,
    NotificationPreference,
)

# --- read state and preferences ------------------------------------------------------------


def _own(notification: Notification, user: Person) -> None:
    if notification.recipient_id != getattr(user, "pk", None):
        raise NotPermitted("This notification is not yours.")


@transaction.atomic
def notification_mark_read(*, notification: Notification, user: Person) -> Notification:
    """Mark one of ``user``'s notifications read (idempotent: the first read time is kept)."""
    _own(notification, user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


@transaction.atomic
def notification_mark_unread(*, notification: Notification, user: Person) -> Notification:
    _own(notification, user)
    Notification.objects.filter(pk=notification.pk).update(read_at=None)
    notification.read_at = None
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: Person) -> int:
    """Mark every unread notification of ``user`` read; returns how many changed."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


PREFERENCE_FIELDS = ("language", "digest", *NotificationPreference.EMAIL_FIELDS)


@transaction.atomic
def notification_preference_update(*, user: Person, **changes) -> NotificationPreference:
    """Set ``user``'s notification preferences; unknown fields or values are refused."""
    unknown = sorted(set(changes) - set(PREFERENCE_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"Unknown preference: {', '.join(unknown)}.",
            fields={name: ["Unknown preference."] for name in unknown},
        )
    preference, _created = NotificationPreference.objects.select_for_update().get_or_create(
        user=user
    )
    before = {name: getattr(preference, name) for name in changes}
    for name, value in changes.items():
        setattr(preference, name, value)
    try:
        preference.full_clean(exclude=["user"])
    except Exception as exc:
        fields = getattr(exc, "message_dict", {})
        raise ValidationFailed("Invalid preference.", fields=fields) from None
    preference.save()
    if before != changes:
        audit_record(
            actor=user,
            action="notification_preference.update",
            obj=preference,
            before=before,
            after=changes,
        )
    return preference


# --- calendar tokens -----------------------------------------------------------------------


@transaction.atomic
def calendar_token_issue(*, user: Person) -> CalendarToken:
    """Create ``user``'s calendar link on their request (audited); idempotent: while a token is
    active it is returned as it is, so asking twice gives one link."""
    token = CalendarToken.objects.filter(user=user, revoked_at__isnull=True).first()
    if token is not None:
        return token
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # serialise issuers
    token = CalendarToken.objects.filter(user=user, revoked_at__isnull=True).first()
    if token is not None:
        return token
    token = CalendarToken.objects.create(user=user, secret=secrets.token_urlsafe(32))
    audit_record(
        actor=user,
        action="calendar_token.issue",
        obj=token,
        after={"user": user.get_username()},
    )
    return token


@transaction.atomic
def calendar_token_rotate(*, user: Person, actor: Person) -> CalendarToken:
    """Revoke the user's calendar URL and issue a new one (the old URL answers 404 from now)."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    revoked = CalendarToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token = CalendarToken.objects.create(user=user, secret=secrets.token_urlsafe(32))
    audit_record(
        actor=actor,
        action="calendar_token.rotate",
        obj=token,
        after={"user": user.get_username(), "revoked": revoked},
    )
    return token
