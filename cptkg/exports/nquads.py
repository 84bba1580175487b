"""N-Quads: ontology and KB as the named graphs .../graph/ontology and .../graph/kb."""
from cptkg.exports import ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    text = data.dataset.serialize(format="nquads", encoding="utf-8").decode("utf-8")
    lines = sorted(line for line in text.splitlines() if line.strip())
    return {"": ("\n".join(lines) + "\n").encode("utf-8")}


EXPORTER = Exporter("nquads", "RDF dataset as N-Quads (named graphs)", "nq", _render, rdf_format="nquads", quads=True)
