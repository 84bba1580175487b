import pytest

from cptkg.kb import default_kb


@pytest.fixture(scope="session")
def kb():
    return default_kb()
