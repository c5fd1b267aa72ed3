"""Fixtures for the workflow engine tests (also used by tests/qc through its conftest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocol_tracker.runs.services import run_create, run_start
from tests.runs.factories import DonorFactory, protocol_from_dict, simple_protocol_data

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai (the lab fixture's zone)


@pytest.fixture
def protocol(lab):
    return protocol_from_dict(lab, simple_protocol_data())


@pytest.fixture
def donor(lab):
    return DonorFactory(lab=lab, code="DON-001")


@pytest.fixture
def planned_run(lab, protocol, donor, technician):
    return run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)


@pytest.fixture
def active_run(planned_run, technician):
    return run_start(run=planned_run, actor=technician)
