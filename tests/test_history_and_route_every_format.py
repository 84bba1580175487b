"""``--history FILE`` works for claims in every format, as docs/checking.md says, and
the drug-delivery route a claim file does not state is an assumption the
explanation names, which ``--route`` (or the line's own route) replaces by a
checked fact."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cptkg import pipeline
from cptkg.io import readers
from cptkg.claims.models import InputError

CLAIM = {"claim_id": "C1", "patient_id": "P1", "lines": [
    {"line": 1, "code": "62362", "date_of_service": "2025-01-02", "provider_id": "N1", "provider_role": "physician"}]}
HISTORY = b"patient_id,code,date_of_service,provider_id\nP1,62362,2025-01-02,N1\nP2,62362,2025-01-02,N1\n"


def _fhir_claim() -> dict:
    return {"resourceType": "Claim", "id": "C1", "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "use": "claim", "patient": {"reference": "Patient/P1"}, "created": "2025-01-03",
            "provider": {"reference": "Organization/clinic"}, "priority": {"coding": [{"code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/1"}}],
            "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/N1"},
                          "qualification": {"coding": [{"system": "http://nucc.org/provider-taxonomy",
                                                        "code": "208VP0014X"}]}}],
            "item": [{"sequence": 1, "careTeamSequence": [1],
                      "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "62362"}]},
                      "servicedDate": "2025-01-02"}]}


def _statuses(outcome) -> list[str]:
    return [ln["status"] for r in outcome.results for ln in r.get("lines", [])] or [r["status"] for r in outcome.results]


@pytest.mark.parametrize("fmt", ["json", "fhir"])
def test_a_history_file_makes_a_billed_service_a_duplicate_whatever_the_claim_format(fmt):
    data = json.dumps(CLAIM if fmt == "json" else _fhir_claim()).encode()
    without = pipeline.run(data, fmt, "json")
    with_history = pipeline.run(data, fmt, "json", history=HISTORY)
    assert _statuses(without) == ["accepted"]
    assert _statuses(with_history) == ["rejected"]
    assert with_history.results[0]["lines"][0]["reasons"][0]["rule"] == "duplicate.history"


def test_history_file_rows_come_after_the_history_a_claim_carries():
    claim = dict(CLAIM, history=[{"code": "62350", "date_of_service": "2024-01-01"}])
    read = readers.read(json.dumps(claim).encode(), "json", HISTORY)
    assert [h["code"] for h in read.claims[0]["history"]] == ["62350", "62362"]


def test_only_the_claims_patient_rows_are_attached():
    claim = dict(CLAIM, patient_id="P3")
    read = readers.read(json.dumps(claim).encode(), "json", HISTORY)
    assert "history" not in read.claims[0]


def test_a_bad_history_row_of_the_patient_makes_that_claim_an_error_naming_the_row_and_field():
    bad = b"patient_id,code,date_of_service,provider_id\nP1,62362,2025-13-40,N1\n"
    other = dict(CLAIM, claim_id="C2", patient_id="P9")
    out = pipeline.run(json.dumps([CLAIM, other]).encode(), "json", "json", history=bad)
    first, second = out.results
    assert first["status"] == "error"
    assert "history row 1" in first["error"] and "date_of_service" in first["error"]
    assert second["status"] == "accepted"  # another patient's claim is judged


def test_a_bad_history_row_naming_no_patient_makes_every_claim_an_error():
    bad = b"patient_id,code,date_of_service,provider_id\n,62362,2025-01-02,N1\n"
    out = pipeline.run(json.dumps([CLAIM, dict(CLAIM, claim_id="C2", patient_id="P9")]).encode(), "json", "json",
                       history=bad)
    assert [r["status"] for r in out.results] == ["error", "error"]
    assert all("history row 1" in r["error"] for r in out.results)


def test_cli_check_takes_history_with_claim_json(tmp_path):
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps(CLAIM))
    hist = tmp_path / "h.csv"
    hist.write_bytes(HISTORY)
    run = subprocess.run([sys.executable, "-m", "cptkg", "check", str(claims), "--history", str(hist)],
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["lines"][0]["reasons"][0]["rule"] == "duplicate.history"


# ------------------------------------------------------------------ route
def test_a_line_without_route_is_judged_for_its_codes_routes_and_the_explanation_says_so():
    out = pipeline.run(json.dumps(CLAIM).encode(), "json", "json", explain=True)
    ln = out.results[0]["lines"][0]
    assert ln["status"] == "accepted"
    (said,) = ln["assumptions"]
    assert "does not state the route of line 1" in said
    assert "epidural or intrathecal" in said and "--route" in said


def test_a_line_that_states_its_route_has_no_assumption():
    claim = json.loads(json.dumps(CLAIM))
    claim["lines"][0]["route"] = "epidural"
    out = pipeline.run(json.dumps(claim).encode(), "json", "json", explain=True)
    assert "assumptions" not in out.results[0]["lines"][0]


def test_a_code_for_every_route_gets_no_assumption_only_codes_limited_to_some_routes_do():
    claim = json.loads(json.dumps(CLAIM))
    claim["lines"][0]["code"] = "99213"  # a valid CPT code the family holds no route for
    out = pipeline.run(json.dumps(claim).encode(), "json", "json", explain=True)
    assert "assumptions" not in out.results[0]["lines"][0]


@pytest.mark.parametrize("fmt", ["json", "fhir"])
def test_route_option_states_the_route_of_lines_that_state_none_and_the_rules_check_it(fmt):
    data = json.dumps(CLAIM if fmt == "json" else _fhir_claim()).encode()
    out = pipeline.run(data, fmt, "json", explain=True, route="intraventricular")
    ln = out.results[0]["lines"][0]
    assert ln["status"] == "rejected"
    assert [r["rule"] for r in ln["reasons"]] == ["route.not-applicable"]
    assert "assumptions" not in ln


def test_a_lines_own_route_wins_over_the_route_option():
    claim = json.loads(json.dumps(CLAIM))
    claim["lines"][0]["route"] = "intrathecal"
    out = pipeline.run(json.dumps(claim).encode(), "json", "json", route="intraventricular")
    assert out.results[0]["lines"][0]["status"] == "accepted"


def test_an_unknown_route_option_is_refused_naming_the_option_and_the_routes():
    with pytest.raises(InputError) as e:
        pipeline.run(json.dumps(CLAIM).encode(), "json", "json", route="brain")
    assert "--route" in str(e.value) and "intrathecal" in str(e.value)


def test_cli_explain_text_shows_the_assumption_and_route_option_exit_codes(tmp_path):
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps(CLAIM))
    run = subprocess.run([sys.executable, "-m", "cptkg", "explain", str(claims)], capture_output=True, text=True)
    assert run.returncode == 0 and "Assumed: The claim does not state the route" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "cptkg", "check", str(claims), "--route", "brain"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--route" in bad.stderr and "Traceback" not in bad.stderr
    denied = subprocess.run([sys.executable, "-m", "cptkg", "check", str(claims), "--route", "intraventricular"],
                            capture_output=True, text=True)
    assert denied.returncode == 1


# ------------------------------------------------------------ batch --route
def _batch(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cptkg", "batch", *map(str, args)], capture_output=True, text=True)


def test_batch_route_states_the_route_of_rows_that_state_none_and_a_rows_own_route_wins(tmp_path):
    rows = tmp_path / "claims.csv"
    rows.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,route\n"
                    "B1,P1,1,62362,2025-01-02,N1,physician,\n"
                    "B2,P2,1,62362,2025-01-02,N1,physician,intrathecal\n")
    out = tmp_path / "out.csv"
    run = _batch(rows, "-o", out, "--route", "intraventricular")
    assert run.returncode == 1, run.stderr
    got = {r["claim_id"]: r for r in csv_rows(out)}
    assert got["B1"]["status"] == "rejected" and "route.not-applicable" in got["B1"]["rules"]
    assert got["B2"]["status"] == "accepted"
    assert _batch(rows, "-o", out).returncode == 0  # without --route nothing is checked


def test_batch_and_check_agree_on_an_837p_with_route(tmp_path):
    from devtools import x12_build

    f = tmp_path / "claims.x12"
    f.write_text(x12_build.build([dict(CLAIM, lines=[dict(CLAIM["lines"][0], provider_id="1234567893")])]))
    out = tmp_path / "out.csv"
    run = _batch(f, "-o", out, "--route", "intraventricular")
    assert run.returncode == 1, run.stderr
    (row,) = csv_rows(out)
    checked = subprocess.run([sys.executable, "-m", "cptkg", "check", str(f), "--route", "intraventricular",
                              "--json"], capture_output=True, text=True)
    verdict = json.loads(checked.stdout)[0]["lines"][0]
    assert row["status"] == verdict["status"] == "rejected"
    assert row["rules"] == ";".join(r["rule"] for r in verdict["reasons"])


def test_batch_refuses_an_unknown_route_before_judging(tmp_path):
    rows = tmp_path / "claims.csv"
    rows.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role\nB1,P1,1,62362,2025-01-02,N1,physician\n")
    run = _batch(rows, "-o", tmp_path / "out.csv", "--route", "brain")
    assert run.returncode == 2 and "--route" in run.stderr and not (tmp_path / "out.csv").exists()


def csv_rows(path) -> list[dict]:
    import csv as _csv

    with open(path, newline="") as f:
        return list(_csv.DictReader(f))


def test_a_history_row_listed_twice_is_one_service_in_check_and_batch(tmp_path):
    """A history records no units: the same row (code, date, provider) given twice counted two units against
    20610's limit of 2 a date (SYNTHETIC MUE), so 1 billed + 2 rows denied the line, and each reason was said
    twice (a coder's audit). The repeat is that service again; a row of another provider still counts."""
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    from pathlib import Path

    mue = Path(__file__).parent / "data" / "edits" / "synthetic-mue.ttl"
    head = "claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units\n"
    claims = tmp_path / "claims.csv"
    claims.write_text(head + "A,PA,1,20610,2025-05-15,N1,physician,1\nB,PB,1,20610,2025-05-15,N1,physician,1\n")
    history = tmp_path / "history.csv"
    history.write_text("patient_id,code,date_of_service,provider_id\n"
                       "PA,20610,2025-05-15,N2\nPA,20610,2025-05-15,N2\n"   # one service, listed twice
                       "PB,20610,2025-05-15,N2\nPB,20610,2025-05-15,N3\n")  # two services: 1 + 2 > 2
    res = CliRunner().invoke(main, ["check", str(claims), "--history", str(history), "--edits", str(mue),
                                    "--output", "json"])
    got = {c["claim_id"]: c["lines"][0] for c in json.loads(res.stdout)}
    assert (got["A"]["status"], got["B"]["status"]) == ("accepted", "rejected"), res.output
    warned = [w["message"] for w in got["A"]["warnings"]]
    assert warned and len(warned) == len(set(warned)), warned
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["batch", str(claims), "--history", str(history), "--edits", str(mue), "-o", str(out)])
    import csv

    rows = {r["claim_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert (rows["A"]["status"], rows["B"]["status"]) == ("accepted", "rejected"), res.output
    assert rows["B"]["rules"] == got["B"]["reasons"][0]["rule"]
