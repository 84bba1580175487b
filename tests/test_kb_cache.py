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
    markers = [m for m in cache.iterdir() if m.name.startswith("shacl-pass-")]
    assert len(markers) == 1
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
    def without_kb_cache():  # the KB cache is written only after a pass; here the marker alone is tested
        for f in cache.glob("kb-cache-*.json"):
            f.unlink()

    load_kb()
    (marker,) = cache.glob("shacl-pass-*")
    marker.write_text('{"key": "something else", "conforms": true}')
    without_kb_cache()
    load_kb()
    marker.write_text("not json")
    without_kb_cache()
    load_kb()
    assert len(counted) == 3
    assert not [p for p in cache.iterdir() if p.suffix == ".tmp"]


def test_lint_validates_every_time(cache, counted):
    from cptkg.faces.cli import main

    for _ in range(2):
        r = CliRunner().invoke(main, ["lint"])
        assert r.exit_code == 0, r.output
    assert len(counted) == 2


def test_an_unchanged_pack_is_read_from_the_kb_cache_with_the_same_facts_rules_and_verdicts(cache):
    import json as _json

    import cptkg

    a = load_kb()
    b = load_kb()
    (kb_file,) = cache.glob("kb-cache-*.json")
    assert a.graphs_parsed and not b.graphs_parsed, "the cached KB parses its graphs only when asked"
    assert a.facts == b.facts and a._fact_sources == b._fact_sources and a.sources == b.sources
    assert [str(r) for r in a.check_program.rules] == [str(r) for r in b.check_program.rules]
    claim = _json.loads((PACK.parent.parent / "examples" / "claim-rejected.json").read_text())
    assert cptkg.check(claim, kb=a) == cptkg.check(claim, kb=b)
    assert cptkg.explain(claim, kb=a) == cptkg.explain(claim, kb=b)
    assert len(b.graph) == len(a.graph), "asked for, the graphs are the pack's"
    assert b.graphs_parsed and len(b.ontology_graph) == len(a.ontology_graph) and len(b.kb_graph) == len(a.kb_graph)


def test_a_damaged_or_foreign_kb_cache_is_a_cache_miss(cache):
    load_kb()
    (kb_file,) = cache.glob("kb-cache-*.json")
    kb_file.write_text("{not json")
    kb = load_kb()
    assert kb.graphs_parsed, "parsed again"
    data = json.loads(kb_file.read_text())
    data["key"] = "another"
    kb_file.write_text(json.dumps(data))
    assert load_kb().graphs_parsed


def test_an_edited_pack_is_not_read_from_the_kb_cache(cache, tmp_path):
    pack = tmp_path / "pump"
    shutil.copytree(PACK, pack)
    a = load_kb(pack)
    f = pack / "rules" / "claim.dl"
    f.write_text(f.read_text(encoding="utf-8").replace("% title: Performer's role", "% title: Role of the performer", 1),
                 encoding="utf-8")
    b = load_kb(pack)
    assert b.graphs_parsed and b.rule_titles["role.class"] == "Role of the performer" != a.rule_titles["role.class"]
