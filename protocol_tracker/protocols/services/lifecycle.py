"""A protocol version's life: create a draft, edit its header, validate, freeze (the step
the signed approval of :mod:`.change_control` and the system's import share), discard a draft,
copy a frozen version into a new draft. (How versions supersede each other: the package
docstring.)
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.audit.services import Change, audit_record
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate, StageTemplate
from protocol_tracker.protocols.selectors import protocol_conventions
from protocol_tracker.protocols.services.content import canonical_of, delete_stages, materialize
from protocol_tracker.protocols.services.guards import (
    latest_frozen,
    lock_draft,
    lock_lab,
    lock_protocol,
    next_version,
    person_or_none,
    raise_if,
    require_designer,
    snapshot,
)


@transaction.atomic
def protocol_create_draft(
    *, lab: Lab, code: str, name: str, description: str = "", actor: Actor | None
) -> ProtocolTemplate:
    """A new empty draft; its version is one more than the highest of ``code`` in the lab."""
    require_designer(actor, lab.pk)
    problems: dict[str, list[str]] = {}
    defn.check_slug(problems, "code", code)
    defn.check_text(problems, "name", name, max_length=200, required=True)
    defn.check_text(problems, "description", description)
    raise_if(problems, "the protocol has invalid fields")
    lock_lab(lab)
    version = next_version(lab, code)
    previous = latest_frozen(lab, code)
    protocol = ProtocolTemplate.objects.create(
        lab=lab, code=code, name=name, description=description, version=version,
        previous_version=previous, created_by=person_or_none(actor),
    )  # fmt: skip
    audit_record(
        actor=actor,
        action="protocol.draft_created",
        obj=protocol,
        lab_id=lab.pk,
        after={"code": code, "name": name, "version": version},
    )
    return protocol


@transaction.atomic
def protocol_update(
    *, protocol: ProtocolTemplate, actor: Actor | None, **changes: Any
) -> ProtocolTemplate:
    """Change a draft's ``name`` or ``description``."""
    protocol = lock_draft(protocol, actor)
    problems: dict[str, list[str]] = {}
    for field, value in changes.items():
        if field == "name":
            defn.check_text(problems, field, value, max_length=200, required=True)
        elif field == "description":
            defn.check_text(problems, field, value)
        else:
            problems[field] = ["cannot be changed here"]
    raise_if(problems, "the protocol has invalid fields")
    before = snapshot(protocol, list(changes))
    if before == changes:
        return protocol
    for field, value in changes.items():
        setattr(protocol, field, value)
    protocol.save(update_fields=list(changes))
    audit_record(
        actor=actor,
        action="protocol.updated",
        obj=protocol,
        lab_id=protocol.lab_id,
        before=before,
        after=dict(changes),
    )
    return protocol


def protocol_validate(*, protocol: ProtocolTemplate) -> list[str]:
    """Every reason ``protocol`` may not be published, as sentences; [] when it may.

    Rules: at least one stage; unique keys; dependencies on known stages; no dependency cycle
    (the cycle is named); at least one root (several roots are allowed, see
    ``definition.definition_problems``); positive durations and non-negative windows and lead
    times; tasks repeat every ≥ 1 h or on days ≥ 0; known units; valid specs (min ≤ max, ...);
    a spec on every blocking checkpoint.
    """
    return defn.definition_problems(canonical_of(protocol))


def publish_locked(
    protocol: ProtocolTemplate,
    actor: Actor | None,
    *,
    canonical: dict[str, Any],
    retire_previous: bool,
) -> list[Change]:
    """Publish the locked draft ``protocol`` (validate, freeze, hash; retire earlier published
    versions if asked). Returns the audit changes for the caller to record with its own."""
    problems = defn.definition_problems(canonical)
    if problems:
        raise ValidationFailed(
            f"protocol '{protocol}' cannot be published: " + "; ".join(problems),
            code="protocol_invalid",
            fields={"protocol": problems},
        )
    unconfirmed = [row for row in protocol_conventions(protocol=protocol) if not row.confirmed]
    if unconfirmed:
        names = [f"'{row.name}' ({row.key})" for row in unconfirmed]
        raise ValidationFailed(
            f"protocol '{protocol}' cannot be published: the lab has not confirmed the "
            "convention-marked specs " + ", ".join(names),
            code="conventions_unconfirmed",
            fields={"conventions": names},
        )
    protocol.status = ProtocolStatus.PUBLISHED
    protocol.published_at = timezone.now()
    protocol.published_by = person_or_none(actor)
    protocol.definition_hash = defn.definition_hash(canonical)
    protocol.save(update_fields=["status", "published_at", "published_by", "definition_hash"])
    changes = [
        Change(
            action="protocol.published",
            obj=protocol,
            lab_id=protocol.lab_id,
            before={"status": ProtocolStatus.DRAFT},
            after={"status": ProtocolStatus.PUBLISHED, "definition_hash": protocol.definition_hash},
        )
    ]
    if retire_previous:
        earlier = list(
            ProtocolTemplate.objects.select_for_update()
            .filter(lab_id=protocol.lab_id, code=protocol.code, status=ProtocolStatus.PUBLISHED)
            .exclude(pk=protocol.pk)
            .order_by("pk")
        )
        for old in earlier:
            old.status = ProtocolStatus.RETIRED
            old.save(update_fields=["status"])
            changes.append(
                Change(
                    action="protocol.retired",
                    obj=old,
                    lab_id=old.lab_id,
                    before={"status": ProtocolStatus.PUBLISHED},
                    after={"status": ProtocolStatus.RETIRED},
                    reason=f"superseded by v{protocol.version}",
                )
            )
    return changes


@transaction.atomic
def protocol_draft_discard(*, protocol: ProtocolTemplate, actor: Actor | None) -> None:
    """Delete a draft and its stages (a draft is not a GMP record; the deletion is audited)."""
    protocol = lock_draft(protocol, actor)
    summary = {"code": protocol.code, "version": protocol.version, "name": protocol.name}
    audit_record(
        actor=actor,
        action="protocol.draft_discarded",
        obj=protocol,
        lab_id=protocol.lab_id,
        before=summary,
    )
    delete_stages(StageTemplate.objects.filter(protocol=protocol))
    protocol.delete()


@transaction.atomic
def protocol_new_version(*, protocol: ProtocolTemplate, actor: Actor | None) -> ProtocolTemplate:
    """A new draft copied from a published or retired version (stages, edges, tasks, specs).

    Its version is one more than the highest of the code in the lab; ``previous_version``
    points at ``protocol``. A constant number of queries whatever the protocol's size.
    """
    require_designer(actor, protocol.lab_id)
    source = lock_protocol(protocol)
    if not source.is_frozen:
        raise InvalidTransition(f"protocol '{source}' is a draft; edit it instead of copying it")
    canonical = canonical_of(source)
    lock_lab(source.lab)
    draft = ProtocolTemplate.objects.create(
        lab=source.lab, code=source.code, name=source.name, description=source.description,
        version=next_version(source.lab, source.code), previous_version=source,
        created_by=person_or_none(actor),
    )  # fmt: skip
    counts = materialize(draft, canonical)
    audit_record(
        actor=actor,
        action="protocol.version_created",
        obj=draft,
        lab_id=draft.lab_id,
        after={
            "code": draft.code,
            "version": draft.version,
            "copied_from": source.pk,
            "copied_from_version": source.version,
            **counts,
        },
    )
    return draft
