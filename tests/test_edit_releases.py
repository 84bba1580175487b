"""Several releases of the edit tables loaded together (issue 22, cptkg.knowledge.edits.releases).

Every table here is hand-written Turtle in the shape ``cptkg edits import``
writes (one ont:Source per file read, ``ont:release`` / ``ont:releaseDate`` on
it, each edit citing its file's source and row). ALL CODES' EDIT VALUES,
RELEASES AND ROWS ARE SYNTHETIC: no row is a real NCCI edit or MUE value.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.judge.check import check_claim
from cptkg.claims.models import parse_claims
from cptkg.knowledge.edits.releases import resolve
from cptkg.knowledge.loader import KBLoadError, load_kb

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "kb" / "pump"
LEGACY = ROOT / "tests" / "data" / "edits"

PREFIXES = """# SYNTHETIC TEST DATA - NOT NCCI VALUES.
@prefix ont: <https://w3id.org/cptkg/ontology#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix e: <urn:cptkg:synthetic-%s:> .
"""


def source(label: str, release: str | None = None, date: str | None = None, name: str = "source",
           extra: str = "") -> str:
    """An ont:Source as the importer writes one per file read (SYNTHETIC hash)."""
    rel = f' ; ont:release "{release}"' if release else ""
    rel += f' ; ont:releaseDate "{date}"^^xsd:date' if date else ""
    return (f'e:{name} a ont:Source ; rdfs:label "{label}" ; ont:citation "SYNTHETIC edit table {label}" ; '
            f'ont:fileSha256 "{"ab" * 32}"{rel}{extra} .\n')


def pair(row: int, c1: str, c2: str, indicator: str, effective: str, deleted: str | None = None,
         src: str = "source") -> str:
    gone = f' ; ont:deletionDate "{deleted}"^^xsd:date' if deleted else ""
    return (f'e:p{row} a ont:PairEdit ; ont:column1Code "{c1}" ; ont:column2Code "{c2}" ; '
            f'ont:editKind ont:ComponentEdit ; ont:modifierIndicator "{indicator}" ; ont:editScope ont:SameProvider ; '
            f'ont:effectiveDate "{effective}"^^xsd:date{gone} ; ont:rationale "SYNTHETIC" ; '
            f'dct:source e:{src} ; ont:sourceRow {row} .\n')


def unit(row: int, code: str, most: int, src: str = "source") -> str:
    return (f'e:u{row} a ont:UnitEdit ; ont:editCode "{code}" ; ont:maxUnits {most} ; '
            f'ont:adjudicationIndicator "1" ; ont:rationale "SYNTHETIC" ; dct:source e:{src} ; ont:sourceRow {row} .\n')


def write(tmp_path: Path, name: str, *parts: str) -> Path:
    path = tmp_path / name
    path.write_text(PREFIXES % path.stem + "".join(parts), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def releases(tmp_path):
    """Three SYNTHETIC quarterly releases. 27447/20610: indicator 0 in 2026Q1, corrected to 1 in 2026Q2.
    29881/20610: only 2026Q1 has it. MUE 62367: 3 (2026Q1), 1 (2026Q2), 2 (2026Q3); Q2 is a zip of two parts."""
    q1 = write(tmp_path, "q1.ttl", source("PTP-MUE-2026Q1.txt", "2026Q1", "2026-01-01"),
               pair(5, "27447", "20610", "0", "2020-01-01"), pair(6, "29881", "20610", "0", "2020-01-01"),
               unit(7, "62367", 3))
    q2 = write(tmp_path, "q2.ttl",
               source("ARCHIVE-2026Q2.zip › part1.txt", "2026Q2", "2026-04-01", "source-1"),
               source("ARCHIVE-2026Q2.zip › part2.txt", "2026Q2", "2026-04-01", "source-2"),
               pair(17, "27447", "20610", "1", "2020-01-01", src="source-2"), unit(3, "62367", 1, src="source-1"))
    q3 = write(tmp_path, "q3.ttl", source("MUE-2026Q3.txt", "2026Q3", "2026-07-01"), unit(9, "62367", 2))
    return q1, q2, q3


def claim(cid: str, date: str, *lines, history=True) -> dict:
    """A SYNTHETIC claim: lines (code, units, modifiers) by one physician on ``date``."""
    out = {"claim_id": cid, "patient_id": "P-" + cid, "lines": [
        {"line": n, "code": code, "date_of_service": date, "provider_id": "NPI-9", "provider_role": "physician",
         "units": units, "modifiers": mods} for n, (code, units, mods) in enumerate(lines, 1)]}
    if history:  # the pump the refill and reprogramming codes need, implanted earlier
        out["history"] = [{"code": "62362", "date_of_service": "2024-01-10", "provider_id": "NPI-9"}]
    return out


def pair_claim(c1: str, date: str) -> dict:
    """``c1`` with 20610 on one date, 20610 with modifier 59 (which bypasses indicator 1, never 0)."""
    return claim(f"{c1}-{date}", date, (c1, 1, []), ("20610", 1, ["59"]), history=False)


def statuses(kb, claims: list[dict], engine=None) -> dict:
    parsed, _ = parse_claims(claims)
    return {c.claim_id: [ln.status for ln in check_claim(kb, c, engine=engine).lines] for c in parsed}


# ------------------------------------------------------------ pair edits (PTP)

@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_the_newest_release_with_a_pair_decides_it_whatever_the_load_order(releases, order):
    kb = load_kb(PACK, edits=[releases[i] for i in order])
    # 2026Q2 corrected the pair to indicator 1: modifier 59 bypasses it, also on a date inside 2026Q1
    assert statuses(kb, [pair_claim("27447", "2026-02-02"), pair_claim("27447", "2026-08-02")]) == {
        "27447-2026-02-02": ["accepted", "accepted"], "27447-2026-08-02": ["accepted", "accepted"]}
    old_only = load_kb(PACK, edits=[releases[0]])  # the older release alone denies it: the test can fail
    assert statuses(old_only, [pair_claim("27447", "2026-02-02")])["27447-2026-02-02"] == ["accepted", "rejected"]
    assert any("replaced by a newer release" in n and "q1.ttl" in n for n in kb.edit_notices)


def test_a_pair_a_newer_release_relists_from_its_own_first_day_keeps_the_older_row_before_then(tmp_path):
    """2025Q2 lists 27370/20610 with a new row (indicator 1) effective on its first day, the 2025Q1 row
    (indicator 0) left out. The Q1 row was dropped for every date, so Q1 claims billed with 59, or with no
    modifier, were accepted (a coder's audit): it applies until the Q2 row takes effect."""
    q1 = write(tmp_path, "q1.ttl", source("PTP-2025Q1.txt", "2025Q1", "2025-01-01"),
               pair(5, "27370", "20610", "0", "2025-01-01"))
    q2 = write(tmp_path, "q2.ttl", source("PTP-2025Q2.txt", "2025Q2", "2025-04-01"),
               pair(8, "27370", "20610", "1", "2025-04-01"))
    dates = ("2024-12-31", "2025-03-15", "2025-03-31", "2025-04-01", "2025-08-02")
    claims = [pair_claim("27370", d) for d in dates] + [
        claim(f"bare-{d}", d, ("27370", 1, []), ("20610", 1, []), history=False) for d in dates]
    for order in ([q1, q2], [q2, q1]):
        kb = load_kb(PACK, edits=order)
        got = statuses(kb, claims)
        # with 59: Q1's indicator 0 denies on Q1 dates, Q2's indicator 1 lets 59 bypass from 2025-04-01
        assert [got[f"27370-{d}"][1] for d in dates] == ["accepted", "rejected", "rejected", "accepted", "accepted"]
        # no modifier: denied wherever an edit is in force
        assert [got[f"bare-{d}"][1] for d in dates] == ["accepted", "rejected", "rejected", "rejected", "rejected"]
        assert any("q1.ttl: 1 pair edit row(s) of release 2025Q1 apply until a newer release's rows" in n
                   for n in kb.edit_notices), kb.edit_notices
        assert not any("replaced" in n for n in kb.edit_notices)
    base = ["ask", "--edits", str(q1), "--edits", str(q2), "edit", "urn:cptkg:synthetic-q1:p5", "--json"]
    assert [json.loads(CliRunner().invoke(main, base + ["--date", d]).stdout)["rows"][0]["in_force"]
            for d in ("2025-03-31", "2025-04-01")] == [True, False]


def test_a_pair_a_newer_release_relists_effective_after_its_first_day_leaves_no_month_without_an_edit(tmp_path):
    """2025Q2 (first day 2025-04-01) re-lists 62367/62350 with a row effective 2025-05-01: the 2025Q1 row was
    cut at 2025-03-31, so no edit applied in April and 62350 was paid (an audit). It applies until 2025-04-30."""
    q1 = write(tmp_path, "q1.ttl", source("PTP-2025Q1.txt", "2025Q1", "2025-01-01"),
               pair(4, "62367", "62350", "0", "2024-01-01"))
    q2 = write(tmp_path, "q2.ttl", source("PTP-2025Q2.txt", "2025Q2", "2025-04-01"),
               pair(9, "62367", "62350", "1", "2025-05-01"))
    dates = ("2025-03-31", "2025-04-01", "2025-04-30", "2025-05-01")
    claims = [claim(f"bare-{d}", d, ("62367", 1, []), ("62350", 1, []), history=False) for d in dates]
    claims += [claim(f"59-{d}", d, ("62367", 1, []), ("62350", 1, ["59"]), history=False) for d in dates]
    for order in ([q1, q2], [q2, q1]):
        got = statuses(load_kb(PACK, edits=order), claims)
        assert [got[f"bare-{d}"][1] for d in dates] == ["rejected"] * 4, got
        # 59 bypasses Q2's indicator 1 from 2025-05-01 only: Q1's indicator 0 holds through April
        assert [got[f"59-{d}"][1] for d in dates] == ["rejected", "rejected", "rejected", "accepted"], got


def test_a_pair_a_newer_release_no_longer_lists_ends_the_day_before_that_release(releases):
    # a complete replacement file lists every edit in force: 29881/20610, only in 2026Q1, is gone from 2026Q2's
    # first day (two audits: it kept denying after the release that dropped it, which `diff` called deleted)
    kb = load_kb(PACK, edits=list(releases))
    got = statuses(kb, [pair_claim("29881", d) for d in ("2026-02-02", "2026-03-31", "2026-04-01", "2026-08-02")])
    assert got == {"29881-2026-02-02": ["accepted", "rejected"], "29881-2026-03-31": ["accepted", "rejected"],
                   "29881-2026-04-01": ["accepted", "accepted"], "29881-2026-08-02": ["accepted", "accepted"]}
    assert any("q1.ttl: 1 edit row(s) of release 2026Q1 end on 2026-03-31: the newer release 2026Q2" in n
               for n in kb.edit_notices), kb.edit_notices
    # a release of the other kind does not end it: 2026Q3 is an MUE table only
    q1_q3 = load_kb(PACK, edits=[releases[0], releases[2]])
    assert statuses(q1_q3, [pair_claim("29881", "2026-08-02")])["29881-2026-08-02"] == ["accepted", "rejected"]


def test_an_mue_a_newer_release_no_longer_lists_ends_the_day_before_that_release(tmp_path):
    q1 = write(tmp_path, "m1.ttl", source("MUE-2026Q1.txt", "2026Q1", "2026-01-01"), unit(1, "62367", 1),
               unit(2, "62369", 1))
    q2 = write(tmp_path, "m2.ttl", source("MUE-2026Q2.txt", "2026Q2", "2026-04-01"), unit(1, "62369", 1))
    kb = load_kb(PACK, edits=[q1, q2])
    got = statuses(kb, [claim("A", "2026-02-02", ("62367", 2, [])), claim("B", "2026-05-02", ("62367", 2, []))])
    assert got == {"A": ["rejected"], "B": ["accepted"]}


@pytest.mark.parametrize("load", [(0, 1), (1, 0)])
def test_an_mue_a_newer_release_lists_first_applies_from_that_release_only(tmp_path, load):
    # the release in force on a February date (2026Q1) has no MUE for 62369: 2026Q2's limit is not applied
    # before its first day (an audit: a Q1 date was denied under a Q2 row with nothing said); the oldest
    # release still judges the dates before it
    q1 = write(tmp_path, "m1.ttl", source("MUE-2026Q1.txt", "2026Q1", "2026-01-01"), unit(1, "62367", 1))
    q2 = write(tmp_path, "m2.ttl", source("MUE-2026Q2.txt", "2026Q2", "2026-04-01"), unit(1, "62367", 1),
               unit(2, "62369", 1))
    kb = load_kb(PACK, edits=[(q1, q2)[i] for i in load])
    got = statuses(kb, [claim(f"{code}-{d}", d, (code, 2, [])) for code in ("62367", "62369")
                        for d in ("2025-11-02", "2026-02-02", "2026-03-31", "2026-04-01")])
    assert got == {"62367-2025-11-02": ["rejected"], "62367-2026-02-02": ["rejected"],
                   "62367-2026-03-31": ["rejected"], "62367-2026-04-01": ["rejected"],
                   "62369-2025-11-02": ["accepted"], "62369-2026-02-02": ["accepted"],
                   "62369-2026-03-31": ["accepted"], "62369-2026-04-01": ["rejected"]}
    # the newer release alone still judges every date (no older release says otherwise)
    alone = load_kb(PACK, edits=[q2])
    assert statuses(alone, [claim("B", "2026-02-02", ("62369", 2, []))])["B"] == ["rejected"]


# ------------------------------------------------------------ unit edits (MUE)

@pytest.mark.parametrize("date,units,expected", [
    ("2026-02-02", 3, "accepted"),   # 2026Q1: at most 3
    ("2026-05-02", 2, "rejected"),   # 2026Q2: at most 1
    ("2026-05-02", 1, "accepted"),
    ("2026-06-30", 2, "rejected"),   # the last day before 2026Q3
    ("2026-07-01", 2, "accepted"),   # 2026Q3's first day: at most 2
    ("2026-09-30", 3, "rejected"),
])
def test_an_mue_value_holds_from_its_release_date_until_the_next_release(releases, date, units, expected):
    kb = load_kb(PACK, edits=[releases[2], releases[0], releases[1]])
    got = statuses(kb, [claim("M", date, ("62367", units, []))])["M"]
    assert got == [expected]


@pytest.mark.parametrize("units,expected", [(3, "accepted"), (4, "rejected")])
def test_a_date_of_service_before_every_release_is_judged_by_the_oldest(releases, units, expected):
    kb = load_kb(PACK, edits=list(releases))
    assert statuses(kb, [claim("M", "2025-06-02", ("62367", units, []))])["M"] == [expected]


def test_check_and_batch_say_how_many_lines_the_oldest_unit_release_judged_before_it_took_effect(tmp_path, releases):
    """A date before every loaded release is judged by the oldest (documented), but an auditor of past claims
    got CO-151 under a table not yet published on their dates with nothing said; impact said it, check and
    batch did not. Both now give one note with the same count; a batch with no such line gives none."""
    claims = [claim("A", "2025-06-02", ("62367", 4, [])), claim("B", "2025-12-31", ("62367", 1, []), ("95990", 1, [])),
              claim("C", "2026-01-01", ("62367", 1, []))]
    src = tmp_path / "in.json"
    src.write_text(json.dumps(claims), encoding="utf-8")
    edits = [a for e in releases for a in ("--edits", str(e))]
    r = CliRunner().invoke(main, ["check", str(src), "--output", "json", *edits])
    assert r.exit_code == 1, r.output
    # 2: the two 62367 lines; B's 95990 is dated before too, but no release lists it, so none judged its units
    # (an integrator's audit: the note counted every line dated before)
    note = ("cptkg: note: 2 line(s) are dated before 2026-01-01, when the oldest loaded unit-edit (MUE) release "
            "(2026Q1) took effect")
    assert [ln for ln in r.stderr.splitlines() if ln.startswith(note)], r.stderr
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "out.csv"), *edits])
    assert r.exit_code == 1, r.output
    assert [ln for ln in r.output.splitlines() if ln.startswith(note[len("cptkg: "):])], r.output
    src.write_text(json.dumps(claims[2:]), encoding="utf-8")
    for args in (["check", str(src), "--output", "json"], ["batch", str(src), "-o", str(tmp_path / "out2.csv")]):
        r = CliRunner().invoke(main, [*args, *edits])
        assert "unit-edit (MUE) release" not in r.output + (r.stderr or ""), r.output


# ------------------------------------------------------------ the same release twice

def test_two_files_of_one_release_that_disagree_about_a_pair_are_refused_naming_both(tmp_path):
    a = write(tmp_path, "q2a.ttl", source("ARCHIVE.zip › part1.txt", "2026Q2", "2026-04-01"),
              pair(17, "27447", "20610", "1", "2020-01-01"))
    b = write(tmp_path, "q2b.ttl", source("other-2026Q2.txt", "2026Q2", "2026-04-01"),
              pair(4, "27447", "20610", "0", "2020-01-01"))
    with pytest.raises(KBLoadError) as e:
        load_kb(PACK, edits=[a, b])
    msg = str(e.value)
    assert "\n" not in msg and "disagree" in msg
    assert "q2a.ttl" in msg and "row 17 of ARCHIVE.zip › part1.txt" in msg
    assert "q2b.ttl" in msg and "row 4 of other-2026Q2.txt" in msg
    assert "modifier indicator 1" in msg and "modifier indicator 0" in msg
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(pair_claim("27447", "2026-05-02")), encoding="utf-8")
    r = CliRunner().invoke(main, ["check", "--edits", str(a), "--edits", str(b), str(claims)])
    assert r.exit_code == 2 and "Traceback" not in r.output and "disagree" in r.output
    assert r.output.count("\n") == 1, r.output


def test_two_files_of_one_release_that_disagree_about_an_mue_are_refused(tmp_path):
    a = write(tmp_path, "m1.ttl", source("MUE-a.txt", "2026Q2", "2026-04-01"), unit(2, "62367", 1))
    b = write(tmp_path, "m2.ttl", source("MUE-b.txt", "2026Q2", "2026-04-01"), unit(5, "62367", 2))
    with pytest.raises(KBLoadError, match=r"row 2 of MUE-a\.txt.*row 5 of MUE-b\.txt"):
        load_kb(PACK, edits=[a, b])


def test_two_files_of_one_release_that_agree_load_and_judge_as_one(tmp_path, releases):
    copy = write(tmp_path, "q1-again.ttl", source("PTP-MUE-2026Q1 copy.txt", "2026Q1", "2026-01-01"),
                 pair(5, "27447", "20610", "0", "2020-01-01"), unit(7, "62367", 3))
    kb = load_kb(PACK, edits=[releases[0], copy])
    assert statuses(kb, [pair_claim("27447", "2026-02-02")])["27447-2026-02-02"] == ["accepted", "rejected"]


def test_a_release_in_several_files_reads_each_column_once_per_table_not_once_per_row(tmp_path, monkeypatch):
    """CMS ships one PTP release as four files; a table in which no row has a deletion date made
    ``column`` build a list of Nones per row checked, and a 3-million-row release never loaded."""
    from cptkg.knowledge.edits.files import ImportedEdits

    rows = 200
    parts = "".join(pair(r, f"2{r:04d}", "20610", "0", "2020-01-01", src=f"source-{r % 2 + 1}") for r in range(1, rows))
    a = write(tmp_path, "q2.ttl", source("ARCHIVE-2026Q2.zip › part1.txt", "2026Q2", "2026-04-01", "source-1"),
              source("ARCHIVE-2026Q2.zip › part2.txt", "2026Q2", "2026-04-01", "source-2"), parts,
              pair(rows, "20001", "20610", "0", "2020-01-01", src="source-2"))  # row 1's pair again, the other part
    calls = []
    real = ImportedEdits.column
    monkeypatch.setattr(ImportedEdits, "column", lambda self, name: calls.append(name) or real(self, name))
    kb = load_kb(PACK, edits=[a])
    assert len(calls) < 40, f"{len(calls)} column reads for {rows} rows"
    assert statuses(kb, [pair_claim("20001", "2026-05-02")])["20001-2026-05-02"] == ["accepted", "rejected"]


@pytest.mark.parametrize("second,match", [
    (("2026Q2", "2026-05-01"), r"release '2026Q2' is loaded with two release dates"),
    (("2026-Q2-corrected", "2026-04-01"), r"both take effect on 2026-04-01"),
])
def test_releases_whose_order_cannot_be_told_are_refused(tmp_path, second, match):
    a = write(tmp_path, "a.ttl", source("a.txt", "2026Q2", "2026-04-01"), unit(1, "62367", 1))
    b = write(tmp_path, "b.ttl", source("b.txt", *second), unit(1, "62367", 2))
    with pytest.raises(KBLoadError, match=match):
        load_kb(PACK, edits=[a, b])


# ------------------------------------------------------------ what a file may state

@pytest.mark.parametrize("src,words", [
    (source("t.txt", "2026Q2", "2026-02-30"), "not a calendar date"),
    (source("t.txt", "2026Q2", None), "no release date"),
    (source("t.txt", None, "2026-04-01"), "no release (ont:release"),
    (source("t.txt", "x" * 41, "2026-04-01"), "at most 40 characters"),
    (source("t.txt", "2026Q2", "2026-04-01", extra=' ; ont:release "2026Q3"'), "more than once"),
    (source("t.txt", "2026Q2", "2026-04-01") + 'e:p1 ont:release "2026Q1" .\n', "not an ont:Source"),
])
def test_a_bad_release_is_refused_naming_the_table_source(tmp_path, src, words):
    bad = write(tmp_path, "bad.ttl", src, pair(1, "27447", "20610", "1", "2020-01-01"))
    with pytest.raises(KBLoadError) as e:
        load_kb(PACK, edits=[bad])
    assert words in str(e.value) and "bad.ttl" in str(e.value) and "\n" not in str(e.value)


def test_a_date_typed_release_date_in_another_datatype_is_refused(tmp_path):
    src = source("t.txt", "2026Q2").replace(" .\n", ' ; ont:releaseDate "2026-04-01" .\n')
    bad = write(tmp_path, "bad.ttl", src, unit(1, "62367", 1))
    with pytest.raises(KBLoadError, match="not a calendar date written YYYY-MM-DD"):
        load_kb(PACK, edits=[bad])


# ------------------------------------------------------------ tables without a release

def test_tables_without_a_release_load_as_before(releases):
    legacy = [LEGACY / "synthetic-ptp.ttl", LEGACY / "synthetic-mue.ttl"]
    kb = load_kb(PACK, edits=legacy)
    assert kb.edit_notices == [] and kb.edit_superseded == []
    assert resolve(kb.edit_tables).tables == kb.edit_tables  # nothing resolved, nothing rebuilt
    assert all(t.release_of(i) is None for t in kb.edit_tables for i in range(len(t)))
    mixed = load_kb(PACK, edits=[*legacy, releases[0], releases[1]])
    # the unreleased tables are the very rows as before; a notice line names them
    assert [t.columns for t in mixed.edit_tables[:2]] == [t.columns for t in kb.edit_tables]
    (note,) = [n for n in mixed.edit_notices if "no release" in n]
    assert "synthetic-ptp.ttl" in note and "synthetic-mue.ttl" in note and "2026Q1, 2026Q2" in note
    assert "\n" not in note


# ------------------------------------------------------------ every engine, and batch

def _all_claims() -> list[dict]:
    out = [pair_claim(c1, d) for c1 in ("27447", "29881") for d in ("2025-06-02", "2026-02-02", "2026-08-02")]
    out += [claim(f"M-{d}-{u}", d, ("62367", u, [])) for d in ("2025-06-02", "2026-05-02", "2026-08-02")
            for u in (1, 2, 3, 4)]
    return out


def test_clingo_and_pydatalog_give_the_same_verdicts_across_releases(releases):
    kb = load_kb(PACK, edits=list(releases))
    claims = _all_claims()
    clingo, pydatalog = statuses(kb, claims, engine="clingo"), statuses(kb, claims, engine="pydatalog")
    assert clingo == pydatalog
    assert clingo["27447-2026-02-02"] == ["accepted", "accepted"] and clingo["M-2026-05-02-2"] == ["rejected"]


def test_batch_on_duckdb_gives_the_verdicts_of_check_across_releases(tmp_path, releases):
    claims = _all_claims()
    kb = load_kb(PACK, edits=list(releases))
    want = statuses(kb, claims)
    src, hist, out = tmp_path / "in.csv", tmp_path / "hist.csv", tmp_path / "out.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role",
                    "units", "modifiers"])
        for c in claims:
            for ln in c["lines"]:
                w.writerow([c["claim_id"], c["patient_id"], ln["line"], ln["code"], ln["date_of_service"],
                            ln["provider_id"], ln["provider_role"], ln["units"], ";".join(ln["modifiers"])])
    hist.write_text("patient_id,code,date_of_service,provider_id\n" + "".join(
        f"{c['patient_id']},62362,2024-01-10,NPI-9\n" for c in claims if c.get("history")), encoding="utf-8")
    args = ["batch", str(src), "-o", str(out), "--history", str(hist)]
    for e in (releases[2], releases[0], releases[1]):
        args += ["--edits", str(e)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code in (0, 1), r.output
    got: dict = {}
    for row in csv.DictReader(out.open(encoding="utf-8")):
        got.setdefault(row["claim_id"], []).append(row["status"])
    assert got == want
    assert got["27447-2026-02-02"] == ["accepted", "accepted"] and got["M-2026-05-02-2"] == ["rejected"]


# ------------------------------------------------------------ explanations and ask edit

def test_the_explanation_names_the_release_file_and_row_that_decided(tmp_path, releases):
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps([pair_claim("29881", "2026-02-02"), claim("M", "2026-05-02", ("62367", 2, []))]))
    args = ["explain", str(claims)] + [x for e in releases for x in ("--edits", str(e))]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "NCCI PTP edit 29881/20610, release 2026Q1 (2026-01-01), row 6 of PTP-MUE-2026Q1.txt" in text
    assert "MUE 62367, release 2026Q2 (2026-04-01), row 3 of ARCHIVE-2026Q2.zip › part1.txt" in text
    # and the dates that put it in force on the line's date (an auditor could not see them: a coder's audit)
    assert "NCCI PTP edit 29881/20610 is in force from 2020-01-01 to 2026-03-31 (deleted 2026-04-01)" in text
    assert "MUE 62367 is in force from 2026-04-01 to 2026-06-30 (deleted 2026-07-01)" in text
    r = CliRunner().invoke(main, args + ["--json"])
    out = json.loads(r.stdout)
    (reason,) = [x for c in out for ln in c["lines"] for x in ln["reasons"] if c["claim_id"] == "M"]
    (edit,) = reason["summary"]["edits"]
    assert (edit["release"], edit["release_date"], edit["row"], edit["file"], edit["edit_file"]) == (
        "2026Q2", "2026-04-01", 3, "ARCHIVE-2026Q2.zip › part1.txt", "q2.ttl")
    assert (edit["effective"], edit["deleted"]) == ("2026-04-01", "2026-07-01")


def test_ask_edit_names_the_release_and_row_and_what_replaced_an_older_row(releases):
    base = ["ask"] + [x for e in releases for x in ("--edits", str(e))]
    r = CliRunner().invoke(main, base + ["edit", "urn:cptkg:synthetic-q2:p17", "--date", "2026-05-02", "--json"])
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)["rows"][0]
    assert (row["release"], row["release_date"], row["table_row"], row["source_file"]) == (
        "2026Q2", "2026-04-01", 17, "ARCHIVE-2026Q2.zip › part2.txt")
    assert row["in_force"] and row["applied"][0]["denied"] == ["20610"]
    r = CliRunner().invoke(main, base + ["edit", "urn:cptkg:synthetic-q1:p5", "--date", "2026-05-02"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "release 2026Q1 (2026-01-01), row 5 of PTP-MUE-2026Q1.txt is replaced by release 2026Q2" in text
    assert "row 17 of ARCHIVE-2026Q2.zip › part2.txt" in text
    r = CliRunner().invoke(main, base + ["edit", "urn:cptkg:synthetic-q1:u7", "--date", "2026-05-02", "--json"])
    row = json.loads(r.stdout)["rows"][0]
    assert (row["deleted"], row["in_force"], row["max_units"]) == ("2026-04-01", False, 3)  # deleted from the newer release's first day
