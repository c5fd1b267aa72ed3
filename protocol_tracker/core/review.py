"""An item of the review by exception before a batch's release, in a shape every layer can make.

The release review (``outcomes``) lists, per run, everything a QA reviewer must see: results out
of specification, corrections and retests, results entered late, stages finished outside their
window, bench tasks not done, pending tests, and what other apps add (identity, materials,
equipment). Each source is one function ``run -> Iterable[ReviewItem]`` registered in
``protocol_tracker.outcomes.selectors.exceptions.EXCEPTION_SOURCES``; it may live in its own app
(at any layer: this module is a leaf), so adding a source is one function and one line there.

An item's ``key`` is stable (the same record gives the same key on every read) and its ``facts``
are what a reviewer's acknowledgement binds: when they change (a new correction, a disposition)
the item needs acknowledging again. ``title`` and ``detail`` are for people, in the active
language; ``record`` names the record the item links to as (type, id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Record types an item may link to (the web and the API map each to its page / endpoint).
RECORD_TYPES = frozenset(
    {"run", "stage_run", "qc_result", "deviation", "task_occurrence", "checkpoint"}
)


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class ReviewItem:
    """One exception a reviewer must see (and acknowledge) before the release."""

    key: str
    kind: str
    title: str
    detail: str = ""
    record: tuple[str, int] | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    stage_run_id: int | None = None

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > 200:
            raise ValueError(f"a review item needs a key of 1-200 characters: {self.key!r}")
        if self.record is not None and self.record[0] not in RECORD_TYPES:
            raise ValueError(f"unknown record type {self.record[0]!r}")

    @property
    def content_hash(self) -> str:
        """SHA-256 of what an acknowledgement binds: the key, the kind and the facts."""
        raw = json.dumps(
            {"key": self.key, "kind": self.kind, "facts": dict(self.facts)},
            sort_keys=True,
            separators=(",", ":"),
            default=_default,
            ensure_ascii=False,
        )
        return hashlib.sha256(raw.encode()).hexdigest()


__all__ = ["RECORD_TYPES", "ReviewItem"]
