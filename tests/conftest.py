"""Shared fixtures. Services (PostgreSQL, Redis, Chromium) are used for real where a test needs
them; such a test skips with the reason when the service is absent, and fails instead when
``CI=true`` so that CI can never pass by skipping."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from protocol_tracker.runs.services import run_create, run_start
from tests.builders import T0, simple_protocol_data
from tests.factories import (
    DonorFactory,
    LabFactory,
    MembershipFactory,
    UserFactory,
    protocol_from_dict,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config) -> None:
    # A Celery queue of this session's own (tests/celery_worker.py says why).
    from tests.celery_worker import use_session_queue

    use_session_queue()


def pytest_unconfigure(config) -> None:
    from tests.celery_worker import drop_session_queue

    drop_session_queue()


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a service the test needs is absent."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres(db) -> None:
    require(
        settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        "needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)",
    )


def redis_url() -> str | None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis") else None


@pytest.fixture
def redis_broker() -> str:
    url = redis_url()
    require(url is not None, "needs Redis: set CELERY_BROKER_URL=redis://… (CI does)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        require(False, f"Redis at {url} does not answer: {exc}")
    return url


@pytest.fixture
def lab(db):
    return LabFactory(name="Lab A", slug="lab-a", timezone="Asia/Shanghai")


@pytest.fixture
def other_lab(db):
    return LabFactory(name="Lab B", slug="lab-b", timezone="Europe/London")


def _member(lab, role: str, username: str):
    user = UserFactory(username=username)
    MembershipFactory(user=user, lab=lab, role=role)
    return user


@pytest.fixture
def technician(lab):
    return _member(lab, "technician", "tech-a")


@pytest.fixture
def technician2(lab):
    return _member(lab, "technician", "tech-a2")


@pytest.fixture
def reviewer(lab):
    return _member(lab, "reviewer", "reviewer-a")


@pytest.fixture
def reviewer2(lab):
    return _member(lab, "reviewer", "reviewer-a2")


@pytest.fixture
def lab_admin(lab):
    user = _member(lab, "lab_admin", "admin-a")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def viewer(lab):
    return _member(lab, "viewer", "viewer-a")


@pytest.fixture
def clinician(lab):
    return _member(lab, "clinician", "clinician-a")


@pytest.fixture
def other_technician(other_lab):
    return _member(other_lab, "technician", "tech-b")


@pytest.fixture
def other_reviewer(other_lab):
    return _member(other_lab, "reviewer", "reviewer-b")


# The workflow engine's standing objects (runs and QC tests): the simple protocol, a donor, a
# run of it planned at T0 and the same run started.


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


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A real worker process on the configured broker (embedded filesystem broker or Redis)."""
    from tests.celery_worker import celery_process

    with celery_process("worker", log_dir=tmp_path) as proc:
        yield proc


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Argon2 costs ~0.4 s a user; tests check behaviour, not hashing strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
