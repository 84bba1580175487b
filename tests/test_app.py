"""The explorer's pages, run headless with Streamlit's AppTest (no browser).

Each page's main path: the page draws without an exception and its main
action gives the answer the package gives.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180


def page_app(module: str) -> AppTest:
    return AppTest.from_string(f"from cptkg.faces.explorer.{module} import page\npage()\n", default_timeout=TIMEOUT)


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [s.value for s in at.success] + [e.value for e in at.error]
                     + [w.value for w in at.warning] + [i.value for i in at.info] + [s.value for s in at.subheader])


def test_app_opens_on_the_claim_checker_without_an_exception():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [h.value for h in at.header] == ["Claim checker"]
    assert "Not legal advice" in at.sidebar.caption[0].value


def test_sidebar_lists_the_analyst_pages_first_then_an_advanced_section():
    at = AppTest.from_string("import streamlit as st\nfrom cptkg.faces.explorer.navigation import pages\n"
                             "st.session_state['nav'] = {k: [p.title for p in v] for k, v in pages().items()}\n",
                             default_timeout=TIMEOUT).run()
    assert not at.exception
    nav = at.session_state["nav"]
    assert list(nav) == ["Analyst", "Advanced"]
    assert nav["Analyst"] == ["Claim checker", "Code finder", "Knowledge graph", "Batch", "What changed", "Questions",
                              "Rules and sources"]
    assert nav["Advanced"] == ["Query console", "Rule text (Datalog)", "Export"]


def test_checker_judges_the_example_claim_unfolds_proofs_and_applies_a_fix():
    at = page_app("checker").run()
    at.button(key="check_editor").click().run()
    assert not at.exception
    body = texts(at)
    assert ":red[**rejected**]" in body
    assert "exclusion.component" in body  # line 1's rule
    # the explanation carries the proof down to a source sentence
    assert "derived by a rule" in body and "guide §1" in body
    fixes = [b for b in at.button if b.label == "Apply fix"]
    assert fixes, "a rejected claim gets at least one suggested fix"
    fixes[0].click().run()
    assert not at.exception
    assert any("Fix applied" in s.value for s in at.success)
    results = at.session_state["checker_results"]
    assert results[0]["status"] == "accepted"
    assert "Download this claim's work paper (HTML)" in [d.proto.label for d in at.get("download_button")]
    # the editor now shows the fixed claim
    assert [l["code"] for l in at.session_state["checker_editor_claim"]["lines"]] != ["62367", "95990", "95991"]


def test_checker_names_claim_line_and_field_of_bad_json():
    at = page_app("checker").run()
    bad = {"claim_id": "C9", "patient_id": "P", "lines": [{"line": 1, "code": "62367", "date_of_service": "2025-02-30",
                                                          "provider_id": "x", "provider_role": "nurse"}]}
    at.text_area[0].set_value(json.dumps(bad)).run()
    at.button(key="check_json").click().run()
    assert not at.exception
    assert "claim C9, line 1, field date_of_service" in texts(at)


def test_checker_judges_several_claims_of_a_json_list_together():
    at = page_app("checker").run()
    claims = json.loads((ROOT / "examples" / "claims-batch.json").read_text())[:3]
    at.text_area[0].set_value(json.dumps(claims)).run()
    at.button(key="check_json").click().run()
    assert not at.exception
    assert [r["claim_id"] for r in at.session_state["checker_results"]] == [c["claim_id"] for c in claims]


def test_checker_refuses_text_that_is_not_json_with_a_message():
    at = page_app("checker").run()
    at.text_area[0].set_value("{not json").run()
    at.button(key="check_json").click().run()
    assert not at.exception
    assert "not valid JSON" in texts(at)


def test_checker_sends_more_claims_than_it_explains_to_the_batch_page_unless_asked():
    """2,000 uploaded claims were judged for four minutes with no way to stop and no word of the Batch page (an
    analyst walk): past CHECKER_CLAIMS the checker says so and judges only when asked."""
    from cptkg.faces.explorer.checker import CHECKER_CLAIMS

    claim = json.loads((ROOT / "examples" / "claim-pair.json").read_text())
    many = [dict(claim, claim_id=f"C-{i}") for i in range(CHECKER_CLAIMS + 1)]
    at = page_app("checker").run()
    at.text_area[0].set_value(json.dumps(many)).run()
    at.button(key="check_json").click().run()
    assert not at.exception
    said = texts(at)
    assert f"holds {CHECKER_CLAIMS + 1:,} claims" in said and "Batch" in said
    assert "checker_results" not in at.session_state


@pytest.mark.parametrize("tab", ["editor", "json"])
def test_the_claim_typed_is_still_in_the_checker_after_a_visit_to_another_page(tab):
    """An explorer audit: back from the Code finder, the line editor showed the example claim again under the
    verdict of the claim the analyst had typed (Streamlit forgets a widget's value once its page is left).
    A fresh visit keeps only the page's own state: the claim judged is what the editor and the box show."""
    import json

    at = page_app("checker").run()
    if tab == "editor":
        at.text_input(key="cid0").set_value("TYPED-1").run()
        at.button(key="check_editor").click().run()
    else:
        claim = json.loads(at.text_area(key="json0").value)
        claim["claim_id"] = "TYPED-1"
        at.text_area(key="json0").set_value(json.dumps(claim)).run()
        at.button(key="check_json").click().run()
    assert not at.exception
    assert at.session_state["checker_results"][0]["claim_id"] == "TYPED-1"
    again = page_app("checker")
    for k in ("checker_editor_claim", "checker_editor_version", "checker_json_text", "checker_results",
              "checker_claims", "checker_judged_on"):
        if k in at.session_state:
            again.session_state[k] = at.session_state[k]
    again.run()
    assert not again.exception
    ver = at.session_state["checker_editor_version"]
    assert again.text_input(key=f"cid{ver}").value == "TYPED-1"
    assert json.loads(again.text_area(key=f"json{ver}").value)["claim_id"] == "TYPED-1"


def test_the_line_editor_takes_a_route_and_the_claim_carries_it():
    """The route note asked the analyst to state a route the line editor could not take (an analyst walk): the
    editor has a route column, and a line given one is judged for it (62370 on the intraventricular route is
    denied; with no route it is assumed and noted)."""
    import pandas as pd

    from cptkg import check
    from cptkg.faces.explorer.checker import claim_from_frames, lines_frame

    claim = {"claim_id": "R-1", "patient_id": "P-1", "lines": [
        {"line": 1, "code": "62370", "date_of_service": "2025-03-04", "provider_id": "D", "provider_role": "physician",
         "route": "intraventricular"}],
        "history": [{"code": "62362", "date_of_service": "2024-01-10"}]}
    frame = lines_frame(claim)
    assert frame.loc[0, "route"] == "intraventricular"
    back = claim_from_frames("R-1", "P-1", frame, pd.DataFrame(claim["history"]))
    assert back["lines"][0]["route"] == "intraventricular"
    assert check(back)["lines"][0]["status"] == "rejected"
    frame.loc[0, "route"] = None
    assert "route" not in claim_from_frames("R-1", "P-1", frame)["lines"][0]
    # a line stating no route is an empty cell, not "None" (an explorer audit), and reads as no route
    unstated = lines_frame({**claim, "lines": [{k: v for k, v in claim["lines"][0].items() if k != "route"}]})
    assert unstated.loc[0, "route"] == ""
    assert "route" not in claim_from_frames("R-1", "P-1", unstated)["lines"][0]


def test_the_explorers_work_paper_says_how_to_state_a_route_in_the_explorer_not_with_cli_options():
    """The work paper downloaded from the explorer said "…or with the FHIR item extension https://… ; cptkg check
    and batch also take --route" (an analyst walk): a paper an auditor signs says it in the explorer's words."""
    import cptkg
    from cptkg.faces.explorer.common import said_in_the_explorer

    claim = {"claim_id": "R-2", "patient_id": "P-1", "lines": [
        {"line": 1, "code": "62370", "date_of_service": "2025-03-04", "provider_id": "D", "provider_role": "physician"}],
        "history": [{"code": "62362", "date_of_service": "2024-01-10"}]}
    res = cptkg.explain(claim)
    assert "--route" in json.dumps(res)
    shown = said_in_the_explorer([res])
    assert "--route" not in json.dumps(shown) and "route column" in json.dumps(shown)
    assert "--route" in json.dumps(res)  # the result itself unchanged


def test_graph_page_shows_details_of_a_code():
    at = page_app("graph_page").run()
    assert not at.exception
    at.selectbox(key="graph_view").set_value("Neighbourhood of a node").run()
    assert not at.exception
    at.selectbox(key="graph_focus").set_value("62367").run()
    body = texts(at)
    assert "### 62367" in body and "who may perform it" in body


def test_graph_page_opens_on_a_family_codes_neighbourhood_with_who_may_perform_it():
    import cptkg

    kb = cptkg.load_kb()
    at = page_app("graph_page").run()
    assert not at.exception
    assert at.selectbox(key="graph_view").value == "Neighbourhood of a node"
    focus = at.selectbox(key="graph_focus").value
    assert focus in kb.family_codes()
    assert f"### {focus}" in texts(at) and "who may perform it" in texts(at)
    # the picker shows labels, not ids
    assert at.selectbox(key="graph_focus").options[0].endswith("· billing code")


def test_graph_page_filters_by_family_label_and_draws_the_exclusion_graph():
    import cptkg

    kb = cptkg.load_kb()
    at = page_app("graph_page").run()
    at.selectbox(key="graph_view").set_value("Exclusion graph of a family").run()
    assert not at.exception
    fam = at.multiselect(key="graph_families")
    assert kb.label(kb.pack.code_family) in fam.options and not [o for o in fam.options if o.startswith("family-")]
    assert fam.value == [kb.pack.code_family]
    assert any("from the code that stands to the code denied" in c.value for c in at.caption)


def test_graph_page_path_view_runs():
    at = page_app("graph_page").run()
    at.selectbox(key="graph_view").set_value("Path between two nodes").run()
    assert not at.exception
    assert any("nodes" in c.value for c in at.caption)


def test_finder_infers_62369_for_a_nurse_analysis_reprogramming_refill():
    at = page_app("finder").run()
    assert not at.exception
    assert any("Bill **62369**" in s.value for s in at.success)
    assert any(e.label.startswith("62370:") for e in at.expander)


def test_finder_reacts_to_ticked_services():
    at = page_app("finder").run()
    for s in ("reprogramming", "refill"):
        at.checkbox(key=f"finder_svc_{s}").uncheck()
    at.run()
    assert not at.exception
    assert any("Bill **62367**" in s.value for s in at.success)


def test_rules_page_lists_rules_sources_and_the_62368_conflict():
    at = page_app("rules_page").run()
    assert not at.exception
    body = texts(at)
    assert "code.unknown" in body or at.selectbox(key="rules_pick").value
    assert "Guide §7.1 contradicts itself" in body


def test_rules_page_says_rules_in_words_and_leaves_the_datalog_to_the_advanced_page():
    at = page_app("rules_page").run()
    at.selectbox(key="rules_pick").set_value("exclusion.component").run()
    assert not at.exception
    assert not at.code, "no rule text on the analyst's rules page"
    assert "billed/3" not in texts(at)
    # sources are picked by citation, and their facts read as sentences
    assert at.selectbox(key="sources_pick").options[0].startswith("guide §1 (General Billing Guidelines): “")
    adv = page_app("rule_text").run()
    adv.selectbox(key="ruletext_pick").set_value("exclusion.component").run()
    assert not adv.exception
    assert "reject(L) :-" in adv.code[0].value and "`billed/3`" in texts(adv)


def test_rules_page_runs_a_rules_cases():
    at = page_app("rules_page").run()
    at.selectbox(key="rules_pick").set_value("exclusion.component").run()
    btn = [b for b in at.button if b.label == "Run these cases"]
    assert btn
    btn[0].click().run()
    assert not at.exception
    assert at.success and not at.error


def test_query_page_runs_sparql_and_refuses_an_update():
    at = page_app("query").run()
    at.button(key="run_sparql").click().run()
    assert not at.exception
    assert at.dataframe and len(at.dataframe[0].value) == 22
    at.text_area(key="sparql_text").set_value("INSERT DATA { <urn:a> <urn:b> <urn:c> }").run()
    at.button(key="run_sparql").click().run()
    assert "updates" in at.error[0].value


def test_query_page_runs_datalog():
    at = page_app("query").run()
    at.button(key="run_datalog").click().run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df.columns) == ["C", "R"] and len(df) > 0


def test_export_page_offers_turtle():
    at = page_app("export").run()
    assert not at.exception
    assert "Download" in at.get("download_button")[0].proto.label


def test_export_page_speaks_of_downloads_not_of_the_clis_output_folder():
    """The format list said "needs -o DIRECTORY" (a CLI option) on the page (an explorer audit): the page
    offers each file of a several-file export to download; only the CLI's help names the folder."""
    at = page_app("export").run()
    labels = at.selectbox(key="export_format").options  # as the page shows them
    assert not any("-o" in x or "DIRECTORY" in x or "FOLDER" in x for x in labels), labels
    at.selectbox(key="export_format").set_value("csv").run()
    assert not at.exception
    shown = [b.proto.label for b in at.get("download_button")]
    assert any("nodes.csv" in x for x in shown) and any("edges.csv" in x for x in shown), shown


def test_batch_page_draws_without_input():
    at = page_app("batch").run()
    assert not at.exception
    assert [h.value for h in at.header] == ["Batch"]


def test_batch_page_drills_into_a_claim_and_prepares_the_work_paper():
    import cptkg
    from cptkg.faces.explorer.batch import judge_batch

    data = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
    kb = cptkg.load_kb()
    at = page_app("batch")
    at.session_state["batch_results"] = judge_batch(kb, data)
    at.session_state["batch_claims"] = data
    at.run()
    assert not at.exception
    body = texts(at)
    assert "Denied — Component of a more comprehensive code billed the same day" in body  # first rejected claim, in words
    assert "**Fix**:" in body
    at.radio(key="batch_view").set_value("month").run()
    assert not at.exception
    # the claim drilled into has its own work paper
    one = [d for d in at.get("download_button") if d.proto.label == "Download this claim's work paper (HTML)"]
    assert one
    at.button(key="batch_paper_make").click().run()
    assert not at.exception
    paper = at.session_state["batch_paper"].decode("utf-8")
    assert paper.startswith("<!DOCTYPE html>") and "Reason: <strong>" in paper
    assert "Download the work paper (HTML)" in [d.proto.label for d in at.get("download_button")]


def test_the_explorer_config_shows_no_error_details_and_no_links_out():
    """Users sit behind hospital firewalls: an unexpected error shows no traceback and no "Ask Google" /
    "Ask ChatGPT" links (Streamlit shows them on localhost unless told not to; found by an audit)."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["showErrorLinks"] is False
    assert config["browser"]["gatherUsageStats"] is False


def test_a_fix_that_leaves_no_line_is_not_offered_as_apply_fix():
    """Applied, "remove line 1: no line of this claim can be billed" made a claim of no lines, refused as
    "field lines: must not be empty" (found by an audit): the checker says to withdraw the claim instead."""
    at = page_app("checker").run()
    brain = {"claim_id": "E1", "patient_id": "P", "lines": [
        {"line": 1, "code": "62365", "date_of_service": "2025-03-04", "provider_id": "D1",
         "provider_role": "physician", "route": "intraventricular"}]}
    at.text_area[0].set_value(json.dumps(brain)).run()
    at.button(key="check_json").click().run()
    assert not at.exception
    results = at.session_state["checker_results"]
    assert [s["result_status"] for s in results[0]["suggestions"]] == ["empty"]
    assert not [b for b in at.button if b.label == "Apply fix"]
    assert any("withdraw the claim" in c.value for c in at.caption)


def test_several_pasted_claims_are_judged_through_the_progress_bar_without_an_exception_each_coming_back():
    at = page_app("checker").run()
    claims = [{"claim_id": f"P-{i}", "patient_id": "P", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1",
         "provider_role": "physician"}]} for i in range(3)]
    at.text_area[0].set_value(json.dumps(claims)).run()
    at.button(key="check_json").click().run()
    assert not at.exception
    assert [r["claim_id"] for r in at.session_state["checker_results"]] == ["P-0", "P-1", "P-2"]


@pytest.mark.parametrize("module", ["rules_page", "checker"])
def test_a_stray_engine_variable_is_said_on_the_page_and_the_default_engine_judges(module, monkeypatch):
    """With CPTKG_ENGINE=bogus the rules page crashed (its worked examples opened a session), and the checker
    judged with the default engine without a word (an analyst's audit in Chromium)."""
    monkeypatch.setenv("CPTKG_ENGINE", "bogus")
    at = page_app(module).run()
    assert not at.exception, at.exception
    assert any("'bogus' (from CPTKG_ENGINE) is not a rule engine" in w.value for w in at.warning), texts(at)


def test_a_claim_that_cannot_be_judged_can_be_corrected_in_the_box_and_checked_again():
    """An explorer audit: after a claim that could not be judged, the corrected date snapped back in the JSON box
    (and edits in the line editor) and the old claim was judged again: the widgets were made anew under a new
    key after the edit was typed into the old one."""
    at = page_app("checker").run()
    bad = {"claim_id": "X9", "patient_id": "P", "lines": [{"line": 1, "code": "95990", "date_of_service": "2025-02-30",
                                                          "provider_id": "N", "provider_role": "nurse"}]}
    at.text_area[0].set_value(json.dumps(bad)).run()
    at.button(key="check_json").click().run()
    assert "not a real calendar date" in texts(at)
    good = dict(bad, lines=[dict(bad["lines"][0], date_of_service="2025-02-03")])
    at.text_area[0].set_value(json.dumps(good)).run()
    assert json.loads(at.text_area[0].value)["lines"][0]["date_of_service"] == "2025-02-03"
    at.button(key="check_json").click().run()
    assert not at.exception
    assert at.session_state["checker_results"][0]["status"] == "accepted"


def test_input_typed_and_not_checked_is_kept_when_the_analyst_leaves_the_page_and_comes_back():
    """An explorer audit: a claim id and JSON typed but not checked came back as the example claim after a visit
    to another page (Streamlit forgets a widget's value when its page is left)."""
    src = ("import streamlit as st\nfrom cptkg.faces.explorer.checker import page\n"
           "if st.session_state.get('away'):\n    st.write('another page')\nelse:\n    page()\n")
    at = AppTest.from_string(src, default_timeout=60).run()
    typed = json.loads(at.text_area[0].value)
    typed["claim_id"] = "KEEP-2"
    at.text_area[0].set_value(json.dumps(typed)).run()
    at.text_input[0].set_value("EDITOR-KEEP").run()
    at.session_state["away"] = True
    at.run()
    at.session_state["away"] = False
    at.run()
    assert json.loads(at.text_area[0].value)["claim_id"] == "KEEP-2"
    assert at.text_input[0].value == "EDITOR-KEEP"
