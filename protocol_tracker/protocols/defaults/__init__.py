"""Default protocol templates, as plain Python data (no Django, no database).

Everything here is transcribed from ``docs/domain-reference.md``. Every stage and
checkpoint carries a ``source`` that cites the reference's tags exactly as the reference gives
them (``[R3]``, ``[B6]``, ``GK``, ``CONV``, ...). Rules followed:

- No threshold is invented. Where the reference gives a number from a retrieved source, it is
  encoded with that source. Where the reference only gives a common convention (``CONV``), the
  convention is encoded and the source says ``CONV`` (the lab must confirm it in its own, versioned,
  specification). Where the reference says "lab-defined" and gives no number, the checkpoint is
  informational (``blocking`` False) with an empty spec.
- Nothing the reference marks UNVERIFIED (Changzheng-specific recollections: transplant site,
  dose, TIR/HbA1c values) is encoded.
- Durations come from the reference's "typical duration" ranges: ``expected_duration_hours`` is a
  point inside the range and the early/late windows span the rest of it; each stage's ``source``
  says which range it came from. Where the reference gives no range, the choice is tagged ``GK``.

Bench tasks have no ``source`` key in the schema, so their basis is tagged at the end of their
``description``.

Layout: one data package per protocol (:mod:`.e_islet`, :mod:`.sc_beta`; their stages in one
module per part of the run), the pieces both share (:mod:`.shared`: the release COA rows and
notes), the source table (:mod:`.sources`) and the builders that fill in the schema's defaults
(:mod:`.builders`). ``tests/protocols/test_defaults_pinned.py`` pins a hash of the result.

The importer (``protocols/services/importing.py``) turns :data:`PROTOCOLS` into
``ProtocolTemplate`` rows; nothing here touches the database.
"""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults import e_islet, sc_beta
from protocol_tracker.protocols.defaults.bills import with_bills_of_materials
from protocol_tracker.protocols.defaults.sources import CONV, GK, SOURCES

__all__ = ["CONV", "GK", "PROTOCOLS", "SOURCES"]

# Each with its bills of materials and stage equipment (:mod:`.bills`).
PROTOCOLS: list[dict[str, Any]] = [
    with_bills_of_materials(e_islet.PROTOCOL),
    with_bills_of_materials(sc_beta.PROTOCOL),
]
