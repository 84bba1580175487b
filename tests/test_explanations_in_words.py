"""Explanations in billing language (issue 15): every rule has a title and every
predicate a phrase in the data; the default explanation is short and shows no
raw logic; the whole proof stays one flag away and the JSON keeps its fields."""
import json

import pytest
from click.testing import CliRunner

from cptkg.cases import load_cases
from cptkg.explanation import explain_claim
from cptkg.explanation.summary import raw_atoms
from cptkg.faces.cli import main
from cptkg.io.writers.text import summary_report
from cptkg.claims.models import parse_claim
from cptkg.knowledge.loader import load_kb
from cptkg.knowledge.namespace import ONT
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT, case_files
from rdflib import RDFS

FIXTURE = ROOT / "tests" / "families" / "stimfix"
PACKS = [PACK, FIXTURE]
CLAIMS = [c for c in load_cases(case_files(PACK, "claim")) if "error" not in c["expect"]]


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_every_rule_of_a_pack_has_a_title_in_its_titles_file(pack):
    kb = load_kb(pack)
    rules = [r for prog in (kb.check_program, kb.infer_program) for r in prog.rules]
    missing = sorted({r.meta.id for r in rules if not kb.rule_titles.get(r.meta.id)})
    assert not missing, f"{pack.name}/rules/titles.yaml: no title for {missing}"
    for rid, title in kb.rule_titles.items():
        assert not raw_atoms(title) and title != rid, f"{rid}: title {title!r} is not in words"


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_every_declared_predicate_has_a_phrase_and_a_label(pack):
    kb = load_kb(pack)
    onto = kb.ontology_graph
    for prop, name in onto.subject_objects(ONT.datalogPredicate):
        assert onto.value(prop, ONT.phrase) is not None, f"predicate {name} ({prop}) has no ont:phrase"
        assert onto.value(prop, RDFS.label) is not None, f"predicate {name} ({prop}) has no rdfs:label"


def test_raw_atom_pattern_catches_atoms_comparisons_and_templates():
    assert raw_atoms("billed(1, '62367', '2025-03-04') (from the claim)")
    assert raw_atoms("check: 1 != 2 holds")
    assert raw_atoms("{C} is not a known code") and raw_atoms("on {E:entry}")
    assert not raw_atoms("62368 on line 1 and 95990 (line 2) on 2025-06-10 (exclusion: Electronic analysis (62367–62370))")


@pytest.mark.parametrize("case", CLAIMS, ids=[c["name"][:70] for c in CLAIMS])
def test_default_explanation_of_every_case_shows_no_raw_atom(kb, case):
    ex = explain_claim(kb, parse_claim(case["given"])).to_json()
    text = summary_report(ex)
    assert not raw_atoms(text), f"{case['name']}: raw logic in the explanation: {raw_atoms(text)}\n{text}"


@pytest.mark.parametrize("example", ["claim-pair.json", "claim-rejected.json"])
def test_explain_line_1_of_the_readme_examples_prints_at_most_30_lines_in_words(example):
    r = CliRunner().invoke(main, ["explain", str(ROOT / "examples" / example), "--line", "1"])
    assert r.exit_code == 1
    lines = r.stdout.rstrip("\n").splitlines()
    # 30 lines, and one more since the clinical-staff warning reads the code's performer list (and cites its
    # sentence, guide §7.2) so that a code no source lists performers for gets no incident-to advice, and four
    # more on a 62368 line for guide §7.1's contradiction, which explain now notes as check does (a coder's audit)
    conflict = sum(1 for ln in lines if "the sources conflict" in ln)
    assert len(lines) <= 31 + 4 * conflict, r.stdout
    assert not raw_atoms(r.stdout), raw_atoms(r.stdout)
    assert "Denied: " in r.stdout and "Fix: " in r.stdout and "“" in r.stdout  # title, fix, a quoted source


def test_explain_full_prints_the_whole_proof():
    path = str(ROOT / "examples" / "claim-pair.json")
    short = CliRunner().invoke(main, ["explain", path, "--line", "1"]).stdout
    full = CliRunner().invoke(main, ["explain", path, "--line", "1", "--full"]).stdout
    assert "check: line 1 is not line 2" in full and "edit.applies" in full and "!=" not in full
    # billed entries are named as entries in a comparison, not by their ids ("-1 is not 2": an analyst walk)
    assert len(full.splitlines()) > 2 * len(short.splitlines())


def test_each_source_is_quoted_once_in_the_default_explanation():
    r = CliRunner().invoke(main, ["explain", str(ROOT / "examples" / "claim-pair.json"), "--line", "1"])
    flat = " ".join(r.stdout.split())
    assert flat.count("Do not report CPT 62367, CPT 62368, CPT 62369 or CPT 62370") == 1


def test_explain_json_keeps_the_proof_and_adds_a_summary_per_reason_and_line():
    r = CliRunner().invoke(main, ["explain", str(ROOT / "examples" / "claim-pair.json"), "--line", "1", "--json"])
    ln = json.loads(r.stdout)["lines"][0]
    reason = ln["reasons"][0]
    assert {"rule", "message", "source", "confidence", "sources", "proof", "title", "summary"} <= set(reason)
    sm = reason["summary"]
    assert sm["title"] == "Analysis and refill billed apart where one code covers both"
    assert sm["facts"] == ["line 1 bills 62368 on 2025-06-10", "line 2 bills 95990 on 2025-06-10"]
    assert len({s["id"] for s in sm["sources"]}) == len(sm["sources"])
    assert sm["proof_nodes"] > sm["folded"] > 0
    # absent facts (an edit's missing dates, modifiers not billed) are folded out of the summary's why-not;
    # the full why-not keeps them
    assert ln["summary"]["fixes"] == [0] and isinstance(ln["summary"]["why_not"], list) and ln["why_not"]
    assert "why_not" in ln and "suggestions" in json.loads(r.stdout)


def test_nurse_line_is_accepted_for_billing_under_the_supervising_physician(kb):
    claim = {"claim_id": "N", "patient_id": "P", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "nurse"}]}
    import cptkg

    ln = cptkg.check(claim, kb=kb)["lines"][0]
    assert ln["status"] == "accepted"
    assert ln["verdict"].startswith("accepted for billing under the supervising physician or QHP")
    assert ln["warnings"][0]["title"] == "Clinical staff bill under the supervising physician or QHP"


def test_titles_file_with_a_rule_without_title_is_refused(tmp_path):
    import shutil

    from cptkg.knowledge.loader import KBLoadError

    dst = tmp_path / "stimfix"
    shutil.copytree(FIXTURE, dst)
    (dst / "rules" / "titles.yaml").write_text("fx.bill:\n  verdict: billed\n", encoding="utf-8")
    with pytest.raises(KBLoadError, match="fx.bill: the title is missing"):
        load_kb(dst)


def test_lint_names_a_rule_without_a_title(tmp_path):
    import shutil

    dst = tmp_path / "stimfix"
    shutil.copytree(FIXTURE, dst)
    text = (dst / "rules" / "titles.yaml").read_text(encoding="utf-8")
    (dst / "rules" / "titles.yaml").write_text(
        "\n".join(l for l in text.splitlines() if not l.startswith("fx.bill:")) + "\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["lint", "--kb", str(dst)])
    assert r.exit_code == 0, r.output
    assert "rule fx.bill" in r.stdout and "has no title (no '% title:' in its metadata, nor in rules/titles.yaml)" in r.stdout


def test_a_comparison_of_two_billed_entries_names_them_as_entries():
    """E != L over a history entry and a line read "-1 is not 2" in a full proof: an entry variable (bound at
    a claim input's entry position, or shown {X:entry} in the message) is said "history entry 1"."""
    from cptkg.explanation.proofs import _as_entry, compared
    from cptkg.knowledge.loader import default_kb
    from cptkg.rules.ast import Comparison
    from cptkg.rules.messages import entry_variables

    kb = default_kb()
    checked = 0
    for rule in kb.check_program.rules:
        for item in rule.body:
            if isinstance(item, Comparison) and item.op == "!=" and {getattr(item.left, "name", None),
                                                                      getattr(item.right, "name", None)} == {"E", "L"}:
                entries = entry_variables(rule)
                assert {"E", "L"} <= entries, rule.where
                said = compared(_as_entry(item.left, -1 if item.left.name == "E" else 2, entries), "!=",
                                _as_entry(item.right, -1 if item.right.name == "E" else 2, entries))
                assert said in ("history entry 1 is not line 2", "line 2 is not history entry 1"), said
                checked += 1
    assert checked >= 3
    # a code or a count is not an entry: 1 != 2 over units stays numbers
    from cptkg.rules.ast import Var
    assert _as_entry(Var("N"), 2, {"E"}) == 2


def test_the_62368_source_conflict_is_noted_in_explain_full_and_the_work_paper(tmp_path):
    """check's text and JSON noted guide §7.1's contradiction on a 62368 line; explain, --full and the HTML work
    paper, the views a reviewer reads, did not (a coder's audit)."""
    claim = {"claim_id": "K68", "patient_id": "P", "lines": [
        {"line": 1, "code": "62368", "date_of_service": "2025-06-10", "provider_id": "N1", "provider_role": "physician",
         "route": "intrathecal"}], "history": [{"code": "62362", "date_of_service": "2024-06-01"}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(claim), encoding="utf-8")
    for args in (["explain", str(path)], ["explain", str(path), "--full"],
                 ["check", str(path), "--explain", "--output", "html"]):
        out = CliRunner().invoke(main, args).stdout
        assert "the sources conflict: Guide §7.1 contradicts itself" in out.replace("\n      ", " "), (args, out[:600])


def test_a_duplicates_why_not_names_the_rules_that_did_not_apply_not_open_conditions(tmp_path):
    """J0475-KD and J0475-KD-JW by one provider: the why-not read "None of these holds: the … include modifier
    JW; the … include modifier KD", as if the line lacked JW and KD (a coder's audit)."""
    line = lambda n, code, mods=None, units=1: {  # noqa: E731
        "line": n, "code": code, "date_of_service": "2025-06-10", "provider_id": "N1", "provider_role": "nurse",
        "units": units, **({"modifiers": mods} if mods else {})}
    claim = {"claim_id": "DJW", "patient_id": "P", "lines": [line(1, "95990"), line(2, "J0475", ["KD"], 9),
                                                             line(3, "J0475", ["KD", "JW"])],
             "history": [{"code": "62362", "date_of_service": "2024-06-01"}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(claim), encoding="utf-8")
    out = CliRunner().invoke(main, ["explain", str(path)]).stdout
    why = " ".join(ln.strip() for ln in out.split("Why not accepted:", 1)[1].split("Fix:")[0].splitlines())
    assert "…" not in why and "include modifier" not in why, why
    assert "Repeat procedure marked with 76/77” does not apply" in why, why


def test_units_over_one_of_a_code_no_unit_edit_limits_are_said_not_checked(tmp_path):
    """62367 x2 with no MUE loaded was accepted without a word, while an unstated route is noted (a coder's audit);
    with the payer's MUE loaded the note goes (the units are then checked)."""
    claim = {"claim_id": "U2", "patient_id": "P", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-06-10", "provider_id": "N1", "provider_role": "physician",
         "units": 2, "route": "intrathecal"}], "history": [{"code": "62362", "date_of_service": "2024-06-01"}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(claim), encoding="utf-8")
    out = " ".join(CliRunner().invoke(main, ["explain", str(path)]).stdout.split())
    assert "Line 1 bills 2 units of 62367, and no unit edit (MUE) for 62367 is loaded: the units were not checked" in out
    mue = str(ROOT / "tests" / "data" / "edits" / "synthetic-mue.ttl")
    out = " ".join(CliRunner().invoke(main, ["explain", str(path), "--edits", mue]).stdout.split())
    assert "no unit edit" not in out


def test_the_device_warning_of_a_line_of_another_route_does_not_say_no_implant_is_on_record():
    """62369 stated intraventricular, with a 62362 (spinal pump) implant in the history: the implant serves
    another route, so the line is not read against it, and the warning said "no implantation appears in the
    patient's history" of a record that shows one (a coder's audit). It names the route it looked for."""
    claim = {"claim_id": "IV-1", "patient_id": "P-1", "lines": [
        {"line": 1, "code": "62369", "date_of_service": "2025-03-04", "provider_id": "N1",
         "provider_role": "physician", "route": "intraventricular"}],
        "history": [{"code": "62362", "date_of_service": "2024-01-10", "provider_id": "N9"}]}
    r = CliRunner().invoke(main, ["check", "-", "--json"], input=json.dumps(claim))
    line = json.loads(r.stdout)["lines"][0]
    warning = next(w["message"] for w in line["warnings"] if w["rule"] == "device.unconfirmed")
    assert warning.startswith("no implantation of a device for the route of line 1 appears in the patient's history"), warning


def test_explain_one_line_of_a_file_of_several_claims_reads_every_claim_that_has_it():
    """An 837P numbers each claim's lines from 1: "--line 2" was refused because the first claim had no
    line 2, though another had; and an accepted line was shown with its claim's fixes of another line
    (a real-files audit). Refused only when no claim has the line."""
    pair = {"claim_id": "TWO", "patient_id": "P-1", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-06-10", "provider_id": "N1", "provider_role": "physician"},
        {"line": 2, "code": "95990", "date_of_service": "2025-06-10", "provider_id": "N1", "provider_role": "physician"}],
        "history": [{"code": "62362", "date_of_service": "2024-01-10", "provider_id": "N9"}]}
    alone = {"claim_id": "ONE", "patient_id": "P-2", "lines": [dict(pair["lines"][1], line=1)],
             "history": [{"code": "62362", "date_of_service": "2024-01-10", "provider_id": "N9"}]}
    text = json.dumps([alone, pair])
    out = {}
    for n in (1, 2):
        r = CliRunner().invoke(main, ["explain", "-", "--line", str(n), "--json"], input=text)
        assert r.exit_code in (0, 1), r.output
        out[n] = {c["claim_id"]: c for c in json.loads(r.stdout)}
    assert [ln["line"] for ln in out[2]["TWO"]["lines"]] == [2] and out[2]["ONE"]["lines"] == []
    # line 2 repeats line 1 (an exact duplicate): line 2 is the rejected one, with its fixes
    assert out[2]["TWO"]["lines"][0]["status"] == "rejected" and out[2]["TWO"]["suggestions"]
    assert out[1]["TWO"]["lines"][0]["status"] == "accepted" and out[1]["TWO"]["suggestions"] == []
    r = CliRunner().invoke(main, ["explain", "-", "--line", "5"], input=text)
    assert r.exit_code == 2 and "the input has no line 5 in any of its 2 claims" in r.stderr, r.output


def test_a_comparison_that_failed_for_several_bindings_says_what_holds_not_none_of_these_holds():
    """An analyst's audit: "none of these holds: line 1 is at least line 1; line 2 is at least line 1" listed
    two true statements as the ones that do not hold."""
    kb = load_kb(PACK)
    raw = {"claim_id": "W-1", "patient_id": "P", "history": [{"code": "62362", "date_of_service": "2024-01-01"}],
           "lines": [{"line": n, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N",
                      "provider_role": "nurse"} for n in (1, 2)]}
    out = explain_claim(kb, parse_claim(raw, kb=kb)).to_json()
    comparisons = [w for ln in out["lines"] for w in ln.get("why_not", []) if w.get("kind") == "comparison"]
    assert comparisons, out["lines"]
    for w in comparisons:
        assert "none of these holds" not in w["message"], w["message"]
    assert any("each time it was tried, the opposite holds: line 1 is at least line 1; line 2 is at least line 1"
               in w["message"] for w in comparisons), [w["message"] for w in comparisons]


def test_why_not_in_csv_and_fhir_is_the_explanations_words_not_the_proofs_raw_failures(tmp_path):
    """A reservoir's 62369: CSV's why_not and FHIR's note said "“Line denied for the patient's device” applies:
    no fact found: ..." and FHIR gave four such notes a line, about rules unrelated to the denial (a coder's
    audit). Both now say what the text explanation says, once."""
    import csv as csv_module
    import io
    import json

    from click.testing import CliRunner

    from cptkg.faces.cli import main

    claim = {"claim_id": "B2", "patient_id": "P", "lines": [
        {"line": 1, "code": "62369", "date_of_service": "2025-06-10", "provider_id": "N1", "provider_role": "physician"}],
        "history": [{"code": "62360", "date_of_service": "2024-06-01"}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(claim), encoding="utf-8")
    text = " ".join(CliRunner().invoke(main, ["explain", str(path)]).output.split())
    said = text.split("Why not accepted: ", 1)[1].split(".")[0]
    rows = list(csv_module.DictReader(io.StringIO(
        CliRunner().invoke(main, ["check", str(path), "--explain", "--output", "csv"]).stdout.split("\n\n")[0])))
    assert rows[0]["why_not"] == said
    bundle = json.loads(CliRunner().invoke(main, ["check", str(path), "--explain", "--output", "fhir"]).stdout)
    responses = [e["resource"] for e in bundle["entry"]] if "entry" in bundle else [bundle]
    notes = [n["text"] for r in responses for n in r.get("processNote", []) if "why not" in n["text"]]
    assert notes == [f"line 1 why not accepted: {said}"]
    assert "no fact found" not in rows[0]["why_not"] + " ".join(notes)
