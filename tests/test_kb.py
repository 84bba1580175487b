"""The knowledge base is validated, sourced and closed before it is used."""
import re
import shutil

import pytest
from rdflib import OWL, RDF, RDFS, Graph, URIRef

from cptkg.knowledge.loader import KBLoadError, load_kb
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT
from cptkg.knowledge.namespace import ONT


@pytest.fixture
def kb_copy(tmp_path):
    shutil.copytree(PACK, tmp_path / "pump")
    return tmp_path / "pump"


def test_every_namespace_term_is_defined_in_the_ontology(kb):
    defined = set(kb.ontology_graph.subjects())
    for name in ONT.__annotations__:
        assert URIRef(ONT._NS + name) in defined, name


def test_misspelt_ontology_term_raises():
    with pytest.raises(AttributeError):
        ONT.mayBePerfomedBy  # noqa: B018


def test_shacl_refuses_a_code_without_a_source_naming_file_and_code(kb_copy):
    p = kb_copy / "kb" / "codes.ttl"
    p.write_text(p.read_text().replace("dct:source src:g6-1 ;", ""))
    with pytest.raises(KBLoadError, match=r"kb/codes.ttl: 62367: a billing code must cite a source"):
        load_kb(kb_copy)


def test_shacl_refuses_an_exclusion_without_bypass_flag(kb_copy):
    p = kb_copy / "kb" / "exclusions.ttl"
    p.write_text(p.read_text().replace("ont:modifierMayBypass false ;", "", 1))
    with pytest.raises(KBLoadError, match=r"kb/exclusions.ttl: excl-analysis-refill"):
        load_kb(kb_copy)


def test_invalid_turtle_names_the_file(kb_copy):
    (kb_copy / "kb" / "codes.ttl").write_text("kb:62367 a ont:BillingCode ;;; .")
    with pytest.raises(KBLoadError, match="codes.ttl: not valid Turtle"):
        load_kb(kb_copy)


def test_a_rule_with_an_undeclared_predicate_is_refused_with_file_and_line(kb_copy):
    p = kb_copy / "rules" / "claim.dl"
    text = p.read_text() + "\n% id: bad\n% message: m\n% source: g1-1\nreject(L) :- line(L), lien_code(L, _).\n"
    p.write_text(text)
    n = text.count("\n") - 0
    with pytest.raises(KBLoadError, match=rf"rules/claim.dl:{n}: undeclared predicate 'lien_code'"):
        load_kb(kb_copy)


def test_a_rule_without_a_source_is_refused(kb_copy):
    p = kb_copy / "rules" / "claim.dl"
    p.write_text(p.read_text() + "\nreject(L) :- line(L).\n")
    with pytest.raises(KBLoadError, match="lacks structured comment"):
        load_kb(kb_copy)


def test_every_kb_fact_used_by_rules_rests_on_a_source(kb):
    used = kb.check_program.used_predicates() | kb.infer_program.used_predicates()
    computed = {"code", "exclusion", "subclass_of", "input_value", "instance_of"}
    for pred, rows in kb.facts.items():
        if pred not in used or pred in computed:
            continue
        for row in rows:
            srcs = kb.fact_sources(pred, row)
            assert srcs, f"{pred}{row} has no source"
            assert all(s in kb.sources for s in srcs), f"{pred}{row} cites unknown {srcs}"


def test_role_hierarchy_is_reasoned_not_listed(kb):
    sub = kb.facts["subclass_of"]
    assert ("PhysicianAssistant", "QualifiedHealthCareProfessional") in sub
    assert ("NursePractitioner", "QualifiedHealthCareProfessional") in sub
    assert ("Nurse", "ClinicalStaff") in sub
    assert ("Nurse", "QualifiedHealthCareProfessional") not in sub
    # 62370 names the QHP class, not its members
    assert ("62370", "QualifiedHealthCareProfessional") in kb.facts["may_be_performed_by"]
    assert ("62370", "PhysicianAssistant") not in kb.facts["may_be_performed_by"]


def test_the_62368_contradiction_is_recorded_and_the_descriptor_wins(kb):
    g = kb.graph
    conflicts = list(g.subjects(RDF.type, ONT.SourceConflict))
    assert len(conflicts) == 1
    c = conflicts[0]
    quotes = {str(g.value(s, ONT.quote)) for s in g.objects(c, ONT.conflictingSource)}
    assert "The provider does not reprogram the pump during this service." in quotes
    assert str(g.value(g.value(c, ONT.prevailingSource), ONT.quote)).endswith("with reprogramming.”")
    assert ("62368", "Reprogramming") in kb.facts["covers_service"]


def test_no_mue_values_or_ncci_indicators_are_invented(kb):
    text = " ".join(p.read_text() for p in (PACK / "kb").glob("*.ttl"))
    assert not re.search(r"\bmue(Value|Limit)\b|modifierIndicator", text, re.I)


def test_every_code_of_the_guide_is_in_the_kb(kb):
    for code in ("62360", "62361", "62362", "62365", "62367", "62368", "62369", "62370", "95990", "95991"):
        assert code in kb.codes()
        assert kb.descriptor(code)


def test_descriptors_match_the_guide_verbatim(kb):
    text = (PACK / "sources" / "pump-billing-guide.txt").read_text(encoding="utf-8")
    for code in ("62360", "62361", "62362", "62365", "62367", "62368", "62369", "62370"):
        assert f"“{kb.descriptor(code)}.”" in text, code


def test_kb_says_it_is_not_legal_advice(kb):
    assert "Not legal advice" in kb.graph.serialize(format="turtle")
