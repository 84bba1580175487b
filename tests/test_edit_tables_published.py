"""Issue 22: CMS edit tables import exactly as CMS publishes them, and each records its release.

Every fixture is built here in a published layout (domain notes, "Real files
billing offices and payers exchange"; Medicaid NCCI Edit Design Manual,
publication formats): the practitioner PTP text file with its notice, its
title line and a header split over four lines (tab-delimited, CRLF,
Windows-1252); the same block in Excel; the quarterly .zip of part files with
a readme and a PDF; the MUE CSV with its quoted multi-line notice and a
header cell holding a line break; the MUE table in Excel and as text. Every
code pair, unit value and date in them is SYNTHETIC (made up for these tests,
not CMS values). Each imported table is then put to claims: an edit takes
effect by date of service, provider and modifier indicator (PTP) or
adjudication indicator (MUE).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
import rdflib
from click.testing import CliRunner
from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from cptkg import limits
from cptkg.faces.cli import main
from cptkg.knowledge.edits.cms_import import EditTableError, import_table, parse_release, release_in_name

ONT = Namespace("https://w3id.org/cptkg/ontology#")
DAY = dt.date(2026, 4, 2)
SYNTHETIC = "SYNTHETIC TEST DATA — not CMS values"  # its dash is byte 0x97 in Windows-1252
NOTICE = ("CPT codes, descriptions and other data only are copyright 2025 American Medical Association. "
          "All rights reserved.")
PTP_TITLE = "Column1/Column2 Edits"
PTP_HEADER = [  # the four header lines of the published PTP text file (domain notes)
    ["Column 1", "Column 2", "*=in existence", "Effective", "Deletion", "Modifier", "PTP Edit Rationale"],
    ["", "", "prior to 1996", "Date", "Date", "0=not allowed", ""],
    ["", "", "", "", "*=no data", "1=allowed", ""],
    ["", "", "", "", "", "9=not applicable", ""],
]
# SYNTHETIC rows: 27447/20610 in force with no deletion date (blank), modifier indicator 1;
# 29881/29877 deleted 2025-06-30, modifier indicator 0
PTP_PART1 = [["27447", "20610", "", "20250101", "", "1", "Misuse of column two code with column one code"]]
PTP_PART2 = [["29881", "29877", "*", "19960101", "20250630", "0", "Standards of medical / surgical practice"]]
MUE_HEADER = ["HCPCS/\nCPT Code", "Practitioner Services MUE Values", "MUE Adjudication Indicator", "MUE Rationale"]
# SYNTHETIC rows: 27447 at most 1 unit a line (indicator 1); 20610 at most 1 unit a date of service (indicator 2)
MUE_ROWS = [["27447", "1", "1 Line Edit", "Anatomic Consideration"],
            ["20610", "1", "2 Date of Service Edit: Policy", "Code Descriptor / CPT Instruction"]]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))


# ---------------------------------------------------------------- the layouts, built

def ptp_text(path: Path, rows, header=PTP_HEADER) -> Path:
    lines = [SYNTHETIC, NOTICE, PTP_TITLE, *("\t".join(r) for r in header), *("\t".join(r) for r in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def ptp_xlsx(path: Path, rows) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in ([SYNTHETIC], [NOTICE], [PTP_TITLE], *PTP_HEADER):
        ws.append([c or None for c in line])
    for r in rows:  # dates as numbers, blanks as empty cells, as a spreadsheet holds them
        ws.append([r[0], r[1], r[2] or None, int(r[3]), int(r[4]) if r[4].isdigit() else (r[4] or None), int(r[5]),
                   r[6]])
    wb.save(path)
    return path


def ptp_zip(path: Path, parts: dict[str, bytes], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in {**parts, **(extra or {})}.items():
            z.writestr(name, data)
    return path


def mue_csv(path: Path, rows=MUE_ROWS, header=MUE_HEADER) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([f"{SYNTHETIC}\n{NOTICE}\nApplicable FARS/DFARS Restrictions Apply to Government Use."])
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("cp1252"))
    return path


def mue_xlsx(path: Path, rows=MUE_ROWS) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([SYNTHETIC])
    ws.append([NOTICE])
    ws.append(MUE_HEADER)
    for r in rows:
        ws.append([r[0], int(r[1]), r[2], r[3]])
    wb.save(path)
    return path


def mue_text(path: Path, rows=MUE_ROWS, value_column="Practitioner Services MUE Values") -> Path:
    header = ["HCPCS/CPT Code", value_column, "MUE Adjudication Indicator", "MUE Rationale"]
    lines = [SYNTHETIC, NOTICE, "", "\t".join(header), *("\t".join(r) for r in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def text_bytes(rows, header=PTP_HEADER) -> bytes:
    lines = [SYNTHETIC, NOTICE, PTP_TITLE, *("\t".join(r) for r in header), *("\t".join(r) for r in rows)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


# ---------------------------------------------------------------- claims against the imported edits

def edits_import(*args):
    return CliRunner().invoke(main, ["edits", "import", *map(str, args)])


def line(n, code, day, provider="NPI-1", **more):
    return {"line": n, "code": code, "date_of_service": day, "provider_id": provider, "provider_role": "physician",
            **more}


def verdicts(edits: Path, claims: list[dict]) -> dict[str, list[str]]:
    r = CliRunner().invoke(main, ["check", "-", "--json", "--edits", str(edits)], input=json.dumps(claims))
    assert r.exit_code in (0, 1), r.output
    return {c["claim_id"]: [ln["status"] for ln in c["lines"]] for c in json.loads(r.stdout)}


PTP_CLAIMS = [  # SYNTHETIC claims
    {"claim_id": "same-provider", "patient_id": "P1", "lines": [
        line(1, "27447", "2025-05-02"), line(2, "20610", "2025-05-02")]},
    {"claim_id": "modifier-59-indicator-1", "patient_id": "P1", "lines": [
        line(1, "27447", "2025-05-02"), line(2, "20610", "2025-05-02", modifiers=["59"])]},
    {"claim_id": "other-provider", "patient_id": "P1", "lines": [
        line(1, "27447", "2025-05-02"), line(2, "20610", "2025-05-02", provider="NPI-2")]},
    {"claim_id": "before-effective", "patient_id": "P1", "lines": [
        line(1, "27447", "2024-12-31"), line(2, "20610", "2024-12-31")]},
    {"claim_id": "modifier-59-indicator-0", "patient_id": "P2", "lines": [
        line(1, "29881", "2025-05-02"), line(2, "29877", "2025-05-02", modifiers=["59"])]},
    {"claim_id": "after-deletion", "patient_id": "P2", "lines": [
        line(1, "29881", "2025-07-01"), line(2, "29877", "2025-07-01")]},
    # CMS's deletion date is the first date of service the edit no longer applies to
    {"claim_id": "on-the-deletion-date", "patient_id": "P2", "lines": [
        line(1, "29881", "2025-06-30"), line(2, "29877", "2025-06-30")]},
    {"claim_id": "the-day-before-deletion", "patient_id": "P2", "lines": [
        line(1, "29881", "2025-06-29"), line(2, "29877", "2025-06-29")]},
]
PTP_EXPECTED = {
    "same-provider": ["accepted", "rejected"],
    "modifier-59-indicator-1": ["accepted", "accepted"],
    "other-provider": ["accepted", "accepted"],
    "before-effective": ["accepted", "accepted"],
    "modifier-59-indicator-0": ["accepted", "rejected"],
    "after-deletion": ["accepted", "accepted"],
    "on-the-deletion-date": ["accepted", "accepted"],
    "the-day-before-deletion": ["accepted", "rejected"],
}
MUE_CLAIMS = [  # SYNTHETIC claims
    {"claim_id": "two-units-on-a-line", "patient_id": "P3", "lines": [line(1, "27447", "2025-05-02", units=2)]},
    {"claim_id": "one-unit-on-two-lines", "patient_id": "P3", "lines": [
        line(1, "27447", "2025-05-02"), line(2, "27447", "2025-05-02", modifiers=["76"])]},
    {"claim_id": "two-units-one-date", "patient_id": "P4", "lines": [
        line(1, "20610", "2025-05-02"), line(2, "20610", "2025-05-02", modifiers=["76"])]},
    {"claim_id": "two-dates", "patient_id": "P4", "lines": [
        line(1, "20610", "2025-05-02"), line(2, "20610", "2025-05-03")]},
]


def assert_ptp_takes_effect(out: Path):
    assert verdicts(out, PTP_CLAIMS) == PTP_EXPECTED


def assert_mue_takes_effect(out: Path):
    got = verdicts(out, MUE_CLAIMS)
    assert got["two-units-on-a-line"] == ["rejected"]  # indicator 1: per line
    assert "rejected" not in got["one-unit-on-two-lines"]  # ... so two lines of one unit pass it
    assert got["two-units-one-date"] == ["rejected", "rejected"]  # indicator 2: per date of service
    assert got["two-dates"] == ["accepted", "accepted"]


def graph(path: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(path, format="turtle")


# ---------------------------------------------------------------- one test per published layout

def test_ptp_text_with_the_four_line_header_crlf_cp1252_imports_and_takes_effect(tmp_path):
    src = ptp_text(tmp_path / "ptp.txt", PTP_PART1 + PTP_PART2)
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", src, "-o", out, "--imported", DAY)
    assert res.exit_code == 0, res.stderr
    rows = {int(g) for g in graph(out).objects(None, ONT.sourceRow)}
    assert rows == {8, 9}  # the file's own lines: 3 preamble lines and 4 header lines above
    assert_ptp_takes_effect(out)


def test_a_bom_before_windows_1252_text_is_dropped_not_read_into_the_first_column(tmp_path):
    # a UTF-8 BOM then one Latin-1 byte: decoded as Windows-1252 whole, the header read 'ï»¿Column 1'
    src = tmp_path / "ptp.txt"
    rows = [[*r[:-1], r[-1] + " (caf\xe9)"] for r in PTP_PART1 + PTP_PART2]
    lines = [*("\t".join(r) for r in PTP_HEADER), *("\t".join(r) for r in rows)]
    src.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("cp1252"))
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", src, "-o", out, "--imported", DAY)
    assert res.exit_code == 0, res.stderr
    assert_ptp_takes_effect(out)


def test_a_utf16_table_is_named_as_utf16_not_as_a_file_without_a_header(tmp_path):
    src = ptp_text(tmp_path / "ptp.txt", PTP_PART1)
    src.write_bytes(src.read_bytes().decode("cp1252").encode("utf-16"))
    res = edits_import("ptp", src, "-o", tmp_path / "ptp.ttl", "--imported", DAY)
    assert res.exit_code == 2 and "is UTF-16 text" in res.stderr and "save it as UTF-8" in res.stderr
    assert not (tmp_path / "ptp.ttl").exists()


def test_ptp_excel_with_the_same_block_imports_and_takes_effect(tmp_path):
    src = ptp_xlsx(tmp_path / "ptp.xlsx", PTP_PART1 + PTP_PART2)
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", src, "-o", out)
    assert res.exit_code == 0, res.stderr
    assert {int(g) for g in graph(out).objects(None, ONT.sourceRow)} == {8, 9}
    assert_ptp_takes_effect(out)


def test_ptp_quarterly_zip_reads_its_part_files_as_one_table_and_ignores_readme_and_pdf(tmp_path):
    src = ptp_zip(tmp_path / "ptp_practitioner_2026q2.zip",
                  {"PTP-PRA-f1.txt": text_bytes(PTP_PART1), "PTP-PRA-f2.txt": text_bytes(PTP_PART2)},
                  {"readme.txt": b"SYNTHETIC readme: the files of this release.\r\n",
                   "NCCI PTP edit policy.pdf": b"%PDF-1.4 SYNTHETIC"})
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", src, "-o", out, "--imported", DAY)
    assert res.exit_code == 0, res.stderr
    assert f"cptkg: note: {src}: not read, not edit tables: NCCI PTP edit policy.pdf, readme.txt" in res.stderr
    assert f"from {src} (read: PTP-PRA-f1.txt, PTP-PRA-f2.txt) (2 rows," in res.stderr
    assert "release 2026Q2 (in force from 2026-04-01)" in res.stderr
    g = graph(out)
    sources = set(g.subjects(RDF.type, ONT.Source))
    assert {str(g.value(s, RDFS.label)) for s in sources} == {"ptp_practitioner_2026q2.zip › PTP-PRA-f1.txt",
                                                              "ptp_practitioner_2026q2.zip › PTP-PRA-f2.txt"}
    for edit in g.subjects(RDF.type, ONT.PairEdit):  # each edit cites its own part file, at its row there
        source = g.value(edit, DCTERMS.source)
        member = str(g.value(source, RDFS.label)).split(" › ")[1]
        data = zipfile.ZipFile(src).read(member).decode("cp1252").split("\r\n")
        assert data[int(g.value(edit, ONT.sourceRow)) - 1].split("\t")[0] == str(g.value(edit, ONT.column1Code))
    assert_ptp_takes_effect(out)


def test_mue_csv_with_the_quoted_notice_and_a_line_break_in_a_header_cell_imports_and_takes_effect(tmp_path):
    out = tmp_path / "mue.ttl"
    res = edits_import("mue", mue_csv(tmp_path / "mue.csv"), "-o", out)
    assert res.exit_code == 0, res.stderr
    assert_mue_takes_effect(out)


def test_mue_excel_imports_and_takes_effect(tmp_path):
    out = tmp_path / "mue.ttl"
    res = edits_import("mue", mue_xlsx(tmp_path / "mue.xlsx"), "-o", out)
    assert res.exit_code == 0, res.stderr
    assert_mue_takes_effect(out)


def test_mue_tab_text_imports_and_takes_effect(tmp_path):
    out = tmp_path / "mue.ttl"
    res = edits_import("mue", mue_text(tmp_path / "mue.txt"), "-o", out)
    assert res.exit_code == 0, res.stderr
    assert_mue_takes_effect(out)


@pytest.mark.parametrize("column", ["Outpatient Hospital Services MUE Values", "DME Supplier Services MUE Values"])
def test_outpatient_hospital_and_dme_mue_tables_are_read_and_the_note_names_their_value_column(tmp_path, column):
    out = tmp_path / "mue.ttl"
    res = edits_import("mue", mue_text(tmp_path / "mue.txt", value_column=column), "-o", out)
    assert res.exit_code == 0, res.stderr
    assert f"MUE values read from the column '{column}'" in res.stderr
    assert {int(v) for v in graph(out).objects(None, ONT.maxUnits)} == {1}


# ---------------------------------------------------------------- the header block, by what its lines are

def test_a_header_on_two_lines_reads_like_one_on_four(tmp_path):
    src = ptp_text(tmp_path / "ptp.txt", PTP_PART1, header=PTP_HEADER[:2])
    result = import_table("ptp", src, tmp_path / "ptp.ttl")
    assert result.edits == 1 and {int(g) for g in graph(tmp_path / "ptp.ttl").objects(None, ONT.sourceRow)} == {6}


def test_a_data_row_with_an_empty_column_1_under_the_header_is_an_error_not_a_header_line(tmp_path):
    row = ["", "20610", "", "20250101", "*", "1", "Misuse of column two code with column one code"]
    src = ptp_text(tmp_path / "ptp.txt", [row] + PTP_PART1)
    with pytest.raises(EditTableError) as e:
        import_table("ptp", src, tmp_path / "ptp.ttl")
    assert e.value.problems == ["row 8, column Column 1: is empty: a CPT/HCPCS code is required"]


# ---------------------------------------------------------------- blank deletion date

def test_a_blank_deletion_date_is_no_deletion_date_like_star_and_is_noted(tmp_path):
    rows = [PTP_PART1[0], ["62367", "95990", "", "20250101", "*", "1", "Standards of medical / surgical practice"]]
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", ptp_text(tmp_path / "ptp.txt", rows), "-o", out)
    assert res.exit_code == 0, res.stderr
    assert "1 row with a blank Deletion Date read as not deleted" in res.stderr
    g = graph(out)
    assert len(set(g.subjects(RDF.type, ONT.PairEdit))) == 2 and not list(g.objects(None, ONT.deletionDate))


def test_an_edit_deleted_on_its_effective_date_never_applies_in_check_and_batch(tmp_path):
    """An auditor's finding: CMS deletes an edit retroactively by giving it a deletion date equal to its
    effective date; read as its last day in force, such an edit with indicator 0 still denied on that day."""
    rows = [["27447", "20610", "", "20250101", "20250101", "0", "Misuse of column two code with column one code"],
            ["29881", "29877", "", "20250101", "20250401", "0", "Standards of medical / surgical practice"]]
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", ptp_text(tmp_path / "ptp.txt", rows), "-o", out)
    assert res.exit_code == 0, res.stderr
    assert [str(d) for d in graph(out).objects(None, ONT.deletionDate)].count("2025-01-01") == 1  # as written
    claims = [{"claim_id": "retroactive", "patient_id": "P1", "lines": [line(1, "27447", "2025-01-01"),
                                                                     line(2, "20610", "2025-01-01")]},
              {"claim_id": "quarter-end", "patient_id": "P2", "lines": [line(1, "29881", "2025-03-31"),
                                                                       line(2, "29877", "2025-03-31")]},
              {"claim_id": "next-quarter", "patient_id": "P3", "lines": [line(1, "29881", "2025-04-01"),
                                                                        line(2, "29877", "2025-04-01")]}]
    expected = {"retroactive": ["accepted", "accepted"], "quarter-end": ["accepted", "rejected"],
                "next-quarter": ["accepted", "accepted"]}
    assert verdicts(out, claims) == expected
    src = tmp_path / "claims.json"
    src.write_text(json.dumps(claims), encoding="utf-8")
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "v.csv"), "--edits", str(out)])
    assert r.exit_code == 1, r.output
    with open(tmp_path / "v.csv", encoding="utf-8") as f:
        got = {}
        for row in csv.DictReader(f):
            got.setdefault(row["claim_id"], []).append(row["status"])
    assert got == expected


def test_a_changed_edit_whose_new_row_starts_on_the_old_rows_deletion_date_is_not_noted_as_overlapping(tmp_path):
    """CMS publishes a changed modifier indicator as the old row deleted from the day the new row takes effect:
    the two rows share no day, so no note (read as a last day in force, every such change was called an overlap)."""
    rows = [["27447", "20610", "", "20200101", "20250401", "0", "Misuse of column two code with column one code"],
            ["27447", "20610", "", "20250401", "*", "1", "Misuse of column two code with column one code"]]
    res = edits_import("ptp", ptp_text(tmp_path / "ptp.txt", rows), "-o", tmp_path / "ptp.ttl")
    assert res.exit_code == 0, res.stderr
    assert "more than one row in force on a common day" not in res.stderr, res.stderr


@pytest.mark.parametrize("second, noted", [
    (("20250101", "*"), True),           # both in force from the same day
    (("20240101", "20250630"), True),    # the reverse ends after this one starts
    (("20230101", "20250101"), False),   # the reverse is deleted from the day this one starts: no day in common
])
def test_a_pair_listed_both_ways_in_force_together_is_noted_naming_both_rows(tmp_path, second, noted):
    # both edits apply: each pays its column 1 and denies the other, so a claim billing both loses both lines
    rows = [["27447", "20610", "", "20250101", "*", "1", "Misuse of column two code with column one code"],
            ["20610", "27447", "", *second, "1", "Misuse of column two code with column one code"]]
    res = edits_import("ptp", ptp_text(tmp_path / "ptp.txt", rows), "-o", tmp_path / "ptp.ttl")
    assert res.exit_code == 0, res.stderr
    words = "1 pair listed in both directions and in force together, so a claim billing both codes has both lines denied"
    assert (words in res.stderr) is noted, res.stderr
    if noted:
        assert "20610/27447 (row 9) and 27447/20610 (row 8)" in res.stderr  # after the four header lines


@pytest.mark.parametrize("second, noted", [
    (("20250401", "*"), True),           # a later row with the earlier one left open: both in force from 2025-04-01
    (("20250401", "20251231"), True),    # the later row ends, but both are in force from 2025-04-01
    (("20230101", "20250101"), False),   # an earlier row deleted from the day this one starts
])
def test_two_rows_of_one_pair_in_force_together_are_noted_naming_the_later_row(tmp_path, second, noted):
    # an audit: two open rows of one pair imported with no word; the rules apply the later from its date
    rows = [["27447", "20610", "", "20250101", "*", "0", "Misuse of column two code with column one code"],
            ["27447", "20610", "", *second, "1", "Misuse of column two code with column one code"]]
    res = edits_import("ptp", ptp_text(tmp_path / "ptp.txt", rows), "-o", tmp_path / "ptp.ttl")
    assert res.exit_code == 0, res.stderr
    words = "1 pair with more than one row in force on a common day: the later row applies to the pair from its"
    assert (words in res.stderr) is noted, res.stderr
    if noted:
        assert "27447/20610 (row 8 and the later row 9)" in res.stderr, res.stderr


def test_two_mue_rows_of_one_code_with_different_effective_dates_are_noted_and_the_later_applies_from_its_date(tmp_path):
    src = tmp_path / "mue.txt"
    header = ["HCPCS/CPT Code", "Practitioner Services MUE Values", "MUE Adjudication Indicator", "MUE Rationale",
              "Effective Date"]
    rows = [["62367", "1", "2 Date of Service Edit: Policy", "SYNTHETIC", "20250101"],
            ["62367", "3", "2 Date of Service Edit: Policy", "SYNTHETIC", "20250401"]]
    src.write_text("\n".join(["\t".join(header), *("\t".join(r) for r in rows)]) + "\n", encoding="utf-8")
    out = tmp_path / "mue.ttl"
    res = edits_import("mue", src, "-o", out)
    assert res.exit_code == 0, res.stderr
    assert "1 code with more than one row in force on a common day" in res.stderr
    assert "62367 (row 2 and the later row 3)" in res.stderr, res.stderr
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    def units_ok(day: str) -> bool:
        claim = {"claim_id": "M", "patient_id": "P", "history": [{"code": "62362", "date_of_service": "2024-01-10"}],
                 "lines": [{"line": 1, "code": "62367", "date_of_service": day, "provider_id": "N",
                            "provider_role": "physician", "units": 2}]}
        r = CliRunner().invoke(main, ["check", "-", "--edits", str(out), "--json"], input=json.dumps(claim))
        return json.loads(r.stdout)["status"] == "accepted"

    # the later row's 3 units from 2025-04-01; the earlier row's 1 unit before (it denied 2 units after, too)
    assert units_ok("2025-05-02") and not units_ok("2025-02-03")


def test_a_value_past_the_headers_last_column_is_noted_not_dropped_silently(tmp_path):
    rows = [["62367", "95990", "", "20250101", "*", "1", "Standards of medical / surgical practice", "extra"],
            ["27447", "20610", "", "20250101", "*", "1", "Misuse of column two code with column one code", ""]]
    res = edits_import("ptp", ptp_text(tmp_path / "ptp.txt", rows), "-o", tmp_path / "ptp.ttl")
    assert res.exit_code == 0, res.stderr
    assert "1 row with a value past the header's last column, which is not read (first: row 8)" in res.stderr, res.stderr


# ---------------------------------------------------------------- releases

def release_of(out: Path) -> set[tuple[str, str, str]]:
    g = graph(out)
    return {(str(g.value(s, RDFS.label)), str(g.value(s, ONT.release)), str(g.value(s, ONT.releaseDate)))
            for s in g.subjects(RDF.type, ONT.Source)}


@pytest.mark.parametrize("given", ["2026Q2", "2026-Q2", "2026q2", "2026-04-01"])
def test_release_from_the_option_is_on_every_source(tmp_path, given):
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", ptp_text(tmp_path / "a.txt", PTP_PART1), ptp_text(tmp_path / "b.txt", PTP_PART2),
                       "-o", out, "--release", given)
    assert res.exit_code == 0, res.stderr
    assert release_of(out) == {("a.txt", "2026Q2", "2026-04-01"), ("b.txt", "2026Q2", "2026-04-01")}
    g = graph(out)
    assert all(g.value(s, ONT.releaseDate).datatype == XSD.date for s in g.subjects(RDF.type, ONT.Source))


@pytest.mark.parametrize("given", ["2026-04-15", "2026Q5", "v32.1"])
def test_a_release_that_is_not_a_quarter_is_a_usage_error(tmp_path, given):
    res = edits_import("ptp", ptp_text(tmp_path / "a.txt", PTP_PART1), "-o", tmp_path / "o.ttl", "--release", given)
    assert res.exit_code == 2 and "--release" in res.stderr and not (tmp_path / "o.ttl").exists()


@pytest.mark.parametrize("name, label", [
    ("ptp_2026Q2.txt", "2026Q2"), ("ptp-2026-q3.txt", "2026Q3"), ("q4-2026_ptp.txt", "2026Q4"),
    ("MCD-MUE-PRA-v2027q1-F1-D.txt", "2027Q1"), ("PTP_Eff_04-01-2026.txt", "2026Q2"), ("ptp_20261001.txt", "2026Q4"),
])
def test_release_from_a_file_name_that_states_it(tmp_path, name, label):
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", ptp_text(tmp_path / name, PTP_PART1), "-o", out)
    assert res.exit_code == 0, res.stderr
    start = parse_release(label).start.isoformat()
    assert release_of(out) == {(name, label, start)}
    assert f"release {label} (in force from {start})" in res.stderr


@pytest.mark.parametrize("name", ["ccipra-v321r0-f1.txt", "ptp_20260415.txt", "ptp.txt"])
def test_a_name_that_states_no_release_imports_without_release_triples_and_says_so(tmp_path, name):
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", ptp_text(tmp_path / name, PTP_PART1), "-o", out)
    assert res.exit_code == 0 and not release_in_name(name)
    assert "no release stated: give --release YYYYQn to load it alongside other releases" in res.stderr
    assert release_of(out) == {(name, "None", "None")}


def test_files_whose_names_disagree_about_the_release_are_refused_naming_them(tmp_path):
    a, b = ptp_text(tmp_path / "ptp_2026q1.txt", PTP_PART1), ptp_text(tmp_path / "ptp_2026q2.txt", PTP_PART2)
    res = edits_import("ptp", a, b, "-o", tmp_path / "o.ttl")
    assert res.exit_code == 2 and not (tmp_path / "o.ttl").exists()
    assert f"{a} says 2026Q1; {b} says 2026Q2" in res.stderr and len(res.stderr.splitlines()) == 1


def test_the_option_wins_over_a_name_and_the_difference_is_noted(tmp_path):
    src = ptp_text(tmp_path / "ptp_2026q1.txt", PTP_PART1)
    res = edits_import("ptp", src, "-o", tmp_path / "o.ttl", "--release", "2026Q2")
    assert res.exit_code == 0
    assert f"note: {src}: its name says 2026Q1; the release recorded is 2026Q2 (--release)" in res.stderr
    assert release_of(tmp_path / "o.ttl") == {("ptp_2026q1.txt", "2026Q2", "2026-04-01")}


def test_the_same_file_as_two_releases_gets_two_sets_of_names(tmp_path):
    src = ptp_text(tmp_path / "ptp.txt", PTP_PART1)
    a = import_table("ptp", src, tmp_path / "a.ttl", release="2026Q1")
    import_table("ptp", src, tmp_path / "b.ttl", release="2026Q2")
    ids = [set(graph(tmp_path / f).subjects(RDF.type, ONT.PairEdit)) for f in ("a.ttl", "b.ttl")]
    assert not ids[0] & ids[1]
    assert URIRef(f"https://w3id.org/cptkg/edits/ptp-2026Q1-{a.sha256[:12]}/8") in ids[0]


# ---------------------------------------------------------------- several files, one table

def test_several_files_are_one_table_each_with_its_own_source_and_rows(tmp_path):
    a, b = ptp_text(tmp_path / "a.txt", PTP_PART1), ptp_text(tmp_path / "b.txt", PTP_PART2)
    out = tmp_path / "ptp.ttl"
    res = edits_import("ptp", a, b, "-o", out)
    assert res.exit_code == 0, res.stderr
    g = graph(out)
    by_label = {str(g.value(s, RDFS.label)): s for s in g.subjects(RDF.type, ONT.Source)}
    assert set(by_label) == {"a.txt", "b.txt"}
    assert str(g.value(by_label["b.txt"], ONT.fileSha256)) != str(g.value(by_label["a.txt"], ONT.fileSha256))
    cited = {(str(g.value(e, ONT.column1Code)), g.value(e, DCTERMS.source), int(g.value(e, ONT.sourceRow)))
             for e in g.subjects(RDF.type, ONT.PairEdit)}
    assert cited == {("27447", by_label["a.txt"], 8), ("29881", by_label["b.txt"], 8)}
    assert_ptp_takes_effect(out)


def test_a_bad_row_in_one_part_names_the_member_row_and_column_and_fails_the_whole_import(tmp_path):
    bad = [["29881", "29877", "*", "19960101", "20250630", "3", "Standards of medical / surgical practice"]]
    src = ptp_zip(tmp_path / "r.zip", {"f1.txt": text_bytes(PTP_PART1), "f2.txt": text_bytes(bad)})
    res = edits_import("ptp", src, "-o", tmp_path / "o.ttl")
    assert res.exit_code == 2 and not (tmp_path / "o.ttl").exists()
    assert res.stderr.splitlines() == [
        f"cptkg: {src} › f2.txt: row 8, column Modifier: '3' is not a modifier indicator (0, 1 or 9)",
        f"cptkg: {src}: 1 bad row of 2; nothing written"]


def test_a_pair_repeated_across_parts_names_both_files(tmp_path):
    src = ptp_zip(tmp_path / "r.zip", {"f1.txt": text_bytes(PTP_PART1), "f2.txt": text_bytes(PTP_PART2 + PTP_PART1)})
    with pytest.raises(EditTableError) as e:
        import_table("ptp", src, tmp_path / "o.ttl")
    assert e.value.problems == [f"{src} › f2.txt: row 9: repeats the edit 27447/20610 effective 20250101 of "
                                f"{src} › f1.txt row 8 (one row per pair and effective date)"]


def test_the_same_file_given_twice_is_refused(tmp_path):
    a = ptp_text(tmp_path / "a.txt", PTP_PART1)
    b = tmp_path / "b.txt"
    b.write_bytes(a.read_bytes())
    with pytest.raises(EditTableError, match="b.txt: is the same file as .*a.txt"):
        import_table("ptp", [a, b], tmp_path / "o.ttl")


# ---------------------------------------------------------------- the release zip, bounded

def test_a_zip_member_that_is_offered_as_a_table_but_is_not_one_is_refused_in_billing_words(tmp_path):
    src = ptp_zip(tmp_path / "r.zip", {"f1.txt": text_bytes(PTP_PART1), "changes.txt": b"SYNTHETIC list of changes"})
    with pytest.raises(EditTableError, match=r"r\.zip › changes\.txt: not a PTP edit table: no header row"):
        import_table("ptp", src, tmp_path / "o.ttl")


def test_a_zip_without_a_table_lists_what_it_holds(tmp_path):
    src = ptp_zip(tmp_path / "r.zip", {"readme.txt": b"SYNTHETIC", "policy.pdf": b"%PDF-1.4"})
    with pytest.raises(EditTableError, match=r"holds no edit table \(policy\.pdf, readme\.txt\)"):
        import_table("ptp", src, tmp_path / "o.ttl")


def test_a_nested_archive_and_an_old_excel_member_are_refused(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("f1.txt", text_bytes(PTP_PART1))
    for name, data, words in (("inner.zip", inner.getvalue(), "is itself an archive"),
                              ("f2.txt", inner.getvalue(), "is itself a zip archive"),
                              ("f2.xls", b"\xd0\xcf\x11\xe0", "Excel 97-2003")):
        src = ptp_zip(tmp_path / "r.zip", {"f1.txt": text_bytes(PTP_PART1), name: data})
        with pytest.raises(EditTableError, match=words):
            import_table("ptp", src, tmp_path / "o.ttl")


def test_a_zip_with_too_many_members_is_refused_before_any_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_RELEASE_ZIP_MEMBERS", 3)
    src = ptp_zip(tmp_path / "r.zip", {f"f{i}.txt": text_bytes([]) for i in range(4)})
    with pytest.raises(EditTableError, match="has 4 members; a release archive has at most 3"):
        import_table("ptp", src, tmp_path / "o.ttl")


def test_a_zip_bomb_is_refused_from_its_declared_sizes_without_unpacking(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EDIT_IMPORT_BYTES", 1024 * 1024)
    src = tmp_path / "r.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("f1.txt", text_bytes(PTP_PART1))
        z.writestr("f2.txt", b"\t" * (8 * 1024 * 1024))  # 8 MiB of tabs: a few KB packed
    assert src.stat().st_size < 100_000
    with pytest.raises(EditTableError, match=r"its members unpack to 8,3[0-9,]+ bytes; at most 1,048,576"):
        import_table("ptp", src, tmp_path / "o.ttl")


def test_a_damaged_member_is_one_error_naming_it(tmp_path):
    src = ptp_zip(tmp_path / "r.zip", {"f1.txt": text_bytes(PTP_PART1)})
    raw = bytearray(src.read_bytes())
    data = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = data.compress(text_bytes(PTP_PART1)) + data.flush()
    at = raw.find(packed[:16])
    assert at > 0
    raw[at + 5] ^= 0xFF  # a byte of the packed member flipped: its checksum no longer matches
    src.write_bytes(bytes(raw))
    res = edits_import("ptp", src, "-o", tmp_path / "o.ttl")
    assert res.exit_code == 2 and f"{src} › f1.txt: cannot be unpacked" in res.stderr
    assert len(res.stderr.splitlines()) == 1 and "Traceback" not in res.stderr


def test_member_names_are_labels_never_paths_on_disk(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    src = ptp_zip(work / "r.zip", {"../../evil_2026q2.txt": text_bytes(PTP_PART1)})
    out = work / "o.ttl"
    assert import_table("ptp", src, out).edits == 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.parts) == ["o.ttl", "r.zip"]
    assert release_of(out) == {("r.zip › ../../evil_2026q2.txt", "2026Q2", "2026-04-01")}
