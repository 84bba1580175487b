"""Benchmark: time of each export format, SPARQL query latency, and CSV and
FHIR batch throughput through read -> check -> write.

Prints figures; it asserts nothing.
    python bench/interop.py [--claims 200]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cptkg import pipeline as batch  # noqa: E402
from cptkg import exports as exporters  # noqa: E402
from cptkg.knowledge import sparql  # noqa: E402
from cptkg.knowledge.datasets import load_graphs  # noqa: E402
from cptkg.knowledge.loader import default_kb  # noqa: E402

CODES = ["62360", "62362", "62367", "62368", "62369", "62370", "95990", "95991"]
ROLES = ["physician", "physician_assistant", "nurse_practitioner", "nurse", "physical_therapist"]
NUCC = {"physician": "207L00000X", "physician_assistant": "363A00000X", "nurse_practitioner": "363L00000X",
        "nurse": "163W00000X", "physical_therapist": "225100000X"}


def csv_batch(rng: random.Random, n: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units",
                "modifiers"])
    for i in range(n):
        for k in range(rng.randint(1, 3)):
            w.writerow([f"C{i}", f"P{i % 50}", k + 1, rng.choice(CODES), f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                        f"NPI-{rng.randint(1, 5)}", rng.choice(ROLES), 1, ""])
    return buf.getvalue().encode()


def fhir_bundle(rng: random.Random, n: int) -> bytes:
    entries = []
    for i in range(n):
        role = rng.choice(ROLES)
        entries.append({"resource": {
            "resourceType": "Claim", "id": f"C{i}", "status": "active", "use": "claim", "created": "2025-01-01",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "patient": {"reference": f"Patient/P{i}"}, "provider": {"reference": "Organization/o"},
            "priority": {"coding": [{"code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/c"}}],
            "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/X"},
                          "qualification": {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": NUCC[role]}]}}],
            "item": [{"sequence": 1, "careTeamSequence": [1], "servicedDate": "2025-03-01",
                      "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": rng.choice(CODES)}]}}],
        }})
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(7)
    t = time.perf_counter()
    kb = default_kb()
    load_graphs()
    print(f"load KB + graphs: {time.perf_counter() - t:.2f} s")
    for name in exporters.formats():
        t = time.perf_counter()
        files = exporters.export(name, "ontology" if name == "html" else "both")
        size = sum(len(v) for v in files.values())
        print(f"export {name:10s} {time.perf_counter() - t:6.2f} s  {size / 1024:8.1f} KiB")
    ds = sparql.query_dataset()
    times = []
    for _ in range(10):
        t = time.perf_counter()
        sparql.run_query("SELECT ?c ?r WHERE { ?c <https://w3id.org/cptkg/ontology#mayBePerformedBy> ?r }", ds)
        times.append(time.perf_counter() - t)
    print(f"query (forked, with time limit): p50 {statistics.median(times) * 1000:.0f} ms")
    for label, data, out in (("CSV", csv_batch(rng, args.claims), "csv"), ("FHIR", fhir_bundle(rng, args.claims), "fhir")):
        t = time.perf_counter()
        res = batch.run(data, output=out, kb=kb, progress=False)
        dt = time.perf_counter() - t
        n_lines = sum(len(r["lines"]) for r in res.results)
        print(f"{label} batch: {len(res.results)} claims, {n_lines} lines in {dt:.2f} s "
              f"({len(res.results) / dt:.0f} claims/s)")


if __name__ == "__main__":
    main()
