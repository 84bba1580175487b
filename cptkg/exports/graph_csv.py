"""Node and edge CSV files (``nodes.csv``, ``edges.csv``) for graph tools.

nodes.csv: id, kind, label, value, datatype, lang (id is the N-Triples form
of the term); edges.csv: source, target, predicate, label. Written from the
same networkx graph as the GraphML export. Cells a spreadsheet would run as a
formula get a leading ' (cptkg.spreadsheet).
"""
from __future__ import annotations

import io

from cptkg.exports import ExportInput, Exporter
from cptkg.exports._netx import rdf_to_networkx
from cptkg import spreadsheet

NODE_COLUMNS = ("id", "kind", "label", "value", "datatype", "lang")
EDGE_COLUMNS = ("source", "target", "predicate", "label")


def _render(data: ExportInput) -> dict[str, bytes]:
    nxg = rdf_to_networkx(data.graph)
    nodes, edges = io.StringIO(), io.StringIO()
    nw = spreadsheet.writer(nodes, lineterminator="\n")
    nw.writerow(NODE_COLUMNS)
    for nid, attrs in nxg.nodes(data=True):
        nw.writerow([nid] + [attrs[c] for c in NODE_COLUMNS[1:]])
    ew = spreadsheet.writer(edges, lineterminator="\n")
    ew.writerow(EDGE_COLUMNS)
    for s, o, attrs in nxg.edges(data=True):
        ew.writerow([s, o, attrs["predicate"], attrs["label"]])
    return {"nodes.csv": nodes.getvalue().encode("utf-8"), "edges.csv": edges.getvalue().encode("utf-8")}


EXPORTER = Exporter("csv", "node and edge CSV files (nodes.csv, edges.csv)", "csv", _render, several_files=True)
