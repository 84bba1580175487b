"""SHACL validation runs when the KB's content changes, not at every start,
and always in ``cptkg lint``; the remembered pass is a JSON file that is
written atomically and may be deleted."""
import json
import shutil

import pytest
from click.testing import CliRunner

from cptkg.knowledge import loader
from cptkg.knowledge.loader import KBLoadError, load_kb
from cptkg.knowledge.pack import DEFAULT_PACK as PACK


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(d))
    return d


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = loader._validate

    def validate(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(loader, "_validate", validate)
    return calls


def test_an_unchanged_kb_is_validated_once_and_reused(cache, counted):
    a = load_kb()
    b = load_kb()
    assert len(counted) == 1
    assert a.version == b.version and a.codes() == b.codes()
    assert {p: len(r) for p, r in a.facts.items()} == {p: len(r) for p, r in b.facts.items()}
    markers = list(cache.iterdir())
    assert len(markers) == 1 and markers[0].name.startswith("shacl-pass-")
    data = json.loads(markers[0].read_text())
    assert data["conforms"] is True and markers[0].name == f"shacl-pass-{data['key']}.json"


def test_a_deleted_cache_only_costs_one_more_validation(cache, counted):
    load_kb()
    shutil.rmtree(cache)
    load_kb()
    assert len(counted) == 2


def test_an_edited_kb_is_validated_again_and_refused_when_broken(cache, counted, tmp_path):
    pack = tmp_path / "pump"
    shutil.copytree(PACK, pack)
    load_kb(pack)
    f = pack / "kb" / "codes.ttl"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("dct:source src:g6-1 ;", ""), encoding="utf-8")
    with pytest.raises(KBLoadError, match="SHACL"):
        load_kb(pack)
    assert len(counted) == 2
    with pytest.raises(KBLoadError, match="SHACL"):  # a refusal is never remembered as a pass
        load_kb(pack)
    assert len(counted) == 3


def test_a_marker_that_is_not_a_pass_is_not_trusted(cache, counted):
    load_kb()
    (marker,) = cache.iterdir()
    marker.write_text('{"key": "something else", "conforms": true}')
    load_kb()
    marker.write_text("not json")
    load_kb()
    assert len(counted) == 3
    assert not [p for p in cache.iterdir() if p.suffix == ".tmp"]


def test_lint_validates_every_time(cache, counted):
    from cptkg.faces.cli import main

    for _ in range(2):
        r = CliRunner().invoke(main, ["lint"])
        assert r.exit_code == 0, r.output
    assert len(counted) == 2
