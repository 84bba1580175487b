"""An analyst's questions (cptkg.questions, `cptkg ask`, the explorer's Questions page):
the answers are what the rules say, in words with their sources, for any pack."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import cptkg
from cptkg import questions as Q
from cptkg.faces.cli import main
from cptkg.knowledge.loader import load_kb

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "families" / "stimfix"
EDITS = ROOT / "tests" / "data" / "edits"
DATE = "2025-06-10"
SHAPE = {"question", "asked", "answer", "rows", "sources", "focus", "kb_version"}


def ask(*args):
    return CliRunner().invoke(main, ["ask", *args])


def one_line_claim(code, role, setup):
    claim = {"claim_id": "T", "patient_id": "P", "lines": [
        {"line": 1, "code": code, "date_of_service": DATE, "provider_id": "DR", "provider_role": role}]}
    if setup["implanted_by"]:
        claim["history"] = [{"code": setup["implanted_by"], "date_of_service": "2024-06-10", "provider_id": "DR"}]
    return claim


# ------------------------------------------------------------ who may perform

@pytest.mark.parametrize("code", load_kb().family_codes())
def test_who_may_perform_says_what_check_says_for_every_role_of_every_family_code(kb, code):
    answer = Q.who_may_perform(kb, code, date=DATE)
    assert [r["role"] for r in answer["rows"]] == cptkg.vocabulary(kb).values("role")
    for row in answer["rows"]:
        line = cptkg.check(one_line_claim(code, row["role"], answer["setup"]), kb=kb)["lines"][0]
        assert (row["status"], row["verdict"]) == (line["status"], line["verdict"]), (code, row["role"])
        assert row["may_perform"] == (line["status"] == "accepted")  # no rejection common to every role here
        if not row["may_perform"]:
            assert row["role_label"] in answer["answer"] and row["reasons"][0]["title"] in answer["answer"]
    assert answer["for_every_role"] == []


def test_who_may_perform_refuses_a_nurse_62370_and_bills_a_nurse_62367_under_the_supervisor(kb):
    by_role = {r["role"]: r for r in Q.who_may_perform(kb, "62370", date=DATE)["rows"]}
    assert not by_role["nurse"]["may_perform"] and by_role["nurse"]["reasons"][0]["denial"] == "CO-185"
    assert by_role["physician"]["may_perform"]
    nurse = next(r for r in Q.who_may_perform(kb, "62367", date=DATE)["rows"] if r["role"] == "nurse")
    assert nurse["may_perform"] and "supervising physician or QHP" in nurse["verdict"]


def test_who_may_perform_follows_the_knowledge_base_when_it_changes(tmp_path):
    pack = tmp_path / "stimfix"
    shutil.copytree(FIXTURE, pack)
    codes = pack / "kb" / "codes.ttl"
    text = codes.read_text(encoding="utf-8")
    assert "ont:mayBePerformedBy ont:FxSurgeon, ont:FxTechnologist" in text
    codes.write_text(text.replace("ont:mayBePerformedBy ont:FxSurgeon, ont:FxTechnologist",
                                  "ont:mayBePerformedBy ont:FxSurgeon"), encoding="utf-8")
    before = {r["role"]: r["may_perform"] for r in Q.who_may_perform(load_kb(FIXTURE), "9993T", date=DATE)["rows"]}
    after = {r["role"]: r["may_perform"] for r in Q.who_may_perform(load_kb(pack), "9993T", date=DATE)["rows"]}
    assert before == {"surgeon": True, "technologist": True}
    assert after == {"surgeon": True, "technologist": False}


# ------------------------------------------------------------------ not with

def _edit_rows(kb):
    return [r for r in Q.edit(kb)["rows"] if r["kind"] == "pair"]


def test_not_with_names_the_standing_code_for_every_pair_edit_of_the_pack(kb):
    answers = {}
    for edit in _edit_rows(kb):
        kind = Q.edit(kb, edit["id"], date=DATE)["rows"][0]["edit_kind"]
        for first, second in itertools.product(edit["column1"], edit["column2"]):
            answer = answers.get(second) or answers.setdefault(second, Q.not_with(kb, second, date=DATE))
            row = next((r for r in answer["rows"] if r["code"] == first), None)
            assert row is not None, f"{edit['id']}: {second} with {first} is not denied"
            assert edit["id"] in row["edits"]
            if kind == "NoSingleCodeEdit":
                assert row["stands"] == [] and set(row["denied"]) == {first, second}
                assert f"with {first}: both are denied" in answer["answer"]
            else:
                assert (row["stands"], row["denied"]) == ([first], [second]), edit["id"]
                assert f"with {first}: {first} stands and {second} is denied" in answer["answer"]
            assert all(r.get("carc") for r in row["reasons"]) and row["sources"]


def test_not_with_reads_imported_edits_in_their_dates(kb):
    from cptkg.knowledge.loader import default_kb

    with_edits = default_kb(edits=[EDITS / "synthetic-ptp.ttl"])
    row = next(r for r in Q.not_with(with_edits, "95990", date=DATE)["rows"] if r["code"] == "64999")
    assert (row["stands"], row["denied"]) == (["64999"], ["95990"])
    assert row["reasons"][0]["denial"] == "CO-236"
    assert "64999" not in {r["code"] for r in Q.not_with(kb, "95990", date=DATE)["rows"]}


# ------------------------------------------------------------------ codes for

def test_codes_for_a_nurse_and_a_programmable_pump_leaves_out_what_needs_a_qhp(kb):
    answer = Q.codes_for(kb, device="programmable_pump", role="nurse")
    assert {"62367", "62368", "62369", "95990"} <= set(answer["fits"])
    assert not {"62370", "95991", "62360"} & set(answer["fits"])
    row = next(r for r in answer["rows"] if r["code"] == "62370")
    assert row["reasons"] and "nurse" in row["reasons"][0]["message"]
    for code in answer["fits"]:  # what infer fits, check accepts for that performer and device
        res = cptkg.infer({"encounter_id": "E", "performer_role": "nurse", "device": "programmable_pump",
                           "services": [cptkg.vocabulary(kb).value_of("service", s)
                                        for s in sorted(t for c, t in kb.facts["requires_service"] if c == code)]},
                          kb=kb)
        assert code in [c["code"] for c in res["codes"]]


def test_codes_for_a_physician_says_62369_fits_and_62370_is_billed_instead_never_does_not_fit(kb):
    """Guide §8.2 lists the physician for 62369; the inference rules bill 62370 (the same services requiring a
    physician's or QHP's skill) for a physician. The row read "62369 does not fit · 62369 fits, but ..." (a
    coder's audit): it says the code fits and which code is billed in its place, with the skill named as a
    skill, not as a documented service."""
    answer = Q.codes_for(kb, device="programmable_pump", role="physician")
    rows = {r["code"]: r for r in answer["rows"]}
    for code, instead in (("62369", "62370"), ("95990", "95991")):
        assert rows[code]["included_in"] == [instead] and not rows[code]["fits"]
        message = rows[code]["reasons"][0]["message"]
        assert rows[code]["reasons"][0]["rule"] == "why-not.skill-code"
        assert "covers everything documented" not in message and "requiring the skill of a physician" in message
    assert rows["62360"]["included_in"] == []
    text = ask("codes-for", "--device", "programmable_pump", "--role", "physician").output
    assert "62369   fits, 62370 billed instead · " in text and "62369   does not fit" not in text
    # the graph's nodes by their labels, as the explorer names them
    assert "programmable pump, physician" in " ".join(text.split()) and "ProgrammablePump" not in text


def test_who_may_perform_gives_a_fact_its_own_confidence_below_its_sources(kb):
    """A nurse practitioner for 62369 rests on the notes' definition of a QHP (a high-confidence sentence that
    names no code); the KB records the fact as medium. The answer said "(domain notes, Who may perform (high
    confidence))" (a coder's audit)."""
    text = " ".join(Q.who_may_perform(kb, "62369", date=DATE)["answer"].split())
    assert ("a nurse practitioner may perform and report it (domain notes, Who may perform: medium confidence, "
            "no source names a nurse practitioner for 62369)") in text
    assert "physician assistant may perform and report it (guide §8.2 (Billing Guidelines))" in text


def test_not_with_a_drug_judges_it_with_the_modifier_it_requires_so_its_refill_is_compatible(kb):
    """The notes put the drug on the refill's claim with modifier KD. "not-with J0475" named 62369, 62370, 95990
    and 95991 as codes that may not be billed with it, each denying J0475 for the KD its synthetic line left out
    (a coder's audit)."""
    answer = Q.not_with(kb, "J0475", date=DATE)
    assert not any(r["code"] in {"62369", "62370", "95990", "95991"} for r in answer["rows"]), answer["rows"]
    assert {"95990", "95991"} <= set(answer["compatible"])
    assert "(the line of J0475 with modifier KD, which it requires)" in " ".join(answer["answer"].split())


def test_codes_for_says_a_code_no_source_lists_performers_for_fits_with_its_performer_not_checked(kb):
    """A physical therapist "fits" a pump implant and a removal with no caveat (an analyst walk), where check warns
    that the performer was not checked: the answer says the same, and a physician gets no such caveat."""
    answer = Q.codes_for(kb, device="nonprogrammable_pump", role="physical_therapist")
    rows = {r["code"]: r for r in answer["rows"]}
    assert rows["62361"]["fits"] and rows["62361"]["performer_checked"] is False
    assert rows["95990"]["performer_checked"] is True
    assert "No source here lists who performs 62361 and 62365" in " ".join(answer["answer"].split())
    assert "62361   fits, performer not checked" in ask("codes-for", "--device", "nonprogrammable_pump", "--role",
                                                        "physical_therapist").output
    doctor = Q.codes_for(kb, device="nonprogrammable_pump", role="physician")
    assert all(r["performer_checked"] for r in doctor["rows"])


def test_codes_for_says_what_check_says_of_a_fitting_code_billed_by_that_performer(kb):
    """A physical therapist's 95990 was a plain "fits", where check accepts it only with a scope-of-practice
    warning (an analyst's audit): each fitting code carries check's verdict as billed, and the answer says the
    warning; a physician's 95991 carries no warning."""
    answer = Q.codes_for(kb, device="programmable_pump", role="physical_therapist")
    rows = {r["code"]: r for r in answer["rows"]}
    assert [w["rule"] for w in rows["95990"]["as_billed"]["warnings"]] == ["role.unlisted-performer"]
    assert rows["95991"]["as_billed"] is None and not rows["95991"]["fits"]
    said = " ".join(answer["answer"].split())
    assert "Billed by a physical therapist, 95990 is accepted by check with a warning: no source says whether a " \
           "physical therapist may perform 95990:" in said
    assert "line 1" not in said
    out = " ".join(ask("codes-for", "--device", "programmable_pump", "--role", "physical_therapist").output.split())
    assert "95990 fits · refill and maintenance · as billed: accepted, but no source names this performer" in out
    nurse = {r["code"]: r for r in Q.codes_for(kb, device="programmable_pump", role="nurse")["rows"]}
    assert "role.clinical-staff-reports" in {w["rule"] for w in nurse["95990"]["as_billed"]["warnings"]}
    doctor = {r["code"]: r for r in Q.codes_for(kb, device="programmable_pump", role="physician")["rows"]}
    assert doctor["95991"]["fits"] and doctor["95991"]["as_billed"]["warnings"] == []
    assert doctor["95991"]["as_billed"]["status"] == "accepted"


# ------------------------------------------------------------------- sources

def test_rests_on_lists_the_rules_and_edits_citing_a_sentence(kb):
    answer = Q.rests_on(kb, "g1-1")
    ids = {r["id"] for r in answer["rows"] if r["kind"] in ("rule", "edit")}
    assert {"exclusion.component", "edit-refill-includes-analysis"} <= ids
    assert answer["sources"][0]["quote"].startswith("Do not report CPT 62367")
    assert answer["focus"][0] == "g1-1"


def _sources_json(*kb_args):
    r = CliRunner().invoke(main, ["sources", "--json", *kb_args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_unsupported_sentences_are_those_cptkg_sources_flags(tmp_path):
    pack = tmp_path / "stimfix"
    shutil.copytree(FIXTURE, pack)
    with (pack / "kb" / "sources.ttl").open("a", encoding="utf-8") as f:
        f.write('src:fx-orphan a ont:Source ; dct:isPartOf src:fx-guide ; ont:section "5" ; '
                'ont:sectionTitle "Fixture orphan" ; ont:quote "FIXTURE: a billing rule no rule encodes." ; '
                'ont:confidence ont:High ; ont:normative true .\n')
    for kb_args in ((), ("--kb", str(pack))):
        flagged = _sources_json(*kb_args)
        r = ask("unsupported", "--json", *kb_args)
        assert r.exit_code == 0, r.output
        answer = json.loads(r.stdout)
        assert answer["unused"] == flagged["unused"]
        assert answer["unsourced"] == [u["fact"] for u in flagged["unsourced"]]
    assert answer["unused"] == ["fx-orphan"] and "a billing rule no rule encodes" in answer["answer"]


# --------------------------------------------------------------------- edits

def test_edit_gives_dates_scope_and_modifier_indicator_of_an_imported_row():
    r = ask("edit", "urn:cptkg:synthetic-ptp:row-2", "--edits", str(EDITS / "synthetic-ptp.ttl"), "--date", DATE,
            "--json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)["rows"][0]
    assert (row["effective"], row["deleted"], row["in_force"]) == ("2020-01-01", "2025-01-01", False)
    assert (row["scope"], row["modifier_indicator"], row["table_row"]) == ("SameProvider", "0", 2)
    assert row["applied"][0]["date"] == "2020-01-01" and row["applied"][0]["stands"] == ["29881"]


# ---------------------------------------------------------------- the CLI

@pytest.mark.parametrize("args,field,hint", [
    (["who-may-perform", "99999"], "code", "62367"),
    (["not-with", "<b>x</b>"], "code", "62367"),
    (["codes-for", "--device", "programmable_pump", "--role", "surgeon"], "role", "'physician'"),
    (["codes-for", "--device", "pump", "--role", "nurse"], "device", "'programmable_pump'"),
    (["codes-for", "--device", "programmable_pump", "--role", "nurse", "--route", "oral"], "route", "'intrathecal'"),
    (["rests-on", "g99-1"], "source", "cptkg sources"),
    (["edit", "no-such-edit"], "edit", "edit-analysis-level-2"),
    # written as a date, but no day: said so, not "not written YYYY-MM-DD" (an audit)
    (["who-may-perform", "62367", "--date", "2025-02-30"], "date", "not a real calendar date"),
    (["who-may-perform", "62367", "--date", "2025-2-3"], "date", "YYYY-MM-DD"),
])
def test_a_bad_question_is_one_line_naming_the_field_and_exit_2(args, field, hint):
    r = ask(*args)
    assert r.exit_code == 2
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"cptkg: ask {args[0]}: {field}: ")
    assert hint in r.stderr


@pytest.mark.parametrize("args", [
    ["who-may-perform", "62367"], ["not-with", "95990"], ["codes-for", "--device", "programmable_pump", "--role", "nurse"],
    ["rests-on", "g6.2-1"], ["unsupported"], ["edit"], ["edit", "edit-refill-skill-level"],
])
def test_json_answer_shape(kb, args):
    r = ask(*args, "--json")
    assert r.exit_code == 0, r.output
    answer = json.loads(r.stdout)
    assert SHAPE <= set(answer) and answer["question"] == args[0]
    assert isinstance(answer["answer"], str) and answer["answer"]
    assert all({"id", "citation", "quote"} <= set(s) for s in answer["sources"])
    assert set(answer["focus"]) <= set(cptkg.views.knowledge_graph(kb))
    text = ask(*args)
    assert text.exit_code == 0 and answer["answer"][:40] in text.stdout.replace("\n  ", " ")


def test_the_second_family_pack_is_asked_with_kb_and_no_python_change():
    kb_args = ("--kb", str(FIXTURE))
    who = json.loads(ask("who-may-perform", "9993T", "--json", *kb_args).stdout)
    assert {r["role"]: r["may_perform"] for r in who["rows"]} == {"surgeon": True, "technologist": True}
    pair = json.loads(ask("not-with", "9993T", "--json", *kb_args).stdout)
    assert [(r["code"], r["stands"], r["denied"]) for r in pair["rows"]] == [("9992T", ["9992T"], ["9993T"])]
    fits = json.loads(ask("codes-for", "--device", "stimulator", "--role", "technologist", "--json", *kb_args).stdout)
    assert fits["fits"] == ["9993T"]
    rests = json.loads(ask("rests-on", "fx-interrogation", "--json", *kb_args).stdout)
    assert "fx.included" in {r.get("id") for r in rests["rows"]}
    assert ask("unsupported", *kb_args).exit_code == 0
    refused = ask("who-may-perform", "62367", *kb_args)
    assert refused.exit_code == 2 and "9991T" in refused.stderr


# -------------------------------------------------------------- the explorer

APP = '''
import streamlit as st
from cptkg.faces.explorer import graph_page, questions
st.navigation([st.Page(questions.page, title="Questions", url_path="questions", default=True),
               st.Page(graph_page.page, title=graph_page.TITLE, url_path=graph_page.URL_PATH)]).run()
'''


def test_questions_page_answers_a_form_and_opens_the_graph_on_the_code():
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(APP, default_timeout=180).run()
    assert not at.exception and [h.value for h in at.header] == ["Questions"]
    at.selectbox(key="questions_who_code").set_value("62370")
    at.date_input(key="questions_who_date").set_value(dt.date(2025, 6, 10))
    at.button(key="FormSubmitter:questions_form_who-Ask").click().run()
    assert not at.exception
    assert "Refused: a nurse" in at.info[0].value
    assert list(at.dataframe[0].value["performer"]) == ["nurse", "nurse practitioner", "physical therapist",
                                                       "physician", "physician assistant"]
    at.button(key="FormSubmitter:questions_form_rests_on-Ask").click().run()
    at.button(key="FormSubmitter:questions_form_codes_for-Ask").click().run()
    assert not at.exception and len(at.info) == 3
    at.selectbox(key="questions_focus_who-may-perform").set_value("62370")
    at.button(key="questions_graph_who-may-perform").click().run()
    assert not at.exception
    assert [h.value for h in at.header] == ["Knowledge graph"]
    assert at.selectbox(key="graph_focus").value == "62370"
    assert any(m.value.startswith("### 62370") for m in at.markdown)


def test_not_with_rows_name_their_edits_in_words_and_the_explorer_table_shows_those(kb):
    """An explorer audit: the Questions table's edit column read edit-refill-includes-analysis, where analyst
    pages name an edit by its label."""
    from cptkg.faces.explorer.questions import _rows

    answer = Q.not_with(kb, "95990", date=DATE)
    row = next(r for r in answer["rows"] if r["code"] == "62367")
    assert row["edit_labels"] == [kb.label(e) for e in row["edits"]] and row["edit_labels"][0] != row["edits"][0]
    table = next(t for t in _rows(answer) if t["with"] == "62367")
    assert table["edit"] == row["edit_labels"][0] and "edit-" not in table["edit"]


def test_not_with_says_its_edits_apply_whoever_bills_the_other_code(kb):
    """An explorer audit: "billed ... by the same provider" read as if another provider's line escaped the pack's
    edits, which apply across providers (scope: any provider)."""
    answer = Q.not_with(kb, "95990", date=DATE)
    assert "These edits (scope: any provider) apply whoever bills the other code: another provider too." \
        in answer["answer"], answer["answer"]


def test_rests_on_an_imported_edit_tables_source_lists_its_edits():
    """An integrator's audit: `ask rests-on` of an edit table's source said "Nothing rests on it" while every edit of
    the table cites it (the table's edits are not in the graph)."""
    from cptkg.knowledge.loader import default_kb

    with_edits = default_kb(edits=[EDITS / "synthetic-ptp.ttl"])
    answer = Q.rests_on(with_edits, "urn:cptkg:synthetic-ptp:source")
    edits = [r for r in answer["rows"] if r["kind"] == "edit"]
    assert len(edits) == 5 and all(r["id"].startswith("urn:cptkg:synthetic-ptp:row-") for r in edits), answer
    assert "Nothing rests on it" not in answer["answer"] and "5 edit(s): " in answer["answer"]

