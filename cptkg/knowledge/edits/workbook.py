"""An Excel edit table read safely: the workbook's parts checked, then its first sheet read in a bounded child.

Why apart from the import (:mod:`cptkg.knowledge.edits.cms_import`): CMS
posts its PTP and MUE tables in Excel as well as text (domain notes, "Real
files billing offices and payers exchange"), and a workbook is a zip of XML
parts that a hostile or damaged file can make expensive (a zip bomb, a used
range of billions of cells, millions of shared texts). Everything that keeps
such a file from costing more than the limits (``cptkg.limits``) sits here:
the standard library's ``zipfile`` checks the parts before python-calamine
sees them, and calamine reads in a forked child with a time and memory cap
(``cptkg.bounded``). The import turns a :class:`WorkbookError` into its own
one-line error; the rest of the import never sees a workbook, only rows.
"""
from __future__ import annotations

import datetime as _dt
import io
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

from cptkg import limits


class WorkbookError(ValueError):
    """The workbook is not read: one line naming the file and why (the import says it as its own error)."""


def cell_text(value) -> str:
    """An Excel cell as the text the tab-delimited file would hold."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, _dt.date):  # a date cell (datetime included)
        return value.strftime("%Y%m%d")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


_PREFIX = rb"<(?:[A-Za-z_][\w.\-]*:)?"  # an element's start tag, with or without a namespace prefix
_DIMENSION = re.compile(_PREFIX + rb"dimension\b[^<>]*?\bref\s*=\s*[\"']\s*(?:[A-Za-z]{1,3}[0-9]{1,7}:)?"
                        rb"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})\s*[\"']")
_UNIQUE_COUNT = re.compile(_PREFIX + rb"sst\b[^<>]*?\buniqueCount\s*=\s*[\"']\s*\+?([0-9]{1,30})")
_SHARED_TEXT = re.compile(_PREFIX + rb"si[\s/>]")
_CELL_REF = re.compile(_PREFIX + rb"c\s[^<>]*?\br\s*=\s*[\"']\s*\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_CHUNK = 1 << 20


def _column_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) if isinstance(ch, str) else ch) - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _range_problem(rows: int, cols: int, claimed: bool = False) -> str | None:
    """Why a first sheet reaching row ``rows`` and column ``cols`` (1-based) is not read; None when it is.

    calamine makes a cell of every position from the first used one to the last
    and the rows come out from row 1, so the count is of the range from A1.
    """
    cells = rows * cols
    if cells <= limits.MAX_SHEET_CELLS:
        return None
    return (f"its first sheet {'says it spans' if claimed else 'spans'} {rows:,} rows by {cols:,} columns "
            f"(A1 to {_column_letters(cols)}{rows}: {cells:,} cells); at most {limits.MAX_SHEET_CELLS:,} cells are "
            "read (a stray cell far below or right of the table?)")


def _parts(path: Path, raw: bytes) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        return zf, zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise WorkbookError(f"{path}: not a readable Excel workbook (not a whole zip archive: {e})") from None


def unpacked(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's bytes in chunks, checked against its CRC-32.

    zipfile stops at the size the zip's headers declare, and so does calamine's
    Rust zip reader ("File is larger than its declared uncompressed size"): a
    part whose headers understate it is refused by calamine at once, so the
    declared sizes are the ones to add up.
    """
    with zf.open(info) as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _check_workbook(path: Path, raw: bytes) -> None:
    """Refuse, before calamine reads them, workbooks whose parts or claims are past the limits.

    Its parts are counted, their declared sizes added (a zip bomb is refused
    without unpacking it), then each is unpacked as a stream (its CRC-32 and
    size checked); the first 1 MiB of each part is searched for a sheet's
    ``<dimension ref>`` and the shared-strings part's ``uniqueCount`` (calamine
    reserves room for that many texts up front), and the shared texts are
    counted. What no check here sees is bounded by the child calamine reads in.
    """
    zf, infos = _parts(path, raw)
    if len(infos) > limits.MAX_XLSX_PARTS:
        raise WorkbookError(f"{path}: has {len(infos):,} parts; an Excel workbook has at most "
                             f"{limits.MAX_XLSX_PARTS:,} here (one saved by Excel has about a dozen); nothing written")
    budget = limits.MAX_XLSX_UNPACKED_BYTES

    declared = 0
    for info in infos:
        declared += info.file_size
        if declared > budget:
            raise WorkbookError(f"{path}: part {info.filename} unpacks to {info.file_size:,} bytes; at most "
                                 f"{budget:,} bytes of parts are read (a zip bomb?); nothing written")
    for info in infos:
        name = info.filename
        shared = name.lower().rsplit("/", 1)[-1] == "sharedstrings.xml"
        size = texts = 0
        tail = b""
        try:
            for chunk in unpacked(zf, info):
                if not size:
                    _check_claims(path, name, chunk, shared)
                size += len(chunk)
                if shared:  # the texts of this chunk, a text cut at the chunk's start counted once
                    data = tail + chunk
                    texts += len(_SHARED_TEXT.findall(data)) - len(_SHARED_TEXT.findall(tail))
                    tail = data[-64:]
                    if texts > limits.MAX_SHARED_STRINGS:
                        raise WorkbookError(f"{path}: part {name} holds more than {limits.MAX_SHARED_STRINGS:,} "
                                             "shared texts (the workbook's distinct cell texts), the most read; "
                                             "nothing written")
        except WorkbookError:
            raise
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError, OSError,
                EOFError) as e:
            raise WorkbookError(f"{path}: not a readable Excel workbook (part {name}: {e}); nothing written") from None
        if size != info.file_size:
            raise WorkbookError(f"{path}: not a readable Excel workbook (part {name} unpacks to {size:,} bytes, not "
                                 f"the {info.file_size:,} its zip header says); nothing written")


def _check_claims(path: Path, name: str, head: bytes, shared: bool) -> None:
    """What the start of a part claims: a sheet's used range, the number of shared texts."""
    m = _DIMENSION.search(head)
    if m is not None:
        problem = _range_problem(int(m.group(2)), _column_number(m.group(1)), claimed=True)
        if problem:
            raise WorkbookError(f"{path}: {problem}; nothing written")
    if shared:
        m = _UNIQUE_COUNT.search(head)
        if m is not None and int(m.group(1)) > limits.MAX_SHARED_STRINGS:
            raise WorkbookError(f"{path}: part {name} says it holds {int(m.group(1)):,} shared texts (the "
                                 f"workbook's distinct cell texts); at most {limits.MAX_SHARED_STRINGS:,} are read; "
                                 "nothing written")


def _cells_reach(raw: bytes) -> tuple[int, int]:
    """The last row and column any cell reference of the workbook's parts names (for a message)."""
    zf = zipfile.ZipFile(io.BytesIO(raw))
    rows = cols = 0
    for info in zf.infolist():
        tail = b""
        for chunk in unpacked(zf, info):
            data = tail + chunk
            for m in _CELL_REF.finditer(data):
                rows, cols = max(rows, int(m.group(2))), max(cols, _column_number(m.group(1)))
            tail = data[-64:]
    return rows, cols


def _read_sheet(raw: bytes, quiet: bool = True):
    """The first sheet read by python-calamine; run in the bounded child.

    ('rows', its rows as the text a tab-delimited file would hold), ('range',
    (last row, last column)) when its used range is past the limit, ('cell',
    (row, column, length)) for a text longer than Excel holds, or ('refused',
    why) when calamine cannot read it. calamine (Rust) reads a
    500,000-row sheet in 3 s where openpyxl's read-only mode takes about a
    minute. ``iter_rows`` yields every row from the sheet's first (empty ones
    too) and the columns from the first one in use, so the count from 1 is
    the sheet's row number.
    """
    if quiet:  # a Rust abort (allocation failure) writes to stderr: not for the user, the parent says why
        import faulthandler

        faulthandler.disable()  # (pytest enables it on a copy of stderr)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        except OSError:  # pragma: no cover
            pass
    try:
        from python_calamine import CalamineWorkbook
    except ImportError as e:  # pragma: no cover - python-calamine is a dependency
        return "refused", f"Excel files need python-calamine ({e})"
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(raw)).get_sheet_by_index(0)
        start, end = sheet.start, sheet.end
        if end is None or start is None:  # no cell at all (iter_rows would panic)
            return "rows", []
        rows, cols = end[0] + 1, end[1] + 1
        if _range_problem(rows, cols):
            return "range", (rows, cols)
        # one object per distinct text (a table repeats its codes, dates and rationales): the answer
        # pickles to 12 MB instead of 39 MB for 500,000 rows and comes back in 0.4 s instead of 1.6 s
        texts: dict[str, str] = {}
        rows = [[texts.setdefault(t, t) for t in map(cell_text, row)] for row in sheet.iter_rows()]
        longest = max(texts, key=len, default="")
        if len(longest) > limits.MAX_EXCEL_CELL_CHARS:  # not sent back: the parent names it
            n, row = next((n, row) for n, row in enumerate(rows, 1) if longest in row)
            return "cell", (n, row.index(longest) + start[1] + 1, len(longest))
        return "rows", rows
    except MemoryError:
        raise
    except BaseException as e:  # noqa: BLE001 - calamine's own errors; PyO3's PanicException is a BaseException
        return "refused", f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


def rows_xlsx(path: Path, raw: bytes) -> Iterator[tuple[int, list]]:
    """The first sheet's rows with their sheet row numbers: the workbook checked, then read in a bounded child."""
    _check_workbook(path, raw)
    from cptkg.bounded import StepCrashed, StepMemory, StepTimeout, run_bounded

    memory = limits.XLSX_READ_MEMORY_BYTES
    try:
        if hasattr(os, "fork"):
            status, payload = run_bounded(_read_sheet, (raw,), timeout=limits.XLSX_READ_SECONDS, memory=memory)
        else:  # pragma: no cover - no fork: read here, bounded by the checks alone
            status, payload = _read_sheet(raw, quiet=False)
    except StepTimeout:
        raise WorkbookError(f"{path}: reading the workbook did not finish within {limits.XLSX_READ_SECONDS:g} s and "
                             "was stopped; nothing written") from None
    except StepCrashed as e:  # calamine aborted on it (within the memory cap, a refused allocation aborts)
        problem = _range_problem(*_cells_reach(raw))
        raise WorkbookError(f"{path}: " + (problem or f"not a readable Excel workbook: its reader stopped on it "
                                            f"(it needed more than {memory // 2**20:,} MiB of memory, or it crashed: "
                                            f"{str(e).split('(', 1)[-1].rstrip(')')})") + "; nothing written") from None
    except StepMemory:
        problem = _range_problem(*_cells_reach(raw))
        raise WorkbookError(f"{path}: " + (problem or f"reading the workbook needed more than {memory // 2**20:,} MiB "
                                            "of memory and was stopped (a workbook built to exhaust memory?)")
                             + "; nothing written") from None
    except RuntimeError as e:  # the child's answer did not come back whole
        raise WorkbookError(f"{path}: not a readable Excel workbook ({e}); nothing written") from None
    if status == "range":
        raise WorkbookError(f"{path}: {_range_problem(*payload)}; nothing written")
    if status == "cell":
        n, col, length = payload
        raise WorkbookError(f"{path}: cell {_column_letters(col)}{n} holds {length:,} characters; an Excel cell holds "
                             f"at most {limits.MAX_EXCEL_CELL_CHARS:,} (and a cell of an edit table at most "
                             f"{limits.MAX_EDIT_TEXT_CHARS:,}); nothing written")
    if status == "refused":
        raise WorkbookError(f"{path}: not a readable Excel workbook ({payload}); nothing written")
    for n, row in enumerate(payload, 1):
        yield n, row


def is_xlsx(raw: bytes, path: Path) -> bool:
    return raw[:4] == b"PK\x03\x04" or path.suffix.lower() in (".xlsx", ".xlsm")
