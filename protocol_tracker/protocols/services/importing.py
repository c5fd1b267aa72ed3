"""Import protocol definitions (the defaults, or any definition in their schema) into a lab.

Idempotent on the canonical hash: importing what a version already holds returns that version.
A person imports drafts (publishing is a reviewer's signed approval: :mod:`.change_control`);
only the system (``actor=None``: seeding, tests) publishes on import, and only a definition
whose convention-marked specs the lab has confirmed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from labs.models import Lab
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.defaults import PROTOCOLS
from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.protocols.services.content import canonical_of, materialize
from protocol_tracker.protocols.services.guards import (
    lock_lab,
    lock_protocol,
    person_or_none,
    raise_if,
    require_designer,
)
from protocol_tracker.protocols.services.lifecycle import publish_locked


def _draft_hash(protocol: ProtocolTemplate) -> str:
    return defn.definition_hash(canonical_of(protocol))


@transaction.atomic
def protocol_import(
    *, lab: Lab, definition: dict[str, Any], actor: Actor | None = None, publish: bool = True
) -> ProtocolTemplate:
    """Load one definition (the schema of ``protocols.defaults``, hours) into ``lab``; idempotent.

    If a version of the code in the lab already has exactly this definition (same canonical
    hash) the newest such version is returned (and published, if it is a draft and ``publish``).
    Otherwise a new version is created with the next number. The definition must pass every
    publishing rule even when ``publish`` is False; a bad one writes nothing.
    """
    require_designer(actor, lab.pk)
    if publish and person_or_none(actor) is not None:
        raise InvalidTransition(
            "a person imports drafts: publishing needs a reviewer's signed approval",
            code="publish_needs_approval",
        )
    try:
        canonical = defn.canonical_definition(definition)
    except defn.DefinitionError as exc:
        raise ValidationFailed("the protocol definition is malformed", fields=exc.fields) from None
    problems: dict[str, list[str]] = {}
    defn.check_slug(problems, "code", canonical["code"])
    defn.check_text(problems, "name", canonical["name"], max_length=200, required=True)
    raise_if(problems, "the protocol definition is malformed")
    rule_problems = defn.definition_problems(canonical)
    if rule_problems:
        raise ValidationFailed(
            f"protocol '{canonical['code']}' cannot be imported: " + "; ".join(rule_problems),
            code="protocol_invalid",
            fields={"protocol": rule_problems},
        )
    digest = defn.definition_hash(canonical)
    lock_lab(lab)
    versions = list(
        ProtocolTemplate.objects.filter(lab=lab, code=canonical["code"])
        .select_related("lab")
        .order_by("-version")
    )
    for existing in versions:
        same = (
            existing.definition_hash == digest
            if existing.is_frozen
            else _draft_hash(existing) == digest
        )
        if same:
            if publish and not existing.is_frozen:
                existing = lock_protocol(existing)
                audit_record_many(
                    actor=actor,
                    changes=publish_locked(
                        existing, actor, canonical=canonical, retire_previous=False
                    ),
                )
            return existing

    protocol = ProtocolTemplate.objects.create(
        lab=lab, code=canonical["code"], name=canonical["name"],
        description=canonical["description"], version=(versions[0].version + 1 if versions else 1),
        previous_version=next((v for v in versions if v.is_frozen), None),
        created_by=person_or_none(actor),
    )  # fmt: skip
    counts = materialize(protocol, canonical)
    changes = [
        Change(
            action="protocol.imported",
            obj=protocol,
            lab_id=lab.pk,
            after={
                "code": protocol.code,
                "version": protocol.version,
                "definition_hash": digest,
                **counts,
            },
        )
    ]
    if publish:
        changes += publish_locked(protocol, actor, canonical=canonical, retire_previous=False)
    audit_record_many(actor=actor, changes=changes)
    return protocol


@transaction.atomic
def protocol_import_defaults(*, lab: Lab, actor: Actor | None = None) -> list[ProtocolTemplate]:
    """Both default protocols of ``protocols.defaults`` in ``lab``, as drafts (idempotent): the
    lab confirms their convention-marked specs and a reviewer approves each for use."""
    return [protocol_import(lab=lab, definition=d, actor=actor, publish=False) for d in PROTOCOLS]
