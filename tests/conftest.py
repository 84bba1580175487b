import pytest

from cptkg.knowledge.loader import default_kb


@pytest.fixture(scope="session")
def kb():
    return default_kb()
