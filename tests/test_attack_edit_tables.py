"""Issue 21, findings 4, 5, 6 and 14: edit tables and edit files read with bounds.

``cptkg edits import`` (cptkg.knowledge.edits.cms_import, its workbook module) checks a workbook's parts before
python-calamine reads it and reads it in a bounded child; every cell is held
to a length, codes and numbers to ASCII patterns and ranges; what it writes is
checked with the loader's own rules. ``--edits`` (cptkg.knowledge.edits.files)
refuses hostile values in one line naming the file, the edit and the value.
Every hostile file is built here, small on disk.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg import limits
from cptkg.faces.cli import main
from cptkg.knowledge.edits import workbook as xlsx_reader
from cptkg.knowledge.edits.cms_import import EditTableError, import_table, turtle_string

ROOT = Path(__file__).resolve().parents[1]
EDITS = ROOT / "tests" / "data" / "edits"
PACK = ROOT / "kb" / "pump"
DAY = dt.date(2025, 3, 1)
MUE_HEADER = "HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale\n"
PTP_HEADER = ("Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
              "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n")
MUE_ROW = "62367\t1\t2 Date of Service Edit: Policy\tAnatomic Consideration\n"
PTP_ROW = "62367\t62368\t\t20250101\t*\t1\tStandards of medical / surgical practice\n"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(d))
    return d


def cli(*args, timeout: float = 20.0) -> subprocess.CompletedProcess:
    """The real command in its own process: a Rust abort or a runaway allocation cannot take pytest with it."""
    code = "from cptkg.faces.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def one_line_refusal(result, *words: str) -> str:
    """Exit 2 and one line on stderr, no traceback, naming ``words``."""
    err = result.stderr if isinstance(result, subprocess.CompletedProcess) else result.output
    code = result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code
    assert code == 2, (code, err[-2000:])
    assert "Traceback" not in err and "panicked" not in err and "memory allocation" not in err, err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines[:5]
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert len(lines[0]) < 600, lines[0][:600]
    return lines[0]


# --------------------------------------------------------------------------- workbooks built by hand

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
       '+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
       'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
       'spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
       '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
       'name="MUE" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>')
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def sheet_xml(cells: list[tuple[str, str]], dimension: str | None = None) -> str:
    rows: dict[int, list] = {}
    for ref, value in cells:
        rows.setdefault(int(re.search(r"[0-9]+", ref).group()), []).append(_cell(ref, value))
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}<sheetData>{body}</sheetData></worksheet>'


MUE_CELLS = [("A1", "HCPCS/CPT Code"), ("B1", "Practitioner Services MUE Values"),
             ("C1", "MUE Adjudication Indicator"), ("D1", "MUE Rationale"),
             ("A2", "62367"), ("B2", "1"), ("C2", "2 Date of Service Edit: Policy"), ("D2", "Anatomic Consideration")]


def workbook(path: Path, sheet: str | bytes, shared: str | bytes | None = None, extra=()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", shared)
        for name, data in extra:
            z.writestr(name, data)
    return path


def deflate_bomb(unpacked: int, filler: bytes = b" ") -> bytes:
    """A raw deflate stream of ``unpacked`` bytes of ``filler``, made in milliseconds: one
    fully flushed block of 16 MiB repeated (each compresses alike), then an empty final block."""
    block_size = 16 * 1024 * 1024
    assert unpacked % block_size == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(filler * block_size) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    return block * (unpacked // block_size) + end.compress(b"") + end.flush()


def raw_workbook(path: Path, member: str, stream: bytes, declared: int, crc: int) -> Path:
    """The workbook of MUE_CELLS plus the part ``member``: the raw deflate ``stream``, with the size
    ``declared`` and the checksum ``crc`` in the zip's headers (zipfile cannot write a raw stream, so
    the archive is laid out here: local headers, data, central directory, end record)."""
    parts = [("[Content_Types].xml", _CT), ("_rels/.rels", _RELS), ("xl/workbook.xml", _WB),
             ("xl/_rels/workbook.xml.rels", _WB_RELS), ("xl/worksheets/sheet1.xml", sheet_xml(MUE_CELLS))]
    entries = []
    for name, text in parts:
        data = text.encode()
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        entries.append((name, c.compress(data) + c.flush(), len(data), zlib.crc32(data)))
    entries.append((member, stream, declared, crc))
    out, central = bytearray(), bytearray()
    for name, comp, size, c32 in entries:
        nb = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, c32, len(comp), size, len(nb), 0) + nb + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, c32, len(comp), size,
                               len(nb), 0, 0, 0, 0, 0, offset) + nb
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


# --------------------------------------------------------------------------- finding 4: workbooks

def test_an_xlsx_with_cells_at_a1_and_xfd1048576_is_refused_in_one_line_not_an_abort(tmp_path):
    """The issue's 1.6 KB workbook: calamine asked for 549 GB and the process aborted (exit 134)."""
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml([("A1", "HCPCS/CPT Code"), ("XFD1048576", "x")]))
    assert xlsx.stat().st_size < 2000
    started = time.monotonic()
    r = cli("edits", "import", "mue", xlsx, "-o", tmp_path / "out.ttl")
    line = one_line_refusal(r, str(xlsx), "1,048,576", "XFD")
    assert "nothing written" in line and not (tmp_path / "out.ttl").exists()
    assert time.monotonic() - started < 15


def test_an_xlsx_spreading_two_cells_to_zz200000_is_refused_fast_not_read(tmp_path):
    """The issue's second workbook took 4.4 GB and 19 s before its header was even looked for."""
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml([("A1", "HCPCS/CPT Code"), ("ZZ200000", "x")]))
    started = time.monotonic()
    r = cli("edits", "import", "mue", xlsx, "-o", tmp_path / "out.ttl", timeout=15)
    one_line_refusal(r, "200,000", "ZZ", f"{limits.MAX_SHEET_CELLS:,}")
    assert time.monotonic() - started < 10


def test_an_xlsx_claiming_a_million_rows_is_refused_before_loading(tmp_path, monkeypatch):
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS, dimension="A1:XFD1048576"))

    def never(*a, **k):
        raise AssertionError("calamine was asked to read a workbook the checks refuse")

    monkeypatch.setattr(xlsx_reader, "_read_sheet", never)
    with pytest.raises(EditTableError, match=r"1,048,576 rows .*16,384 columns") as e:
        import_table("mue", xlsx, tmp_path / "out.ttl")
    assert "\n" not in str(e.value)


def test_a_used_range_past_the_cell_limit_is_refused_by_the_reader_before_its_cells_become_rows(tmp_path, monkeypatch):
    """No <dimension> to say so: calamine's own used range, checked in the child."""
    monkeypatch.setattr(limits, "MAX_SHEET_CELLS", 100)
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS + [("Z10", "x")]))
    with pytest.raises(EditTableError, match=r"spans 10 rows by 26 columns \(A1 to Z10: 260 cells\); at most 100"):
        import_table("mue", xlsx, tmp_path / "out.ttl")


def test_a_shared_strings_part_claiming_ten_to_the_fourteen_strings_is_refused_not_an_abort(tmp_path):
    """calamine reserves the claimed uniqueCount up front: a 1.7 KB file aborted the process."""
    sst = (f'<?xml version="1.0"?><sst {_NS} count="1" uniqueCount="99999999999999"><si><t>a</t></si></sst>')
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS), shared=sst)
    r = cli("edits", "import", "mue", xlsx, "-o", tmp_path / "out.ttl")
    one_line_refusal(r, "99,999,999,999,999", f"{limits.MAX_SHARED_STRINGS:,}")


def test_a_shared_strings_part_holding_too_many_strings_is_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_SHARED_STRINGS", 1000)
    sst = f'<?xml version="1.0"?><sst {_NS}>' + "<si><t/></si>" * 1001 + "</sst>"
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS), shared=sst)
    monkeypatch.setattr(xlsx_reader, "_read_sheet", lambda *a: pytest.fail("read past the checks"))
    with pytest.raises(EditTableError, match="holds more than 1,000 shared texts"):
        import_table("mue", xlsx, tmp_path / "out.ttl")


def test_a_zip_bomb_part_is_refused_from_its_declared_size_without_unpacking(tmp_path):
    bomb = deflate_bomb(1024 ** 3 + 16 * 1024 * 1024)
    xlsx = raw_workbook(tmp_path / "mue.xlsx", "xl/sharedStrings.xml", bomb, 1024 ** 3 + 16 * 1024 * 1024, 0)
    assert xlsx.stat().st_size < 2_000_000
    started = time.monotonic()
    with pytest.raises(EditTableError, match="unpacks to 1,090,519,040 bytes; at most 1,073,741,824"):
        import_table("mue", xlsx, tmp_path / "out.ttl")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("member", ["xl/styles.xml", "xl/worksheets/sheet1.xml"])
def test_a_zip_bomb_part_whose_headers_understate_its_size_is_refused_in_a_second(tmp_path, member):
    """The zip says 10 bytes (and the checksum of 10 bytes); the stream unpacks to 1 GiB. zipfile and
    calamine's Rust zip reader both stop at the declared size: calamine refuses the part at once."""
    bomb = deflate_bomb(1024 ** 3)
    xlsx = raw_workbook(tmp_path / "mue.xlsx", member, bomb, 10, zlib.crc32(b" " * 10))
    assert xlsx.stat().st_size < 2_000_000
    started = time.monotonic()
    with pytest.raises(EditTableError, match="not a readable Excel workbook"):
        import_table("mue", xlsx, tmp_path / "out.ttl")
    assert time.monotonic() - started < 1


def test_a_workbook_of_too_many_parts_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_XLSX_PARTS", 20)
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS), extra=[(f"xl/x{i}.xml", "<a/>") for i in range(20)])
    with pytest.raises(EditTableError, match="has 25 parts; an Excel workbook has at most 20"):
        import_table("mue", xlsx, tmp_path / "out.ttl")


def test_a_workbook_that_needs_more_memory_than_its_limit_is_stopped_in_one_line(tmp_path, monkeypatch):
    """The backstop: calamine reads in a child with a memory limit; what the checks did not foresee stops there."""
    monkeypatch.setattr(limits, "XLSX_READ_MEMORY_BYTES", 8 * 1024 * 1024)
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS + [("Z300000", "x")]))  # 7.8 M cells, 250 MB
    with pytest.raises(EditTableError, match="needed more than 8 MiB of memory") as e:
        import_table("mue", xlsx, tmp_path / "out.ttl")
    assert "nothing written" in str(e.value)


def test_a_good_workbook_is_still_read_through_the_bounded_reader(tmp_path):
    xlsx = workbook(tmp_path / "mue.xlsx", sheet_xml(MUE_CELLS, dimension="A1:D2"))
    result = import_table("mue", xlsx, tmp_path / "out.ttl", imported=DAY)
    assert result.edits == 1 and result.rows == 1


def test_an_xlsx_cell_longer_than_excel_holds_is_refused_in_the_reader_not_sent_back(tmp_path):
    """A shared text of 40,000 characters (Excel holds 32,767): named by its cell, never handed to the rows."""
    sst = f'<?xml version="1.0"?><sst {_NS} uniqueCount="1"><si><t>{"x" * 40_000}</t></si></sst>'
    xml = sheet_xml(MUE_CELLS).replace('<c r="D2" t="inlineStr"><is><t>Anatomic Consideration</t></is></c>',
                                       '<c r="D2" t="s"><v>0</v></c>')
    xlsx = workbook(tmp_path / "mue.xlsx", xml, shared=sst)
    with pytest.raises(EditTableError, match="cell D2 holds 40,000 characters; an Excel cell holds at most 32,767"):
        import_table("mue", xlsx, tmp_path / "out.ttl")


def test_an_excel_number_over_the_mue_range_is_a_bad_row(tmp_path):
    cells = MUE_CELLS[:5] + [("B2", "1e300")] + MUE_CELLS[6:]
    xml = sheet_xml(cells).replace('<c r="B2" t="inlineStr"><is><t>1e300</t></is></c>', '<c r="B2"><v>1e300</v></c>')
    xlsx = workbook(tmp_path / "mue.xlsx", xml)
    with pytest.raises(EditTableError) as e:
        import_table("mue", xlsx, tmp_path / "out.ttl")
    assert "row 2, column Practitioner Services MUE Values" in e.value.problems[0] and f"{limits.MAX_MUE_UNITS:,}" in e.value.problems[0]


# --------------------------------------------------------------------------- findings 6 and 14: text tables

def mue_file(tmp_path: Path, row: str, name: str = "mue.txt") -> Path:
    p = tmp_path / name
    p.write_text(MUE_HEADER + row, encoding="utf-8")
    return p


def test_a_twenty_digit_mue_value_is_a_bad_row_and_nothing_is_written(tmp_path):
    """It wrote the Turtle, then raised OverflowError caching the table (exit 1)."""
    src = mue_file(tmp_path, "62367\t12345678901234567890\t2 Date of Service Edit: Policy\tx\n")
    out = tmp_path / "out.ttl"
    r = cli("edits", "import", "mue", src, "-o", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "row 2, column Practitioner Services MUE Values: '12345678901234567890' is more units than an MUE holds (at most 999,999,999)" \
        in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("value", ["999999999", "0", "000000000000007"])
def test_mue_values_in_range_are_imported_and_load_without_the_cache(tmp_path, cache, value):
    src = mue_file(tmp_path, f"62367\t{value}\t2 Date of Service Edit: Policy\tx\n")
    out = tmp_path / "out.ttl"
    import_table("mue", src, out, imported=DAY)
    shutil.rmtree(cache)
    from cptkg.knowledge.loader import load_kb

    (table,) = load_kb(PACK, edits=[out]).edit_tables
    assert table.columns["unit_edit_max"] == [int(value)]


def test_a_rationale_over_the_limit_is_a_bad_row_not_a_file_the_loader_refuses(tmp_path):
    """A 17 MiB rationale imported with exit 0 and then broke --edits on any machine without the cache."""
    n = limits.MAX_EDIT_TEXT_CHARS + 1
    src = mue_file(tmp_path, "62367\t1\t2 Date of Service Edit: Policy\t" + "a" * n + "\n")
    with pytest.raises(EditTableError) as e:
        import_table("mue", src, tmp_path / "out.ttl")
    (problem,) = e.value.problems
    assert problem.startswith(f"row 2, column MUE Rationale: is {n:,} characters long; a cell of an edit table "
                              f"holds at most {limits.MAX_EDIT_TEXT_CHARS:,}")
    assert len(problem) < 300 and not (tmp_path / "out.ttl").exists()


def test_a_rationale_at_the_limit_is_imported_and_loads_without_the_cache(tmp_path, cache):
    text = '"\\' * (limits.MAX_EDIT_TEXT_CHARS // 2)
    src = mue_file(tmp_path, f"62367\t1\t2 Date of Service Edit: Policy\t{text}\n")
    out = tmp_path / "out.ttl"
    import_table("mue", src, out, imported=DAY)
    shutil.rmtree(cache)
    from cptkg.knowledge.loader import load_kb

    (table,) = load_kb(PACK, edits=[out]).edit_tables
    assert table.columns["edit_rationale"] == [text]


ARABIC = "٦٢٣٦٧"  # 62367 in Arabic-Indic digits: str.isdigit and \d say yes


@pytest.mark.parametrize("row, column", [
    (f"{ARABIC}\t1\t2 Date of Service Edit: Policy\tx\n", "HCPCS/CPT Code"),
    ("62367\t٣\t2 Date of Service Edit: Policy\tx\n", "Practitioner Services MUE Values"),
    ("62367\t²\t2 Date of Service Edit: Policy\tx\n", "Practitioner Services MUE Values"),
    ("62367\t1\t٢ Date of Service Edit: Policy\tx\n", "MUE Adjudication Indicator"),
    ("J٠٤٧٥\t1\t2 Date of Service Edit: Policy\tx\n", "HCPCS/CPT Code"),
])
def test_non_ascii_digits_are_not_numbers_or_codes_in_an_mue_table(tmp_path, row, column):
    """The importer took ٦٢٣٦٧ as a code (\\d matches it); the loader refused the file it wrote."""
    src = mue_file(tmp_path, row)
    with pytest.raises(EditTableError) as e:
        import_table("mue", src, tmp_path / "out.ttl")
    assert e.value.problems[0].startswith(f"row 2, column {column}:"), e.value.problems


@pytest.mark.parametrize("cells, column", [
    ((ARABIC, "62368", "", "20250101", "*", "1"), "Column 1"),
    (("62367", "٦٢٣٦٨", "", "20250101", "*", "1"), "Column 2"),
    (("62367", "62368", "", "٢٠٢٥٠١٠١", "*", "1"), "Effective Date"),
    (("62367", "62368", "", "20250101", "٢٠٢٥١٢٣١", "1"), "Deletion Date"),
    (("62367", "62368", "", "20250101", "*", "١"), "Modifier"),
    (("62367", "62368", "", "20250101", "*", "1" * 2000), "Modifier"),
])
def test_non_ascii_digits_and_oversized_cells_are_bad_rows_in_a_ptp_table(tmp_path, cells, column):
    src = tmp_path / "ptp.txt"
    src.write_text(PTP_HEADER + "\t".join(cells) + "\tx\n", encoding="utf-8")
    with pytest.raises(EditTableError) as e:
        import_table("ptp", src, tmp_path / "out.ttl")
    assert e.value.problems[0].startswith(f"row 2, column {column}:"), e.value.problems
    assert len(e.value.problems[0]) < 300


def test_a_rationale_of_five_megabytes_of_quotes_is_refused_in_a_second(tmp_path):
    """Finding 14: 100 MB of '"' took 103 s and 1.3 GB (a Python call per escaped quote)."""
    src = mue_file(tmp_path, "62367\t1\t2 Date of Service Edit: Policy\t" + '"' * 5_000_000 + "\n")
    started = time.monotonic()
    r = CliRunner().invoke(main, ["edits", "import", "mue", str(src), "-o", str(tmp_path / "out.ttl")])
    assert time.monotonic() - started < 2
    assert r.exit_code == 2 and "row 2, column MUE Rationale: is 5,000,000 characters long" in r.output
    assert not (tmp_path / "out.ttl").exists()


def test_turtle_string_escapes_a_million_quotes_without_quadratic_time():
    # a bound far above a linear escape (about 0.1 s; 0.48 s under a loaded CI run, where 0.3 s failed) and far
    # below a quadratic one (minutes): a guard against the blow-up, not a speed target (those are benchmarks)
    started = time.monotonic()
    assert turtle_string('"' * 1_000_000) == '"' + '\\"' * 1_000_000 + '"'
    assert time.monotonic() - started < 10


def test_a_csv_field_past_the_csv_modules_limit_is_one_line_not_a_traceback(tmp_path):
    """csv raised `field larger than field limit (131072)` out of the importer (exit 1)."""
    src = tmp_path / "mue.csv"
    src.write_text(MUE_HEADER.replace("\t", ",") + '62367,1,2 Date of Service Edit: Policy,"' + '""' * 200_000 + '"\n')
    r = CliRunner().invoke(main, ["edits", "import", "mue", str(src), "-o", str(tmp_path / "out.ttl")])
    one_line_refusal(r, str(src), "line 2", f"at most {limits.MAX_EDIT_TEXT_CHARS:,}")


def test_an_edit_table_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EDIT_TABLE_BYTES", 100)
    src = mue_file(tmp_path, MUE_ROW * 3)
    with pytest.raises(EditTableError, match="over the limit of 100 bytes for an edit table to import"):
        import_table("mue", src, tmp_path / "out.ttl")


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_a_text_table_of_too_many_lines_is_refused_before_its_rows_are_read(tmp_path, monkeypatch, suffix):
    """32 MB of blank lines took 18 s (a Python step a line); 256 MB, minutes."""
    monkeypatch.setattr(limits, "MAX_EDIT_TABLE_LINES", 10)
    sep = "\t" if suffix == ".txt" else ","
    src = tmp_path / f"mue{suffix}"
    src.write_text((MUE_HEADER + MUE_ROW).replace("\t", sep) + "\n" * 20, encoding="utf-8")
    with pytest.raises(EditTableError, match="has 23 lines; an edit table to import has at most 10"):
        import_table("mue", src, tmp_path / "out.ttl")


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_a_line_of_too_many_cells_is_refused_before_it_is_split(tmp_path, monkeypatch, suffix):
    """32 MB of tabs on one line took 5 s and 607 MB (a list slot a cell)."""
    monkeypatch.setattr(limits, "MAX_EDIT_TABLE_COLUMNS", 10)
    sep = "\t" if suffix == ".txt" else ","
    src = tmp_path / f"mue{suffix}"
    src.write_text((MUE_HEADER + MUE_ROW).replace("\t", sep) + "62367" + sep * 10 + "\n", encoding="utf-8")
    with pytest.raises(EditTableError, match="line 3 has more than 10 cells"):
        import_table("mue", src, tmp_path / "out.ttl")


def test_a_long_header_cell_is_shortened_in_the_note(tmp_path):
    src = tmp_path / "mue.txt"
    src.write_text(MUE_HEADER.rstrip("\n") + "\t" + "N" * 50_000 + "\n" + MUE_ROW, encoding="utf-8")
    result = import_table("mue", src, tmp_path / "out.ttl", imported=DAY)
    assert all(len(n) < 200 for n in result.notices), [len(n) for n in result.notices]


def test_what_the_importer_writes_is_checked_with_the_loaders_rules_before_it_is_kept(tmp_path, monkeypatch):
    """The round trip: a value the row checks let through but the loader refuses fails the import."""
    from cptkg.knowledge.edits import files as edit_files

    monkeypatch.setattr(edit_files, "CODE_PATTERN", r"^[0-9]{4}X$")  # the loader, stricter than the importer
    src = mue_file(tmp_path, MUE_ROW)
    out = tmp_path / "out.ttl"
    with pytest.raises(EditTableError, match="the edits loader would refuse") as e:
        import_table("mue", src, out)
    assert "row 2" in e.value.problems[0] and "five-character code" in e.value.problems[0]
    assert not out.exists()


# --------------------------------------------------------------------------- finding 5: --edits values

def unit_edits(tmp_path: Path, old: str, new: str, name: str = "edits.ttl") -> Path:
    text = (EDITS / "synthetic-mue.ttl").read_text(encoding="utf-8")
    assert old in text, old
    p = tmp_path / name
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


HOSTILE_MAX_UNITS = {
    "plus minus five": '"+-5"^^xsd:integer',
    "a superscript two": '"²"^^xsd:integer',
    "Arabic-Indic digits": '"٣"^^xsd:integer',
    "23 digits": "12345678901234567890123",
    "19 digits": "1234567890123456789",
    "ten digits": "1234567890",
    "negative": "-1",
    "an empty integer": '""^^xsd:integer',
}


@pytest.mark.parametrize("what", sorted(HOSTILE_MAX_UNITS))
def test_a_hostile_max_units_is_one_line_naming_file_edit_and_value_in_check(tmp_path, what):
    value = HOSTILE_MAX_UNITS[what]
    bad = unit_edits(tmp_path, "ont:maxUnits 2 ;", f"ont:maxUnits {value} ;")
    r = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "claim-pair.json"), "--edits", str(bad)])
    shown = value.split('"')[1] if '"' in value else value
    line = one_line_refusal(r, str(bad), "edit urn:cptkg:synthetic-mue:row-1", "ont:maxUnits")
    assert re.search("ont:maxUnits '?" + re.escape(shown), line), line


@pytest.mark.parametrize("command", [
    ["batch", "{claims}", "-o", "{out}"],
    ["ask", "edit", "--edits", "{bad}"],
])
def test_a_hostile_max_units_is_one_line_in_batch_and_ask(tmp_path, command):
    bad = unit_edits(tmp_path, "ont:maxUnits 2 ;", 'ont:maxUnits "+-5"^^xsd:integer ;')
    claims = ROOT / "examples" / "claims.csv"
    args = [a.format(claims=claims, out=tmp_path / "out.csv", bad=bad) for a in command]
    if command[0] == "batch":
        args += ["--edits", str(bad)]
    r = CliRunner().invoke(main, args)
    one_line_refusal(r, str(bad), "ont:maxUnits", "+-5")


def test_a_literal_over_the_parsers_16_mib_buffer_is_one_line(tmp_path):
    """pyoxigraph raised MemoryError (a Python traceback, exit 1) at its 16 MiB buffer."""
    bad = unit_edits(tmp_path, 'ont:rationale "SYNTHETIC: anatomic consideration"',
                     'ont:rationale "' + "a" * (17 * 1024 * 1024) + '"')
    r = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "claim-pair.json"), "--edits", str(bad)])
    one_line_refusal(r, str(bad), "16 MiB", f"{limits.MAX_EDIT_TEXT_CHARS:,} characters")
    bad.unlink()


HOSTILE_VALUES = {
    "a rationale over the limit": ('ont:rationale "SYNTHETIC: anatomic consideration"',
                                   'ont:rationale "' + "r" * 1001 + '"', "ont:rationale"),
    "a label over the limit on the source": ('rdfs:label "SYNTHETIC practitioner MUE table (test data)"',
                                             'rdfs:label "' + "l" * 1001 + '"', "rdfs:label"),
    "an edit IRI over the limit": ("e:row-1 a ont:UnitEdit", "<urn:" + "i" * 1001 + "> a ont:UnitEdit", "characters"),
    "a code over the limit": ('ont:editCode "20610"', 'ont:editCode "' + "2" * 5000 + '"', "ont:editCode"),
    "a code in Arabic-Indic digits": ('ont:editCode "20610"', 'ont:editCode "٢٠٦١٠"', ("five-character code", "٢٠٦١٠")),
    "a date in Arabic-Indic digits": ('ont:effectiveDate "2025-01-01"^^xsd:date',
                                      'ont:effectiveDate "٢٠٢٥-٠١-٠١"^^xsd:date', ("ont:effectiveDate", "٢٠٢٥-٠١-٠١")),
    "a date of year 0": ('ont:effectiveDate "2025-01-01"^^xsd:date', 'ont:effectiveDate "0000-01-01"^^xsd:date',
                         ("calendar date", "0000-01-01")),
    "a date written 20250101": ('ont:effectiveDate "2025-01-01"^^xsd:date', 'ont:effectiveDate "20250101"^^xsd:date',
                                ("ont:effectiveDate", "20250101")),
    "a source row of 0": ("ont:sourceRow 1 .", "ont:sourceRow 0 .", ("ont:sourceRow 0 ",)),
    "a source row of 23 digits": ("ont:sourceRow 1 .", "ont:sourceRow 12345678901234567890123 .",
                                  ("ont:sourceRow '12345678901234567890123'",)),
    "a source row of superscripts": ("ont:sourceRow 1 .", 'ont:sourceRow "¹"^^xsd:integer .', ("ont:sourceRow '¹'",)),
    "an indicator of many digits": ('ont:adjudicationIndicator "2"', 'ont:adjudicationIndicator "' + "2" * 900 + '"',
                                    "adjudication indicator"),
    "a language-tagged code": ('ont:editCode "20610"', 'ont:editCode "20610"@en', "plain string"),
}


@pytest.mark.parametrize("what", sorted(HOSTILE_VALUES))
def test_every_value_the_loader_reads_is_bounded_and_refused_in_one_line(tmp_path, what):
    old, new, words = HOSTILE_VALUES[what]
    bad = unit_edits(tmp_path, old, new)
    r = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "claim-pair.json"), "--edits", str(bad)])
    one_line_refusal(r, str(bad), *((words,) if isinstance(words, str) else words))


def test_too_many_triples_about_other_things_than_edits_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EDIT_OTHER_TRIPLES", 10)
    extra = "".join(f'e:source rdfs:comment "note {i}" .\n' for i in range(10))
    text = (EDITS / "synthetic-mue.ttl").read_text(encoding="utf-8") + extra
    bad = tmp_path / "edits.ttl"
    bad.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "claim-pair.json"), "--edits", str(bad)])
    one_line_refusal(r, str(bad), "triples about other things than edits", "at most 10")


SHAPE_CASES = {
    "unit: max units over the limit": ("synthetic-mue.ttl", "ont:maxUnits 2 ;", "ont:maxUnits 1000000000 ;"),
    "unit: a negative max units": ("synthetic-mue.ttl", "ont:maxUnits 2 ;", "ont:maxUnits -2 ;"),
    "unit: a source row of 0": ("synthetic-mue.ttl", "ont:sourceRow 1 .", "ont:sourceRow 0 ."),
    "unit: a source row past 32 bits": ("synthetic-mue.ttl", "ont:sourceRow 1 .", "ont:sourceRow 2147483648 ."),
    "unit: a rationale over the limit": ("synthetic-mue.ttl", 'ont:rationale "SYNTHETIC: anatomic consideration"',
                                         'ont:rationale "' + "r" * 1001 + '"'),
    "unit: untouched": ("synthetic-mue.ttl", "", ""),
    "pair: a source row of 0": ("synthetic-ptp.ttl", "ont:sourceRow 1 .", "ont:sourceRow 0 ."),
    "pair: a rationale over the limit": ("synthetic-ptp.ttl", '"SYNTHETIC: standards of medical/surgical practice"',
                                         '"' + "r" * 1001 + '"'),
}


@pytest.mark.parametrize("what", sorted(SHAPE_CASES))
def test_the_new_bounds_are_the_shacl_shapes_bounds_too(what, tmp_path, cache):
    """A pack's own edits (pySHACL) and an --edits file (the vectorised checks) are held alike."""
    from cptkg.knowledge.loader import KBLoadError, load_kb

    name, old, new = SHAPE_CASES[what]
    text = (EDITS / name).read_text(encoding="utf-8")
    if old:
        text = text.replace(old, new, 1)
    pack = tmp_path / "pack"
    shutil.copytree(PACK, pack)
    (pack / "kb" / "zz-edits.ttl").write_text(text, encoding="utf-8")
    edits = tmp_path / "edits.ttl"
    edits.write_text(text, encoding="utf-8")

    def refused(**kw) -> bool:
        try:
            load_kb(**kw)
        except KBLoadError:
            return True
        return False

    assert refused(root=pack, shacl="always") == refused(root=PACK, edits=[edits]) == (not what.endswith("untouched"))


def test_edits_given_to_ask_before_its_question_are_used_as_after_it():
    """``cptkg ask --edits F edit`` answered from the pack alone: the subcommand's empty --edits replaced the group's."""
    f = str(EDITS / "synthetic-mue.ttl")
    before = CliRunner().invoke(main, ["ask", "--edits", f, "edit", "--json"])
    after = CliRunner().invoke(main, ["ask", "edit", "--edits", f, "--json"])
    assert before.exit_code == after.exit_code == 0, (before.output, after.output)
    assert "synthetic-mue" in after.stdout
    assert before.stdout == after.stdout


def test_more_edits_of_one_pair_than_the_limit_are_refused_by_the_importer_and_the_loader(tmp_path):
    """20,000 edits of 95990/62367 on different dates imported, and a claim of 100 lines inside every claim
    limit then took batch out of memory (each same-date pair meets every edit of its pair)."""
    head = (EDITS / "ptp_practitioner_synthetic.txt").read_text(encoding="utf-8").split("62367\t95990", 1)[0]
    start = dt.date(2000, 1, 1)
    rows = "".join(f"95990\t62367\t\t{(start + dt.timedelta(days=i)):%Y%m%d}\t*\t1\tx\n"
                   for i in range(limits.MAX_EDITS_PER_PAIR + 1))
    src = tmp_path / "ptp.txt"
    src.write_text(head + rows, encoding="utf-8")
    out = tmp_path / "out.ttl"
    with pytest.raises(EditTableError) as e:
        import_table("ptp", src, out, imported=DAY)
    assert f"are named by {limits.MAX_EDITS_PER_PAIR + 1:,} pair edits; at most {limits.MAX_EDITS_PER_PAIR:,}" \
        in " ".join(e.value.problems)
    assert not out.exists()
    # the loader holds a file written some other way to the same limit
    fewer = tmp_path / "fewer.txt"
    fewer.write_text(head + rows.split("\n", 1)[1], encoding="utf-8")
    ok = tmp_path / "ok.ttl"
    import_table("ptp", fewer, ok, imported=DAY)
    text = ok.read_text(encoding="utf-8")
    block = text[text.index("<urn:"):] if "<urn:" in text else text
    assert ok.exists() and block
    r = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "claim-pair.json"), "--edits", str(ok)])
    assert r.exit_code in (0, 1), r.output


def test_an_old_excel_workbook_is_named_as_such_with_what_to_do(tmp_path):
    src = tmp_path / "ptp.xls"
    src.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)  # the OLE2 container of a .xls
    r = CliRunner().invoke(main, ["edits", "import", "ptp", str(src), "-o", str(tmp_path / "out.ttl")])
    one_line_refusal(r, str(src), "an Excel 97-2003 workbook (.xls)", "save it as .xlsx or as tab-delimited text")


def test_a_workbook_whose_table_is_on_a_later_sheet_is_told_only_the_first_sheet_is_read(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Read me"])
    sheet = wb.create_sheet("PTP")
    for line in (PTP_HEADER + PTP_ROW).splitlines():
        sheet.append(line.split("\t"))
    src = tmp_path / "ptp.xlsx"
    wb.save(src)
    r = CliRunner().invoke(main, ["edits", "import", "ptp", str(src), "-o", str(tmp_path / "out.ttl")])
    one_line_refusal(r, str(src), "only a workbook's first sheet is read: move the table to the first sheet")


@pytest.mark.parametrize("kind,header,row", [
    ("ptp", "Column 1\tColumn 2\tEffective Date\tDeletion Date\tModifier\tModifier\n", "11042\t97597\t20250101\t*\t1\t0\n"),
    ("ptp", "Column 1\tColumn 2\tEffective Date\tEffective Date\tDeletion Date\tModifier\n",
     "11042\t97597\t20250101\t20250401\t*\t1\n"),
    ("mue", "HCPCS/CPT Code\tMUE Value\tMUE Adjudication Indicator\tMUE Adjudication Indicator\n", "62367\t1\t1\t3\n"),
])
def test_a_header_naming_a_column_twice_is_refused_naming_both_cells(tmp_path, kind, header, row):
    """Which of two "Modifier" cells holds the indicator cannot be told: the first was read and the other
    noted "not read", so a row's 0 was dropped for its 1 (an audit)."""
    src = tmp_path / f"{kind}.txt"
    src.write_text(header + row, encoding="utf-8")
    out = tmp_path / "out.ttl"
    with pytest.raises(EditTableError, match=r"names the column .* \(cells \d and \d\) twice"):
        import_table(kind, src, out)
    assert not out.exists()
