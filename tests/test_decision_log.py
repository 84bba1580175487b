"""The decision log: one line per claim, hashed identifiers, the KB version."""
from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.io.decision_log import append_decisions, canonical_json, hash_identifier, kb_version
from cptkg.knowledge.loader import load_kb
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT

LINE = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "NPI-1",
        "provider_role": "physician"}


def claim(cid="C1", patient="PAT-123", *lines):
    lines = lines or ({},)
    return {"claim_id": cid, "patient_id": patient, "lines": [dict(LINE, **l) for l in lines]}


def run_check(tmp_path, data, *extra):
    log = tmp_path / "decisions.jsonl"
    r = CliRunner().invoke(main, ["check", "-", "--json", "--log", str(log), *extra], input=json.dumps(data))
    return r, log


def read_log(log: Path) -> list[dict]:
    return [json.loads(l) for l in log.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(autouse=True)
def _no_env_salt(monkeypatch):
    monkeypatch.delenv("CPTKG_LOG_SALT", raising=False)


def test_one_line_per_claim_with_ids_time_hash_verdicts_and_kb_version(tmp_path, kb):
    data = [claim("C1", "P1", {"line": 1}, {"line": 2, "code": "95990"}), claim("C2", "P2")]
    r, log = run_check(tmp_path, data)
    assert r.exit_code == 1, r.output
    recs = read_log(log)
    assert [x["claim_id"] for x in recs] == ["C1", "C2"]
    out = json.loads(r.stdout)
    for rec, c, res in zip(recs, data, out):
        assert uuid.UUID(rec["decision_id"]).version == 4
        assert datetime.fromisoformat(rec["time"]).utcoffset().total_seconds() == 0
        assert rec["input_sha256"] == hashlib.sha256(canonical_json(c)).hexdigest()
        assert rec["kb_version"] == kb.version == kb_version(PACK)
        assert rec["status"] == res["status"]
        assert [(l["line"], l["status"]) for l in rec["lines"]] == [(l["line"], l["status"]) for l in res["lines"]]
        for rl, ol in zip(rec["lines"], res["lines"]):
            assert rl["rules"] == list(dict.fromkeys(x["rule"] for x in ol["reasons"]))
    assert recs[0]["decision_id"] != recs[1]["decision_id"]
    rejected = [l for l in recs[0]["lines"] if l["status"] == "rejected"]
    assert rejected and all(l["rules"] for l in rejected)


def test_identifiers_are_salted_hashes_by_default(tmp_path):
    r, log = run_check(tmp_path, claim("C1", "PAT-SECRET-42", {"provider_id": "NPI-SECRET-7"}))
    text = log.read_text(encoding="utf-8")
    assert "PAT-SECRET-42" not in text and "NPI-SECRET-7" not in text
    rec = read_log(log)[0]
    salt = bytes.fromhex((tmp_path / "decisions.jsonl.salt").read_text().strip())
    assert rec["patient"] == hash_identifier("PAT-SECRET-42", salt)
    assert rec["providers"] == [hash_identifier("NPI-SECRET-7", salt)]
    # unsalted hashing would let anyone confirm a guessed id
    assert rec["patient"] != "sha256:" + hashlib.sha256(b"PAT-SECRET-42").hexdigest()
    assert rec["identifiers"] == "salted-sha256" and rec["salt_id"] == hashlib.sha256(salt).hexdigest()[:8]


def test_log_identifiers_writes_them_in_clear(tmp_path):
    r, log = run_check(tmp_path, claim("C1", "PAT-9", {"provider_id": "NPI-3"}), "--log-identifiers")
    rec = read_log(log)[0]
    assert rec["patient"] == "PAT-9" and rec["providers"] == ["NPI-3"] and rec["identifiers"] == "clear"


def test_the_salt_is_kept_so_the_same_patient_links_across_runs(tmp_path):
    run_check(tmp_path, claim("C1", "PAT-1"))
    run_check(tmp_path, claim("C2", "PAT-1"))
    a, b = read_log(tmp_path / "decisions.jsonl")
    assert a["patient"] == b["patient"]
    assert oct((tmp_path / "decisions.jsonl.salt").stat().st_mode & 0o777) == "0o600"


def test_an_environment_salt_is_used_and_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_LOG_SALT", "deployment-secret")
    r, log = run_check(tmp_path, claim("C1", "PAT-1"))
    assert read_log(log)[0]["patient"] == hash_identifier("PAT-1", b"deployment-secret")
    assert not (tmp_path / "decisions.jsonl.salt").exists()
    assert "deployment-secret" not in log.read_text()


def test_the_log_is_appended_not_rewritten(tmp_path):
    run_check(tmp_path, claim("C1"))
    run_check(tmp_path, [claim("C2"), claim("C3")])
    assert [r["claim_id"] for r in read_log(tmp_path / "decisions.jsonl")] == ["C1", "C2", "C3"]


def test_a_claim_that_cannot_be_judged_is_logged_with_its_error(tmp_path):
    bad = {"claim_id": "BAD", "patient_id": "P", "lines": [dict(LINE, date_of_service="2025-02-30")]}
    r, log = run_check(tmp_path, [claim("OK"), bad])
    assert r.exit_code == 2
    recs = read_log(log)
    assert [x["status"] for x in recs] == ["accepted", "error"]
    assert "date_of_service" in recs[1]["error"]
    assert recs[1]["input_sha256"] == hashlib.sha256(canonical_json(bad)).hexdigest()


def test_same_claim_same_input_hash_whatever_the_key_order(tmp_path):
    c = claim("C1")
    reordered = json.loads(json.dumps(dict(reversed(list(c.items())))))
    run_check(tmp_path, c)
    run_check(tmp_path, reordered)
    a, b = read_log(tmp_path / "decisions.jsonl")
    assert a["input_sha256"] == b["input_sha256"]


def test_unwritable_log_is_a_one_line_error(tmp_path):
    r = CliRunner().invoke(main, ["check", "-", "--log", str(tmp_path / "no" / "such" / "dir" / "l.jsonl")],
                           input=json.dumps(claim()))
    assert r.exit_code == 2
    assert "decision log" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_kb_version_changes_when_a_rule_file_changes(tmp_path):
    root = tmp_path / "pump"
    shutil.copytree(PACK, root)
    before = kb_version(root)
    assert before == load_kb(root).version
    rules = root / "rules" / "claim.dl"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n% an edit\n", encoding="utf-8")
    assert kb_version(root) != before


def test_append_decisions_api_accepts_results_as_json(tmp_path):
    recs = append_decisions(tmp_path / "l.jsonl", [claim("C9", "P9")],
                            [{"claim_id": "C9", "status": "accepted",
                              "lines": [{"line": 1, "code": "62367", "status": "accepted", "reasons": []}]}],
                            kb_version_value="v-test")
    assert recs[0]["kb_version"] == "v-test" and recs[0]["lines"][0]["rules"] == []
    with pytest.raises(ValueError):
        append_decisions(tmp_path / "l.jsonl", [claim()], [])
