"""Honest answers (issue 23, finding 6): an answer never says more than its sources.

Where no source lists who performs a code the rules do not check its
performer and `ask who-may-perform` says so, never "may perform and
report"; a why-not says each condition once and in billing words (no
"is a kind of"); `cptkg sources` says each fact once; a third duplicate
line gets one reason naming the first line; a drug supply (a J-code) gets
no clinical-staff warning. Claims here are synthetic (ids "syn-…"), built
from the claim JSON layout of examples/.
"""
from __future__ import annotations

import json

from collections import Counter

import pytest
from click.testing import CliRunner

import cptkg
from cptkg import questions as Q
from cptkg.explanation import explain_claim
from cptkg.faces.cli import main
from cptkg.judge.infer import infer_codes, one_line_per_condition
from cptkg.claims.models import parse_claim, parse_encounter
from cptkg.knowledge.sources import source_index

DATE = "2025-06-10"
IMPLANT = {"code": "62362", "date_of_service": "2024-06-10", "provider_id": "syn-prov"}  # a programmable pump


def claim(*lines, history=(IMPLANT,)):
    """A synthetic claim: one patient, one provider, the lines given (code, role, modifiers)."""
    return {"claim_id": "syn-claim", "patient_id": "syn-patient", "history": list(history),
            "lines": [{"line": i, "code": code, "date_of_service": DATE, "provider_id": "syn-prov",
                       "provider_role": role, **({"modifiers": list(mods)} if mods else {})}
                      for i, (code, role, *mods) in enumerate(lines, start=1)]}


def line(result: dict, n: int) -> dict:
    return next(ln for ln in result["lines"] if ln["line"] == n)


# ------------------------------------------------------------ who may perform

def test_who_may_perform_a_code_no_source_lists_performers_for_says_the_performer_is_not_checked(kb):
    assert not [c for c, _ in kb.facts.get("may_be_performed_by", ()) if c == "62360"]  # the premise: no list
    answer = Q.who_may_perform(kb, "62360", date=DATE)
    assert "may perform and report" not in answer["answer"]
    assert not [r["role"] for r in answer["rows"] if f"{r['role_label']} may perform" in answer["answer"]]
    head, _, rest = answer["answer"].partition(":")
    assert rest.lstrip().startswith("no source here lists who performs 62360, so the rules do not check its performer")
    assert answer["performers_listed"] is False
    assert all(r["performer_checked"] is False for r in answer["rows"])
    # how a nurse's line would be billed is said as that, never as "A nurse: accepted" (an analyst read that as
    # leave to perform a surgical implant), and with no incident-to advice no source gives for an implant (a
    # coder's audit): the performer was not checked
    assert "A nurse: accepted" not in answer["answer"]
    assert ("If a nurse is named as the performer, the line is accepted, but its performer was not checked") \
        in answer["answer"]
    assert "supervising physician or QHP (incident-to" not in answer["answer"]
    assert "no source makes a nurse a performer of 62360" in answer["answer"]


def test_who_may_perform_a_listed_code_still_names_who_may_perform_and_report_it(kb):
    answer = Q.who_may_perform(kb, "62370", date=DATE)
    assert answer["performers_listed"] is True and all(r["performer_checked"] for r in answer["rows"])
    assert "a physician may perform and report it (guide §9.1" in answer["answer"]
    assert ("A nurse practitioner and a physician assistant may perform and report it as a qualified health care "
            "professional (QHP) (guide §9.1 (Procedure); domain notes, Who may perform (high confidence))") \
        in answer["answer"]  # §9.1 names no nurse practitioner: the notes' QHP definition is cited beside it
    # the sentence that makes them QHPs is among the sources
    assert "n-qhp-definition" in [s["id"] for s in answer["sources"]]
    assert "Refused: a nurse (Needs a physician or QHP, CO-185)" in answer["answer"]
    assert "do not check its performer" not in answer["answer"]


def test_who_may_perform_cites_a_class_reached_from_a_definition_as_that_not_as_listed(kb):
    """An analyst's audit: NP and PA "which the sources list for 95990", where the KB reaches QHPs for 95990 from
    the QHP definition alone (a sentence naming no code, a medium-confidence fact)."""
    answer = Q.who_may_perform(kb, "95990", date=DATE)["answer"]
    assert "which the sources list for 95990" not in answer
    assert ("A nurse practitioner and a physician assistant may perform and report it as a qualified health care "
            "professional (QHP) (domain notes, Who may perform: medium confidence, no source names a qualified "
            "health care professional (QHP) for 95990)") in answer


def test_who_may_perform_names_the_source_of_each_role_not_one_list_for_all(kb):
    # an audit: "a nurse practitioner, a physical therapist, a physician and a physician assistant may perform and
    # report it (the sources list them)" for 62367, where the guide lists four roles and the notes add the NP
    answer = Q.who_may_perform(kb, "62367", date=DATE)["answer"]
    assert "A physical therapist, a physician and a physician assistant may perform and report it (guide §6.2" in answer
    assert "a nurse practitioner may perform and report it (domain notes, Who may perform" in answer
    assert "the sources list them" not in answer


def test_who_may_perform_does_not_say_may_perform_of_a_performer_no_source_names(kb):
    # 95990 by a physical therapist: accepted with a warning that no source names the performer
    answer = Q.who_may_perform(kb, "95990", date=DATE)
    pt = next(r for r in answer["rows"] if r["role"] == "physical_therapist")
    assert pt["may_perform"] and not pt["listed_as"]
    assert "A physical therapist: accepted, but no source names this performer" in answer["answer"]
    assert "physical therapist may perform" not in answer["answer"]


def test_questions_page_table_says_not_checked_where_no_source_lists_performers(kb):
    from cptkg.faces.explorer.questions import _rows

    unlisted = {r["performer"]: r["may perform"] for r in _rows(Q.who_may_perform(kb, "62360", date=DATE))}
    assert set(unlisted.values()) == {"not checked (no source lists who performs the code)"}
    listed = {r["performer"]: r["may perform"] for r in _rows(Q.who_may_perform(kb, "62370", date=DATE))}
    assert listed["physician"] == "yes" and listed["nurse"] == "no"


# ------------------------------------------------------------ why-not in words

def _infer(kb, route: str):
    enc = {"encounter_id": "syn-enc", "performer_role": "physician", "device": "programmable_pump",
           "route": route, "services": ["electronic_analysis", "reprogramming", "refill"]}
    return infer_codes(kb, parse_encounter(enc, kb=kb)).to_json()


def test_infer_why_not_says_the_routes_of_a_code_in_one_line(kb):
    res = _infer(kb, "intraventricular")
    route_lines = {e["code"]: [w["message"] for w in e["why_not"] if w["rule"] == "why-not.route"]
                   for e in res["not_chosen"]}
    assert route_lines["62369"] == ["62369 applies to epidural or intrathecal delivery only; the documented route "
                                    "is intraventricular (brain)."]
    for code, said in route_lines.items():
        assert len(said) <= 1, (code, said)
        assert not any("applies to epidural delivery only" in s or "applies to intrathecal delivery only" in s
                       for s in said), (code, said)


def test_infer_why_not_says_every_service_another_code_also_covers_in_one_line(kb):
    enc = {"encounter_id": "syn-enc", "performer_role": "nurse", "device": "programmable_pump",
           "route": "intrathecal", "services": ["electronic_analysis", "reprogramming", "refill"]}
    res = infer_codes(kb, parse_encounter(enc, kb=kb)).to_json()
    said = [w["message"] for e in res["not_chosen"] if e["code"] == "62367" for w in e["why_not"]]
    assert said == ["62367 fits, but 62369 covers everything documented that 62367 covers and also refill and "
                    "maintenance and reprogramming: bill 62369, which includes 62367."]


def test_one_line_per_condition_keeps_reasons_that_differ_in_more_than_one_value(kb):
    res = infer_codes(kb, parse_encounter({"encounter_id": "syn-enc", "performer_role": "physician",
                                           "device": "subcutaneous_reservoir", "route": "intraventricular",
                                           "services": ["implantation"]}, kb=kb))
    for _, reasons in res.not_chosen:  # idempotent: what is merged stays merged, nothing is dropped
        again = one_line_per_condition(kb, kb.infer_program, reasons)
        assert [r.message for r in again] == [r.message for r in reasons]
        assert len({r.message for r in reasons}) == len(reasons)


@pytest.mark.parametrize("role,label", [("physical_therapist", "a physical therapist"), ("nurse", "a nurse")])
def test_why_not_says_the_performer_is_not_a_physician_or_qhp_without_class_hierarchy_words(kb, role, label):
    ex = explain_claim(kb, parse_claim(claim(("62370", role)))).to_json()
    said = ex["lines"][0]["summary"]["why_not"]
    assert said == [f"No source here makes {label} a physician or qualified health care professional (QHP)"]
    assert not any("kind of" in s for s in said)
    # the condition searched for stays in the JSON for the full proof
    assert any("is a kind of physician" in w["condition"] for w in ex["lines"][0]["why_not"])


def test_explain_text_says_why_not_in_billing_words(tmp_path):
    import json

    path = tmp_path / "syn-pt.json"
    path.write_text(json.dumps(claim(("62370", "physical_therapist"))))
    out = CliRunner().invoke(main, ["explain", str(path)]).output
    said = " ".join(out.split())
    assert "Why not accepted: No source here makes a physical therapist a physician or qualified health care professional (QHP)." in said
    assert "kind of" not in said


# ------------------------------------------------------------ sources

def test_sources_name_an_edit_or_conflict_once_and_a_codes_routes_once(kb):
    idx = source_index(kb)
    kinds = ("(source conflict)", "(pair edit)", "(unit edit)", "(modifier set)")
    for s in idx["sources"]:
        named = [f.rsplit(" (", 1)[0] for f in s["facts"] if f.endswith(kinds)]
        for name in named:  # "X (pair edit)" and not also "X is a pair edit", "X has high confidence", ...
            again = [f for f in s["facts"] if name in f and not f.endswith(kinds)]
            assert not again, (s["id"], again)
        said = " | ".join(s["facts"])  # each route its own fact, not also the loader's "epidural or intrathecal"
        assert not ("applies to epidural or intrathecal delivery" in said and "applies to epidural delivery" in said), s["id"]
    conflict = next(s for s in idx["sources"] if s["id"] == "n-conflict-62368")
    assert conflict["facts"] == ["Guide §7.1 contradicts itself on whether 62368 includes reprogramming (source conflict)"]


def test_cptkg_sources_prints_the_conflict_text_once_per_source():
    out = CliRunner().invoke(main, ["sources"]).output
    entry = out.split("n-conflict-62368", 1)[1].split("\n\n")[0].split("\n")
    facts = next(x for x in entry if x.strip().startswith("facts:"))
    assert facts.count("Guide §7.1 contradicts itself on whether 62368 includes reprogramming") == 1


def test_rests_on_the_conflict_note_names_the_conflict_it_records(kb):
    answer = Q.rests_on(kb, "n-conflict-62368")
    assert "It is part of a recorded conflict: Guide §7.1 contradicts itself" in answer["answer"]
    assert "Nothing rests on it" not in answer["answer"]
    assert answer["answer"].count("contradicts itself on whether 62368") == 1


# ------------------------------------------------------------ duplicates and supplies

def test_a_third_95990_is_one_duplicate_of_line_1_not_of_line_2_marked_76(kb):
    res = cptkg.check(claim(("95990", "physician"), ("95990", "physician", "76"), ("95990", "physician")), kb=kb)
    assert [ln["status"] for ln in res["lines"]] == ["accepted", "accepted", "rejected"]
    reasons = line(res, 3)["reasons"]
    assert len(reasons) == 1, [r["message"] for r in reasons]
    assert "repeats 95990 on line 1 for" in reasons[0]["message"] and "line 2" not in reasons[0]["message"]


def test_three_unmarked_lines_each_repeat_the_first_once(kb):
    res = cptkg.check(claim(*[("95990", "physician")] * 3), kb=kb)
    for n in (2, 3):
        msgs = [r["message"] for r in line(res, n)["reasons"]]
        assert Counter(r["rule"] for r in line(res, n)["reasons"]) == {"duplicate.line": 1}, msgs
        assert "repeats 95990 on line 1 for" in msgs[0]


def test_clinical_staff_warning_is_on_the_nurses_refill_not_on_the_drug_supply(kb):
    res = cptkg.check(claim(("95990", "nurse"), ("J0475", "nurse", "KD")), kb=kb)
    warned = {ln["line"]: {w["rule"] for w in ln["warnings"]} for ln in res["lines"]}
    assert "role.clinical-staff-reports" in warned[1]
    assert "role.clinical-staff-reports" not in warned[2]
    assert line(res, 2)["verdict"] == "accepted"


def test_cli_who_may_perform_rows_never_say_may_perform_where_no_source_lists_performers():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "cptkg", "ask", "who-may-perform", "62360"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert "may perform ·" not in run.stdout and "performer not checked ·" in run.stdout


def test_what_rests_on_a_source_names_no_blank_node():
    """The owl:Axiom records that annotate a fact with its source have parser-made ids
    ("n3f…b21 has medium confidence"): an answer lists the fact they annotate, never them."""
    import re

    from cptkg.judge.questions import rests_on
    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    made_up = re.compile(r"\bn?[0-9a-f]{32}b\d+\b")
    seen = 0
    for sid in kb.sources:
        ans = rests_on(kb, sid)
        facts = [r["fact"] for r in ans["rows"] if r.get("kind") == "fact"]
        seen += len(facts)
        assert not [f for f in facts if made_up.search(f)], sid
        assert not made_up.search(ans["answer"]), sid
    assert seen > 50


def test_a_yes_no_fact_reads_as_a_statement_not_a_colon_and_true(kb):
    # an audit: a proof said "Rests on: ... 62365 removes the device: true"
    assert kb.describe("removes_device", ("62365", "true")) == "62365 removes the device"
    assert kb.describe("removes_device", ("62365", "false")) == "62365 removes the device: no"
    assert kb.describe("edit_rationale", ("e1", "SYNTHETIC")).endswith("rests on: SYNTHETIC")  # not a yes/no value


def test_a_62368_line_says_the_guide_contradicts_itself_and_how_the_kb_resolved_it(kb):
    # an audit: the 62368 conflict the KB records was shown by `sources` only, never where a 62368 line is judged
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    claim = {"claim_id": "C", "patient_id": "P", "history": [{"code": "62362", "date_of_service": "2024-01-10"}],
             "lines": [{"line": 1, "code": "62368", "date_of_service": "2025-03-04", "provider_id": "N",
                        "provider_role": "physician"},
                       {"line": 2, "code": "J0475", "date_of_service": "2025-03-04", "provider_id": "N",
                        "provider_role": "physician", "modifiers": ["KD"]}]}
    r = CliRunner().invoke(main, ["check", "-", "--json"], input=json.dumps(claim))
    lines = json.loads(r.stdout)["lines"]
    assert [c["id"] for c in lines[0]["source_conflicts"]] == ["conflict-62368"]
    assert "The CPT descriptor" in lines[0]["source_conflicts"][0]["resolution"]
    assert "source_conflicts" not in lines[1]  # a code whose sources agree carries none
    text = CliRunner().invoke(main, ["check", "-"], input=json.dumps(claim)).stdout
    assert "note: the sources conflict: Guide §7.1 contradicts itself on whether 62368" in " ".join(text.split())


def test_why_not_of_a_device_denial_names_the_device_the_code_does_not_apply_to(kb):
    """62367 on a reservoir: the why-not named "Device replaced since does not apply: 2024-03-04 is on or after
    2024-03-04" (the current device's own date), not the device (an audit)."""
    raw = claim(("62367", "physician"), history=({"code": "62360", "date_of_service": "2024-03-04"},))
    ex = explain_claim(kb, parse_claim(raw)).to_json()
    first = line(ex, 1)
    assert first["status"] == "rejected"
    assert first["summary"]["why_not"] == ["No source here makes 62367 apply to a subcutaneous reservoir"]
    assert not any(w["rule"] == "device.superseded" for w in first["why_not"]), first["why_not"]


def test_why_not_of_a_route_denial_names_the_route_the_code_does_not_apply_to(kb):
    """62365 for intraventricular delivery had no why-not at all (an audit)."""
    raw = claim(("62365", "physician"))
    raw["lines"][0]["route"] = "intraventricular"
    ex = explain_claim(kb, parse_claim(raw)).to_json()
    assert line(ex, 1)["summary"]["why_not"] == ["No source here makes 62365 apply to intraventricular (brain) delivery"]
