"""Rooms of one concern (issue 24): the KB object apart from its loading and caching,
the edit tables in one wing (cptkg/knowledge/edits/), and no circle of imports between them.

Before: ``knowledge/edit_files.py`` fetched the cache folder from the loader at call time
while the loader imported ``edit_files`` at its top (and ``io/edit_tables.py`` reached the
loader through ``edit_files``); ``KnowledgeBase.__getattr__`` re-parsed its own graphs."""
from __future__ import annotations

import ast
import json
import threading
from pathlib import Path

import networkx as nx
import pytest

from cptkg.knowledge import kb as kb_module
from cptkg.knowledge import kb_cache, loader
from cptkg.knowledge.loader import load_kb

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "cptkg" / "knowledge"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _knowledge_imports():
    """(module, module it imports) for every import of cptkg/knowledge/, at the top or inside a function."""
    modules = {_module(p): p for p in KNOWLEDGE.rglob("*.py")}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
                targets = subs or [node.module]
            else:
                continue
            yield from ((name, t) for t in targets if t in modules and t != name)


def test_the_knowledge_modules_import_one_another_without_a_circle():
    g = nx.DiGraph(_knowledge_imports())
    assert nx.is_directed_acyclic_graph(g), list(nx.simple_cycles(g))


def test_the_edit_table_wing_never_imports_the_loader():
    bad = [(m, t) for m, t in _knowledge_imports()
           if m.startswith("cptkg.knowledge.edits") and t == "cptkg.knowledge.loader"]
    assert not bad, bad


def test_the_loader_still_gives_the_names_other_modules_import_from_it():
    from cptkg.knowledge.edits import files

    assert loader.KnowledgeBase is kb_module.KnowledgeBase and loader.Source is kb_module.Source
    assert loader.local is kb_module.local and loader.NAMESPACES is kb_module.NAMESPACES
    assert loader.cache_dir is kb_cache.cache_dir and loader.content_hash is kb_cache.content_hash
    assert files.cache_file("x").parent == kb_cache.cache_dir(), "edit tables are cached beside the KB cache"


def test_the_kb_object_has_no_attribute_hook_and_a_misspelt_attribute_parses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path))
    load_kb()
    kb = load_kb()  # from the KB cache
    assert "__getattr__" not in vars(kb_module.KnowledgeBase)
    with pytest.raises(AttributeError):
        kb.grpah  # noqa: B018
    assert not kb.graphs_parsed


def test_a_kb_from_the_cache_parses_its_graphs_once_when_many_threads_ask(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path))
    first = load_kb()
    kb = load_kb()
    assert not kb.graphs_parsed
    calls = []
    parse = kb.parse_graphs

    def counted():
        calls.append(1)
        return parse()

    kb.parse_graphs = counted
    sizes = []
    threads = [threading.Thread(target=lambda: sizes.append(len(kb.graph))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and sizes == [len(first.graph)] * 6
    assert kb.ontology_graph is kb.ontology_graph and len(kb.kb_graph) == len(first.kb_graph)


@pytest.mark.parametrize("damage", ["facts", "sources", "clauses"])
def test_a_kb_cache_of_valid_json_but_the_wrong_shape_is_a_cache_miss(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path))
    want = load_kb()
    (cached,) = tmp_path.glob(f"{kb_cache.KB_CACHE_VERSION}-*.json")
    data = json.loads(cached.read_text(encoding="utf-8"))
    data[damage] = ["not", "a", "mapping"] if damage != "sources" else [{"id": "x", "unknown": 1}]
    cached.write_text(json.dumps(data), encoding="utf-8")
    kb = load_kb()
    assert kb.graphs_parsed, "read again from the Turtle"
    # blank nodes (axiom annotations) get new ids at each parse: the facts are compared by count
    assert {p: len(r) for p, r in kb.facts.items()} == {p: len(r) for p, r in want.facts.items()}
    assert kb.version == want.version and kb.codes() == want.codes()
