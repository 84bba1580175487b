"""The knowledge base is validated, sourced and closed before it is used."""
import re
import shutil

from pathlib import Path

import pytest
from rdflib import OWL, RDF, RDFS, Graph, URIRef

from cptkg.knowledge.loader import KBLoadError, load_kb
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT, PackError
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


def test_shacl_refuses_a_pair_edit_without_modifier_indicator(kb_copy):
    p = kb_copy / "kb" / "edits.ttl"
    p.write_text(p.read_text().replace('ont:modifierIndicator "0" ;', "", 1))
    with pytest.raises(KBLoadError, match=r"kb/edits.ttl: edit-refill-includes-analysis: a pair edit has one modifier indicator"):
        load_kb(kb_copy)


EDITS = Path(__file__).parent / "data" / "edits"


def test_edit_files_load_over_the_pack_and_change_the_version(kb):
    kb2 = load_kb(kb.root, edits=[EDITS / "synthetic-ptp.ttl", EDITS / "synthetic-mue.ttl"])
    # an edit file's edits are an edit table beside the pack's facts, whole in all_facts()
    assert kb2.facts["pair_edit"] == kb.facts["pair_edit"]
    every = kb2.all_facts()
    assert len(every["pair_edit"]) == len(kb.facts["pair_edit"]) + 5
    assert len(every["unit_edit"]) == 3
    assert ("urn:cptkg:synthetic-mue:row-2", 1) in every["unit_edit_max"]
    assert [len(t) for t in kb2.edit_tables] == [5, 3]
    assert kb2.version != kb.version
    assert kb2.sources["urn:cptkg:synthetic-ptp:source"].cite().startswith("SYNTHETIC PTP")


def test_an_edit_file_that_breaks_the_shapes_is_refused_naming_the_file(tmp_path, kb):
    bad = tmp_path / "bad.ttl"
    bad.write_text((EDITS / "synthetic-mue.ttl").read_text().replace('ont:adjudicationIndicator "1"', 'ont:adjudicationIndicator "7"'))
    with pytest.raises(KBLoadError, match=r"bad.ttl: 1 of 3 edits break the edit model: edit urn:cptkg:synthetic-mue:row-2( \(table row \d+\))?: a unit edit has one adjudication indicator"):
        load_kb(kb.root, edits=[bad])


def test_an_edit_file_of_unknown_type_or_missing_is_refused(tmp_path, kb):
    (tmp_path / "e.csv").write_text("x")
    with pytest.raises(KBLoadError, match="unknown edit file type '.csv'"):
        load_kb(kb.root, edits=[tmp_path / "e.csv"])
    with pytest.raises(KBLoadError, match="no such edit file"):
        load_kb(kb.root, edits=[tmp_path / "none.ttl"])
    (tmp_path / "e.ttl").write_text("this is not turtle ;;")
    with pytest.raises(KBLoadError, match=r"e.ttl: not an edit file cptkg wrote \(Turtle\)"):
        load_kb(kb.root, edits=[tmp_path / "e.ttl"])


@pytest.mark.parametrize("text, where", [
    ("garbage here .\n", "line 1, columns 1 to 8: garbage is not a valid subject"),
    ('@prefix e: <urn:x:> .\ne:a e:b "open .\n', "line 2, column 9 to line 3, column 1: Unexpected end of file"),
    ("@prefix e: <urn:x:> .\ne:a e:b e:c\n", "line 3, column 1: Unexpected end"),
])
def test_a_turtle_edit_file_that_does_not_parse_names_the_place_without_the_parsers_heading(tmp_path, kb, text, where):
    """pyoxigraph said "Parser error at line 1 between columns 1 and 8: ... (line 1)"; the place is said plainly."""
    bad = tmp_path / "e.ttl"
    bad.write_text(text)
    with pytest.raises(KBLoadError) as e:
        load_kb(kb.root, edits=[bad])
    assert f"e.ttl: not an edit file cptkg wrote (Turtle): {where}" in str(e.value) and "Parser error" not in str(e.value), str(e.value)


def test_a_rejection_rule_without_a_reason_code_is_refused(kb_copy):
    p = kb_copy / "rules" / "claim.dl"
    p.write_text(p.read_text() + "\n% id: no-carc\n% message: m\n% source: g1-1\nreject(L) :- line(L).\n")
    with pytest.raises(KBLoadError, match="rejects a line but names no reason code"):
        load_kb(kb_copy)


def test_a_warning_rule_carries_no_reason_code(kb_copy):
    p = kb_copy / "rules" / "claim.dl"
    p.write_text(p.read_text() + "\n% id: w-carc\n% message: m\n% source: g1-1\n% carc: 97\n% group: CO\nwarn(L) :- line(L).\n")
    with pytest.raises(KBLoadError, match="not a rejection: it carries no reason code"):
        load_kb(kb_copy)


def test_a_reason_code_that_is_not_one_is_refused(kb_copy):
    p = kb_copy / "rules" / "claim.dl"
    p.write_text(p.read_text() + "\n% id: bad-carc\n% message: m\n% source: g1-1\n% carc: ninety\n% group: XX\nreject(L) :- line(L).\n")
    with pytest.raises(KBLoadError, match="is not an X12 claim adjustment reason code"):
        load_kb(kb_copy)


def test_invalid_turtle_names_the_file(kb_copy):
    (kb_copy / "kb" / "codes.ttl").write_text("kb:62367 a ont:BillingCode ;;; .")
    with pytest.raises(KBLoadError, match="codes.ttl: not valid Turtle"):
        load_kb(kb_copy)


def test_invalid_turtle_is_said_in_one_line_naming_the_line_not_quoting_the_file(kb_copy):
    # an audit: the error quoted the whole file (27,800 characters) as a Python bytes literal
    p = kb_copy / "kb" / "codes.ttl"
    text = p.read_text()
    p.write_text(text + "\nkb:broken ont:coversService ")
    with pytest.raises(KBLoadError) as e:
        load_kb(kb_copy)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 200 and "b'" not in msg, msg
    assert f"codes.ttl: not valid Turtle: line {text.count(chr(10)) + 2}:" in msg, msg


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
    computed = {"code", "pair_edit", "unit_edit", "code_routes", "code_devices", "subclass_of", "input_value", "instance_of"}
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
    """The pack's own edits are the guide's, not NCCI's: no unit edit (no MUE
    value), no table row, no dates, and modifier indicator 0 on every pair
    edit (no source says a modifier bypasses them). NCCI and MUE values come
    only from edit files (--edits)."""
    text = " ".join(p.read_text() for p in (PACK / "kb").glob("*.ttl"))
    assert not re.search(r"\bmue(Value|Limit)\b|maxUnits|sourceRow|effectiveDate|deletionDate", text, re.I)
    assert kb.facts["pair_edit"] and not kb.facts.get("unit_edit")
    assert {i for _, i in kb.facts["edit_modifier_indicator"]} == {"0"}


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


def test_each_source_document_names_the_sha256_of_its_file_in_the_pack(kb):
    """An integrator could not verify which text the quotes come from (a bare file name; an audit): each source
    document carries the SHA-256 of its file in the pack's sources/ folder, and a changed file is caught here."""
    import hashlib

    from rdflib.namespace import DCTERMS

    docs = [d for d in kb.graph.subjects(RDF.type, ONT.SourceDocument)
            if not str(kb.graph.value(d, DCTERMS.identifier)).startswith("http")]  # a web listing has its address
    assert len(docs) >= 2
    for doc in docs:
        name = str(kb.graph.value(doc, DCTERMS.identifier))
        sha = str(kb.graph.value(doc, ONT.fileSha256))
        assert hashlib.sha256((PACK / "sources" / name).read_bytes()).hexdigest() == sha, name
        assert kb.graph.value(doc, DCTERMS.title).language == "en"


@pytest.mark.parametrize("name, tail, down, said", [
    ("kb/codes.ttl", b"\n\xff", 2, "kb/codes.ttl: not valid Turtle: line {n}, column 1: byte 0xff is not UTF-8 text"),
    ("rules/claim.dl", b"\n\xfe", 2, "rules/claim.dl:{n}: byte 0xfe is not UTF-8 text"),
    ("family.yaml", b"\nx: 1\n  : y\n", 3, "family.yaml: not valid YAML (line {n}, column 3: this line's indentation"),
    ("family.yaml", b"\n\tfoo: 1\n", 2, "family.yaml: not valid YAML (line {n}, column 1: a tab: indent with spaces)"),
    ("rules/titles.yaml", b"x: [\n", 2, "rules/titles.yaml: not valid YAML (line {n}, column 1: the file ends inside"),
])
def test_a_pack_file_that_cannot_be_read_is_said_by_its_line_not_in_the_library_s_words(kb_copy, name, tail, down,
                                                                                         said):
    """A stray byte read "'utf-8' codec can't decode byte 0xff in position 27251" (a rule file's was a
    traceback), and a YAML slip quoted PyYAML's parser state (an integrator's audit). ``down``: the line
    of the fault, counted from the file's last line before the tail."""
    p = kb_copy / name
    data = p.read_bytes() if p.exists() else b""
    p.write_bytes(data + tail)
    with pytest.raises((KBLoadError, PackError)) as e:
        load_kb(kb_copy)
    msg = str(e.value)
    assert said.format(n=data.count(b"\n") + down) in msg, msg
    assert "codec" not in msg and "<" not in msg and "\n" not in msg, msg


def test_shacl_names_a_citation_to_a_source_that_does_not_exist(kb_copy):
    """An integrator's audit: a fact citing a misspelt source id was "a fact annotation must cite a source", read
    as if it cited none; the message names the id cited."""
    p = kb_copy / "kb" / "codes.ttl"
    p.write_text(p.read_text().replace("src:g9.1-1", "src:g99-nonexistent"))
    with pytest.raises(KBLoadError, match=r"cites g99-nonexistent, which is not a source of the knowledge base"):
        load_kb(kb_copy)
