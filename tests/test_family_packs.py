"""A code family is data: a second pack (a test fixture with made-up codes) loads,
lints, passes its own cases, judges claims and infers codes through the CLI
with no Python change and no Python file naming it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "families" / "stimfix"


def run(*args, env=None):
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


def test_the_fixture_pack_lints_and_passes_its_own_cases():
    lint = run("lint", "--kb", str(FIXTURE))
    assert lint.exit_code == 0 and "3 codes" in lint.output and "note: unsourced" not in lint.output
    test = run("test", "--kb", str(FIXTURE), "-v")
    assert test.exit_code == 0, test.output
    assert "10 passed, 0 failed, 0 rules untested" in test.output


def test_check_with_kb_judges_a_claim_of_the_fixture_family():
    r = run("check", "--kb", str(FIXTURE), str(FIXTURE / "examples" / "claim.json"), "--json")
    assert r.exit_code == 1
    res = json.loads(r.stdout)
    assert [(l["code"], l["status"]) for l in res["lines"]] == [("9992T", "accepted"), ("9993T", "rejected")]
    assert res["lines"][1]["reasons"][0]["rule"] == "fx.included"
    assert "fixture guide §3" in res["lines"][1]["reasons"][0]["source"]


def test_infer_with_kb_chooses_among_the_fixture_codes_only():
    r = run("infer", "--kb", str(FIXTURE), str(FIXTURE / "examples" / "encounter.json"), "--json")
    assert r.exit_code == 0
    res = json.loads(r.stdout)
    assert [c["code"] for c in res["codes"]] == ["9992T"]
    assert {c["code"] for c in res["not_chosen"]} == {"9991T", "9993T"}


def test_the_kb_environment_variable_selects_the_pack_as_kb_does():
    r = run("check", str(FIXTURE / "examples" / "claim.json"), "--json", env={"CPTKG_KB": str(FIXTURE)})
    assert r.exit_code == 1 and json.loads(r.stdout)["lines"][1]["reasons"][0]["rule"] == "fx.included"


def test_the_pump_vocabulary_is_refused_by_the_fixture_and_the_fixture_vocabulary_by_the_pump_pack():
    claim = {"claim_id": "X", "patient_id": "P", "lines": [
        {"line": 1, "code": "9991T", "date_of_service": "2025-03-04", "provider_id": "S", "provider_role": "surgeon"}]}
    mine = CliRunner().invoke(main, ["check", "-", "--json", "--kb", str(FIXTURE)], input=json.dumps(claim))
    assert mine.exit_code == 0, mine.output
    pump = CliRunner().invoke(main, ["check", "-", "--json"], input=json.dumps(claim))
    assert pump.exit_code == 2 and "'surgeon' is not a role of this knowledge base" in pump.stderr


def test_explain_and_sources_work_on_the_fixture():
    r = run("explain", "--kb", str(FIXTURE), str(FIXTURE / "examples" / "claim.json"), "--line", "2")
    assert r.exit_code == 1 and "Remove line 2 (9993T)" in r.stdout
    s = run("sources", "--kb", str(FIXTURE), "--json")
    ids = {x["id"] for x in json.loads(s.stdout)["sources"]}
    assert ids == {"fx-lead", "fx-generator", "fx-interrogation", "fx-roles"}


def test_a_missing_pack_folder_is_one_line_naming_it(tmp_path):
    r = run("lint", "--kb", str(tmp_path / "nope"))
    assert r.exit_code == 2 and "no such family pack folder" in r.stderr
    r = CliRunner().invoke(main, ["lint", "--kb", str(tmp_path)])
    assert r.exit_code == 2 and "family.yaml" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "cptkg").rglob("*.py")))
def test_no_python_file_of_the_core_names_a_family(path):
    text = path.read_text(encoding="utf-8")
    assert "stimfix" not in text and "9991T" not in text, path


def test_export_and_query_with_kb_read_the_chosen_pack_not_the_default():
    """Regression: ``cptkg export`` and ``cptkg query`` read the default pack whatever ``--kb`` said
    (the graphs were loaded below the faces, where the default was taken)."""
    ttl = run("export", "--kb", str(FIXTURE), "-f", "turtle")
    assert ttl.exit_code == 0, ttl.output
    assert "9992T" in ttl.stdout and "62367" not in ttl.stdout
    q = "SELECT ?n WHERE { ?c <http://www.w3.org/2004/02/skos/core#notation> ?n }"
    both = {kb: run("query", *(["--kb", str(kb)] if kb else []), q, "--format", "json") for kb in (FIXTURE, None)}
    assert all(r.exit_code == 0 for r in both.values()), {k: r.output for k, r in both.items()}
    assert "9992T" in both[FIXTURE].stdout and "62367" not in both[FIXTURE].stdout
    assert "62367" in both[None].stdout and "9992T" not in both[None].stdout
