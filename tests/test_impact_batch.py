"""Issue 25, at scale: ``cptkg impact`` of a claim-row file through the batch engine gives the report the
claim-by-claim path gives (changes, warning changes, summary), line for line.

The releases are SYNTHETIC (test_impact.py's published layouts; every pair, unit value, date and row made
up), chosen to touch the codes and dates devtools.claimgen generates with ``edits=True``:

    2024Q4  PTP 29881/20610 (indicator 0), 27447/20610 (indicator 1); MUE 62367 at most 3
    2025Q1  PTP 29881/20610 deleted 2024-03-01, 27447/20610 unchanged, 27446/20610 new; MUE 62367 at most 1
"""
from __future__ import annotations

import json

import pytest

import cptkg
from cptkg.knowledge.loader import default_kb
from devtools import claimgen
from test_impact import CLAIMS, HISTORY, _release, claims_csv, impact as interactive_cli, releases  # noqa: F401

BEFORE_PTP = [["29881", "20610", "", "20200101", "", "0", "SYNTHETIC"],
              ["27447", "20610", "", "20200101", "", "1", "SYNTHETIC"]]
AFTER_PTP = [["29881", "20610", "", "20200101", "20240301", "0", "SYNTHETIC"],
             ["27447", "20610", "", "20200101", "", "1", "SYNTHETIC"],
             ["27446", "20610", "", "20200101", "", "0", "SYNTHETIC"]]
BEFORE_MUE = [["62367", "3", "1 Line Edit", "SYNTHETIC"]]
AFTER_MUE = [["62367", "1", "1 Line Edit", "SYNTHETIC"]]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    before = _release(d, "2024Q4", BEFORE_PTP, BEFORE_MUE)
    after = _release(d, "2025Q1", AFTER_PTP, AFTER_MUE)
    lines, history = claimgen.generate(600, seed=5, edits=True)
    claimgen.write(lines, d / "claims.csv", claimgen.EDIT_LINE_FIELDS)
    claimgen.write(history, d / "history.csv", claimgen.HISTORY_FIELDS)
    claimgen.write(lines, d / "claims.parquet", claimgen.EDIT_LINE_FIELDS)
    return d, before, after


def _same(a: dict, b: dict) -> None:
    for key in ("lines", "changed", "changes", "warning_changes", "summary", "notes"):
        assert a[key] == b[key], key


def test_generated_lines_give_the_same_report_through_the_batch_engine_as_claim_by_claim(generated):
    from cptkg.judge.impact_batch import batch_impact

    d, before, after = generated
    kb_b, kb_a = default_kb(None, edits=before), default_kb(None, edits=after)
    at_scale = batch_impact(d / "claims.csv", kb_b, kb_a, d / "history.csv").to_json()
    one_by_one = cptkg.impact((d / "claims.csv").read_text(), before_kb=kb_b, after_kb=kb_a,
                              history=(d / "history.csv").read_text(), input_format="csv").to_json()
    assert one_by_one["changed"] > 0 and one_by_one["lines"] == 600  # the releases do change lines here
    _same(at_scale, one_by_one)
    # Parquet (which only the batch engine reads) gives the same report as the CSV of the same rows
    _same(batch_impact(d / "claims.parquet", kb_b, kb_a, d / "history.csv").to_json(), at_scale)


def test_cli_engine_duckdb_gives_the_claim_by_claim_json_for_the_release_fixture(tmp_path, releases):  # noqa: F811
    slow = interactive_cli(tmp_path, releases, "csv", "--json")
    fast = interactive_cli(tmp_path, releases, "csv", "--json", "--engine", "duckdb")
    assert slow.exit_code == fast.exit_code == 1, fast.output
    _same(json.loads(fast.stdout), json.loads(slow.stdout))
    assert {(c["claim_id"], c["line"], c["direction"]) for c in json.loads(fast.stdout)["changes"]} == {
        ("A", 2, "newly accepted"), ("B", 2, "newly denied"), ("C", 1, "newly denied")}


def test_a_bad_row_at_scale_is_an_error_entry_of_its_claim_and_exit_2(tmp_path, releases):  # noqa: F811
    from test_impact import run

    path = tmp_path / "claims.csv"
    path.write_text(claims_csv() + "E,P9,1,62367,2026-13-45,X,physician,1,\n", encoding="utf-8")
    args = ["impact", path, "--engine", "duckdb", "--json"]
    for f in releases[1]:
        args += ["--after-edits", f]
    r = run(*args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    got = json.loads(r.stdout)
    assert {(e["claim_id"], e["side"]) for e in got["errors"]} == {("E", "before"), ("E", "after")}
    assert "date_of_service" in got["errors"][0]["error"] and got["lines"] == 9


def test_engine_spark_on_a_json_file_and_explain_at_scale_are_refused_in_one_line(tmp_path, releases):  # noqa: F811
    from test_impact import run

    path = tmp_path / "claims.json"
    path.write_text(json.dumps(CLAIMS), encoding="utf-8")
    r = run("impact", path, "--engine", "spark", "--after-edits", releases[1][0])
    assert r.exit_code == 2 and ".csv or .parquet" in r.output and len(r.output.strip().splitlines()) == 1
    csv_path = tmp_path / "claims.csv"
    csv_path.write_text(claims_csv(), encoding="utf-8")
    r = run("impact", csv_path, "--engine", "duckdb", "--explain", "--after-edits", releases[1][0])
    assert r.exit_code == 2 and "--explain" in r.output and len(r.output.strip().splitlines()) == 1
    r = run("impact", csv_path, "--engine", "nope", "--after-edits", releases[1][0])
    assert r.exit_code == 2 and "--engine nope" in r.output
