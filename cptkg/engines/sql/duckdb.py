"""Run compiled rules on DuckDB, the embedded default for batches.

Relations are temporary tables of one in-process connection, so nothing is
written to disk and two batches on two connections never meet.
"""
from __future__ import annotations

from typing import Iterable

import duckdb

from cptkg.engines.sql.tabular import LIST_ITEM, RECORD_ERROR, UNIT_SEP
import pyarrow as pa

from cptkg.engines.sql.compiler import DUCKDB, INT

_ARROW = {INT: pa.int64(), "text": pa.string()}


class DuckDBBackend:
    dialect = DUCKDB

    def __init__(self, conn: duckdb.DuckDBPyConnection | None = None, threads: int | None = None,
                 follow_join_order: bool = True):
        self.conn = conn or duckdb.connect(":memory:")
        if threads:
            self.conn.execute(f"SET threads = {int(threads)}")
        # Rule relations join in the FROM order the compiler chose (see
        # CompiledProgram.join_order): DuckDB's reordering, guessing from
        # cardinalities, built a 12.5-million-row intermediate for the
        # exclusion rule of a million-line batch.
        self.follow_join_order = follow_join_order
        # relations whose statements DuckDB orders itself (CompiledProgram.free_order, set by compiler.run)
        self.free_order: set[str] = set()
        self._views: set[str] = set()
        # (the separators a modifiers cell splits on, the words refusing an item): set by the batch judge, so a
        # Parquet list item the text form would split ("KD,JW") is refused as check refuses it
        self.modifier_words: tuple[str, str] | None = None

    def execute(self, sql: str, params=None):
        return self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)

    def interrupt(self) -> None:
        """Stop the statement running now (it raises duckdb.InterruptException); memory goes back."""
        self.conn.interrupt()

    def materialize(self, name: str, sql: str) -> int | None:
        """Make ``name`` a table of the query's rows; the number of rows made (DuckDB reports it)."""
        if name in self._views:
            self.drop(name)
        rule_sql = self.follow_join_order and name.startswith(("cp_", "cr_", "cx_", "cj_")) and name not in self.free_order
        if rule_sql:
            self.conn.execute("SET disabled_optimizers = 'join_order'")
        try:
            made = self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}").fetchone()
            return made[0] if made else None
        finally:
            if rule_sql:
                self.conn.execute("RESET disabled_optimizers")

    def view(self, name: str, sql: str) -> None:
        """A relation computed where it is read (cheap projections, one-use steps)."""
        self.drop(name)
        self.conn.execute(f"CREATE TEMP VIEW {name} AS {sql}")
        self._views.add(name)

    def stored_rows(self, name: str) -> int | None:
        """The rows of a stored table (its count is kept with it); None for a view, which would be computed."""
        return None if name in self._views else self.count(name)

    def count(self, name: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]

    def drop(self, name: str) -> None:
        if name in self._views:
            self._views.discard(name)
            self.conn.execute(f"DROP VIEW IF EXISTS {name}")
        else:
            self.conn.execute(f"DROP TABLE IF EXISTS {name}")

    def load_rows(self, name: str, columns: list[str], types: list[str], rows: Iterable[tuple]) -> None:
        rows = list(rows)
        if len(rows) <= 2000:
            # Knowledge-base relations are small: one statement each, with
            # no Arrow table to build and register (a third of a second for
            # the 33 relations of the claim rules).
            d = self.dialect
            cast = ", ".join(f"CAST(v{i} AS {d.sql_type(t)}) AS {c}" for i, (c, t) in enumerate(zip(columns, types)))
            if not rows:
                empty = ", ".join(f"CAST(NULL AS {d.sql_type(t)}) AS {c}" for c, t in zip(columns, types))
                self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {empty} WHERE 1 = 0")
                return
            values = ", ".join("(" + ", ".join("NULL" if v is None else d.literal(v) for v in r) + ")" for r in rows)
            names = ", ".join(f"v{i}" for i in range(len(columns)))
            self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {cast} FROM (VALUES {values}) t({names})")
            return
        arrays = [pa.array([r[i] for r in rows], type=_ARROW[t]) for i, t in enumerate(types)]
        table = pa.Table.from_arrays(arrays, names=columns)
        self.conn.register("_cptkg_load", table)
        try:
            self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _cptkg_load")
        finally:
            self.conn.unregister("_cptkg_load")

    def fetch(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()

    # ---- batch input/output and the dialect's few non-standard functions ----
    def read_table(self, path, name: str, kind: str) -> list[str]:
        """Load a CSV/Parquet file as text columns plus ``row_no`` (1-based, file order).

        Parquet is scanned by DuckDB where it is read (a view): a million
        lines never pass through Python, and only the columns the batch
        uses are decoded. CSV goes through Arrow's reader, which reports
        each malformed record so it can keep its row (tabular.read_arrow).
        """
        from cptkg.engines.sql.tabular import read_arrow

        if kind == "parquet" and "file_row_number" not in (n.lower() for n in _parquet_names(path)):
            return self._parquet_view(path, name)

        table = read_arrow(path, kind)
        self.conn.register("_cptkg_in", table)
        try:
            self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _cptkg_in")
        finally:
            self.conn.unregister("_cptkg_in")
        return [c for c in table.column_names if c != "row_no"]

    def _parquet_view(self, path, name: str) -> list[str]:
        src = f"read_parquet({self.dialect.literal(str(path))}, file_row_number = true)"
        try:
            described = self.conn.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
            cols = [r[0] for r in described]
            types = {r[0]: str(r[1]) for r in described}
        except duckdb.Error as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            from cptkg.files import parquet_problem

            raise ValueError(f"{path}: {parquet_problem(first)}") from None
        from cptkg.engines.sql.tabular import ADDED_COLUMNS

        from cptkg.spreadsheet import column_key

        cols = [c for c in cols if c != "file_row_number" and column_key(c) not in ADDED_COLUMNS]
        q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731  (column names come from the file)
        names = [column_key(c) for c in cols]
        def text(c: str) -> str:
            # a list column (modifiers as a Parquet list): its items joined, as the text form would hold them
            if types.get(c, "").endswith("[]"):
                return f"array_to_string(list_transform({q(c)}, lambda m: CAST(m AS VARCHAR)), ';')"
            return f"CAST({q(c)} AS VARCHAR)"

        sel = ", ".join(f"{text(c)} AS {q(n)}" for c, n in zip(cols, names))
        listed = [c for c, n in zip(cols, names) if n == "modifiers" and types.get(c, "").endswith("[]")]
        if listed and self.modifier_words is not None:
            sel += ", " + self._list_item_problem(q(listed[0]))
            names = names + [RECORD_ERROR]
        self.view(name, f"SELECT {sel}, CAST(file_row_number AS BIGINT) + 1 AS row_no FROM {src}")
        return names

    def _list_item_problem(self, col: str) -> str:
        """The record error of a row whose Parquet list of modifiers has an item the joined text would split or
        lose ("KD,JW" read as KD and JW, a null item dropped): refused as check refuses it in a JSON list (a
        security audit: batch took KD from "KD,JW" where check refused it)."""
        separators, words = self.modifier_words
        lit = self.dialect.literal
        items = f"list_transform({col}, lambda m: CAST(m AS VARCHAR))"
        at = (f"list_position(list_transform({items}, lambda m: m IS NULL OR trim(m) = '' OR "
              f"regexp_matches(trim(m), {lit(separators)})), true)")
        item = f"{items}[{at}]"
        quoted = f"concat(chr(39), substr({item}, 1, 40), chr(39), ' ', {lit(words)})"
        problem = (f"CASE WHEN {item} IS NULL THEN 'must be text, got null' WHEN {item} = '' "
                   f"THEN 'must not be empty' ELSE {quoted} END")
        return (f"CASE WHEN coalesce({at}, 0) > 0 THEN concat({lit(LIST_ITEM)}, CAST({at} - 1 AS VARCHAR), "
                f"{lit(UNIT_SEP)}, {problem}) END AS {RECORD_ERROR}")

    def write_query(self, sql: str, path, kind: str) -> int:
        """Write the query's rows to ``path``; returns the number of rows the writer wrote."""
        fmt = "FORMAT csv, HEADER true" if kind == "csv" else "FORMAT parquet"
        return self.conn.execute(f"COPY ({sql}) TO {self.dialect.literal(str(path))} ({fmt})").fetchone()[0]

    def stream_query(self, sql: str, rows: int = 122_880):
        """The query's rows as Arrow record batches, in the query's order, a batch at a time (a batch
        written in parts appends each part's verdicts to one Parquet writer without holding them all)."""
        return self.conn.sql(sql).to_arrow_reader(rows)

    def strip(self, expr: str) -> str:
        """``expr`` without the white space Python's ``str.strip`` takes off both ends (the tab, the line
        breaks, the other C0 separators, U+0085, the Unicode spaces) and a byte-order mark, as ``cptkg
        check``'s readers strip a field (:data:`cptkg.controls.CELL_STRIP`). DuckDB's ``trim(x)`` takes spaces only, so a claim id ending in a tab was another claim; its
        ``trim(x, characters)`` is 17x slower, so it runs only on a value whose first or last character is
        a space, a control or not ASCII (0.29 s against 0.21 s for ten million values)."""
        from cptkg.controls import CELL_STRIP

        x = f"({expr})"
        return (f"CASE WHEN {x}[1] < '!' OR {x}[-1] < '!' OR {x}[1] >= chr(133) OR {x}[-1] >= chr(133) "
                f"THEN trim({x}, {self.dialect.literal(CELL_STRIP)}) ELSE {x} END")

    @staticmethod
    def regex_full(expr: str, pattern: str) -> str:
        return f"coalesce(regexp_full_match({expr}, '{pattern}'), false)"

    @staticmethod
    def split_nonempty(expr: str, pattern: str) -> str:
        return f"list_filter(regexp_split_to_array({expr}, '{pattern}'), lambda m: m <> '')"

    def first_unmatched(self, expr: str, pattern: str) -> str:
        """The first text of a list that, stripped as ``str.strip`` strips, does not match ``pattern`` whole."""
        return f"list_filter({expr}, lambda m: NOT {self.regex_full(self.strip('m'), pattern)})[1]"

    @staticmethod
    def list_size(expr: str) -> str:
        return f"coalesce(len({expr}), 0)"

    @staticmethod
    def explode_split(expr: str, pattern: str) -> str:
        return f"unnest(regexp_split_to_array({expr}, '{pattern}'))"

    @staticmethod
    def ordered_distinct_join(order: str, value: str, sep: str) -> str:
        """The group's distinct (order, value) pairs, sorted, values joined by ``sep``."""
        return (f"array_to_string(list_transform(list_sort(list_distinct(list(struct_pack(a := {order}, v := {value})))), "
                f"lambda x: x.v), '{sep}')")

    @staticmethod
    def bit_set_agg(col: str) -> str:
        """The group's distinct small integers (below 63) as the bits of one BIGINT."""
        return f"bit_or(CAST(1 AS BIGINT) << CAST({col} AS INTEGER))"

    def bit_set_names(self, mask: str, names: list[str], sep: str) -> str:
        """The bits set in ``mask``, lowest first, each shown as ``names[i]``."""
        lookup = "[" + ", ".join(self.dialect.literal(n) for n in names) + "]"
        return (f"array_to_string(list_transform(list_filter(range({len(names)}), lambda i: ({mask} >> i) & 1 = 1), "
                f"lambda i: {lookup}[i + 1]), '{sep}')")

    def int_list_join(self, col: str, names: list[str], sep: str) -> str:
        """The group's distinct small integers, sorted, each shown as ``names[i]``:
        aggregating integers is several times cheaper than aggregating text."""
        lookup = "[" + ", ".join(self.dialect.literal(n) for n in names) + "]"
        return f"array_to_string(list_transform(list_sort(list_distinct(list({col}))), lambda x: {lookup}[x + 1]), '{sep}')"


def _parquet_names(path) -> list[str]:
    """The Parquet file's column names (from its footer). A file with a column named ``file_row_number``
    is read through Arrow: DuckDB's scan refuses to add its own column of that name beside it."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - unreadable: the scan says why, in the words of _parquet_view
        return []
