"""Issue 16, finding 1: the decision log's salt and the identifiers of a claim.

The salt is created atomically (never empty, never through a symlink),
validated on read, created only when the log is written; the log path is a
regular file; no patient or provider id reaches the log, stderr or an error
message in clear unless --log-identifiers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.io.decision_log import append_decisions

LINE = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "NPI-1",
        "provider_role": "physician"}


def claim(cid="C1", patient="PAT-123", **line):
    return {"claim_id": cid, "patient_id": patient, "lines": [dict(LINE, **line)]}


@pytest.fixture(autouse=True)
def _no_env_salt(monkeypatch):
    monkeypatch.delenv("CPTKG_LOG_SALT", raising=False)


def check(log, data, *extra):
    return CliRunner().invoke(main, ["check", "-", "--json", "--log", str(log), *extra], input=json.dumps(data))


def one_line_error(r, *words):
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in r.output, err
    for w in words:
        assert w in err, err
    return err


@pytest.mark.parametrize("content", [b"", b"\n", b"zz" * 32, b"ab" * 31, b"ab" * 33 + b"\n", b"\x00\xff" * 40])
def test_an_empty_or_garbage_salt_is_refused_naming_the_file(tmp_path, content):
    log = tmp_path / "d.jsonl"
    (tmp_path / "d.jsonl.salt").write_bytes(content)
    one_line_error(check(log, claim()), "d.jsonl.salt")


def test_a_salt_that_is_a_symlink_is_not_followed(tmp_path):
    log = tmp_path / "d.jsonl"
    target = tmp_path / "elsewhere"
    target.write_text("ab" * 32 + "\n")
    (tmp_path / "d.jsonl.salt").symlink_to(target)
    one_line_error(check(log, claim()), "d.jsonl.salt", "symbolic link")
    # and a dangling one is not created through either
    (tmp_path / "d.jsonl.salt").unlink()
    (tmp_path / "d.jsonl.salt").symlink_to(tmp_path / "new-target")
    one_line_error(check(log, claim()), "d.jsonl.salt")
    assert not (tmp_path / "new-target").exists()


def test_a_log_path_that_is_a_symlink_or_not_a_file_is_refused(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep\n")
    link = tmp_path / "d.jsonl"
    link.symlink_to(target)
    one_line_error(check(link, claim()), "d.jsonl", "symbolic link")
    assert target.read_text() == "keep\n"
    assert not (tmp_path / "d.jsonl.salt").exists()
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    one_line_error(check(folder, claim()), "dir.jsonl")
    assert not (tmp_path / "dir.jsonl.salt").exists()  # no salt beside a log that is not written
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    one_line_error(check(fifo, claim()), "fifo.jsonl", "not a regular file")


def test_no_salt_is_created_when_the_log_cannot_be_written(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    log = ro / "no" / "d.jsonl"
    one_line_error(check(log, claim()), "decision log")
    assert not list(ro.rglob("*.salt"))


def test_the_salt_file_is_64_hex_digits_mode_0600(tmp_path):
    log = tmp_path / "d.jsonl"
    r = check(log, claim())
    assert r.exit_code == 0, r.output
    salt = tmp_path / "d.jsonl.salt"
    text = salt.read_text()
    assert len(text.strip()) == 64 and int(text, 16) and oct(salt.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


RACE_ROUNDS, RACE_PROCS, RACE_PER = 25, 16, 2


@pytest.fixture(scope="session")  # run once per worker even if other tests run between its rounds
def salt_race(tmp_path_factory):
    """Every round of the race, run by tests/salt_race.py in a process of its own (see there why)."""
    d = tmp_path_factory.mktemp("salt-race")
    env = dict(os.environ)
    env.pop("CPTKG_LOG_SALT", None)
    p = subprocess.run([sys.executable, str(Path(__file__).with_name("salt_race.py")), str(d), str(RACE_ROUNDS),
                        str(RACE_PROCS), str(RACE_PER)], capture_output=True, text=True, timeout=600, env=env,
                       cwd=Path(__file__).parents[1])
    assert p.returncode == 0, p.stderr[-3000:]
    return d, {r["round"]: r for r in map(json.loads, p.stdout.splitlines())}


@pytest.mark.xdist_group("salt-race")  # the rounds share one run of the race, on one worker
@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_many_processes_creating_the_salt_at_once_share_one_non_empty_salt(salt_race, round_):
    import hashlib

    folder, rounds = salt_race
    log = str(folder / f"round-{round_}" / "race.jsonl")
    procs, per = RACE_PROCS, RACE_PER
    assert rounds[round_]["exit_codes"] == [0] * procs
    hashes = rounds[round_]["hashes"]
    failed = [h for h in hashes if h.startswith("FAILED")]
    assert not failed, f"{len(failed)} of {len(hashes)} calls failed: {failed[0]}"
    recs = [json.loads(l) for l in Path(log).read_text().splitlines()]
    assert len(recs) == procs * per
    empty = hashlib.sha256(b"").hexdigest()[:8]
    assert not [r for r in recs if r["salt_id"] == empty], "entries hashed with an empty salt"
    assert len({r["salt_id"] for r in recs}) == 1 and len(set(hashes)) == 1
    salt = bytes.fromhex(Path(log + ".salt").read_text().strip())
    assert len(salt) == 32 and recs[0]["salt_id"] == hashlib.sha256(salt).hexdigest()[:8]


@pytest.mark.parametrize("which", ["claims", "history", "edits", "claims-by-a-hard-link"])
def test_a_log_that_is_an_input_file_is_refused_and_the_input_left_as_it_was(tmp_path, which):
    # appended to, the claims file stopped being JSON, and an edit table stopped being Turtle
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(claim()))
    history = tmp_path / "h.csv"
    history.write_text("patient_id,code,date_of_service,provider_id\nPAT-123,62362,2024-01-05,NPI-1\n")
    edits = tmp_path / "e.ttl"
    edits.write_bytes((Path(__file__).parent / "data/edits/synthetic-ptp.ttl").read_bytes())
    log = {"claims": claims, "history": history, "edits": edits}.get(which)
    if which == "claims-by-a-hard-link":
        log = tmp_path / "other-name.json"
        os.link(claims, log)
    before = {p: p.read_bytes() for p in (claims, history, edits)}
    args = ["check", str(claims), "--history", str(history), "--edits", str(edits), "--log", str(log)]
    r = CliRunner().invoke(main, args)
    one_line_error(r, f"--log {log}: is the input file", "the decision log would be appended to it")
    assert {p: p.read_bytes() for p in (claims, history, edits)} == before


def test_an_impact_report_over_an_input_file_is_refused_and_the_input_left_as_it_was(tmp_path):
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(claim()))
    history = tmp_path / "h.csv"
    history.write_text("patient_id,code,date_of_service,provider_id\nPAT-123,62362,2024-01-05,NPI-1\n")
    for out in (claims, history):
        before = out.read_bytes()
        r = CliRunner().invoke(main, ["impact", str(claims), "--history", str(history), "--before-kb", "pump",
                                      "--after-kb", "pump", "-o", str(out)])
        one_line_error(r, f"-o {out}: is the input file", "the impact report would overwrite it")
        assert out.read_bytes() == before
