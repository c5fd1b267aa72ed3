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
    "PROTOCOLS": "26136c24dae8af515ba38c75cb7bb3d7df0a0214a60da8b69789afa6cdbe439f",
    "SOURCES": "4f7c8ad1f501017535cf99a7a8f5d207763a66f62b985ee680d66f0b19cfa904",
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
