"""Spreadsheet-safe CSV cells (CSV injection, OWASP).

A spreadsheet opening a CSV file runs a cell that begins with ``=``, ``+``,
``-`` or ``@`` as a formula (``=HYPERLINK(...)``, ``=CMD|'/C CALC'!A0``), and
a leading tab or carriage return can hide one. Every CSV that cptkg writes
(``check --output csv``, ``batch -o x.csv`` on DuckDB and Spark, the
explorer's batch download, the ``rules-csv`` and ``csv`` exports) passes
its cells through :func:`safe_cell`, which puts a ``'`` in front of such a
cell, as OWASP recommends: the spreadsheet shows the text, it does not run
it. A plain number (``-3``, ``+1.5``) is left alone: it is no formula, and
a ``'`` would turn it into text. A cell that already begins with ``'`` and a
trigger (``'=F5``) gets one more ``'``, so it never reads as the guarded
form of another cell (``=F5`` is written ``'=F5``, ``'=F5`` is ``''=F5``). JSON and Parquet output keep the raw value.

Then, as every writer does (cptkg.controls), a control character in a
cell (NUL, ESC, CR, a line break, a bidi override) is shown escaped as the
text report shows it (``\x00``, ``\n``): every CSV writer here escapes its
cells (:class:`_Writer`), and :func:`escape_csv_file` does the same to a CSV
file an engine wrote (``cptkg batch``), so a value never splits a row or a
cell and a spreadsheet never receives a raw control character.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = "[+-]?[0-9]+([.][0-9]+)?"  # no backslash: the same in DuckDB and Spark SQL literals
_NUMBER = re.compile(PLAIN_NUMBER)


def safe_cell(value: Any) -> Any:
    """The cell as a spreadsheet may open it: text that would run as a formula gets a leading ``'``.

    >>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("-2+3"), safe_cell("-3"), safe_cell("10021"), safe_cell(7)
    ('\\'=HYPERLINK("http://x")', "'-2+3", '-3', '10021', 7)
    """
    if isinstance(value, str) and value[:1] in TRIGGERS and not _NUMBER.fullmatch(value):
        return "'" + value
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in TRIGGERS + ("'",):
        # a value that already reads as a guarded one ('=F5) gets its own ', so that it and the value the
        # guard wrote it for (=F5) stay two cells (both read '=F5: a batch audit)
        return "'" + value
    return value


def safe_row(row: dict | Iterable) -> dict | list:
    if isinstance(row, dict):
        return {k: safe_cell(v) for k, v in row.items()}
    return [safe_cell(v) for v in row]


def safe_frame(df):
    """A pandas DataFrame with every cell made safe (for ``to_csv``)."""
    return df.map(safe_cell) if hasattr(df, "map") else df.applymap(safe_cell)


def safe_sql(expr: str, regex_full) -> str:
    """The same rule in SQL (DuckDB and Spark): ``regex_full(expr, pattern)`` is the backend's full match."""
    first, second = f"substr({expr}, 1, 1)", f"substr({expr}, 2, 1)"
    triggers = "'=', '+', '-', '@', chr(9), chr(13)"
    return (f"CASE WHEN {first} IN ({triggers}) AND NOT {regex_full(expr, PLAIN_NUMBER)} "
            f"THEN concat(chr(39), {expr}) WHEN {first} = chr(39) AND {second} IN ({triggers}, chr(39)) "
            f"THEN concat(chr(39), {expr}) ELSE {expr} END")


class _Writer:
    """csv.writer with safe cells, quoting any row holding a carriage return.

    Python's csv module quotes a field holding the line terminator ("\\n") but
    not a lone "\\r", which a reader (and a spreadsheet) takes as the end of
    the row: the rest of the cell would become a cell of its own, unguarded.
    """

    def __init__(self, buf, **kw):
        import csv

        kw.setdefault("lineterminator", "\n")
        self._minimal = csv.writer(buf, **kw)
        self._all = csv.writer(buf, **{**kw, "quoting": csv.QUOTE_ALL})

    def writerow(self, row) -> None:
        row = [_escaped(v) for v in safe_row(row)]
        w = self._all if any(isinstance(v, str) and "\r" in v for v in row) else self._minimal
        w.writerow(row)

    def writerows(self, rows) -> None:
        for r in rows:
            self.writerow(r)


_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\n"


def _escaped(value: Any) -> Any:
    """A text cell with its control characters shown escaped (after the formula guard, as in SQL then
    :func:`escape_csv_file`); other values unchanged."""
    if isinstance(value, str) and not value.isprintable():
        from cptkg.controls import one_line

        return one_line(value)
    return value


def escape_csv_file(path, data_rows: int | None = None) -> bool:
    """Rewrite the CSV file at ``path`` (header and rows, as an engine wrote it) with every cell's control
    characters shown escaped, when a cell holds one; True when it was rewritten.

    The file is first scanned as bytes (printable ASCII set aside, the rest
    decoded and tested with ``str.isprintable``, line breaks counted: 0.16 s
    for the 208 MB of a 1,000,000-line batch's verdicts); it is
    rewritten only when it holds a non-printable character other than the
    line break, or more lines than ``data_rows`` + 1 (a quoted line break
    inside a cell). The rewrite goes to a file beside it,
    renamed over it when complete.
    """
    import csv
    import os
    import secrets

    import codecs

    lines = 0
    dirty = False
    # bytes other than printable ASCII and the line break: the C0 controls and DEL (never printable) and
    # the bytes of the non-ASCII characters, which (ASCII taken out) still decode to those characters
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            lines += chunk.count(b"\n")
            rest = chunk.translate(None, _PLAIN_BYTES)
            if rest and not decoder.decode(rest).isprintable():
                dirty = True
                break
    if not dirty and (data_rows is None or lines == data_rows + 1):
        return False
    tmp = f"{path}.{secrets.token_hex(4)}.escaping"
    try:
        with open(path, encoding="utf-8", newline="") as src, \
                open(tmp, "w", encoding="utf-8", newline="") as dst:
            w = csv.writer(dst, lineterminator="\n")
            for row in csv.reader(src):
                w.writerow([_escaped(c) for c in row])
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


class _DataWriter(_Writer):
    """The same quoting, without the formula guard: for rows cptkg reads back itself."""

    def writerow(self, row) -> None:
        row = list(row)
        w = self._all if any(isinstance(v, str) and "\r" in v for v in row) else self._minimal
        w.writerow(row)


def data_writer(buf, **kw) -> _Writer:
    """A ``csv.writer`` for rows cptkg writes only to read them back (batch's claim rows of an 837P):
    a lone carriage return is quoted as in :func:`writer`, but no cell is guarded, because a guard
    would change the values judged; no person opens these files, the verdicts are guarded."""
    return _DataWriter(buf, **kw)


def writer(buf, **kw) -> _Writer:
    """A spreadsheet-safe ``csv.writer`` (lineterminator "\\n" unless given)."""
    return _Writer(buf, **kw)


class DictWriter(_Writer):
    """A spreadsheet-safe ``csv.DictWriter``."""

    def __init__(self, buf, fieldnames, **kw):
        super().__init__(buf, **kw)
        self.fieldnames = list(fieldnames)

    def writeheader(self) -> None:
        super().writerow(self.fieldnames)

    def writerow(self, row) -> None:
        super().writerow([row.get(k, "") for k in self.fieldnames] if isinstance(row, dict) else row)


def frame_csv(df) -> str:
    """A pandas DataFrame as spreadsheet-safe CSV (header, no index; empty cells for missing values)."""
    import io

    import pandas as pd

    def cell(v):
        # a missing value of any kind (None, NaN, pandas' NA of a nullable column) is an empty cell, not "<NA>";
        # true/false as the CLI's CSV writes them, not Python's True/False (an analyst walk)
        if v is None or (not isinstance(v, (str, bytes, list, tuple, dict)) and pd.isna(v) is True):
            return ""
        if isinstance(v, bool) or type(v).__name__ == "bool_":
            return "true" if v else "false"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return v

    buf = io.StringIO()
    w = writer(buf)
    w.writerow([str(c) for c in df.columns])
    for rec in df.itertuples(index=False, name=None):
        w.writerow([cell(v) for v in rec])
    return buf.getvalue()


#: a quoted value of a claim CSV with a later line holding a comma: the rows after a quote opened and
#: never closed, read into it (a value's own line break alone is that value's problem, shown escaped)
SWALLOWED_ROWS = "[\r\n][^\r\n]*,"
#: the words check and batch use for a CSV record of more values than its file has columns
MORE_VALUES = "the record does not have one field per column (more values than columns)"
#: the words check and batch use for it
OVER_LINES = ("a quoted value runs over more than one line of the file, with a comma on a later line: a quote "
              "opened there and not closed (it reads the rows after it into the value), or a value of several lines "
              "holding a comma; the rows after it cannot be told apart, so no claim of the file is judged: close the "
              "quote, or take the line breaks out of that value")
#: the words check and batch use for the last record of a file whose quote never closes (see :func:`unclosed_quote`)
UNCLOSED_QUOTE = ("a quote opened in field {field} is never closed, so the rest of the file was read into that "
                  "value: close the quote")
UNCLOSED_PREFIX = UNCLOSED_QUOTE.split("{", 1)[0]


def unclosed_quote(values: list[tuple[str, str | None]], tail: str) -> str | None:
    """The field of a file's last record whose quote opened and never closed, or None.

    A quote never closed on the last record reads the rest of the file into its value, with no later row
    whose comma would show it (:data:`SWALLOWED_ROWS`): ``...,"N3,nurse,1,`` was read as provider id
    ``N3,nurse,1,`` and the row refused for "provider_role: is missing", a field the clerk sees filled,
    and ``...,1,"KD`` was read as modifier KD (inputs audits). Such a value is the record's last one that
    is not empty, and the file ends with it: the text before it in the file ends with the opening quote,
    where a closed quoted value leaves its closing quote at the end of the file.

    ``values``: the record's (field, value) in column order; ``tail``: the end of the file, at least as
    long as that value and a few characters more.
    """
    from cptkg.controls import CELL_STRIP

    given = [(k, (v or "").strip(CELL_STRIP)) for k, v in values]
    last = next(((k, v) for k, v in reversed(given) if v), None)
    if last is None:
        return None
    field, value = last
    end = tail.rstrip(CELL_STRIP)
    if not end.endswith(value):
        return None
    return field if end[:len(end) - len(value)].rstrip(CELL_STRIP).endswith('"') else None


# Why not fewer refusals: a value of several lines whose later lines hold commas is read whole by RFC 4180,
# but a quote never closed reads short rows (4 or 5 commas, a record of fewer values than columns) into the
# value the same way, and those claims vanished with exit 0 when only six commas were taken for a row (a
# reviewer's audit). Refusing the file, naming the row and field, is the side that loses nothing.


#: byte-order marks of the UTF-16 and UTF-32 text a spreadsheet saves as "Unicode Text"
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
              (b"\xfe\xff", "UTF-16"))
SAVE_AS_UTF8 = "save it as UTF-8 (a CSV from Excel: Save As, 'CSV UTF-8 (Comma delimited)')"


def wide_text(head: bytes) -> str | None:
    """Why a file that begins with ``head`` is not UTF-8 text because it is UTF-16 or UTF-32, or None."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return f"the file is {name} text (a spreadsheet's 'Unicode Text'), not UTF-8; {SAVE_AS_UTF8}"
    return None


def not_utf8(path_or_data, chunk: int = 1 << 20) -> str | None:
    """Where a CSV file (a path, or its bytes) stops being UTF-8 text, in the words an analyst can act on:
    the byte, the row and the column of the header it falls in; None when it is UTF-8 throughout.

    A name saved in a Windows or Latin-1 code page (an accented letter) is the usual cause. The file is
    read a block at a time: only a file already refused is read here."""
    import codecs
    import csv as _csv
    import io

    src = io.BytesIO(path_or_data) if isinstance(path_or_data, (bytes, bytearray)) else open(path_or_data, "rb")
    with src:
        head = src.read(4)
        wide = wide_text(head)
        if wide:
            return wide
        src.seek(0)
        from cptkg.files import holds_binary

        if holds_binary(src.read(4096)):  # an image, a zip: no character set to blame (an analyst's audit)
            return "it holds binary data, not text: a CSV file is text"
        src.seek(0)
        dec, at = codecs.getincrementaldecoder("utf-8")(), 0
        while True:
            block = src.read(chunk)
            try:
                dec.decode(block, final=not block)
            except UnicodeDecodeError as e:
                bad = at - len(dec.getstate()[0]) + e.start if e.start >= 0 else at
                break
            if not block:
                return None
            at += len(block)
        src.seek(0)
        before = src.read(bad + 1)
    text = before[:bad].decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.split("\n")
    row = len(lines) - 1  # row 1 is the first after the header
    where = f"byte {bad:,} (0x{before[bad]:02X})"
    if row >= 1:
        header = next(_csv.reader([lines[0]]), [])
        col = next(_csv.reader([lines[-1] + "x"]), [""])
        name = header[len(col) - 1].strip() if 0 < len(col) <= len(header) else ""
        where += f", row {row}" + (f", field {name}" if name else "")
    else:
        where += ", in the header"
    return (f"not UTF-8 text: {where}; a name or address saved in another character set (an accented letter?) "
            f"is the usual cause: {SAVE_AS_UTF8}")


def column_key(name: str) -> str:
    """A column name as every claim and history reader matches it: case, surrounding spaces, and spaces or
    hyphens between words aside (``Claim ID``, ``Date of Service`` and ``provider-role``, as exports and
    spreadsheets head their columns, are claim_id, date_of_service and provider_role)."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())
