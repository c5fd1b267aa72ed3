"""Writes for protocol templates: design a draft, publish it, version, retire, import.

Designing needs the ``lab_admin`` role in the protocol's lab (``actor=None`` is the system:
seeding and migrations). Publishing (approval for use) and retiring are a reviewer's signed acts,
four eyes (:mod:`.change_control`); the system may publish only what it imports and only with
every convention-marked spec confirmed. A published or retired version is frozen: every edit here
raises :class:`InvalidTransition`; the admin is read-only for it; and a database trigger refuses
raw writes too (migration 0003; on SQLite, updates and inserts).

Publishing a new version leaves the earlier published version published: runs pinned to it go on
as they were, and the lab decides when to stop starting new runs on it (``protocol_retire``, or
``protocol_publish(..., retire_previous=True)``). New runs should use
``selectors.protocol_latest_published``.

The package follows the seams of the work: :mod:`.lifecycle` (a version's life: draft, freeze,
discard, new version), :mod:`.change_control` (signed approval, retirement, conventions), the
draft's design (:mod:`.stages`, :mod:`.bench_tasks`,
:mod:`.checkpoints`), :mod:`.importing` (the defaults; idempotent on the content hash), over the
shared :mod:`.guards` (role, lock, frozen) and :mod:`.content` (rows <-> canonical definition).
Callers import from here.
"""

from __future__ import annotations

from protocol_tracker.protocols.services.bench_tasks import (
    task_template_add,
    task_template_remove,
    task_template_update,
)
from protocol_tracker.protocols.services.change_control import (
    conventions_confirm,
    protocol_publish,
    protocol_retire,
)
from protocol_tracker.protocols.services.checkpoints import (
    checkpoint_template_add,
    checkpoint_template_remove,
    checkpoint_template_update,
)
from protocol_tracker.protocols.services.importing import protocol_import, protocol_import_defaults
from protocol_tracker.protocols.services.lifecycle import (
    protocol_create_draft,
    protocol_draft_discard,
    protocol_new_version,
    protocol_update,
    protocol_validate,
)
from protocol_tracker.protocols.services.stages import (
    stage_template_add,
    stage_template_remove,
    stage_template_update,
    stage_templates_reorder,
)

__all__ = [
    "checkpoint_template_add",
    "checkpoint_template_remove",
    "checkpoint_template_update",
    "conventions_confirm",
    "protocol_create_draft",
    "protocol_draft_discard",
    "protocol_import",
    "protocol_import_defaults",
    "protocol_new_version",
    "protocol_publish",
    "protocol_retire",
    "protocol_update",
    "protocol_validate",
    "stage_template_add",
    "stage_template_remove",
    "stage_template_update",
    "stage_templates_reorder",
    "task_template_add",
    "task_template_remove",
    "task_template_update",
]
