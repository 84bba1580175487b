"""Issue 25: ``cptkg diff``, a release note of the knowledge between two quarterly edit releases.

The releases are those of tests/test_impact.py, built in the layouts CMS
publishes and imported by ``cptkg edits import``; EVERY CODE PAIR, UNIT
VALUE, DATE AND ROW IS SYNTHETIC (not CMS values).
"""
from __future__ import annotations

import json

import pytest

from test_impact import Q1_MUE, Q1_PTP, _release, changed_pack, releases, run  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))


def test_diff_lists_the_deleted_pair_the_new_pair_and_the_changed_unit_limit_with_sources(tmp_path, releases):
    q1, q2 = releases
    r = run("diff", "--json", *sum((["--before-edits", f] for f in q1), []), *sum((["--after-edits", f] for f in q2), []))
    assert r.exit_code == 1, r.output
    note = json.loads(r.stdout)
    e = note["edits"]
    assert [x["edit"] for x in e["added"]] == ["NCCI PTP edit 29880/20610"]
    assert "release 2026Q2" in e["added"][0]["source"] and e["deleted"] == []
    changed = {x["edit"]: x for x in e["changed"]}
    assert set(changed) == {"NCCI PTP edit 29881/20610", "MUE 62367"}
    assert changed["NCCI PTP edit 29881/20610"]["fields"] == {"deleted": {"before": None, "after": "2026-03-31"}}
    assert changed["MUE 62367"]["fields"] == {"at most units": {"before": 3, "after": 1}}
    assert note["rules"] == {"added": [], "removed": [], "changed": []}
    assert note["facts"] == {"added": [], "removed": [], "changed": []}
    text = run("diff", *sum((["--before-edits", f] for f in q1), []), *sum((["--after-edits", f] for f in q2), []))
    assert "deletion date none → 2026-03-31" in text.stdout and "None" not in text.stdout


def test_diff_of_a_release_with_itself_is_empty_and_exits_0(tmp_path, releases):
    q1 = releases[0]
    r = run("diff", *sum((["--before-edits", f, "--after-edits", f] for f in q1), []))
    assert r.exit_code == 0, r.output
    assert "0 added, 0 deleted, 0 changed" in r.stdout


def test_diff_names_a_pair_only_the_earlier_release_has_as_deleted(tmp_path):
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, Q1_MUE)
    q2 = _release(tmp_path, "2026Q2", Q1_PTP[1:], Q1_MUE)  # 29881/20610 left out of the complete replacement file
    r = run("diff", "--json", "--before-edits", q1[0], "--after-edits", q2[0])
    assert r.exit_code == 1, r.output
    assert [x["edit"] for x in json.loads(r.stdout)["edits"]["deleted"]] == ["NCCI PTP edit 29881/20610"]


def test_diff_of_two_pack_versions_names_the_changed_rule_and_its_source(tmp_path, changed_pack):
    r = run("diff", "--json", "--after-kb", changed_pack)
    assert r.exit_code == 1, r.output
    rules = json.loads(r.stdout)["rules"]
    assert [x["rule"] for x in rules["changed"]] == ["ncci.column2"]
    assert rules["changed"][0]["changed"] == ["carc"] and rules["changed"][0]["source"]
    assert rules["changed"][0]["before"] == {"carc": "CO-236"} and rules["changed"][0]["after"] == {"carc": "CO-97"}


def test_two_copies_of_a_pack_differing_in_a_definition_have_no_fact_changes_run_after_run(tmp_path):
    """An axiom annotation is a blank node, named anew at every load; a pack read from its cache kept the
    names of the load that wrote the cache, so a diff of two copies reported its annotations removed and
    added, with counts that changed from run to run (found by an audit)."""
    import os
    import shutil
    import subprocess
    import sys

    from cptkg.knowledge.pack import locate

    a, c = tmp_path / "pumpA", tmp_path / "pumpC"
    shutil.copytree(locate(None), a)
    shutil.copytree(locate(None), c)
    codes = c / "kb" / "codes.ttl"
    text = codes.read_text(encoding="utf-8")
    old = '"Interrogates, reprograms and refills the pump."@en'
    assert text.count(old) == 1
    codes.write_text(text.replace(old, '"SYNTHETIC: interrogates, reprograms and refills it."@en'), encoding="utf-8")
    env = dict(os.environ, CPTKG_CACHE_DIR=str(tmp_path / "cache"))
    for _ in range(2):  # the first run writes each pack's cache, the second reads it
        p = subprocess.run([sys.executable, "-m", "cptkg", "diff", "--before-kb", str(a), "--after-kb", str(c)],
                           capture_output=True, text=True, env=env, timeout=300)
        assert "facts: 0 added, 0 removed, 0 changed" in p.stdout, p.stdout + p.stderr
        assert p.returncode == 0, p.stdout + p.stderr


def test_diff_of_a_pair_the_pack_also_has_whose_imported_row_gains_a_deletion_date_names_the_date(tmp_path):
    # an audit: a pair both the pack and the table have, a deletion date added, ended in a TypeError
    # (rows whose fields were empty on one and dates on the other could not be sorted)
    q1 = _release(tmp_path, "2026Q1", [["62368", "62367", "", "20250101", "", "0", "SYNTHETIC"]], Q1_MUE)
    q2 = _release(tmp_path, "2026Q2", [["62368", "62367", "", "20250101", "20260331", "0", "SYNTHETIC"]], Q1_MUE)
    r = run("diff", "--json", "--before-edits", q1[0], "--after-edits", q2[0])
    assert r.exit_code == 1, r.output
    changed = json.loads(r.stdout)["edits"]["changed"]
    assert [x["edit"] for x in changed] == ["NCCI PTP edit 62368/62367"]
    # the pack's own row is on both sides: the imported rows are compared field by field
    assert changed[0]["fields"] == {"deleted": {"before": None, "after": "2026-03-31"}}
    text = run("diff", "--before-edits", q1[0], "--after-edits", q2[0])
    assert "deletion date none → 2026-03-31" in text.stdout and "Traceback" not in text.output


def test_diff_of_a_changed_row_beside_several_others_says_the_rows_that_differ_in_words(tmp_path):
    q1 = _release(tmp_path, "2026Q1", [["62368", "62367", "", "20250101", "", "0", "SYNTHETIC"],
                                       ["62368", "62367", "", "20200101", "20241231", "1", "SYNTHETIC"]], Q1_MUE)
    q2 = _release(tmp_path, "2026Q2", [["62368", "62367", "", "20250101", "", "1", "SYNTHETIC"],
                                       ["62368", "62367", "", "20200101", "20241231", "1", "SYNTHETIC"],
                                       ["62368", "62367", "", "20100101", "20191231", "0", "SYNTHETIC"]], Q1_MUE)
    text = run("diff", "--before-edits", q1[0], "--after-edits", q2[0])
    assert text.exit_code == 1, text.output
    line = next(x for x in text.stdout.splitlines() if x.startswith("edit changed"))
    assert "row(s)" not in line and "modifier indicator 0" in line and "modifier indicator 1" in line, line


def test_two_releases_on_one_side_whose_rows_allow_the_same_on_every_date_are_no_change(tmp_path):
    """Q1 and Q2 loaded on the after side give each code two MUE rows, Q1's closed the day before Q2's
    opens: a code Q2 leaves at Q1's value is not changed (it was listed "changed", with a deletion date
    as the only difference), and a code Q2 changes is named with the date the change starts."""
    mue1 = [["62367", "3", "1 Line Edit", "SYNTHETIC"], ["95990", "1", "1 Line Edit", "SYNTHETIC"]]
    mue2 = [["62367", "1", "1 Line Edit", "SYNTHETIC"], ["95990", "1", "1 Line Edit", "SYNTHETIC"]]
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, mue1)
    q2 = _release(tmp_path, "2026Q2", Q1_PTP, mue2)
    args = ["--before-edits", q1[1], "--after-edits", q1[1], "--after-edits", q2[1]]
    r = run("diff", "--json", *args)
    assert r.exit_code == 1, r.output
    changed = {x["edit"]: x for x in json.loads(r.stdout)["edits"]["changed"]}
    assert set(changed) == {"MUE 62367"}, sorted(changed)
    [period] = changed["MUE 62367"]["periods"]
    assert (period["from"], period["to"]) == ("2026-04-01", None)
    assert period["fields"] == {"at most units": {"before": 3, "after": 1}}
    text = run("diff", *args).stdout
    assert "MUE 62367: from 2026-04-01: units allowed 3 → 1" in text and "MUE 95990" not in text
    # the same two releases on both sides: nothing differs
    same = run("diff", "--before-edits", q1[1], "--before-edits", q2[1], "--after-edits", q1[1], "--after-edits", q2[1])
    assert same.exit_code == 0, same.output


def test_a_change_on_some_dates_only_names_those_dates(tmp_path):
    """An after side whose newer release sets a unit limit back to the earlier one's value after a quarter
    differs only in that quarter: the note names its first and last day."""
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, [["62367", "3", "1 Line Edit", "SYNTHETIC"]])
    q2 = _release(tmp_path, "2026Q2", Q1_PTP, [["62367", "1", "1 Line Edit", "SYNTHETIC"]])
    q3 = _release(tmp_path, "2026Q3", Q1_PTP, [["62367", "3", "1 Line Edit", "SYNTHETIC"]])
    r = run("diff", "--json", "--before-edits", q1[1], "--after-edits", q1[1], "--after-edits", q2[1],
            "--after-edits", q3[1])
    [entry] = json.loads(r.stdout)["edits"]["changed"]
    assert [(p["from"], p["to"]) for p in entry["periods"]] == [("2026-04-01", "2026-06-30")]


def test_an_mue_a_newer_release_adds_or_drops_is_dated_by_that_release_in_mue_words(tmp_path):
    """With Q1 and Q2 on the after side, an MUE only Q2 lists starts on Q2's first day (it was "added" with no
    date and applied to Q1's dates), and one Q2 no longer lists is "not in force from" that day: an MUE row has
    no deletion date, and "deletion date none → 2026-04-01" named a column MUE files do not have (an audit)."""
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, [["62367", "3", "1 Line Edit", "SYNTHETIC"],
                                               ["95990", "1", "1 Line Edit", "SYNTHETIC"]])
    q2 = _release(tmp_path, "2026Q2", Q1_PTP, [["62367", "3", "1 Line Edit", "SYNTHETIC"],
                                               ["62369", "1", "1 Line Edit", "SYNTHETIC"]])
    args = ["--before-edits", q1[1], "--after-edits", q1[1], "--after-edits", q2[1]]
    data = json.loads(run("diff", "--json", *args).stdout)["edits"]
    [added] = data["added"]
    assert added["edit"] == "MUE 62369" and added["effect"]["effectiveDate"] == "2026-04-01", added
    text = run("diff", *args).stdout
    assert "MUE 62369: units allowed 1, adjudication indicator 1, effective date 2026-04-01" in text, text
    assert "MUE 95990: not in force from 2026-04-01 (its last day 2026-03-31)" in text, text
    assert "deletion date" not in text.split("MUE 95990")[1].split("\n")[0]
