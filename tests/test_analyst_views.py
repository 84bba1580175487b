"""Analyst views (issue 15): titles not ids, whole line numbers, one voice for the
clinical-staff warning, the finder citing what fired, batch drill-down and work paper."""
import json

import cptkg
from cptkg.explanation.summary import raw_atoms
from cptkg.faces.explorer import batch, checker, explaining, finder
from cptkg.faces.explorer.proofs import line_summary_markdown, proof_elements
from cptkg.knowledge.pack import REPO_ROOT as ROOT

BATCH = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
ENCOUNTER = json.loads((ROOT / "examples" / "encounter.json").read_text())


def test_batch_csv_writes_whole_line_numbers_and_a_title_column(kb):
    res = batch.judge_batch(kb, BATCH)
    assert any(r["status"] == "error" for r in res)  # the row without a line number is what made 1.0
    csv = batch.batch_table(res, BATCH).to_csv(index=False)
    header, first = csv.splitlines()[:2]
    assert header.startswith("claim_id,claim_status,line,code,line_status,rules,messages,warnings,titles")
    assert first.split(",")[2] == "1" and ",1.0," not in csv
    assert "Component of a more comprehensive code billed the same day" in csv


def test_batch_chart_counts_by_full_title(kb):
    titles = batch.by_title(batch.judge_batch(kb, BATCH))
    top = titles.iloc[0]
    assert top["reason"] == "Component of a more comprehensive code billed the same day" and top["rule"] == "exclusion.component"
    assert titles["rejected lines"].sum() >= 1


def test_batch_views_by_provider_code_and_month(kb):
    table = batch.batch_table(batch.judge_batch(kb, BATCH), BATCH)
    for by in ("provider", "code", "month"):
        g = batch.grouped(table, by)
        assert list(g.columns) == [by, "lines", "rejected", "rejected share"]
        assert g["lines"].sum() == (table["line_status"] != "error").sum()
    assert "2025-03" in set(batch.grouped(table, "month")["month"])


def test_batch_work_paper_has_summary_reasons_by_title_sources_and_fixes(kb):
    from cptkg.faces.explorer.common import work_paper_html

    res = batch.judge_batch(kb, BATCH)
    rejected = {r["claim_id"] for r in res if r["status"] == "rejected"}
    explained = {r["claim_id"]: r for r in batch.explain_claims(kb, BATCH, rejected)}
    paper = work_paper_html([explained.get(r["claim_id"], r) for r in res], "2026-12-02").decode("utf-8")
    assert paper.startswith("<!DOCTYPE html>") and kb.version in paper and "<dt>Judged on</dt><dd>2026-12-02</dd>" in paper
    assert "Reason: <strong>Component of a more comprehensive code billed the same day</strong> (CARC 97" in paper
    assert "<cite>guide §1 (General Billing Guidelines)</cite>“Do not report CPT 62367" in paper
    assert "(re-checked by the rules" in paper and "Cannot be judged:" in paper


def test_checker_line_table_shows_titles_and_verdict_words_not_rule_ids(kb):
    res = explaining.judge(kb, json.loads((ROOT / "examples" / "claim-rejected.json").read_text()))[0]
    table = checker.line_summary(res)
    assert list(table.columns) == ["line", "code", "verdict", "reasons", "warnings"]
    text = table.to_csv(index=False)
    assert "exclusion.component" not in text and "Component of a more comprehensive code" in text
    assert "accepted for billing under the supervising physician or QHP" in text


def test_line_explanation_in_the_explorer_reads_as_words(kb):
    res = explaining.judge(kb, json.loads((ROOT / "examples" / "claim-pair.json").read_text()))[0]
    md = line_summary_markdown(res["lines"][0], res["suggestions"])
    assert "Denied — Analysis and refill billed apart where one code covers both" in md
    assert "**Fix**: :gray-badge[recode] Replace 62368 (line 1) and 95990 (line 2) by 62369" in md.replace("\\", "")
    assert md.count("Do not report CPT 62367, CPT 62368") == 1
    assert not raw_atoms(md.replace("<small>", "").replace("</small>", ""))


def test_proof_graph_labels_are_words(kb):
    res = explaining.judge(kb, json.loads((ROOT / "examples" / "claim-pair.json").read_text()))[0]
    els = proof_elements([res["lines"][0]["reasons"][0]["proof"]], root_label="line 1 rejected")
    labels = [e["data"]["label"] for e in els if "source" not in e["data"] and e["data"].get("kind") != "source"]
    assert not [l for l in labels if raw_atoms(l) and "!=" not in l], labels
    assert all(not l.endswith(("conf", "Electr")) for l in labels)


def test_finder_cites_the_sources_of_the_rules_that_fired_for_the_code(kb):
    res = finder.find_codes(kb, ENCOUNTER)
    code = res["codes"][0]
    assert code["code"] == "62369"
    cited = " ".join(r["source"] for r in code["reasons"])
    # a sentence about particular codes is cited for those codes only (reasons.firing_sources):
    # not the 62360 or 62367 descriptors, nor §1's sentence on when to report 95990/95991
    assert "CPT62360" not in cited and "CPT 62367" not in cited and "guide §1" not in cited
    assert "What may be billed together" in cited


def test_finder_shows_the_checker_verdict_and_warnings_for_the_inferred_code(kb):
    """As the checker judges the code billed by the performer, by the route, with the encounter's device
    implanted before: the device the user stated is on record (the checker warned it was not)."""
    code = finder.find_codes(kb, ENCOUNTER)["codes"][0]["code"]
    billed = explaining.as_billed(kb, code, ENCOUNTER)
    checked = cptkg.check({"claim_id": "X", "patient_id": "P", "lines": [
        {"line": 1, "code": code, "date_of_service": ENCOUNTER["date_of_service"], "provider_id": "N",
         "provider_role": ENCOUNTER["performer_role"], "route": ENCOUNTER["route"]}],
        "history": [{"code": "62362", "date_of_service": "2024-01-01", "provider_id": "N"}]}, kb=kb)["lines"][0]
    assert billed["verdict"] == checked["verdict"]
    assert billed["verdict"].startswith("accepted for billing under the supervising physician or QHP")
    assert [w["message"] for w in billed["warnings"]] == [w["message"] for w in checked["warnings"]]
    assert not [w for w in billed["warnings"] if w["rule"] == "device.unconfirmed"], billed["warnings"]


def test_finder_checks_a_code_for_a_device_it_does_not_fit_as_the_checker_would_deny_it(kb):
    """The stated device is on the record the finder checks with: a code for another device is denied for it."""
    enc = dict(ENCOUNTER, device="nonprogrammable_pump")
    billed = explaining.as_billed(kb, "62369", enc)
    assert billed["status"] == "rejected"
    assert any("nonprogrammable" in r["message"] for r in billed["reasons"]), billed["reasons"]


def test_rules_page_shows_titles_and_a_filled_example_not_the_template(kb):
    from cptkg.faces.explorer import rules_page

    rows = {r["id"]: r for r in rules_page.rule_table(kb)}
    comp = rows["exclusion.component"]
    assert comp["title"] == "Component of a more comprehensive code billed the same day"
    example = rules_page.example_message(kb, comp)
    assert example and not raw_atoms(example) and "{" not in example
    assert not raw_atoms(rules_page.plain_message(comp["message"]))


def test_knowledge_graph_edges_read_in_words_and_exclusion_edges_name_the_edit(kb):
    from cptkg import views

    g = views.knowledge_graph(kb)
    labels = {e["data"]["label"] for e in views.to_cytoscape(views.neighbourhood(g, "62369")) if "source" in e["data"]}
    assert "covers service" in labels and "coversService" not in labels
    ex = [e["data"] for e in views.to_cytoscape(views.exclusion_graph(kb)) if "source" in e["data"]]
    assert ex and all(not d["label"].startswith("excl-") for d in ex)


def test_proof_graph_opens_on_the_decision_path_with_one_node_per_source(kb):
    from cptkg.faces.explorer.proofs import decision_elements

    res = explaining.judge(kb, json.loads((ROOT / "examples" / "claim-pair.json").read_text()))[0]
    ln = res["lines"][0]
    els = decision_elements(ln)
    nodes = [e["data"] for e in els if "source" not in e["data"]]
    labels = [n["label"] for n in nodes]
    assert "Analysis and refill billed apart where one code covers both" in labels
    sources = [n for n in nodes if n["kind"] == "source"]
    assert len(sources) == len({n["id"] for n in sources}) == len(ln["reasons"][0]["summary"]["sources"])
    assert len(nodes) < len([e for e in proof_elements([ln["reasons"][0]["proof"]]) if "source" not in e["data"]])
    assert any("more proof steps" in l for l in labels)
    ids = {n["id"] for n in nodes}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in els if "source" in e["data"])


def test_finder_proof_of_62369_cites_no_other_code_descriptor(kb):
    proof = finder.find_codes(kb, ENCOUNTER)["codes"][0]["proof"]

    def walk(n):
        yield n
        for c in n.get("children", []):
            yield from walk(c)

    cited = {s.get("citation") for n in walk(proof) for s in n.get("source", []) if isinstance(s, dict)}
    assert not any("CPT62360" in c or "CPT 62367" in c for c in cited), cited


def test_the_explorers_route_assumption_says_how_to_state_it_on_the_page_not_with_the_clis_route_option(kb):
    """An 837P or FHIR line has no route element: the explorer's note tells the analyst what to upload,
    not the CLI's --route or a FHIR extension URL (analyst walk, issue 23)."""
    import cptkg

    claim = {"claim_id": "syn-route", "patient_id": "syn-p", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-03", "provider_id": "1234567893",
         "provider_role": "physician"}]}
    (res,) = cptkg.judge_claims(kb, [claim], explain=True)
    (ln,) = res["lines"]
    assert ln.get("assumptions"), "a line without a route carries an assumption"
    assert "--route" in ln["assumptions"][0]  # the CLI's and the API's words stay as they were
    text = line_summary_markdown(ln, [])
    assert "**Assumed**" in text and "--route" not in text and "StructureDefinition" not in text
    assert "upload that file on the Claim checker or Batch page" in text


def test_the_explorers_line_explanation_shows_the_sources_conflict_of_a_62368_line(kb):
    import cptkg

    claim = {"claim_id": "syn-62368", "patient_id": "syn-p", "history": [{"code": "62362", "date_of_service": "2024-01-10"}],
             "lines": [{"line": 1, "code": "62368", "date_of_service": "2025-03-03", "provider_id": "1234567893",
                        "provider_role": "physician"}]}
    (res,) = cptkg.judge_claims(kb, [claim], explain=True)
    text = line_summary_markdown(res["lines"][0], [])
    assert "**The sources conflict**" in text and "62368 includes reprogramming" in text


def test_the_graph_opened_on_an_edit_shows_the_code_it_names_by_text(kb):
    """An edit names a column's code by its text ("62367"): the graph opened on "Refill includes the electronic
    analysis" showed the edit and the refill group only, not 62367, the code it denies (an analyst walk)."""
    from cptkg.knowledge import views

    g = views.knowledge_graph(kb)
    near = views.neighbourhood(g, "edit-refill-includes-analysis")
    assert {"62367", "group-refill"} <= set(near.nodes)
    assert any(d.get("label") == "column 2 code" for _, v, d in near.edges(data=True) if v == "62367")
