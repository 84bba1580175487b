"""JSON-LD with an inline context.

The context is written into the document from the graph's prefixes, so a
reader never has to fetch a remote context (and ours never does).
"""
from cptkg.exports import ExportInput, Exporter
from cptkg.exports._rdf import context_from_namespaces


def _render(data: ExportInput) -> dict[str, bytes]:
    g = data.graph
    ctx = context_from_namespaces(g)
    return {"": g.serialize(format="json-ld", context=ctx, indent=2, encoding="utf-8")}


EXPORTER = Exporter("jsonld", "RDF as JSON-LD (inline context)", "jsonld", _render, rdf_format="json-ld")
