"""GraphML (via networkx) for graph tools such as Gephi, yEd and Cytoscape."""
from __future__ import annotations

import io

import networkx as nx

from cptkg.exports import ExportInput, Exporter
from cptkg.exports._netx import rdf_to_networkx


def graphml_graph(g) -> nx.MultiDiGraph:
    """The RDF graph with GraphML's ids: nodes ``n0``, ``n1`` ... and edges ``e0``, ``e1`` ... in sorted order,
    each node's RDF term (N-Triples form) kept in its ``term`` data.

    GraphML declares node and edge ids as XML names (``xs:NMTOKEN``, ``ID`` in the DTD), unique in the file:
    the N-Triples form (``<https://…>``, ``"2025-01-01"^^<…>``) is neither, and an edge keyed by its predicate
    repeated ``rdf:type`` 627 times, which a tool that skips an edge whose id it has seen (Gephi's importer)
    would drop (an integrator's audit). The terms stay in the data, so the RDF graph is rebuilt as before.
    """
    nxg = rdf_to_networkx(g)
    ids = {node: f"n{i}" for i, node in enumerate(nxg.nodes)}
    out = nx.MultiDiGraph()
    for node, attrs in nxg.nodes(data=True):
        out.add_node(ids[node], term=node, **attrs)
    for i, (s, o, attrs) in enumerate(nxg.edges(data=True)):
        out.add_edge(ids[s], ids[o], key=f"e{i}", **attrs)
    return out


def _render(data: ExportInput) -> dict[str, bytes]:
    buf = io.BytesIO()
    nx.write_graphml(graphml_graph(data.graph), buf, encoding="utf-8", prettyprint=True)
    return {"": buf.getvalue()}


EXPORTER = Exporter("graphml", "the RDF graph as GraphML (nodes = terms, edges = triples)", "graphml", _render)
