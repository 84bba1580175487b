"""Issue 16, finding 2: a batch that cannot sink.

A claim too large for the engine comes back as error rows naming the claim
and the limit while every other claim is judged; check refuses it with the
same words; output is written to a temporary file and renamed when
complete (a batch killed mid-write leaves nothing under the final name);
-o equal to an input is refused.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.faces.commands.batch import command
from cptkg.limits import MAX_LINES_PER_CLAIM, MAX_SAME_DATE_PAIRS

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units", "modifiers"]


def _rows(cid, patient, n, date="2025-03-04", dates=None):
    return [[cid, patient, i, "62367" if i % 2 else "95990", (dates[i % len(dates)] if dates else date), "D1",
             "physician", "", ""] for i in range(1, n + 1)]


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)


def _read(path):
    return list(csv.DictReader(open(path, encoding="utf-8")))


def test_oversized_claims_are_error_rows_naming_the_limit_and_the_rest_is_judged(tmp_path):
    days = [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    rows = (_rows("OK-1", "P1", 2)
            + _rows("BIG-LINES", "P2", MAX_LINES_PER_CLAIM + 1, dates=days)   # many lines, few on one date
            + _rows("BIG-PAIRS", "P3", 150)                                  # 150 lines on one date
            + _rows("OK-2", "P4", 3))
    _write(tmp_path / "in.csv", rows)
    r = CliRunner().invoke(command, [str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    assert r.exit_code == 2, r.output
    out = _read(tmp_path / "out.csv")
    assert len(out) == len(rows)
    by_claim: dict[str, list[dict]] = {}
    for row in out:
        by_claim.setdefault(row["claim_id"], []).append(row)
    assert {r["status"] for r in by_claim["OK-1"] + by_claim["OK-2"]} <= {"accepted", "rejected"}
    assert by_claim["OK-1"][0]["status"] == "rejected"  # 62367 with 95990 on one date: judged, by the rules
    big = by_claim["BIG-LINES"]
    assert all(r["status"] == "error" for r in big)
    assert f"has {MAX_LINES_PER_CLAIM + 1} lines; at most {MAX_LINES_PER_CLAIM:,} lines" in big[0]["error"]
    pairs = by_claim["BIG-PAIRS"]
    assert all(r["status"] == "error" for r in pairs)
    assert f"bills {150 * 149} pairs of services on the same date; at most {MAX_SAME_DATE_PAIRS:,}" in pairs[0]["error"]
    assert pairs[0]["error"].startswith(f"row {2 + MAX_LINES_PER_CLAIM + 2}, claim BIG-PAIRS: the claim ")


def test_check_refuses_an_oversized_claim_with_the_same_words(tmp_path):
    lines = [{"line": i, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1",
              "provider_role": "physician"} for i in range(1, 151)]
    r = CliRunner().invoke(main, ["check", "-", "--json"],
                           input=json.dumps([{"claim_id": "BIG", "patient_id": "P", "lines": lines},
                                             {"claim_id": "OK", "patient_id": "P", "lines": lines[:1]}]))
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert out[1]["status"] == "accepted"
    assert f"claim BIG: the claim bills {150 * 149} pairs of services on the same date; at most {MAX_SAME_DATE_PAIRS:,}" \
        in out[0]["error"]


def test_check_refuses_a_claim_of_too_many_lines_or_history_entries_in_batchs_words():
    # an audit: check said "field lines: is too long (at most 1000)", batch "the claim has 1001 lines; at most ..."
    from cptkg.limits import MAX_HISTORY_PER_CLAIM

    line = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"}
    many = [dict(line, line=i) for i in range(1, MAX_LINES_PER_CLAIM + 2)]
    history = [{"code": "62362", "date_of_service": "2024-01-01"}] * (MAX_HISTORY_PER_CLAIM + 1)
    for claim, words in (
            ({"claim_id": "BIG", "patient_id": "P", "lines": many},
             f"the claim has {MAX_LINES_PER_CLAIM + 1} lines; at most {MAX_LINES_PER_CLAIM:,} lines are judged in one "
             f"claim (split the claim)"),
            ({"claim_id": "BIG", "patient_id": "P", "lines": [line], "history": history},
             f"the claim has {MAX_HISTORY_PER_CLAIM + 1} history entries for its patient; at most "
             f"{MAX_HISTORY_PER_CLAIM:,} are considered")):
        r = CliRunner().invoke(main, ["check", "-", "--json"], input=json.dumps([claim]))
        assert r.exit_code == 2
        assert words in json.loads(r.stdout)[0]["error"], r.stdout[:300]


def test_output_equal_to_an_input_is_refused_and_the_claims_kept(tmp_path):
    src = tmp_path / "in.csv"
    _write(src, _rows("A", "P", 2))
    before = src.read_bytes()
    for args in ([str(src), "-o", str(src)], [str(src), "-o", str(tmp_path / "." / "in.csv")]):
        r = CliRunner().invoke(command, args)
        assert r.exit_code == 2 and "overwrite the claims" in r.stderr
    hist = tmp_path / "h.csv"
    hist.write_text("patient_id,code,date_of_service\nP,62362,2024-01-01\n", encoding="utf-8")
    r = CliRunner().invoke(command, [str(src), "--history", str(hist), "-o", str(hist)])
    assert r.exit_code == 2 and "overwrite" in r.stderr
    assert src.read_bytes() == before


def test_a_failed_write_leaves_no_file_under_the_final_name(tmp_path, monkeypatch):
    from cptkg.engines.sql.duckdb import DuckDBBackend

    _write(tmp_path / "in.csv", _rows("A", "P", 2))
    real = DuckDBBackend.write_query

    def half_then_fail(self, sql, path, kind):
        real(self, sql, path, kind)
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(DuckDBBackend, "write_query", half_then_fail)
    r = CliRunner().invoke(command, [str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    assert r.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # neither out.csv nor a partial file


@pytest.mark.slow
def test_killing_cptkg_batch_mid_write_leaves_no_file_under_the_final_name(tmp_path):
    from devtools import claimgen

    lines, _ = claimgen.generate(300_000, seed=3)
    claimgen.write(lines, tmp_path / "in.csv", claimgen.LINE_FIELDS)
    out = tmp_path / "out.csv"
    exe = Path(sys.executable).with_name("cptkg")
    proc = subprocess.Popen([str(exe), "batch", str(tmp_path / "in.csv"), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    seen_partial = False
    deadline = time.time() + 300
    try:
        while proc.poll() is None and time.time() < deadline:
            partial = [p for p in tmp_path.iterdir() if ".cptkg-partial-" in p.name]
            if partial and partial[0].stat().st_size > 0:
                seen_partial = True
                os.killpg(proc.pid, signal.SIGKILL)  # mid-write
                break
            time.sleep(0.002)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert seen_partial, "the batch finished before it could be killed mid-write"
    assert not out.exists(), "a killed batch left a file under the final name"


@pytest.mark.parametrize("after", ["", "C3,P3,1,95990,2025-03-04,N1,nurse,1,\n"])
def test_a_quote_left_open_over_more_than_the_csv_field_limit_is_its_claims_error_as_check_says(tmp_path, after):
    """A quote opened and never closed, with 140,000 characters after it, made batch fail whole ("the duckdb
    engine failed: field larger than field limit (131072)") while check judged the file (an audit): the
    record is its claim's error, or the file is refused in check's words when rows follow it."""
    path = tmp_path / "claims.csv"
    path.write_text(",".join(HEADER) + "\nC1,P1,1,95990,2025-03-04,N1,nurse,1,\nC2,\"" + "x" * 140_000 + "\n" + after)
    out = tmp_path / "out.csv"
    batch = CliRunner().invoke(main, ["batch", str(path), "-o", str(out)])
    check = CliRunner().invoke(main, ["check", str(path), "--output", "csv"])
    assert "field limit" not in batch.output and "engine failed" not in batch.output, batch.output
    if after:  # the rows after the open quote cannot be told apart: both refuse the file in one line
        said = " ".join(batch.output.split())
        assert batch.exit_code == check.exit_code == 2 and "a quoted value runs over more than one line" in said
        assert said.split(": ", 1)[1] in " ".join(check.output.split())
    else:
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [(r["claim_id"], r["status"]) for r in rows] == [("C1", "accepted"), ("C2", "error")]
        assert "a quote opened in field patient_id is never closed" in rows[1]["error"]
        assert rows[1]["error"] in check.stdout.replace('""', '"')


@pytest.mark.parametrize("claims", ["claims.csv", "claims.json"])
def test_a_history_of_another_extension_is_named_as_the_history_not_as_the_output(tmp_path, claims):
    """--history hist.dat was told "cptkg batch writes verdicts as CSV ... not as '.dat'", as if it were the
    output (an audit)."""
    src = tmp_path / claims
    if claims.endswith(".csv"):
        src.write_text(",".join(HEADER) + "\nC1,P1,1,95990,2025-03-04,N1,nurse,1,\n")
    else:
        src.write_text(json.dumps({"claim_id": "C1", "patient_id": "P1", "lines": [
            {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "nurse"}]}))
    hist = tmp_path / "hist.dat"
    hist.write_text("patient_id,code,date_of_service,provider_id\nP1,62362,2024-01-02,N1\n")
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "out.csv"), "--history", str(hist)])
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and f"--history {hist}: a history is read as claim-row history" in said, said
    assert "writes verdicts" not in said
