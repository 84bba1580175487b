"""The KB an integrator exports validates against the core's shapes once the ontology is merged
into the data graph (docs/interop.md, Validating the KB alone; issue 26, finding 5)."""
from __future__ import annotations

import pyshacl
from rdflib import Graph

from cptkg import exports
from cptkg.knowledge.pack import CORE_ONTOLOGY


def _export(graph: str) -> Graph:
    return Graph().parse(data=exports.export("turtle", graph)[""], format="turtle")


def test_the_exported_kb_and_ontology_merged_conform_to_the_kb_shapes():
    shapes = Graph().parse(CORE_ONTOLOGY / "shapes.ttl")
    conforms, _, report = pyshacl.validate(_export("kb") + _export("ontology"), shacl_graph=shapes,
                                           inference="none", advanced=True, allow_warnings=True)
    assert conforms, report[:2000]


def test_the_kb_alone_without_the_ontology_does_not_conform_which_is_why_the_docs_merge_them():
    shapes = Graph().parse(CORE_ONTOLOGY / "shapes.ttl")
    conforms, _, _ = pyshacl.validate(_export("kb"), shacl_graph=shapes, inference="none", advanced=True,
                                      allow_warnings=True)
    assert not conforms


def test_a_code_with_a_second_descriptor_or_definition_does_not_conform():
    """SKOS allows one prefLabel per language and a code has one descriptor: the shapes accepted a second
    prefLabel and a second definition on 62370 (an integrator's audit), and lint passed such a pack."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import SKOS

    shapes = Graph().parse(CORE_ONTOLOGY / "shapes.ttl")
    for prop in (SKOS.prefLabel, SKOS.definition):
        data = _export("kb") + _export("ontology")
        data.add((URIRef("https://w3id.org/cptkg/kb/62370"), prop, Literal("Another text", lang="en")))
        conforms, _, report = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=True,
                                               allow_warnings=True)
        assert not conforms and "62370" in report, prop
