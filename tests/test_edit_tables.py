"""``cptkg edits import ptp|mue``: CMS edit tables in their published layout become edit RDF.

The files under tests/data/edits/ are synthetic (their first line says so):
the project ships no NCCI or MUE values.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_support import examples
from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS

from cptkg.faces.cli import main
from cptkg.knowledge.edits.cms_import import CODE_RE, EditTableError, import_table, turtle_string

DATA = Path(__file__).parent / "data" / "edits"
PTP = DATA / "ptp_practitioner_synthetic.txt"
PTP_CSV = DATA / "ptp_practitioner_synthetic.csv"
MUE = DATA / "mue_practitioner_synthetic.txt"
PTP_BAD = DATA / "ptp_bad_rows_synthetic.txt"
ONT = Namespace("https://w3id.org/cptkg/ontology#")
XSD_DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")
XSD_INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")
DAY = dt.date(2025, 3, 1)


def run(*args):
    return CliRunner().invoke(main, ["edits", "import", *map(str, args)])


def load(path: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(path, format="turtle")


def pair_edits(g: rdflib.Graph) -> dict[int, dict]:
    """Each PairEdit by its source row: its values as plain Python."""
    out = {}
    for s in g.subjects(RDF.type, ONT.PairEdit):
        row = int(g.value(s, ONT.sourceRow))
        dele = g.value(s, ONT.deletionDate)
        out[row] = {
            "col1": str(g.value(s, ONT.column1Code)), "col2": str(g.value(s, ONT.column2Code)),
            "kind": g.value(s, ONT.editKind), "modifier": str(g.value(s, ONT.modifierIndicator)),
            "scope": g.value(s, ONT.editScope), "effective": g.value(s, ONT.effectiveDate).toPython(),
            "deletion": dele.toPython() if dele is not None else None,
            "rationale": str(g.value(s, ONT.rationale)),
        }
    return out


def data_rows(path: Path) -> int:
    """Rows after the header line (the fixture's layout: header starts with 'Column 1' or 'HCPCS')."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(("Column 1", "HCPCS")))
    return sum(1 for l in lines[start + 1:] if l.strip())


# ---------------------------------------------------------------- PTP

def test_ptp_file_gives_one_pair_edit_per_row_with_its_values(tmp_path):
    out = tmp_path / "ptp.ttl"
    result = import_table("ptp", PTP, out, imported=DAY)
    g = load(out)
    edits = pair_edits(g)
    assert result.edits == result.rows == data_rows(PTP) == len(edits) == 7
    first = edits[6]  # line 6 of the file: the first row under the header
    assert first == {"col1": "62367", "col2": "95990", "kind": ONT.ComponentEdit, "modifier": "1",
                     "scope": ONT.SameProvider, "effective": dt.date(2025, 1, 1), "deletion": None,
                     "rationale": "Misuse of column two code with column one code"}
    assert g.value(next(g.subjects(ONT.sourceRow, Literal(6))), ONT.effectiveDate).datatype == XSD_DATE
    assert edits[8]["deletion"] == dt.date(2024, 12, 31)
    assert edits[8]["kind"] == ONT.MutuallyExclusiveEdit  # its rationale says "Mutually exclusive procedures"
    assert {r: e["modifier"] for r, e in edits.items()} == {6: "1", 7: "0", 8: "0", 9: "1", 10: "9", 11: "1", 12: "1"}
    assert edits[11] == edits[11] | {"col2": "0213T",
                                     "rationale": 'Rationale with a "quote" and a backslash \\ kept as written'}
    assert edits[12]["deletion"] == edits[12]["effective"]  # deleted on its effective date: kept as written


def test_every_edit_cites_the_file_as_its_source(tmp_path):
    out = tmp_path / "ptp.ttl"
    result = import_table("ptp", PTP, out, imported=DAY)
    g = load(out)
    source = URIRef(f"https://w3id.org/cptkg/edits/ptp-{result.sha256[:12]}/source")
    assert (source, RDF.type, ONT.Source) in g
    assert str(g.value(source, RDFS.label)) == PTP.name
    assert str(g.value(source, ONT.citation)) == f"PTP edit table {PTP.name}, imported 2025-03-01"
    assert str(g.value(source, ONT.fileSha256)) == result.sha256
    edits = list(g.subjects(RDF.type, ONT.PairEdit))
    assert all(g.value(e, DCTERMS.source) == source for e in edits)
    assert sorted(str(e) for e in edits) == sorted(f"https://w3id.org/cptkg/edits/ptp-{result.sha256[:12]}/{n}"
                                                   for n in range(6, 13))


def test_a_verdict_under_an_imported_edit_names_the_table_as_its_source_without_a_made_up_confidence(tmp_path):
    """The table's source read document "", confidence "none" (Python's None as text) in check's JSON (a coder's
    audit): it is an edit table, named by its file, and its confidence is not graded (the payer's data as given)."""
    import json

    out = tmp_path / "ptp.ttl"
    import_table("ptp", PTP, out, imported=DAY)
    claim = tmp_path / "c.json"
    line = {"date_of_service": "2024-06-01", "provider_id": "1234567893", "provider_role": "physician", "units": 1}
    claim.write_text(json.dumps({"claim_id": "T1", "patient_id": "P1", "lines": [
        dict(line, line=1, code="62350"), dict(line, line=2, code="62355")]}))
    res = CliRunner().invoke(main, ["check", str(claim), "--edits", str(out), "--output", "json"])
    reason, = json.loads(res.output)["lines"][1]["reasons"]
    table, = [s for s in reason["sources"] if s["citation"].startswith("PTP edit table")]
    assert (table["document"], table["section"], table["confidence"]) == ("edit table", PTP.name, "")
    assert reason["confidence"] == "high"


def test_preamble_is_skipped_and_source_row_is_the_files_line_number(tmp_path):
    out = tmp_path / "ptp.ttl"
    import_table("ptp", PTP, out)
    lines = PTP.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "SYNTHETIC TEST DATA — not CMS values"
    for row, e in pair_edits(load(out)).items():
        assert lines[row - 1].split("\t")[:2] == [e["col1"], e["col2"]]


def test_reimporting_the_same_file_gives_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.ttl", tmp_path / "b.ttl"
    import_table("ptp", PTP, a, imported=DAY)
    import_table("ptp", PTP, b, imported=DAY)
    assert a.read_bytes() == b.read_bytes()


def test_csv_file_gives_the_same_edits_as_the_tab_delimited_one(tmp_path):
    import_table("ptp", PTP, tmp_path / "txt.ttl")
    import_table("ptp", PTP_CSV, tmp_path / "csv.ttl")
    txt, csv_ = pair_edits(load(tmp_path / "txt.ttl")), pair_edits(load(tmp_path / "csv.ttl"))
    assert sorted(map(sorted_items, txt.values())) == sorted(map(sorted_items, csv_.values()))
    lines = PTP_CSV.read_text(encoding="utf-8").splitlines()
    assert all(lines[row - 1].startswith(f"{e['col1']},{e['col2']},") for row, e in csv_.items())


def sorted_items(d: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in d.items()))


def test_excel_workbook_with_two_header_lines_and_numeric_cells_is_read(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["SYNTHETIC TEST DATA — not CMS values"])
    ws.append(["CPT codes, descriptions and other data only are copyright of the AMA (notice line)."])
    ws.append(["Column 1", "Column 2", "*=in existence prior to 1996", "Effective Date", "Deletion Date",
               "Modifier", "PTP Edit Rationale"])
    ws.append([None, None, None, None, "*=no data", "0=not allowed\n1=allowed\n9=not applicable", None])
    ws.append([62367, 95990, None, 20250101, "*", 1, "Misuse of column two code with column one code"])
    ws.append(["01996", "62367", None, dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 31), 0,
               "Standards of medical / surgical practice"])
    ws.append([1996, 62368, None, "20250101", "*", 9, "Standards of medical / surgical practice"])
    xlsx = tmp_path / "ptp.xlsx"
    wb.save(xlsx)
    out = tmp_path / "ptp.ttl"
    result = import_table("ptp", xlsx, out)
    edits = pair_edits(load(out))
    assert result.edits == 3 and set(edits) == {5, 6, 7}  # sheet rows; the legend row 4 is header, not data
    assert edits[5] | {"rationale": ""} == {"col1": "62367", "col2": "95990", "kind": ONT.ComponentEdit,
                                            "modifier": "1", "scope": ONT.SameProvider,
                                            "effective": dt.date(2025, 1, 1), "deletion": None, "rationale": ""}
    assert edits[6]["deletion"] == dt.date(2024, 12, 31) and edits[6]["modifier"] == "0"
    assert edits[7]["col1"] == "01996"  # a code typed as a number loses its leading zero in Excel
    # and the reading is said (an auditor's finding: no word of it)
    assert ("1 code stored by Excel as a number read with the leading zeros it lost (first: 1996 -> 01996)"
            in " ".join(result.notices)), result.notices


@pytest.mark.parametrize("number, words", [
    (62, "'62' is not a CPT/HCPCS code"), (6236, "'6236' is not a CPT/HCPCS code"),
    (2001, "'2001' is not a CPT/HCPCS code"), (99, "'99' is not a CPT/HCPCS code"),
])
def test_an_excel_number_no_code_could_have_lost_zeros_from_is_refused_not_padded(tmp_path, number, words):
    """Zeros are put back only where an all-digit CPT code has them (anesthesia, 00100-01999): 62 was
    imported as an edit of "00062" and 6236 of "06236", codes the table never gave (a real-files audit);
    the same rows as text were refused."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Column 1", "Column 2", "*=in existence prior to 1996", "Effective Date", "Deletion Date",
               "Modifier", "PTP Edit Rationale"])
    ws.append([number, 95990, None, 20250101, "*", 1, "Misuse of column two code with column one code"])
    ws.append([100, 62367, None, 20250101, "*", 1, "Misuse of column two code with column one code"])
    xlsx = tmp_path / "ptp.xlsx"
    wb.save(xlsx)
    with pytest.raises(EditTableError) as e:
        import_table("ptp", xlsx, tmp_path / "ptp.ttl")
    assert len(e.value.problems) == 1 and e.value.problems[0].startswith("row 2, column Column 1: " + words), \
        e.value.problems  # row 3's 100 is the anesthesia code 00100, its zeros put back


def test_excel_row_numbers_are_the_sheets_even_when_the_sheet_starts_lower(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    header = ["HCPCS/CPT Code", "Practitioner Services MUE Values", "MUE Adjudication Indicator", "MUE Rationale"]
    for col, value in enumerate(header, 2):  # rows 1-3 and column A empty: the table starts at B4
        ws.cell(row=4, column=col, value=value)
    for col, value in enumerate([62367, 1, "2 Date of Service Edit: Policy", "CMS Policy"], 2):
        ws.cell(row=6, column=col, value=value)
    xlsx = tmp_path / "mue.xlsx"
    wb.save(xlsx)
    import_table("mue", xlsx, tmp_path / "mue.ttl")
    g = load(tmp_path / "mue.ttl")
    (e,) = g.subjects(RDF.type, ONT.UnitEdit)
    assert int(g.value(e, ONT.sourceRow)) == 6 and str(g.value(e, ONT.editCode)) == "62367"


def test_damaged_excel_file_is_one_error(tmp_path):
    bad = tmp_path / "ptp.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(EditTableError, match="not a readable Excel workbook"):
        import_table("ptp", bad, tmp_path / "out.ttl")
    assert list(tmp_path.iterdir()) == [bad]


# ---------------------------------------------------------------- MUE

def test_mue_file_gives_unit_edits_with_maximum_and_adjudication_indicator(tmp_path):
    out = tmp_path / "mue.ttl"
    result = import_table("mue", MUE, out, imported=DAY)
    g = load(out)
    by_code = {str(g.value(s, ONT.editCode)): s for s in g.subjects(RDF.type, ONT.UnitEdit)}
    assert result.edits == data_rows(MUE) == len(by_code) == 5
    e = by_code["62367"]
    assert g.value(e, ONT.maxUnits) == Literal(1) and g.value(e, ONT.maxUnits).datatype == XSD_INTEGER
    assert str(g.value(e, ONT.adjudicationIndicator)) == "2"  # from "2 Date of Service Edit: Policy"
    assert str(g.value(e, ONT.rationale)) == "Code Descriptor / CPT Instruction"
    assert int(g.value(e, ONT.sourceRow)) == 5
    assert g.value(e, ONT.effectiveDate) is None  # the file has no effective date column
    assert {c: str(g.value(s, ONT.adjudicationIndicator)) for c, s in by_code.items()} == {
        "62367": "2", "95990": "3", "J0475": "3", "62350": "1", "0213T": "2"}
    assert g.value(by_code["J0475"], ONT.maxUnits).toPython() == 4
    source = g.value(e, DCTERMS.source)
    assert str(source).endswith(f"/mue-{result.sha256[:12]}/source")
    assert str(g.value(source, ONT.citation)) == f"MUE edit table {MUE.name}, imported 2025-03-01"


def test_mue_effective_date_is_read_when_the_file_has_one(tmp_path):
    src = tmp_path / "mue.txt"
    src.write_text("SYNTHETIC TEST DATA — not CMS values\n"
                   "HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale\t"
                   "Effective Date\n"
                   "62367\t1\t2 Date of Service Edit: Policy\tCMS Policy\t20250401\n", encoding="utf-8")
    import_table("mue", src, tmp_path / "mue.ttl")
    g = load(tmp_path / "mue.ttl")
    (e,) = g.subjects(RDF.type, ONT.UnitEdit)
    assert g.value(e, ONT.effectiveDate).toPython() == dt.date(2025, 4, 1)


def test_mue_bad_rows_name_their_column(tmp_path):
    src = tmp_path / "mue.txt"
    src.write_text("SYNTHETIC TEST DATA — not CMS values\n"
                   "HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale\n"
                   "j0475\t4\t3 Date of Service Edit: Clinical\tClinical: Data\n"
                   "62367\tone\t2 Date of Service Edit: Policy\tCMS Policy\n"
                   "95990\t1\t4 Date of Service Edit: Other\tCMS Policy\n"
                   "62350\t2\t1 Line Edit\tAnatomic Consideration\n"
                   "62350\t3\t1 Line Edit\tAnatomic Consideration\n", encoding="utf-8")
    with pytest.raises(EditTableError) as err:
        import_table("mue", src, tmp_path / "mue.ttl")
    assert err.value.problems == [
        "row 3, column HCPCS/CPT Code: 'j0475' is not a CPT/HCPCS code as written (codes are upper case: 'J0475')",
        "row 4, column Practitioner Services MUE Values: 'one' is not a number of units (a whole number, 0 or more)",
        "row 5, column MUE Adjudication Indicator: '4 Date of Service Edit: Other' is not an MUE adjudication "
        "indicator (1 line edit, 2 date of service edit: policy, 3 date of service edit: clinical)",
        "row 7: repeats the MUE for 62350 of row 6 (one MUE per code)",
    ]
    assert not (tmp_path / "mue.ttl").exists()


# ---------------------------------------------------------------- bad input

def test_bad_rows_are_all_reported_by_row_and_column_and_nothing_is_written(tmp_path):
    out = tmp_path / "ptp.ttl"
    res = run("ptp", PTP_BAD, "-o", out)
    assert res.exit_code == 2 and "Traceback" not in res.output + res.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no temporary file left either
    lines = res.stderr.strip().splitlines()
    assert lines == [
        "cptkg: row 6, column Modifier: '3' is not a modifier indicator (0, 1 or 9)",
        "cptkg: row 7, column Column 1: '6236' is not a CPT/HCPCS code (five digits, four digits and F/T/U, "
        "or a letter A-V and four digits)",
        "cptkg: row 8, column Effective Date: '20251301' is not a calendar date (YYYYMMDD)",
        "cptkg: row 9, column Deletion Date: 20240101 is before the effective date 20250101: "
        "an edit cannot end before it starts",
        "cptkg: row 11, column *=in existence prior to 1996: 'x' is not the prior-to-1996 flag ('*' or empty)",
        "cptkg: row 14: repeats the edit 62369/95990 effective 20250101 of row 13 (one row per pair and "
        "effective date)",
        f"cptkg: {PTP_BAD}: 6 bad rows of 9; nothing written",  # row 10's blank deletion date: not deleted (issue 22)
    ]


def test_a_failed_import_leaves_the_previous_output_as_it_was(tmp_path):
    out = tmp_path / "ptp.ttl"
    assert run("ptp", PTP, "-o", out).exit_code == 0
    before = out.read_bytes()
    assert run("ptp", PTP_BAD, "-o", out).exit_code == 2
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["ptp.ttl"]


def test_bad_rows_listed_are_capped_but_all_counted(tmp_path):
    src = tmp_path / "ptp.txt"
    head = PTP.read_text(encoding="utf-8").splitlines()[:5]
    rows = [f"{62000 + i:05d}\t95990\t\t20250101\t*\t7\tStandards of medical / surgical practice" for i in range(30)]
    src.write_text("\n".join(head + rows) + "\n", encoding="utf-8")
    res = run("ptp", src, "-o", tmp_path / "out.ttl", "--max-errors", "5")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 7
    assert lines[0] == "cptkg: row 6, column Modifier: '7' is not a modifier indicator (0, 1 or 9)"
    assert lines[5] == "cptkg: ... and 25 more bad rows"
    assert lines[6].endswith("30 bad rows of 30; nothing written")


def test_a_row_cut_short_and_a_code_paired_with_itself_are_errors(tmp_path):
    src = tmp_path / "ptp.txt"
    head = PTP.read_text(encoding="utf-8").splitlines()[:5]
    src.write_text("\n".join(head + ["62367\t95990\t\t20250101", "62367\t62367\t\t20250101\t*\t1\tx"]) + "\n",
                   encoding="utf-8")
    with pytest.raises(EditTableError) as err:
        import_table("ptp", src, tmp_path / "out.ttl")
    assert err.value.problems == [
        "row 6: has 4 cells; the header (line 5) has columns up to Modifier: the row is cut short",
        "row 7, column Column 2: '62367' is the column 1 code too: an edit pairs two different codes",
    ]


@pytest.mark.parametrize("content, expected", [
    ((Path(__file__).parents[1] / "README.md").read_bytes(), "not a PTP edit table: no header row with the columns"),
    (b"\x00\x01\x02binary\xff\xfe" * 50, "not a PTP edit table: no header row"),
    (b"", "is empty, not a PTP edit table"),
    (MUE.read_bytes(), "is the header of an MUE table, not a PTP edit table: use `cptkg edits import mue`"),
    (b"Column 1\tColumn 2\tEffective Date\n62367\t95990\t20250101\n", "has no column Deletion Date, Modifier"),
])
def test_a_file_that_is_not_a_ptp_table_is_one_error_exit_2(tmp_path, content, expected):
    src = tmp_path / "table.txt"
    src.write_bytes(content)
    res = run("ptp", src, "-o", tmp_path / "out.ttl")
    assert res.exit_code == 2
    assert expected in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output + res.stderr
    assert not (tmp_path / "out.ttl").exists()


def test_a_ptp_table_given_as_mue_is_one_error(tmp_path):
    res = run("mue", PTP, "-o", tmp_path / "out.ttl")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "is the header of a PTP edit table, not an MUE table: use `cptkg edits import ptp`" in res.stderr


def test_output_that_is_the_input_is_refused(tmp_path):
    src = tmp_path / "ptp.txt"
    shutil.copy(PTP, src)
    res = run("ptp", src, "-o", src)
    assert res.exit_code == 2 and "is the input file" in res.stderr
    assert src.read_bytes() == PTP.read_bytes()


def test_missing_input_and_unwritable_output_are_one_line(tmp_path):
    res = run("ptp", tmp_path / "none.txt", "-o", tmp_path / "out.ttl")
    assert res.exit_code == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr
    res = run("ptp", PTP, "-o", tmp_path / "no" / "folder" / "out.ttl")
    assert res.exit_code == 2 and "cannot be written" in res.stderr and len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- CLI

def test_cli_success_is_exit_0_with_the_summary_line_on_stderr(tmp_path):
    out = tmp_path / "ptp.ttl"
    res = run("ptp", PTP, "-o", out, "--imported", "2025-03-01")
    assert res.exit_code == 0 and res.stdout == ""
    assert res.stderr.startswith(f"imported 7 pair edits from {PTP} (7 rows, ") and res.stderr.endswith(
        " s); no release stated: give --release YYYYQn to load it alongside other releases\n")
    assert len(res.stderr.splitlines()) == 1
    res = run("mue", MUE, "-o", tmp_path / "mue.ttl")
    assert res.exit_code == 0 and res.stderr.startswith(f"imported 5 unit edits from {MUE} (5 rows, ")


def test_cli_usage_errors_are_exit_2(tmp_path):
    assert run("dme", PTP, "-o", tmp_path / "x.ttl").exit_code == 2
    assert run("ptp", PTP).exit_code == 2  # -o is required
    assert run("ptp", PTP, "-o", tmp_path / "x.ttl", "--imported", "March").exit_code == 2


def test_unknown_columns_are_noted_not_dropped_silently(tmp_path):
    src = tmp_path / "mue.txt"
    src.write_text("HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale\t"
                   "Publication Indicator\n62367\t1\t2 Date of Service Edit: Policy\tCMS Policy\t1\n", encoding="utf-8")
    res = run("mue", src, "-o", tmp_path / "mue.ttl")
    assert res.exit_code == 0
    assert "note: " in res.stderr and "column 'Publication Indicator' is not read" in res.stderr


def test_a_ptp_table_without_a_rationale_column_is_noted_as_read_all_component_edits(tmp_path):
    """The kind of a pair edit (mutually exclusive or component) is read from its rationale: a table
    without the column was imported in silence, every edit a component edit (an audit)."""
    src = tmp_path / "ptp.txt"
    src.write_text("Column 1\tColumn 2\tEffective Date\tDeletion Date\tModifier\n62367\t95990\t20250101\t*\t1\n",
                   encoding="utf-8")
    res = run("ptp", src, "-o", tmp_path / "ptp.ttl")
    assert res.exit_code == 0
    assert "no PTP Edit Rationale column: every pair edit is read as a component edit" in res.stderr
    assert "ont:ComponentEdit" in (tmp_path / "ptp.ttl").read_text(encoding="utf-8")


# ---------------------------------------------------------------- pieces

@pytest.mark.parametrize("code", ["27447", "01996", "0213T", "0001F", "0001U", "J0475", "A0021", "V2020", "G0453"])
def test_cpt_and_hcpcs_codes_are_accepted(code):
    assert CODE_RE.match(code)


@pytest.mark.parametrize("code", ["", "2744", "274477", "0213X", "j0475", "W1234", "J047", "J04750", " 27447",
                                  "27447 "])
def test_strings_that_are_not_codes_are_rejected(code):
    assert not CODE_RE.match(code)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_turtle_string_is_read_back_by_rdflib_as_the_same_text(value):
    g = rdflib.Graph().parse(data=f"<urn:s> <urn:p> {turtle_string(value)} .\n", format="turtle")
    assert str(g.value(URIRef("urn:s"), URIRef("urn:p"))) == value


def test_turtle_string_escapes_quotes_backslashes_and_controls():
    assert turtle_string('a "b" \\ c\nd\te\x01') == '"a \\"b\\" \\\\ c\\nd\\te\\u0001"'
    assert turtle_string("é — ok") == '"é — ok"'


def test_written_file_has_a_plain_files_permissions_not_the_temporary_files(tmp_path):
    plain = tmp_path / "plain.ttl"
    plain.write_text("")
    out = tmp_path / "ptp.ttl"
    import_table("ptp", PTP, out)
    assert out.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_windows_line_endings_give_the_same_rows(tmp_path):
    src = tmp_path / "ptp_crlf.txt"
    src.write_bytes(PTP.read_bytes().replace(b"\n", b"\r\n"))
    import_table("ptp", src, tmp_path / "crlf.ttl")
    import_table("ptp", PTP, tmp_path / "lf.ttl")
    assert pair_edits(load(tmp_path / "crlf.ttl")) == pair_edits(load(tmp_path / "lf.ttl"))


def test_a_line_separator_inside_a_rationale_does_not_shift_row_numbers(tmp_path):
    src = tmp_path / "ptp.txt"
    head = PTP.read_text(encoding="utf-8").splitlines()[:5]
    src.write_text("\n".join(head + ["62367\t95990\t\t20250101\t*\t1\tone\u2028two\x0cthree",
                                     "62368\t62367\t\t20250101\t*\t0\tStandards of medical / surgical practice"])
                   + "\n", encoding="utf-8")
    import_table("ptp", src, tmp_path / "out.ttl")
    edits = pair_edits(load(tmp_path / "out.ttl"))
    assert set(edits) == {6, 7} and edits[6]["rationale"] == "one\u2028two\x0cthree"


def test_a_header_with_no_rows_under_it_is_an_error_not_an_empty_table(tmp_path):
    src = tmp_path / "ptp.txt"
    src.write_text("\n".join(PTP.read_text(encoding="utf-8").splitlines()[:5]) + "\n\n", encoding="utf-8")
    res = run("ptp", src, "-o", tmp_path / "out.ttl")
    assert res.exit_code == 2 and "has the header of a PTP edit table but no rows under it" in res.stderr
    assert not (tmp_path / "out.ttl").exists()


def test_a_windows_1252_file_is_read_with_its_characters(tmp_path):
    src = tmp_path / "ptp.txt"
    head = "\n".join(PTP.read_text(encoding="utf-8").splitlines()[1:5])  # without the UTF-8 dash line
    body = "\n62367\t95990\t\t20250101\t*\t1\tStandards of medical \u2013 surgical practice \u00a9\n"
    src.write_bytes(("SYNTHETIC TEST DATA - not CMS values\n" + head + body).encode("cp1252"))
    import_table("ptp", src, tmp_path / "out.ttl")
    (edit,) = pair_edits(load(tmp_path / "out.ttl")).values()
    assert edit["rationale"] == "Standards of medical \u2013 surgical practice \u00a9"


def test_one_windows_1252_line_in_a_utf8_file_garbles_no_other_line(tmp_path):
    """A security audit: one byte that is not UTF-8 made the whole file read as Windows-1252, and every other
    row's UTF-8 rationale came out garbled ("\u00e2\u20ac\u201c" for a dash), with no word said."""
    src = tmp_path / "ptp.txt"
    head = "\n".join(PTP.read_text(encoding="utf-8").splitlines()[1:5])
    utf8 = "62367\t95990\t\t20250101\t*\t1\tStandards of medical \u2013 surgical practice\n".encode("utf-8")
    cp = "62368\t95990\t\t20250101\t*\t1\tMutually exclusive \u00a9\n".encode("cp1252")
    src.write_bytes(("SYNTHETIC TEST DATA - not CMS values\n" + head + "\n").encode("utf-8") + utf8 + cp)
    import_table("ptp", src, tmp_path / "out.ttl")
    got = sorted(e["rationale"] for e in pair_edits(load(tmp_path / "out.ttl")).values())
    assert got == ["Mutually exclusive \u00a9", "Standards of medical \u2013 surgical practice"]


_cell = st.one_of(st.sampled_from(["62367", "95990", "0213T", "J0475", "20250101", "20241231", "*", "0", "1",
                                   "9", "", "x", "6236", "20251301", "Mutually exclusive procedures"]),
                  st.text(max_size=6))


_good_row = st.tuples(st.integers(10000, 99999), st.integers(10000, 99999), st.sampled_from(["", "*"]),
                      st.sampled_from(["19960101", "20250101"]), st.sampled_from(["*", "20251231"]),
                      st.sampled_from("019"), st.text(max_size=20)).map(lambda t: [str(t[0]), str(t[1]), *t[2:]])


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.one_of(_good_row, _good_row, st.lists(_cell, min_size=0, max_size=8)), min_size=1, max_size=6))
def test_any_rows_give_one_edit_per_row_or_a_reported_error_never_a_crash(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("fuzz")
    src, out = tmp / "ptp.txt", tmp / "out.ttl"
    head = PTP.read_text(encoding="utf-8").splitlines()[:5]
    lines = ["\t".join(c.replace("\t", " ").replace("\n", " ").replace("\r", " ") for c in r) for r in rows]
    src.write_text("\n".join(head + lines) + "\n", encoding="utf-8")
    try:
        result = import_table("ptp", src, out)
    except EditTableError as e:
        assert not out.exists() and list(tmp.iterdir()) == [src]
        assert e.problems or "no rows under it" in str(e)
        assert all(p.startswith("row ") or p.startswith("...") for p in e.problems)
    else:
        assert len(pair_edits(load(out))) == result.edits == result.rows


def test_a_file_name_with_quotes_and_a_line_break_still_gives_valid_turtle(tmp_path):
    src = tmp_path / 'ptp "q2"\nfinal.txt'
    shutil.copy(PTP, src)
    result = import_table("ptp", src, tmp_path / "out.ttl")
    g = load(tmp_path / "out.ttl")
    source = URIRef(f"https://w3id.org/cptkg/edits/ptp-{result.sha256[:12]}/source")
    assert str(g.value(source, RDFS.label)) == src.name and len(pair_edits(g)) == 7
