"""Benchmark: CLI cold start, one claim warm (p50/p95), batch throughput.

Prints figures; it asserts nothing (targets live here, not in unit tests).
    python bench/bench.py [--claims 200]
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cptkg.judge.check import check_claim  # noqa: E402
from cptkg.judge.input import parse_claim  # noqa: E402
from cptkg.explain import explain_claim  # noqa: E402
from cptkg.knowledge.loader import load_kb  # noqa: E402

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--warm", type=int, default=100)
    ap.add_argument("--explain", type=int, default=20)
    args = ap.parse_args()
    example = ROOT / "examples" / "claim-rejected.json"
    cold = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cptkg", "check", str(example), "--json"], capture_output=True)
        cold.append(time.perf_counter() - t)
    print(f"CLI cold start (python -m cptkg check, 3-line claim): median {statistics.median(cold):.2f} s over {len(cold)} runs")
    t = time.perf_counter()
    kb = load_kb()
    print(f"KB load (parse + SHACL + rules): {time.perf_counter() - t:.2f} s")
    rng = random.Random(7)
    claim = parse_claim(gen_claim(rng, 0, 3))
    check_claim(kb, claim)
    warm = []
    for _ in range(args.warm):
        t = time.perf_counter()
        check_claim(kb, claim)
        warm.append(time.perf_counter() - t)
    print(f"one 3-line claim, warm: p50 {pct(warm, 50) * 1000:.0f} ms, p95 {pct(warm, 95) * 1000:.0f} ms ({args.warm} runs)")
    ten = [parse_claim(gen_claim(rng, 1000 + i, 10)) for i in range(args.explain)]
    times = []
    for c in ten:
        t = time.perf_counter()
        explain_claim(kb, c)
        times.append(time.perf_counter() - t)
    print(f"explain a 10-line claim (proofs, why-not, verified fixes): p50 {pct(times, 50):.2f} s, p95 {pct(times, 95):.2f} s ({len(times)} claims)")
    claims = [parse_claim(gen_claim(rng, i, rng.randint(1, 6))) for i in range(args.claims)]
    n_lines = sum(len(c.lines) for c in claims)
    t = time.perf_counter()
    for c in claims:
        check_claim(kb, c)
    dt = time.perf_counter() - t
    print(f"batch through pyDatalog: {args.claims} claims, {n_lines} lines in {dt:.1f} s = {n_lines / dt:.0f} lines/s, {args.claims / dt:.1f} claims/s")


if __name__ == "__main__":
    main()
