"""The explorer's logic without Streamlit: graph views, the query guard, the
line editor's conversion, proof rendering, batch summaries."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from cptkg.knowledge import views as G
from cptkg.claims.models import InputError, parse_claims
from cptkg.faces.explorer import batch, checker, export, proofs, query
from cptkg.faces.explorer.explaining import apply_fix, judge
from cptkg.faces.explorer.rules_page import rule_table
from cptkg.knowledge.loader import default_kb

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kb():
    return default_kb()


# ------------------------------------------------------------------ graph
def test_knowledge_graph_has_every_code_and_kind(kb):
    g = G.knowledge_graph(kb)
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert {"code", "service", "device", "role", "exclusion", "source", "conflict"} <= kinds
    assert {n for n, d in g.nodes(data=True) if d["kind"] == "code"} == set(kb.codes())
    assert g.has_edge("62370", "PhysicianOrQHPSkill")


def test_filter_by_family_drops_the_other_familys_codes(kb):
    v = G.filter_view(G.knowledge_graph(kb), {"code", "service"}, {"family-pump"})
    codes = {n for n, d in v.nodes(data=True) if d["kind"] == "code"}
    assert "62367" in codes and "62350" not in codes and "J7799" not in codes
    assert {d["kind"] for _, d in v.nodes(data=True)} <= {"code", "service"}


def test_neighbourhood_of_a_code_holds_its_roles(kb):
    v = G.neighbourhood(G.knowledge_graph(kb), "95991", 1)
    assert {"Physician", "QualifiedHealthCareProfessional"} <= set(v.nodes)
    assert "Nurse" not in v.nodes


def test_path_is_a_chain_of_real_links_without_sources_or_families(kb):
    g = G.knowledge_graph(kb)
    p = G.path_between(g, "62367", "95990")
    assert {"62367", "95990"} <= set(p.nodes) and p.number_of_edges() >= 2
    assert not {d["kind"] for n, d in p.nodes(data=True)} & {"source", "family"}
    for u, v, k in p.edges(keys=True):
        assert g.has_edge(u, v, key=k)


def test_path_to_an_unknown_node_is_a_readable_error(kb):
    with pytest.raises(KeyError, match="not a node"):
        G.path_between(G.knowledge_graph(kb), "62367", "99999")


def test_exclusion_graph_pairs_are_the_ones_the_rules_deny(kb):
    e = G.exclusion_graph(kb)
    pairs = {frozenset((u, v)) for u, v in e.edges()}
    assert frozenset(("62367", "95990")) in pairs
    assert frozenset(("62365", "62362")) in pairs
    assert frozenset(("95990", "95991")) in pairs  # 95991 is 95990 requiring a physician's or QHP's skill
    assert frozenset(("95990", "62361")) in pairs  # the first fill is part of the implantation


def test_exclusion_graph_arrows_go_from_the_code_that_stands_to_the_denied_one_named_by_the_edit(kb):
    """Issue 15: column 1 stands, column 2 is denied (claim.dl's pair rules); the edge says the edit's name."""
    members: dict[str, set] = {}
    for grp, code in kb.facts["group_member"]:
        members.setdefault(grp, set()).add(code)

    def column(n: int, edit: str) -> set:
        codes = {c for x, c in kb.facts.get(f"edit_column{n}_code", ()) if x == edit}
        return codes | {c for x, grp in kb.facts.get(f"edit_column{n}_group", ()) if x == edit for c in members[grp]}

    kinds = dict(kb.facts["edit_kind"])
    edges = list(G.exclusion_graph(kb).edges(keys=True, data=True))
    assert edges
    for stands, denied, edit, d in edges:
        assert stands in column(1, edit) and denied in column(2, edit), (stands, denied, edit)
        both = kinds[edit] == "NoSingleCodeEdit"
        assert d["label"] == kb.label(edit) + (" (both denied)" if both else "") and d["denies"] == ("both" if both else "column 2")
    # the refill (column 1) stands, the electronic analysis (column 2) is denied
    assert ("95990", "62367") in {(u, v) for u, v, *_ in edges} and ("62367", "95990") not in {(u, v) for u, v, *_ in edges}
    els = G.to_cytoscape(G.exclusion_graph(kb))
    assert all(not e["data"]["label"].startswith("edit-") for e in els if "source" in e["data"])


def test_graph_labels_are_words_sources_by_citation_edges_by_phrase(kb):
    g = G.knowledge_graph(kb)
    sources = [d["label"] for n, d in g.nodes(data=True) if d["kind"] == "source"]
    assert sources and all(not l.startswith("src ") for l in sources) and "guide §1 (General Billing Guidelines)" in sources
    labels = {d["label"] for *_, d in g.edges(data=True)}
    assert not [l for l in labels if any(ch.isupper() for ch in l[1:]) and " " not in l], labels  # no camelCase names
    assert {"is a kind of", "rests on"} <= labels


def test_details_of_a_code_say_which_code_of_an_excluded_pair_stands(kb):
    pairs = {p["code"]: p for p in G.details(kb, "62367")["excluded_with"]}
    assert pairs["95990"]["stands"] == "95990" and pairs["95990"]["denied"] == "62367"


def test_details_of_a_code_give_descriptor_roles_exclusions_sources_rules(kb):
    d = G.details(kb, "95991")
    assert "refill" in d["descriptor"].lower()
    assert "nurse" not in d["may_be_performed_by"] and "physician" in d["may_be_performed_by"]
    assert any(p["code"] == "62367" for p in d["excluded_with"])
    assert d["sources"] and all(s["quote"] for s in d["sources"])
    assert "role.qhp-fault" in d["rules"]  # the fault the role.needs-physician-or-qhp denial rests on


def test_details_of_a_source_say_what_rests_on_it(kb):
    d = G.details(kb, "g1-1")
    assert "exclusion.component" in d["rests_on_it"]["rules"]


def test_conflicts_include_the_guides_62368_contradiction(kb):
    c = {x["id"]: x for x in G.conflicts(kb)}["conflict-62368"]
    assert len(c["conflicting"]) == 2 and c["prevailing"][0]["id"] == "g7-1"


def test_cytoscape_elements_reference_existing_nodes(kb):
    els = G.to_cytoscape(G.exclusion_graph(kb), selected="62367")
    ids = {e["data"]["id"] for e in els if "source" not in e["data"]}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in els if "source" in e["data"])
    assert [e for e in els if e.get("selected")][0]["data"]["id"] == "62367"


# ------------------------------------------------------------ line editor
def test_editor_round_trip_keeps_the_claim(kb):
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    back = checker.claim_from_frames(claim["claim_id"], claim["patient_id"], checker.lines_frame(claim),
                                     checker.history_frame(claim))
    parsed, _ = parse_claims(back)
    assert not isinstance(parsed[0], Exception)
    assert [(l["code"], l["date_of_service"]) for l in back["lines"]] == [(l["code"], l["date_of_service"]) for l in claim["lines"]]
    assert back["history"][0]["date_of_service"] == "2024-11-12"


def test_editor_leaves_an_empty_cell_out_so_the_parser_names_it():
    lines = pd.DataFrame([{"line": 1, "code": "62367", "date_of_service": dt.date(2025, 3, 4), "provider_id": None,
                           "provider_role": "nurse", "units": 1, "modifiers": "kd, 59"}])
    c = checker.claim_from_frames("C1", "P1", lines)
    assert "provider_id" not in c["lines"][0] and c["lines"][0]["modifiers"] == ["kd", "59"]
    parsed, _ = parse_claims(c)
    assert "line 1, field provider_id: is missing" in str(parsed[0])


@pytest.mark.parametrize("cell", ["kd 59", "KD;59", "KD,59", " KD | 59 ", "KD\t59"])
def test_the_editors_modifiers_cell_splits_as_a_claim_csvs_cell_does(cell):
    """"kd 59" was refused as one modifier ('kd 59' is not a modifier) where a claim CSV takes it."""
    lines = pd.DataFrame([{"line": 1, "code": "J0475", "date_of_service": dt.date(2025, 3, 4), "provider_id": "D1",
                           "provider_role": "nurse", "units": 1, "modifiers": cell}])
    c = checker.claim_from_frames("C1", "P1", lines)
    assert [m.upper() for m in c["lines"][0]["modifiers"]] == ["KD", "59"]
    parsed, _ = parse_claims(c)
    assert parsed[0].lines[0].modifiers == ["KD", "59"]


@pytest.mark.parametrize("field, typed, said", [
    ("date_of_service", "2025-02-30", "line 1, field date_of_service: '2025-02-30' is not a real calendar date"),
    ("date_of_service", "02/30/2025", "line 1, field date_of_service: '02/30/2025' is not a date written YYYY-MM-DD"),
    ("units", "1.5", "line 1, field units"),
    ("units", "-1", "line 1, field units: must be at least 1"),
    ("line", "1.5", "field line"),
])
def test_the_editor_keeps_what_was_typed_for_the_parser_to_name(field, typed, said):
    """The grid's date cell turned a pasted 2025-02-30 into today's date, and its number cell read a typed 1.5 as
    15 units, each judged without a word (an analyst's audit): the cells are text, kept as typed, and the
    claim parser names the field and the problem, as cptkg check does."""
    claim = {"claim_id": "C1", "patient_id": "P1", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "nurse"}]}
    frame = checker.lines_frame(claim)
    assert frame.loc[0, "date_of_service"] == "2025-03-04" and frame.loc[0, "units"] == "1"
    frame.loc[0, field] = typed
    c = checker.claim_from_frames("C1", "P1", frame)
    assert str(c["lines"][0][field]) == typed
    parsed, _ = parse_claims(c)
    assert isinstance(parsed[0], Exception) and said in str(parsed[0]), str(parsed[0])


def test_a_new_row_with_a_cell_left_empty_is_judged_as_an_error_naming_it_not_dropped():
    """Streamlit kept a new row with an empty required cell out of the table, and the claim was judged without
    it (an analyst's audit): no cell is required, and the row comes back with the parser's error."""
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    frame = checker.lines_frame(claim)
    frame.loc[len(frame)] = {"line": "4", "code": "62369", "date_of_service": None, "provider_id": "D9",
                             "provider_role": "nurse_practitioner", "units": "1", "modifiers": None, "route": None}
    c = checker.claim_from_frames(claim["claim_id"], claim["patient_id"], frame)
    assert len(c["lines"]) == 4
    parsed, _ = parse_claims(c)
    assert "line 4, field date_of_service: is missing" in str(parsed[0])
    import inspect

    assert "required=True" not in inspect.getsource(checker.page)


def test_editor_drops_blank_rows():
    lines = pd.DataFrame([{c: None for c in checker.LINE_COLUMNS}])
    assert checker.claim_from_frames("C1", "P1", lines)["lines"] == []


# ------------------------------------------------------- judge and fix
def test_judge_and_apply_first_fix_turns_the_example_accepted(kb):
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    res = judge(kb, claim)[0]
    assert res["status"] == "rejected" and res["suggestions"]
    fixed = apply_fix(claim, res["suggestions"][0])
    assert judge(kb, fixed)[0]["status"] == "accepted"


def test_judge_keeps_good_claims_beside_a_bad_one(kb):
    data = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
    res = judge(kb, data[-2:])
    assert [r["status"] for r in res][-1] == "error" and res[0]["status"] in ("accepted", "rejected")


def test_fix_summary_names_each_edit():
    s = {"remove_lines": [1, 3], "add_lines": [{"line": 3, "code": "95990"}, {"line": 4, "code": "62369"}],
         "add_modifiers": {"2": ["KD"]}}
    assert checker.fix_summary(s) == ("remove line 1; line 3: change the code to 95990; add line 4: 62369; "
                                      "line 2: add modifier KD")


def test_a_claim_that_runs_out_of_time_is_an_error_entry_not_a_crash(kb, monkeypatch):
    import importlib

    from cptkg.faces.explorer import explaining
    from cptkg.engines.pydatalog import EvaluationTimeout

    def slow(*a, **k):
        raise EvaluationTimeout("the rules did not finish within 30 s")

    monkeypatch.setattr(importlib.import_module("cptkg.explanation"), "explain_claim", slow)
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    res = explaining.judge(kb, claim)
    assert res[0]["status"] == "error" and "CLM-1001: could not be judged" in res[0]["error"]


# ------------------------------------------------------------ proofs
def test_proof_markdown_and_graph_reach_the_source_sentence(kb):
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    proof = judge(kb, claim)[0]["lines"][0]["reasons"][0]["proof"]
    md = proofs.proof_markdown(proof)
    assert "exclusion.component" in md and "guide §1" in md
    els = proofs.proof_elements([proof], root_label="line 1")
    kinds = {e["data"].get("kind") for e in els if "source" not in e["data"]}
    assert {"derived", "claim", "kb", "source"} <= kinds
    ids = {e["data"]["id"] for e in els if "source" not in e["data"]}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in els if "source" in e["data"])


def test_a_step_two_branches_of_a_proof_rest_on_is_shown_once_and_named_where_it_is_used_again(kb):
    """A refill after the only pump was removed: the implantation before the date proves both "a device
    was implanted" and "it was removed after"; the full view showed its proof twice, step for step."""
    claim = {"claim_id": "C-18", "patient_id": "P-1",
             "lines": [{"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "NPI-1",
                        "provider_role": "physician"}],
             "history": [{"code": "62361", "date_of_service": "2023-01-10"},
                         {"code": "62365", "date_of_service": "2024-05-05"}]}
    proof = judge(kb, claim)[0]["lines"][0]["reasons"][0]["proof"]
    md = proofs.proof_markdown(proof)
    fact = "implant_before(1, -1, '2023-01-10', 'NonprogrammablePump')"
    assert md.count(proofs.md(fact)) == 2  # where it is proved, and where it is used again
    assert md.count("proved above") == 1
    steps = [ln for ln in md.splitlines() if ln.lstrip().startswith("- **")]
    assert len(steps) == len(set(steps)) + 1  # only the step used twice appears twice


def test_proof_markdown_of_nothing_says_so():
    assert proofs.proof_markdown(None) == "_no proof recorded_"


# ------------------------------------------------------------ query guard
@pytest.mark.parametrize("text,words", [
    ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "updates"),
    ("DELETE WHERE { ?s ?p ?o }", "updates"),
    ("LOAD <http://example.org/x.ttl>", "updates"),
    ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }", "FROM"),
    ("SELECT * FROM NAMED <http://example.org/g> WHERE { GRAPH ?g { ?s ?p ?o } }", "FROM"),
    ("DESCRIBE <urn:a>", "DESCRIBE"),
    ("", "empty"),
    ("SELEKT ?x", "not a SPARQL query"),
])
def test_sparql_console_refuses(kb, text, words):
    with pytest.raises(query.QueryError, match=words):
        query.run_sparql(kb, text)


def test_sparql_select_ask_construct_and_row_limit(kb):
    t = query.run_sparql(kb, query.SPARQL_EXAMPLE)
    assert t.columns == ["code", "role"] and ("62370", "Physician") in t.rows
    assert query.run_sparql(kb, "ASK { ?s ?p ?o }").rows == [(True,)]
    c = query.run_sparql(kb, "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", limit=5)
    assert len(c.rows) == 5 and c.truncated


def test_sparql_time_limit_stops_a_runaway_query(kb):
    with pytest.raises(query.QueryError, match="did not finish"):
        query.run_sparql(kb, "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . FILTER(STR(?a) = CONCAT(STR(?i), 'x')) }",
                         timeout=1)


def test_datalog_rule_and_bare_query(kb):
    t = query.run_datalog(kb, query.DATALOG_EXAMPLE)
    assert t.columns == ["C", "R"]
    assert ("95990", "Nurse") in t.rows and ("62370", "Nurse") not in t.rows  # the subclass walk, not the list only
    assert ("62367", "NursePractitioner") in t.rows
    t2 = query.run_datalog(kb, 'may_be_performed_by(C, "Nurse"), requires_skill(C, _)')
    assert t2.rows == []  # the codes needing the physician/QHP skill do not list the nurse


def test_datalog_can_read_what_a_rule_file_derives(kb):
    t = query.run_datalog(kb, 'edit_col2(X, "62367"), edit_col1(X, C1)', with_rules="claim")
    assert ("edit-refill-includes-analysis", "95990") in t.rows
    with pytest.raises(query.QueryError, match="undeclared predicate 'edit_col2'"):
        query.run_datalog(kb, 'edit_col2(X, "62367")')


@pytest.mark.parametrize("text,words", [
    ("x(X) :- nosuch(X).", "undeclared predicate"),
    ("x(X) :- not code(X).", "unsafe"),
    ("covers_service(C).", "argument"),
    ("x(X :- ", "not a rule"),
    ("code(X) :- covers_service(X, _).", "input predicate"),
])
def test_datalog_errors_are_messages(kb, text, words):
    with pytest.raises(query.QueryError, match=words):
        query.run_datalog(kb, text)


def test_datalog_text_never_reaches_pydatalog_load(kb, monkeypatch):
    import pyDatalog.pyDatalog as pd_mod

    def boom(*a, **k):
        raise AssertionError("pyDatalog.load/ask called")

    monkeypatch.setattr(pd_mod, "load", boom)
    monkeypatch.setattr(pd_mod, "ask", boom)
    assert query.run_datalog(kb, query.DATALOG_EXAMPLE).rows


# ------------------------------------------------------ batch and export
def test_batch_summary_counts_claims_and_rules(kb):
    data = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
    seen = []
    res = batch.judge_batch(kb, data, lambda d, n: seen.append((d, n)))
    assert seen[-1] == (len(data), len(data))
    counts, by_rule = batch.summary(res)
    assert sum(counts.values()) == len(data) and counts["error"] == 1
    table = batch.batch_table(res)
    assert by_rule.loc["exclusion.component", "rejected lines"] == table["rules"].str.contains("exclusion.component").sum()
    assert "claim_id,claim_status,line" in table.to_csv(index=False)


def test_export_page_files_round_trip_turtle_and_jsonld(kb):
    from rdflib import Graph

    from rdflib import BNode

    sizes = []
    authored = {t for t in kb.kb_graph if not any(isinstance(x, BNode) for x in t)}
    for fmt, rdf, name in (("turtle", "turtle", "cptkg-kb.ttl"), ("jsonld", "json-ld", "cptkg-kb.jsonld")):
        files = export.export_files(kb, fmt, "kb")
        assert list(files) == [name]
        g = Graph().parse(data=files[name], format=rdf)
        # the published KB: every authored triple, plus the explicit SKOS and OWL declarations (issue 26)
        assert authored <= set(g)
        sizes.append(len(g))
    assert sizes[0] == sizes[1] and sizes[0] > len(kb.kb_graph)


def test_export_of_several_files_names_each_part(kb):
    assert sorted(export.export_files(kb, "csv", "both")) == ["cptkg-both-edges.csv", "cptkg-both-nodes.csv"]


def test_rule_table_has_sources_and_cases_for_every_claim_rule(kb):
    rows = [r for r in rule_table(kb) if r["kind"] == "claim"]
    assert len(rows) == len(kb.check_program.rules)
    comp = next(r for r in rows if r["id"] == "exclusion.component")
    assert comp["sources"] and comp["cases"] and "billed/3" in comp["uses"]


@pytest.mark.parametrize("data, said", [(42, "got a number"), ("hello", "got text"), (True, "got true/false"),
                                        (None, "got null")])
def test_a_paste_that_is_not_a_claim_is_said_in_words_not_pythons_type_names(kb, data, said):
    from cptkg.faces.explorer.explaining import judge

    with pytest.raises(InputError) as e:
        judge(kb, data)
    assert said in str(e.value) and " int" not in str(e.value) and " str" not in str(e.value)
    assert "expected a claim object or a list of claims" in str(e.value)  # the words cptkg check uses


def test_no_path_between_two_nodes_names_them_by_their_labels(kb):
    import networkx as nx

    from cptkg import views

    g = nx.MultiDiGraph()
    g.add_node("J0475", label="J0475 baclofen", kind="code")
    g.add_node("PhysicalTherapist", label="physical therapist", kind="role")
    with pytest.raises(KeyError) as e:
        views.path_between(g, "J0475", "PhysicalTherapist")
    assert "physical therapist" in str(e.value) and "PhysicalTherapist" not in str(e.value)


def test_the_inference_message_names_no_json_field(kb):
    from cptkg import infer

    out = infer({"encounter_id": "E", "performer_role": "nurse", "device": "programmable_pump",
                 "route": "intraventricular", "services": ["electronic_analysis", "reprogramming", "refill"]}, kb=kb)
    assert out.get("message") and "uncovered" not in out["message"] and "why_not" not in out["message"]


def test_a_claim_csv_pasted_as_json_is_told_to_be_uploaded_as_a_file():
    err = Exception("claim: not valid JSON (line 1, column 1: Expecting value)")
    said = checker.pasted_problem("claim_id,patient_id,line,code\nC1,P1,1,62367\n", err)
    assert said.startswith(str(err)) and "upload it as a file" in said
    assert checker.pasted_problem('{"claim_id": ', err) == str(err)


def test_the_query_console_examples_of_the_docs_run(kb):
    """docs/explorer.md's example of a query over what the claim rules derive named a predicate no rule
    has ("undeclared predicate 'excluded_pair'"; found by an audit): each example shown runs."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "explorer.md").read_text(encoding="utf-8")
    bare = re.search(r"a bare condition such as\s+`([^`]+)`", page).group(1)
    derived = re.search(r"from the KB alone \(`([^`]+)`", page).group(1)
    assert query.run_datalog(kb, bare, engine="clingo").rows
    got = query.run_datalog(kb, derived, with_rules="claim", engine="clingo")
    assert got.rows and all(r[-1] != "62367" for r in got.rows)


def test_an_empty_paste_is_said_to_be_empty_not_invalid_json():
    err = ValueError("claim: not valid JSON (line 1, column 1: Expecting value)")
    for text in ("", "   \n  "):
        said = checker.pasted_problem(text, err)
        assert said.startswith("nothing was pasted") and "Expecting value" not in said
