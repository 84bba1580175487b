"""The decision-log salt race, run in a process of its own.

``python tests/salt_race.py DIR ROUNDS PROCS PER`` forks PROCS writers per
round; they wait at one barrier, then each appends PER decisions to
``DIR/round-N/race.jsonl``, so every writer tries to create the salt at the
same moment. It prints one JSON line per round: the patient hashes each
writer got (or ``FAILED: ...``) and the writers' exit codes.

Why a process of its own: the writers are forked, and a fork of a process
with threads (a pytest-xdist worker has them) can leave a child stuck on a
lock another thread held, so the barrier never fills. This process has one
thread when it forks.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

from cptkg.io.decision_log import append_decisions


def _writer(log, n, barrier, out):
    barrier.wait()  # every process creates the salt at the same moment
    hashes = []
    try:
        for i in range(n):
            claim = {"claim_id": f"C{os.getpid()}-{i}", "patient_id": "PAT-SAME",
                     "lines": [{"line": 1, "code": "62367", "date_of_service": "2025-03-04",
                                "provider_id": "NPI-1", "provider_role": "physician"}]}
            hashes += [r["patient"] for r in append_decisions(
                log, [claim], [{"claim_id": "C", "status": "accepted", "lines": []}], kb_version_value="v")]
    except Exception as e:  # noqa: BLE001 - reported to the test
        hashes.append(f"FAILED: {type(e).__name__}: {e}")
    out.put(hashes)


def main(folder: str, rounds: int, procs: int, per: int) -> None:
    ctx = mp.get_context("fork")
    for r in range(rounds):
        d = Path(folder) / f"round-{r}"
        d.mkdir(parents=True)
        barrier, out = ctx.Barrier(procs), ctx.Queue()
        ps = [ctx.Process(target=_writer, args=(str(d / "race.jsonl"), per, barrier, out)) for _ in range(procs)]
        for p in ps:
            p.start()
        hashes = [h for _ in ps for h in out.get(timeout=120)]
        for p in ps:
            p.join(30)
        print(json.dumps({"round": r, "hashes": hashes, "exit_codes": [p.exitcode for p in ps]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:5]))
