"""The CLI contract: JSON shapes, exit codes 0/1/2 and one-line errors."""
from pathlib import Path
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT

LINE = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "NPI-1", "provider_role": "physician"}


def claim(*lines, cid="C1", history=None):
    c = {"claim_id": cid, "patient_id": "P1", "lines": [dict(LINE, **l) for l in lines]}
    if history is not None:
        c["history"] = history
    return c


def run(args, data=None):
    r = CliRunner().invoke(main, args, input=None if data is None else json.dumps(data) if not isinstance(data, (str, bytes)) else data)
    return r


def test_check_json_shape_for_one_claim():
    r = run(["check", "-", "--json"], claim({"line": 1}, {"line": 2, "code": "95990"}))
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert set(out) >= {"claim_id", "status", "lines"}
    assert out["status"] == "rejected"
    l1, l2 = out["lines"]
    assert set(l1) >= {"line", "code", "status", "reasons"}
    assert l1["status"] == "rejected" and l2["status"] == "accepted"
    assert set(l1["reasons"][0]) >= {"rule", "message", "source"}
    assert "guide §1" in l1["reasons"][0]["source"]


def test_check_list_input_gives_a_list():
    r = run(["check", "-", "--json"], [claim({"line": 1}, cid="A"), claim({"line": 1, "code": "95990"}, cid="B")])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert [c["claim_id"] for c in out] == ["A", "B"]


def test_all_accepted_exits_0():
    assert run(["check", "-", "--json"], claim({"line": 1})).exit_code == 0


@pytest.mark.parametrize("data, expected", [
    ("{not json", "not valid JSON"),
    (json.dumps(claim({"date_of_service": "2025-13-01"})), "claim C1, line 1, field date_of_service"),
    (json.dumps(claim({"line": 1}, {"line": 1})), "claim C1, line 1, field line: line number 1 appears more than once"),
    (json.dumps(claim({"units": "2"})), "claim C1, line 1, field units: must be a whole number"),
    (json.dumps({"claim_id": "C1", "lines": []}), "claim C1"),
    (json.dumps(42), "expected a claim object or a list of claims"),
    (json.dumps(claim({"provider_role": "surgeon"})), "field provider_role"),
])
def test_unjudgeable_input_exits_2_with_one_line(data, expected):
    r = run(["check", "-", "--json"], data)
    assert r.exit_code == 2
    assert expected in r.stderr
    assert "Traceback" not in r.output + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_bad_claim_in_a_list_does_not_hide_the_good_ones():
    r = run(["check", "-", "--json"], [claim({"line": 1}, cid="A"), {"claim_id": "B"}])
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert out[0]["status"] == "accepted"
    assert out[1]["status"] == "error" and "claim B" in out[1]["error"]


def test_malformed_code_is_a_rejected_line_not_an_input_error():
    r = run(["check", "-", "--json"], claim({"code": "0000X"}))
    assert r.exit_code == 1
    reason = json.loads(r.stdout)["lines"][0]["reasons"][0]
    assert reason["rule"] == "code.invalid" and reason["carc"] == "16" and reason["group_code"] == "CO"


def test_edits_option_loads_an_edit_file_over_the_pack():
    edits = str(Path(__file__).parent / "data" / "edits" / "synthetic-ptp.ttl")
    body = {"claim_id": "N", "patient_id": "P", "lines": [
        {"line": 1, "code": "27447", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"},
        {"line": 2, "code": "20610", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"}]}
    r = run(["check", "-", "--json", "--edits", edits], json.dumps(body))
    assert r.exit_code == 1
    line2 = json.loads(r.stdout)["lines"][1]
    assert line2["reasons"][0]["rule"] == "ncci.column2" and line2["reasons"][0]["carc"] == "236"
    r = run(["check", "-", "--json", "--edits", "nowhere.ttl"], json.dumps(body))
    assert r.exit_code == 2 and "no such edit file" in r.stderr


def test_missing_file_exits_2():
    r = run(["check", "/nonexistent/claim.json"])
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_text_report_is_readable():
    r = run(["check", "-"], claim({"line": 1}, {"line": 2, "code": "95990"}))
    assert "Claim C1: REJECTED" in r.stdout
    assert "line 1  62367  rejected" in r.stdout


def test_infer_json_shape():
    enc = {"encounter_id": "E1", "performer_role": "nurse", "device": "programmable_pump",
           "services": ["electronic_analysis", "reprogramming", "refill"]}
    r = run(["infer", "-", "--json"], enc)
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert [c["code"] for c in out["codes"]] == ["62369"]
    assert set(out["codes"][0]) >= {"code", "reasons"}
    nc = {c["code"]: c["why_not"] for c in out["not_chosen"]}
    assert "62370" in nc and nc["62370"][0]["message"]


def test_infer_with_no_fitting_code_says_why_and_exits_1():
    enc = {"encounter_id": "E2", "performer_role": "physician", "device": "nonprogrammable_pump", "services": ["electronic_analysis"]}
    r = run(["infer", "-", "--json"], enc)
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["codes"] == [] and "No code" in out["message"]


def test_infer_bad_input_exits_2():
    r = run(["infer", "-"], {"encounter_id": "E3", "performer_role": "nurse", "device": "pump", "services": ["refill"]})
    assert r.exit_code == 2 and "encounter E3, field device" in r.stderr


def test_python_dash_m_and_console_script_work():
    r = subprocess.run([sys.executable, "-m", "cptkg", "check", str(ROOT / "examples/claim-rejected.json"), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["claim_id"] == "CLM-1001"


def test_every_cli_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = main.list_commands(None)
    assert {"check", "batch", "edits", "export", "query"} <= set(names)
    for name in names:
        assert f"cptkg {name}" in readme, f"command {name} missing from README.md"


def test_rule_test_command_passes():
    r = run(["test"])
    assert r.exit_code == 0, r.output
    assert "0 failed, 0 rules untested" in r.output


def test_a_case_the_engine_stops_fails_in_one_line_not_a_traceback(monkeypatch):
    """An audit: a pack rule that multiplies out stopped the engine at its memory limit, and cptkg test printed
    a 56-line traceback where check says it in one line."""
    from cptkg import cases
    from cptkg.engines.base import EvaluationMemory

    def stopped(*a, **kw):
        raise EvaluationMemory("rule evaluation needed more than 2,048 MiB of memory and was stopped")

    monkeypatch.setattr(cases, "run_infer_case", stopped)
    r = run(["test"])
    assert r.exit_code == 1 and r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    assert "the rules could not judge the case: rule evaluation needed more than 2,048 MiB" in r.output


@pytest.mark.parametrize("output", ["--json", "csv", "fhir"])
def test_one_claim_that_cannot_be_judged_gets_its_error_entry_on_stdout_in_the_format_asked(tmp_path, output):
    """An integrator's audit: check --json (or --output csv/fhir) of one claim JSON that cannot be judged wrote
    nothing on standard output, not even the CSV header; the same claim in a list got its error entry. The one
    line on standard error and exit 2 stay; the text report is that line alone."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"claim_id": "X", "patient_id": "P", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "10/06/2025", "provider_id": "D",
         "provider_role": "physician"}]}))
    args = ["check", str(bad)] + (["--json"] if output == "--json" else ["--output", output])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2
    assert "field date_of_service: '10/06/2025' is not a date written YYYY-MM-DD" in r.stderr
    if output == "--json":
        got = json.loads(r.stdout)
        assert got["status"] == "error" and got["lines_not_judged"] == [{"line": 1, "code": "62367"}]
    elif output == "csv":
        assert r.stdout.splitlines()[0].startswith("claim_id,line,code,status") and ",error," in r.stdout
    else:
        assert json.loads(r.stdout)["resourceType"] in ("ClaimResponse", "Bundle")
    text = CliRunner().invoke(main, ["check", str(bad)])
    assert text.exit_code == 2 and text.stdout == ""


def test_an_error_entry_names_the_knowledge_base_version_it_was_refused_under(tmp_path):
    """A refused claim beside a judged one: both entries carry the same kb_version, so an auditor's log of
    the error says which knowledge it was read under (a time limit or a rule stop can change with it)."""
    p = tmp_path / "two.json"
    line = {"line": 1, "code": "95990", "provider_id": "N1", "provider_role": "physician", "units": 1}
    p.write_text(json.dumps([
        {"claim_id": "A1", "patient_id": "P1", "lines": [{**line, "date_of_service": "2026-03-01"}]},
        {"claim_id": "A2", "patient_id": "P1", "lines": [{**line, "date_of_service": "2026-13-01"}]}]))
    out = CliRunner().invoke(main, ["check", "--json", str(p)])
    got = json.loads(out.stdout)
    assert got[1]["status"] == "error" and got[1]["kb_version"] == got[0]["kb_version"] != ""


def test_check_json_says_what_it_left_unchecked_without_explain(tmp_path):
    """The route a line does not state was never checked: check --json says so on that line (it was said only
    under --explain), not on a line stating its route; the text report says how to state one once per claim."""
    p = tmp_path / "routes.json"
    base = {"date_of_service": "2026-03-01", "provider_id": "N1", "provider_role": "physician", "units": 1}
    p.write_text(json.dumps({"claim_id": "R1", "patient_id": "P1", "lines": [
        {**base, "line": 1, "code": "62367"}, {**base, "line": 2, "code": "62368", "route": "intrathecal"},
        {**base, "line": 3, "code": "62370"}]}))
    got = json.loads(CliRunner().invoke(main, ["check", "--json", str(p)]).stdout)
    said = {ln["line"]: ln.get("assumptions", []) for ln in got["lines"]}
    assert [len(said[n]) for n in (1, 2, 3)] == [1, 0, 1]
    assert "does not state the route of line 1" in said[1][0] and "not checked" in said[1][0]
    text = CliRunner().invoke(main, ["check", str(p)]).stdout
    assert text.count("assumed: The claim does not state the route") == 2
    assert text.count("To have a route checked") == 1
