"""TriG: ontology and KB as the named graphs .../graph/ontology and .../graph/kb."""
from cptkg.exports import ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    return {"": data.dataset.serialize(format="trig", encoding="utf-8")}


EXPORTER = Exporter("trig", "RDF dataset as TriG (named graphs)", "trig", _render, rdf_format="trig", quads=True)
