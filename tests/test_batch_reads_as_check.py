"""``cptkg batch`` reads a claim or history CSV as ``cptkg check`` reads it, whole or in parts: white space
at a field's ends, records of fewer or more values than columns, a file's own column named as one the
reader adds, the first bad history row, a quoted line break past the reader's first megabyte, and CSV
output bytes that do not depend on the parts. Each case was found by an audit of the batch in parts;
each test fails on the code before the fix."""
from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.judge import batch

HEADER = "claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
H_HEADER = "patient_id,code,date_of_service,provider_id\n"
MORE_VALUES = "the record does not have one field per column (more values than columns)"


@pytest.fixture(scope="module")
def kb():
    from cptkg.knowledge.loader import default_kb

    return default_kb()


def _batch(kb, tmp_path, body: str, history: str | None = None, header: str = HEADER, chunk_lines=None,
           name: str = "out.csv") -> list[dict]:
    src = tmp_path / "in.csv"
    src.write_bytes((header + body).encode("utf-8"))
    h = None
    if history is not None:
        h = tmp_path / "h.csv"
        h.write_bytes((H_HEADER + history).encode("utf-8"))
    out = tmp_path / name
    batch.run_batch(src, out, h, kb=kb, chunk_lines=chunk_lines)
    return list(csv.DictReader(open(out, encoding="utf-8", newline="")))


def _check(tmp_path) -> list[dict]:
    """``cptkg check`` on the same files, as CSV (one row per line)."""
    args = ["check", str(tmp_path / "in.csv"), "--output", "csv"]
    if (tmp_path / "h.csv").exists():
        args += ["--history", str(tmp_path / "h.csv")]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    return list(csv.DictReader(res.stdout.split("\n\n")[0].splitlines()))


def _verdicts(rows: list[dict]) -> list[tuple]:
    """Each judged line's verdict and rules, and each claim not judged (check reports a claim's first
    problem, batch each row's: the words are asserted where a test names them)."""
    return sorted({(r["claim_id"], "", "error", "") if r["status"] == "error" else
                   (r["claim_id"], r["line"], r["status"], r["rules"]) for r in rows})


@pytest.mark.parametrize("space", ["\t", "\x0b", "\x0c", "\x1f", "\x85", "\u2028", "\xa0", "\u3000",
                                   "\ufeff"],  # a byte-order mark: a row of a file joined from two exports
                         ids=lambda c: f"U+{ord(c):04X}")
def test_white_space_at_a_fields_ends_is_taken_off_as_check_takes_it_off(kb, tmp_path, space):
    # the claim id with a tab after it is claim A: its 62367 is a component of 95990 on line 2
    body = (f"A{space},P1,1,62367,2024-02-01,D1,physician,1,\n"
            f"A,P1,2,95990,2024-02-01,D1,physician{space},1,\n"
            f"B,P2,1,{space}62370{space},2024-02-01,D1,physician,{space}1,{space}KD\n")
    rows = _batch(kb, tmp_path, body)
    assert [(r["claim_id"], r["status"], r["rules"]) for r in rows] == [
        ("A", "rejected", "exclusion.component"), ("A", "accepted", ""), ("B", "accepted", "")]
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


def test_white_space_in_a_history_field_is_taken_off_as_check_takes_it_off(kb, tmp_path):
    body = "A,P1,1,62370,2024-02-01,D1,physician,1,\n"
    rows = _batch(kb, tmp_path, body, history="P1\t,62362\x0b,2023-01-01\u3000,D1\t\n")
    assert rows[0]["status"] == "accepted" and rows[0]["warnings"] == ""  # the implant is in its history
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


def test_a_record_of_fewer_values_reads_its_missing_values_as_empty(kb, tmp_path):
    body = ("A,P1,1,62370,2024-02-01,D1,physician,1\n"  # no modifiers field: none stated
            "B,P2,1,62370,2024-02-01,D1\n"  # no role: the role is missing
            "  \n"  # a blank record: no line, its row number taken
            "C,P3,1,62370,2024-02-01,D1,physician,1,\n")
    rows = _batch(kb, tmp_path, body)
    assert [(r["row"], r["claim_id"], r["status"]) for r in rows] == [
        ("1", "A", "accepted"), ("2", "B", "error"), ("4", "C", "accepted")]
    assert rows[1]["error"] == "row 2, claim B, field provider_role: is missing"
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


def test_a_record_of_more_values_is_an_error_of_its_claim_named_as_check_names_it(kb, tmp_path):
    body = ("A,P1,1,62370,2024-02-01,D1,physician,1,,extra\n"
            "A,P1,2,95990,2024-02-01,D1,physician,1,\n"
            "B,P2,1,62370,2024-02-01,D1,physician,1,\"KD,59\"\n")  # a quoted comma is one value
    rows = _batch(kb, tmp_path, body)
    assert rows[0]["error"] == f"row 1, claim A: {MORE_VALUES}"
    assert rows[1]["status"] == "error" and "because row 1" in rows[1]["error"]
    assert rows[2]["status"] == "accepted"
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


@pytest.mark.parametrize("history,bad_claims", [
    ("P1,62362,2023-01-01\nP2,62362,2023-01-01,D1\n", set()),  # no provider field: none stated
    ("P1,62362,2023-01-01,D1,extra\nP2,62362,2023-01-01,D1\n", {"A"}),  # only P1's claims
    ("   \nP2,62362,2023-01-01,D1\n", set()),  # a blank record names no patient and is skipped
])
def test_a_history_record_of_fewer_or_more_values_is_read_as_check_reads_it(kb, tmp_path, history, bad_claims):
    body = ("A,P1,1,62370,2024-02-01,D1,physician,1,\n"
            "B,P2,1,62370,2024-02-01,D1,physician,1,\n")
    rows = _batch(kb, tmp_path, body, history=history)
    assert {r["claim_id"] for r in rows if r["status"] == "error"} == bad_claims
    for r in rows:
        if r["status"] == "error":
            assert f"history row 1: {MORE_VALUES}" in r["error"]
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


def test_a_patients_first_bad_history_row_is_the_one_named(kb, tmp_path):
    history = "P1,62362,2023-01-01,D1\nP1,62362,2023-13-01,D1\n" + "P1,62362,2023-01-03,D1\n" * 7 + "P1,62362,x,D1\n"
    rows = _batch(kb, tmp_path, "A,P1,1,62370,2024-02-01,D1,physician,1,\n", history=history)
    words = "(history row 2, field date_of_service: '2023-13-01' is not a real calendar date)"
    assert words in rows[0]["error"]  # row 2, not row 10, in check's words
    assert words in _check(tmp_path)[0]["reasons"]


@pytest.mark.parametrize("column", ["row_no", "Row_No ", "cptkg_record_error"])
@pytest.mark.parametrize("chunk_lines", [None, 1])
def test_a_files_own_column_named_as_one_the_reader_adds_is_not_read(kb, tmp_path, column, chunk_lines):
    # read, a column row_no replaced the row numbers and claims of different ids were judged as one
    header = HEADER.rstrip("\n") + f",{column}\n"
    body = ("A,P1,1,62367,2024-02-01,D1,physician,1,,1\n"
            "B,P2,2,95990,2024-02-01,D2,physician,1,,1\n"
            "C,P3,1,62370,2024-02-01,D1,physician,1,,1\n")
    rows = _batch(kb, tmp_path, body, header=header, chunk_lines=chunk_lines)
    assert [(r["row"], r["claim_id"], r["status"]) for r in rows] == [
        ("1", "A", "accepted"), ("2", "B", "accepted"), ("3", "C", "accepted")]


@pytest.mark.parametrize("column", ["row_no", "file_row_number"])
def test_a_parquet_files_own_row_number_column_is_not_read(kb, tmp_path, column):
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.table({"claim_id": ["A", "B"], "patient_id": ["P1", "P2"], "line": [1, 1],
                             "code": ["62367", "95990"], "date_of_service": ["2024-02-01"] * 2,
                             "provider_id": ["D1", "D1"], "provider_role": ["physician"] * 2, column: [7, 7]}), src)
    batch.run_batch(src, out, kb=kb)
    got = pq.read_table(out).to_pylist()
    assert [(r["row"], r["claim_id"], r["status"]) for r in got] == [(1, "A", "accepted"), (2, "B", "accepted")]


def test_csv_output_in_parts_is_the_bytes_of_the_output_judged_whole(kb, tmp_path):
    # a '#' is quoted by the engine's writer and not by Python's, which rewrites a file holding a control
    # character: escaped part by part, only the part holding the tab was rewritten
    body = "".join(f"CLM#{i},P{i},1,62370,2024-02-01,D1,physician,1,\n" for i in range(6))
    body += "C\x01X,P9,1,62370,2024-02-01,D1,physician,1,\n" + "E,P10,1,623\t70,2024-02-01,D1,physician,1,\n"
    _batch(kb, tmp_path, body, name="whole.csv")
    _batch(kb, tmp_path, body, chunk_lines=2, name="parts.csv")
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_a_csv_over_a_megabyte_with_line_breaks_in_quoted_values_is_read(kb, tmp_path):
    header = HEADER.rstrip("\n") + ",note\n"
    body = "".join(f'C{i},P{i},1,62370,2024-02-01,D1,physician,1,,"{"x" * 900}\n{"y" * 100}"\n' for i in range(1500))
    assert len(body) > 1 << 20  # past the CSV reader's first block
    rows = _batch(kb, tmp_path, body, header=header)
    assert len(rows) == 1500 and {r["status"] for r in rows} == {"accepted"}
    assert [r["row"] for r in rows[:3]] == ["1", "2", "3"]


@pytest.mark.parametrize("target", ["folder", "link", "fifo", "no folder"])
def test_an_output_that_cannot_be_written_is_refused_before_any_claim_is_judged(kb, tmp_path, monkeypatch, target):
    import os

    from cptkg.files import FileProblem

    src = tmp_path / "in.csv"
    src.write_text(HEADER + "A,P1,1,62370,2024-02-01,D1,physician,1,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    if target == "folder":
        out.mkdir()
    elif target == "link":
        (tmp_path / "real.csv").write_text("")
        out.symlink_to(tmp_path / "real.csv")
    elif target == "fifo":
        os.mkfifo(out)
    else:
        out = tmp_path / "missing" / "out.csv"
    judged = []
    monkeypatch.setattr(batch, "_stage_read", lambda run: judged.append(run))
    with pytest.raises(FileProblem, match=r"^-o .*out\.csv: "):
        batch.run_batch(src, out, kb=kb)
    assert judged == []  # refused before the file was read


@pytest.mark.parametrize("blank", [",\n", "   \n", ",,,,,,,,\n", " , ,\t, ,,,,,\n"])
@pytest.mark.parametrize("chunk_lines", [None, 1, 2])
def test_a_blank_record_is_no_line_and_the_rows_after_it_are_all_judged(kb, tmp_path, blank, chunk_lines):
    # its row number is taken: the rows after it are numbered past the count of rows, and a batch in parts
    # ended at the count, so the last row was never judged nor written
    body = ("A,P1,1,62370,2024-02-01,D1,physician,1,\n" + blank + "B,P2,1,62370,2024-02-01,D1,physician,1,\n"
            + blank + "C,P3,1,62370,2024-02-01,D1,physician,1,\n")
    rows = _batch(kb, tmp_path, body, chunk_lines=chunk_lines)
    assert [(r["row"], r["claim_id"], r["status"]) for r in rows] == [
        ("1", "A", "accepted"), ("3", "B", "accepted"), ("5", "C", "accepted")]
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


def test_a_blank_history_record_is_skipped_and_fails_no_claim(kb, tmp_path):
    rows = _batch(kb, tmp_path, "A,P1,1,62370,2024-02-01,D1,physician,1,\n", history=",,,\nP1,62362,2023-01-01,D1\n")
    assert rows[0]["status"] == "accepted" and rows[0]["warnings"] == ""
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


def test_columns_with_no_name_are_not_read(kb, tmp_path):
    header = HEADER.rstrip("\n") + ",,\n"  # two unnamed columns clashed in the reader
    body = "A,P1,1,62370,2024-02-01,D1,physician,1,,x,y\nB,P2,1,62370,2024-02-01,D1\n"
    rows = _batch(kb, tmp_path, body, header=header)
    assert [(r["claim_id"], r["status"]) for r in rows] == [("A", "accepted"), ("B", "error")]
    assert _verdicts(rows) == _verdicts(_check(tmp_path))


@pytest.mark.parametrize("column", ["FILE_ROW_NUMBER", "File_Row_Number "])
def test_a_parquet_file_row_number_column_in_any_case_keeps_list_modifiers(kb, tmp_path, column):
    src, out = tmp_path / "in.parquet", tmp_path / "out.csv"
    pq.write_table(pa.table({"claim_id": ["A", "A"], "patient_id": ["P1", "P1"], "line": [1, 2],
                             "code": ["62367", "95990"], "date_of_service": ["2024-02-01"] * 2,
                             "provider_id": ["D1", "D1"], "provider_role": ["physician"] * 2,
                             "modifiers": pa.array([["59", "KD"], []], pa.list_(pa.string())), column: [7, 8]}), src)
    batch.run_batch(src, out, kb=kb)
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(r["row"], r["status"]) for r in rows] == [("1", "rejected"), ("2", "accepted")]
    assert "exclusion.modifier-no-bypass" in rows[0]["warnings"]  # its modifier 59 was read from the list


def test_a_quoted_value_after_spaces_is_one_value_as_check_reads_it(kb, tmp_path):
    # check's reader skips the spaces after a comma (skipinitialspace), so the quote opens the value;
    # Arrow's reader kept the quotes as text and split "KD,59" at its comma (a record of more values)
    header = 'claim_id, patient_id, line, code, date_of_service, provider_id, provider_role, units, modifiers\n'
    body = ('A, P1, 1, "62370", 2024-02-01, D1, physician, 1, "KD,59"\n'
            '  "B", P2, 1, 62370, 2024-02-01, D1, physician\n'  # fewer values: the missing ones empty
            "\n"
            'C, P3, 1, 62370, 2024-02-01, D1, physician, 1, , extra\n')
    rows = _batch(kb, tmp_path, body, header=header)
    assert [(r["row"], r["claim_id"], r["code"], r["status"]) for r in rows] == [
        ("1", "A", "62370", "accepted"), ("2", "B", "62370", "accepted"), ("3", "C", "62370", "error")]
    assert rows[2]["error"] == f"row 3, claim C: {MORE_VALUES}"
    checked = _check(tmp_path)
    assert _verdicts(rows) == _verdicts(checked)
    # a record of more values shows its line and code in their places, as check's row does (an inputs audit:
    # joined on claim, line and code, the two outputs lost such rows)
    assert [(r["claim_id"], r["line"], r["code"]) for r in rows] == [(r["claim_id"], r["line"], r["code"])
                                                                     for r in checked]


@pytest.mark.parametrize("chunk_lines", [None, 1])
def test_a_long_claim_id_is_shown_in_a_message_as_check_shows_it(kb, tmp_path, chunk_lines):
    # the claim id column keeps the whole id; a message names the claim by its first 60 characters
    cid = "C" * 70 + "D" * 30
    body = (f"{cid},P1,1,62370,2024-02-30,D1,physician,1,\n"
            f"{cid},P2,2,62370,2024-02-01,D1,physician,1,\n"
            f"{cid}E,P1,1,62370,2024-02-01,D1,physician,1,\n"
            f"{cid}E,P1,1,62370,2024-02-01,D1,physician,1,\n")
    rows = _batch(kb, tmp_path, body, chunk_lines=chunk_lines)
    shown = f"claim {cid[:60]}"
    assert [r["claim_id"] for r in rows] == [cid, cid, cid + "E", cid + "E"]
    assert [r["error"] for r in rows] == [
        f"row 1, {shown}, line 1, field date_of_service: '2024-02-30' is not a real calendar date",
        f"row 2, {shown}, field patient_id: the claim has lines for more than one patient (one claim is for one "
        f"patient)",
        f"row 3, {shown}: claim not judged because row 4 has an error",
        f"row 4, {shown}, line 1: the line number appears more than once in the claim (also in row 3)"]
    checked = _check(tmp_path)
    # check's CSV gives each row the words batch gives it: the row before a repeated line number named the
    # repeat's error as its own, and a second bad row of a claim was "not judged because of" the first (audits)
    assert [r["reasons"] for r in checked] == [r["error"] for r in rows]
    assert cid[:61] not in "".join(r["error"] for r in rows)


@pytest.mark.parametrize("cell, modifiers_ok", [
    ('"KD,JW"', True),       # a comma separates modifiers, as ; | and spaces do: KD is not lost
    ('"kd, jw"', True),
    ("KD;59|XS E1", True),
    ("ZZTOP", False),        # a modifier is two letters or digits
    ('"KD;5"', False),
    ("KD-JW", False),
    ('"KD;ABCDEFGHIJKLM"', False),
])
def test_a_modifiers_cell_is_split_on_commas_and_each_modifier_is_two_letters_or_digits(kb, tmp_path, cell,
                                                                                         modifiers_ok):
    body = ("M,P1,1,95990,2025-03-04,D1,physician,1,\n"
            f"M,P1,2,J0475,2025-03-04,D1,physician,2,{cell}\n")
    rows = _batch(kb, tmp_path, body)
    checked = _check(tmp_path)
    assert _verdicts(rows) == _verdicts(checked)
    if modifiers_ok:
        # the drug's KD is read (drug.kd-modifier does not deny the line) or, without KD, the line is judged
        assert [r["status"] for r in rows] == ["accepted", "accepted" if "k" in cell.lower() else "rejected"]
    else:
        # both name the line and the modifier's place in the cell, in the same words
        assert rows[1]["status"] == "error" and rows[1]["error"].startswith("row 2, claim M, line 2, field modifiers[")
        assert checked[1]["status"] == "error" and checked[1]["reasons"] == rows[1]["error"]
        # line 1 is not judged for line 2's error, and says so in batch's words (row 1 names row 2)
        assert checked[0]["status"] == "error" and checked[0]["reasons"] == rows[0]["error"] == (
            "row 1, claim M: claim not judged because row 2 has an error")
        if "ABCDEFG" not in cell:
            bad = next(m for m in cell.strip('"').replace("|", ";").replace(" ", ";").split(";")
                       if len(m) != 2 or "-" in m)
            assert rows[1]["error"].endswith(f"'{bad}' is not a modifier (two letters or digits, such as KD or 59)")
            assert checked[1]["reasons"].endswith(f"'{bad}' is not a modifier (two letters or digits, such as KD or 59)")


def test_a_json_modifier_holding_two_is_refused_not_read_as_one_unknown_modifier():
    from cptkg import pipeline
    from cptkg.claims.models import InputError
    from cptkg.knowledge.loader import default_kb

    line = {"line": 1, "code": "J0475", "date_of_service": "2025-03-04", "provider_id": "D1",
            "provider_role": "physician", "modifiers": ["KD,JW"]}
    (got,) = pipeline.parse(default_kb(), [{"claim_id": "M", "patient_id": "P", "lines": [line]}])
    assert isinstance(got, InputError)
    assert str(got).endswith("field modifiers[0]: 'KD,JW' is not a modifier (two letters or digits, such as KD or 59)")
    (ok,) = pipeline.parse(default_kb(), [{"claim_id": "M", "patient_id": "P", "lines": [dict(line, modifiers=[" kd "])]}])
    assert ok.lines[0].modifiers == ["KD"]


@pytest.mark.parametrize("line, units, ok", [
    ("1.0", "2.0", True),      # as spreadsheets write numbers, and as SV104 "2.000" and FHIR 2.0 are read
    ("1", "2.000", True),
    ("1", "0.0", False),       # a whole number below 1: "must be at least 1, got 0"
    ("1", "1.5", False),
    ("1", "1.", False),
    ("0.00", "1", False),
])
def test_a_whole_number_written_with_a_fraction_of_zeros_is_that_number(kb, tmp_path, line, units, ok):
    body = f"A,P1,{line},J0475,2025-03-04,D1,physician,{units},KD\n"
    rows = _batch(kb, tmp_path, body)
    checked = _check(tmp_path)
    assert _verdicts(rows) == _verdicts(checked)
    if ok:
        assert rows[0]["status"] != "error" and rows[0]["line"] == "1"
    else:
        assert rows[0]["status"] == "error"
        tail = rows[0]["error"].split(": ", 1)[1]
        assert checked[0]["reasons"].endswith(tail)  # the same words, whole numbers shown as such
        if units == "0.0" or line == "0.00":
            assert tail.endswith("must be at least 1, got 0")


@pytest.mark.parametrize("columns, named, meant", [
    ("units,modifier", "modifier", "modifiers"),
    ("units,modifier1,modifier2", "modifier1", "modifiers"),
    ("units,Modifier 1", "Modifier 1", "modifiers"),  # named as the file writes it, not as it is matched
    ("unit,modifiers", "unit", "units"),
    # other names exports and the CMS-1500 (24D modifiers by position, 24G days or units) give them
    ("units,mod1,mod2", "mod1", "modifiers"),
    ("units,Mod 1,Mod 2", "Mod 1", "modifiers"),
    ("units,M1,M2", "M1", "modifiers"),
    ("units,CPT Modifier", "CPT Modifier", "modifiers"),
    ("units,Modifier Code 1", "Modifier Code 1", "modifiers"),
    ("Units Billed,modifiers", "Units Billed", "units"),
    ("Qty,modifiers", "Qty", "units"),
    ("Days or Units,modifiers", "Days or Units", "units"),
    ("Service Units,modifiers", "Service Units", "units"),
])
def test_a_near_miss_of_a_column_it_reads_is_refused_not_read_as_no_value(kb, tmp_path, columns, named, meant):
    # read as absent, 'modifier' made the drug line's KD none, and the line was denied for lacking it
    header = "claim_id,patient_id,line,code,date_of_service,provider_id,provider_role," + columns + "\n"
    values = ",".join(["2", "KD"] + [""] * (columns.count(",") - 1))
    with pytest.raises(batch.BatchInputError) as e:
        _batch(kb, tmp_path, f"X,P1,1,J0475,2025-03-04,D1,physician,{values}\n", header=header)
    words = f"header: column {named!r} is not a column cptkg reads; did you mean {meant!r}"
    assert words in str(e.value)
    res = CliRunner().invoke(main, ["check", str(tmp_path / "in.csv"), "--output", "csv"])
    assert res.exit_code == 2 and words in res.stderr


def test_columns_it_does_not_read_and_resemble_none_it_lacks_are_left_alone(kb, tmp_path):
    header = HEADER.rstrip("\n") + ",patient_name,charge,unit_price,modified_by,line_note,route_code\n"
    body = "X,P1,1,62370,2025-03-04,D1,physician,1,,Doe,100,12.5,jd,n,IT\n"
    rows = _batch(kb, tmp_path, body, header=header)
    assert [r["status"] for r in rows] == ["accepted"] and _verdicts(rows) == _verdicts(_check(tmp_path))


@pytest.mark.parametrize("column, named", [
    ("provider", "provider"),
    # another name for it: read as absent, every provider-scoped edit against the history was only warned of
    ("Rendering NPI", "Rendering NPI"),
    ("NPI", "NPI"),
])
def test_a_near_miss_in_the_history_header_is_refused_in_check_and_batch(kb, tmp_path, column, named):
    (tmp_path / "h.csv").write_text(f"patient_id,code,date_of_service,{column}\nP1,62362,2024-01-05,D1\n")
    src = tmp_path / "in.csv"
    src.write_text(HEADER + "X,P1,1,62370,2025-03-04,D1,physician,1,\n")
    words = f"header: column '{named}' is not a column cptkg reads; did you mean 'provider_id'"
    with pytest.raises(batch.BatchInputError, match=words):
        batch.run_batch(src, tmp_path / "out.csv", tmp_path / "h.csv", kb=kb)
    res = CliRunner().invoke(main, ["check", str(src), "--history", str(tmp_path / "h.csv"), "--output", "csv"])
    assert res.exit_code == 2 and words in res.stderr


@pytest.mark.parametrize("text, words", [
    ("sep=,\n" + HEADER, "line 1 is Excel's 'sep=' line, not the header: remove that line"),
    ("\ufeffsep=;\n" + HEADER.replace(",", ";"), "line 1 is Excel's 'sep=' line, not the header: remove that line"),
    (HEADER.replace(",", ";"), "the header is separated by semicolons, not commas: save the file as CSV with commas"),
    (HEADER.replace(",", "\t"), "the header is separated by tabs or spaces, not commas"),
])
def test_a_semicolon_csv_or_excels_sep_line_is_named_not_only_its_missing_columns(kb, tmp_path, text, words):
    sep = ";" if ";" in text.splitlines()[-1] else "\t" if "\t" in text else ","
    src = tmp_path / "in.csv"
    src.write_text(text + sep.join(["X", "P1", "1", "62370", "2025-03-04", "D1", "physician", "1", ""]) + "\n")
    with pytest.raises(batch.BatchInputError) as e:
        batch.run_batch(src, tmp_path / "out.csv", kb=kb)
    assert "missing column(s)" in str(e.value) and words in str(e.value)
    res = CliRunner().invoke(main, ["check", str(src), "--output", "csv"])
    assert res.exit_code == 2 and words in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("encoding, words", [
    ("cp1252", "not UTF-8 text: byte {at} (0xE9), row 2, field provider_id; a name or address saved in another "
               "character set (an accented letter?) is the usual cause: save it as UTF-8"),
    ("utf-16", "the file is UTF-16 text (a spreadsheet's 'Unicode Text'), not UTF-8; save it as UTF-8"),
])
def test_a_csv_not_in_utf8_is_refused_naming_the_byte_row_and_field_not_a_codec(kb, tmp_path, encoding, words):
    text = HEADER + "A,P1,1,62370,2025-03-04,D1,physician,1,\nA,P1,2,62370,2025-03-05,Dr José,physician,1,\n"
    src = tmp_path / "in.csv"
    src.write_bytes(text.encode(encoding))
    words = words.format(at=text.encode("utf-8").index("é".encode("utf-8")))
    with pytest.raises(batch.BatchInputError) as e:
        batch.run_batch(src, tmp_path / "out.csv", kb=kb)
    assert str(e.value) == f"{src}: {words} (a CSV from Excel: Save As, 'CSV UTF-8 (Comma delimited)')"
    res = CliRunner().invoke(main, ["check", str(src), "--output", "csv"])
    assert res.exit_code == 2 and res.stderr.strip() == f"cptkg: {e.value}"
    assert "codec" not in str(e.value) and "Traceback" not in res.output


def test_column_names_as_exports_write_them_are_the_columns_they_name(kb, tmp_path):
    # "Claim ID", "Date of Service", "Provider-Role": case, spaces and hyphens between words aside
    header = "Claim ID,Patient ID,Line,CODE,Date of Service, Provider ID ,Provider-Role,Units,Modifiers\n"
    body = "A,P1,1,62367,2025-03-04,D1,physician,1,\nA,P1,2,95990,2025-03-04,D1,physician,1,\n"
    rows = _batch(kb, tmp_path, body, header=header)
    assert [r["rules"] for r in rows] == ["exclusion.component", ""]
    assert _verdicts(rows) == _verdicts(_check(tmp_path))
    table = pa.table({"Claim ID": ["A", "A"], "Patient ID": ["P1", "P1"], "Line": [1, 2], "Code": ["62367", "95990"],
                      "Date of Service": ["2025-03-04"] * 2, "Provider ID": ["D1"] * 2,
                      "Provider Role": ["physician"] * 2})
    pq.write_table(table, tmp_path / "in.parquet")
    batch.run_batch(tmp_path / "in.parquet", tmp_path / "p.csv", kb=kb)
    assert [r["rules"] for r in csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8"))] == ["exclusion.component", ""]


@pytest.mark.parametrize("rows, bad", [
    # (the claim's rows, the row in error): each field's problem as check's CSV reader words it
    (["A,P1,0,62367,2025-03-04,D1,physician,1,"], 0),                      # line 0: named as given
    (["A,P1,2,62367,2025-02-30,D1,physician,1,"], 0),                      # no such day
    (["A,P1,3,62367,2025-03-04,D1,janitor,1,"], 0),                        # a role the pack has not
    (["A,P1,1,62367,2025-03-04,D1,physician,0,"], 0),                      # units below 1
    (["A,P1,1,62367,2025-03-04,D1,physician,x,"], 0),                      # units not a number
    (["A,P1,1,62367,2025-03-04,D1,physician,-1,"], 0),                     # a negative whole number: below 1
    (["A,P1,1,62367,2025-03-04,D1,physician,+2,"], 0),                     # a sign: write the number alone
    (["A,P1,1,62367,2025-03-04,D1,physician,99999999999999999999,"], 0),   # twenty digits: over the most
    (["A,P1,99999999999,62367,2025-03-04,D1,physician,1,"], 0),            # a line number over the most
    (["A,P1,x,62367,2025-03-04,D1,physician,1,"], 0),                      # line not a number: no line
    (["A,P1,-3,62367,2025-03-04,D1,physician,1,"], 0),                     # a negative line number
    (["A,P1,1,62367,2025-03-04,D1,physician,1,59;ZZZ"], 0),                # the second modifier
    (['A,P1,1,62367,2025-03-04,D1,physician,1,"KD, ABCDEFGHIJKLM"'], 0),   # a modifier too long
    (["A,P1,1,62367,2025-03-04,D1,physician,1," + ";".join(["59"] * 11)], 0),
    (["A,P1,1,62367,2025-03-04," + "N" * 201 + ",physician,1,"], 0),
    (["A,P1,1,62367,2025-03-04,,physician,1,"], 0),                        # missing: no line
    (['"A\nB",P1,1,62367,2025-03-04,D1,physician,1,'], 0),                 # a line break inside an id
    (["A,P\x0b1,1,62367,2025-03-04,D1,physician,1,"], 0),                  # a vertical tab inside an id
    (["A,P1,4,62367,2025-03-04,D\x7f1,physician,1,"], 0),                  # DEL inside a provider id
    (["A,P1,1,62367,2025-03-04,D1,physician,1,", "A,P1,1,95990,2025-03-04,D1,physician,1,"], 1),
    (["A,P1,1,62367,2025-03-04,D1,physician,1,", "A,P2,2,95990,2025-03-04,D1,physician,1,"], 1),
])
def test_check_and_batch_give_a_bad_row_the_same_words(kb, tmp_path, rows, bad):
    """The same bad row had other words in each command: batch left out the line a field belongs to and the
    modifier's place in its cell, and gave a repeated line number to both rows without naming the first
    (audits of issue 27's stops). Now the row in error reads alike in both; the claim's other rows name it."""
    got = _batch(kb, tmp_path, "".join(r + "\n" for r in rows))
    checked = _check(tmp_path)
    assert [r["status"] for r in got] == ["error"] * len(rows) == [r["status"] for r in checked]
    assert got[bad]["error"] == checked[bad]["reasons"] and got[bad]["error"].startswith(f"row {bad + 1}, ")
    for i in set(range(len(rows))) - {bad}:
        assert got[i]["error"] == f"row {i + 1}, claim A: claim not judged because row {bad + 1} has an error"


def test_a_history_provider_holding_a_control_or_invisible_character_is_refused_as_checks_is(kb, tmp_path):
    """check refused a history row's provider id holding a zero-width space (the claim's patient's history
    cannot be read) and batch read it as another provider: both now refuse it, and a line break too."""
    body = "A,P1,1,62367,2025-03-04,D1,physician,1,\nB,P2,1,62367,2025-03-04,D1,physician,1,\n"
    got = _batch(kb, tmp_path, body, history='P1,62362,2024-01-05,D\u200b1\nP2,62362,2024-01-05,"D\n1"\n')
    checked = _check(tmp_path)
    assert [r["status"] for r in got] == ["error", "error"] == [r["status"] for r in checked]
    assert "history row 1, field provider_id: holds a character that shows as nothing" in got[0]["error"]
    assert "history row 2, field provider_id: holds a line break, tab or other control character" in got[1]["error"]
    assert "shows as nothing" in checked[0]["reasons"] and "control character" in checked[1]["reasons"]


@pytest.mark.parametrize("row, words, whose", [
    ("P1,95990\u200b,2025-03-04,D1", "history row 1, field code: holds a character that shows as nothing", "patient"),
    ("P1,\uff19\uff15\uff19\uff19\uff10,2025-03-04,D1", "history row 1, field code: '\uff19\uff15\uff19\uff19\uff10' is not a CPT code", "patient"),
    ("P1,9599,2025-03-04,D1", "history row 1, field code: '9599' is not a CPT code", "patient"),
    ('"P\n1",95990,2025-03-04,D1', "history row 1, field patient_id: holds a line break", "file"),
    ("P\u200b1,95990,2025-03-04,D1", "history row 1, field patient_id: holds a character that shows as nothing", "file"),
])
def test_a_history_row_no_claim_can_read_is_refused_not_dropped(kb, tmp_path, row, words, whose):
    """A history row whose code was not written as a code, or whose patient id held a line break or a
    character that shows as nothing, matched nothing and was dropped without a word: the refill billed the
    same day no longer denied 62367 (exit 0; an inputs audit). The row is refused in both commands: its
    patient's claims are not judged, and a patient id no claim can match could be anyone's (every claim)."""
    body = "A,P1,1,62367,2025-03-04,D1,physician,1,\nB,P2,1,62367,2025-03-04,D1,physician,1,\n"
    got = _batch(kb, tmp_path, body, history=row + "\n")
    checked = _check(tmp_path)
    said = "the patient's history cannot be read" if whose == "patient" else "the history file cannot be read"
    statuses = ["error", "accepted"] if whose == "patient" else ["error", "error"]
    assert [r["status"] for r in got] == statuses == [r["status"] for r in checked]
    assert said in got[0]["error"] and words in got[0]["error"] and got[0]["error"] in checked[0]["reasons"]
    # typed cleanly, the same row denies the line
    _batch(kb, tmp_path, body, history="P1,95990,2025-03-04,D1\n")
    assert [r["status"] for r in _check(tmp_path)] == ["rejected", "accepted"]


def test_a_history_file_with_a_row_of_no_patient_and_a_patients_bad_row_is_told_in_checks_words(kb, tmp_path):
    """A batch audit: with a history row naming no patient and a bad row of patient P1, check said of every claim
    "the history file cannot be read (history row 2 ...)" while batch said P1's claim was stopped by its own row."""
    body = "A,P1,1,62367,2025-03-04,D1,physician,1,\nB,P2,1,62367,2025-03-04,D1,physician,1,\n"
    got = _batch(kb, tmp_path, body, history="P1,95990,2025-02-30,D1\n,95990,2025-03-04,D1\n")
    checked = _check(tmp_path)
    assert [r["status"] for r in got] == ["error", "error"] == [r["status"] for r in checked]
    for g, c in zip(got, checked):
        assert "the history file cannot be read (history row 2, field patient_id: is missing)" in g["error"]
        assert g["error"] in c["reasons"], (g, c)


def test_a_claim_jsons_history_entry_not_written_as_a_code_refuses_the_claim():
    from cptkg.claims.models import InputError, parse_claim

    line = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1",
            "provider_role": "physician"}
    with pytest.raises(InputError, match=r"claim A, history entry 1, field code: '９５９９０' is not a CPT code"):
        parse_claim({"claim_id": "A", "patient_id": "P1", "lines": [line],
                     "history": [{"code": "９５９９０", "date_of_service": "2025-03-04"}]})
    ok = parse_claim({"claim_id": "A", "patient_id": "P1", "lines": [line],
                      "history": [{"code": " j0475 ", "date_of_service": "2025-03-04"}]})
    assert ok.history[0].code == "J0475"


@pytest.mark.parametrize("last, field", [
    ('B,P2,1,95991,2025-07-01,"N3,nurse_practitioner,1,\n', "provider_id"),  # the row's rest read into it
    ('B,P2,1,95991,2025-07-01,N3,nurse_practitioner,1,"KD\n', "modifiers"),  # read as modifier KD
    ('B,P2,1,95991,2025-07-01,N3,nurse_practitioner,1,"KD', "modifiers"),    # no line break at the end
    ('B,P2,1,95991,2025-07-01,N3,nurse_practitioner,1,"KD,59"\n', None),     # closed: two modifiers
    ('B,P2,1,95991,2025-07-01,N3,nurse_practitioner,1,\n\n\n', None),
    ('B,P2,1,95991,2025-07-01,N3,nurse_practitioner,"1",\n', None),
])
def test_a_quote_never_closed_on_the_last_row_is_that_rows_error_in_check_and_batch(kb, tmp_path, last, field):
    """On the last row a quote never closed reads the rest of the file into its value with no later row to
    show it: the row was refused for "provider_role: is missing" (filled in the file), or ``"KD`` read as
    modifier KD (inputs audits). The row's claim is an error naming the field the quote opened in, in both
    commands and both engines; a last row whose quotes close is read as before."""
    body = "A,P1,1,62367,2025-03-04,N1,physician,1,\n" + last
    got = _batch(kb, tmp_path, body)
    checked = _check(tmp_path)
    if field is None:
        assert [r["status"] for r in got] == ["accepted", "accepted"] == [r["status"] for r in checked]
        return
    words = (f"row 2, claim B: a quote opened in field {field} is never closed, so the rest of the file was read "
             f"into that value: close the quote")
    assert [r["status"] for r in got] == ["accepted", "error"] == [r["status"] for r in checked]
    assert got[1]["error"] == words == checked[1]["reasons"]


@pytest.mark.parametrize("header, words", [
    ("Claim ID,Patient ID,Line,CPT Code,Date of Service,Provider ID,Provider Role,Units,Modifiers",
     "rename the file's column 'CPT Code' to 'code'"),
    ("Claim No,Patient,Line #,Proc Code,DOS,NPI,Role",
     "rename the file's columns 'Claim No' to 'claim_id', 'Patient' to 'patient_id', 'Line #' to 'line', "
     "'Proc Code' to 'code', 'DOS' to 'date_of_service', 'NPI' to 'provider_id', 'Role' to 'provider_role'"),
    ("patient_id,code,date_of_service,provider_id",
     "the file has the columns of a history file (patient_id, code, date_of_service); give it with --history"),
])
def test_a_claim_csv_whose_header_names_columns_otherwise_says_what_to_rename_in_check_and_batch(tmp_path, header,
                                                                                                words):
    """check called a claim CSV headed 'CPT Code' "not a claim file cptkg can read" while batch named the
    missing column (an inputs audit): both now read a header naming most claim columns as a claim CSV and
    say which of its columns to rename, or that it is a history file."""
    src = tmp_path / "in.csv"
    src.write_text(header + "\nC1,P1,1,62367,2025-03-04,D1,physician,1,\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(src)])
    assert r.exit_code == 2 and "missing column" in r.stderr and words in r.stderr, r.stderr
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "missing column" in r.stderr and words in r.stderr, r.stderr


@pytest.mark.parametrize("text, words", [
    ("-1", "must be at least 1, got -1"),
    ("-2.0", "must be at least 1, got -2.0"),
    ("+2", "'+2' is written with a sign: write the number alone"),
    ("12345678901", "must be at most 10000, got 12345678901"),
    ("1e0", "'1e0' is not a whole number"),
    ("1.5", "'1.5' is not a whole number"),
])
def test_a_whole_number_a_field_does_not_take_is_named_for_what_it_is(text, words):
    """'-1', '+2' and twenty digits were each 'not a whole number' (an audit): whole numbers all three."""
    from cptkg.claims.models import MAX_UNITS, whole_text_problem

    assert whole_text_problem(text, MAX_UNITS) == words
