"""Read claim-line files into Arrow with every column as text and a row number.

Every field is read as text so that validation (in SQL) can name the row and
field of a bad value instead of the reader refusing the whole file. A CSV
record with the wrong number of fields is kept as a row of its own whose
fields are all missing, so it still gets its error verdict: rows in = rows out.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


RECORD_ERROR = "cptkg_record_error"


def _read_csv(path, use_threads: bool):
    bad: list[int | None] = []

    def on_invalid(row):
        bad.append(row.number)
        return "skip"

    # Read the header first, so every column can be typed as text.
    header = pacsv.open_csv(path).schema.names
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=use_threads),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    return table, bad


def read_arrow(path: str | Path, kind: str) -> pa.Table:
    if kind == "parquet":
        t = pq.read_table(path)
        t = pa.Table.from_arrays([c.cast(pa.string()) for c in t.columns], names=t.column_names)
        bad: list[int] = []
    else:
        t, bad = _read_csv(path, use_threads=True)
        if bad and any(n is None for n in bad):
            t, bad = _read_csv(path, use_threads=False)
    names = [n.strip().lower() for n in t.column_names]
    t = t.rename_columns(names)
    n = t.num_rows
    # File line numbers of skipped records -> data row numbers (header is line 1).
    skipped = np.array(sorted(int(b) - 1 for b in bad if b is not None), dtype=np.int64)
    good_rows = np.arange(1, n + 1, dtype=np.int64)
    if len(skipped):
        # the i-th good row sits after every skipped row number <= its position
        idx = good_rows.copy()
        for s in skipped:
            idx[idx >= s] += 1
        good_rows = idx
    t = t.append_column("row_no", pa.array(good_rows))
    if len(skipped):
        nulls = {c: pa.nulls(len(skipped), pa.string()) for c in names}
        extra = pa.table({**nulls, "row_no": pa.array(skipped),
                          RECORD_ERROR: pa.array(["the record does not have one field per column"] * len(skipped))})
        t = t.append_column(RECORD_ERROR, pa.nulls(t.num_rows, pa.string()))
        t = pa.concat_tables([t, extra])
    return t
