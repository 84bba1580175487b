"""Fixes a coder would make (issue 23, finding 4): a recode or a modifier is
searched before a removal, every fix is re-judged by the rules, and a billable
line is never dropped beside a fix that keeps it.

Each case of the finding is a claim here; every fix a test reads is applied
and judged again (``rejudged``), on every engine. Claim ids, patient ids and
provider ids are synthetic; the codes, roles and modifiers are the ones the
issue names, and what a fix should be comes from the sources it cites (domain
notes: "Who may perform", "What may be billed together", "How payers apply
edits": exact duplicates and modifiers 76/77; "Drug codes billed with a
refill": KD).
"""
import pytest

from cptkg.explanation import apply_suggestion, explain_claim
from cptkg.explanation.fixes import MAX_FIX_TRIES, search_fixes
from cptkg.judge.check import check_claim
from cptkg.claims.models import parse_claim

pytestmark = pytest.mark.usefixtures("each_engine")


def claim(*lines, history=None):
    """A synthetic claim: one patient, every line on 2025-03-04 by provider SYN-1 unless a line says otherwise."""
    base = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "SYN-1", "provider_role": "nurse"}
    return {"claim_id": "SYN-FIX-1", "patient_id": "SYN-P-1", "lines": [dict(base, **l) for l in lines],
            "history": history if history is not None else [{"code": "62362", "date_of_service": "2024-01-01"}]}


def fixes(kb, raw):
    return explain_claim(kb, parse_claim(raw, kb=kb)).to_json()["suggestions"]


def rejudged(kb, raw, s):
    """The claim with the fix applied, judged again by the rules (never trusting the fix's own word)."""
    return check_claim(kb, parse_claim(apply_suggestion(raw, s), kb=kb))

def with_unit_limit(kb, tmp_path, code: str, indicator: str):
    """``kb`` with one SYNTHETIC unit edit: at most 1 unit of ``code``, adjudication indicator ``indicator``."""
    from cptkg.knowledge.loader import load_kb

    edits = tmp_path / "mue.ttl"
    edits.write_text(f"""@prefix ont: <https://w3id.org/cptkg/ontology#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix e: <urn:cptkg:synthetic-mue:> .
e:source a ont:Source ; rdfs:label "SYNTHETIC-MUE.txt" ; ont:citation "SYNTHETIC edit table" ;
    ont:fileSha256 "{'ab' * 32}" .
e:u4 a ont:UnitEdit ; ont:editCode "{code}" ; ont:maxUnits 1 ; ont:adjudicationIndicator "{indicator}" ;
    ont:rationale "SYNTHETIC" ; dct:source e:source ; ont:sourceRow 4 .
""", encoding="utf-8")
    return load_kb(kb.pack.root, edits=[edits])



def test_a_nurses_62370_with_95990_is_recoded_to_62369_not_removed(kb):
    # the rule's message: "analysis with reprogramming and refill by a nurse is 62369"
    raw = claim({"code": "62370"}, {"line": 2, "code": "95990"})
    got = fixes(kb, raw)
    first = got[0]
    assert (first["kind"], first["remove_lines"], first["add_codes"]) == ("recode", [1, 2], ["62369"])
    assert first["add_lines"][0]["provider_role"] == "nurse"
    assert rejudged(kb, raw, first).status == "accepted"
    assert [l.code for l in rejudged(kb, raw, first).lines] == ["62369"]
    # the old fix, "remove line 1 (62370)", drops the nurse's analysis and reprogramming: not offered
    assert not any(s["kind"] == "remove" for s in got), got


def test_a_physical_therapists_62367_with_95991_is_95990_alone(kb):
    # 95990 includes the electronic analysis when performed; 95991 needs a physician or QHP
    raw = claim({"code": "62367", "provider_role": "physical_therapist"},
                {"line": 2, "code": "95991", "provider_role": "physical_therapist"})
    got = fixes(kb, raw)
    first = got[0]
    assert (first["kind"], first["remove_lines"], first["add_codes"]) == ("recode", [1, 2], ["95990"])
    again = rejudged(kb, raw, first)
    assert again.status == "accepted" and [l.code for l in again.lines] == ["95990"]
    assert not any(s["remove_lines"] == [2] and not s["add_codes"] for s in got), "remove 95991 is not a coder's fix"


def test_an_unmarked_duplicate_asks_whether_it_was_a_true_repeat_before_removing_it(kb):
    raw = claim({"code": "62367", "provider_role": "physician"}, {"line": 2, "code": "62367", "provider_role": "physician"})
    got = fixes(kb, raw)
    first = got[0]
    assert (first["kind"], first["add_modifiers"], first["remove_lines"]) == ("modifier", {"2": ["76"]}, [])
    assert "true repeat" in first["question"] and first["question"].endswith("?")
    assert rejudged(kb, raw, first).status == "accepted"
    # 77 (another physician) does not fit the same provider's repeat: the rules refuse it, so it is not offered
    assert not any("77" in m for s in got for m in s["add_modifiers"].values())
    # if it was not a repeat, it is a duplicate: the removal stays, after the question, as its "otherwise"
    removal = [s for s in got if s["kind"] == "remove"]
    assert removal and got.index(removal[0]) > 0 and removal[0]["message"].startswith("Otherwise")
    assert rejudged(kb, raw, removal[0]).status == "accepted"


def test_a_drug_billed_twice_is_never_marked_as_a_repeat_procedure(kb):
    # an audit: J0475-KD on two lines got "mark it 76: the repeat-procedure modifier" first; a drug given is
    # a supply (ont:SupplyService), no procedure repeated
    drug = {"code": "J0475", "provider_role": "physician", "modifiers": ["KD"], "units": 2}
    raw = claim({"code": "95990", "provider_role": "physician"}, dict(drug, line=2), dict(drug, line=3))
    got = fixes(kb, raw)
    assert got and not any(m in ("76", "77") for s in got for ms in s["add_modifiers"].values() for m in ms), got
    assert (got[0]["kind"], got[0]["remove_lines"]) == ("remove", [3])
    assert rejudged(kb, raw, got[0]).status == "accepted"


def test_77_on_the_same_providers_repeat_is_changed_to_76(kb):
    raw = claim({"code": "62367", "provider_role": "physician"},
                {"line": 2, "code": "62367", "provider_role": "physician", "modifiers": ["77"]})
    got = fixes(kb, raw)
    first = got[0]
    assert (first["kind"], first["remove_modifiers"], first["add_modifiers"], first["question"]) == \
        ("modifier", {"2": ["77"]}, {"2": ["76"]}, "")
    assert "change modifier 77" in first["message"].lower()
    assert apply_suggestion(raw, first)["lines"][1]["modifiers"] == ["76"]
    assert rejudged(kb, raw, first).status == "accepted"
    assert not any(s["kind"] == "remove" for s in got), got


def test_76_on_another_providers_repeat_is_changed_to_77(kb):
    raw = claim({"code": "62367", "provider_role": "physician"},
                {"line": 2, "code": "62367", "provider_role": "physician", "provider_id": "SYN-2", "modifiers": ["76"]})
    first = fixes(kb, raw)[0]
    assert (first["remove_modifiers"], first["add_modifiers"]) == ({"2": ["76"]}, {"2": ["77"]})
    assert rejudged(kb, raw, first).status == "accepted"


def test_a_drug_without_kd_gets_kd_and_is_never_also_removed(kb):
    raw = claim({"code": "95990"}, {"line": 2, "code": "J2278"})
    got = fixes(kb, raw)
    assert [(s["kind"], s["add_modifiers"]) for s in got] == [("modifier", {"2": ["KD"]})]
    assert rejudged(kb, raw, got[0]).status == "accepted"


def test_a_removal_is_kept_only_for_the_line_a_question_is_about(kb):
    # line 2 needs KD (unconditional), line 3 is an unmarked twin of line 1 (a question):
    # "remove line 3" may follow as the otherwise, "remove line 2 (the drug)" never
    raw = claim({"code": "95990"}, {"line": 2, "code": "J2278"}, {"line": 3, "code": "95990"})
    got = fixes(kb, raw)
    assert got[0]["add_modifiers"] == {"2": ["KD"], "3": ["76"]} and got[0]["question"]
    assert not any(2 in s["remove_lines"] for s in got), got
    for s in got:
        assert rejudged(kb, raw, s).status == "accepted"


def test_a_removal_is_offered_when_no_recode_or_modifier_verifies(kb):
    # a brain pump: no analysis code applies to it, so the route-denied 62368 goes and 95990 stands
    raw = claim({"code": "62368", "route": "intraventricular", "provider_role": "physician"},
                {"line": 2, "code": "95990", "route": "intraventricular", "provider_role": "physician"})
    first = fixes(kb, raw)[0]
    assert (first["kind"], first["remove_lines"], first["add_codes"]) == ("remove", [1], [])
    assert rejudged(kb, raw, first).status == "accepted"


def test_no_repeat_fix_adds_a_modifier_that_bypasses_an_edit(kb):
    never = set(kb.pack.never_bypass)
    for raw in (claim({"code": "62367", "provider_role": "physician"}, {"line": 2, "code": "62367", "provider_role": "physician"}),
                claim({"code": "62367", "modifiers": ["59"]}, {"line": 2, "code": "95990"})):
        for s in fixes(kb, raw):
            assert not never & {m for ms in s["add_modifiers"].values() for m in ms}, s


def test_many_twin_lines_stay_within_the_search_bounds(kb):
    raw = claim(*[{"line": i, "code": "62367", "provider_role": "physician"} for i in range(1, 31)])
    c = parse_claim(raw, kb=kb)
    search = search_fixes(kb, c, check_claim(kb, c), timeout=20)
    assert search.tried <= MAX_FIX_TRIES and search.judged <= 12
    for s in search.suggestions:
        assert rejudged(kb, raw, s.to_json()).status == "accepted"


def test_a_changed_modifier_replaces_the_old_one_when_applied():
    raw = claim({"code": "62367", "modifiers": ["77", "KD"]})
    out = apply_suggestion(raw, {"remove_modifiers": {"1": ["77"]}, "add_modifiers": {"1": ["76"]}})
    assert out["lines"][0]["modifiers"] == ["KD", "76"]
    assert raw["lines"][0]["modifiers"] == ["77", "KD"], "the claim given is not changed"


def test_a_merge_of_two_performers_lines_says_whose_line_the_new_code_is(kb):
    """An analyst's audit: "Replace 62368 (line 1) and 95990 (line 2) by 62370" did not say the 62370 is the
    physician's; only the JSON did, and the nurse's 62370 is denied (CO-185)."""
    raw = claim({"code": "62368", "provider_role": "physician", "provider_id": "SYN-DOC"},
                {"line": 2, "code": "95990", "provider_role": "nurse", "provider_id": "SYN-RN"})
    merges = [s for s in fixes(kb, raw) if s["kind"] == "recode" and s["remove_lines"] == [1, 2]]
    said = " / ".join(s["message"] for s in merges)
    # 62369, not 62370, for the physician too: neither 62368 nor 95990 bills a physician's or QHP's skill;
    # the physician reports the nurse's refill (incident-to), never the nurse the physician's reprogramming
    assert ("by 62369 billed by the physician of line 1 (reporting the service of the nurse of line 2, "
            "incident-to), which covers both services") in said, said
    assert "SYN-DOC" not in said and "SYN-RN" not in said  # performers by their lines, never their ids
    assert "billed by the nurse" not in said, said
    assert "62370" not in said
    for s in merges:
        assert rejudged(kb, raw, s).status == "accepted", s["message"]
    # one performer: nothing to say
    same = claim({"code": "62368"}, {"line": 2, "code": "95990"})
    assert not any("billed by the" in s["message"] for s in fixes(kb, same))


@pytest.mark.parametrize("device", ["62360", "62361", "62362"])
def test_a_physicians_62367_beside_an_accepted_95990_is_removed_not_merged_into_95991(kb, device):
    # "analysis plus refill without reprogramming is 95990/95991 alone": the claim's 95990 is payable and
    # says the refill needed no physician's skill, so merging both into 95991 upcoded it
    raw = claim({"code": "62367", "provider_role": "physician"},
                {"line": 2, "code": "95990", "provider_role": "physician"},
                history=[{"code": device, "date_of_service": "2024-01-01"}])
    assert [l.status for l in check_claim(kb, parse_claim(raw, kb=kb)).lines] == ["rejected", "accepted"]
    got = fixes(kb, raw)
    assert (got[0]["kind"], got[0]["remove_lines"], got[0]["add_codes"]) == ("remove", [1], [])
    assert not any("95991" in s["add_codes"] for s in got), got
    again = rejudged(kb, raw, got[0])
    assert again.status == "accepted" and [l.code for l in again.lines] == ["95990"]


def test_a_fix_that_brings_a_warning_says_so_not_only_that_every_line_is_accepted(kb):
    # removing the nurse's 95991 beside the physician's 62367 leaves the J0475 "billed without a refill"
    raw = claim({"code": "62367", "provider_role": "physician", "provider_id": "SYN-2"},
                {"line": 2, "code": "95991", "provider_role": "nurse"},
                {"line": 3, "code": "J0475", "provider_role": "nurse", "modifiers": ["KD"]})
    got = fixes(kb, raw)
    for s in got:
        again = rejudged(kb, raw, s)
        before = {w.rule for ln in check_claim(kb, parse_claim(raw, kb=kb)).lines for w in ln.warnings}
        brought = [w for ln in again.lines for w in ln.warnings if w.rule not in before]
        assert ("with a new warning: " in s["message"]) is bool(brought), s["message"]
    assert any("with a new warning: J0475 on line 3 is a drug code billed on " in s["message"]
               for s in got), [s["message"] for s in got]


@pytest.mark.parametrize("line, history, device_words", [
    ({"code": "62369"}, [{"code": "62361", "date_of_service": "2024-01-10"}], "on a nonprogrammable pump"),
    ({"code": "62369", "route": "intraventricular"}, None, "by intraventricular (brain) delivery"),
    ({"code": "62370", "provider_role": "physician"}, [{"code": "62361", "date_of_service": "2024-01-10"}],
     "on a nonprogrammable pump"),
])
def test_a_refill_billed_with_a_pump_code_the_device_or_route_does_not_take_is_recoded_to_the_refill(
        kb, line, history, device_words):
    """A 62369/62370 on a nonprogrammable or brain pump: its denial says the pump is refilled with
    95990/95991, and the only fix offered was "remove line 1 ... no line can be billed", which left an
    empty claim (found by an audit). The refill it holds is billed with the refill code, verified."""
    raw = claim(line, history=history)
    got = fixes(kb, raw)
    first = got[0]
    assert first["kind"] == "recode" and first["remove_lines"] == [1], got
    assert first["add_codes"][0] in ("95990", "95991")
    assert device_words in first["message"] and "no code covers" in first["message"]
    again = rejudged(kb, raw, first)
    assert again.status == "accepted" and [ln.code for ln in again.lines] == first["add_codes"]
    assert first["add_lines"][0]["provider_role"] == line.get("provider_role", "nurse")


def test_the_no_fit_path_infers_each_set_of_services_once(kb, monkeypatch):
    """The fix search asks inference for the billed code's services (no code covers them all), then for
    the services the device admits: each set once, not the full set again to learn what it leaves out."""
    from cptkg.explanation import fixes as fix_search

    fix_search._inferred.cache_clear()
    asked = []
    real = fix_search.infer_codes
    monkeypatch.setattr(fix_search, "infer_codes",
                        lambda kb_, enc, **kw: asked.append(tuple(sorted(enc.services))) or real(kb_, enc, **kw))
    got = fixes(kb, claim({"code": "62369"}, history=[{"code": "62361", "date_of_service": "2024-01-10"}]))
    assert got[0]["add_codes"][0] == "95990"
    assert asked and len(asked) == len(set(asked)), asked


def test_two_lines_over_a_unit_limit_per_date_are_fixed_without_a_repeat_modifier():
    """One provider's two 20610 lines (2 units, and 1 unit marked 76) over the synthetic limit of 2 per date:
    fewer units on line 1, or removing either line, is the whole fix. The search offered "mark line 1 76; remove line 2", and
    "change 76 on line 2 to 77 (another physician)" for one physician (an audit)."""
    from pathlib import Path

    from cptkg.knowledge.loader import load_kb

    pack = Path(__file__).resolve().parents[1] / "kb" / "pump"
    kb = load_kb(pack, edits=[pack / "rules" / "edits" / "synthetic-mue.ttl"])
    raw = claim({"code": "20610", "provider_role": "physician", "units": 2},
                {"line": 2, "code": "20610", "provider_role": "physician", "units": 1, "modifiers": ["76"]})
    assert check_claim(kb, parse_claim(raw, kb=kb)).status == "rejected"
    got = fixes(kb, raw)
    assert got and all(not s["add_modifiers"] and not s["remove_modifiers"] for s in got), got
    assert {tuple(s["remove_lines"]) for s in got} <= {(1,), (2,)}
    assert all(rejudged(kb, raw, s).status == "accepted" for s in got)


@pytest.mark.parametrize("lines, fixed", [
    # per line (62367: at most 1 a line): the line billed with the units the edit allows
    ([{"code": "62367", "provider_role": "physician", "units": 3}], {1: 1}),
    # per date (20610: at most 2 a date): the line billed with what the other line leaves, both kept
    ([{"code": "20610", "provider_role": "physician", "units": 2},
      {"line": 2, "code": "20610", "provider_role": "physician", "units": 1, "modifiers": ["76"]}], {1: 1}),
])
def test_units_over_a_unit_edit_are_fixed_by_billing_the_units_it_allows_not_by_dropping_the_line(lines, fixed):
    """A coder bills what a unit edit (MUE) allows: the only fix was 'remove line 1 ... no line of this
    claim can be billed as documented' (an audit). The fix is re-judged like every other."""
    from pathlib import Path

    from cptkg.knowledge.loader import load_kb

    pack = Path(__file__).resolve().parents[1] / "kb" / "pump"
    kb = load_kb(pack, edits=[pack / "rules" / "edits" / "synthetic-mue.ttl"])
    raw = claim(*lines, history=[{"code": "62362", "date_of_service": "2024-01-01"}])
    assert check_claim(kb, parse_claim(raw, kb=kb)).status == "rejected"
    first = fixes(kb, raw)[0]
    assert first["kind"] == "units" and first["verified"], first
    after = apply_suggestion(raw, first)
    assert {ln["line"]: ln["units"] for ln in after["lines"] if ln["line"] in fixed} == fixed
    assert len(after["lines"]) == len(lines)  # no line dropped
    assert "the unit edit allows at most" in first["message"]
    assert rejudged(kb, raw, first).status == "accepted"


def test_a_column_1_line_over_its_unit_edit_is_billed_with_the_units_allowed_not_removed(tmp_path):
    """27447 (column 1 of the synthetic pair 27447/20610) billed with 3 units where a synthetic unit edit
    allows 1, and 20610 (its column 2) beside it: the first fix offered was "remove line 1 (27447)", which
    gets the component paid by dropping the comprehensive service (an edit specialist's audit). A coder bills
    1 unit of 27447 and removes the component; removing 27447 is at most the other choice."""
    from pathlib import Path

    from cptkg.knowledge.loader import load_kb

    pack = Path(__file__).resolve().parents[1] / "kb" / "pump"
    mue = tmp_path / "mue-27447.ttl"
    mue.write_text("""# SYNTHETIC TEST DATA - NOT MUE VALUES.
@prefix ont: <https://w3id.org/cptkg/ontology#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix e: <urn:cptkg:synthetic-mue-27447:> .
e:source a ont:Source ; rdfs:label "SYNTHETIC MUE (test data)" ; ont:citation "SYNTHETIC MUE (test data)" ;
    ont:fileSha256 "0000000000000000000000000000000000000000000000000000000000000000" .
e:row-1 a ont:UnitEdit ; ont:editCode "27447" ; ont:maxUnits 1 ; ont:adjudicationIndicator "2" ;
    ont:rationale "SYNTHETIC" ; dct:source e:source ; ont:sourceRow 1 .
""", encoding="utf-8")
    kb = load_kb(pack, edits=[pack / "rules" / "edits" / "synthetic-ptp.ttl", mue])
    raw = claim({"code": "27447", "provider_role": "physician", "units": 3},
                {"line": 2, "code": "20610", "provider_role": "physician", "units": 1})
    res = check_claim(kb, parse_claim(raw, kb=kb))
    assert [ln.status for ln in res.lines] == ["rejected", "rejected"]
    got = fixes(kb, raw)
    first = got[0]
    assert first["verified"] and first["remove_lines"] and first["add_lines"], first
    after = apply_suggestion(raw, first)
    assert [(ln["line"], ln["code"], ln["units"]) for ln in after["lines"]] == [(1, "27447", 1)]
    assert rejudged(kb, raw, first).status == "accepted"
    assert all(s["verified"] and rejudged(kb, raw, s).status == "accepted" for s in got)


def test_two_pair_fixes_that_bill_one_code_say_one_line_of_it(kb):
    """62368, 95990 and 95991 on one date: the fix was "replace 62368 (line 1) and 95990 (line 2) by 62370, ...;
    replace 95991 (line 3) and 62368 (line 1) by 62370", which reads as two lines of 62370 (themselves
    duplicates) where the fix bills one (an analyst's audit). It is said once, naming every line it replaces."""
    raw = claim(*({"line": n, "code": c, "provider_role": "physician"} for n, c in enumerate(("62368", "95990", "95991"), 1)),
                history=[{"code": "62362", "date_of_service": "2024-01-10"}])
    got = fixes(kb, raw)
    one = [s for s in got if len(s["add_lines"]) == 1 and s["add_lines"][0]["code"] == "62370"
           and sorted(s["remove_lines"]) == [1, 2, 3]]
    assert one, got
    assert one[0]["message"].startswith(
        "Replace 62368 (line 1), 95990 (line 2) and 95991 (line 3) by one line of 62370, which covers all 3 services")
    assert one[0]["message"].count("62370") == 1
    assert all(ln.status == "accepted" for ln in rejudged(kb, raw, one[0]).lines)


def test_three_problems_at_once_get_the_coders_fix_not_three_removals(kb):
    """A nurse's 62370 with 95990, J0475 without KD and 95990 twice: the only fix removed 62370, the drug and
    the duplicate (12 re-checks ran out on one-line fixes before the combination was tried: a coder's audit).
    The coder's fix is 62369 for the nurse, KD on the drug and the duplicate gone; none drops the 62370's
    services or the drug."""
    raw = claim({"code": "62370"}, {"line": 2, "code": "95990"}, {"line": 3, "code": "J0475", "units": 2},
                {"line": 4, "code": "95990"})
    got = fixes(kb, raw)
    first = got[0]
    assert first["add_codes"] == ["62369"] and first["add_modifiers"] == {"3": ["KD"]}, first
    assert sorted(first["remove_lines"]) == [1, 2, 4], first
    again = rejudged(kb, raw, first)
    assert again.status == "accepted" and sorted(l.code for l in again.lines) == ["62369", "J0475"]
    assert not any(1 in s["remove_lines"] and "62369" not in s["add_codes"] for s in got), got
    assert not any(3 in s["remove_lines"] for s in got), got


def test_a_unit_fix_of_the_comprehensive_line_is_not_offered_beside_its_removal(kb, tmp_path):
    """62370 x2 over a SYNTHETIC unit edit of 1 a line, with 95991: "bill 1 unit of 62370; remove 95991" and
    also "remove line 1 (62370)", which leaves 95991 in its place, against the rules' own warning (a coder's
    audit). Only the first is offered."""
    with_edit = with_unit_limit(kb, tmp_path, "62370", "1")
    raw = claim({"code": "62370", "units": 2, "provider_role": "physician"},
                {"line": 2, "code": "95991", "provider_role": "physician"})
    got = fixes(with_edit, raw)
    assert got and all(rejudged(with_edit, raw, s).status == "accepted" for s in got)
    assert [s["remove_lines"] for s in got if s["kind"] == "remove" and 1 in s["remove_lines"]
            and not s["add_lines"]] == [], got
    fixed = apply_suggestion(raw, got[0])
    assert [(l["code"], l["units"]) for l in fixed["lines"]] == [("62370", 1)]


def test_a_one_line_claim_repeating_its_history_gets_mark_76_and_otherwise_no_claim(kb):
    """95991 billed again after the same 95991 in history: "mark it 76" was the only path, with no "otherwise"
    (removing the line empties the claim, and an empty claim was offered only when nothing else was): a coder's
    audit. The removal follows as the question's otherwise, saying the claim then bills nothing."""
    raw = claim({"code": "95991", "provider_role": "physician"},
                history=[{"code": "62362", "date_of_service": "2024-01-01"},
                         {"code": "95991", "date_of_service": "2025-03-04", "provider_id": "SYN-1"}])
    got = fixes(kb, raw)
    assert [s["kind"] for s in got] == ["modifier", "remove"], got
    assert got[0]["add_modifiers"] == {"1": ["76"]} and rejudged(kb, raw, got[0]).status == "accepted"
    assert got[1]["message"].startswith("Otherwise, remove line 1 (95991)") and got[1]["result_status"] == "empty"


def test_a_nurses_62370_billed_twice_is_62369_once_not_both_lines_removed(kb):
    """Each line had its own recode, and each fix kept one of them: both were set aside as needless removals,
    and the fallback removed both lines ("no line of this claim can be billed": an audit)."""
    raw = claim({"code": "62370"}, {"line": 2, "code": "62370"})
    got = fixes(kb, raw)
    assert got and all(s["add_codes"] == ["62369"] and len(s["remove_lines"]) == 2 for s in got), got
    for s in got:
        again = rejudged(kb, raw, s)
        assert again.status == "accepted" and [l.code for l in again.lines] == ["62369"]


def test_a_line_over_a_limit_only_beside_its_twins_stands_as_billed_once_they_go(kb, tmp_path):
    """Three 62367s, line 2 marked 76, over a SYNTHETIC limit of one a date: "mark line 1 76 as a repeat of
    line 2; remove lines 2 and 3" left a repeat of nothing, and "otherwise remove all three" dropped the
    service (an audit). A fix keeps one line as billed, and none marks a repeat of a line it removes."""
    with_edit = with_unit_limit(kb, tmp_path, "62367", "3")
    raw = claim({"code": "62367", "provider_role": "physician"},
                {"line": 2, "code": "62367", "provider_role": "physician", "modifiers": ["76"]},
                {"line": 3, "code": "62367", "provider_role": "physician"})
    got = fixes(with_edit, raw)
    assert got and all(len(s["remove_lines"]) == 2 and not s["add_modifiers"] for s in got), got
    for s in got:
        again = rejudged(with_edit, raw, s)
        assert again.status == "accepted" and [l.code for l in again.lines] == ["62367"]


@pytest.mark.parametrize("role", ["physician", "physician_assistant", "nurse_practitioner"])
def test_a_fix_keeps_the_skill_level_billed_and_does_not_raise_it(kb, role):
    """A coder's audit: a physician's 62368 with 95990 was fixed to 62370 and a physician's 62369 on a
    reservoir to 95991, codes requiring a physician's or QHP's skill that nothing billed showed (95990 and
    62369 are the level "typically performed by clinical staff"); the rule's own words: "62368 with a refill
    is 62369, or 62370 when a physician or QHP's skill is required"."""
    who = {"provider_role": role}
    merged = fixes(kb, claim(dict(who, code="62368"), dict(who, line=2, code="95990")))
    assert [s["add_codes"] for s in merged if s["kind"] == "recode"][0] == ["62369"], merged
    assert not any("62370" in s["add_codes"] for s in merged), merged
    on_reservoir = claim(dict(who, code="62369"), history=[{"code": "62360", "date_of_service": "2024-01-01"}])
    got = fixes(kb, on_reservoir)
    assert got[0]["add_codes"] == ["95990"] and rejudged(kb, on_reservoir, got[0]).status == "accepted", got
    # a code billed at the skill level keeps it: 62370 on a reservoir is 95991
    skilled = fixes(kb, claim(dict(who, code="62370"), history=[{"code": "62360", "date_of_service": "2024-01-01"}]))
    assert skilled[0]["add_codes"] == ["95991"], skilled
    first = merged[0]
    assert rejudged(kb, claim(dict(who, code="62368"), dict(who, line=2, code="95990")), first).status == "accepted"


def test_a_claim_whose_only_line_is_included_in_a_service_billed_before_says_so_not_unbillable(kb):
    """A coder's audit: 62367 on the day of a 62362 implantation already billed read "Remove line 1: no line of
    this claim can be billed as documented", as if the service could not be paid; it was paid with the
    implantation (CARC 97)."""
    raw = claim({"code": "62367", "provider_role": "physician"},
                history=[{"code": "62362", "date_of_service": "2025-03-04", "provider_id": "SYN-1"}])
    got = fixes(kb, raw)
    assert len(got) == 1 and got[0]["remove_lines"] == [1] and got[0]["verified"], got
    assert "included in a service billed with it or before it (CO-97)" in got[0]["message"]
    assert "can be billed as documented" not in got[0]["message"]
    # a line that cannot be billed for itself keeps the old words: a removal of a pump already removed
    alone = fixes(kb, claim({"code": "62365", "provider_role": "physician"}, history=[
        {"code": "62362", "date_of_service": "2024-01-01"}, {"code": "62365", "date_of_service": "2024-06-01"}]))
    assert any("can be billed as documented" in s["message"] for s in alone), alone


def test_two_physicians_lines_are_never_merged_into_one_providers_code(kb):
    """Each physician or QHP independently reports their own service (domain notes, "Who may perform"):
    a fix billing one physician's 62368 and another's 95990 as one 62369 reports a service its provider did
    not perform."""
    raw = claim({"code": "62368", "provider_role": "physician", "provider_id": "SYN-DOC"},
                {"line": 2, "code": "95990", "provider_role": "nurse_practitioner", "provider_id": "SYN-NP"})
    assert not [s for s in fixes(kb, raw) if s["remove_lines"] == [1, 2] and s["add_lines"]]


def test_a_history_service_of_another_provider_is_not_recoded_into_this_providers_line(kb):
    """A coder's audit: a nurse's 95990 beside another provider's 62368 of that date (history) got "void or
    correct the earlier 62368 and bill 62369 instead of 95990": the nurse then bills a reprogramming done by
    another provider. The same claim with the 62368 billed by the nurse's own provider still gets it."""
    hist = [{"code": "62362", "date_of_service": "2024-01-01"},
            {"code": "62368", "date_of_service": "2025-03-04", "provider_id": "SYN-OTHER"}]
    other = fixes(kb, claim({"code": "95990"}, history=hist))
    assert not [s for s in other if s.get("void_history") and s["add_lines"]], other
    own = claim({"code": "95990"}, history=[hist[0], dict(hist[1], provider_id="SYN-1")])
    recodes = [s for s in fixes(kb, own) if s.get("void_history") and s["add_lines"]]
    assert recodes and recodes[0]["add_lines"][0]["code"] == "62369", recodes
    assert rejudged(kb, own, recodes[0]).status == "accepted"


def test_voiding_another_providers_earlier_claim_says_whose_claim_it_is(kb):
    """A coder's audit: "void or correct the earlier 62368 (history entry 2)" read as the billing provider's
    own claim, where the 62368 was billed by another provider, whose claim it is to correct."""
    hist = [{"code": "62362", "date_of_service": "2024-01-01"},
            {"code": "62368", "date_of_service": "2025-03-04", "provider_id": "SYN-OTHER"}]
    got = fixes(kb, claim({"code": "62369"}, history=hist))
    voids = [s for s in got if s.get("void_history")]
    assert voids and voids[0]["message"].startswith(
        "Have its provider void or correct the earlier 62368 (history entry 2, another provider's claim)"), got
    own = fixes(kb, claim({"code": "62369"}, history=[hist[0], dict(hist[1], provider_id="SYN-1")]))
    assert [s for s in own if s.get("void_history")][0]["message"].startswith("Void or correct the earlier 62368")


def test_a_fix_tells_a_line_one_thing_when_a_merge_includes_its_recode(kb):
    """A coder's audit: a nurse's 62370 and 95991 got "bill 62369 instead of 62370 on line 1 ...; replace 62370
    (line 1) and 95991 (line 2) by 62369": two edits of line 1 where the merge alone is the edit."""
    raw = claim({"code": "62370"}, {"line": 2, "code": "95991"})
    got = fixes(kb, raw)
    assert got and got[0]["message"].startswith("Replace 62370 (line 1) and 95991 (line 2) by 62369"), got
    assert not any("instead of 62370 on line 1" in s["message"] and "replace" in s["message"] for s in got), got
    assert rejudged(kb, raw, got[0]).status in ("accepted",)


def test_a_fix_that_drops_a_service_no_line_left_bills_says_so(kb):
    """A coder's audit: 62368, 62368-76 and 95990 of one date got only "remove line 3 (95990)", which leaves the
    refill unbilled without a word, where the denial itself says one code covers both services."""
    raw = claim({"code": "62368", "provider_role": "physician"},
                {"line": 2, "code": "62368", "provider_role": "physician", "modifiers": ["76"]},
                {"line": 3, "code": "95990", "provider_role": "physician"})
    got = fixes(kb, raw)
    drops = [s for s in got if 3 in s.get("remove_lines", []) and not s["add_lines"]]
    assert drops, got
    for s in drops:
        assert "The refill and maintenance billed on line 3 (95990) is then billed by no line." in s["message"], s
        assert rejudged(kb, raw, s).status == "accepted"
    # a line dropped whose services a line left bills says nothing more (62367 beside the 62369 covering it)
    covered = claim({"code": "62369", "provider_role": "physician"}, {"line": 2, "code": "62367", "provider_role": "physician"})
    assert not any("billed by no line" in s["message"] for s in fixes(kb, covered))


def _other_history(code):
    return [{"code": "62362", "date_of_service": "2024-01-01"},
            {"code": code, "date_of_service": "2025-03-04", "provider_id": "SYN-OTHER"}]


def test_a_line_beside_another_providers_service_of_that_date_gets_that_providers_void(kb):
    """A regression hunt: a physician's 62368 beside another provider's 95990 of that date (history) got "no line
    of this claim can be billed", where the line stands once that provider corrects their claim."""
    raw = claim({"code": "62368", "provider_role": "physician"}, history=_other_history("95990"))
    got = fixes(kb, raw)
    assert got and got[0]["message"].startswith(
        "Have its provider void or correct the earlier 95990 (history entry 2, another provider's claim of the same "
        "date)"), got
    assert rejudged(kb, raw, got[0]).status == "accepted"
    assert not any("can be billed as documented" in s["message"] for s in got)


def test_a_line_denied_for_its_code_and_beside_another_providers_service_gets_both_edits_in_one_fix(kb):
    """A regression hunt: a nurse's 95991 beside another provider's 62368 got no fix and no word at all."""
    raw = claim({"code": "95991"}, history=_other_history("62368"))
    got = fixes(kb, raw)
    assert got and "bill 95990 instead of 95991 on line 1" in got[0]["message"].lower(), got
    assert "have its provider void or correct the earlier 62368" in got[0]["message"], got
    assert rejudged(kb, raw, got[0]).status == "accepted"


def test_a_history_entry_of_no_provider_is_recoded_only_if_it_was_this_providers(kb):
    raw = claim({"code": "62368", "provider_role": "physician"},
                history=[{"code": "62362", "date_of_service": "2024-01-01"},
                         {"code": "95990", "date_of_service": "2025-03-04"}])
    recodes = [s for s in fixes(kb, raw) if s.get("void_history") and s["add_lines"]]
    assert recodes and recodes[0]["message"].startswith(
        "If the earlier 95990 (history entry 2, its provider not on record) was billed by the provider of line 1: "
        "void or correct"), recodes


def test_a_pa_bills_a_nurses_reprogramming_beside_a_refill_and_the_other_nurses_refill_goes(kb):
    """A regression hunt: nurse A's 62368, nurse B's 95991 and a PA's 95990 of one date got "no line of this
    claim can be billed"; the PA reports nurse A's service incident-to as one 62369, and 62369 bills the refill."""
    raw = claim({"code": "62368", "provider_id": "SYN-RN-A"},
                {"line": 2, "code": "95991", "provider_id": "SYN-RN-B"},
                {"line": 3, "code": "95990", "provider_id": "SYN-PA", "provider_role": "physician_assistant"})
    got = fixes(kb, raw)
    assert got and got[0]["message"].startswith(
        "Replace 62368 (line 1) and 95990 (line 3) by 62369 billed by the physician assistant of line 3 (reporting "
        "the service of the nurse of line 1, incident-to)"), got
    assert rejudged(kb, raw, got[0]).status == "accepted"
    assert "billed by no line" not in got[0]["message"]


def test_one_npi_on_a_physicians_and_a_nurses_line_is_merged_under_the_physician_only(kb):
    raw = claim({"code": "62368", "provider_role": "physician", "provider_id": "SYN-DOC"},
                {"line": 2, "code": "95990", "provider_role": "nurse", "provider_id": "SYN-DOC"})
    merges = [s for s in fixes(kb, raw) if s["remove_lines"] == [1, 2] and s["add_lines"]]
    assert merges and all(s["add_lines"][0]["provider_role"] == "physician" for s in merges), merges
    assert "billed by the physician of line 1 (reporting the service of the nurse of line 2, incident-to)" \
        in merges[0]["message"]


def test_a_merge_of_three_lines_of_two_performers_says_whose_line_it_is(kb):
    raw = claim({"code": "62368", "provider_role": "physician", "provider_id": "SYN-DOC"},
                {"line": 2, "code": "95991", "provider_id": "SYN-RN"},
                {"line": 3, "code": "95990", "provider_id": "SYN-RN"})
    said = " / ".join(s["message"] for s in fixes(kb, raw) if "one line of" in s["message"])
    assert "billed by the physician of line 1 (reporting the services of the nurse of lines 2 and 3, " \
           "incident-to)" in said, said


def test_voiding_another_providers_service_says_it_is_then_billed_by_no_claim(kb):
    """A coder's audit: a nurse's 62368 beside another provider's 95990 of that date got "have its provider void
    or correct the earlier 95990 ...: one code covers both services, billed by one provider", read as done,
    where the fix billed the refill nowhere (void_history, no code added)."""
    raw = claim({"code": "62368"}, history=_other_history("95990"))
    got = fixes(kb, raw)
    void = next(s for s in got if s.get("void_history") == [2])
    assert not void["add_lines"] and "one code covers both services" not in void["message"], void
    assert "the two services are one code, 62369, billed by one provider" in void["message"], void
    assert ("The refill and maintenance billed by history entry 2 (95990) is then billed by no claim until one "
            "provider bills 62369 for both services.") in void["message"], void
    assert rejudged(kb, raw, void).status == "accepted"


def test_voiding_another_providers_component_says_this_line_then_bills_that_service(kb):
    """A coder's audit: a nurse's 95990 beside a physician's 62367 of that date: voided, the physician's analysis
    is inside the nurse's 95990 (the refill includes it), reported as the nurse's: said, never left silent."""
    raw = claim({"code": "95990"}, history=_other_history("62367"))
    got = fixes(kb, raw)
    void = next(s for s in got if s.get("void_history") == [2])
    assert ("billed by history entry 2 (62367, another provider's) is then billed only within 95990 on line 1, as a "
            "service of the nurse of line 1: bill it so only if the record shows it.") in void["message"], void
    # the provider's own earlier claim: nothing of another provider's to say
    own = fixes(kb, claim({"code": "95990"}, history=[_other_history("62367")[0],
                                                      dict(_other_history("62367")[1], provider_id="SYN-1")]))
    assert not any("another provider's" in s["message"] for s in own), own


def test_a_fix_that_bills_every_service_comes_before_one_that_leaves_a_refill_billed_nowhere(kb):
    """A regression hunt: a physician's 62368 and 62369 beside another provider's 95990 of that date: the note that the
    voided refill is then billed within 62369 counted as a loss, so the fix leaving the refill billed by no line
    came first."""
    raw = claim({"code": "62368", "provider_role": "physician"}, {"line": 2, "code": "62369", "provider_role": "physician"},
                history=_other_history("95990"))
    got = fixes(kb, raw)
    assert got and "billed by no line" not in got[0]["message"] and "billed by no claim" not in got[0]["message"], got
    assert rejudged(kb, raw, got[0]).status == "accepted"
