"""Specs that rest on a common convention rather than a cited source (marked ``CONV``).

The default protocols cite a source for each criterion; where no source gives one they encode a
common convention and mark its ``source`` ``CONV`` (``protocols.defaults.sources.CONV``: "common
convention; lab must confirm"). Such a spec must not gate a patient's batch until the lab has
confirmed it with a reviewer's signature. A confirmation binds the convention's content
(:func:`convention_hash`): a spec changed after it was confirmed needs confirming again, and an
unchanged one stays confirmed in the protocol's later versions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from protocol_tracker.protocols.definition.rules import spec_is_empty

CONV_MARK = re.compile(r"\bCONV\b")
# What a confirmation covers: the criterion and where it is said to come from.
CONVENTION_FIELDS = ("key", "name", "unit", "value_type", "spec", "blocking", "source")


def is_convention(checkpoint: Mapping[str, Any]) -> bool:
    """A checkpoint (canonical definition) whose spec is marked as a convention."""
    return bool(CONV_MARK.search(checkpoint.get("source") or "")) and not spec_is_empty(
        checkpoint.get("spec") or {}
    )


def convention_content(checkpoint: Mapping[str, Any], stage_key: str) -> dict[str, Any]:
    return {"stage": stage_key, **{f: checkpoint.get(f) for f in CONVENTION_FIELDS}}


def convention_hash(checkpoint: Mapping[str, Any], stage_key: str) -> str:
    raw = json.dumps(
        convention_content(checkpoint, stage_key),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def conventions_of(canonical: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(stage key, checkpoint) for every convention-marked spec of a canonical definition."""
    for stage in canonical["stages"]:
        for checkpoint in stage["checkpoints"]:
            if is_convention(checkpoint):
                yield stage["key"], checkpoint
