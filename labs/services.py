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


INSTRUMENT_FIELDS = ("name", "kind", "make", "model", "serial", "allowed_assays", "is_active")


@transaction.atomic
def instrument_create(
    *,
    lab: Lab,
    name: str,
    kind: str,
    make: str = "",
    model: str = "",
    serial: str = "",
    allowed_assays: list[str] | None = None,
    actor: Actor | None,
) -> Instrument:
    """Add an instrument to ``lab`` (checked by the caller: ``equipment.services`` validates the
    assays against the lab's protocols and registers it as equipment)."""
    instrument = Instrument.objects.create(
        lab=lab,
        name=name,
        kind=kind,
        make=make,
        model=model,
        serial=serial,
        allowed_assays=list(allowed_assays or []),
    )
    audit_record(
        actor=actor,
        action="instrument.create",
        obj=instrument,
        after={f: getattr(instrument, f) for f in INSTRUMENT_FIELDS},
    )
    return instrument


@transaction.atomic
def instrument_update(*, instrument: Instrument, actor: Actor | None, **changes) -> Instrument:
    """Change an instrument's fields (``INSTRUMENT_FIELDS``; checked by the caller)."""
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    before = {
        f: getattr(instrument, f)
        for f, v in changes.items()
        if f in INSTRUMENT_FIELDS and getattr(instrument, f) != v
    }
    if not before:
        return instrument
    for field in before:
        setattr(instrument, field, changes[field])
    instrument.save(update_fields=list(before))
    audit_record(
        actor=actor,
        action="instrument.update",
        obj=instrument,
        before=before,
        after={f: changes[f] for f in before},
    )
    return instrument


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
