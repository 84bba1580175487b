"""The checker shows the coder's fixes as they are (issue 23, finding 4, on the explorer).

The fix search offers recodes, changed modifiers and questions (``cptkg.explanation.fixes``); the
checker's fix list must say them so: "replace lines 1 and 2 by 62369", "line 2: modifier 77 → 76",
"Ask first: …" above a conditional fix and "Otherwise" before the removal that follows it. The
fixes read here are the fix search's own, for the claims of the finding; claim, patient and
provider ids are synthetic (SYN-…); codes, roles and modifiers are the ones the issue names
(domain notes: "Who may perform", "What may be billed together", "How payers apply edits",
"Drug codes billed with a refill").
"""
from cptkg import apply_suggestion
from cptkg.faces.explorer.checker import fix_summary
from cptkg.faces.explorer.explaining import judge
from cptkg.faces.explorer.proofs import fix_markdown, line_summary_markdown


def claim(*lines):
    """A synthetic claim: every line on 2025-03-04 by provider SYN-1 (a nurse) unless it says otherwise."""
    base = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "SYN-1", "provider_role": "nurse"}
    return {"claim_id": "SYN-CHK-1", "patient_id": "SYN-P-1", "lines": [dict(base, **l) for l in lines],
            "history": [{"code": "62362", "date_of_service": "2024-01-01"}]}


def fixes(kb, raw):
    res = judge(kb, raw)[0]
    assert res["status"] == "rejected", res
    return res["suggestions"], res


def test_a_recode_of_two_lines_reads_as_one_replacement(kb):
    raw = claim({"code": "62370"}, {"line": 2, "code": "95990"})
    got, _ = fixes(kb, raw)
    assert fix_summary(got[0], raw) == "replace lines 1 and 2 by 62369"
    assert "remove line" not in fix_summary(got[0], raw)
    assert judge(kb, apply_suggestion(raw, got[0]))[0]["status"] == "accepted"


def test_a_changed_modifier_reads_old_to_new(kb):
    raw = claim({"code": "62367", "provider_role": "physician"},
                {"line": 2, "code": "62367", "provider_role": "physician", "modifiers": ["77"]})
    got, _ = fixes(kb, raw)
    assert fix_summary(got[0], raw) == "line 2: modifier 77 → 76"
    assert apply_suggestion(raw, got[0])["lines"][1]["modifiers"] == ["76"]


def test_a_drug_without_kd_reads_add_kd_and_no_removal(kb):
    raw = claim({"code": "95990"}, {"line": 2, "code": "J2278"})
    got, _ = fixes(kb, raw)
    assert [fix_summary(s, raw) for s in got] == ["line 2: add modifier KD"]


def test_a_conditional_fix_asks_first_and_its_removal_reads_otherwise(kb):
    raw = claim({"code": "62367", "provider_role": "physician"}, {"line": 2, "code": "62367", "provider_role": "physician"})
    got, res = fixes(kb, raw)
    first = fix_markdown(got[0], [])
    assert first.startswith(":material/help: **Ask first**: Was 62367 on line 2 a true repeat")
    assert first.index("Ask first") < first.index("mark it 76")
    removal = next(i for i, s in enumerate(got) if s["kind"] == "remove")
    text = fix_markdown(got[removal], got[:removal])
    assert text.startswith("**Otherwise** ") and "Otherwise," not in text and "Remove line 2" in text
    # the line's own summary says the same as the fix list
    summary = line_summary_markdown(res["lines"][1], got)
    assert "**Ask first**" in summary and "**Otherwise**" in summary


def test_a_removal_with_no_question_before_it_is_not_called_otherwise():
    s = {"kind": "remove", "message": "Otherwise, remove line 2 (62367).", "remove_lines": [2]}
    assert not fix_markdown(s, [{"kind": "recode", "question": ""}]).startswith("**Otherwise**")


def test_a_single_line_recode_names_the_old_code_when_the_claim_is_known():
    s = {"kind": "recode", "remove_lines": [3], "add_lines": [{"line": 3, "code": "95990"}]}
    raw = claim({"code": "62367"}, {"line": 2, "code": "95990"}, {"line": 3, "code": "95991"})
    assert fix_summary(s, raw) == "line 3: 95991 → 95990"
    assert fix_summary(s) == "line 3: change the code to 95990"


def test_a_recode_beside_a_dropped_line_keeps_the_removal_when_the_search_says_so():
    # synthetic fix: lines 1 and 2 combined into line 1, line 4 dropped (the search's ``dropped``)
    s = {"kind": "remove", "remove_lines": [1, 2, 4], "add_lines": [{"line": 1, "code": "62369"}], "dropped": [4]}
    assert fix_summary(s) == "replace lines 1 and 2 by 62369; remove line 4"


def test_fewer_units_read_as_the_units_billed_not_as_a_code_changed_to_itself():
    """A unit edit's fix bills the line with the units it allows: 'line 1: bill 1 unit', not '62367 → 62367'."""
    from pathlib import Path

    from cptkg.knowledge.loader import load_kb

    pack = Path(__file__).resolve().parents[1] / "kb" / "pump"
    kb = load_kb(pack, edits=[pack / "rules" / "edits" / "synthetic-mue.ttl"])
    raw = claim({"code": "62367", "provider_role": "physician", "units": 3})
    got, _ = fixes(kb, raw)
    assert got[0]["kind"] == "units"
    assert fix_summary(got[0], raw) == "line 1: bill 1 unit"
    assert "change the units" in fix_markdown(got[0])
