"""Issue 25: ``cptkg impact`` and ``cptkg diff`` between two quarterly edit releases.

Two releases are built here in the layouts CMS publishes and ``cptkg edits
import`` reads (tests/test_edit_tables_published.py's builders: the
practitioner PTP text file with its notice and four-line header, the MUE CSV
with its quoted notice) and imported with their release. EVERY CODE PAIR,
UNIT VALUE, DATE AND ROW IS SYNTHETIC (not CMS values):

    2026Q1  PTP 29881/20610 (indicator 0, in force), 27447/20610 (indicator 0); MUE 62367 at most 3
    2026Q2  PTP 29881/20610 deleted 2026-03-31, 27447/20610 unchanged, 29880/20610 new; MUE 62367 at most 1

So, for dates of service in 2026Q2, exactly three lines change: 20610 beside
29881 is newly accepted, 20610 beside 29880 is newly denied, 2 units of 62367
are newly denied; 20610 beside 27447 stays denied and 20610 beside 29881
on a date before the deletion stays denied.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.knowledge.edits.cms_import import import_table, parse_release
from test_edit_tables_published import mue_csv, ptp_text

NPI = "1234567893"  # SYNTHETIC: a check-digit-valid NPI, as the 837P builder needs one
DAY = dt.date(2026, 4, 2)
Q1_PTP = [["29881", "20610", "", "20200101", "", "0", "SYNTHETIC"],
          ["27447", "20610", "", "20200101", "", "0", "SYNTHETIC"]]
Q2_PTP = [["29881", "20610", "", "20200101", "20260331", "0", "SYNTHETIC"],
          ["27447", "20610", "", "20200101", "", "0", "SYNTHETIC"],
          ["29880", "20610", "", "20260101", "", "0", "SYNTHETIC"]]
Q1_MUE = [["62367", "3", "1 Line Edit", "SYNTHETIC"]]
Q2_MUE = [["62367", "1", "1 Line Edit", "SYNTHETIC"]]
EXPECTED = {("A", 2, "newly accepted"), ("B", 2, "newly denied"), ("C", 1, "newly denied")}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))


def _release(tmp_path: Path, label: str, ptp_rows, mue_rows) -> list[Path]:
    out = []
    rel = parse_release(label)
    for kind, build, rows in (("ptp", ptp_text, ptp_rows), ("mue", mue_csv, mue_rows)):
        src = build(tmp_path / f"{kind}-{label}.{'txt' if kind == 'ptp' else 'csv'}", rows)
        target = tmp_path / f"{kind}-{label}.ttl"
        import_table(kind, [src], target, imported=DAY, release=rel)
        out.append(target)
    return out


@pytest.fixture()
def releases(tmp_path):
    return _release(tmp_path, "2026Q1", Q1_PTP, Q1_MUE), _release(tmp_path, "2026Q2", Q2_PTP, Q2_MUE)


def _line(n, code, date="2026-05-02", units=1):
    return {"line": n, "code": code, "date_of_service": date, "provider_id": NPI, "provider_role": "physician",
            "units": units}


CLAIMS = [  # SYNTHETIC claims
    {"claim_id": "A", "patient_id": "P1", "lines": [_line(1, "29881"), _line(2, "20610")]},
    {"claim_id": "A-old", "patient_id": "P1", "lines": [_line(1, "29881", "2026-02-02"), _line(2, "20610", "2026-02-02")]},
    {"claim_id": "B", "patient_id": "P2", "lines": [_line(1, "29880"), _line(2, "20610")]},
    {"claim_id": "C", "patient_id": "P3", "lines": [_line(1, "62367", units=2)]},
    {"claim_id": "D", "patient_id": "P4", "lines": [_line(1, "27447"), _line(2, "20610")]},
]
# the pump the refill and reprogramming code needs, implanted earlier (given as --history in every format)
HISTORY = f"patient_id,code,date_of_service,provider_id\nP3,62362,2024-01-10,{NPI}\n"


def claims_csv() -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units",
                "modifiers"])
    for c in CLAIMS:
        for ln in c["lines"]:
            w.writerow([c["claim_id"], c["patient_id"], ln["line"], ln["code"], ln["date_of_service"], NPI,
                        "physician", ln["units"], ""])
    return buf.getvalue()


def claims_837() -> str:
    from devtools import x12_build

    return x12_build.build(CLAIMS)


def claims_fhir() -> str:
    """The claims as an EHR sends them: a FHIR R4 Bundle of Claims (devtools/fhir_build)."""
    from devtools import fhir_build

    return json.dumps(fhir_build.bundle(CLAIMS))


def _files(tmp_path, fmt) -> Path:
    if fmt == "parquet":  # the CSV's rows as Parquet: always through the batch engine
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        src = _files(tmp_path, "csv")
        path = tmp_path / "claims.parquet"
        header = src.read_text(encoding="utf-8").splitlines()[0].split(",")
        pq.write_table(pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(  # codes are text, as billed
            column_types={name: "string" for name in header})), path)
        return path
    path = tmp_path / {"json": "claims.json", "csv": "claims.csv", "x12": "claims.837", "fhir": "claims.fhir.json"}[fmt]
    text = {"json": lambda: json.dumps(CLAIMS), "csv": claims_csv, "x12": claims_837, "fhir": claims_fhir}[fmt]()
    path.write_text(text, encoding="utf-8")
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def impact(tmp_path, releases, fmt="json", *extra):
    (q1, q2) = releases
    hist = tmp_path / "history.csv"
    hist.write_text(HISTORY, encoding="utf-8")
    args = ["impact", _files(tmp_path, fmt), "--history", hist]
    for f in q1:
        args += ["--before-edits", f]
    for f in q2:
        args += ["--after-edits", f]
    return run(*args, *extra)


@pytest.mark.parametrize("fmt", ["json", "csv", "x12", "fhir", "parquet"])
def test_a_deleted_pair_a_new_pair_and_a_lower_unit_limit_change_exactly_the_expected_lines(tmp_path, releases,
                                                                                           fmt):
    r = impact(tmp_path, releases, fmt, "--json")
    assert r.exit_code == 1, r.output
    got = json.loads(r.stdout)
    assert {(c["claim_id"], c["line"], c["direction"]) for c in got["changes"]} == EXPECTED
    assert got["changed"] == 3 and got["lines"] == 9
    assert got["summary"]["by_direction"] == {"newly denied": 2, "newly accepted": 1, "denied for another reason": 0}
    assert got["summary"]["claims_affected"] == 3
    # 29880 was outside the knowledge base before its edit existed: a warning change, listed apart
    assert {(c["claim_id"], c["line"]) for c in got["warning_changes"]} == {("B", 1)}


def test_each_change_names_the_edit_its_release_and_row_and_both_verdicts(tmp_path, releases):
    got = json.loads(impact(tmp_path, releases, "json", "--json").stdout)
    by = {(c["claim_id"], c["line"]): c for c in got["changes"]}
    a = by[("A", 2)]
    assert (a["before"]["status"], a["after"]["status"]) == ("rejected", "accepted")
    assert a["before"]["carc"] and not a["after"]["carc"] and a["before"]["rules"]
    # the pair did not disappear: the later release's row carries a deletion date, and that row decides
    assert [c["side"] for c in a["causes"]] == ["before"]
    (edit,) = a["causes"][0]["edits"]
    assert edit["release"] == "2026Q1" and edit["row"] is not None and "29881/20610" in edit["text"]
    (b_edit,) = by[("B", 2)]["causes"][0]["edits"]
    assert b_edit["release"] == "2026Q2" and "29880/20610" in b_edit["text"]
    c = by[("C", 1)]
    assert c["after"]["status"] == "rejected" and c["causes"][0]["edits"][0]["kind"] == "unit"
    assert c["causes"][0]["edits"][0]["release"] == "2026Q2"
    labels = {e["cause"]: e["lines"] for e in got["summary"]["by_cause"]}
    assert len(labels) == 3 and set(labels.values()) == {1}


def test_the_same_release_on_both_sides_changes_nothing_and_exits_0(tmp_path, releases):
    q1 = releases[0]
    r = impact(tmp_path, (q1, q1), "json", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["changed"] == 0 and got["changes"] == [] and got["warning_changes"] == []


def test_the_text_report_and_csv_file_list_the_changed_lines(tmp_path, releases):
    out = tmp_path / "impact.csv"
    r = impact(tmp_path, releases, "csv", "-o", out)
    assert r.exit_code == 1, r.output
    assert "claim B line 2 20610" in r.stdout and "newly denied" in r.stdout and "release 2026Q2" in r.stdout
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {(x["claim_id"], x["line"], x["direction"]) for x in rows} == (
        {(c, str(n), d) for c, n, d in EXPECTED} | {("B", "1", "warnings changed")})


def test_explain_gives_each_side_its_explanation(tmp_path, releases):
    got = json.loads(impact(tmp_path, releases, "json", "--json", "--explain").stdout)
    c = next(x for x in got["changes"] if x["claim_id"] == "B")
    assert c["after"]["explanation"]["reasons"] and not c["before"]["explanation"].get("reasons")


def test_input_errors_are_one_line_and_exit_2(tmp_path, releases):
    r = run("impact", _files(tmp_path, "json"))
    assert r.exit_code == 2 and "--before-edits" in r.output and "Traceback" not in r.output
    r = run("impact", _files(tmp_path, "json"), "--before-edits", tmp_path / "nope.ttl")
    assert r.exit_code == 2 and "nope.ttl: no such edit file" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("[{", encoding="utf-8")
    r = run("impact", bad, "--after-edits", releases[1][0])
    assert r.exit_code == 2 and "bad.json" in r.output and len(r.output.strip().splitlines()) == 1
    r = run("impact", _files(tmp_path, "json"), "--after-edits", releases[1][0], "-o", tmp_path / "x.txt")
    assert r.exit_code == 2 and ".csv, .parquet or .json" in r.output


def test_a_claim_that_cannot_be_judged_comes_back_as_an_error_entry(tmp_path, releases):
    claims = CLAIMS + [{"claim_id": "BAD", "patient_id": "P9", "lines": [{"line": 1, "code": "62367"}]}]
    path = tmp_path / "some-bad.json"
    path.write_text(json.dumps(claims), encoding="utf-8")
    r = run("impact", path, "--json", *sum((["--after-edits", f] for f in releases[1]), []))
    assert r.exit_code == 2
    got = json.loads(r.stdout)
    assert {e["claim_id"] for e in got["errors"]} == {"BAD"}
    # refused on both sides: one claim not judged (it was counted once per side), and not among those judged
    assert {e["side"] for e in got["errors"]} == {"before", "after"}
    assert got["summary"]["not_judged"] == 1
    assert got["summary"]["claims_judged"] == got["summary"]["claims"] - 1 == len(CLAIMS)
    r = run("impact", path, *sum((["--after-edits", f] for f in releases[1]), []))
    assert f"of {len(CLAIMS)} claim(s) judged twice" in r.stdout and "; 1 claim(s) not judged" in r.stdout


@pytest.fixture()
def changed_pack(tmp_path):
    """A copy of the default pack whose column-2 denial is reported with another CARC (a SYNTHETIC change)."""
    import shutil

    from cptkg.knowledge.pack import locate

    pack = tmp_path / "pack-after"
    shutil.copytree(locate(None), pack)
    rules = pack / "rules" / "claim.dl"
    text = rules.read_text(encoding="utf-8")
    head = "% id: ncci.column2\n"
    before, rest = text.split(head, 1)
    assert "% carc: 236\n" in rest.split("\n\n", 1)[0]
    rules.write_text(before + head + rest.replace("% carc: 236\n", "% carc: 97\n", 1), encoding="utf-8")
    return pack


def test_two_pack_versions_report_lines_denied_for_another_reason_by_rule(tmp_path, releases, changed_pack):
    q1 = releases[0]
    edits = sum((["--before-edits", f, "--after-edits", f] for f in q1), [])
    r = run("impact", _files(tmp_path, "json"), "--json", "--after-kb", changed_pack, *edits)
    assert r.exit_code == 1, r.output
    got = json.loads(r.stdout)
    assert {(c["claim_id"], c["line"], c["direction"]) for c in got["changes"]} == {
        ("A", 2, "denied for another reason"), ("A-old", 2, "denied for another reason"),
        ("D", 2, "denied for another reason")}
    c = got["changes"][0]
    assert c["before"]["carc"] == ["CO-236"] and c["after"]["carc"] == ["CO-97"]


# --------------------------------------------------------------------------- the HTML work paper (issue 25)

def test_the_html_work_paper_names_what_was_compared_each_changed_line_its_reasons_carc_and_cause(tmp_path,
                                                                                                  releases):
    out = tmp_path / "report.html"
    r = impact(tmp_path, releases, "json", "-o", out)
    assert r.exit_code == 1, r.output
    paper = out.read_text(encoding="utf-8")
    assert paper.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in paper and "<script" not in paper
    assert "<dt>Claims file</dt><dd>" in paper and "claims.json</dd>" in paper and "<dt>Judged on</dt>" in paper
    # each side: its version and the releases with the file CMS published
    assert "release 2026Q1 (2026-01-01): ptp-2026Q1.txt" in paper and "release 2026Q2 (2026-04-01): mue-2026Q2.csv" in paper
    assert paper.count('<section class="change') == 4  # three changed lines, one whose warnings changed
    for claim, line, direction in EXPECTED:
        assert f"<h3>Claim {claim}, line {line} · " in paper and f"): {direction}</h3>" in paper
    assert "<strong>CARC CO-236</strong>" in paper and "<strong>CARC CO-151</strong>" in paper
    assert "Because NCCI PTP edit 29880/20610, release 2026Q2 (2026-04-01), row " in paper
    assert "of ptp-2026Q2.txt" in paper and "now applies" in paper and "no longer applies" in paper
    assert '<td class="num">2</td>' in paper  # two lines newly denied


def test_the_html_work_paper_escapes_every_claim_value_and_prints_with_o_html(tmp_path, releases):
    hostile = [{"claim_id": "<img src=x onerror=alert(1)>", "patient_id": "P2",
                "lines": [_line(1, "29880"), _line(2, "20610")]}]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(hostile), encoding="utf-8")
    args = ["impact", path]
    for f in releases[0]:
        args += ["--before-edits", f]
    for f in releases[1]:
        args += ["--after-edits", f]
    r = run(*args, "-o", "html")
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("<!DOCTYPE html>")
    assert "<img" not in r.stdout and "&lt;img src=x onerror=alert(1)&gt;" in r.stdout
    r = run(*args, "-o", "html", "--json")
    assert r.exit_code == 2 and "choose one" in r.output


def test_the_api_compares_claim_dicts_and_gives_the_release_note(tmp_path, releases):
    import cptkg

    (q1, q2) = releases
    claims = [dict(c, history=[{"code": "62362", "date_of_service": "2024-01-10", "provider_id": NPI}])
              if c["claim_id"] == "C" else c for c in CLAIMS]
    report = cptkg.impact(claims, before_edits=q1, after_edits=q2)
    assert {(c["claim_id"], c["line"], c["direction"]) for c in report.changes} == EXPECTED
    assert report.exit_code == 1 and len(report.rows()) == 4
    note = cptkg.diff(before_edits=q1, after_edits=q2)
    assert note["changed"] >= 3


def test_a_cause_says_what_changed_in_its_edit_as_diff_says_it(tmp_path, releases):
    """"because NCCI PTP edit 62350/62355, release 2026Q1, row 9 ... no longer applies" read as if the pair were gone
    when only its modifier indicator went 0 -> 1 (a payer-edit specialist's audit): each cause's edit carries
    what changed in it between the two sides, in the words cptkg diff uses, in JSON and in the text."""
    got = json.loads(impact(tmp_path, releases, "json", "--json").stdout)
    edits = [ed for c in got["changes"] for cause in c["causes"] for ed in cause["edits"]]
    assert edits and all(ed.get("change") for ed in edits), edits
    by_text = {ed["text"].split(",")[0]: ed["change"] for ed in edits}
    assert by_text["MUE 62367"] == "units allowed 3 → 1", by_text
    assert by_text["NCCI PTP edit 29881/20610"].startswith("deletion date none → 2026-03-31"), by_text
    text = impact(tmp_path, releases, "json").stdout
    assert "now applies: units allowed 3 → 1" in text


def test_the_report_notes_a_newer_release_given_as_before_and_lines_older_than_a_sides_release(tmp_path, releases):
    """Releases given in the wrong order were compared in silence, and a line dated before the after side's only
    release was judged by it with no word (a payer-edit specialist's audit): both are notes, in JSON and text."""
    q1, q2 = releases
    args = ["impact", str(_files(tmp_path, "json"))]
    swapped = CliRunner().invoke(main, args + [a for p in q2 for a in ("--before-edits", str(p))]
                                 + [a for p in q1 for a in ("--after-edits", str(p))] + ["--json"])
    notes = json.loads(swapped.stdout)["notes"]
    assert any("the before side's newest release (2026Q2, 2026-04-01) is newer than the after side's" in n
               for n in notes), notes
    ordered = CliRunner().invoke(main, args + [a for p in q1 for a in ("--before-edits", str(p))]
                                 + [a for p in q2 for a in ("--after-edits", str(p))] + ["--json"])
    assert not any("newer than" in n for n in json.loads(ordered.stdout)["notes"])
    early = [{"claim_id": "E", "patient_id": "P9", "lines": [_line(1, "62367", date="2026-02-10", units=2)]}]
    path = tmp_path / "early.json"
    path.write_text(json.dumps(early))
    text = CliRunner().invoke(main, ["impact", str(path)] + [a for p in q1 for a in ("--before-edits", str(p))]
                              + [a for p in q2 for a in ("--after-edits", str(p))]).stdout
    assert ("note: 1 line(s) are dated before 2026-04-01, when the after side's earliest unit-edit (MUE) release "
            "(2026Q2)") in text
    # PTP releases only: a pair edit row applies from its own effective date, and no release judged the line
    # (an analyst's audit: the note said it had)
    ptp_only = CliRunner().invoke(main, ["impact", str(path), "--before-edits", str(q1[0]), "--after-edits",
                                         str(q2[0]), "--json"])
    assert ptp_only.exit_code in (0, 1), ptp_only.output
    report = json.loads(ptp_only.stdout)
    assert not any("dated before" in n for n in report["notes"]), report["notes"]
    assert report["after"]["earliest_unit_release"] is None
    assert json.loads(CliRunner().invoke(main, args + [a for p in q1 for a in ("--before-edits", str(p))] + [
        a for p in q2 for a in ("--after-edits", str(p))] + ["--json"]).stdout)["after"]["earliest_unit_release"] == {
        "release": "2026Q2", "release_date": "2026-04-01"}


def test_a_line_that_loses_one_of_two_denials_says_which_denial_it_still_has_from_before(tmp_path):
    """20610 billed with 29881 and 27447 is denied by both pairs; a release without 29881/20610 leaves the
    27447 denial, which the line had before: the change names the pair gone and, apart, the one still
    applying "as it did before" (it read as if the remaining reason were new), in JSON, text and HTML."""
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, Q1_MUE)
    q2 = _release(tmp_path, "2026Q2", Q1_PTP[1:], Q1_MUE)
    claims = tmp_path / "two.json"
    claims.write_text(json.dumps([{"claim_id": "T", "patient_id": "P9", "lines": [
        _line(1, "29881"), _line(2, "27447"), _line(3, "20610")]}]), encoding="utf-8")
    args = ["impact", claims, "--before-edits", q1[0], "--after-edits", q2[0]]
    got = json.loads(run(*args, "--json").stdout)
    [c] = got["changes"]
    assert (c["line"], c["direction"]) == (3, "denied for another reason")
    assert [(x["side"], x["edits"][0]["key"]) for x in c["causes"]] == [("before", ["PairEdit", "29881", "20610"])]
    assert [(x["side"], x["edits"][0]["key"]) for x in c["still"]] == [("both", ["PairEdit", "27447", "20610"])]
    text = run(*args).stdout
    assert "still denied because NCCI PTP edit 27447/20610" in text and "applies, as it did before" in text
    out = tmp_path / "paper.html"
    run(*args, "-o", out)
    assert "Still denied because NCCI PTP edit 27447/20610" in out.read_text(encoding="utf-8")


def test_a_denial_still_held_names_what_changed_in_its_edit_between_the_releases(tmp_path):
    """20610 with 29881 and 27447: Q2 drops 29881/20610 and moves 27447/20610 from indicator 0 to 1 (no bypass
    modifier billed, so it still denies). "Applies, as it did before" named Q2's row alone, as if nothing in it
    had changed (an audit): the still-held edit now says what changed, as a cause does."""
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, Q1_MUE)
    moved = [Q1_PTP[1][:5] + ["1"] + Q1_PTP[1][6:]]
    q2 = _release(tmp_path, "2026Q2", moved, Q1_MUE)
    claims = tmp_path / "two.json"
    claims.write_text(json.dumps([{"claim_id": "T", "patient_id": "P9", "lines": [
        _line(1, "29881"), _line(2, "27447"), _line(3, "20610")]}]), encoding="utf-8")
    args = ["impact", claims, "--before-edits", q1[0], "--after-edits", q2[0]]
    [c] = json.loads(run(*args, "--json").stdout)["changes"]
    [still] = c["still"]
    assert still["edits"][0]["change"] == "modifier indicator 0 → 1", still
    text = run(*args).stdout
    assert "applies, as it did before: modifier indicator 0 → 1" in text, text
