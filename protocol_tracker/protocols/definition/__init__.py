"""Protocol definitions as plain data: field rules, the stage graph, canonical form and hash.

A *definition* is the schema of :mod:`protocol_tracker.protocols.defaults` (durations in hours).
The same rules check a definition before it is imported, a draft before it is published and each
field a designer edits, so a protocol cannot pass one path and fail another. Nothing here touches
the database.

:mod:`.canonical` is the shape (keys, canonical form, hash), :mod:`.graph` the stage graph and
:mod:`.rules` the validation; this package re-exports their public names.
"""

from __future__ import annotations

from protocol_tracker.protocols.definition.canonical import (
    CHECKPOINT_KEYS,
    CONSENT_SCOPES,
    EQUIPMENT_KEY,
    EQUIPMENT_LINE_KEYS,
    HOUR,
    I18N_FIELDS,
    I18N_KEY,
    I18N_LANGUAGES,
    MATERIAL_LINE_KEYS,
    MATERIALS_KEY,
    OPTIONAL_CHECKPOINT_KEYS,
    PROTOCOL_KEYS,
    STAGE_KEYS,
    TASK_KEYS,
    DefinitionError,
    Problems,
    canonical_definition,
    canonical_lines,
    definition_hash,
    hours_to_timedelta,
    timedelta_to_hours,
)
from protocol_tracker.protocols.definition.graph import find_cycle, topological_order
from protocol_tracker.protocols.definition.rules import (
    SPEC_LIMIT_KEYS,
    check_slug,
    check_text,
    checkpoint_problems,
    definition_problems,
    equipment_line_problems,
    material_line_problems,
    spec_is_empty,
    stage_problems,
    task_problems,
)

__all__ = [
    "CHECKPOINT_KEYS",
    "CONSENT_SCOPES",
    "EQUIPMENT_KEY",
    "EQUIPMENT_LINE_KEYS",
    "HOUR",
    "I18N_FIELDS",
    "I18N_KEY",
    "I18N_LANGUAGES",
    "MATERIALS_KEY",
    "MATERIAL_LINE_KEYS",
    "OPTIONAL_CHECKPOINT_KEYS",
    "PROTOCOL_KEYS",
    "SPEC_LIMIT_KEYS",
    "STAGE_KEYS",
    "TASK_KEYS",
    "DefinitionError",
    "Problems",
    "canonical_definition",
    "canonical_lines",
    "check_slug",
    "check_text",
    "checkpoint_problems",
    "definition_hash",
    "definition_problems",
    "equipment_line_problems",
    "find_cycle",
    "hours_to_timedelta",
    "material_line_problems",
    "spec_is_empty",
    "stage_problems",
    "task_problems",
    "timedelta_to_hours",
    "topological_order",
]
