import pytest

from tests.builders import scenario


@pytest.fixture
def own(lab, technician):
    return scenario(lab, technician)


@pytest.fixture
def other(other_lab, other_technician):
    return scenario(other_lab, other_technician)
