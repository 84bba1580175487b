"""N-Triples: one triple a line, sorted so that exports diff cleanly."""
from cptkg.exports import ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    text = data.graph.serialize(format="nt", encoding="utf-8").decode("utf-8")
    lines = sorted(line for line in text.splitlines() if line.strip())
    return {"": ("\n".join(lines) + "\n").encode("utf-8")}


EXPORTER = Exporter("ntriples", "RDF as N-Triples", "nt", _render, rdf_format="nt")
