"""RDF <-> networkx: every RDF term a node, every triple an edge.

Node ids are the terms in N-Triples form (``<iri>``, ``_:b0``,
``"text"@en``), so ids are unique and a literal keeps its datatype and
language; attributes say the kind and a short label for graph tools. Edges
carry the predicate IRI (and its short label). The mapping is lossless, so
:func:`networkx_to_rdf` rebuilds the same RDF graph.
"""
from __future__ import annotations

import networkx as nx
from rdflib import BNode, Graph, Literal, URIRef


def _label(g: Graph, term) -> str:
    if isinstance(term, Literal):
        return str(term)
    if isinstance(term, BNode):
        return f"_:{term}"
    try:
        return g.namespace_manager.normalizeUri(term)
    except Exception:
        return str(term)


def _node_attrs(g: Graph, term) -> dict[str, str]:
    if isinstance(term, URIRef):
        return {"kind": "iri", "value": str(term), "label": _label(g, term), "datatype": "", "lang": ""}
    if isinstance(term, BNode):
        return {"kind": "bnode", "value": str(term), "label": _label(g, term), "datatype": "", "lang": ""}
    return {"kind": "literal", "value": str(term), "label": str(term)[:80],
            "datatype": str(term.datatype or ""), "lang": term.language or ""}


def rdf_to_networkx(g: Graph) -> nx.MultiDiGraph:
    out = nx.MultiDiGraph()
    for s, p, o in sorted(g):
        for term in (s, o):
            nid = term.n3()
            if nid not in out:
                out.add_node(nid, **_node_attrs(g, term))
        out.add_edge(s.n3(), o.n3(), key=str(p), predicate=str(p), label=_label(g, p))
    return out


def term_from_attrs(attrs: dict) -> URIRef | BNode | Literal:
    kind = attrs["kind"]
    if kind == "iri":
        return URIRef(attrs["value"])
    if kind == "bnode":
        return BNode(attrs["value"])
    if kind == "literal":
        return Literal(attrs["value"], lang=attrs.get("lang") or None,
                       datatype=URIRef(attrs["datatype"]) if attrs.get("datatype") else None)
    raise ValueError(f"node kind must be iri, bnode or literal, not {kind!r}")


def networkx_to_rdf(nxg: nx.MultiDiGraph) -> Graph:
    g = Graph()
    for s, o, data in nxg.edges(data=True):
        g.add((term_from_attrs(nxg.nodes[s]), URIRef(data["predicate"]), term_from_attrs(nxg.nodes[o])))
    return g
