"""The OWL export loads in owlready2 and HermiT finds it consistent, with the
role hierarchy classified as the ontology means it; a contradiction added
to the same export is reported inconsistent, so the check can fail."""
from __future__ import annotations

import shutil

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, XSD

from cptkg import exports as exporters

owlready2 = pytest.importorskip("owlready2")
ONT = "https://w3id.org/cptkg/ontology#"

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs Java (.ci/interop.sh installs it)")


def _reason(tmp_path, data: bytes):
    path = tmp_path / "cptkg.owl"
    path.write_bytes(data)
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    with onto:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    return world


def test_hermit_finds_the_export_consistent_and_the_roles_classified(tmp_path):
    world = _reason(tmp_path, exporters.export("owl", "both")[""])
    assert list(world.inconsistent_classes()) == []
    cls = {n: world[ONT + n] for n in ("PhysicianAssistant", "NursePractitioner", "QualifiedHealthCareProfessional",
                                         "ProviderRole", "Nurse", "ClinicalStaff", "Physician", "PhysicalTherapist")}
    assert all(c is not None for c in cls.values()), cls
    assert {cls["QualifiedHealthCareProfessional"], cls["ProviderRole"]} <= cls["PhysicianAssistant"].ancestors()
    assert {cls["QualifiedHealthCareProfessional"], cls["ProviderRole"]} <= cls["NursePractitioner"].ancestors()
    assert cls["ProviderRole"] in cls["QualifiedHealthCareProfessional"].ancestors()
    assert {cls["ClinicalStaff"], cls["ProviderRole"]} <= cls["Nurse"].ancestors()
    assert cls["QualifiedHealthCareProfessional"] not in cls["Physician"].ancestors()
    assert cls["ClinicalStaff"] not in cls["PhysicalTherapist"].ancestors()


def test_hermit_reports_a_performer_who_is_both_physician_and_nurse(tmp_path):
    g = Graph().parse(data=exporters.export("owl", "both")[""], format="xml")
    someone = URIRef("https://example.org/someone")
    g.add((someone, RDF.type, URIRef(ONT + "Physician")))
    g.add((someone, RDF.type, URIRef(ONT + "Nurse")))
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        _reason(tmp_path, g.serialize(format="xml", encoding="utf-8"))


def test_owl_export_uses_only_owl2_datatypes():
    g = Graph().parse(data=exporters.export("owl", "both")[""], format="xml")
    assert (None, None, XSD.date) not in g
    assert not any(getattr(o, "datatype", None) == XSD.date for o in g.objects())


def test_every_predicate_and_class_of_another_vocabulary_is_declared_for_owl2_dl():
    """The OWL export declared none of the Dublin Core and SKOS predicates it uses, nor skos:Concept or
    prov:Entity (an integrator's audit: horned-owl read dct:source as an object property in 99 assertions and
    as an annotation property on 82 axioms). Each is declared: predicates as annotation properties, classes
    as classes."""
    from rdflib.namespace import OWL, RDFS

    g = Graph().parse(data=exporters.export("owl", "both")[""], format="xml")
    built_in = (str(RDF), str(RDFS), str(OWL), str(XSD))
    declared = {s for t in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
                for s in g.subjects(RDF.type, t)}
    assert not {p for p in g.predicates() if not str(p).startswith(built_in)} - declared
    classes = set(g.subjects(RDF.type, OWL.Class))
    used = {c for c in set(g.objects(None, RDF.type)) | set(g.objects(None, RDFS.subClassOf))
            if isinstance(c, URIRef) and not str(c).startswith(built_in)}
    assert not used - classes
    assert (URIRef("http://purl.org/dc/terms/source"), RDF.type, OWL.AnnotationProperty) in g


def _kinds(g: Graph) -> dict:
    from rdflib.namespace import OWL

    out: dict = {}
    for t in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty):
        for s in g.subjects(RDF.type, t):
            out.setdefault(s, set()).add(t)
    return out


def test_the_kb_alone_declares_each_property_as_the_ontology_does_and_merges_with_it():
    """The KB-only OWL export declared the ontology's own properties (ont:mayBePerformedBy, ont:column1 …)
    annotation properties, so its facts were annotations to a reasoner and, merged with the ontology
    export, 35 properties had two kinds (an integrator's audit)."""
    from rdflib.namespace import OWL

    parts = {w: Graph().parse(data=exporters.export("owl", w)[""], format="xml") for w in ("both", "kb", "ontology")}
    kb, onto = _kinds(parts["kb"]), _kinds(parts["ontology"])
    assert kb[URIRef(ONT + "mayBePerformedBy")] == {OWL.ObjectProperty}
    for p, kinds in kb.items():
        assert len(kinds) == 1, p
        if p in onto:
            assert kinds == onto[p], p
    merged = Graph()
    for g in parts.values():
        merged += g
    assert {p: k for p, k in _kinds(merged).items() if len(k) > 1} == {}


def test_no_object_or_datatype_property_is_a_sub_property_of_an_annotation_property():
    """OWL 2 DL relates properties of one kind only: ont:inFamily (an object property) was a sub-property of
    skos:inScheme, declared an annotation property (owlready2 warned; an integrator's audit)."""
    from rdflib.namespace import OWL, RDFS

    for which in ("both", "ontology", "kb"):
        g = Graph().parse(data=exporters.export("owl", which)[""], format="xml")
        kinds = _kinds(g)
        for sub, sup in g.subject_objects(RDFS.subPropertyOf):
            assert kinds.get(sub) == kinds.get(sup), (which, sub, sup)
        assert kinds[URIRef("http://www.w3.org/2004/02/skos/core#inScheme")] in ({OWL.ObjectProperty}, None) \
            or which == "kb"
