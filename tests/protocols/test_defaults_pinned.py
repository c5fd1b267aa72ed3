"""The default protocols' data is pinned: an accidental change to it fails here, loudly.

The hashes are of ``json.dumps(value, sort_keys=True, default=str)``. When the defaults are
corrected on purpose, update the hash here deliberately, in the same commit, and say in the commit
message what changed and on what source (the reference section or the ``[tag]`` cited). A lab
that imported the old defaults gets the corrected ones as a new protocol version
(``protocol_import`` is idempotent on the canonical hash), so the change is visible there too.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from protocol_tracker.protocols import defaults

PINNED = {
    "PROTOCOLS": "301fc00a7c4f0f65522a28c359b543eb21da4a30955f30e09d70d32914b0107e",
    "SOURCES": "33462607b1231461cce31deac1654e41eb82d07acde2da9dddfc5d34054525b0",
    "CONV": "5099026738fa173d422b039cc22c3099efcdc4aca01ba354d2ba2e6506269316",
    "GK": "430b9c778b5638893636cebd5143c796cde623a382187411d11234f4c1d73331",
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_default_protocol_data_is_unchanged(name):
    dump = json.dumps(getattr(defaults, name), sort_keys=True, default=str)

    digest = hashlib.sha256(dump.encode()).hexdigest()

    assert digest == PINNED[name], (
        f"defaults.{name} changed. If the change is deliberate, set PINNED[{name!r}] to "
        f"{digest!r} and name the source of the correction in the commit message."
    )


def test_every_public_name_of_the_defaults_is_pinned():
    assert sorted(defaults.__all__) == sorted(PINNED)
