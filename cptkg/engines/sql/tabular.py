"""Read claim-line files into Arrow with every column as text and a row number.

Every field is read as text so that validation (in SQL) can name the row and
field of a bad value instead of the reader refusing the whole file. A CSV
record with the wrong number of fields is kept as a row of its own whose
fields are all missing, so it still gets its error verdict: rows in = rows out.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


RECORD_ERROR = "cptkg_record_error"


def csv_header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    if not header:
        raise ValueError(f"{path}: empty file (no header row)")
    from collections import Counter

    from cptkg.limits import MAX_CSV_COLUMNS

    if len(header) > MAX_CSV_COLUMNS:
        raise ValueError(f"{path}: {len(header):,} columns; a claim file has at most {MAX_CSV_COLUMNS:,}")
    dupes = sorted(n for n, k in Counter(h.strip().lower() for h in header if h.strip()).items() if k > 1)
    if dupes:
        raise ValueError(f"{path}: column {dupes[0]} appears twice (which one holds the claim's values?)")
    return header


def _read_csv(path, use_threads: bool):
    bad: list[tuple[int | None, str]] = []

    def on_invalid(row):
        bad.append((row.number, row.text))
        return "skip"

    # Read the header first, so every column can be typed as text.
    header = csv_header(path)
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=use_threads),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
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


def read_arrow(path: str | Path, kind: str) -> pa.Table:
    if kind == "parquet":
        t = pq.read_table(path)
        t = pa.Table.from_arrays([c.cast(pa.string()) for c in t.columns], names=t.column_names)
        bad: list[tuple[int, str]] = []
    else:
        t, bad = _read_csv(path, use_threads=True)
        if bad and any(n is None for n, _ in bad):
            t, bad = _read_csv(path, use_threads=False)
    names = [n.strip().lower() for n in t.column_names]
    t = t.rename_columns(names)
    n = t.num_rows
    # File line numbers of skipped records -> data row numbers (header is line 1).
    bad = sorted((int(num) - 1, text) for num, text in bad if num is not None)
    skipped = [num for num, _ in bad]
    if skipped:
        # the good rows fill the row numbers the skipped records leave free
        taken = set(skipped)
        good_rows = [r for r in range(1, n + len(skipped) + 1) if r not in taken][:n]
    else:
        good_rows = range(1, n + 1)
    if kind != "parquet":
        _refuse_values_over_lines(t, path, good_rows)
    t = t.append_column("row_no", pa.array(good_rows, pa.int64()))
    if len(skipped):
        nulls = {c: pa.nulls(len(skipped), pa.string()) for c in names}
        if "claim_id" in names:
            # keep the claim id, so the rest of that claim is not judged without this row
            pos = names.index("claim_id")
            ids = []
            for _, text in bad:
                fields = next(csv.reader([text or ""]), [])
                ids.append(fields[pos].strip() if len(fields) > pos and fields[pos].strip() else None)
            nulls["claim_id"] = pa.array(ids, type=pa.string())
        extra = pa.table({**nulls, "row_no": pa.array(skipped, pa.int64()),
                          RECORD_ERROR: pa.array(["the record does not have one field per column"] * len(skipped))})
        t = t.append_column(RECORD_ERROR, pa.nulls(t.num_rows, pa.string()))
        t = pa.concat_tables([t, extra])
    return t
