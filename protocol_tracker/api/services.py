"""Writes for the API's own records: personal tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from protocol_tracker.api.models import PersonalToken
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "ptp"  # noqa: S105 - a prefix, not a secret
_LAST_USED_RESOLUTION = timedelta(seconds=60)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def personal_token_issue(*, user: Person, name: str = "") -> tuple[PersonalToken, str]:
    """Create a token for ``user``; returns it with the secret token text, shown only once."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)  # 256 bits
    token = PersonalToken.objects.create(
        user=user, name=name[:100], prefix=prefix, secret_hash=_hash_secret(secret)
    )
    audit_record(
        actor=user,
        action="api.token_issued",
        obj=token,
        after={"prefix": prefix, "name": token.name},
    )
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def personal_token_revoke(*, token: PersonalToken, actor: Person) -> PersonalToken:
    """Revoke ``token`` (idempotent: revoking a revoked token changes nothing)."""
    token = PersonalToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="api.token_revoked", obj=token, after={"prefix": token.prefix}
        )
    return token


def personal_token_authenticate(raw: str) -> PersonalToken | None:
    """The active token ``raw`` names, or None. Records when it was last used (once a minute)."""
    try:
        kind, prefix, secret = raw.split("_", 2)
    except ValueError:
        return None
    if kind != TOKEN_PREFIX or not prefix or not secret:
        return None
    token = (
        PersonalToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or not secrets.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        PersonalToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
