"""Cost of enforcing the evaluation time limit with a killable child process.

Prints p50/p95 of checking one claim warm with the thread-based
``pydatalog_engine.evaluate`` (whose limit cannot fire, see
docs/conformance.md) and with ``cptkg.rules.killable.evaluate`` (forked
child, killed at the limit), and how long the killable path takes to give
up on a claim that the thread path cannot stop.

    python bench/killable_overhead.py [N]
"""
from __future__ import annotations

import statistics
import sys
import time

import cptkg.check as chk
import cptkg.rules.killable as killable
import cptkg.rules.pydatalog_engine as engine
from cptkg.claims import parse_claims
from cptkg.kb import default_kb

CLAIM = {"claim_id": "B1", "patient_id": "P1", "lines": [
    {"line": 1, "code": "62369", "date_of_service": "2024-03-01", "provider_id": "D1", "provider_role": "physician"},
    {"line": 2, "code": "95990", "date_of_service": "2024-03-01", "provider_id": "D1", "provider_role": "nurse"}],
    "history": [{"code": "62362", "date_of_service": "2023-01-01"}]}
CODES = ["62360", "62361", "62362", "62365", "62367", "62368", "62369", "62370", "95990", "95991"]


def timings(kb, claim, n):
    chk.check_claims(kb, [claim])
    out = []
    for _ in range(n):
        t = time.perf_counter()
        chk.check_claims(kb, [claim])
        out.append(time.perf_counter() - t)
    out.sort()
    return statistics.median(out), out[int(0.95 * (len(out) - 1))]


def main(n: int = 30) -> None:
    kb = default_kb()
    claim = parse_claims(CLAIM)[0][0]
    for name, fn in (("thread (pydatalog_engine.evaluate)", engine.evaluate),
                     ("forked child (killable.evaluate)", killable.evaluate)):
        chk.evaluate = fn
        p50, p95 = timings(kb, claim, n)
        print(f"{name:38} one claim warm: p50 {p50 * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms  (n={n})")
    lines = [{"line": i, "code": CODES[i % 10], "date_of_service": "2024-03-01", "provider_id": "N",
              "provider_role": "physician"} for i in range(1, 101)]
    hist = [{"code": "62362", "date_of_service": f"20{10 + i % 14:02d}-0{1 + i % 9}-1{i % 9}"} for i in range(1000)]
    big = parse_claims({"claim_id": "BIG", "patient_id": "P", "lines": lines, "history": hist})[0][0]
    chk.evaluate = killable.evaluate
    t = time.perf_counter()
    try:
        chk.check_claim(kb, big, timeout=5)
        print("large claim: finished")
    except engine.EvaluationTimeout:
        print(f"large claim (100 lines one date, 1,000 history), limit 5 s: given up after "
              f"{time.perf_counter() - t:.1f} s with the killable path (the thread path runs on for minutes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
