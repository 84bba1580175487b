"""Run compiled rules on DuckDB, the embedded default for batches.

Relations are temporary tables of one in-process connection, so nothing is
written to disk and two batches on two connections never meet.
"""
from __future__ import annotations

from typing import Iterable

import duckdb
import pyarrow as pa

from .sql_compiler import DUCKDB, INT

_ARROW = {INT: pa.int64(), "text": pa.string()}


class DuckDBBackend:
    dialect = DUCKDB

    def __init__(self, conn: duckdb.DuckDBPyConnection | None = None, threads: int | None = None):
        self.conn = conn or duckdb.connect(":memory:")
        if threads:
            self.conn.execute(f"SET threads = {int(threads)}")

    def execute(self, sql: str, params=None):
        return self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)

    def materialize(self, name: str, sql: str) -> None:
        self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def count(self, name: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]

    def drop(self, name: str) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {name}")

    def load_rows(self, name: str, columns: list[str], types: list[str], rows: Iterable[tuple]) -> None:
        rows = list(rows)
        arrays = [pa.array([r[i] for r in rows], type=_ARROW[t]) for i, t in enumerate(types)]
        table = pa.Table.from_arrays(arrays, names=columns)
        self.conn.register("_cptkg_load", table)
        try:
            self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _cptkg_load")
        finally:
            self.conn.unregister("_cptkg_load")

    def fetch(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()
