"""Issue 23, finding 9: the rules page showed most rules' messages as templates full of "…" blanks (only the
rules a worked example fills read as sentences). Every rule of the pack now reads as a billing sentence: its
template said with the words for what each variable holds, a worked example's filled message where one shows
the rule, and for a helper rule what it establishes. These tests walk every rule of the pack through the
functions the page calls (``rule_table`` and ``rule_words``)."""
from __future__ import annotations

import re

import pytest

from cptkg.faces.explorer import rules_page


def _variables(rule_text: str) -> set[str]:
    """The named Datalog variables of a rule's text (quoted constants and comment lines left out)."""
    code = "\n".join(x for x in rule_text.splitlines() if not x.lstrip().startswith("%"))
    code = re.sub(r'"(?:[^"\\]|\\.)*"', " ", code)
    return set(re.findall(r"\b[A-Z][A-Za-z0-9_]*\b", code))


def _raw_variables(text: str, variables: set[str], template: str) -> list[str]:
    """Rule variables shown as such: a capitalised word of ``text`` that is a variable of the rule and not a word
    of the template's own text (a sentence's first word is read in lower case: "A code" is an article)."""
    literal = re.sub(r"\{[^{}]*\}", " ", template)
    body = re.sub(r"(^|[.!?]\s+)([A-Z])", lambda m: m.group(1) + m.group(2).lower(), text)
    return sorted({w for w in re.findall(r"\b[A-Z][A-Za-z0-9_]*\b", body)
                   if w in variables and not re.search(rf"\b{re.escape(w)}\b", literal)})


def test_the_raw_variable_check_catches_a_variable_left_in_a_sentence():
    assert _raw_variables("62367 on line L is denied: Code repeats", {"L", "Code"}, "{C} on line {L}") == ["Code", "L"]
    assert _raw_variables("A code on a line", {"A", "L"}, "{C} on line {L}") == []


def test_every_rule_of_the_pack_reads_as_a_sentence_without_blanks_or_variable_names(kb):
    rows = rules_page.rule_table(kb)
    assert len(rows) == len(kb.check_program.rules) + len(kb.infer_program.rules)
    bad, with_example = [], 0
    for r in rows:
        shown = rules_page.rule_words(kb, r)
        with_example += len(shown) == 3
        for text in [r["title"], *shown]:
            raw = _raw_variables(text, _variables(r["text"]), r["message"])
            if "…" in text or "{" in text or "}" in text or raw or not text.strip():
                bad.append(f"{r['id']}: {text!r} (variables shown: {raw})")
    assert not bad, "\n".join(bad)
    # most rules are shown by a worked example's filled message, helper rules included (before: about 26 of 93)
    assert with_example > len(rows) * 3 // 4


def test_a_rule_no_worked_example_shows_is_said_by_what_its_variables_hold(kb):
    rows = {r["id"]: r for r in rules_page.rule_table(kb)}
    # units.per-line is shown only by examples that load an edit file: its template said in words
    per_line = rows["units.per-line"]
    assert per_line["says"].startswith("A line bills a number of units of a code; at most another number of units "
                                       "of the code may be billed on one line")
    comp = rows["exclusion.component"]
    assert comp["says"].startswith("A code on a line is included in another code (a line or history entry) for the "
                                   "same date: the other code is the comprehensive service, eligible for payment under the edit")
    assert comp["does"] == "denies the line"


def test_the_edit_rules_are_shown_by_the_worked_examples_that_load_the_packs_synthetic_edit_files(kb):
    """The pair- and unit-edit rules fire only on an edit table: their examples load the pack's
    synthetic edit files (as ``cptkg test`` does), and before they had no example on the page."""
    rows = {r["id"]: r for r in rules_page.rule_table(kb)}
    name, message = rules_page.rule_example(kb, rows["units.per-line"])
    assert "synthetic" in name
    assert message.startswith("line 1 bills 2 units of ") and "at most 1 unit(s)" in message
    edit_rules = [r for r in rows.values() if r["id"].startswith(("ncci.", "units."))]
    assert edit_rules and all(rules_page.rule_example(kb, r) for r in edit_rules), \
        [r["id"] for r in edit_rules if not rules_page.rule_example(kb, r)]


def test_an_example_naming_an_edit_file_outside_the_pack_is_not_judged(kb, tmp_path):
    assert rules_page._case_kb(kb, ["../../../etc/passwd"]) is None
    assert rules_page._case_kb(kb, ["edits/no-such-file.ttl"]) is None
    assert rules_page._case_kb(kb, []) is kb


@pytest.mark.parametrize("template,nouns,said", [
    ("{C} on line {L} is included in {C1} ({E:entry}); {C} is denied",
     {"C": "code", "L": "line", "C1": "code", "E": "line"},
     "A code on a line is included in another code (another line); the code is denied"),
    ('modifier {M} on line {L} does not bypass the edit "{X:label}"', {"M": "modifier", "L": "line", "X": "pair edit"},
     "A modifier on a line does not bypass the edit"),
    ("{C} repeats {C} for the same date {D}", {"C": "code", "D": "date of service"},
     "A code repeats the code for the same date"),
    ("the performer is a {R:label}", {}, "The performer is a term"),
])
def test_a_field_is_said_by_the_noun_of_its_variable(template, nouns, said):  # synthetic templates
    assert rules_page.words_for(template, nouns) == said.replace("a term", "a value")


def test_a_helper_rule_shows_what_it_establishes_with_a_worked_example(kb):
    rows = {r["id"]: r for r in rules_page.rule_table(kb)}
    step = rows["edit.applies"]  # a step of the exclusion rules: no verdict of its own
    assert step["does"] == rules_page.STEP
    name, message = rules_page.rule_example(kb, step)
    assert name and re.search(r"applies to line \d+ \(column 2\) and line \d+ \(column 1\) on \d{4}-\d\d-\d\d", message)


def test_the_rules_page_table_says_every_rule_in_words_and_no_developer_words():
    from tests.test_app import page_app, texts

    at = page_app("rules_page").run()
    assert not at.exception
    for kind in ("claim", "infer"):
        at.radio(key="rules_kind").set_value(kind).run()
        frame = at.dataframe[0].value
        assert list(frame.columns) == ["rule", "what it does", "says", "sources", "worked examples"]
        assert len(frame) and not frame["says"].str.contains("…|\\{", regex=True).any()
    body = texts(at) + " ".join(c.value for c in at.caption)
    assert not re.search(r"\bpin(s|ning)?\b|cases that pin|Rule engine", body)
    assert any(m.value.startswith("**says**: ") and "…" not in m.value for m in at.markdown)


def test_run_these_cases_passes_every_worked_example_of_every_rule_on_the_sessions_engine(kb):
    """The page's "Run these cases" stopped with "no engine chosen" on every rule (found by an audit):
    it runs each rule's worked examples on the engine the session chose, and the pack's examples pass."""
    from cptkg import engines

    ran = 0
    for r in rules_page.rule_table(kb):
        if not r["cases"]:
            continue
        got = rules_page.run_rule_cases(kb, r, engines.DEFAULT)
        assert got and all(ok for _, ok, _ in got), (r["id"], [(n, p) for n, ok, p in got if not ok])
        ran += len(got)
    assert ran >= 100
