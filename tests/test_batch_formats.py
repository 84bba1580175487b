"""``cptkg batch`` on an X12 837P file, a FHIR Bundle and claim JSON (issue 22: every option and output works).

Batch must give the verdicts ``cptkg check`` gives on the same file: the
files are built by devtools (x12_build follows the 837P 005010X222A1 loops,
fhir_build an EHR's R4 Bundle) from the pump pack's rule cases
(kb/pump/rules/claim.cases/), each case a claim of its own patient
(ids suffixed, SYNTHETIC), with a claim the reader refuses in the middle of
the file and the cases' history as ``--history`` (837P) or as the Bundle's
Procedures plus a ``--history`` file (FHIR). Compared per line: status, rule
ids, messages and warnings; a refused claim: one error row, in file order,
carrying check's words for it.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cptkg import pipeline
from cptkg.cases import load_cases
from cptkg.knowledge.pack import case_files
from cptkg.faces.cli import main
from cptkg.batch_files import is_claim_document
from cptkg.io.readers.fhir import nucc_role
from cptkg.claims.models import InputError
from devtools import fhir_build, x12_build

PACK = Path(__file__).resolve().parents[1] / "kb" / "pump"
# a NUCC code (Acupuncturist) the pump pack maps to no provider role: the 837P reader refuses its claim
UNMAPPED_TAXONOMY = "171100000X"
HISTORY_HEADER = ["patient_id", "code", "date_of_service", "provider_id"]


@pytest.fixture(scope="module")
def kb():
    from cptkg.knowledge.loader import default_kb

    return default_kb()


@pytest.fixture(scope="module")
def claims(kb):
    """Valid rule cases with one route (an 837P line has none), each made a claim of its own patient.

    Every third case, so the file mixes rejections, warnings and history
    (the formats-agree suite runs every case one at a time)."""
    out = []
    cases = [c for c in load_cases(case_files(PACK, "claim")) if isinstance(c.get("given"), dict)]
    for n, case in enumerate(cases):
        given = case["given"]
        if n % 3 or isinstance(pipeline.parse(kb, [given])[0], InputError):
            continue
        if len({ln.get("route") for ln in given["lines"]}) > 1 or any(ln.get("route") for ln in given["lines"]):
            continue
        claim = json.loads(json.dumps(given))
        claim["claim_id"] = f"{claim['claim_id']}-{n}"
        claim["patient_id"] = f"{claim['patient_id']}-{n}"  # SYNTHETIC: one patient per case
        out.append(claim)
    return out


def _refused_x12(claim: dict) -> dict:
    bad = json.loads(json.dumps(claim))
    bad["claim_id"] = "REFUSED-1"
    bad["patient_id"] = "P-REFUSED"
    for ln in bad["lines"]:
        ln["taxonomy"] = UNMAPPED_TAXONOMY
    return bad


def _history_csv(path: Path, claims: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HISTORY_HEADER)
        for c in claims:
            for h in c.get("history") or []:
                w.writerow([c["patient_id"], h["code"], h["date_of_service"], h.get("provider_id") or ""])
    return path


def _bare(claim: dict) -> dict:
    return {k: v for k, v in claim.items() if k != "history"}


def _batch(path: Path, out: Path, *extra: str):
    res = CliRunner().invoke(main, ["batch", str(path), "-o", str(out), *extra])
    rows = None
    if out.exists():
        rows = (pq.read_table(out).to_pylist() if out.suffix == ".parquet"
                else list(csv.DictReader(open(out, encoding="utf-8"))))
    return res, rows


def _check(path: Path, *extra: str) -> tuple[int, list[dict]]:
    res = CliRunner().invoke(main, ["check", str(path), "--json", *extra])
    assert res.exit_code in (0, 1, 2), res.output
    got = json.loads(res.stdout)
    return res.exit_code, got if isinstance(got, list) else [got]


def _split(cell) -> list[str]:
    return sorted(set(filter(None, (cell or "").split(";"))))


def _from_batch(rows: list[dict]) -> list[tuple]:
    out = []
    for r in rows:
        if r["status"] == "error":
            out.append(("error", r["claim_id"], r["error"]))
        else:
            out.append((r["claim_id"], int(r["line"]), r["code"], r["status"], _split(r["rules"]),
                        sorted(set(filter(None, (r["reasons"] or "").split(" | ")))), _split(r["warnings"])))
    return out


def _from_check(results: list[dict]) -> list[tuple]:
    out = []
    for res in results:
        if res["status"] == "error":  # one entry per line the claim gave: batch writes each its error row
            given = res.get("lines_not_judged") or [{}]
            bad = [g for g in given if g.get("has_error")]
            numbers = [g.get("line") for g in given]
            # the error in one line: the claim's other lines say so, as check's CSV writes them
            other = (f"claim {res['claim_id']}: claim not judged because line {bad[0]['line']} has an error"
                     if res.get("claim_id") and len(bad) == 1 and bad[0].get("line") not in ("", None)
                     and numbers.count(bad[0]["line"]) == 1 else None)
            out.extend(("error", res["claim_id"], other if other and not g.get("has_error") else res["error"])
                       for g in given)
            continue
        for ln in res["lines"]:
            out.append((res["claim_id"], ln["line"], ln["code"], ln["status"],
                        sorted({r["rule"] for r in ln["reasons"]}), sorted({r["message"] for r in ln["reasons"]}),
                        sorted({w["rule"] for w in ln["warnings"]})))
    return out


def _agree(batch_rows: list[dict], check_results: list[dict]) -> None:
    """Line for line; a refused claim's row carries check's error after 'row N: '."""
    got, want = _from_batch(batch_rows), _from_check(check_results)
    assert len(got) == len(want)
    for n, (g, w) in enumerate(zip(got, want), start=1):
        if w[0] == "error":
            assert g[0] == "error" and g[1] == w[1] and g[2] == f"row {n}: {w[2]}", (n, g, w)
        else:
            assert g == w, (n, g, w)
    assert [int(r["row"]) for r in batch_rows] == list(range(1, len(batch_rows) + 1))


def test_the_cases_reach_rejections_warnings_and_history(claims):
    # a shrunken case file would make the comparisons below vacuous
    assert len(claims) >= 20
    assert sum(1 for c in claims if c.get("history")) >= 5


def test_837p_with_a_refused_claim_in_the_middle_and_history_gets_checks_verdicts(tmp_path, claims):
    assert nucc_role(UNMAPPED_TAXONOMY) is None
    middle = len(claims) // 2
    file_claims = claims[:middle] + [_refused_x12(claims[0])] + claims[middle:]
    src = tmp_path / "claims.837"
    src.write_text(x12_build.build([_bare(c) for c in file_claims], per_transaction=7), encoding="utf-8")
    hist = _history_csv(tmp_path / "history.csv", claims)
    code, results = _check(src, "--history", str(hist))
    assert code == 2 and sum(r["status"] == "error" for r in results) == 1
    assert any(r["status"] == "rejected" for r in results)
    res, rows = _batch(src, tmp_path / "verdicts.csv", "--history", str(hist))
    assert res.exit_code == code, res.output
    _agree(rows, results)
    refused = [r for r in rows if r["status"] == "error"]
    # one error row per service line of the refused claim (none dropped unseen)
    assert [r["claim_id"] for r in refused] == ["REFUSED-1"] * len(claims[0]["lines"])
    # the line at fault says why; the others name it (as check's CSV writes them)
    assert sum(UNMAPPED_TAXONOMY in r["error"] for r in refused) == 1
    assert all(UNMAPPED_TAXONOMY in r["error"] or "claim not judged because line" in r["error"] for r in refused)
    # each error row names the service line it stands for (LX01 and SV101-2), as check's lines_not_judged do
    assert [(int(r["line"]), r["code"]) for r in refused] == [(ln["line"], ln["code"]) for ln in claims[0]["lines"]]
    # in file order: after the rows of the claims before it
    assert int(refused[0]["row"]) == sum(len(c["lines"]) for c in claims[:middle]) + 1
    assert "claims in: " + str(len(file_claims)) in res.output and "X12 837P" in res.output
    assert f"errors:    {len(claims[0]['lines'])}" in res.output  # rows: one per line of the refused claim


def test_history_changes_the_837p_verdicts_as_it_changes_checks(tmp_path, claims):
    """Without --history some verdicts differ (the file carries none): the history file is really read."""
    with_history = [c for c in claims if c.get("history")]
    src = tmp_path / "claims.txt"  # an 837P named .txt, as practice systems save them: told by content
    src.write_text(x12_build.build([_bare(c) for c in with_history]), encoding="utf-8")
    _, without = _batch(src, tmp_path / "without.csv")
    _, results = _check(src)
    _agree(without, results)
    hist = _history_csv(tmp_path / "h.csv", with_history)
    _, with_ = _batch(src, tmp_path / "with.csv", "--history", str(hist))
    _, results = _check(src, "--history", str(hist))
    _agree(with_, results)
    assert _from_batch(with_) != _from_batch(without)


def test_fhir_bundle_procedures_and_history_file_merged_as_check_merges_them(tmp_path, claims, kb):
    """The Bundle's Procedures (the claims' own history) come first, the --history rows of the patient after."""
    with_history = [c for c in claims if c.get("history")]
    half = len(with_history) // 2
    own = [dict(c) for c in with_history[:half]]  # history in the Bundle
    given = [dict(c, history=[]) for c in with_history[half:]]  # history only in the --history file
    doc = fhir_build.bundle(own + [_bare(c) for c in given] + [_bare(c) for c in claims if not c.get("history")], kb)
    # the middle Claim loses its date of service: the reader refuses that Claim, the others are judged
    claim_entries = [e for e in doc["entry"] if e["resource"]["resourceType"] == "Claim"]
    victim = claim_entries[len(claim_entries) // 2]["resource"]
    victim["item"][0].pop("servicedDate")
    src = tmp_path / "bundle.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    hist = _history_csv(tmp_path / "history.csv", with_history[half:] + own[:1])  # own[0]: both sources
    code, results = _check(src, "--history", str(hist))
    res, rows = _batch(src, tmp_path / "verdicts.csv", "--history", str(hist))
    assert code == 2 and res.exit_code == 2, res.output
    _agree(rows, results)
    bad = [r for r in rows if r["status"] == "error"]  # one row per item of the refused Claim
    assert len(bad) == len(victim["item"])
    assert all(r["claim_id"] == victim["id"] for r in bad)
    assert sum("servicedDate: missing" in r["error"] for r in bad) == 1
    assert all("servicedDate: missing" in r["error"] or "claim not judged because line" in r["error"] for r in bad)


def test_parquet_output_of_an_837p_keeps_batchs_columns(tmp_path, claims):
    src = tmp_path / "c.edi"
    src.write_text(x12_build.build([_bare(c) for c in claims[:5]]), encoding="utf-8")
    res, rows = _batch(src, tmp_path / "v.parquet")
    assert res.exit_code in (0, 1), res.output
    assert list(rows[0]) == ["row", "claim_id", "line", "code", "status", "rules", "reasons", "warnings", "error",
                             "carc", "carc_description", "checked"]
    assert [r["row"] for r in rows] == list(range(1, sum(len(c["lines"]) for c in claims[:5]) + 1))


def test_parquet_history_is_read_for_an_837p(tmp_path, claims):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with_history = [c for c in claims if c.get("history")][:4]
    src = tmp_path / "c.837"
    src.write_text(x12_build.build([_bare(c) for c in with_history]), encoding="utf-8")
    hist_csv = _history_csv(tmp_path / "h.csv", with_history)
    table = pacsv.read_csv(hist_csv, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in HISTORY_HEADER}))
    pq.write_table(table, tmp_path / "h.parquet")
    _, from_csv = _batch(src, tmp_path / "a.csv", "--history", str(hist_csv))
    res, from_parquet = _batch(src, tmp_path / "b.csv", "--history", str(tmp_path / "h.parquet"))
    assert res.exit_code in (0, 1), res.output
    assert from_parquet == from_csv


def test_a_claim_id_given_twice_judges_the_first_as_check_does(tmp_path):
    """Check refuses the second claim with an id; batch groups rows by claim id, so the refused
    claim's row must not carry the id (it would make batch refuse the first claim too)."""
    line = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "NPI-1",
            "provider_role": "nurse"}
    doc = [{"claim_id": "C-9", "patient_id": "P-9", "lines": [line]},
           {"claim_id": "C-9", "patient_id": "P-8", "lines": [dict(line, code="95990")]}]
    src = tmp_path / "claims.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    _, results = _check(src)
    res, rows = _batch(src, tmp_path / "v.csv")
    assert res.exit_code == 2
    assert rows[0]["status"] == results[0]["status"] != "error"
    assert rows[1]["status"] == "error" and rows[1]["claim_id"] == ""
    assert rows[1]["error"] == "row 2: " + results[1]["error"] and "C-9" in rows[1]["error"]


def test_a_value_a_claim_row_cannot_hold_unchanged_is_an_error_row_not_another_verdict(tmp_path):
    """' NPI-1' and 'NPI-1' are two providers to check; as a CSV cell it would be trimmed into one."""
    line = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "NPI-1",
            "provider_role": "nurse"}
    doc = [{"claim_id": "A", "patient_id": "P", "lines": [line]},
           {"claim_id": "B", "patient_id": "P", "lines": [dict(line, provider_id=" NPI-1")]},
           {"claim_id": "C", "patient_id": "P", "lines": [dict(line, modifiers=["59 XS"])]}]
    src = tmp_path / "claims.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    res, rows = _batch(src, tmp_path / "v.csv")
    assert res.exit_code == 2
    assert rows[0]["status"] != "error" and [r["status"] for r in rows[1:]] == ["error", "error"]
    assert "claim B, line 1, field provider_id: ' NPI-1' begins or ends with spaces" in rows[1]["error"]
    # a modifier is two letters or digits: '59 XS' is refused by the claim model, as check refuses it
    assert "'59 XS' is not a modifier" in rows[2]["error"] and rows[2]["claim_id"] == "C"


def test_an_unreadable_837p_is_one_line_naming_the_file_and_writes_nothing(tmp_path, claims):
    text = x12_build.build([_bare(claims[0])])
    src = tmp_path / "broken.837"
    src.write_text(text.replace("SV1*", "XX9*", 1), encoding="utf-8")
    res, rows = _batch(src, tmp_path / "v.csv")
    assert res.exit_code == 2 and rows is None
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("cptkg: ") and str(src) in line and "Traceback" not in res.output


def test_the_claim_file_cap_holds_for_an_837p(tmp_path, claims, monkeypatch):
    from cptkg import limits

    src = tmp_path / "big.837"
    src.write_text(x12_build.build([_bare(c) for c in claims[:3]]), encoding="utf-8")
    monkeypatch.setattr(limits, "MAX_CLAIM_FILE_BYTES", src.stat().st_size - 1)
    res, rows = _batch(src, tmp_path / "v.csv")
    assert res.exit_code == 2 and rows is None
    (line,) = res.stderr.strip().splitlines()
    assert str(src) in line and "over the limit" in line


def test_a_bad_history_file_names_the_history_file(tmp_path, claims):
    src = tmp_path / "c.837"
    src.write_text(x12_build.build([_bare(claims[0])]), encoding="utf-8")
    hist = tmp_path / "h.csv"
    hist.write_text("patient_id,date_of_service\nP,2025-01-01\n", encoding="utf-8")
    res, rows = _batch(src, tmp_path / "v.csv", "--history", str(hist))
    assert res.exit_code == 2 and rows is None
    (line,) = res.stderr.strip().splitlines()
    assert f"--history {hist}" in line and "missing column code" in line


@pytest.mark.parametrize("command", ["check", "explain"])
def test_check_names_a_history_file_it_cannot_read_by_its_path(tmp_path, claims, command):
    src = tmp_path / "c.json"
    src.write_text(json.dumps(_bare(claims[0])), encoding="utf-8")
    hist = tmp_path / "h.csv"
    hist.write_text("patient_id,code\nP,62360\n", encoding="utf-8")
    res = CliRunner().invoke(main, [command, str(src), "--history", str(hist)])
    assert res.exit_code == 2
    (line,) = res.stderr.strip().splitlines()
    assert line == f"cptkg: --history {hist}, header: missing column date_of_service"


def test_a_history_the_reader_cannot_read_is_its_own_error_type(claims):
    """A face tells the history's refusal from the claims' by type, not by the wording of its message."""
    from cptkg import HistoryReadError, ReadError, readers

    with pytest.raises(HistoryReadError) as e:
        readers.read(json.dumps(_bare(claims[0])).encode(), history=b"\xff\xfe\x00garbage")
    assert isinstance(e.value, ReadError)
    assert e.value.named("h.csv").startswith("h.csv: ") and "history file" not in e.value.named("h.csv")
    with pytest.raises(ReadError) as e:  # the claims' own refusal stays a plain ReadError
        readers.read(b"claim_id,code\n", history=b"patient_id,code,date_of_service\n")
    assert not isinstance(e.value, HistoryReadError)


def test_the_temporary_rows_are_removed_after_success_and_after_a_failure(tmp_path, claims, monkeypatch):
    import tempfile

    from cptkg.judge import batch as judge_batch

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    src = tmp_path / "c.837"
    src.write_text(x12_build.build([_bare(c) for c in claims[:2]]), encoding="utf-8")
    res, _ = _batch(src, tmp_path / "v.csv")
    assert res.exit_code in (0, 1)
    assert not [p for p in scratch.iterdir() if p.name.startswith("cptkg-batch-in-")]

    seen = []

    def failing(input_path, *a, **k):
        seen.append(Path(input_path))
        assert Path(input_path).is_file()  # the rows exist while batch runs
        raise judge_batch.BatchInputError("SYNTHETIC failure")

    monkeypatch.setattr(judge_batch, "run_batch", failing)
    res, _ = _batch(src, tmp_path / "w.csv")
    assert res.exit_code == 2 and "SYNTHETIC failure" in res.stderr
    assert seen and not seen[0].exists()
    assert not [p for p in scratch.iterdir() if p.name.startswith("cptkg-batch-in-")]


def test_claim_rows_are_still_streamed_and_only_claim_documents_are_rewritten(tmp_path, claims):
    rows = tmp_path / "rows.csv"
    rows.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role\n"
                    "A,P,1,62367,2025-03-04,NPI-1,nurse\n", encoding="utf-8")
    x12 = tmp_path / "x.txt"
    x12.write_text(x12_build.build([_bare(claims[0])]), encoding="utf-8")
    fhir = tmp_path / "f.csv"  # misnamed: told by its content
    fhir.write_text(json.dumps(fhir_build.bundle(_bare(claims[0]))), encoding="utf-8")
    assert not is_claim_document(rows)
    assert is_claim_document(x12) and is_claim_document(fhir)
    assert not is_claim_document(tmp_path / "missing.837")  # left to batch, which names it
    res, out = _batch(rows, tmp_path / "v.csv")
    assert res.exit_code == 0 and out[0]["status"] == "accepted" and "claims in:" not in res.output
    res, _ = _batch(tmp_path / "missing.837", tmp_path / "w.csv")
    assert res.exit_code == 2 and f"{tmp_path / 'missing.837'}: no such file" in res.stderr


def test_claims_of_one_patient_with_different_histories_keep_their_own(tmp_path, claims):
    """Claim JSON carries history per claim, batch applies it per patient: each claim keeps its own."""
    pairs = []
    for c in (c for c in claims if c.get("history")):
        pairs.append(dict(c, patient_id="P-SHARED"))
        pairs.append(dict(_bare(c), claim_id=c["claim_id"] + "-bare", patient_id="P-SHARED"))
    src = tmp_path / "claims.json"
    src.write_text(json.dumps(pairs), encoding="utf-8")
    _, results = _check(src)
    _, rows = _batch(src, tmp_path / "v.csv")
    _agree(rows, results)
    by_claim: dict[str, list] = {}
    for r in _from_batch(rows):
        by_claim.setdefault(r[0].removesuffix("-bare"), []).append(r[1:])
    assert any(v[: len(v) // 2] != v[len(v) // 2:] for v in by_claim.values())


@pytest.mark.parametrize("fmt", ["x12", "fhir"])
def test_every_line_of_a_refused_claim_gets_its_error_row_in_check_and_batch(tmp_path, kb, fmt):
    """A claim refused for one line's units (1.5) answers for every line it gave, in both commands: before,
    an 837P or FHIR claim refused gave check no line and batch one row for the whole claim (an audit)."""
    good = {"claim_id": "OK-1", "patient_id": "P-1",
            "lines": [{"line": 1, "code": "95991", "date_of_service": "2025-03-04", "provider_id": "1234567893",
                       "provider_role": "physician"}]}
    bad = {"claim_id": "BAD-1", "patient_id": "P-2",
           "lines": [dict(good["lines"][0], line=1, code="95990", units=2),
                     dict(good["lines"][0], line=2, code="62367"), dict(good["lines"][0], line=3, code="J0475")]}
    if fmt == "x12":
        head, _, tail = x12_build.build([good, bad]).partition("CLM*BAD-1")
        text = head + "CLM*BAD-1" + tail.replace("*UN*2*", "*UN*1.5*", 1)
        path = tmp_path / "claims.x12"
    else:
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [e for c in (good, bad) for e in fhir_build.bundle(c, kb)["entry"]]}
        for e in bundle["entry"]:
            r = e["resource"]
            if r.get("resourceType") == "Claim" and r.get("id") == "BAD-1":
                r["item"][0]["quantity"] = {"value": 1.5}
        text = json.dumps(bundle)
        path = tmp_path / "claims.json"
    path.write_text(text)
    code, results = _check(path)
    refused = next(r for r in results if r["claim_id"] == "BAD-1")
    assert refused["status"] == "error"
    assert [(g["line"], g["code"]) for g in refused["lines_not_judged"]] == [(1, "95990"), (2, "62367"), (3, "J0475")]
    res, rows = _batch(path, tmp_path / "out.csv")
    assert res.exit_code == 2, res.output
    assert [r["status"] for r in rows if r["claim_id"] == "BAD-1"] == ["error"] * 3
    assert len(rows) == 4
    _agree(rows, results)


@pytest.mark.parametrize("text, words", [
    (json.dumps([{"resourceType": "Claim", "id": "F7"}, {"resourceType": "Claim", "id": "F8"}]),
     "a JSON list of FHIR resources (Claim): FHIR sends several Claims as a Bundle"),
    ("[" * 100_000, "JSON nested too deeply"),
    ('[{"claim_id": 1,', "not valid JSON (line 1, column 17"),
    ("[]", "the list of claims is empty"),  # check said "input: ...", batch "not a claim file" (an audit)
    (" [ ] ", "the list of claims is empty"),
])
def test_json_check_cannot_read_is_refused_by_batch_in_the_same_words(tmp_path, text, words):
    """check read a list of FHIR Claims as claim JSON ("claim, field claim_id: is missing") and batch said
    "not a claim file"; deeply nested or broken JSON was named by check and not by batch (an audit)."""
    src = tmp_path / "claims.json"
    src.write_text(text, encoding="utf-8")
    checked = CliRunner().invoke(main, ["check", str(src)])
    batched = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "out.csv")])
    assert checked.exit_code == batched.exit_code == 2
    assert checked.stderr.strip() == batched.stderr.strip() == f"cptkg: {src}: {words}" + \
        checked.stderr.strip().split(words, 1)[1]
    assert "Traceback" not in checked.output + batched.output


def test_check_and_batch_say_how_many_lines_the_history_repeats(tmp_path, claims):
    """A history taken with the claims it is given for lists each line as billed before: every line was judged
    against itself, with nothing said (an auditor's audit: 33 of 34 lines denied). Both now say how many lines
    a history row repeats, with the same count; the claims' real history repeats none of their lines."""
    import re

    from cptkg.claims.models import CODE_PATTERN

    def well_formed(code: str) -> bool:
        return bool(re.fullmatch(CODE_PATTERN, code.strip().upper()))

    src = tmp_path / "claims.json"
    src.write_text(json.dumps([_bare(c) for c in claims]), encoding="utf-8")
    own = tmp_path / "own.csv"
    with open(own, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HISTORY_HEADER)
        for c in claims:
            for ln in c["lines"]:
                if well_formed(ln["code"]):  # (a history row not written as a code is refused)
                    w.writerow([c["patient_id"], ln["code"], ln["date_of_service"], ln["provider_id"]])
    n = sum(1 for c in claims for ln in c["lines"] if well_formed(ln["code"]))
    note = f"note: {n:,} line(s) are also in the patient's history, with the same code and date of service"
    r = CliRunner().invoke(main, ["check", str(src), "--history", str(own), "--output", "csv"])
    assert any(line.startswith("cptkg: " + note) for line in r.stderr.splitlines()), r.stderr
    res, _ = _batch(src, tmp_path / "v.csv", "--history", str(own))
    assert any(line.startswith(note) for line in res.output.splitlines()), res.output
    # the cases' own history repeats a line only where a case bills a service again on purpose
    real = _history_csv(tmp_path / "real.csv", claims)
    m = sum(1 for c in claims for ln in c["lines"] if any(
        (h["code"], h["date_of_service"]) == (ln["code"], ln["date_of_service"])
        and h.get("provider_id") in (None, "", ln["provider_id"]) for h in c.get("history") or []))
    assert 0 < m < n
    note = f"note: {m:,} line(s) are also in the patient's history"
    r = CliRunner().invoke(main, ["check", str(src), "--history", str(real), "--output", "csv"])
    res, _ = _batch(src, tmp_path / "w.csv", "--history", str(real))
    assert any(line.startswith("cptkg: " + note) for line in r.stderr.splitlines()), r.stderr
    assert any(line.startswith(note) for line in res.output.splitlines()), res.output


@pytest.mark.parametrize("history_patient, applies", [
    ("MBR-SYN-04/SYNTHETIC/CHILD/20150615", True),   # the id as the 837P reader writes it
    ("MBR-SYN-04/Synthetic/Child/20150615", True),   # the names as the 837P spells them
    ("mbr-syn-04/Synthetic/Child/20150615", False),  # another member id: another patient
    ("MBR-SYN-04/Synthetic/Twin/20150615", False),   # another child of the member
])
def test_an_837p_dependants_history_matches_whatever_the_case_of_the_names_in_check_and_batch(
        tmp_path, history_patient, applies):
    """An audit: a history written with the dependant's names as the 837P spells them ('Child') matched no claim
    (the reader writes 'CHILD'), and the line was judged without it, with no word."""
    x12 = Path(__file__).parent / "data" / "x12" / "dependant-patient.x12"
    hist = tmp_path / "history.csv"
    hist.write_text(f"patient_id,code,date_of_service,provider_id\n{history_patient},95990,2025-03-04,\n",
                    encoding="utf-8")
    checked = CliRunner().invoke(main, ["check", str(x12), "--history", str(hist), "--output", "csv"])
    batched = CliRunner().invoke(main, ["batch", str(x12), "--history", str(hist), "-o", str(tmp_path / "o.csv")])
    want = "rejected" if applies else "accepted"
    assert [r["status"] for r in csv.DictReader(io.StringIO(checked.stdout))] == [want], checked.output
    with open(tmp_path / "o.csv", encoding="utf-8") as f:
        assert [r["status"] for r in csv.DictReader(f)] == [want], batched.output


@pytest.mark.parametrize("fmt", ["x12", "json"])
def test_the_api_run_batch_reads_every_claim_file_the_command_reads(tmp_path, claims, kb, fmt):
    """cptkg.run_batch refused claim JSON that cptkg batch judged ("unknown file type '.json'": an integrator's
    audit): it reads an 837P, FHIR or claim JSON file as the command does, and writes the same verdicts."""
    import cptkg

    src = tmp_path / ("claims.837" if fmt == "x12" else "claims.json")
    if fmt == "x12":
        src.write_text(x12_build.build([_bare(c) for c in claims[:6]]), encoding="utf-8")
    else:
        src.write_text(json.dumps(claims[:6]), encoding="utf-8")
    hist = _history_csv(tmp_path / "history.csv", claims[:6])
    summary = cptkg.run_batch(str(src), str(tmp_path / "api.csv"), str(hist), kb=kb)
    res = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "cli.csv"), "--history", str(hist)])
    assert summary.exit_code == res.exit_code and summary.lines_in == sum(len(c["lines"]) for c in claims[:6])
    assert (tmp_path / "api.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()


@pytest.mark.parametrize("change, words", [
    (lambda item: item.pop("servicedDate") and item.update(servicedPeriod={"start": "2025-03-04", "end": "2025-03-06"}),
     "element servicedPeriod: spans 2025-03-04 to 2025-03-06"),
    (lambda item: item.update(quantity={"value": 1.5}), "quantity"),
])
def test_a_fhir_claim_alone_that_cannot_be_judged_is_an_error_row_per_item_in_batch(tmp_path, change, words):
    """A real-files audit: a lone FHIR Claim with one bad item wrote no output file (the whole file refused),
    where the same Claim in a Bundle, an 837P or claim JSON got an error row for each line it gave. check
    still refuses the one claim in one line, as it refuses one claim of claim JSON."""
    doc = json.loads((Path(__file__).parent / "data" / "interop" / "fhir-claim.json").read_text())
    assert "servicedDate" in doc["item"][0] and len(doc["item"]) >= 2
    change(doc["item"][0])
    src = tmp_path / "claim.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    res, rows = _batch(src, tmp_path / "out.csv")
    assert res.exit_code == 2 and rows is not None, res.output
    assert len(rows) == len(doc["item"]) and {r["status"] for r in rows} == {"error"}, rows
    assert words in rows[0]["error"] and rows[0]["error"].split(": ", 1)[1].startswith(f"Claim {doc['id']}"), rows
    # the item at fault is said once; the Claim's other items name it, as check's CSV and a claim CSV's rows do
    assert all(r["error"].split(": ", 1)[1] == f"claim {doc['id']}: claim not judged because line 1 has an error"
               for r in rows[1:]), rows
    checked = CliRunner().invoke(main, ["check", str(src)])
    assert checked.exit_code == 2 and words in checked.stderr and checked.stdout == ""


def test_a_claim_batch_cannot_write_as_rows_keeps_a_row_per_line_with_its_number_and_code(tmp_path):
    """A batch audit: a claim JSON id with a space at its end (which check judges, and claim rows cannot hold
    unchanged) came back as one error row with the line and code blank, whatever its number of lines."""
    line = {"date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "physician"}
    src = tmp_path / "c.json"
    src.write_text(json.dumps([{"claim_id": "J1 ", "patient_id": "P1", "lines": [
        dict(line, line=1, code="62367"), dict(line, line=2, code="95990")]}]), encoding="utf-8")
    res, rows = _batch(src, tmp_path / "o.csv")
    assert res.exit_code == 2 and rows is not None, res.output
    assert [(r["line"], r["code"], r["status"]) for r in rows] == [("1", "62367", "error"), ("2", "95990", "error")]
    assert all("'J1 ' begins or ends with spaces" in r["error"] for r in rows)


def test_a_parquet_history_of_numeric_patient_ids_tells_every_claim_not_only_the_one_its_digits_read_as(tmp_path):
    """A hostile-files audit: history patient_id stored as int64 123: patient "123" was told the row cannot be read,
    and patient "00123" (whose leading zeros a number loses) was judged without the row, silently."""
    import csv as _csv

    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from cptkg.faces.cli import main as cli

    claims = tmp_path / "claims.csv"
    claims.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
                      "H1,00123,1,95991,2025-03-04,D1,physician,1,\n"
                      "H2,123,1,95991,2025-03-04,D1,physician,1,\n", encoding="utf-8")
    hist = tmp_path / "history.parquet"
    pq.write_table(pa.table({"patient_id": pa.array([123], pa.int64()), "code": ["95991"],
                             "date_of_service": ["2025-03-04"], "provider_id": ["D1"]}), hist)
    out = tmp_path / "out.csv"
    CliRunner().invoke(cli, ["batch", str(claims), "--history", str(hist), "-o", str(out)])
    rows = list(_csv.DictReader(out.open(encoding="utf-8")))
    assert [r["status"] for r in rows] == ["error", "error"], rows
    assert all("history row 1, field patient_id: must be text, got a number" in r["error"] for r in rows), rows
