"""GraphML (via networkx) for graph tools such as Gephi, yEd and Cytoscape."""
from __future__ import annotations

import io

import networkx as nx

from cptkg.exports import ExportInput, Exporter
from cptkg.exports._netx import rdf_to_networkx


def _render(data: ExportInput) -> dict[str, bytes]:
    buf = io.BytesIO()
    nx.write_graphml(rdf_to_networkx(data.graph), buf, encoding="utf-8", prettyprint=True)
    return {"": buf.getvalue()}


EXPORTER = Exporter("graphml", "the RDF graph as GraphML (nodes = terms, edges = triples)", "graphml", _render)
