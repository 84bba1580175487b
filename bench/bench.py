"""Benchmark, both engines side by side in one run: CLI cold start, one 3-line
claim warm (p50/p95), explaining a 10-line claim (p50/p95), check throughput
on 10,000 generated claims (in-process, many claims per engine call, and the
``cptkg check`` command on the same file), the explorer's first page.

Prints figures; it asserts nothing (the targets are printed beside them).
    python bench/bench.py [--engines clingo,pydatalog] [--claims 10000]

pyDatalog's throughput is measured on the first ``--pydatalog-claims``
claims of the same file (at ~25 lines/s all 10,000 would take 15 minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cptkg.explanation import explain_claim  # noqa: E402
from cptkg.judge.check import check_claim, check_claims  # noqa: E402
from cptkg.claims.models import parse_claim, parse_claims  # noqa: E402
from cptkg.knowledge.loader import load_kb  # noqa: E402
from devtools import claimgen  # noqa: E402

CODES = ["62360", "62361", "62362", "62365", "62367", "62368", "62369", "62370", "95990", "95991", "J7799", "99213"]
ROLES = ["physician", "physician_assistant", "nurse_practitioner", "nurse", "physical_therapist"]


def gen_claim(rng: random.Random, i: int, n_lines: int) -> dict:
    days = [f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}" for _ in range(2)]
    lines = [{"line": k + 1, "code": rng.choice(CODES), "date_of_service": rng.choice(days),
              "provider_id": f"NPI-{rng.randint(1, 5)}", "provider_role": rng.choice(ROLES),
              "modifiers": rng.choice([[], ["KD"], ["59"]])} for k in range(n_lines)]
    hist = [{"code": rng.choice(["62360", "62361", "62362", "62365", "95990", "62369"]),
             "date_of_service": f"202{rng.randint(2, 4)}-0{rng.randint(1, 9)}-0{rng.randint(1, 9)}"} for _ in range(rng.randint(0, 3))]
    return {"claim_id": f"C{i}", "patient_id": f"P{i}", "lines": lines, "history": hist}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def generated_claims(n_claims: int, seed: int = 11) -> list[dict]:
    lines, history = claimgen.generate(int(n_claims * 2.2) + 50, seed=seed)
    claims = claimgen.to_claims(lines, history)
    return claims[:n_claims]


def cold_start(engine: str, example: Path, runs: int = 3) -> float:
    env = dict(os.environ, CPTKG_ENGINE=engine)
    cmd = [sys.executable, "-m", "cptkg", "check", str(example), "--json"]
    subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)  # the KB's SHACL pass is remembered
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def explorer_first_page(engine: str) -> float | None:
    """Seconds until the checker page (the default page) has run once, in a fresh process."""
    code = ("import time; t=time.perf_counter()\n"
            "from streamlit.testing.v1 import AppTest\n"
            "at = AppTest.from_file('app.py', default_timeout=60).run()\n"
            "assert not at.exception, at.exception\n"
            "print(time.perf_counter() - t)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, CPTKG_ENGINE=engine))
    try:
        return float(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


#: Streamlit's own floor: a page with nothing but the widgets the checker waits on
#: (a title, a data editor like its line editor, the "Check claim" button)
FLOOR_APP = """import streamlit as st
st.title("floor")
st.data_editor([{"line": 1, "code": "62367", "date_of_service": "2025-01-02"}], num_rows="dynamic")
st.button("Check claim")
"""


def explorer_in_browser(engine: str | None, floor: bool = False) -> dict[str, float] | None:
    """What an analyst waits for, in Chromium against a freshly started explorer.

    Seconds from opening the page to the checker being usable (its "Check
    claim" button shown and the script idle), for the first visit to a fresh
    server (the KB is loaded then) and for a second visit; and from clicking
    "Check claim" to the verdict and fixes shown. None when Debian's chromium
    or Playwright is missing. The server is started as ``scripts/app.sh``
    starts it (the KB warming up beside it), without the install step; the
    first visit comes as soon as the server answers its health check.
    """
    import signal
    import socket
    import urllib.request

    if not Path("/usr/bin/chromium").exists():
        return None
    try:
        from devtools.tour import browser_page, wait_idle
    except ImportError:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    floor_dir = tempfile.TemporaryDirectory() if floor else None
    if floor_dir:
        (Path(floor_dir.name) / "floor.py").write_text(FLOOR_APP, encoding="utf-8")
        cmd = [sys.executable, "-m", "streamlit", "run", str(Path(floor_dir.name) / "floor.py")]
    else:
        cmd = [sys.executable, "-m", "cptkg.faces.explorer.serve"]
    proc = subprocess.Popen(cmd + ["--server.address", "127.0.0.1", "--server.port", str(port),
                                   "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=dict(os.environ, CPTKG_ENGINE=engine or "clingo"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    out: dict[str, float] = {}
    try:
        t = time.perf_counter()
        while time.perf_counter() - t < 120:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        out["server start"] = time.perf_counter() - t
        with browser_page() as (page, _):
            for visit in ("first visit", "second visit"):
                t = time.perf_counter()
                page.goto(url)
                page.get_by_role("button", name="Check claim").wait_for()
                wait_idle(page)
                # wait_idle sleeps 0.6 s in all to see the status widget go; not the user's wait
                out[visit] = time.perf_counter() - t - 0.6
            if not floor:
                t = time.perf_counter()
                page.get_by_role("button", name="Check claim").click()
                page.get_by_text("Suggested fixes").wait_for()
                out["check to verdict"] = time.perf_counter() - t
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        if floor_dir:
            floor_dir.cleanup()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", default="clingo,pydatalog")
    ap.add_argument("--warm", type=int, default=100)
    ap.add_argument("--explain", type=int, default=20)
    ap.add_argument("--claims", type=int, default=10_000)
    ap.add_argument("--pydatalog-claims", type=int, default=300)
    ap.add_argument("--no-cli", action="store_true", help="skip cptkg check on the 10,000-claim file")
    args = ap.parse_args()
    engines = args.engines.split(",")
    example = ROOT / "examples" / "claim-rejected.json"
    res: dict[str, dict[str, str]] = {e: {} for e in engines}
    for e in engines:
        res[e]["cold start (cptkg check, 3-line claim), median of 3"] = f"{cold_start(e, example):.2f} s"
    t = time.perf_counter()
    kb = load_kb()
    print(f"KB load in-process (parse, rules; SHACL pass remembered): {time.perf_counter() - t:.2f} s")
    rng = random.Random(7)
    three = parse_claim(gen_claim(rng, 0, 3))
    ten = [parse_claim(gen_claim(rng, 1000 + i, 10)) for i in range(args.explain)]
    raw = generated_claims(args.claims)
    claims, _ = parse_claims(raw)
    n_lines = sum(len(c.lines) for c in claims)
    p50s = {}
    for e in engines:
        check_claim(kb, three, engine=e)  # static part computed once per KB and engine
        n = args.warm if e != "pydatalog" else min(args.warm, 40)
        warm = timed(lambda: check_claim(kb, three, engine=e), n)
        p50s[e] = pct(warm, 50)
        res[e]["one 3-line claim, warm p50 / p95"] = f"{pct(warm, 50) * 1000:.1f} / {pct(warm, 95) * 1000:.1f} ms ({n} runs)"
        sample = ten if e != "pydatalog" else ten[:5]
        times = []
        for c in sample:
            t = time.perf_counter()
            explain_claim(kb, c, engine=e)
            times.append(time.perf_counter() - t)
        res[e]["explain a 10-line claim p50 / p95"] = f"{pct(times, 50) * 1000:.0f} / {pct(times, 95) * 1000:.0f} ms ({len(sample)} claims)"
        some = claims if e != "pydatalog" else claims[:args.pydatalog_claims]
        some_lines = sum(len(c.lines) for c in some)
        t = time.perf_counter()
        check_claims(kb, some, engine=e)
        dt = time.perf_counter() - t
        res[e]["check_claims throughput"] = (f"{some_lines / dt:,.0f} lines/s ({len(some):,} claims, "
                                             f"{some_lines:,} lines in {dt:.1f} s)")
        first = explorer_first_page(e)
        res[e]["explorer first page (AppTest run, fresh process)"] = f"{first:.2f} s" if first else "n/a"
        seen = explorer_in_browser(e)
        res[e]["explorer in Chromium: page usable, first / second visit; check to verdict"] = (
            f"{seen['first visit']:.2f} / {seen['second visit']:.2f} s; {seen['check to verdict']:.2f} s "
            f"(server up in {seen['server start']:.1f} s)" if seen else "n/a (no chromium)")
    floor = explorer_in_browser(None, floor=True)
    if floor:
        print(f"Streamlit's floor in Chromium (a bare page: title, one data editor, the button): first / second "
              f"visit {floor['first visit']:.2f} / {floor['second visit']:.2f} s (server up in "
              f"{floor['server start']:.1f} s)")
    if "clingo" in p50s and "pydatalog" in p50s:
        print(f"one claim: clingo is {p50s['pydatalog'] / p50s['clingo']:.1f}x faster than pyDatalog (p50)")
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "claims.json"
            f.write_text(json.dumps(raw), encoding="utf-8")
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "cptkg", "check", str(f), "--json"], capture_output=True,
                               cwd=ROOT, env=dict(os.environ, CPTKG_ENGINE="clingo"))
            dt = time.perf_counter() - t
            print(f"cptkg check on {len(raw):,} generated claims ({n_lines:,} lines), default engine, "
                  f"real time {dt:.1f} s = {n_lines / dt:,.0f} lines/s (exit code {r.returncode})")
    keys = list(next(iter(res.values())))
    print(f"\n| measure | {' | '.join(engines)} |\n|---|{'---|' * len(engines)}")
    for k in keys:
        print(f"| {k} | {' | '.join(res[e].get(k, '') for e in engines)} |")


if __name__ == "__main__":
    main()
