"""Read claim-line files into Arrow with every column as text and a row number.

Every field is read as text so that validation (in SQL) can name the row and
field of a bad value instead of the reader refusing the whole file. A CSV
record with the wrong number of fields is kept as a row of its own whose
fields are all missing, so it still gets its error verdict: rows in = rows out.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cptkg.spreadsheet import column_key


RECORD_ERROR = "cptkg_record_error"
#: a record error that is a modifier of a Parquet list column the text form would split or lose ("KD,JW",
#: null): LIST_ITEM + the item's 0-based place + UNIT_SEP + the problem, said as the field's problem on its line
LIST_ITEM, UNIT_SEP = "\x1elist-item:", "\x1f"
#: the columns the reader adds: a file's own column of one of these names is not read (no claim field has
#: such a name). Read, a file's ``row_no`` replaced the row numbers, and claims of different ids were judged
#: as one; its ``cptkg_record_error`` made every row an error.
ADDED_COLUMNS = ("row_no", RECORD_ERROR)


def csv_header(path, skip_spaces: bool = False) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh, skipinitialspace=skip_spaces), [])
    if not header:
        raise ValueError(f"{path}: empty file (no header row)")
    from collections import Counter

    from cptkg.limits import MAX_CSV_COLUMNS

    if len(header) > MAX_CSV_COLUMNS:
        raise ValueError(f"{path}: {len(header):,} columns; a claim file has at most {MAX_CSV_COLUMNS:,}")
    dupes = sorted(n for n, k in Counter(column_key(h) for h in header if h.strip()).items() if k > 1)
    if dupes:
        raise ValueError(f"{path}: column {dupes[0]} appears twice (which one holds the claim's values?)")
    return header


_SPACED_QUOTE = re.compile(rb'(?:^|[,\r\n]) +"')


def _spaced_quotes(path) -> bool:
    """Whether a value of the file starts with spaces and then a quote (``A, "KD,59"``)."""
    tail = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            if _SPACED_QUOTE.search(tail + chunk):
                return True
            tail = chunk[-256:]
    return False


def _read_csv_skipping_spaces(path):
    """The file read by Python's CSV reader with ``skipinitialspace``, as check's reader reads it, in the
    shape of :func:`_read_csv`'s result: a quote after spaces opens a quoted value (``A, "KD,59"`` is two
    values), where Arrow's reader, which has no such option, kept the quotes as text and split the value
    at its comma. Used only for a file holding such a value: it is slower than Arrow's."""
    header = csv_header(path, skip_spaces=True)
    cols: list[list[str]] = [[] for _ in header]
    bad: list[tuple[int | None, list[str]]] = []  # a record set aside: its values, already read
    k = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh, skipinitialspace=True)
        next(rows, None)
        try:
            for fields in rows:
                if not fields:
                    continue  # an empty line: no record, as Arrow's reader and check's skip it
                k += 1
                if len(fields) != len(header):
                    bad.append((k + 1, fields))  # numbered as Arrow numbers records (header: 1)
                    continue
                for c, v in zip(cols, fields):
                    c.append(v)
        except csv.Error as e:
            raise ValueError(f"{path}, row {k + 1}: {e}") from None
    return pa.Table.from_arrays([pa.array(c, pa.string()) for c in cols], names=header), bad


def _read_csv(path, use_threads: bool):
    if _spaced_quotes(path):
        return _read_csv_skipping_spaces(path)
    bad: list[tuple[int | None, str]] = []

    def on_invalid(row):
        bad.append((row.number, row.text))
        return "skip"

    # Read the header first, so every column can be typed as text. ``newlines_in_values``: the reader
    # cuts the file into blocks of a megabyte; told values hold no line break, it cut inside a quoted
    # value that held one and read its halves as records (or refused the file in words about its own
    # options). Following quotes costs nothing measurable: 0.11 to 0.22 s either way for 1M lines.
    header = csv_header(path)

    def read(block_size: int | None):
        bad.clear()
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, **({"block_size": block_size} if block_size else {})),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    try:
        table = read(None)
    except pa.ArrowInvalid as e:
        # a record longer than the reader's block (a cell of megabytes) refused the whole file in the reader's
        # words ("straddling object straddles two block boundaries"; an attack audit): read it in blocks as
        # large as the file, so that record reaches the row checks and is refused as its field's error
        if "straddl" not in str(e):
            raise
        import os

        table = read(min(os.path.getsize(path) + 1, 2 ** 31 - 1))
    return table, bad


def _refuse_values_over_lines(t: pa.Table, path, rows) -> None:
    """A quoted CSV value holding a line break: a quote opened and never closed reads every later row into
    it, and those claims vanished from the output (rows in != rows out). No claim field holds a line break."""
    import pyarrow.compute as pc

    from cptkg.spreadsheet import OVER_LINES, SWALLOWED_ROWS

    for name in t.column_names:
        # a later line of the value holding a comma: rows read into it (a lone line break is a value's own)
        at = pc.index(pc.fill_null(pc.match_substring_regex(t.column(name), SWALLOWED_ROWS), False), True).as_py()
        if at is not None and at >= 0:
            raise ValueError(f"{path}: row {rows[at]}, field {name}: {OVER_LINES}")


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet column as text: a list (modifiers as a Parquet list) its items joined with ';', as the
    DuckDB scan of the file joins them (cptkg.engines.sql.duckdb)."""
    import pyarrow.compute as pc

    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return pc.binary_join(column.cast(pa.list_(pa.string())), ";")
    return column.cast(pa.string())


def _set_aside(bad: list[tuple[int, str | list[str]]], header: list[str]):
    """The records set aside (not one value per column: each as its text, or its values already read), as
    ``cptkg check``'s reader takes them: a record of fewer values is a row whose missing values are empty (a
    blank one is skipped, its row number taken, as check numbers it); a record of more values is an error
    row (its values cannot be placed). Returns (short rows padded, their numbers, longer rows, their numbers)."""
    import io

    short, short_no, longer, longer_no = [], [], [], []
    # a record set aside may hold a value past the csv module's field limit (131,072 characters: a quote
    # opened and never closed reads the rest of the file into one value): the limit is raised to the
    # longest such record while they are split, as check's reader raises it, so the record becomes its
    # claim's error, not "the duckdb engine failed: field larger than field limit" (an audit)
    limit = csv.field_size_limit()
    csv.field_size_limit(max([limit] + [len(t) + 1 for _, t in bad if isinstance(t, str)]))
    try:
        return _split_aside(bad, header, short, short_no, longer, longer_no)
    finally:
        csv.field_size_limit(limit)


def _split_aside(bad, header, short, short_no, longer, longer_no):
    import io

    for num, text in bad:
        fields = text if isinstance(text, list) else next(csv.reader(io.StringIO(text or "", newline="")), [])
        if len(fields) > len(header):
            longer.append(fields)
            longer_no.append(num)
        elif any(f.strip() for f in fields):
            short.append(fields + [""] * (len(header) - len(fields)))
            short_no.append(num)
    return short, short_no, longer, longer_no


def _without_blank_records(t: pa.Table, names: list[str]) -> pa.Table:
    """The rows of ``t`` but those whose every value is blank (``,,,,``): check's reader skips such a
    record and counts its row number, so its number stays taken here too."""
    import pyarrow.compute as pc

    from cptkg.controls import CELL_STRIP  # the white space check's reader and the engines strip

    blank = None
    for c in names:
        b = pc.fill_null(pc.equal(pc.utf8_trim(t.column(c), characters=CELL_STRIP), ""), True)
        blank = b if blank is None else pc.and_(blank, b)
    if blank is None or not pc.any(blank).as_py():
        return t
    return t.filter(pc.invert(blank))


def read_arrow(path: str | Path, kind: str) -> pa.Table:
    if kind == "parquet":
        t = pq.read_table(path)
        t = pa.Table.from_arrays([_as_text(c) for c in t.columns], names=t.column_names)
        bad: list[tuple[int, str]] = []
    else:
        t, bad = _read_csv(path, use_threads=True)
        if bad and any(n is None for n, _ in bad):
            t, bad = _read_csv(path, use_threads=False)
    header = [column_key(n) for n in t.column_names]  # as the file's records hold their fields
    t = t.rename_columns(header)
    # a column with no name is not read (check's reader drops it; two of them made Arrow's names clash)
    kept = [i for i, n in enumerate(header) if n and n not in ADDED_COLUMNS]
    if len(kept) < len(header):
        t = t.select(kept)
    names = t.column_names
    # File line numbers of the records Arrow set aside -> data row numbers (header is line 1).
    bad = sorted((int(num) - 1, text) for num, text in bad if num is not None)
    taken = {num for num, _ in bad}
    short, short_no, longer, longer_no = _set_aside(bad, header)
    n = t.num_rows
    good_rows = [r for r in range(1, n + len(taken) + 1) if r not in taken][:n] if taken else list(range(1, n + 1))
    if short:  # fewer values than columns: the missing ones are empty, as check's reader and Spark's read them
        t = pa.concat_tables([t, pa.table({c: pa.array([r[i] for r in short], pa.string())
                                           for c, i in zip(names, kept)})])
        good_rows += short_no
    if kind != "parquet":
        _refuse_values_over_lines(t, path, good_rows)
    t = t.append_column("row_no", pa.array(good_rows, pa.int64()))
    if kind != "parquet" and t.num_rows:
        t = _without_blank_records(t, names)
        t = _unclosed_last_quote(t, path, names, max(longer_no, default=0))
    if longer:
        # more values than columns: the row is an error of its claim (and a history row of its patient), so
        # the claim id and patient id are kept, and the rest of that claim is not judged without this row
        cols = {c: pa.nulls(len(longer), pa.string()) for c in names}
        # and its line number and code as the record gives them in their places, as check's reader shows
        # them (the row is an error: no rule reads them; an auditor joins check's and batch's rows by them)
        for c in ("claim_id", "patient_id", "line", "code"):
            if c in names:
                i = header.index(c)
                cols[c] = pa.array([r[i].strip() or None for r in longer], pa.string())
        from cptkg.spreadsheet import MORE_VALUES

        extra = pa.table({**cols, "row_no": pa.array(longer_no, pa.int64()),
                          RECORD_ERROR: pa.array([MORE_VALUES] * len(longer))})
        if RECORD_ERROR not in t.column_names:
            t = t.append_column(RECORD_ERROR, pa.nulls(t.num_rows, pa.string()))
        t = pa.concat_tables([t, extra])
    return t


def _unclosed_last_quote(t: pa.Table, path, names: list[str], after: int) -> pa.Table:
    """The file's last record, when a quote in it never closes, with that problem as its record error
    (:func:`cptkg.spreadsheet.unclosed_quote`, the test check's reader makes). ``after``: the number of
    the last record set aside (a record after every row of ``t`` is not one of them)."""
    import pyarrow.compute as pc

    if not t.num_rows:
        return t
    at = pc.index(t.column("row_no"), pc.max(t.column("row_no"))).as_py()
    if t.column("row_no")[at].as_py() < after:
        return t
    words = unclosed_last_record(path, [(c, t.column(c)[at].as_py()) for c in names])
    if not words:
        return t
    errors = [None] * t.num_rows
    errors[at] = words
    return t.append_column(RECORD_ERROR, pa.array(errors, pa.string()))


def unclosed_last_record(path, values: list[tuple[str, str | None]]) -> str | None:
    """The record error of a CSV file's last record (its (field, value) in column order) whose quote never
    closes, read against the end of the file; None when its quotes close (both batch engines use it)."""
    import os

    from cptkg.spreadsheet import UNCLOSED_QUOTE, unclosed_quote

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - (max((len((v or "").encode("utf-8")) for _, v in values), default=0) + 64)))
        tail = f.read().decode("utf-8", errors="replace")
    field = unclosed_quote(values, tail)
    return UNCLOSED_QUOTE.format(field=field) if field else None
