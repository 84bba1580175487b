"""Batch benchmark: the claim rules compiled to SQL against the alternatives.

Generates N claim lines (default 1,000,000) with history, then measures, each
in a fresh subprocess (so peak memory is that run's own):

* compiled  - ``cptkg.batch.run_batch`` on DuckDB: the rules of
  kb/rules/claim.dl compiled to SQL, row validation, messages filled from
  bindings, verdicts written to Parquet (the KB load is not timed);
* handwritten - bench/batch_handwritten.sql, the same edits written by hand
  for DuckDB, verdicts and rule ids written to Parquet (the reference);
* logica    - bench/batch_edits.l, the same edits in Logica on its DuckDB
  engine (``logica FILE run_to_csv Verdict``), plus the time to prepare its
  input database;
* pydatalog - the same rules on pyDatalog with every claim in one engine
  (the program rewritten so each claim predicate carries the claim id), on a
  sample (default 30,000 lines);
* check     - ``cptkg check``'s path, one isolated engine per claim, on a
  small sample (default 300 lines), for scale.

It prints lines/s and peak memory, and how often the alternatives agree
with the compiled rules on verdicts and rule ids. Targets (not asserted):
compiled within 2x of handwritten, 1M lines <= 1.5 s, <= 2 GiB peak.

    python bench/batch_bench.py [--lines 1000000] [--sample 30000] [--skip logica,check]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent


def peak_mib(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


# ---------------------------------------------------------------- data

def generate(d: Path, n: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from devtools import claimgen

    lines, history = claimgen.generate(n, seed=seed)
    cols = claimgen.LINE_FIELDS
    pq.write_table(pa.table({c: [str(r[c]) for r in lines] for c in cols}), d / "lines.parquet")
    pq.write_table(pa.table({c: [str(r[c]) for r in history] for c in claimgen.HISTORY_FIELDS}), d / "history.parquet")


def load_kb_tables(conn, kb, persist: bool = False) -> None:
    """KB facts as tables kb_<pred>(c0, ...): temporary, or kept in the database file."""
    from cptkg.judge.batch import CLAIM_INPUTS, kb_types
    from cptkg.engines.sql.duckdb import DuckDBBackend

    be = DuckDBBackend(conn)
    types = kb_types(kb.facts, kb.check_program.edb)
    for p, n in kb.check_program.edb.items():
        if p in CLAIM_INPUTS:
            continue
        name = f"tmp_kb_{p}" if persist else f"kb_{p}"
        be.load_rows(name, [f"c{i}" for i in range(n)], types.get(p, ["text"] * n), kb.facts.get(p, set()))
        if persist:
            conn.execute(f"CREATE OR REPLACE TABLE kb_{p} AS SELECT * FROM {name}")


# ---------------------------------------------------------------- one engine each

def run_compiled(d: Path) -> dict:
    from cptkg.judge.batch import run_batch
    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    t = time.perf_counter()
    s = run_batch(d / "lines.parquet", d / "compiled.parquet", d / "history.parquet", kb=kb)
    return {"seconds": time.perf_counter() - t, "lines": s.lines_in}


def run_handwritten(d: Path) -> dict:
    import duckdb

    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    conn = duckdb.connect()
    load_kb_tables(conn, kb)
    sql = (HERE / "batch_handwritten.sql").read_text()
    sql = sql.replace("{lines}", str(d / "lines.parquet")).replace("{history}", str(d / "history.parquet"))
    sql = sql.replace("{out}", str(d / "handwritten.parquet"))
    t = time.perf_counter()
    conn.execute(sql)
    secs = time.perf_counter() - t
    n = conn.execute(f"SELECT count(*) FROM read_parquet('{d / 'handwritten.parquet'}')").fetchone()[0]
    return {"seconds": secs, "lines": n}


def run_logica(d: Path) -> dict:
    import duckdb

    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    db = d / "logica.duckdb"
    if db.exists():
        db.unlink()
    t = time.perf_counter()
    conn = duckdb.connect(str(db))
    load_kb_tables(conn, kb, persist=True)
    # The same typed inputs the hand-written query builds first.
    prep = (HERE / "batch_handwritten.sql").read_text().split("-- knowledge-base derived tables")[0]
    prep = prep.replace("{lines}", str(d / "lines.parquet")).replace("{history}", str(d / "history.parquet"))
    conn.execute(prep.replace("CREATE OR REPLACE TEMP TABLE", "CREATE OR REPLACE TABLE"))
    conn.close()
    prep_s = time.perf_counter() - t
    prog = d / "edits.l"
    prog.write_text((HERE / "batch_edits.l").read_text().replace("{db}", str(db)))
    t = time.perf_counter()
    with open(d / "logica.csv", "w") as out:
        r = subprocess.run([sys.executable, "-m", "logica", str(prog), "run_to_csv", "Verdict"],
                           stdout=out, stderr=subprocess.PIPE, text=True, cwd=d)
    run_s = time.perf_counter() - t
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    n = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{d / 'lines.parquet'}')").fetchone()[0]
    return {"seconds": prep_s + run_s, "prep_seconds": prep_s, "run_seconds": run_s, "lines": n,
            "child_peak_mib": peak_mib(children=True)}


def partition_by_claim(program, claim_inputs):
    """The program with a claim id as first argument of every claim predicate,
    so one pyDatalog engine can hold a whole batch (what the SQL backend does
    with its claim_id column)."""
    from cptkg.rules.ast import Atom, Literal, Rule, Var
    from cptkg.rules.program import build_program
    from cptkg.engines.sql.compiler import claim_scoped

    scoped = claim_scoped(program, claim_inputs)
    cid = Var("Cid")
    rules = []
    for r in program.rules:
        body, pos = [], False
        for item in r.body:
            if isinstance(item, Literal) and item.atom.pred in scoped:
                body.append(Literal(Atom(item.atom.pred, (cid,) + item.atom.args), item.negated))
                pos |= not item.negated
            else:
                body.append(item)
        head = r.head
        if head.pred in scoped:
            head = Atom(head.pred, (cid,) + head.args)
            if not pos:
                body.insert(0, Literal(Atom("claim", (cid,))))
        rules.append(Rule(head, tuple(body), r.meta, r.file, r.line))
    edb = {p: n + (p in scoped) for p, n in program.edb.items()}
    edb["claim"] = 1
    return build_program(rules + list(program.facts), edb), scoped


def run_pydatalog(d: Path, sample: int) -> dict:
    import pyarrow.parquet as pq

    from cptkg.judge.batch import CLAIM_INPUTS
    from cptkg.judge.check import claim_facts
    from cptkg.judge.input import parse_claims
    from cptkg.knowledge.loader import default_kb
    from cptkg.engines.pydatalog import evaluate
    from devtools import claimgen

    kb = default_kb()
    lines = pq.read_table(d / "lines.parquet").slice(0, sample).to_pylist()
    last = lines[-1]["claim_id"]
    lines = [r for r in lines if r["claim_id"] != last]  # whole claims only
    history = pq.read_table(d / "history.parquet").to_pylist()
    claims, _ = parse_claims(claimgen.to_claims(lines, history))
    prog, scoped = partition_by_claim(kb.check_program, CLAIM_INPUTS)
    t = time.perf_counter()
    facts = {p: set(rows) for p, rows in kb.facts.items()}
    facts["claim"] = set()
    for c in claims:
        facts["claim"].add((c.claim_id,))
        for p, rows in claim_facts(c).items():
            facts.setdefault(p, set()).update((c.claim_id,) + r for r in rows)
    m = evaluate(prog, facts, want=["reject", "warn"], rule_bindings={"reject", "warn"}, timeout=3600)
    secs = time.perf_counter() - t
    return {"seconds": secs, "lines": len(lines), "rejected_lines": len(m.facts.get("reject", ()))}


def run_check(d: Path, sample: int) -> dict:
    import pyarrow.parquet as pq

    from devtools import claimgen
    from cptkg.judge.check import check_claims
    from cptkg.judge.input import parse_claims
    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    lines = pq.read_table(d / "lines.parquet").slice(0, sample).to_pylist()
    last = lines[-1]["claim_id"]
    lines = [r for r in lines if r["claim_id"] != last]
    history = pq.read_table(d / "history.parquet").to_pylist()
    claims, _ = parse_claims(claimgen.to_claims(lines, history))
    t = time.perf_counter()
    check_claims(kb, claims)
    return {"seconds": time.perf_counter() - t, "lines": len(lines)}


def agreement(d: Path) -> dict:
    """How many lines the hand-written query and Logica judge like the compiled rules."""
    import duckdb

    c = duckdb.connect()
    out = {}
    comp = f"read_parquet('{d / 'compiled.parquet'}')"
    norm = lambda col: f"coalesce(array_to_string(list_sort(string_split({col}, ';')), ';'), '')"  # noqa: E731
    if (d / "handwritten.parquet").exists():
        q = f"""SELECT count(*), count(*) FILTER (WHERE a.status = b.status AND {norm('a.rules')} = {norm('b.rules')}
                AND {norm('a.warnings')} = {norm('b.warnings')})
                FROM {comp} a JOIN read_parquet('{d / 'handwritten.parquet'}') b USING (claim_id, line)"""
        out["handwritten"] = c.execute(q).fetchall()[0]
    if (d / "logica.csv").exists() and (d / "logica.csv").stat().st_size:
        import csv as _csv

        import pyarrow as pa

        with open(d / "logica.csv", newline="") as fh:
            rows = list(_csv.DictReader(fh))
        lv = pa.table({k: [r[k] for r in rows] for k in ("claim_id", "line", "kind", "rule")})
        c.register("lv", lv)
        q = f"""WITH lg AS (SELECT claim_id, CAST(line AS BIGINT) AS line,
                  string_agg(DISTINCT rule, ';' ORDER BY rule) FILTER (WHERE kind = 'reject') AS rules,
                  string_agg(DISTINCT rule, ';' ORDER BY rule) FILTER (WHERE kind = 'warn') AS warnings
                FROM lv GROUP BY claim_id, line)
                SELECT count(*), count(*) FILTER (WHERE {norm('a.rules')} = {norm('lg.rules')}
                  AND {norm('a.warnings')} = {norm('lg.warnings')})
                FROM {comp} a LEFT JOIN lg USING (claim_id, line)"""
        out["logica"] = c.execute(q).fetchall()[0]
    return out


# ---------------------------------------------------------------- driver

def one(engine: str, d: Path, sample: int) -> None:
    fn = {"compiled": run_compiled, "handwritten": run_handwritten, "logica": run_logica,
          "pydatalog": lambda dd: run_pydatalog(dd, sample), "check": lambda dd: run_check(dd, sample)}[engine]
    res = fn(d)
    res["peak_mib"] = max(peak_mib(), res.pop("child_peak_mib", 0.0))
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=30_000, help="lines for pyDatalog (one engine, whole batch)")
    ap.add_argument("--check-sample", type=int, default=300, help="lines for the per-claim check path")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of compiled and handwritten, alternated; the fastest counts (the machine is shared)")
    ap.add_argument("--skip", default="", help="comma-separated: compiled,handwritten,logica,pydatalog,check")
    ap.add_argument("--dir", help="keep data and outputs here (default: a temporary folder)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, Path(args.dir), args.sample)
        return
    tmp = None
    if args.dir:
        d = Path(args.dir)
        d.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cptkg-batch-bench-")
        d = Path(tmp.name)
    t = time.perf_counter()
    stamp = d / "generated.json"
    want = {"lines": args.lines, "seed": args.seed}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        print(f"reusing {args.lines:,} generated claim lines in {d}")
    else:
        generate(d, args.lines, args.seed)
        stamp.write_text(json.dumps(want))
        print(f"generated {args.lines:,} claim lines with history in {time.perf_counter() - t:.1f} s ({d})")
    print(f"machine: {os.cpu_count()} cores; DuckDB threads = cores")
    skip = set(filter(None, args.skip.split(",")))
    results = {}
    plan = [("compiled", args.sample), ("handwritten", args.sample), ("logica", args.sample),
            ("pydatalog", args.sample), ("check", args.check_sample)]
    def measure(engine: str, sample: int) -> dict:
        r = subprocess.run([sys.executable, __file__, "--one", engine, "--dir", str(d), "--sample", str(sample)],
                           capture_output=True, text=True)
        last = (r.stdout.strip().splitlines() or [""])[-1]
        try:
            return json.loads(last)
        except json.JSONDecodeError:
            return {"error": (r.stderr.strip().splitlines() or ["no output"])[-1]}

    runs: dict[str, list[dict]] = {}
    for _ in range(max(1, args.repeat)):
        for engine in ("compiled", "handwritten"):
            if engine not in skip:
                runs.setdefault(engine, []).append(measure(engine, args.sample))
    for engine, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            results[engine] = rs[0]
            continue
        best = min(ok, key=lambda r: r["seconds"])
        best["all_seconds"] = [round(r["seconds"], 2) for r in ok]
        best["peak_mib"] = max(r["peak_mib"] for r in ok)
        results[engine] = best
    for engine, sample in plan:
        if engine in skip or engine in results:
            continue
        results[engine] = measure(engine, sample)
    print()
    print(f"{'engine':<12} {'lines':>10} {'seconds':>9} {'lines/s':>12} {'peak MiB':>9}  note")
    names = {"compiled": "compiled SQL (cptkg batch, DuckDB)", "handwritten": "hand-written DuckDB SQL",
             "logica": "Logica on DuckDB (incl. input prep)", "pydatalog": "pyDatalog, one engine for the sample",
             "check": "cptkg check path, one engine per claim"}
    for engine, r in results.items():
        if "error" in r:
            print(f"{engine:<12} failed: {r['error']}")
            continue
        rate = r["lines"] / r["seconds"] if r["seconds"] else 0
        note = names[engine]
        if "all_seconds" in r and len(r["all_seconds"]) > 1:
            note += f" (best of {r['all_seconds']})"
        if engine == "logica":
            note += f" (prep {r['prep_seconds']:.2f} s + logica {r['run_seconds']:.2f} s)"
        print(f"{engine:<12} {r['lines']:>10,} {r['seconds']:>9.2f} {rate:>12,.0f} {r['peak_mib']:>9.0f}  {note}")
    if "compiled" in results and "handwritten" in results and "error" not in results["compiled"] and "error" not in results["handwritten"]:
        ratio = results["compiled"]["seconds"] / results["handwritten"]["seconds"]
        print(f"\ncompiled / hand-written time: {ratio:.2f}x (target <= 2x); "
              f"compiled 1M-line target: <= 1.5 s and <= 2048 MiB")
    if "compiled" in results and "error" not in results["compiled"]:
        for name, (n, same) in agreement(d).items():
            print(f"agreement with the compiled rules, {name}: {same:,} of {n:,} lines (verdict, rule ids, warnings)")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
