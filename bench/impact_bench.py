"""Impact benchmark (issue 25, at scale): ``cptkg impact`` through the batch engine against one batch.

Generates N claim lines (default 300,000; devtools.claimgen with the edit
codes) and two SYNTHETIC edit releases in the published layouts (as
tests/test_impact_batch.py: a pair deleted, a pair added, an MUE lowered;
every pair, value, date and row made up, not CMS values), then measures in
the same run, each in a fresh subprocess (so peak memory is that run's own):

* batch  - one ``cptkg batch`` of the file under the later release
  (:func:`cptkg.judge.batch.run_batch`, DuckDB, verdicts to Parquet);
* impact - ``cptkg impact`` of the same file, both releases
  (:func:`cptkg.judge.impact_batch.batch_impact`: one batch per side, the
  join, the changed lines' causes).

Loading the knowledge bases is not timed in either. Target (issue 25): impact <= 3x batch.

    python bench/impact_bench.py [--lines 300000] [--format parquet|csv] [--dir DIR]
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
sys.path.insert(0, str(ROOT / "tests"))


def _kbs(d: Path):
    from cptkg.knowledge.loader import default_kb

    before = sorted(d.glob("*-2024Q4.ttl"))
    after = sorted(d.glob("*-2025Q1.ttl"))
    return default_kb(None, edits=before), default_kb(None, edits=after)


def prepare(d: Path, n: int, fmt: str) -> Path:
    import datetime as dt

    from devtools import claimgen
    from cptkg.knowledge.edits.cms_import import import_table, parse_release
    from test_edit_tables_published import mue_csv, ptp_text
    from test_impact_batch import AFTER_MUE, AFTER_PTP, BEFORE_MUE, BEFORE_PTP

    for label, ptp, mue in (("2024Q4", BEFORE_PTP, BEFORE_MUE), ("2025Q1", AFTER_PTP, AFTER_MUE)):
        for kind, build, rows in (("ptp", ptp_text, ptp), ("mue", mue_csv, mue)):
            src = build(d / f"{kind}-{label}.{'txt' if kind == 'ptp' else 'csv'}", rows)
            import_table(kind, [src], d / f"{kind}-{label}.ttl", imported=dt.date(2026, 4, 2),
                         release=parse_release(label))
    lines, history = claimgen.generate(n, seed=5, edits=True)
    path = d / f"claims.{fmt}"
    claimgen.write(lines, path, claimgen.EDIT_LINE_FIELDS)
    claimgen.write(history, d / "history.parquet", claimgen.HISTORY_FIELDS)
    return path


def child(what: str, d: Path, path: Path) -> None:
    before, after = _kbs(d)
    t = time.perf_counter()
    if what == "batch":
        from cptkg.judge.batch import run_batch

        s = run_batch(path, d / "verdicts.parquet", d / "history.parquet", kb=after)
        extra = {"lines": s.lines_in, "rejected": s.rejected}
    else:
        from cptkg.judge.impact_batch import batch_impact

        r = batch_impact(path, before, after, d / "history.parquet")
        s = r.summary()
        extra = {"lines": s["lines"], "changed": s["changed"], "warnings_changed": s["warnings_changed"],
                 "by_direction": s["by_direction"], "not_judged": s["not_judged"]}
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      **extra}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    d = Path(a.dir or tempfile.mkdtemp(prefix="cptkg-impact-bench-"))
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"claims.{a.format}"
    if a.child:
        child(a.child, d, path)
        return
    t = time.perf_counter()
    prepare(d, a.lines, a.format)
    print(f"generated {a.lines:,} claim lines ({a.format}) and two SYNTHETIC releases in {d} "
          f"({time.perf_counter() - t:.1f} s); {os.cpu_count()} cores")
    got = {}
    for what in ("batch", "impact"):
        out = subprocess.run([sys.executable, __file__, "--dir", str(d), "--format", a.format, "--child", what],
                             capture_output=True, text=True, check=True, env={**os.environ, "CPTKG_CACHE_DIR": str(d / "cache")})
        got[what] = json.loads(out.stdout.strip().splitlines()[-1])
    b, i = got["batch"], got["impact"]
    print(f"{'run':<8}{'lines':>10}{'seconds':>10}{'peak MiB':>10}  note")
    print(f"{'batch':<8}{b['lines']:>10,}{b['seconds']:>10.2f}{b['peak_mib']:>10.0f}  one cptkg batch, later release "
          f"({b['rejected']:,} rejected)")
    print(f"{'impact':<8}{i['lines']:>10,}{i['seconds']:>10.2f}{i['peak_mib']:>10.0f}  cptkg impact, both releases "
          f"({i['changed']:,} changed: {i['by_direction']}; {i['warnings_changed']:,} warnings changed; "
          f"{i['not_judged']:,} claims not judged)")
    ratio = i["seconds"] / b["seconds"]
    print(f"impact / batch: {ratio:.2f}x (target <= 3x: {'met' if ratio <= 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
