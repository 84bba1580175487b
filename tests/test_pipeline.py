"""One judging pipeline: every input format, every output format, with --explain,
--log and time-outs, through the same read → judge → explain → write → log path."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg import pipeline
from cptkg.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "interop"
INPUTS = {"json": ROOT / "examples" / "claims-batch.json", "csv": ROOT / "examples" / "claims.csv",
          "fhir": DATA / "fhir-bundle.json"}


def run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_csv_claims_with_explain_json_and_log_give_explanations_and_one_decision_per_claim(tmp_path):
    log = tmp_path / "decisions.jsonl"
    r = run(["check", str(INPUTS["csv"]), "--explain", "--json", "--log", str(log)])
    assert r.exit_code == 1, r.output  # CSV-2 bills 62368 with 95990
    results = json.loads(r.stdout)
    assert [x["claim_id"] for x in results] == ["CSV-1", "CSV-2", "CSV-3"]
    rejected = next(x for x in results if x["claim_id"] == "CSV-2")
    assert rejected["suggestions"], "a rejected claim comes with verified fixes"
    assert all("why_not" in ln for ln in rejected["lines"])
    assert any(ln["reasons"] and ln["reasons"][0].get("proof") for ln in rejected["lines"])
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["claim_id"] for x in records] == ["CSV-1", "CSV-2", "CSV-3"]
    assert [x["status"] for x in records] == [x["status"] for x in results]


@pytest.mark.parametrize("fmt", sorted(INPUTS))
@pytest.mark.parametrize("output", ["text", "json", "csv", "fhir"])
@pytest.mark.parametrize("explain", [False, True])
def test_a_time_out_is_an_error_entry_per_claim_with_exit_2_in_every_format(fmt, output, explain):
    args = ["check", str(INPUTS[fmt]), "--output", output, "--time-limit", "0.001"] + (["--explain"] if explain else [])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    if output == "json":
        results = json.loads(r.stdout)
        results = results if isinstance(results, list) else [results]
        assert results and all(x["status"] == "error" for x in results)
        assert all("within the time limit" in x["error"] for x in results if x["claim_id"] != "C-BAD")
    elif output == "csv":
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        assert rows and all(row["status"] == "error" for row in rows)
    elif output == "fhir":
        doc = json.loads(r.stdout)
        responses = [e["resource"] for e in doc["entry"]] if doc["resourceType"] == "Bundle" else [doc]
        assert all(x["outcome"] == "error" for x in responses)
    else:
        assert "CANNOT BE JUDGED" in r.stdout and "within the time limit" in r.stdout


def test_one_claim_that_times_out_leaves_the_others_judged(monkeypatch):
    from cptkg.engines import EvaluationTimeout
    from cptkg.judge import check

    real = check.check_claim

    def slow_for_c2(kb, claim, **kw):
        if claim.claim_id == "C-2":
            raise EvaluationTimeout("time limit")
        return real(kb, claim, **kw)

    def batch_times_out(*a, **k):  # an engine that batches falls back to one claim at a time
        raise EvaluationTimeout("time limit")

    monkeypatch.setattr(check, "check_claim", slow_for_c2)
    monkeypatch.setattr(check.runner, "run_many", batch_times_out)
    out = pipeline.run(INPUTS["json"], output="json")
    by_id = {x["claim_id"]: x for x in out.results}
    assert by_id["C-2"]["status"] == "error" and "time limit" in by_id["C-2"]["error"]
    assert all(x["status"] != "error" for cid, x in by_id.items() if cid not in ("C-2", "C-BAD"))
    assert out.exit_code == 2 and by_id["C-2"]["error"] in out.errors


def test_explain_reads_every_format_and_gives_the_same_verdicts_as_check():
    for fmt, path in INPUTS.items():
        plain = pipeline.run(path, output="json").results
        explained = pipeline.run(path, output="json", explain=True).results
        assert [(x["claim_id"], x["status"], [(l["line"], l["status"], [r["rule"] for r in l["reasons"]])
                                              for l in x["lines"]]) for x in plain] == \
               [(x["claim_id"], x["status"], [(l["line"], l["status"], [r["rule"] for r in l["reasons"]])
                                              for l in x["lines"]]) for x in explained], fmt


def test_explained_csv_adds_why_not_and_fixes_columns_only():
    r = run(["check", str(INPUTS["csv"]), "--explain", "--output", "csv"])
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["claim_id", "line", "code", "status", "rules", "reasons", "warnings", "carc", "why_not",
                            "fixes", "carc_description", "checked"]  # issue 23's columns after every earlier one
    assert any(row["fixes"] for row in rows if row["claim_id"] == "CSV-2")
    plain = list(csv.DictReader(io.StringIO(run(["check", str(INPUTS["csv"]), "--output", "csv"]).stdout)))
    assert list(plain[0]) == ["claim_id", "line", "code", "status", "rules", "reasons", "warnings", "carc",
                              "carc_description", "checked"]


def test_explained_fhir_notes_carry_why_not_and_the_fixes():
    r = run(["check", str(INPUTS["csv"]), "--explain", "--output", "fhir"])
    doc = json.loads(r.stdout)
    notes = [n["text"] for e in doc["entry"] for n in e["resource"].get("processNote", [])]
    assert any(t.startswith("suggested fix 1") for t in notes)


def test_explain_command_takes_csv_and_a_missing_line_is_one_error():
    r = run(["explain", str(INPUTS["csv"]), "--line", "9"])
    assert r.exit_code == 2 and "has no line 9" in r.stderr


def test_the_api_judges_dicts_and_parsed_claims_alike():
    import cptkg

    kb = cptkg.load_kb()
    raw = [c for c in json.loads(INPUTS["json"].read_text()) if c["claim_id"] != "C-BAD"]
    from_dicts = cptkg.check(raw, kb=kb)
    parsed = [cptkg.parse_claim(c, kb=kb) for c in raw]
    assert from_dicts == cptkg.check(parsed, kb=kb)
    assert [x["claim_id"] for x in from_dicts] == [c["claim_id"] for c in raw]
    one = cptkg.check(raw[0], kb=kb)
    assert isinstance(one, dict) and one == from_dicts[0]


def test_json_output_of_a_long_list_is_the_same_json_one_claim_per_line():
    """Past INDENTED_UP_TO claims the JSON writer puts one compact claim per line (the indenting
    encoder is Python's slow path); the value read back is the same either way."""
    import json

    from cptkg.io.writers import json as writer

    results = [{"claim_id": f"C{i}", "status": "accepted", "lines": [{"line": 1, "reasons": [], "warnings": []}]}
               for i in range(writer.INDENTED_UP_TO + 5)]
    long_text = writer.write(results)
    assert json.loads(long_text) == results and long_text.count("\n") == len(results) + 1
    short = results[:3]
    assert json.loads(writer.write(short)) == short and "\n  " in writer.write(short)
    assert json.loads(writer.write(results[:1], was_list=False)) == results[0]
