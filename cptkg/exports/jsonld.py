"""JSON-LD with an inline context.

The context is written into the document from the graph's prefixes, so a
reader never has to fetch a remote context (and ours never does).

Nodes are sorted by ``@id`` and each property's values by their JSON text
(JSON-LD arrays are unordered sets unless ``@list``), keys in sorted order,
so two exports of the same KB are the same file: rdflib writes nodes and
values in the order of its in-memory sets, which changes between runs.
"""
import json

from cptkg.exports import ExportInput, Exporter
from cptkg.exports._publish import ordered
from cptkg.exports._rdf import context_from_namespaces


def _key(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def sorted_jsonld(doc, key: str = ""):
    """The document with node and value arrays sorted (``@list`` arrays kept in order).

    >>> sorted_jsonld({"@graph": [{"@id": "b"}, {"@id": "a", "p": ["y", "x"]}]})
    {'@graph': [{'@id': 'a', 'p': ['x', 'y']}, {'@id': 'b'}]}
    """
    if isinstance(doc, dict):
        return {k: sorted_jsonld(v, k) for k, v in sorted(doc.items())}
    if isinstance(doc, list):
        items = [sorted_jsonld(v) for v in doc]
        return items if key == "@list" else sorted(items, key=_key)
    return doc


def _render(data: ExportInput) -> dict[str, bytes]:
    g = ordered(data.graph)
    ctx = context_from_namespaces(g)
    doc = json.loads(g.serialize(format="json-ld", context=ctx, indent=2, encoding="utf-8"))
    return {"": (json.dumps(sorted_jsonld(doc), indent=2, ensure_ascii=False) + "\n").encode("utf-8")}


EXPORTER = Exporter("jsonld", "RDF as JSON-LD (inline context)", "jsonld", _render, rdf_format="json-ld")
