"""RDF/XML: for tools that read nothing else.

Subjects in sorted order and namespace declarations sorted, so two exports
of the same KB are the same file (:mod:`cptkg.exports._publish`).
"""
from cptkg.exports import ExportInput, Exporter
from cptkg.exports._publish import ordered, sorted_xmlns


def _render(data: ExportInput) -> dict[str, bytes]:
    return {"": sorted_xmlns(ordered(data.graph).serialize(format="pretty-xml", encoding="utf-8"))}


EXPORTER = Exporter("rdfxml", "RDF as RDF/XML", "rdf", _render, rdf_format="xml")
