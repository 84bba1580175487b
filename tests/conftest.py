import pytest

from cptkg.knowledge.loader import default_kb


@pytest.fixture(scope="session")
def kb():
    return default_kb()


#: engines every engine-parametrised test runs on; pyDatalog is the reference
ENGINES = ("pydatalog", "clingo")


@pytest.fixture(params=ENGINES)
def each_engine(request, monkeypatch):
    """Run the test once per engine, as the default engine (CPTKG_ENGINE)."""
    monkeypatch.setenv("CPTKG_ENGINE", request.param)
    return request.param
