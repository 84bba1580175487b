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
