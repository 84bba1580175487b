"""RDF/XML: for tools that read nothing else."""
from cptkg.exports import ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    return {"": data.graph.serialize(format="pretty-xml", encoding="utf-8")}


EXPORTER = Exporter("rdfxml", "RDF as RDF/XML", "rdf", _render, rdf_format="xml")
