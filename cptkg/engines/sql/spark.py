"""Run compiled rules on Spark SQL, for batches larger than one machine.

Each relation is a temporary view over a locally checkpointed DataFrame:
every stratum (and every fixpoint round) is computed once, and the plans of
the strata above it start from its data instead of growing into one huge
query (lazily cached views ran the driver out of memory on the claim
rules); only shallow projections stay lazy views. No pandas is used on this path (pyspark does not support pandas 3 fully): rows go in
through ``createDataFrame`` with an explicit schema and come back through
``collect``.
"""
from __future__ import annotations

import os
from typing import Iterable

from cptkg.engines.sql.compiler import INT, SPARK


def spark_defaults() -> dict[str, str]:
    """The settings of ``spark-defaults.conf`` in ``SPARK_CONF_DIR`` (else ``SPARK_HOME/conf``).

    spark-submit, which pyspark runs to start the driver's JVM, applies this
    file by itself; it is read here too so that its ``spark.master`` names
    the cluster and its values win over this module's defaults (a site's
    shuffle partitions or driver memory), as they would for any pyspark
    program. Java properties syntax: ``key value`` or ``key=value``, ``#``
    comments."""
    import re

    conf_dir = os.environ.get("SPARK_CONF_DIR") or (
        os.path.join(os.environ["SPARK_HOME"], "conf") if os.environ.get("SPARK_HOME") else None)
    if not conf_dir:
        return {}
    try:
        with open(os.path.join(conf_dir, "spark-defaults.conf"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        m = re.match(r"\s*([^\s=:#!][^\s=:]*)\s*[=:\s]\s*(.*?)\s*$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _loopback(master: str) -> bool:
    """Local mode, or a cluster manager on this machine's loopback (the CI cluster,
    ``spark://127.0.0.1:7077``): then the driver binds to 127.0.0.1 and is reachable
    from nowhere else."""
    from urllib.parse import urlsplit

    if master.startswith("local"):
        return True
    try:
        host = urlsplit(master.removeprefix("k8s://")).hostname
    except ValueError:
        return False
    return host in ("127.0.0.1", "localhost", "::1")


def choose_master(master: str | None = None, cores: int = 2, site: dict[str, str] | None = None) -> str:
    """The master asked for by name, else ``CPTKG_SPARK_MASTER``, else the site's
    ``spark.master`` (spark-defaults.conf), else local mode on ``cores`` cores."""
    site = spark_defaults() if site is None else site
    return master or os.environ.get("CPTKG_SPARK_MASTER") or site.get("spark.master") or f"local[{cores}]"


def local_session(app: str = "cptkg-batch", cores: int = 2, master: str | None = None,
                  partitions: int | None = None):
    """A Spark session: local mode bound to 127.0.0.1, unless ``master``, else
    ``CPTKG_SPARK_MASTER``, else ``spark.master`` of ``spark-defaults.conf``
    names a cluster (``spark://host:7077``, ``yarn``, ``k8s://https://host:443``).

    This module's settings are defaults: a key that spark-defaults.conf sets
    keeps the file's value, except the shuffle partitions asked for here by
    name (``partitions``), ``CPTKG_SPARK_DRIVER_MEMORY`` and the UTC session
    time zone."""
    import warnings

    # pyspark warns that it does not fully support pandas 3; this path uses no pandas.
    warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*")
    from pyspark.sql import SparkSession

    site = spark_defaults()
    master = choose_master(master, cores, site)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(partitions or cores),
        "spark.default.parallelism": str(partitions or cores),
        "spark.driver.memory": "2g",
    }
    settings = {k: v for k, v in settings.items() if k not in site}
    settings["spark.sql.session.timeZone"] = "UTC"  # dates of service are days, never shifted by a site's zone
    if partitions:
        settings["spark.sql.shuffle.partitions"] = settings["spark.default.parallelism"] = str(partitions)
    if os.environ.get("CPTKG_SPARK_DRIVER_MEMORY"):
        settings["spark.driver.memory"] = os.environ["CPTKG_SPARK_DRIVER_MEMORY"]
    b = SparkSession.builder.appName(app).master(master)
    for k, v in settings.items():
        b = b.config(k, v)
    if _loopback(master):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        b = (b.config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1"))
    with _jvm_output_to(jvm_log_path()):
        spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def jvm_log_path() -> str:
    """Where the Spark JVM's own output goes: ``CPTKG_SPARK_LOG``, else ``cptkg-spark-<uid>.log`` in the
    temporary folder (replaced by each run that starts a JVM)."""
    import tempfile

    return os.environ.get("CPTKG_SPARK_LOG") or os.path.join(
        tempfile.gettempdir(), f"cptkg-spark-{os.getuid() if hasattr(os, 'getuid') else 'user'}.log")


class _jvm_output_to:
    """Standard error of the JVM pyspark starts, sent to a log file instead of the analyst's terminal.

    The JVM inherits this process's standard error when it is launched and writes to it for the rest of
    the run: "WARNING: Using incubator modules", log4j's profile banner, "WARN NativeCodeLoader" came
    out above cptkg's own summary (an auditor's audit: Java words in a billing tool). The file descriptor
    is pointed at the log only while the JVM starts, so cptkg's own messages still reach the terminal; a
    file that cannot be opened leaves standard error as it is.
    """

    def __init__(self, path: str):
        self.path, self.saved, self.log = path, None, None

    def __enter__(self):
        import sys

        try:
            sys.stderr.flush()
            # never through a link another user left at the name in a shared temporary folder
            self.log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            self.saved = os.dup(2)
            os.dup2(self.log, 2)
        except OSError:
            self._close()
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
        self._close()
        return False

    def _close(self):
        for fd in (self.saved, self.log):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.saved = self.log = None


class SparkBackend:
    dialect = SPARK

    def __init__(self, spark=None):
        self.spark = spark or local_session()

    def sql(self, sql: str):
        return self.spark.sql(sql)

    def interrupt(self) -> None:
        """Cancel every running Spark job (the waiting action raises); the executors free their tasks."""
        self.spark.sparkContext.cancelAllJobs()

    def materialize(self, name: str, sql: str) -> None:
        df = self.spark.sql(sql).localCheckpoint(eager=True)
        # Re-alias the columns: Spark 4.3 otherwise loses an attribute of a
        # checkpointed relation read back inside a UNION ("key not found:
        # claim_id#139" in the fixpoint loop).
        df.toDF(*df.columns).createOrReplaceTempView(name)

    def view(self, name: str, sql: str) -> None:
        """A lazy view: cheap projections and one-use steps over checkpointed
        relations, computed inside the query that reads them."""
        self.spark.sql(sql).createOrReplaceTempView(name)

    def register(self, name: str, df) -> None:
        df.createOrReplaceTempView(name)

    def count(self, name: str) -> int:
        return self.spark.table(name).count()

    def drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def load_rows(self, name: str, columns: list[str], types: list[str], rows: Iterable[tuple]) -> None:
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        schema = StructType([StructField(c, LongType() if t == INT else StringType(), True)
                             for c, t in zip(columns, types)])
        self.spark.createDataFrame([tuple(r) for r in rows], schema=schema).createOrReplaceTempView(name)

    def fetch(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    # ---- batch input/output and the dialect's few non-standard functions ----
    def read_table(self, path, name: str, kind: str) -> list[str]:
        """Load a CSV/Parquet file as text columns plus ``row_no`` (1-based, file order).

        Spark's own readers keep this scalable on a cluster; a short CSV row
        comes back with empty fields (PERMISSIVE mode) rather than being
        dropped, and ``zipWithIndex`` numbers rows in file order. A record
        of more values than columns (its commas counted outside quotes) is
        an error row, as check's reader and the DuckDB path take it.
        """
        from functools import reduce

        from pyspark.sql import functions as F
        from pyspark.sql.types import LongType, StructField, StructType

        from pyspark.sql.types import StringType

        from cptkg.engines.sql.tabular import ADDED_COLUMNS, RECORD_ERROR, csv_header
        from cptkg.spreadsheet import MORE_VALUES

        from cptkg.spreadsheet import column_key

        ours = lambda c: column_key(c) in ADDED_COLUMNS  # noqa: E731  (a file's own row_no is not read)

        if kind == "csv":
            header = csv_header(path)
            schema = StructType([StructField(c, StringType(), True) for c in header]
                                + [StructField("_corrupt_record", StringType(), True)])
            # ignoreLeadingWhiteSpace: a quote after spaces opens a quoted value, as check's reader reads it
            df = (self.spark.read.option("header", True).option("mode", "PERMISSIVE").option("escape", '"')
                  .option("ignoreLeadingWhiteSpace", True)
                  .option("columnNameOfCorruptRecord", "_corrupt_record").schema(schema).csv(str(path)))
            df = df.select([F.col(f"`{c}`").alias(column_key(c)) for c in header if not ours(c)]
                           + [F.when(F.size(F.split(F.regexp_replace("_corrupt_record", '"([^"]|"")*"', ""), ",", -1))
                                     > len(header), F.lit(MORE_VALUES)).alias(RECORD_ERROR)])
        else:
            df = self.spark.read.parquet(str(path))
            df = df.select([F.col(f"`{c}`").cast("string").alias(column_key(c)) for c in df.columns
                            if not ours(c)])
        schema = StructType(df.schema.fields + [StructField("row_no", LongType(), False)])
        rdd = df.rdd.zipWithIndex().map(lambda ri: tuple(ri[0]) + (ri[1] + 1,))
        numbered = self.spark.createDataFrame(rdd, schema)
        if kind == "csv":
            # a record of white space only is no line: skipped, its row number taken (as check and the
            # DuckDB path read it)
            blank = [F.coalesce(F.expr(self.strip(f"`{c}`")), F.lit("")) == "" for c in df.columns if c != RECORD_ERROR]
            numbered = numbered.filter(~reduce(lambda a, b: a & b, blank))
            # the last record, when a quote in it never closes, is its claim's error (as the DuckDB path and
            # check's reader take it): one row brought to the driver, read against the end of the file
            from cptkg.engines.sql.tabular import unclosed_last_record

            fields = [c for c in df.columns if c != RECORD_ERROR]
            last = numbered.orderBy(F.col("row_no").desc()).limit(1).collect()
            words = unclosed_last_record(path, [(c, last[0][c]) for c in fields]) \
                if last and last[0][RECORD_ERROR] is None else None
            if words:
                numbered = numbered.withColumn(RECORD_ERROR, F.when(F.col("row_no") == last[0]["row_no"], F.lit(words))
                                               .otherwise(F.col(RECORD_ERROR)))
        numbered.createOrReplaceTempView(name)
        return [c for c in df.columns]

    def write_query(self, sql: str, path, kind: str) -> int:
        """Write one file at ``path`` (Spark writes folders of parts; the one part is moved);
        returns the number of rows written."""
        import glob
        import shutil
        import tempfile

        df = self.spark.sql(sql).localCheckpoint(eager=True)
        rows = df.count()
        out = df.coalesce(1)
        tmp = tempfile.mkdtemp(prefix="cptkg-spark-out-", dir=os.path.dirname(os.path.abspath(path)) or ".")
        try:
            target = os.path.join(tmp, "out")
            if kind == "csv":
                # RFC 4180 quoting ("" inside quotes), as DuckDB and spreadsheets write it
                out.write.option("header", True).option("emptyValue", "").option("escape", '"').csv(target)
                parts = glob.glob(os.path.join(target, "part-*.csv"))
            else:
                out.write.parquet(target)
                parts = glob.glob(os.path.join(target, "part-*.parquet"))
            if len(parts) != 1:
                raise RuntimeError(f"Spark wrote {len(parts)} parts instead of one")
            shutil.move(parts[0], path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return rows

    def strip(self, expr: str) -> str:
        """``expr`` without the white space Python's ``str.strip`` takes off both ends (see the DuckDB
        backend's ``strip``)."""
        from cptkg.controls import CELL_STRIP

        return f"trim(BOTH {self.dialect.literal(CELL_STRIP)} FROM {expr})"

    @staticmethod
    def regex_full(expr: str, pattern: str) -> str:
        # the group keeps an alternation inside the anchors ('^a|b$' anchors a at the start and b at
        # the end only: '62367a' matched the code pattern), and Java's '$' also matches before a
        # final line break, so the end is '\z' (written '\\z' in the SQL literal)
        return f"coalesce(({expr}) RLIKE '^(?:{pattern})\\\\z', false)"

    @staticmethod
    def split_nonempty(expr: str, pattern: str) -> str:
        return f"filter(split({expr}, '{pattern}'), m -> m <> '')"

    def first_unmatched(self, expr: str, pattern: str) -> str:
        """The first text of a list that, stripped as ``str.strip`` strips, does not match ``pattern`` whole."""
        return f"try_element_at(filter({expr}, m -> NOT {self.regex_full(self.strip('m'), pattern)}), 1)"

    @staticmethod
    def list_size(expr: str) -> str:
        return f"CASE WHEN {expr} IS NULL THEN 0 ELSE size({expr}) END"

    @staticmethod
    def explode_split(expr: str, pattern: str) -> str:
        return f"explode(split({expr}, '{pattern}'))"

    @staticmethod
    def ordered_distinct_join(order: str, value: str, sep: str) -> str:
        """The group's distinct (order, value) pairs, sorted, values joined by ``sep``."""
        return (f"array_join(transform(array_sort(collect_set(named_struct('a', {order}, 'v', {value}))), "
                f"x -> x.v), '{sep}')")

    @staticmethod
    def bit_set_agg(col: str) -> str:
        """The group's distinct small integers (below 63) as the bits of one BIGINT."""
        return f"bit_or(shiftleft(CAST(1 AS BIGINT), CAST({col} AS INT)))"

    def bit_set_names(self, mask: str, names: list[str], sep: str) -> str:
        """The bits set in ``mask``, lowest first, each shown as ``names[i]``."""
        lookup = "array(" + ", ".join(self.dialect.literal(n) for n in names) + ")"
        return (f"array_join(transform(filter(sequence(0, {len(names) - 1}), i -> (shiftright({mask}, i) & 1) = 1), "
                f"i -> element_at({lookup}, i + 1)), '{sep}')")

    def int_list_join(self, col: str, names: list[str], sep: str) -> str:
        """The group's distinct small integers, sorted, each shown as ``names[i]``."""
        lookup = "array(" + ", ".join(self.dialect.literal(n) for n in names) + ")"
        return f"array_join(transform(array_sort(collect_set({col})), x -> element_at({lookup}, CAST(x AS INT) + 1)), '{sep}')"
