import pytest

from tests.web.factories import scenario

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 costs ~0.4 s per user; these tests create many users and test no hashing."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def own(lab, technician):
    return scenario(lab, technician)


@pytest.fixture
def other(other_lab, other_technician):
    return scenario(other_lab, other_technician)
