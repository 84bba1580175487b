"""Turtle: the KB's own format, for people and for most RDF tools."""
from cptkg.exports import ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    return {"": data.graph.serialize(format="turtle", encoding="utf-8")}


EXPORTER = Exporter("turtle", "RDF as Turtle", "ttl", _render, rdf_format="turtle")
