"""A run of ``web_definition`` in each lab with an identity checkpoint on its first stage (the
scenario the web and API tests share)."""

from __future__ import annotations

import pytest

from tests.builders.custody_world import custody_world


@pytest.fixture
def cw(lab, technician):
    return custody_world(lab, technician)


@pytest.fixture
def other_cw(other_lab, other_technician):
    return custody_world(other_lab, other_technician)
