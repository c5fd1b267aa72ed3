"""Writes for labs, memberships and instruments."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from labs.models import Instrument, InstrumentCredential, Lab, Membership
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Actor, Person

TOKEN_PREFIX = "pti"  # noqa: S105 - a public marker, not a secret


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def membership_set(*, lab: Lab, user: Person, role: str, actor: Actor) -> Membership:
    """Give ``user`` ``role`` in ``lab`` (one role per lab; changing it is audited)."""
    membership = Membership.objects.select_for_update().filter(lab=lab, user=user).first()
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership.objects.create(lab=lab, user=user, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    else:
        return membership
    audit_record(
        actor=actor,
        action="membership.set",
        obj=membership,
        before=before,
        after={"role": role, "user": user.get_username()},
    )
    return membership


@transaction.atomic
def instrument_credential_issue(
    *, instrument: Instrument, actor: Actor
) -> tuple[InstrumentCredential, str]:
    """Create a token for ``instrument``; returns the credential and the token, shown only once."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    credential = InstrumentCredential.objects.create(
        instrument=instrument,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        created_by=actor if isinstance(actor, AbstractBaseUser) else None,
    )
    audit_record(
        actor=actor, action="instrument.token_issued", obj=instrument, after={"prefix": prefix}
    )
    return credential, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def instrument_credential_revoke(
    *, credential: InstrumentCredential, actor: Actor, reason: str = ""
) -> InstrumentCredential:
    credential = InstrumentCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="instrument.token_revoked",
            obj=credential.instrument,
            after={"prefix": credential.prefix},
            reason=reason,
        )
    return credential


def instrument_authenticate(token: str) -> Instrument | None:
    """The active instrument a token belongs to, or None. Records when it was last used."""
    try:
        kind, prefix, secret = token.split("_", 2)
    except ValueError:
        return None
    if kind != TOKEN_PREFIX:
        return None
    credential = (
        InstrumentCredential.objects.select_related("instrument__lab")
        .filter(prefix=prefix, revoked_at__isnull=True, instrument__is_active=True)
        .first()
    )
    if credential is None or not secrets.compare_digest(
        credential.secret_hash, _hash_secret(secret)
    ):
        return None
    now = timezone.now()
    # Bounded write: at most once a minute per credential, so a busy instrument does not
    # turn every read into a write.
    if credential.last_used_at is None or (now - credential.last_used_at).total_seconds() > 60:
        InstrumentCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential.instrument
