"""TriG: ontology and KB as the named graphs .../graph/ontology and .../graph/kb."""
from rdflib import Dataset

from cptkg.exports import ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    """Each named graph serialized on its own, in the order of their names, under one set of prefixes.

    rdflib writes a dataset's graphs in its store's order, which follows
    string hashing: the ontology block came first in some runs and the KB
    block in others, so two exports of one pack differed byte for byte.
    """
    ds = data.dataset
    prefixes: set[str] = set()
    blocks: list[str] = []
    for graph in sorted(ds.graphs(), key=lambda g: str(g.identifier)):
        if not len(graph):
            continue  # the empty default graph
        one = Dataset(default_union=False)
        for prefix, ns in ds.namespaces():
            one.bind(prefix, ns, override=True, replace=True)
        one.graph(graph.identifier).__iadd__(graph)
        lines = one.serialize(format="trig").splitlines()
        prefixes.update(line for line in lines if line.startswith("@prefix"))
        blocks.append("\n".join(line for line in lines if not line.startswith("@prefix")).strip("\n"))
    text = "\n".join(sorted(prefixes)) + "\n\n" + "\n\n".join(blocks) + "\n"
    return {"": text.encode("utf-8")}


EXPORTER = Exporter("trig", "RDF dataset as TriG (named graphs)", "trig", _render, rdf_format="trig", quads=True)
