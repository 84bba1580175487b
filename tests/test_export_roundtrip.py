"""Every RDF export is read back by pyoxigraph (not the writer, rdflib) and
compared with rdflib's graph of the same part as published (the authored
graph plus the SKOS and OWL declarations of cptkg.exports._publish, which
test_export_skos pins): isomorphic, blank nodes and all. Each format also
shows the comparison can fail on a damaged export."""
from __future__ import annotations

import pyoxigraph as ox
import pytest
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic, to_isomorphic
from rdflib.namespace import RDF, XSD

from cptkg import exports as exporters
from cptkg.exports import ExportInput
from cptkg.exports.owl import exported as owl_exported
from cptkg.exports._publish import published
from cptkg.knowledge.datasets import KB_GRAPH, ONTOLOGY_GRAPH, load_graphs as _authored

OX_FORMAT = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "xml": ox.RdfFormat.RDF_XML,
    "json-ld": ox.RdfFormat.JSON_LD,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}
GRAPH_EXPORTS = [n for n, e in exporters.formats().items() if e.rdf_format and not e.quads and e.uses_graph]
QUAD_EXPORTS = [n for n, e in exporters.formats().items() if e.quads]


def _term(t):
    if isinstance(t, ox.NamedNode):
        return URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return BNode(t.value)
    if isinstance(t, ox.Literal):
        if t.language:
            return Literal(t.value, lang=t.language)
        if t.datatype.value == str(XSD.string):
            return Literal(t.value)
        return Literal(t.value, datatype=URIRef(t.datatype.value))
    raise TypeError(t)


def oxigraph_quads(data: bytes, fmt: str) -> dict[URIRef | None, Graph]:
    """Parse with pyoxigraph; graphs by name (None = default graph)."""
    graphs: dict[URIRef | None, Graph] = {}
    for q in ox.parse(data, format=OX_FORMAT[fmt]):
        name = None if isinstance(q.graph_name, ox.DefaultGraph) else URIRef(q.graph_name.value)
        graphs.setdefault(name, Graph()).add((_term(q.subject), _term(q.predicate), _term(q.object)))
    return graphs


def _norm(g: Graph) -> Graph:
    """rdflib keeps plain and xsd:string literals apart; RDF 1.1 does not."""
    out = Graph()
    for s, p, o in g:
        if isinstance(o, Literal) and o.datatype == XSD.string and not o.language:
            o = Literal(str(o))
        out.add((s, p, o))
    return out


def same_graph(a: Graph, b: Graph) -> bool:
    return isomorphic(to_isomorphic(_norm(a)), to_isomorphic(_norm(b)))


def expected_graph(name: str, which: str) -> Graph:
    data = ExportInput(graphs=_authored(), which=which)
    return owl_exported(data) if name == "owl" else data.graph


@pytest.mark.parametrize("which", ["both", "ontology", "kb"])
@pytest.mark.parametrize("name", GRAPH_EXPORTS)
def test_rdf_export_reads_back_isomorphic_in_pyoxigraph(name, which):
    exporter = exporters.get(name)
    out = exporters.export(name, which)[""]
    graphs = oxigraph_quads(out, exporter.rdf_format)
    assert set(graphs) <= {None}, "a triples format must not produce named graphs"
    expected = expected_graph(name, which)
    assert len(expected) > 0 or which == "kb"
    assert same_graph(graphs.get(None, Graph()), expected)


@pytest.mark.parametrize("which", ["both", "ontology", "kb"])
@pytest.mark.parametrize("name", QUAD_EXPORTS)
def test_dataset_export_keeps_ontology_and_kb_as_named_graphs(name, which):
    exporter = exporters.get(name)
    out = exporters.export(name, which)[""]
    graphs = oxigraph_quads(out, exporter.rdf_format)
    g = published(_authored())
    want = {}
    if which in ("both", "ontology"):
        want[ONTOLOGY_GRAPH] = g.ontology
    if which in ("both", "kb") and len(g.kb):
        want[KB_GRAPH] = g.kb
    assert set(graphs) == set(want)
    for name_, graph in want.items():
        assert same_graph(graphs[name_], graph), name_


@pytest.mark.parametrize("name", GRAPH_EXPORTS + QUAD_EXPORTS)
def test_rdflib_reads_its_export_back_too(name):
    exporter = exporters.get(name)
    out = exporters.export(name, "both")[""]
    if exporter.quads:
        ds = Dataset()
        ds.parse(data=out, format=exporter.rdf_format)
        assert same_graph(ds.graph(ONTOLOGY_GRAPH), published(_authored()).ontology)
    else:
        g = Graph().parse(data=out, format=exporter.rdf_format)
        assert same_graph(g, expected_graph(name, "both"))


@pytest.mark.parametrize("name", GRAPH_EXPORTS + QUAD_EXPORTS)
def test_damaged_export_is_caught_by_the_round_trip(name):
    """A truncated file either fails to parse or no longer matches: the check can fail."""
    exporter = exporters.get(name)
    out = exporters.export(name, "ontology")[""]
    damaged = out[: len(out) * 2 // 3]
    try:
        graphs = oxigraph_quads(damaged, exporter.rdf_format)
    except SyntaxError:
        return
    got = graphs.get(ONTOLOGY_GRAPH if exporter.quads else None, Graph())
    assert not same_graph(got, expected_graph(name, "ontology"))


def test_changed_triple_is_not_isomorphic():
    g = published(_authored()).ontology
    changed = Graph()
    changed += g
    s, p, o = next(iter(changed.triples((None, RDF.type, None))))
    changed.remove((s, p, o))
    changed.add((s, p, URIRef("https://example.org/Other")))
    assert not same_graph(g, changed)


def test_jsonld_export_has_inline_context_only():
    import json

    doc = json.loads(exporters.export("jsonld", "both")[""])
    ctx = doc["@context"]
    assert isinstance(ctx, dict) and all(isinstance(v, str) for v in ctx.values())
    assert "ont" in ctx


def test_unknown_graph_part_is_refused():
    with pytest.raises(exporters.ExportError, match="--graph"):
        exporters.export("turtle", "everything")


def test_unknown_format_is_refused_naming_the_known_ones():
    with pytest.raises(exporters.ExportError, match="turtle"):
        exporters.get("excel")
