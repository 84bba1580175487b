"""The exported graph says in SKOS and OWL what the KB says through the
ontology (issue 26): tools that do no RDFS reasoning (skosify, Skosmos,
owlready2) find the concept schemes, their concepts and top concepts, the
code groups as collections, and the individuals. The export is the authored
graph plus these declarations, nothing removed."""
from __future__ import annotations

import logging

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import graph_diff
from rdflib.namespace import OWL, RDF, SKOS

from cptkg import exports as exporters
from cptkg.exports._publish import VALUE_CLASSES, published, scheme_of
from cptkg.knowledge.datasets import load_graphs
from cptkg.knowledge.loader import default_kb
from cptkg.knowledge.namespace import KB, ONT

PACK = "https://w3id.org/cptkg/ontology#"  # the pump pack's terms, outside the core's closed namespace


@pytest.fixture(scope="module")
def exported() -> Graph:
    return Graph().parse(data=exporters.export("turtle", "both", graphs=load_graphs(default_kb()))[""], format="turtle")


def test_export_is_the_authored_graph_plus_declarations_only(exported):
    authored = load_graphs().select("both")
    assert len(exported) > len(authored)
    # every authored triple is still there (blank nodes compared through rdflib's canonical labels)
    _, removed, extra = graph_diff(authored, exported)
    assert len(removed) == 0
    allowed = {RDF.type, SKOS.inScheme, SKOS.topConceptOf, SKOS.hasTopConcept, SKOS.prefLabel, URIRef(
        "http://www.w3.org/2000/01/rdf-schema#seeAlso")}
    assert {p for _, p, _ in extra} <= allowed


def test_codes_are_concepts_and_top_concepts_of_declared_family_schemes(exported):
    codes = set(exported.subjects(RDF.type, ONT.BillingCode))
    assert len(codes) >= 17
    for code in codes:
        assert (code, RDF.type, SKOS.Concept) in exported
        scheme = exported.value(code, SKOS.inScheme)
        assert (scheme, RDF.type, SKOS.ConceptScheme) in exported
        assert (code, SKOS.topConceptOf, scheme) in exported and (scheme, SKOS.hasTopConcept, code) in exported
    assert (KB["family-pump"], SKOS.hasTopConcept, KB["62370"]) in exported


def test_value_terms_are_concepts_of_one_scheme_per_class_and_groups_are_collections(exported):
    for cls in VALUE_CLASSES:
        terms = set(exported.subjects(RDF.type, cls))
        assert terms, cls
        scheme = scheme_of(cls)
        assert (scheme, RDF.type, SKOS.ConceptScheme) in exported and exported.value(scheme, SKOS.prefLabel)
        assert terms == set(exported.objects(scheme, SKOS.hasTopConcept))
        assert all((t, RDF.type, SKOS.Concept) in exported and exported.value(t, SKOS.prefLabel) for t in terms)
    groups = set(exported.subjects(RDF.type, ONT.CodeGroup))
    assert groups and all((g, RDF.type, SKOS.Collection) in exported for g in groups)
    # SKOS S37: a collection is never a concept
    assert not any((g, RDF.type, SKOS.Concept) in exported for g in groups)


def test_individuals_are_declared_and_classes_are_not(exported):
    named = set(exported.subjects(RDF.type, OWL.NamedIndividual))
    assert {KB["62360"], KB["group-implant"], KB["family-pump"], URIRef(PACK + "Refill"), URIRef(PACK + "Intrathecal")} <= named
    assert not named & set(exported.subjects(RDF.type, OWL.Class))


def test_skosify_without_inference_finds_every_scheme_and_concept(exported, caplog):
    skosify = pytest.importorskip("skosify")
    concepts = set(exported.subjects(RDF.type, SKOS.Concept))
    schemes = set(exported.subjects(RDF.type, SKOS.ConceptScheme))
    with caplog.at_level(logging.WARNING):
        voc = skosify.skosify(exported, infer=False, label="cptkg", eliminate_redundancy=False)
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                and not r.getMessage().startswith("Multiple concept schemes found")]
    assert problems == []
    assert set(voc.subjects(RDF.type, SKOS.Concept)) == concepts
    assert schemes <= set(voc.subjects(RDF.type, SKOS.ConceptScheme))
    assert len(schemes) == 2 + len(VALUE_CLASSES)


def test_skosify_reports_a_collection_that_is_also_a_concept(exported, caplog):
    """The check above can fail: skosify warns on what SKOS forbids."""
    skosify = pytest.importorskip("skosify")
    broken = Graph() + exported
    group = KB["group-implant"]
    broken.add((group, SKOS.topConceptOf, KB["family-pump"]))
    with caplog.at_level(logging.WARNING):
        skosify.skosify(broken, infer=False, label="cptkg")
    assert any("from collection" in r.getMessage() for r in caplog.records)


def test_owlready2_lists_the_individuals_of_the_owl_export(tmp_path):
    owlready2 = pytest.importorskip("owlready2")
    path = tmp_path / "cptkg.owl"
    path.write_bytes(exporters.export("owl", "both")[""])
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    iris = {i.iri for i in world.individuals()}
    assert {str(KB["62367"]), str(KB["group-analysis"]), PACK + "ProgrammablePump"} <= iris
    g = published(load_graphs()).select("both")
    assert len(iris) >= len(set(g.subjects(RDF.type, OWL.NamedIndividual))) > 100
    assert onto is not None
