"""The SHACL shapes (KB shapes and claim shapes) as one Turtle document."""
from __future__ import annotations

from rdflib import Graph

from cptkg.exports import ExportError, ExportInput, Exporter


def shapes_graph(data: ExportInput) -> Graph:
    files = [p for p in data.pack.shape_files() + data.pack.claim_shape_files() if p.exists()]
    if not files:
        raise ExportError("no SHACL shape files in the core ontology or the family pack")
    g = Graph()
    for path in files:
        try:
            g.parse(data=path.read_text(encoding="utf-8"), format="turtle")
        except Exception as e:  # rdflib's Turtle errors have no common type
            raise ExportError(f"{path.name}: not valid Turtle: {str(e).splitlines()[0]}") from None
    return g


def _render(data: ExportInput) -> dict[str, bytes]:
    return {"": shapes_graph(data).serialize(format="turtle", encoding="utf-8")}


EXPORTER = Exporter("shacl", "SHACL shapes for the KB and for claims, as Turtle", "shapes.ttl", _render,
                      rdf_format="turtle", uses_graph=False)
