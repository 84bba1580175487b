"""CMS edit tables (NCCI PTP and MUE) read, validated and written as edit RDF.

The published layout (what this module relies on; see docs/edit-tables.md "Importing edit
tables"): CMS posts the practitioner PTP and MUE tables quarterly as complete
replacement files in tab-delimited text and in Excel. Each file opens with a
preamble (copyright and notice lines), then one header row, then one edit per
row. PTP columns: Column 1, Column 2, "*=in existence prior to 1996",
Effective Date, Deletion Date ("*" = no deletion date), Modifier (0 not
allowed, 1 allowed, 9 not applicable), PTP Edit Rationale. MUE columns:
HCPCS/CPT Code, Practitioner Services MUE Values, MUE Adjudication Indicator
(a digit and its words, e.g. "2 Date of Service Edit: Policy"), MUE Rationale.
Dates are YYYYMMDD. Header cells are matched by their leading words (case and
spacing ignored), so "Deletion Date *=no data" is the Deletion Date column.

As published (issue 22; domain notes, "Real files billing offices and payers
exchange"): the practitioner PTP text file has a notice line and a title line
("Column1/Column2 Edits") above a header split over four lines, CRLF and
Windows-1252; its Excel file has the same block. The lines under the header
row are skipped by what they are (:class:`_HeaderBlock`: legends such as
"0=not allowed", or words that continue the header cell above them), never by
counting. The MUE CSV opens with a quoted multi-line notice and a header cell
holding a line break. The outpatient hospital and DME supplier MUE tables name
their value column "Outpatient Hospital Services MUE Values" / "DME Supplier
Services MUE Values": read as the MUE value, and a note names the column (the
edits apply to every claim checked with the file, so the user sees which
table it was). Those two names are as the issue and the practitioner name
give them, not checked against a CMS file.

Blank deletion date: not deleted, in force from its effective date, as "*".
The file's own legend ("Deletion Date *=no data") marks the absence of a date,
and the Medicaid NCCI Edit Design Manual's edit file layouts say "Edits with
<blank> Deletion Date values are ACTIVE from the date in the Effective Date
field" (2014 edition, MUE file layout, as transcribed at 1library.net); a note
counts such rows.

Several files and release zips: ``import_table`` takes one path or several;
a .zip (by name, or a zip that is not a workbook) is a quarterly release as
downloaded: its .txt/.csv/.tsv/.xlsx members are the table's part files, read
in name order (f2 before f10) as one table; readmes, PDFs and other documents
are listed as not read; a nested archive, an .xls or an encrypted member is
refused. A part without a header of its own (its first row with codes comes
before any header) is read with the header of the part before it, and a note
says so; a first part without one is refused. The same table as text and as
Excel in one folder of the zip (``f1.TXT`` and ``f1.xlsx``) is read once, the
text, and the other copy is named in a note as not read. The zip is held to a
workbook's bounds (members counted, declared sizes added against
MAX_EDIT_IMPORT_BYTES before anything is unpacked, members streamed and
CRC-checked, sizes held to the headers'); member names are shown, never used
as paths. Each file read gets its own ``ont:Source`` (its SHA-256; its label,
"ARCHIVE.zip › member" for a member); each edit cites the source of its file
and its row there; a pair repeated across parts is an error naming both.

Releases: ``--release`` (2026Q2, 2026-Q2, 2026q2 or the quarter's first day
2026-04-01; quarters begin January, April, July and October 1, domain notes)
or, without it, the release the file names state: "2026Q2", "2026-q2",
"q2-2026", the Medicaid publication names' "v2026q2" (the Medicaid NCCI Edit
Design Manual names the files MCD-MUE-PRA-vXXXXqX-FX-D.txt), or an effective
date that is a quarter's first day ("Eff_04-01-2026", "20260401"). NCCI
version numbers (v321r0) are not mapped to dates: no source found says how.
Names that state different releases are refused (exit 2, naming them); the
option wins over a name (and a note says so). Every source then carries
``ont:release "2026Q2"`` and ``ont:releaseDate "2026-04-01"^^xsd:date``, and
the IRIs carry the label (``.../ptp-2026Q2-<sha>/``), so two releases of the
same bytes never share an edit's name. A file whose release cannot be told is
imported without them, and the summary says so.

Every data row is validated; a bad row is reported by its row number and
column in billing words, and one bad row fails the whole import (nothing is
written): an edit table with a hole in it would let claims through that the
payer denies. Row numbers (``ont:sourceRow``) are 1-based line numbers of the
file (for Excel, the sheet's row number), so a user can open the file there.

Output is Turtle written as text, not through an rdflib Graph: a quarterly
PTP file has hundreds of thousands of rows and building a Graph of millions
of triples to serialize it takes minutes. Literals are escaped by
:func:`turtle_string` (tested against rdflib's parser). IRIs are
``https://w3id.org/cptkg/edits/<kind>-[<release>-]<first 12 hex of the file's SHA-256>/<row>``
and ``.../source`` (one namespace per file read), so importing the same file again gives the same triples.
The output is written to a temporary file in the target folder and moved over
the target with :func:`os.replace` only when every row was good.

Bounds (cptkg.limits; issue 21): the file's size; every cell's length; codes,
dates and numbers matched with ASCII-only patterns and numbers range-checked;
what is written is checked with the edits loader's own rules
(:func:`cptkg.knowledge.edits.files.table_problems`) before it is kept, so the
importer never writes a file ``--edits`` refuses. Text tables: their lines
and the cells of a line are counted before they are split. An Excel workbook
is a zip of XML parts: its parts are counted, their sizes added and each
unpacked as a stream (CRC-checked) with its claims checked (the sheet's
``<dimension>``, the shared texts) before python-calamine reads it; calamine
then reads it in a forked child with a time and a memory limit
(:mod:`cptkg.bounded`; all of it in :mod:`cptkg.knowledge.edits.workbook`), which checks the sheet's used range before its cells
become Python values. Measured choices (issue 21): calamine, not openpyxl's
streaming reader (a minute for 500,000 rows against 3 s); the cell range from
calamine in the child, not from a scan of the sheet's XML here (expat took
6.5 s over a 500,000-row sheet, and a scan can disagree with calamine's
lenient parser, the child cannot).

No click here: the command is ``cptkg.faces.commands.edits``.
"""
from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import itertools
import os
import re
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from cptkg import limits
from cptkg.knowledge.edits import workbook

KINDS = ("ptp", "mue")
# the MUE value column names the provider type the table is for (practitioner, outpatient
# hospital, DME supplier: domain notes, "How payers apply edits"); each is read as the MUE value
MUE_VALUE_COLUMNS = ("practitioner services mue values", "outpatient hospital services mue values",
                     "dme supplier services mue values")
EDITS_BASE = "https://w3id.org/cptkg/edits/"
ONT_NS = "https://w3id.org/cptkg/ontology#"
DEFAULT_MAX_ERRORS = 50
HEADER_SEARCH_LINES = 200  # a preamble longer than this is not a CMS edit table

# CPT: five digits (Category I) or four digits and F/T/U (Category II, III,
# PLA); HCPCS Level II: a letter A-V and four digits. ASCII digits only: \d
# also matches other scripts' digits (Arabic-Indic 62367 is a code to \d).
CODE_RE = re.compile(r"(?:[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4})\Z")
DATE_RE = re.compile(r"[0-9]{8}\Z")
MAI_RE = re.compile(r"([0-9])(?:\s|\Z)")


class EditTableError(Exception):
    """The file cannot be imported: not an edit table, unreadable, or bad rows.

    ``problems`` holds one line per bad row (up to the cap); ``total`` is how
    many bad rows there were in all.
    """

    def __init__(self, message: str, problems: list[str] | None = None, total: int = 0):
        super().__init__(message)
        self.problems = problems or []
        self.total = total


@dataclass
class ImportResult:
    kind: str
    source: Path
    output: Path
    edits: int
    rows: int
    seconds: float
    sha256: str
    bytes_written: int
    notices: list[str] = field(default_factory=list)  # each names its file
    files: list[str] = field(default_factory=list)  # the table files read, as messages name them
    read: str = ""  # what was read, for the summary: the files given, a zip's members read
    release: "Release | None" = None

    @property
    def noun(self) -> str:
        return "pair edits" if self.kind == "ptp" else "unit edits"

    def summary(self) -> str:
        release = (f"release {self.release.label} (in force from {self.release.start.isoformat()})" if self.release
                   else "no release stated: give --release YYYYQn to load it alongside other releases")
        return (f"imported {self.edits} {self.noun} from {self.read or self.source} ({self.rows} rows, "
                f"{self.seconds:.2f} s); {release}")


# --------------------------------------------------------------------------- Turtle text

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
# one str.translate pass (C): a substitution calling back into Python for each quote took
# 18-103 s over a 100 MB rationale of quotes (issue 21, finding 14)
_ESCAPE_TABLE = {c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F)} | {ord(k): v for k, v in _ESCAPES.items()}


def turtle_string(value: str) -> str:
    """``value`` as a Turtle (and N-Triples) string literal, quotes included.

    Quote, backslash and the named controls get their short escapes, other
    control characters ``\\uXXXX``; everything else is written as itself
    (the file is UTF-8).
    """
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'
    return '"' + value.translate(_ESCAPE_TABLE) + '"'


def _shown(value: str, width: int = 40) -> str:
    """A cell's text for a message: quoted, and cut (its length said) when long."""
    if len(value) <= width:
        return repr(value)
    return f"{value[:width]!r}... ({len(value):,} characters)"


# --------------------------------------------------------------------------- reading rows

def _decode(raw: bytes, label: str = "") -> str:
    """UTF-8 (with or without BOM), else Windows-1252 as older CMS text files are.

    The BOM goes first whatever the decoding (kept, a file saved as UTF-8 with one Latin-1 byte read
    its first column as 'ï»¿Column 1' and was refused for a header it has); a UTF-16 or UTF-32 file (a
    spreadsheet's "Unicode Text") is refused in those words, not as a file with no header."""
    from cptkg.spreadsheet import wide_text

    wide = wide_text(raw[:4])
    if wide:
        raise EditTableError(f"{label}: {wide}; nothing written")
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # the OLE2 container of Excel 97-2003 (.xls), not text
        raise EditTableError(f"{label}: an Excel 97-2003 workbook (.xls), which cptkg does not read: save it as "
                             f".xlsx or as tab-delimited text; nothing written")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Line by line: a file of UTF-8 text with one Windows-1252 byte (a rationale pasted from elsewhere) read
    # whole as Windows-1252 garbled every other row's UTF-8 text (mojibake; a security audit)
    lines = raw.split(b"\n")
    out = []
    for line in lines:
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(line.decode("cp1252", errors="replace"))
    return "\n".join(out)


def _rows_text(text: str, delimiter: str, path: Path | None = None) -> Iterator[tuple[int, list[str]]]:
    """Rows of a text table with their line numbers.

    With ``path`` (the import; not while sniffing the first lines) the lines
    and the cells of each line are counted against the limits before they are
    split, and a CSV the csv module cannot read is an EditTableError naming
    ``path`` and the line; while sniffing the rows just end.
    """
    most = limits.MAX_EDIT_TABLE_COLUMNS
    if path is not None:
        lines = max(text.count("\n"), text.count("\r") if delimiter == "," else 0) + 1
        if lines > limits.MAX_EDIT_TABLE_LINES:
            raise EditTableError(f"{path}: has {lines:,} lines; an edit table to import has at most "
                                 f"{limits.MAX_EDIT_TABLE_LINES:,} (CMS publishes its tables in parts under Excel's "
                                 "1,048,576 rows); nothing written")

    def check(n: int, line: str) -> None:
        if path is not None and line.count(delimiter) >= most:
            raise EditTableError(f"{path}: line {n} has more than {most:,} cells; a row of an edit table has at most "
                                 f"{most:,} (CMS tables have 4 to 7 columns); nothing written")

    if delimiter == "\t":  # CMS text files are not quoted: a quote is part of the rationale
        # lines end at "\n" (or "\r\n") only, as an editor numbers them; str.splitlines would also
        # break at form feeds and Unicode line separators inside a rationale and shift the row numbers
        for n, line in enumerate(text.split("\n"), 1):
            check(n, line)
            yield n, line.removesuffix("\r").split("\t")
        return

    def lines_checked():
        for n, line in enumerate(io.StringIO(text, newline=""), 1):
            check(n, line)
            yield line

    reader = csv.reader(lines_checked())
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as e:  # a cell past the csv module's 131,072 characters, a NUL byte ...
        if path is None:
            return
        why = str(e)
        if "field larger than field limit" in why:
            why = (f"a cell is longer than {csv.field_size_limit():,} characters; a cell of an edit table "
                   f"holds at most {limits.MAX_EDIT_TEXT_CHARS:,}")
        raise EditTableError(f"{path}: line {start}: not readable as CSV: {why}; nothing written") from None


# --------------------------------------------------------------------------- Excel workbooks

def _rows_xlsx(path: Path, raw: bytes) -> Iterator[tuple[int, list]]:
    """The first sheet's rows with their sheet row numbers (:mod:`cptkg.knowledge.edits.workbook` checks and
    reads the workbook); a workbook it refuses is this import's error, word for word."""
    try:
        yield from workbook.rows_xlsx(path, raw)
    except workbook.WorkbookError as e:
        raise EditTableError(str(e)) from None


# --------------------------------------------------------------------------- headers

def _norm(cell) -> str:
    return " ".join(str(cell if cell is not None else "").split()).lower()


@dataclass(frozen=True)
class _Column:
    key: str
    label: str  # the name used in messages (the CMS header's words)
    required: bool
    matches: tuple[str, ...]  # a header cell starting with one of these (normalised)
    # the whole header text a cell split over several lines adds up to (normalised, legends
    # such as "0=not allowed" apart): what a continuation line's cell may add to the first line's
    full: tuple[str, ...] = ()


_PTP_COLUMNS = (
    _Column("col1", "Column 1", True, ("column 1", "column1", "column one"), ("column 1",)),
    _Column("col2", "Column 2", True, ("column 2", "column2", "column two"), ("column 2",)),
    _Column("prior", "*=in existence prior to 1996", False, ("*=in existence prior to 1996", "*=in existence",
                                                            "in existence prior to 1996", "prior to 1996"),
            ("*=in existence prior to 1996",)),
    _Column("effective", "Effective Date", True, ("effective",), ("effective date",)),
    _Column("deletion", "Deletion Date", True, ("deletion",), ("deletion date",)),
    _Column("modifier", "Modifier", True, ("modifier",), ("modifier",)),
    _Column("rationale", "PTP Edit Rationale", False, ("ptp edit rationale", "rationale"), ("ptp edit rationale",)),
)
_MUE_COLUMNS = (
    _Column("code", "HCPCS/CPT Code", True, ("hcpcs/cpt code", "hcpcs", "cpt code"), ("hcpcs/cpt code",)),
    _Column("value", "MUE Value", True, MUE_VALUE_COLUMNS + ("mue value",), MUE_VALUE_COLUMNS),
    _Column("mai", "MUE Adjudication Indicator", True, ("mue adjudication indicator", "adjudication indicator", "mai"),
            ("mue adjudication indicator",)),
    _Column("rationale", "MUE Rationale", False, ("mue rationale", "rationale"), ("mue rationale",)),
    _Column("effective", "Effective Date", False, ("effective",), ("effective date",)),
)
_COLUMNS = {"ptp": _PTP_COLUMNS, "mue": _MUE_COLUMNS}
# a legend under a header word: "0=not allowed", "*=no data", "9=not applicable"
_LEGEND = re.compile(r"[0-9*]\s*=\s*\S")
_TABLE_NAME = {"ptp": "a PTP edit table", "mue": "an MUE table"}


def _match_header(kind: str, cells: list) -> tuple[dict[str, int], list[str], list[str]] | None:
    """Column positions of ``kind`` in a header row, or None if it is not one.

    A row is a header when two of its cells name required columns (one cell
    is not enough: a preamble line such as "CPT codes, descriptions ..." is
    not a header). Unknown cells are returned for a notice, and the columns
    named twice for a refusal: which of two "Modifier" cells holds the
    indicator cannot be told (the first was read and the other noted "not
    read", so a row's 0 was dropped for its 1: an audit).
    """
    names = [_norm(c) for c in cells]
    positions: dict[str, int] = {}
    unknown: list[str] = []
    twice: list[str] = []
    for i, n in enumerate(names):
        if not n:
            continue
        for col in _COLUMNS[kind]:
            if n.startswith(col.matches):
                if col.key in positions:
                    twice.append(f"{col.label} (cells {positions[col.key] + 1} and {i + 1})")
                else:
                    positions[col.key] = i
                break
        else:
            unknown.append(str(cells[i]).strip())
    if sum(1 for c in _COLUMNS[kind] if c.required and c.key in positions) < 2:
        return None
    return positions, unknown, twice


class _HeaderBlock:
    """The lines under a header row that only continue it, recognised by what their cells are.

    The practitioner PTP text file splits its header over four lines (domain
    notes, "Real files"): "Effective" over "Date", "*=in existence" over
    "prior to 1996", "Modifier" over "0=not allowed", "1=allowed", "9=not
    applicable". A line continues the header when every filled cell is a
    legend (a digit or "*", "=", words) or adds words to the header cell above
    it that still spell the start of that column's published name; a data row
    has codes and dates, which do neither. Lines are not counted: a header on
    one, two or four lines reads alike, and the first line that is neither
    blank nor a continuation ends the block.
    """

    def __init__(self, kind: str, cells: list, positions: dict[str, int]):
        self.said = {i: _norm(c) for i, c in enumerate(cells)}
        self.full = {positions[c.key]: c.full for c in _COLUMNS[kind] if c.key in positions}

    def continues(self, cells: list) -> bool:
        added: dict[int, str] = {}
        filled = False
        for i, cell in enumerate(cells):
            text = _norm(cell)
            if not text:
                continue
            filled = True
            if _LEGEND.match(text):
                continue
            said, names = self.said.get(i, ""), self.full.get(i, ())
            joined = next((j for j in (f"{said} {text}".strip(), said + text)
                           if any(name.startswith(j) for name in names)), None)
            if joined is None:
                return False
            added[i] = joined
        if filled:
            self.said.update(added)
        return filled


# --------------------------------------------------------------------------- validation

def _code_problem(value: str) -> str | None:
    if CODE_RE.match(value):
        return None
    if not value:
        return "is empty: a CPT/HCPCS code is required"
    if CODE_RE.match(value.upper()):
        return f"{value!r} is not a CPT/HCPCS code as written (codes are upper case: {value.upper()!r})"
    return (f"{_shown(value)} is not a CPT/HCPCS code (five digits, four digits and F/T/U, "
            f"or a letter A-V and four digits){_DIGITS_NOTE if _foreign_digits(value) else ''}")


_DIGITS_NOTE = ": its digits are not 0-9 (another script's digits)"


def _foreign_digits(value: str) -> bool:
    """Digits of another script (Arabic-Indic, superscripts ...): str.isdigit and \\d take them, codes do not."""
    return not value.isascii() and any(c.isdigit() and not c.isascii() for c in value)


class _Dates:
    """YYYYMMDD -> ISO date text, cached (a quarterly file repeats a few hundred dates)."""

    def __init__(self):
        self._seen: dict[str, str | None] = {}

    def iso(self, value: str) -> str | None:
        try:
            return self._seen[value]
        except KeyError:
            pass
        iso = None
        if DATE_RE.match(value):
            try:
                iso = _dt.date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
            except ValueError:
                iso = None
        self._seen[value] = iso
        return iso


def _date_problem(value: str, what: str) -> str:
    if not value:
        return f"is empty: the {what} is required (YYYYMMDD)"
    if DATE_RE.match(value):
        return f"{value!r} is not a calendar date (YYYYMMDD)"
    return f"{_shown(value)} is not a date in the form YYYYMMDD{_DIGITS_NOTE if _foreign_digits(value) else ''}"


# --------------------------------------------------------------------------- import

class _Problems:
    """Bad rows of the whole import; ``where`` names the file being read when there are several."""

    def __init__(self, cap: int):
        self.cap = cap
        self.where = ""
        self.lines: list[str] = []
        self.rows: set[tuple[str, int]] = set()

    def add(self, row: int, column: str | None, message: str) -> None:
        self.rows.add((self.where, row))
        if len(self.lines) < self.cap:
            where = f"row {row}, column {column}" if column else f"row {row}"
            self.lines.append(f"{self.where}{where}: {message}")


def _prefixes(kind: str, bases: list[tuple[str, str]]) -> str:
    return (
        "@prefix ont: <https://w3id.org/cptkg/ontology#> .\n"
        "@prefix dct: <http://purl.org/dc/terms/> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        + "".join(f"@prefix {prefix}: <{base}> .\n" for prefix, base in bases)
    )


# --------------------------------------------------------------------------- releases

@dataclass(frozen=True)
class Release:
    """A quarterly release: its label ("2026Q2") and the first day it is in force."""

    label: str
    start: _dt.date


_QUARTER_MONTH = {1: 1, 2: 4, 3: 7, 4: 10}  # quarters begin January, April, July, October 1 (domain notes)
_RELEASE_TEXT = re.compile(r"([0-9]{4})-?[qQ]([1-4])")
# in a file name: "2026Q2", "2026-q2", Medicaid's "v2026q2" (MCD-MUE-PRA-vXXXXqX-FX-D.txt), "q2-2026"; a
# version number such as v321r0 is not a date and is not read
_NAME_QUARTER = (re.compile(r"(?<![0-9])(20[0-9]{2})[-_ .]?q([1-4])(?![0-9])", re.I),
                 re.compile(r"(?<![0-9a-z])q([1-4])[-_ .]?(20[0-9]{2})(?![0-9])", re.I))
# an effective date in a name: "Eff_04-01-2026", "04012026", "20260401", "2026-04-01"; only a quarter's first day
_NAME_DATE = (re.compile(r"(?<![0-9])(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12][0-9]|3[01])[-_.]?(?P<y>20[0-9]{2})"
                         r"(?![0-9])"),
              re.compile(r"(?<![0-9])(?P<y>20[0-9]{2})[-_.]?(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12][0-9]|3[01])"
                         r"(?![0-9])"))


def _quarter(year: int, q: int) -> Release:
    return Release(f"{year}Q{q}", _dt.date(year, _QUARTER_MONTH[q], 1))


def _quarter_of_day(day: _dt.date) -> Release | None:
    """The release beginning on ``day``, None when ``day`` is not the first day of a quarter."""
    if day.day != 1 or day.month not in (1, 4, 7, 10):
        return None
    return _quarter(day.year, (day.month - 1) // 3 + 1)


def parse_release(text: str) -> Release:
    """A release as a user gives it: 2026Q2, 2026-Q2, 2026q2 or its first day 2026-04-01; else ValueError.

    >>> parse_release("2026-q2")
    Release(label='2026Q2', start=datetime.date(2026, 4, 1))
    """
    value = text.strip()
    m = _RELEASE_TEXT.fullmatch(value)
    if m:
        return _quarter(int(m.group(1)), int(m.group(2)))
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            day = _dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{text!r} is not a calendar date") from None
        found = _quarter_of_day(day)
        if found is None:
            raise ValueError(f"{text!r} is not the first day of a quarter (CMS releases take effect January 1, "
                             "April 1, July 1 and October 1)")
        return found
    raise ValueError(f"{text!r} is not a release: give the quarter (2026Q2) or its first day (2026-04-01)")


def release_in_name(name: str) -> set[Release]:
    """The releases a file name states (a quarter, or a quarter's first day as an effective date)."""
    found: set[Release] = set()
    for i, pattern in enumerate(_NAME_QUARTER):
        for m in pattern.finditer(name):
            year, q = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            found.add(_quarter(int(year), int(q)))
    for pattern in _NAME_DATE:
        for m in pattern.finditer(name):
            try:
                day = _dt.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
            except ValueError:
                continue
            release = _quarter_of_day(day)
            if release is not None:
                found.add(release)
    return found


def _decide_release(parts: list["_Part"], given: Release | None) -> tuple[Release | None, list[str]]:
    """The import's release: ``given`` (--release), else the one the file names state; conflicting names refuse."""
    stated = [(part, set().union(*(release_in_name(n) for n in part.names))) for part in parts]
    if given is not None:
        return given, [f"{part.label}: its name says {', '.join(sorted(r.label for r in said))}; the release "
                       f"recorded is {given.label} (--release)" for part, said in stated if said and said != {given}]
    every = set().union(*(said for _, said in stated))
    if len(every) > 1:
        said = "; ".join(f"{part.label} says {', '.join(sorted(r.label for r in s))}" for part, s in stated if s)
        raise EditTableError(f"the file names disagree about the release ({said}): give --release YYYYQn, or import "
                             "each release on its own; nothing written")
    return (next(iter(every)) if every else None), []


# --------------------------------------------------------------------------- the files of one import

@dataclass
class _Part:
    """One table file of the import: a file given, or a table member of a release zip."""

    label: str  # in messages: the path as given, or "ARCHIVE.zip › member"
    name: str  # its source's rdfs:label: the file's name, or "ARCHIVE.zip › member"
    sha: str
    load: object  # () -> bytes (a zip member is unpacked again when its turn comes)
    excel: bool
    names: tuple[str, ...]  # the names a release may be stated in: the file's, and its archive's
    prefix: str = "e"
    base: str = ""
    where: str = ""  # before each bad row's line when there are several files
    before: "_Header | None" = None  # the header of the part read before this one (a part may have none)
    header: "_Header | None" = None  # this part's header, once read
    delimiter: str | None = None  # a text part's, once sniffed

    @property
    def source(self) -> str:
        return self.base + "source"

    def row_of(self, other: "_Part", n: int) -> str:
        return f"row {n}" if other is self else f"{other.label} row {n}"


_TABLE_SUFFIXES = (".txt", ".tsv", ".csv", ".xlsx", ".xlsm")  # in the order one table's copies are preferred
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")
_DOCUMENT_SUFFIXES = (".pdf", ".doc", ".docx", ".rtf", ".htm", ".html", ".md")
_NOT_A_TABLE = re.compile(r"read[ _-]?me|licen[cs]e|disclaimer|copyright|notice", re.I)


def _natural(name: str) -> list:
    """Part files in their order: "-f2" before "-f10"."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"([0-9]+)", name)]


def _shown_name(name: str) -> str:
    """A member's name as text for a message or a label: controls escaped, cut when long (never a path on disk)."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                   for c in name[:201])
    return text if len(name) <= 200 else text[:200] + "..."


def _is_archive(raw: bytes, path: Path) -> bool:
    """A release zip (as downloaded), not an Excel workbook (a zip of XML parts, [Content_Types].xml first)."""
    suffix = path.suffix.lower()
    if suffix in _EXCEL_SUFFIXES:
        return False
    if suffix == ".zip":
        return True
    if raw[:4] != b"PK\x03\x04":
        return False
    try:
        names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return False  # the workbook reader says why
    return not any(n == "[Content_Types].xml" or n.startswith("xl/") for n in names)


def _member_chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Iterator[bytes]:
    try:
        yield from workbook.unpacked(zf, info)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError, OSError, EOFError) as e:
        raise EditTableError(f"{label}: cannot be unpacked ({' '.join(str(e).split())[:200]}); nothing written") \
            from None


def _member_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    return b"".join(_member_chunks(zf, info, label))


def _archive_parts(path: Path, raw: bytes, kind: str, budget: list[int]
                   ) -> tuple[list[_Part], list[str], list[str]]:
    """The table members of a release zip, checked as a workbook's parts are before any is read.

    Its members are counted and their declared sizes added against the
    import's budget (a zip bomb is refused without unpacking it); each table
    member is unpacked as a stream (CRC-checked, its size held to its header's)
    to take its SHA-256, and unpacked again when its rows are read. Member
    names are only shown and matched, never used as paths. A nested archive
    is refused; readmes, PDFs and other documents are listed as not read.

    A release may hold the same table twice, as text and as Excel
    (``f1.txt`` and ``f1.xlsx``: CMS publishes each table in both formats,
    Medicaid NCCI Edit Design Manual, "Publication Formats"): members of one
    folder with the same name but their extension (any case) are one table,
    and only one copy is read, text before Excel (``.txt``, ``.tsv``,
    ``.csv``, then ``.xlsx``, ``.xlsm``: the text is read without a child
    process and is what the row numbers of the manual's layouts count); the
    others are returned (third list) as "the same table as" the one read.
    Reading both would repeat every edit. They are matched by name, not
    compared cell by cell.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise EditTableError(f"{path}: not a readable zip archive ({e}); nothing written") from None
    if len(infos) > limits.MAX_RELEASE_ZIP_MEMBERS:
        raise EditTableError(f"{path}: has {len(infos):,} members; a release archive has at most "
                             f"{limits.MAX_RELEASE_ZIP_MEMBERS:,} here (CMS's hold a table's part files and a "
                             "readme); nothing written")
    declared = sum(info.file_size for info in infos)
    if declared > budget[0]:
        raise EditTableError(f"{path}: its members unpack to {declared:,} bytes; at most "
                             f"{limits.MAX_EDIT_IMPORT_BYTES:,} bytes of tables are read in one import "
                             "(a zip bomb?); nothing written")
    budget[0] -= declared
    parts: list[_Part] = []
    ignored: list[str] = []
    copies: list[str] = []
    keeper: dict[str, zipfile.ZipInfo] = {}  # one table's copies: folder and name without extension -> the one read
    named: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        folder_stem, suffix = os.path.splitext(info.filename.replace("\\", "/"))
        same = named.setdefault(info.filename.replace("\\", "/").lower(), info)
        if same is not info and not info.is_dir() and (same.CRC, same.file_size) != (info.CRC, info.file_size):
            # two members of one name and different contents: reading one lost the other's edits without a word
            # (a hostile-files audit: the note called the second "the same table")
            raise EditTableError(f"{path}: holds two members named {_shown_name(info.filename)} with different "
                                 "contents; a release names each table once: unpack it and give each table as "
                                 "its own file; nothing written")
        if suffix.lower() in _TABLE_SUFFIXES and not info.is_dir():
            kept = keeper.setdefault(folder_stem.lower(), info)
            rank = _TABLE_SUFFIXES.index
            if rank(suffix.lower()) < rank(os.path.splitext(kept.filename)[1].lower()):
                keeper[folder_stem.lower()] = info
    for info in sorted(infos, key=lambda i: _natural(i.filename)):
        if info.is_dir():
            continue
        kept = keeper.get(os.path.splitext(info.filename.replace("\\", "/"))[0].lower())
        if kept is not None and kept is not info:
            copies.append(f"{_shown_name(info.filename)}, the same table as {_shown_name(kept.filename)}")
            continue
        shown = _shown_name(info.filename)
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        stem, suffix = os.path.splitext(base)
        suffix = suffix.lower()
        label = f"{path} › {shown}"
        if suffix in _ARCHIVE_SUFFIXES:
            raise EditTableError(f"{label}: is itself an archive; archives inside a release are not unpacked "
                                 "(unpack it and give its tables); nothing written")
        if suffix == ".xls":
            raise EditTableError(f"{label}: is an Excel 97-2003 workbook (.xls), which is not read: give the "
                                 "release's .txt or .xlsx table; nothing written")
        if (suffix not in _TABLE_SUFFIXES or _NOT_A_TABLE.search(stem) or base.startswith("._")
                or info.filename.startswith("__MACOSX/")):
            ignored.append(shown)
            continue
        if info.flag_bits & 0x1:
            raise EditTableError(f"{label}: is encrypted (a password-protected zip); nothing written")
        if info.file_size > limits.MAX_EDIT_TABLE_BYTES:
            raise EditTableError(f"{label}: unpacks to {info.file_size:,} bytes; an edit table to import has at most "
                                 f"{limits.MAX_EDIT_TABLE_BYTES:,} bytes; nothing written")
        h, size, head = hashlib.sha256(), 0, b""
        for chunk in _member_chunks(zf, info, label):
            if not size:
                head = chunk[:4]
            h.update(chunk)
            size += len(chunk)
        if size != info.file_size:
            raise EditTableError(f"{label}: unpacks to {size:,} bytes, not the {info.file_size:,} its zip header says; "
                                 "nothing written")
        if head == b"PK\x03\x04" and suffix not in _EXCEL_SUFFIXES:
            raise EditTableError(f"{label}: is itself a zip archive; archives inside a release are not unpacked; "
                                 "nothing written")
        if not size:
            raise EditTableError(f"{label}: is empty, not {_TABLE_NAME[kind]}")
        parts.append(_Part(label, f"{path.name} › {shown}", h.hexdigest(),
                           lambda zf=zf, info=info, label=label: _member_bytes(zf, info, label),
                           suffix in _EXCEL_SUFFIXES, (base, path.name)))
    if not parts:
        listed = ", ".join(ignored[:10]) + (f" and {len(ignored) - 10} more" if len(ignored) > 10 else "")
        raise EditTableError(f"{path}: holds no edit table ({listed or 'no files'}): a release holds its table as "
                             ".txt, .csv or .xlsx files; nothing written")
    return parts, ignored, copies


def _inputs(kind: str, paths: list[Path]) -> tuple[list[_Part], list[str], list[str]]:
    """Every table file of the import (files given, release zips' table members), the notes of members not
    read, and how the summary names what was read."""
    from cptkg.files import FileProblem, read_capped

    budget = [limits.MAX_EDIT_IMPORT_BYTES]
    parts: list[_Part] = []
    notes: list[str] = []
    read: list[str] = []
    for path in paths:
        try:  # at most the cap plus one byte, whatever the file is (a FIFO, a link to /dev/zero)
            raw = read_capped(path, limits.MAX_EDIT_TABLE_BYTES, what="an edit table to import",
                              hint="a practitioner PTP table of 500,000 rows is 32 MB as text; nothing written")
        except FileProblem as e:
            raise EditTableError(str(e)) from None
        if not raw.strip():
            raise EditTableError(f"{path}: is empty, not {_TABLE_NAME[kind]}")
        if _is_archive(raw, path):
            members, ignored, copies = _archive_parts(path, raw, kind, budget)
            parts += members
            read.append(f"{path} (read: {', '.join(m.label.split(' › ', 1)[1] for m in members)})")
            if ignored:
                notes.append(f"{path}: not read, not edit tables: {', '.join(ignored)}")
            notes += [f"{path}: not read: {copy} (read once)" for copy in copies]
            continue
        budget[0] -= len(raw)
        if budget[0] < 0:
            raise EditTableError(f"{path}: the files of this import add up to more than "
                                 f"{limits.MAX_EDIT_IMPORT_BYTES:,} bytes, the most read in one import; "
                                 "nothing written")
        parts.append(_Part(str(path), path.name, hashlib.sha256(raw).hexdigest(), lambda raw=raw: raw,
                           workbook.is_xlsx(raw, path), (path.name,)))
        read.append(str(path))
    first: dict[str, _Part] = {}
    for part in parts:
        same = first.setdefault(part.sha, part)
        if same is not part:
            raise EditTableError(f"{part.label}: is the same file as {same.label} (the same contents); give each "
                                 "table file once; nothing written")
    return parts, notes, read


def import_table(kind: str, path, output: str | os.PathLike, *, imported: _dt.date | None = None,
                 max_errors: int = DEFAULT_MAX_ERRORS, release: Release | str | None = None) -> ImportResult:
    """Read the ``kind`` ("ptp" or "mue") table at ``path`` and write its edits to ``output``.

    ``path`` is one file or a list of files; a release zip's table members
    are read as parts of one table. ``release`` (a :class:`Release` or text
    such as "2026Q2") is recorded on every source; without it the file names
    are read for one (module docstring, "Releases").

    Raises :class:`EditTableError` (nothing written) when a file is not such
    a table or any row is bad; the error lists up to ``max_errors`` bad rows.
    """
    t0 = time.perf_counter()
    if kind not in KINDS:
        raise EditTableError(f"unknown edit table kind {kind!r}; kinds: {', '.join(KINDS)}")
    paths = [Path(p) for p in ([path] if isinstance(path, (str, os.PathLike)) else path)]
    if not paths:
        raise EditTableError(f"no file given: name the {_TABLE_NAME[kind][2:].lstrip()} file(s) to import")
    output = Path(output)
    for p in paths:
        _refuse_same_file(p, output)
    if isinstance(release, str):
        try:
            release = parse_release(release)
        except ValueError as e:
            raise EditTableError(f"--release: {e}") from None
    parts, notes, read = _inputs(kind, paths)
    release, release_notes = _decide_release(parts, release)
    several = len(parts) > 1
    tag = f"{kind}-{release.label}-" if release else f"{kind}-"  # another release of the same bytes: other IRIs
    for i, part in enumerate(parts, 1):
        part.base = f"{EDITS_BASE}{tag}{part.sha[:12]}/"
        part.prefix = f"e{i}" if several else "e"
        part.where = f"{part.label}: " if several else ""
    display = ", ".join(map(str, paths))
    imported = imported or _dt.date.today()
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise EditTableError(f"{output}: cannot be written (no folder {folder})")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as e:
        raise EditTableError(f"{output}: cannot be written ({e.strerror})") from None
    tmp = Path(tmp_name)
    ok = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            if several:
                out.write(f"# {kind.upper()} edits imported by cptkg from {len(parts)} files as one table; "
                          "sourceRow is each file's 1-based line (Excel: sheet row) number\n")
                for part in parts:
                    out.write(f"# {part.prefix}: {' '.join(part.name.splitlines())} (sha256 {part.sha})\n")
            else:
                name = " ".join(parts[0].name.splitlines())  # a comment ends at the line's end
                out.write(f"# {kind.upper()} edits imported by cptkg from {name} (sha256 {parts[0].sha}); "
                          f"sourceRow is the file's 1-based line (Excel: sheet row) number\n")
            out.write(_prefixes(kind, [(part.prefix, part.base) for part in parts]))
            other = []
            for part in parts:
                label = turtle_string(part.name)
                cite = turtle_string(f"{kind.upper()} edit table {part.name}, imported {imported.isoformat()}")
                said = (f' ;\n    ont:release "{release.label}" ;\n    ont:releaseDate "{release.start.isoformat()}"'
                        f"^^xsd:date" if release else "")
                out.write(f"\n{part.prefix}:source a ont:Source ; rdfs:label {label} ;\n    ont:citation {cite} ;\n"
                          f"    ont:fileSha256 \"{part.sha}\"{said} .\n")
                src = f"<{part.source}>"
                other.append(f"{src} <{RDF_TYPE}> <{ONT_NS}Source> .\n{src} <{RDFS_LABEL}> {label} .\n"
                             f"{src} <{ONT_NS}citation> {cite} .\n{src} <{ONT_NS}fileSha256> \"{part.sha}\" .")
                if release:
                    other.append(f"{src} <{ONT_NS}release> \"{release.label}\" .\n{src} <{ONT_NS}releaseDate> "
                                 f"\"{release.start.isoformat()}\"^^<{XSD_DATE}> .")
            out.write("\n")
            reader = _read_ptp if kind == "ptp" else _read_mue
            problems = _Problems(max_errors)
            table = _Table(kind, "\n".join(other), {part.source for part in parts})
            seen: dict = {}
            n_edits = n_rows = 0
            notices = list(notes) + release_notes
            previous = None
            for part in parts:
                problems.where = part.where
                bad_before = len(problems.rows)
                raw = part.load()
                if previous is not None and previous.header is not None:  # the header a headless part reads with
                    part.before = previous.before if previous.header is previous.before else _Header(
                        **{**vars(previous.header), "where": f"{previous.header.where} of {previous.label}"})
                if part.excel:
                    rows: Iterable[tuple[int, list]] = _rows_xlsx(part.label, raw)
                else:
                    text = _decode(raw, part.label)
                    part.delimiter = _sniff_delimiter(text, previous.delimiter if previous is not None else None)
                    rows = _rows_text(text, part.delimiter, part.label)
                del raw
                edits, got, said_notes = reader(rows, out, problems, part.label, part.excel, table, part, seen)
                n_edits, n_rows = n_edits + edits, n_rows + got
                notices += [f"{part.label}: {n}" for n in said_notes]
                if not got and len(problems.rows) == bad_before:
                    raise EditTableError(f"{part.label}: has the header of {_TABLE_NAME[kind]} but no rows under it "
                                         "(a cut-off download?); nothing written")
                previous = part
        if problems.rows:
            total = len(problems.rows)
            more = total - len(problems.lines)
            lines = problems.lines + ([f"... and {more} more bad rows"] if more > 0 else [])
            raise EditTableError(f"{display}: {total} bad row{'s' if total != 1 else ''} of {n_rows}; nothing written",
                                 lines, total)
        table.check(display, max_errors)  # the round trip: what is written, held to the loader's rules
        size = tmp.stat().st_size
        os.chmod(tmp, _file_mode(output))  # mkstemp makes it 0600; the output gets a plain file's mode
        os.replace(tmp, output)
        ok = True
    except OSError as e:
        raise EditTableError(f"{output}: cannot be written ({e.strerror})") from None
    finally:
        if not ok:
            tmp.unlink(missing_ok=True)
    table.cache_for(output)
    return ImportResult(kind, paths[0], output, n_edits, n_rows, time.perf_counter() - t0, parts[0].sha, size,
                        notices, files=[part.label for part in parts], read=", ".join(read), release=release)


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"


class _Table:
    """The edits being written, kept as the edit table the loader reads (one row per edit).

    Written as the cached table of the Turtle file once that file is complete
    (``cptkg.knowledge.edits.files``: keyed by the file's SHA-256), so the
    import is usable at once instead of being parsed again at the next load.
    The rows are the ones just checked and written, value for value.
    """

    def __init__(self, kind: str, other_triples: str, sources: set[str]):
        from cptkg.knowledge.edits.files import EDIT_PROPS

        self.other, self.sources = other_triples, sources
        self.type = "PairEdit" if kind == "ptp" else "UnitEdit"
        self.ids: list[str] = []
        self.cited: list[list[str]] = []
        self.where: list[str] = []
        self.cols: dict[str, list] = {name: [] for name in EDIT_PROPS}
        self._cite: dict[str, list[str]] = {}

    def add(self, n: int, part: _Part, **values) -> None:
        self.ids.append(f"{part.base}{n}")
        self.cited.append(self._cite.setdefault(part.source, [part.source]))
        self.where.append(part.where)
        for name, col in self.cols.items():
            col.append(values.get(name))

    def edit_table(self):
        from cptkg.knowledge.edits.files import EditTable

        n = len(self.ids)
        return EditTable({"@id": self.ids, "@type": [self.type] * n, "@sources": self.cited, **self.cols}, self.other)

    def check(self, path, max_errors: int) -> None:
        """Hold the edits written to the edits loader's own checks (the round trip), else EditTableError.

        The row checks above are meant to let through only what the loader
        takes; this is what makes it so: a file ``--edits`` would refuse is
        never kept. The kinds and scope are those the importer writes (core
        ontology terms); the sources are the files' own.
        """
        from cptkg.knowledge.edits.files import table_problems, term_problem

        for line in self.other.splitlines():  # the sources' labels and citations (the files' names)
            for term in re.findall(r'"((?:[^"\\]|\\.)*)"', line):
                why = term_problem(term)
                if why:
                    raise EditTableError(f"{path}: the edits loader would refuse the source written for this file: "
                                         f"its name or citation {why}; nothing written")
        kinds = {ONT_NS + "ComponentEdit", ONT_NS + "MutuallyExclusiveEdit"}
        problems = table_problems(self.edit_table(), set(), kinds, {ONT_NS + "SameProvider"}, self.sources)
        if not problems:
            return
        rows = self.cols["sourceRow"]
        lines = [f"{self.where[i]}row {rows[i]}: {why}" for i, why in problems[:max_errors]]
        bad = len({i for i, _ in problems})
        raise EditTableError(f"{path}: the edits loader would refuse {bad} of the {len(rows)} edits written "
                             "(the loader's own checks, run on what would be written); nothing written", lines, bad)

    def cache_for(self, output: Path) -> None:
        from cptkg.knowledge.edits.files import write_cache

        h = hashlib.sha256()
        with open(output, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        write_cache(self.edit_table(), h.hexdigest())


def _file_mode(output: Path) -> int:
    """The mode the output would have if written in place: the existing file's, else 0666 less the umask."""
    try:
        return output.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _refuse_same_file(path: Path, output: Path) -> None:
    from cptkg.files import same_file

    if same_file(output, path):
        raise EditTableError(f"{output}: is the input file; give another -o (the edit table would be overwritten)")


def _sniff_delimiter(text: str, previous: str | None = None) -> str:
    """Tab when a header row of either kind splits on tabs in the first lines, else comma if one splits as CSV;
    without a header (a part file continuing the one before), the previous part's delimiter, else tab."""
    head = "\n".join(text[:1_000_000].split("\n")[:HEADER_SEARCH_LINES])
    for delimiter in ("\t", ","):
        for _, cells in _rows_text(head, delimiter):
            if any(_match_header(k, cells) is not None for k in KINDS):
                return delimiter
    return previous or "\t"


_CODE_KEYS = {"ptp": ("col1", "col2"), "mue": ("code",)}


def _zeros_restored(text: str) -> str:
    """A code Excel stored as a number, with the leading zeros it lost put back: only where a code can have
    them. The all-digit CPT codes that start with 0 are the anesthesia codes 00100-01999 (CPT category I);
    "1996" was 01996. Any other short number ("62", "6236") is no code that lost its zeros: it stays as it
    is, and the row is refused naming the column, as the same row in a text file is (a real-files audit
    found 62 imported as an edit of "00062")."""
    if 3 <= len(text) <= 4 and text.isascii() and text.isdigit() and 100 <= int(text) <= 1999:
        return text.zfill(5)
    return text


def _is_data_row(kind: str, cells: list, positions: dict[str, int]) -> bool:
    """Whether a row holds codes where a header's code columns are (a data row, not a notice or title)."""
    for key in _CODE_KEYS[kind]:
        i = positions[key]
        if i >= len(cells):
            return False
        text = _zeros_restored(workbook.cell_text(cells[i]).strip())
        if not CODE_RE.match(text):
            return False
    return True


@dataclass
class _Header:
    """A table file's header: its line, column positions, cells; ``where`` names it in messages."""

    line: int
    positions: dict[str, int]
    unknown: list[str]
    cells: list
    where: str


def _find_header(rows: Iterator[tuple[int, list]], kind: str, path: Path, before: "_Header | None" = None
                 ) -> tuple[_Header, tuple[int, list] | None]:
    """The file's header row, and None; or, for a part file without a header of its own, the header of the
    part read before it and the part's first data row.

    CMS's part files (domain notes, "Real files") may each repeat the header
    or continue the rows of the part before: a part whose first row with
    codes comes before any header is read with the columns of ``before``
    (the previous part of the same import); without one it is refused.
    """
    other = "mue" if kind == "ptp" else "ptp"
    data_row = None
    for n, cells in rows:
        found = _match_header(kind, cells)
        if found is not None:
            positions, unknown, twice = found
            missing = [c.label for c in _COLUMNS[kind] if c.required and c.key not in positions]
            if missing:
                raise EditTableError(f"{path}: the header row (line {n}) of {_TABLE_NAME[kind]} has no column "
                                     + ", ".join(missing))
            if twice:
                raise EditTableError(f"{path}: the header row (line {n}) of {_TABLE_NAME[kind]} names the column "
                                     + "; ".join(twice) + " twice: which one holds the values cannot be told; "
                                     "keep one of them")
            return _Header(n, positions, unknown, cells, f"line {n}"), None
        if _match_header(other, cells) is not None:
            raise EditTableError(f"{path}: line {n} is the header of {_TABLE_NAME[other]}, not {_TABLE_NAME[kind]}: "
                                 f"use `cptkg edits import {other}`")
        if before is not None and _is_data_row(kind, cells, before.positions):
            return before, (n, cells)
        if data_row is None and _is_data_row(kind, cells, {k: i for i, k in enumerate(_CODE_KEYS[kind])}):
            data_row = n  # codes in the first columns, as the published tables have them
        if n >= HEADER_SEARCH_LINES:
            break
    expected = ", ".join(c.label for c in _COLUMNS[kind] if c.required)
    hint = (f" (line {data_row} holds codes: a part file without a header is read with the header of the part "
            "before it; give the first part, with the header, first)" if data_row is not None else "")
    if not hint and str(path).lower().endswith(_EXCEL_SUFFIXES):
        hint = " of its first sheet (only a workbook's first sheet is read: move the table to the first sheet)"
    raise EditTableError(f"{path}: not {_TABLE_NAME[kind]}: no header row with the columns {expected} "
                         f"in its first {HEADER_SEARCH_LINES} lines{hint}")


class _Extractor:
    """A data row's cells in the kind's column order (stripped text), or why not.

    ``__call__`` returns the list of values (an optional column the file lacks
    is empty text), None for a blank row, or the row's cell count when it is
    cut short before a required column. Positions are computed once: this
    runs once per row of a 500,000-row file.
    """

    def __init__(self, kind: str, pos: dict[str, int], excel: bool, code_keys: tuple[str, ...]):
        cols = _COLUMNS[kind]
        self.idx = [pos.get(c.key) for c in cols]
        self.full = max(i for i in self.idx if i is not None) + 1
        self.need = max(pos[c.key] for c in cols if c.required) + 1
        self.last_required = max((c for c in cols if c.required), key=lambda c: pos[c.key]).label
        self.excel = excel
        self.code_idx = [pos[k] for k in code_keys]
        self.header_width = 0  # the header's cells (set by the reader): a value past them has no column
        self.beyond: list[int] = []  # rows holding a value past the header's last column (not read)
        self.restored: list[str] = []  # codes Excel stored as numbers, read with their zeros put back ("100 -> 00100")

    def __call__(self, cells: list):
        if self.excel:
            cells = [workbook.cell_text(v) for v in cells]
            for i in self.code_idx:  # a code typed as a number has lost its leading zeros (01996 -> 1996)
                if i < len(cells):
                    was, cells[i] = cells[i], _zeros_restored(cells[i])
                    if cells[i] != was:
                        self.restored.append(f"{was} -> {cells[i]}")
        width = len(cells)
        if width < self.full:
            if not any(c.strip() for c in cells):
                return None
            if width < self.need:
                return width
            cells = cells + [""] * (self.full - width)
        values = [cells[i].strip() if i is not None else "" for i in self.idx]
        if not any(values) and not any(c.strip() for c in cells):
            return None
        return values


def _data_rows(rows, block: "_HeaderBlock", own_header: bool, extract: "_Extractor", header_line: int, kind: str,
               add, counted: list[int]):
    """The data rows of one part as ``(row number, values)``: past the header block (a part read with
    another part's header has none to skip), each row cut into the columns the header named. A row cut
    short or holding a value too long is reported on its row and not yielded; every data row, yielded
    or not, is counted in ``counted[0]`` (the "bad rows of N" total)."""
    in_header = own_header
    for n, cells in rows:
        if in_header:
            if block.continues(cells):
                continue
            in_header = not any(_norm(c) for c in cells)
        values = extract(cells)
        if values is None:
            continue
        counted[0] += 1
        if extract.header_width and len(cells) > extract.header_width and any(
                str(c if c is not None else "").strip() for c in cells[extract.header_width:]):
            extract.beyond.append(n)
        if type(values) is int:
            add(n, None, f"has {values} cell{'' if values == 1 else 's'}; the header ({header_line}) has columns "
                         f"up to {extract.last_required}: the row is cut short"
                         + (", or its cells are separated by another character than the header's (tab or comma)"
                            if values == 1 else ""))
            continue
        if _too_long(n, values, kind, add):
            continue
        yield n, values


def _too_long(n: int, values: list[str], kind: str, add) -> bool:
    """Report each cell of the row past MAX_EDIT_TEXT_CHARS (the loader's bound on a value); True if any."""
    limit = limits.MAX_EDIT_TEXT_CHARS
    if max(map(len, values)) <= limit:
        return False
    for col, value in zip(_COLUMNS[kind], values):
        if len(value) > limit:
            add(n, col.label, f"is {len(value):,} characters long; a cell of an edit table holds at most {limit:,} "
                              f"characters (it starts {value[:20]!r})")
    return True


def _literal(cache: dict[str, str], text: str) -> str:
    lit = cache.get(text)
    if lit is None:
        lit = cache[text] = turtle_string(text)
    return lit


def _part_header(rows, kind: str, path: Path, part: "_Part"):
    """A part file's header (its own, or the part before's when it starts with data): the rows from its first
    data row, the header found, the notices it gives (columns not read, or the header borrowed), and
    whether the header is the part's own (then its continuation lines follow it)."""
    rows = iter(rows)
    found, first = _find_header(rows, kind, path, part.before)
    part.header = found
    notices = [f"column {_shown(u)} is not read" for u in found.unknown] if first is None else [
        f"no header of its own: read with the columns of the header of {found.where}"]
    if first is not None:
        rows = itertools.chain([first], rows)
    return rows, found, notices, first is None


def _read_ptp(rows, out, problems: _Problems, path: Path, excel: bool, table: "_Table", part: "_Part",
              seen: dict) -> tuple[int, int, list[str]]:
    rows, found, notices, own_header = _part_header(rows, "ptp", path, part)
    header_line, pos, unknown, header = found.where, found.positions, found.unknown, found.cells
    if "rationale" not in pos and own_header:
        # the kind of an edit is read from its rationale ("Mutually exclusive procedures ..."): without the
        # column every edit is a component edit, which a reader of the output should know (an audit)
        notices.append("no PTP Edit Rationale column: every pair edit is read as a component edit (column 2 a "
                       "component of column 1); a mutually exclusive edit is told by its rationale")
    extract = _Extractor("ptp", pos, excel, ("col1", "col2"))
    extract.header_width = _width(header)
    iso = _Dates().iso
    add = problems.add
    literals: dict[str, str] = {}
    n_edits = blank_deletions = 0
    reversed_pairs: list[str] = []
    overlapping: list[str] = []  # one pair's rows in force on a common day
    write = out.write
    p = part.prefix
    counted = [0]
    for n, values in _data_rows(rows, _HeaderBlock("ptp", header, pos), own_header, extract, header_line, "ptp",
                                add, counted):
        col1, col2, prior, effective, deletion, mod, rationale = values
        bad = False
        if not CODE_RE.match(col1):
            add(n, "Column 1", _code_problem(col1))
            bad = True
        if not CODE_RE.match(col2):
            add(n, "Column 2", _code_problem(col2))
            bad = True
        if not bad and col1 == col2:
            add(n, "Column 2", f"{col2!r} is the column 1 code too: an edit pairs two different codes")
            bad = True
        if prior and prior != "*":
            add(n, "*=in existence prior to 1996", f"{_shown(prior)} is not the prior-to-1996 flag ('*' or empty)")
            bad = True
        eff = iso(effective)
        if eff is None:
            add(n, "Effective Date", _date_problem(effective, "effective date"))
            bad = True
        dele = None
        if not deletion:  # in force from its effective date, as '*' (module docstring: "Blank deletion date")
            blank_deletions += 1
        elif deletion != "*":
            dele = iso(deletion)
            if dele is None:
                add(n, "Deletion Date", _date_problem(deletion, "deletion date") + " or '*' for no deletion date")
                bad = True
            elif eff is not None and dele < eff:
                add(n, "Deletion Date", f"{deletion} is before the effective date {effective}: "
                                        "an edit cannot end before it starts")
                bad = True
        if mod not in ("0", "1", "9"):
            add(n, "Modifier", f"{_shown(mod)} is not a modifier indicator (0, 1 or 9)" if mod
                else "is empty: the modifier indicator (0, 1 or 9) is required")
            bad = True
        if bad:
            continue
        key = (col1, col2, eff)
        earlier = seen.get(key)
        if earlier is not None:
            add(n, None, f"repeats the edit {col1}/{col2} effective {effective} of {part.row_of(*earlier)} "
                         "(one row per pair and effective date)")
            continue
        seen[key] = (part, n)
        # a pair listed both ways, in force on a common day: a claim billing both codes has both lines denied
        # (each edit pays its column 1 and denies the other); CMS lists a pair once, so it is said, not guessed
        for r_eff, r_dele, r_part, r_n in seen.get(("pair", col2, col1), ()):
            if _share_a_day(eff, dele, r_eff, r_dele):
                reversed_pairs.append(f"{col1}/{col2} ({part.row_of(part, n)}) and {col2}/{col1} "
                                      f"({part.row_of(r_part, r_n)})")
                break
        for r_eff, r_dele, r_part, r_n in seen.get(("pair", col1, col2), ()):
            if _share_a_day(eff, dele, r_eff, r_dele):
                newer, older = ((part, n), (r_part, r_n)) if eff > r_eff else ((r_part, r_n), (part, n))
                overlapping.append(f"{col1}/{col2} ({part.row_of(*older)} and the later {part.row_of(*newer)})")
                break
        seen.setdefault(("pair", col1, col2), []).append((eff, dele, part, n))
        if problems.rows:
            continue  # the import fails: stop writing, keep validating
        rat = f" ont:rationale {_literal(literals, rationale)} ;" if rationale else ""
        kind_iri = "ont:MutuallyExclusiveEdit" if rationale[:18].lower() == "mutually exclusive" \
            else "ont:ComponentEdit"
        deleted = f' ont:deletionDate "{dele}"^^xsd:date ;' if dele else ""
        write(f'{p}:{n} a ont:PairEdit ; ont:column1Code "{col1}" ; ont:column2Code "{col2}" ;'
              f' ont:editKind {kind_iri} ; ont:modifierIndicator "{mod}" ; ont:editScope ont:SameProvider ;'
              f' ont:effectiveDate "{eff}"^^xsd:date ;{deleted}{rat} dct:source {p}:source ; ont:sourceRow {n} .\n')
        table.add(n, part, column1Code=col1, column2Code=col2, editKind=ONT_NS + kind_iri[4:], modifierIndicator=mod,
                  editScope=ONT_NS + "SameProvider", effectiveDate=eff, deletionDate=dele, rationale=rationale or None,
                  sourceRow=n)
        n_edits += 1
    if blank_deletions and not problems.rows:
        notices.append(f"{_count(blank_deletions, 'row')} with a blank Deletion Date read as not deleted (in force "
                       "from the effective date, as '*')")
    if reversed_pairs and not problems.rows:
        notices.append(f"{_count(len(reversed_pairs), 'pair')} listed in both directions and in force together, so a "
                       f"claim billing both codes has both lines denied: {'; '.join(reversed_pairs[:3])}"
                       + (f" (and {len(reversed_pairs) - 3:,} more)" if len(reversed_pairs) > 3 else "")
                       + ": check the table with its publisher")
    if overlapping and not problems.rows:
        notices.append(_overlap_note(overlapping, "pair", "the pair"))
    notices += _beyond_note(extract, problems)
    return n_edits, counted[0], notices


def _share_a_day(eff: str, dele: str | None, r_eff: str, r_dele: str | None) -> bool:
    """Are two rows, each in force from its effective date up to (not on) its deletion date (ont:deletionDate),
    in force on a common day? A row deleted on its effective date is in force on none."""
    return (eff != dele and r_eff != r_dele and (dele is None or r_eff < dele)
            and (r_dele is None or eff < r_dele))


def _width(header: list) -> int:
    """The header's cells up to its last named one."""
    named = [i for i, c in enumerate(header) if str(c if c is not None else "").strip()]
    return named[-1] + 1 if named else 0


def _beyond_note(extract: "_Extractor", problems: "_Problems") -> list[str]:
    """What the reader read otherwise than the cells say: values past the header, codes Excel stored as numbers."""
    rows, out = extract.beyond, []
    if problems.rows:
        return out
    if rows:
        out.append(f"{_count(len(rows), 'row')} with a value past the header's last column, which is not read (first: "
                   f"row {rows[0]}): a column without a name in the header")
    if extract.restored:
        # said, as every other reading is (an auditor's finding: 100 became 00100 with no word)
        out.append(f"{_count(len(extract.restored), 'code')} stored by Excel as a number read with the leading zeros "
                   f"it lost (first: {extract.restored[0]}): the anesthesia codes 00100-01999 are written with them")
    return out


def _overlap_note(found: list[str], noun: str, what: str) -> str:
    """Rows of one edit in force on a common day: the later effective row is applied from its date (the
    rules' edit.superseded and units.superseded), which a reader of the import is told."""
    return (f"{_count(len(found), noun)} with more than one row in force on a common day: the later row applies "
            f"to {what} from its effective date, the earlier one before it: {'; '.join(found[:3])}"
            + (f" (and {len(found) - 3:,} more)" if len(found) > 3 else ""))


def _count(n: int, one: str) -> str:
    return f"{n:,} {one}{'' if n == 1 else 's'}"


def _read_mue(rows, out, problems: _Problems, path: Path, excel: bool, table: "_Table", part: "_Part",
              seen: dict) -> tuple[int, int, list[str]]:
    rows, found, notices, own_header = _part_header(rows, "mue", path, part)
    header_line, pos, unknown, header = found.where, found.positions, found.unknown, found.cells
    if _norm(header[pos["value"]]).startswith(MUE_VALUE_COLUMNS[1:]):  # an outpatient hospital or DME table: say so
        notices.append(f"MUE values read from the column {_shown(' '.join(str(header[pos['value']]).split()), 60)}")
    extract = _Extractor("mue", pos, excel, ("code",))
    extract.header_width = _width(header)
    # the value column as the file names it ("Practitioner Services MUE Values", "DME Supplier Services MUE
    # Values" ...): a problem named "column MUE Value" sent the user looking for a header the file lacks
    value_column = " ".join(str(header[pos["value"]]).split())[:80] or "MUE Value"
    iso = _Dates().iso
    add = problems.add
    literals: dict[str, str] = {}
    n_edits = 0
    overlapping: list[str] = []  # codes given by rows of several effective dates
    has_eff = "effective" in pos
    p = part.prefix
    counted = [0]
    for n, values in _data_rows(rows, _HeaderBlock("mue", header, pos), own_header, extract, header_line, "mue",
                                add, counted):
        code, value, mai_text, rationale, effective = values
        bad = False
        if not CODE_RE.match(code):
            add(n, "HCPCS/CPT Code", _code_problem(code))
            bad = True
        if not value.isdigit() or not value.isascii():
            add(n, value_column, f"{_shown(value)} is not a number of units (a whole number, 0 or more)"
                f"{_DIGITS_NOTE if _foreign_digits(value) else ''}" if value
                else "is empty: the maximum units of service are required")
            bad = True
        elif int(value) > limits.MAX_MUE_UNITS:
            add(n, value_column, f"{_shown(value)} is more units than an MUE holds (at most {limits.MAX_MUE_UNITS:,})")
            bad = True
        m = MAI_RE.match(mai_text)
        mai = m.group(1) if m else None
        if mai not in ("1", "2", "3"):
            add(n, "MUE Adjudication Indicator",
                f"{_shown(mai_text)} is not an MUE adjudication indicator (1 line edit, 2 date of service edit: "
                "policy, 3 date of service edit: clinical)" if mai_text
                else "is empty: the MUE adjudication indicator (1, 2 or 3) is required")
            bad = True
        eff = None
        if has_eff:
            eff = iso(effective)
            if eff is None:
                add(n, "Effective Date", _date_problem(effective, "effective date"))
                bad = True
        if bad:
            continue
        key = (code, eff)
        earlier = seen.get(key)
        if earlier is not None:
            add(n, None, f"repeats the MUE for {code}{' effective ' + effective if eff else ''} of "
                         f"{part.row_of(*earlier)} (one MUE per code{' and effective date' if has_eff else ''})")
            continue
        seen[key] = (part, n)
        if eff is not None:
            others = seen.setdefault(("mue-dated", code), [])
            if len(others) == 1:  # said once per code
                first = min(others)
                newer, older = ((part, n), first[1:]) if eff > first[0] else (first[1:], (part, n))
                overlapping.append(f"{code} ({part.row_of(*older)} and the later {part.row_of(*newer)})")
            others.append((eff, part, n))
        if problems.rows:
            continue
        rat = f" ont:rationale {_literal(literals, rationale)} ;" if rationale else ""
        effective_date = f' ont:effectiveDate "{eff}"^^xsd:date ;' if eff else ""
        out.write(f'{p}:{n} a ont:UnitEdit ; ont:editCode "{code}" ; ont:maxUnits {int(value)} ;'
                  f' ont:adjudicationIndicator "{mai}" ;{effective_date}{rat} dct:source {p}:source ;'
                  f' ont:sourceRow {n} .\n')
        table.add(n, part, editCode=code, maxUnits=int(value), adjudicationIndicator=mai, effectiveDate=eff,
                  rationale=rationale or None, sourceRow=n)
        n_edits += 1
    if overlapping and not problems.rows:
        notices.append(_overlap_note(overlapping, "code", "the code"))
    notices += _beyond_note(extract, problems)
    return n_edits, counted[0], notices
