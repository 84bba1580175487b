"""``cptkg impact`` at scale: the two judgements by the batch engine, compared in DuckDB (issue 25).

The interactive path judges each claim in its own engine, twice: right for
thousands of claims, hours for a warehouse file. Here each side is one run
of :func:`cptkg.judge.batch.run_batch` (the claim rules compiled to SQL,
DuckDB or Spark), writing its verdicts to Parquet in a temporary folder; the
two verdict files are joined on their row (rows in = rows out, both sides
read the same file) in DuckDB, and only the lines whose status, rules, CARC,
messages, warnings or "checked" differ are looked at again.

Why not stop at the verdict files: a change is reported with its cause, the
edit (release, file, row) or rule one side has and the other lacks, and the
verdict files carry rule ids and messages, not the edit a reason bound. The
compiled rules keep each verdict rule's bindings (``cr_<k>``, the same
variables an interactive model gives); the batch drops them once the
messages are built, so the backend here keeps them, and for the few changed
lines their bindings become the same :class:`~cptkg.judge.reasons.Reason`
objects :func:`cptkg.judge.check.check_claims` builds
(:func:`~cptkg.judge.reasons.make_reason`). :func:`cptkg.judge.impact.compare`
then decides and explains exactly as on the interactive path, so the report
is the same (changes, warning changes, summary).

What differs from the interactive path: a claim that cannot be judged is
reported in the batch's words (the first bad row of the claim, naming its
row and field); ``--explain`` is not offered (each explanation is an
interactive judgement). A line whose warnings differ only in which edit a
warning of the same rule bound (the verdict files carry warning rule ids) is
not listed: no such case changes a status, rule or CARC.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from cptkg.judge.impact import Impact, compare

#: a claim CSV larger than this is judged by the batch engine when no engine is named (about 16,000 lines;
#: the interactive path judges some 2,500 lines a second per side, docs/engines.md)
AUTO_BATCH_BYTES = 1024 * 1024
VERDICTS = ("reject", "warn")


class _KeepBindings:
    """The batch's backend, except that the verdict rules' bindings (``cr_<k>``) and the checked rows
    (``b_rows``: each line's code, date and role) outlive the run."""

    def __init__(self, inner):
        self._inner = inner
        self.kept: set[str] = set()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def drop(self, name: str) -> None:
        if name.startswith("cr_"):
            self.kept.add(name)
            return
        if name == "b_rows":  # replaced by the next side's run (the same rows: the same file)
            return
        self._inner.drop(name)


def _park(b: _KeepBindings, which: str) -> dict[int, str]:
    """Move one side's kept bindings out of the way of the next run: rule index -> table name."""
    out = {}
    for name in sorted(b.kept):
        k = int(name[3:])
        target = f"ib_{which}_{name}"
        if b.dialect.name == "duckdb":
            b.execute(f"DROP TABLE IF EXISTS {target}")
            b.execute(f"ALTER TABLE {name} RENAME TO {target}")
        else:  # Spark: temporary views cannot be renamed
            b.materialize(target, f"SELECT * FROM {name}")
            b._inner.drop(name)
        out[k] = target
    b.kept.clear()
    return out


def _verdict_rules(kb) -> dict[int, tuple]:
    """Rule index -> (rule, its variables in the compiler's order, position of the line variable or None)."""
    out = {}
    for k, rule in enumerate(kb.check_program.rules):
        if rule.head.pred not in VERDICTS:
            continue
        names = [v.name for v in rule.variables()]  # as cptkg.engines.sql.compiler numbers b0, b1, ...
        arg = rule.head.args[0]
        out[k] = (rule, names, names.index(arg.name) if hasattr(arg, "name") else None, arg)
    return out


JOIN_SQL = """
CREATE TEMP TABLE j AS
SELECT b."row" AS row_no, b.claim_id, b.line, b.status AS b_status, a.status AS a_status,
       b.error AS b_error, a.error AS a_error,
       (b.status IS DISTINCT FROM a.status OR b.rules IS DISTINCT FROM a.rules
        OR b.reasons IS DISTINCT FROM a.reasons OR b.carc IS DISTINCT FROM a.carc
        OR b.warnings IS DISTINCT FROM a.warnings OR b.checked IS DISTINCT FROM a.checked) AS differs
FROM read_parquet(?) b JOIN read_parquet(?) a ON a."row" = b."row";
CREATE TEMP TABLE c AS
SELECT coalesce(claim_id, concat(chr(0), CAST(min(row_no) AS VARCHAR))) AS ck, claim_id, min(row_no) AS cid,
       min(row_no) FILTER (WHERE b_error IS NOT NULL) AS b_bad, min(row_no) FILTER (WHERE a_error IS NOT NULL) AS a_bad,
       count(*) AS n, bool_or(differs) AS differs
FROM j GROUP BY claim_id, CASE WHEN claim_id IS NULL THEN row_no END;
"""


def _compare_outputs(before_out: Path, after_out: Path):
    """(claims, lines judged both sides, errors, candidate (cid, line, claim_id) rows) from the two verdict files."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        for stmt in filter(str.strip, JOIN_SQL.split(";")):
            params = [str(before_out), str(after_out)] if "read_parquet" in stmt else None
            con.execute(stmt, params) if params else con.execute(stmt)
        (claims, lines), = con.execute(
            "SELECT count(*), coalesce(sum(n) FILTER (WHERE b_bad IS NULL AND a_bad IS NULL), 0) FROM c").fetchall()
        errors = []
        for cid, claim_id, pos, b_err, a_err in con.execute("""
                SELECT c.cid, c.claim_id, c.pos, jb.b_error, ja.a_error FROM
                  (SELECT *, row_number() OVER (ORDER BY cid) AS pos FROM c) c
                  LEFT JOIN j jb ON jb.row_no = c.b_bad LEFT JOIN j ja ON ja.row_no = c.a_bad
                WHERE c.b_bad IS NOT NULL OR c.a_bad IS NOT NULL ORDER BY c.cid""").fetchall():
            for which, err in (("before", b_err), ("after", a_err)):
                if err is not None:
                    errors.append({"claim_id": claim_id, "position": int(pos), "side": which, "error": err})
        candidates = con.execute("""
            SELECT c.cid, j.line, c.claim_id FROM j JOIN c ON c.claim_id = j.claim_id
            WHERE c.differs AND c.b_bad IS NULL AND c.a_bad IS NULL AND j.differs ORDER BY c.cid, j.line""").fetchall()
        return int(claims), int(lines), errors, candidates
    finally:
        con.close()


def _side_results(kb, b, tables: dict[int, str], candidates, lines_info) -> list:
    """One :class:`ClaimResult` per candidate claim (its candidate lines only), from the kept bindings."""
    from cptkg.judge.check import ClaimResult, LineResult, is_checked, verdict_text
    from cptkg.judge.reasons import make_reason

    got: dict[tuple, dict[str, list]] = {}
    for k, (rule, names, line_at, arg) in sorted(_verdict_rules(kb).items()):
        table = tables.get(k)
        if table is None:
            continue
        cols = ", ".join(f"r.b{i}" for i in range(len(names)))
        line_sql = f"r.b{line_at}" if line_at is not None else b.dialect.literal(arg.value)
        rows = b.fetch(f"SELECT r.claim_id, {line_sql} AS imp_line{', ' + cols if cols else ''} FROM {table} r "
                       f"JOIN imp_cand c ON c.cid = r.claim_id AND c.line = {line_sql} "
                       f"ORDER BY {', '.join(f'{i + 1}' for i in range(2 + len(names)))}")
        for row in rows:
            bindings = dict(zip(names, row[2:]))
            r = make_reason(kb, rule, bindings, k)
            slot = got.setdefault((row[0], row[1]), {"reject": [], "warn": [], "seen": set()})
            if (rule.head.pred, r.rule, r.message) not in slot["seen"]:
                slot["seen"].add((rule.head.pred, r.rule, r.message))
                slot[rule.head.pred].append(r)
    results, current = [], None
    for cid, line, claim_id in candidates:
        if current is None or current[0] != cid:
            current = (cid, ClaimResult(claim_id, "accepted", [], kb_version=kb.version))
            results.append(current[1])
        slot = got.get((cid, line), {"reject": [], "warn": []})
        reasons, warnings = slot["reject"], slot["warn"]
        status = "rejected" if reasons else "accepted"
        code, dos, role = lines_info[(cid, line)]
        current[1].lines.append(LineResult(line, code, status, reasons, warnings, dos, role,
                                           verdict_text(kb, status, warnings), is_checked(kb, status, warnings)))
        if reasons:
            current[1].status = "rejected"
    return results


def batch_impact(input_path, kb_before, kb_after, history_path=None, engine: str = "duckdb",
                 route: str | None = None, timeout: float | None = None, progress=None) -> Impact:
    """What changes if, for a claim-row file (.csv or .parquet), judged by the batch engine once per side.

    Returns the :class:`~cptkg.judge.impact.Impact` the interactive path gives for the same file (see the
    module's docstring for the two differences). Raises :class:`cptkg.judge.batch.BatchInputError` for a
    file that cannot be read, as ``cptkg batch`` does.
    """
    from cptkg.engines.sql.compiler import INT
    from cptkg.judge.batch import _backend, run_batch
    from cptkg.judge.impact import kb_summary

    say = progress or (lambda _m: None)
    tmp = Path(tempfile.mkdtemp(prefix="cptkg-impact-"))
    b = _KeepBindings(_backend(engine))
    try:
        tables = {}
        for which, kb in (("before", kb_before), ("after", kb_after)):
            say(f"judging {which}")
            # judged whole (never in parts): the comparison reads every claim's kept bindings afterwards
            run_batch(input_path, tmp / f"{which}.parquet", history_path, engine=engine, kb=kb, backend=b,
                      timeout=timeout, route=route, chunk_lines=sys.maxsize,
                      progress=lambda m, w=which: say(f"{w}: {m}"))
            tables[which] = _park(b, which)
        say("comparing")
        claims, lines, errors, candidates = _compare_outputs(tmp / "before.parquet", tmp / "after.parquet")
        lines_info = {}
        if candidates:
            b.load_rows("imp_cand", ["cid", "line"], [INT, INT], [(c, ln) for c, ln, _ in candidates])
            lines_info = {(c, ln): (code, dos or "", role or "") for c, ln, code, dos, role in b.fetch(
                "SELECT r.cid, r.line, r.code, r.dos, r.role FROM b_rows r "
                "JOIN imp_cand c ON c.cid = r.cid AND c.line = r.line")}
        results = {which: _side_results(kb, b, tables[which], candidates, lines_info) if candidates else []
                   for which, kb in (("before", kb_before), ("after", kb_after))}
        report = compare(kb_before, results["before"], kb_after, results["after"])
        # every line of the file dated before a day, counted where the rows are (b_rows: the file's checked
        # rows, as the interactive path counts its lines; it counted the changed lines only)
        from cptkg.judge.impact import side_notes

        def lines_before(which: str, day: str) -> int:
            from cptkg.judge.assumptions import unit_edit_codes

            codes = sorted(unit_edit_codes(kb_before if which == "before" else kb_after))
            b.load_rows("b_unit_codes", ["code"], ["text"], [(c,) for c in codes])
            try:
                return b.fetch(f"SELECT count(*) FROM b_rows WHERE error IS NULL AND dos < {b.dialect.literal(day)} "
                               f"AND code IN (SELECT code FROM b_unit_codes)")[0][0]
            finally:
                b.drop("b_unit_codes")

        report.notes = side_notes(report.before, report.after, lines_before)
    finally:
        try:
            conn = getattr(b._inner, "conn", None)
            if conn is not None:
                conn.close()
        except Exception:  # noqa: BLE001 - the report is made; closing is housekeeping
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    report.lines, report.claims, report.errors = lines, claims, errors + report.errors
    report.before, report.after = kb_summary(kb_before), kb_summary(kb_after)
    return report


__all__ = ["AUTO_BATCH_BYTES", "batch_impact"]
