"""The ontology and the KB as rdflib graphs, for exporters and queries.

Exporters and ``cptkg query`` need the two graphs apart (TriG and N-Quads
keep them as named graphs), so this module hands out both, as the engine's
cached loader (``cptkg.knowledge.loader.default_kb``) read and validated them, with the
prefixes of the Turtle files bound again for readable exports.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rdflib import Dataset, Graph, URIRef

from cptkg.knowledge.pack import FamilyPack

GRAPH_BASE = "https://w3id.org/cptkg/graph/"
ONTOLOGY_GRAPH = URIRef(GRAPH_BASE + "ontology")
KB_GRAPH = URIRef(GRAPH_BASE + "kb")
GRAPH_CHOICES = ("both", "ontology", "kb")


@dataclass(frozen=True)
class Graphs:
    """The ontology and KB graphs, kept apart."""

    ontology: Graph
    kb: Graph
    pack: FamilyPack | None = None
    #: the loaded KB's version (check's ``kb_version``): what the exports state as theirs
    version: str | None = None

    def select(self, which: str = "both") -> Graph:
        """One graph holding the chosen part(s), with the prefixes of both."""
        if which not in GRAPH_CHOICES:
            raise ValueError(f"--graph must be one of {', '.join(GRAPH_CHOICES)}, not {which!r}")
        out = Graph(bind_namespaces="core")
        if which in ("both", "ontology"):
            out += self.ontology
        if which in ("both", "kb"):
            out += self.kb
        _bind_used(out, self.pack)
        return out

    def dataset(self, which: str = "both") -> Dataset:
        """A dataset with the ontology and the KB as named graphs."""
        if which not in GRAPH_CHOICES:
            raise ValueError(f"--graph must be one of {', '.join(GRAPH_CHOICES)}, not {which!r}")
        ds = Dataset(default_union=False)
        if which in ("both", "ontology"):
            g = ds.graph(ONTOLOGY_GRAPH)
            g += self.ontology
        if which in ("both", "kb"):
            g = ds.graph(KB_GRAPH)
            g += self.kb
        _bind_used(ds, self.pack)
        return ds


_PREFIX_RE = re.compile(r"^\s*@prefix\s+([A-Za-z][\w-]*)?:\s*<([^>]+)>", re.M)


@lru_cache(maxsize=8)
def file_prefixes(pack: FamilyPack | None) -> dict[str, str]:
    """The prefixes the ontology and KB Turtle files declare (the loader drops them)."""
    out: dict[str, str] = {}
    for path in (pack.ontology_files() + pack.kb_files() if pack else []):
        for prefix, ns in _PREFIX_RE.findall(path.read_text(encoding="utf-8")):
            out.setdefault(prefix, ns)
    return out


def _bind_used(target: Graph, pack: FamilyPack | None) -> None:
    """Bind the Turtle files' prefixes that the target's terms actually use.

    rdflib pre-binds dozens of vocabularies; listing them all would clutter
    every export (and the JSON-LD context) with unused prefixes.
    """
    used: set[str] = set()
    for quad in target.quads((None, None, None, None)) if isinstance(target, Dataset) else (
        (s, p, o, None) for s, p, o in target
    ):
        for term in quad[:3]:
            if isinstance(term, URIRef):
                used.add(str(term))
    for prefix, ns in file_prefixes(pack).items():
        if prefix and any(u.startswith(ns) for u in used):
            target.bind(prefix, ns, override=True, replace=True)


def load_graphs(kb=None) -> Graphs:
    """Ontology and KB graphs of ``kb``, the knowledge base the face chose (loaded and SHACL-validated).

    Raises the loader's ``KBLoadError`` for a KB that does not load.
    """
    from cptkg.knowledge.loader import chosen_kb

    kb = chosen_kb(kb, "reading the knowledge graph")
    cached = kb.cache.get("graphs")
    if cached is None:
        cached = kb.cache["graphs"] = Graphs(ontology=kb.ontology_graph, kb=kb.kb_graph, pack=kb.pack,
                                                   version=kb.version)
    return cached
