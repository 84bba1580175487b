"""The same claims as claim JSON, as an X12 837P file and as an EHR-shaped FHIR
Bundle get the same verdicts, line for line (issue 22).

Every valid claim case of the pump pack (kb/pump/rules/claim.cases/)
is built in each format by the builders in devtools (each follows its
published layout): the 837P with its history as a ``--history`` file (an 837P
carries none) and its route, when the case states one for every line alike,
as ``--route`` (an 837P line has no route element). The verdicts compared
are each line's status and the rules that decided it.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cptkg import pipeline
from cptkg.cases import load_cases
from cptkg.knowledge.pack import case_files
from cptkg.claims.models import InputError
from devtools import fhir_build, x12_build

PACK = Path(__file__).resolve().parents[1] / "kb" / "pump"


@pytest.fixture(scope="module")
def kb():
    from cptkg.knowledge.loader import default_kb

    return default_kb()


@pytest.fixture(scope="module")
def cases(kb):
    given = [c for c in load_cases(case_files(PACK, "claim")) if isinstance(c.get("given"), dict)]
    return [(c["name"], c["given"]) for c in given
            if not isinstance(pipeline.parse(kb, [c["given"]])[0], InputError)]


def _verdicts(outcome) -> list[tuple]:
    (result,) = outcome.results
    assert result["status"] != "error", result.get("error")
    return [(ln["line"], ln["code"], ln["status"], sorted(r["rule"] for r in ln["reasons"]),
             sorted(w["rule"] for w in ln["warnings"])) for ln in result["lines"]]


def _history_csv(claim: dict) -> bytes | None:
    rows = claim.get("history") or []
    if not rows:
        return None
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["patient_id", "code", "date_of_service", "provider_id"])
    for h in rows:
        w.writerow([claim["patient_id"], h["code"], h["date_of_service"], h.get("provider_id") or ""])
    return out.getvalue().encode()


def _x12_claim(claim: dict) -> tuple[dict, str | None] | None:
    """The case as an 837P can carry it: without history, its one route as --route; None when it cannot."""
    routes = {ln.get("route") for ln in claim["lines"]}
    if len(routes) > 1:
        return None  # lines of one claim with different routes: no 837P element or option carries that
    route = routes.pop()
    bare = {k: v for k, v in claim.items() if k != "history"}
    bare["lines"] = [{k: v for k, v in ln.items() if k != "route"} for ln in claim["lines"]]
    return bare, route


def test_the_cases_cover_the_pack(cases):
    assert len(cases) >= 100  # a shrunken case file would make the comparison below vacuous


def test_every_rule_case_as_837p_gets_the_claim_json_verdicts_line_for_line(kb, cases):
    compared, differ = 0, []
    for name, claim in cases:
        want = _verdicts(pipeline.run(json.dumps(claim).encode(), "json", "json", kb=kb))
        built = _x12_claim(claim)
        if built is None:
            continue
        bare, route = built
        got = _verdicts(pipeline.run(x12_build.build([bare]).encode(), "x12", "json", kb=kb,
                                     history=_history_csv(claim), route=route))
        compared += 1
        if got != want:
            differ.append((name, want, got))
    assert not differ, differ[:3]
    assert compared >= 0.95 * len(cases)


def test_every_rule_case_as_fhir_gets_the_claim_json_verdicts_line_for_line(kb, cases):
    differ = []
    for name, claim in cases:
        want = _verdicts(pipeline.run(json.dumps(claim).encode(), "json", "json", kb=kb))
        got = _verdicts(pipeline.run(json.dumps(fhir_build.bundle(claim, kb)).encode(), "fhir", "json", kb=kb))
        if got != want:
            differ.append((name, want, got))
    assert not differ, differ[:3]


def test_one_837p_file_of_many_claims_gets_each_claims_verdicts(kb, cases):
    """Many claims of different patients in one interchange (several transactions): still one verdict each."""
    chosen = [c for _, c in cases if not c.get("history") and _x12_claim(c) and _x12_claim(c)[1] is None]
    ids = set()
    batch = []
    for c in chosen:  # one claim per id and patient (an 837P subscriber loop holds one patient's claims)
        if c["claim_id"] not in ids:
            ids.add(c["claim_id"])
            batch.append(c)
    assert len(batch) >= 10
    want = [_verdicts(pipeline.run(json.dumps(c).encode(), "json", "json", kb=kb)) for c in batch]
    out = pipeline.run(x12_build.build(batch, per_transaction=3).encode(), "x12", "json", kb=kb)
    got = [[(ln["line"], ln["code"], ln["status"], sorted(r["rule"] for r in ln["reasons"]),
             sorted(w["rule"] for w in ln["warnings"])) for ln in r["lines"]] for r in out.results]
    assert [r["claim_id"] for r in out.results] == [c["claim_id"] for c in batch]
    assert got == want


@pytest.mark.parametrize("fmt", ["json", "x12", "fhir", "csv"])
def test_a_claim_refused_for_its_history_or_its_time_limit_answers_each_line_in_every_format(kb, cases, fmt):
    """A claim that fails after it is read (a bad row of its patient's history, the time limit) came back as one
    row with no line or code from an 837P, a FHIR Bundle or claim JSON (an 18-line 837P gave 17 rows: a real-files
    audit); each line it gave is now answered with the claim's error, as from a claim CSV."""
    chosen = [c for _, c in cases if not c.get("history") and _x12_claim(c) and _x12_claim(c)[1] is None
              and len(c["lines"]) >= 2][:3]
    claims = []
    for i, c in enumerate(chosen):  # one patient each, ids of their own
        claims.append({**c, "claim_id": f"H{i}", "patient_id": f"PH{i}"})
    n_lines = sum(len(c["lines"]) for c in claims)
    data = {"json": lambda: json.dumps(claims).encode(), "x12": lambda: x12_build.build(claims).encode(),
            "fhir": lambda: json.dumps(fhir_build.bundle(claims, kb)).encode(),
            "csv": lambda: _claims_csv(claims)}[fmt]()
    bad_history = b"patient_id,code,date_of_service,provider_id\nPH1,62362,2025-02-30,\n"
    out = pipeline.run(data, fmt, "csv", kb=kb, history=bad_history)
    rows = list(csv.DictReader(io.StringIO(out.text)))
    assert len(rows) == n_lines, out.text
    refused = [r for r in rows if r["claim_id"] == "H1"]
    assert len(refused) == len(claims[1]["lines"]) and all(r["line"] and r["code"] for r in refused), refused
    assert all("history" in r["reasons"] for r in refused)
    timed = pipeline.run(data, fmt, "csv", kb=kb, timeout=0.000001)
    rows = list(csv.DictReader(io.StringIO(timed.text)))
    assert len(rows) == n_lines and all(r["status"] == "error" and r["line"] and r["code"] for r in rows), timed.text


def _claims_csv(claims: list[dict]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units",
                "modifiers"])
    for c in claims:
        for ln in c["lines"]:
            w.writerow([c["claim_id"], c["patient_id"], ln["line"], ln["code"], ln["date_of_service"], ln["provider_id"],
                        ln["provider_role"], ln.get("units", 1), ";".join(ln.get("modifiers") or [])])
    return out.getvalue().encode()


def test_batch_of_an_837p_with_a_bad_history_row_writes_a_row_for_every_line(kb, cases, tmp_path):
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    chosen = [c for _, c in cases if not c.get("history") and _x12_claim(c) and _x12_claim(c)[1] is None
              and len(c["lines"]) >= 2][:3]
    claims = [{**c, "claim_id": f"H{i}", "patient_id": f"PH{i}"} for i, c in enumerate(chosen)]
    (tmp_path / "c.x12").write_text(x12_build.build(claims), encoding="utf-8")
    for history in ("PH1,62362,2025-02-30,\n", ",62362,2025-01-02,\n"):  # one patient's bad row; a row of no patient
        (tmp_path / "h.csv").write_text("patient_id,code,date_of_service,provider_id\n" + history, encoding="utf-8")
        res = CliRunner().invoke(main, ["batch", str(tmp_path / "c.x12"), "--history", str(tmp_path / "h.csv"),
                                        "-o", str(tmp_path / "out.csv")])
        rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
        assert len(rows) == sum(len(c["lines"]) for c in claims), res.output
        assert all(r["line"] and r["code"] for r in rows if r["status"] == "error"), rows
