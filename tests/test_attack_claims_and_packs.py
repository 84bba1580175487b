"""Issue 21, findings 11, 13, 15 and 16: claims that do not hide each other,
packs that read only their own files, identifiers kept out of verdict text,
and one answer from ``check`` and ``batch`` for a value of the wrong type.

11. ``check`` on claim CSV: a bad row makes its claim an error entry naming
    the row and the field; every other claim is judged (as ``batch`` and JSON
    lists do). Siblings: a bad history row, a bad Claim in a FHIR Bundle, the
    explorer's checker with a CSV upload.
13. A pack's files are read only inside the pack: a symbolic link leaving
    it, a FIFO or other non-regular file, an absolute path or a '..' escape in
    family.yaml or a case file is refused, by every command and by lint, with
    a message quoting nothing from outside.
15. Verdict text never carries a provider id: it says "the same provider" or
    "another provider" and names the lines (every writer, and explanations).
16. ``check`` and ``batch`` give the same words for a value of the wrong
    type (numbers, true/false, lists) in the same field; a number is never
    accepted as text for an identifier or a code.
"""
from __future__ import annotations

import csv
import io
import json
import re
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.knowledge.pack import DEFAULT_PACK

HEADER = ["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units", "modifiers"]
GOOD = {"claim_id": "C1", "patient_id": "P1", "line": "1", "code": "62367", "date_of_service": "2025-03-04",
        "provider_id": "D1", "provider_role": "physician", "units": "1", "modifiers": ""}


def _csv(rows, header=HEADER) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def _row(**kw):
    return dict(GOOD, **kw)


def check(*args, input=None):
    return CliRunner().invoke(main, ["check", *args], input=input, catch_exceptions=False)


def _no_traceback(r):
    assert "Traceback" not in r.output and "Traceback" not in (r.stderr or ""), r.output


# ---------------------------------------------------------------- finding 11
BAD_UNITS_CSV = _csv([_row(claim_id="C1"), _row(claim_id="C2", units="x"), _row(claim_id="C2", line="2", code="62368"),
                      _row(claim_id="C3", patient_id="P3")])


def test_check_on_a_csv_with_one_bad_row_judges_every_other_claim_and_names_the_row_and_field():
    r = check("-", "--json", input=BAD_UNITS_CSV)
    _no_traceback(r)
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert [(c["claim_id"], c["status"]) for c in out] == [("C1", "accepted"), ("C2", "error"), ("C3", "accepted")]
    bad = out[1]
    # the shape of a JSON list's error entry
    assert set(bad) >= {"claim_id", "status", "error", "lines"} and bad["lines"] == []
    assert bad["error"].startswith("row 2, claim C2") and "field units" in bad["error"] and "\n" not in bad["error"]


def test_check_csv_output_gives_every_input_row_a_verdict_or_its_claims_error():
    r = check("-", "--output", "csv", input=BAD_UNITS_CSV)
    assert r.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["claim_id"], x["status"]) for x in rows] == [
        ("C1", "accepted"), ("C2", "error"), ("C2", "error"), ("C3", "accepted")]
    # the row with the error gives it; the claim's other row says which line kept the claim from being judged
    bad = [x for x in rows[1:3] if "row 2" in x["reasons"] and "field units" in x["reasons"]]
    assert len(bad) == 1
    bad_row = re.match(r"row (\d+)", bad[0]["reasons"])[1]
    (other,) = [x["reasons"] for x in rows[1:3] if x is not bad[0]]
    assert re.fullmatch(rf"row \d+, claim C2: claim not judged because row {bad_row} has an error", other), other


def test_check_csv_error_rows_name_the_code_each_line_gave():
    rows = list(csv.DictReader(io.StringIO(check("-", "--output", "csv", input=BAD_UNITS_CSV).stdout)))
    assert [(x["claim_id"], x["line"], x["code"]) for x in rows[1:3]] == [("C2", "1", "62367"), ("C2", "2", "62368")]


def test_a_line_denied_twice_by_one_rule_names_the_rule_and_its_reason_code_once_in_check_and_batch(tmp_path):
    # an audit: 62367 included in both 62369 and 95990 read "exclusion.component;exclusion.component" and
    # "CO-97;CO-97" in check's CSV, once in batch's, so carc no longer lined up with rules
    text = _csv([_row(claim_id="T", line="1", code="62367"), _row(claim_id="T", line="2", code="62369"),
                 _row(claim_id="T", line="3", code="95990")])
    rows = list(csv.DictReader(io.StringIO(check("-", "--output", "csv", input=text).stdout)))
    src, out = tmp_path / "t.csv", tmp_path / "out.csv"
    src.write_text(text, encoding="utf-8")
    CliRunner().invoke(main, ["batch", str(src), "-o", str(out)], catch_exceptions=False)
    got = list(csv.DictReader(open(out, encoding="utf-8")))
    assert rows[0]["rules"] == "exclusion.component" and rows[0]["carc"] == "CO-97", rows[0]
    assert len(rows[0]["reasons"].split(" | ")) == 2  # both reasons are still said
    for key in ("rules", "carc", "carc_description", "reasons"):
        assert [r[key] for r in rows] == [g[key] for g in got], key


def test_a_value_past_the_csv_modules_field_limit_is_its_rows_error_and_the_other_claims_are_judged(tmp_path):
    # an audit: check refused the whole file ("row 2: field larger than field limit (131072)", naming the wrong
    # row and no field) where batch judged the other rows and refused row 3's provider_id by name
    text = _csv([_row(claim_id="A1"), _row(claim_id="A2"), _row(claim_id="L1", provider_id="N" * 200_000),
                 _row(claim_id="A3")])
    r = check("-", "--output", "csv", input=text)
    _no_traceback(r)
    assert r.exit_code == 2, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["claim_id"], x["status"]) for x in rows] == [
        ("A1", "accepted"), ("A2", "accepted"), ("L1", "error"), ("A3", "accepted")]
    assert rows[2]["reasons"].startswith("row 3, claim L1") and "field provider_id: is too long" in rows[2]["reasons"]
    src = tmp_path / "long.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    b = CliRunner().invoke(main, ["batch", str(src), "-o", str(out)], catch_exceptions=False)
    assert b.exit_code == 2, b.output
    got = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(x["claim_id"], x["status"]) for x in got] == [(x["claim_id"], x["status"]) for x in rows]
    assert "row 3, claim L1, line 1, field provider_id: is too long" in got[2]["error"]
    import csv as _csv_module

    assert _csv_module.field_size_limit() == 131072  # the module's limit is restored after the file is read


def test_check_text_report_judges_the_others_and_prints_the_row_error_on_stderr():
    r = check("-", "--output", "text", input=BAD_UNITS_CSV)
    assert r.exit_code == 2
    assert "Claim C1: ACCEPTED" in r.stdout and "Claim C3: ACCEPTED" in r.stdout
    assert "row 2, claim C2, line 1, field units" in r.stdout  # units belong to their line


@pytest.mark.parametrize("bad,field", [
    ({"line": "one"}, "line"), ({"code": ""}, "code"), ({"date_of_service": "2025-02-30"}, "date_of_service"),
    ({"provider_role": "surgeon"}, "provider_role"), ({"provider_id": ""}, "provider_id"),
    ({"patient_id": "P9"}, "patient_id"),  # C2's second row names another patient
    ({"line": "1"}, "line"),  # C2's line 1 twice
])
def test_a_bad_csv_row_of_any_kind_is_its_claims_error_and_the_others_are_judged(bad, field):
    from cptkg import pipeline

    text = _csv([_row(claim_id="C1"), _row(claim_id="C2"), _row(**{"claim_id": "C2", "line": "2", **bad}),
                 _row(claim_id="C3", patient_id="P3")])
    out = pipeline.run(text.encode(), "csv", "json")
    by_id = {r["claim_id"]: r for r in out.results}
    assert by_id["C1"]["status"] == "accepted" and by_id["C3"]["status"] == "accepted"
    assert by_id["C2"]["status"] == "error"
    assert by_id["C2"]["error"].startswith("row 3, claim C2"), by_id["C2"]["error"]
    assert (f"field {field}" in by_id["C2"]["error"] or "line 1" in by_id["C2"]["error"]), by_id["C2"]["error"]
    assert out.exit_code == 2


def test_rows_with_no_claim_id_are_one_error_entry_naming_each_row_and_the_claims_are_judged():
    from cptkg import pipeline

    text = _csv([_row(claim_id="C1"), _row(claim_id=""), _row(claim_id="C3", patient_id="P3"), _row(claim_id="")])
    out = pipeline.run(text.encode(), "csv", "csv")
    assert [r["status"] for r in out.results] == ["accepted", "error", "accepted"]
    assert "row 2" in out.results[1]["error"] and "row 4" in out.results[1]["error"]
    assert "field claim_id" in out.results[1]["error"]
    rows = list(csv.DictReader(io.StringIO(out.text)))
    assert len(rows) == 4 and [x["status"] for x in rows] == ["accepted", "error", "accepted", "error"]


def test_a_csv_row_with_more_values_than_columns_is_its_claims_error():
    from cptkg import pipeline

    text = _csv([_row(claim_id="C1"), _row(claim_id="C3", patient_id="P3")]) + "C2,P2,1,62367,2025-03-04,D1,physician,1,,extra\n"
    out = pipeline.run(text.encode(), "csv", "json")
    assert [(r["claim_id"], r["status"]) for r in out.results] == [("C1", "accepted"), ("C3", "accepted"), ("C2", "error")]
    assert "row 3" in out.results[2]["error"] and "one field per column" in out.results[2]["error"]


def test_a_bad_history_row_makes_its_patients_claims_errors_and_the_other_claims_are_judged(tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text(_csv([_row(claim_id="C1"), _row(claim_id="C2", patient_id="P2")]))
    hist = tmp_path / "history.csv"
    hist.write_text("patient_id,code,date_of_service,provider_id\nP1,62350,2024-13-01,D1\nP2,62350,2024-01-01,D1\n")
    r = check(str(claims), "--history", str(hist), "--json")
    _no_traceback(r)
    out = json.loads(r.stdout)
    assert [(c["claim_id"], c["status"]) for c in out] == [("C1", "error"), ("C2", "accepted")]
    assert "history row 1" in out[0]["error"] and "field date_of_service" in out[0]["error"]
    assert r.exit_code == 2


def test_a_history_row_naming_no_patient_makes_every_claim_an_error_naming_the_row(tmp_path):
    from cptkg import pipeline

    claims = _csv([_row(claim_id="C1"), _row(claim_id="C2", patient_id="P2")])
    hist = b"patient_id,code,date_of_service\n,62350,2024-01-01\n"
    out = pipeline.run(claims.encode(), "csv", "json", history=hist)
    assert [r["status"] for r in out.results] == ["error", "error"]
    assert all("history row 1, field patient_id" in r["error"] for r in out.results)


def test_a_bad_claim_in_a_fhir_bundle_is_its_error_entry_and_the_other_claims_are_judged():
    from cptkg import pipeline

    bundle = json.loads((Path(__file__).parent / "data" / "interop" / "fhir-bundle.json").read_text(encoding="utf-8"))
    claims = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim"]
    claims[0]["item"][0]["productOrService"] = {"coding": [{"system": "urn:other", "code": "X"}]}
    out = pipeline.run(json.dumps(bundle).encode(), "fhir", "json")
    assert out.results[0]["status"] == "error" and out.results[0]["claim_id"] == claims[0]["id"]
    assert "productOrService" in out.results[0]["error"]
    assert all(r["status"] != "error" for r in out.results[1:]) and len(out.results) == len(claims)


def test_the_explorers_checker_judges_the_other_claims_of_an_uploaded_csv_with_a_bad_row(kb):
    from cptkg.faces.explorer.checker import uploaded_claims
    from cptkg.faces.explorer.explaining import judge

    results = judge(kb, uploaded_claims(kb, BAD_UNITS_CSV.encode()))
    assert [(r["claim_id"], r["status"]) for r in results] == [("C1", "accepted"), ("C2", "error"), ("C3", "accepted")]
    assert results[1]["error"].startswith("row 2, claim C2")


def test_the_decision_log_records_a_csv_claim_refused_for_a_bad_row(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_LOG_SALT", "s" * 32)
    log = tmp_path / "decisions.jsonl"
    r = check("-", "--json", "--log", str(log), input=BAD_UNITS_CSV)
    assert r.exit_code == 2
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(e["claim_id"], e["status"]) for e in entries] == [("C1", "accepted"), ("C2", "error"), ("C3", "accepted")]
    assert "P2" not in log.read_text() and "D1" not in log.read_text()


# ---------------------------------------------------------------- finding 16
def _problem(message: str, field: str) -> str:
    """The words after 'field F: ' (or 'field F[0]: '): what check and batch must say alike."""
    for marker in (f"field {field}[0]: ", f"field {field}: "):
        if marker in message:
            words = message.split(marker, 1)[1]
            # batch names a bad history row inside "the patient's history cannot be read (…)"
            return words[:-1] if "cannot be read (" in message else words
    raise AssertionError(f"no field {field} in {message!r}")


def _batch_error(tmp_path, columns: dict, history: dict | None = None) -> dict:
    """Verdict rows of cptkg batch on a one-row Parquet file (the given columns over GOOD's text)."""
    from cptkg.judge.batch import run_batch

    table = {c: pa.array([GOOD[c]], pa.string()) for c in HEADER}
    table.update(columns)
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table(table), src)
    hist = None
    if history is not None:
        hist = tmp_path / "history.parquet"
        base = {"patient_id": pa.array(["P1"]), "code": pa.array(["62350"]),
                "date_of_service": pa.array(["2024-01-02"]), "provider_id": pa.array(["D1"])}
        pq.write_table(pa.table({**base, **history}), hist)
    run_batch(src, tmp_path / "out.csv", history_path=hist)
    return list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))[0]


def _check_error(field: str, value, history: bool = False) -> str | None:
    from cptkg.claims.models import InputError, parse_claims

    line = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"}
    claim = {"claim_id": "C1", "patient_id": "P1", "lines": [line]}
    if history:
        claim["history"] = [{"code": "62350", "date_of_service": "2024-01-02", "provider_id": "D1", field: value}]
    elif field in ("claim_id", "patient_id"):
        claim[field] = value
    else:
        line[field] = value
    got = parse_claims(claim)[0][0]
    return str(got) if isinstance(got, InputError) else None


TYPED = [  # (field, Parquet column, the same value in JSON, the words both must give)
    ("patient_id", pa.array([987654321], pa.int64()), 987654321, "must be text, got a number (9 digits)"),
    ("patient_id", pa.array([1.5], pa.float64()), 1.5, "must be text, got a number with decimals"),
    ("patient_id", pa.array([True]), True, "must be text, got true/false"),
    ("patient_id", pa.array([None], pa.string()), None, "is missing"),
    ("patient_id", pa.array([["P1"]], pa.list_(pa.string())), ["P1"], "must be text, got a list"),
    ("patient_id", pa.array([{"id": "P1"}], pa.struct([("id", pa.string())])), {"id": "P1"}, "must be text, got an object"),
    ("claim_id", pa.array([42], pa.int32()), 42, "must be text, got a number (2 digits)"),
    ("code", pa.array([62367], pa.int64()), 62367, "must be text, got a number (5 digits)"),
    ("provider_id", pa.array([1234567890], pa.int64()), 1234567890, "must be text, got a number (10 digits)"),
    ("provider_role", pa.array([False]), False, "must be text, got true/false"),
    ("date_of_service", pa.array([20250304], pa.int64()), 20250304, "must be a date written YYYY-MM-DD"),
    ("line", pa.array([1.5], pa.float64()), 1.5, "must be a whole number, got a number '1.5'"),
    ("line", pa.array([True]), True, "must be a whole number, got true"),
    ("line", pa.array([-1], pa.int64()), -1, "must be at least 1, got -1"),
    ("line", pa.array([2_000_000], pa.int64()), 2_000_000, "must be at most 1000000, got 2000000"),
    ("units", pa.array([2.5], pa.float64()), 2.5, "must be a whole number, got a number '2.5'"),
    ("units", pa.array([0], pa.int64()), 0, "must be at least 1, got 0"),
    ("units", pa.array([[1]], pa.list_(pa.int64())), [1], "must be a whole number, got a list"),
    ("modifiers", pa.array([[59]], pa.list_(pa.int64())), [59], "must be text, got a number (2 digits)"),
    ("route", pa.array([5], pa.int64()), 5, "must be text, got a number (1 digit)"),
]


@pytest.mark.parametrize("field,column,value,words", TYPED,
                         ids=[f"{f}-{c.type}" for f, c, _v, _w in TYPED])
def test_check_and_batch_give_the_same_words_for_a_value_of_the_wrong_type(tmp_path, field, column, value, words):
    by_check = _check_error(field, value)
    assert by_check is not None and _problem(by_check, field) == words, by_check
    row = _batch_error(tmp_path, {field: column})
    assert row["status"] == "error", row
    assert _problem(row["error"], field) == words, row["error"]
    # the line is named by both or by neither (a float units column's error named none in batch: an audit)
    assert (f"line 1, field {field}" in row["error"]) == (f"line 1, field {field}" in by_check), (row["error"], by_check)
    # an identifier's value is never shown, whatever its type
    if field in ("patient_id", "provider_id"):
        assert str(value) not in row["error"] and str(value) not in by_check


@pytest.mark.parametrize("field,column,value", [
    ("code", pa.array([62367], pa.int64()), 62367),
    ("patient_id", pa.array([4711], pa.int64()), 4711),
    ("date_of_service", pa.array([True]), True),
])
def test_a_history_value_of_the_wrong_type_gets_the_same_words_from_check_and_batch(tmp_path, field, column, value):
    by_check = _check_error(field, value, history=True)
    assert by_check is not None
    # the claim's patient is the history row's number read as text: its history cannot be read
    claim = {"patient_id": pa.array([str(value)])} if field == "patient_id" else {}
    row = _batch_error(tmp_path, claim, history={field: column})
    assert row["status"] == "error" and "history row 1" in row["error"], row
    if field == "patient_id":  # check's history has no patient of its own: the words of the claim's patient_id
        assert _problem(row["error"], field) == _problem(_check_error("patient_id", value), field)
    else:
        assert _problem(row["error"], field) == _problem(by_check, field)


@pytest.mark.parametrize("field, column, value", [
    ("units", pa.array([2.0], pa.float64()), 2.0),
    ("units", pa.array([None], pa.float64()), None),  # pandas: a float column with a blank (NaN is null)
    ("line", pa.array([1.0], pa.float64()), 1.0),
    ("units", pa.array([__import__("decimal").Decimal("3.00")], pa.decimal128(5, 2)), 3.0),
])
def test_a_whole_number_written_with_a_zero_fraction_is_that_number_in_json_and_parquet(tmp_path, field, column, value):
    # "must be a whole number, got a number '2.0'" refused every row of a pandas export with a blank unit
    assert _check_error(field, value) is None
    row = _batch_error(tmp_path, {field: column})
    assert row["status"] == "accepted" and row["line"] == "1", row


def test_a_timestamp_date_column_is_named_as_such_not_as_text_of_another_shape(tmp_path):
    import datetime as dt

    row = _batch_error(tmp_path, {"date_of_service": pa.array([dt.datetime(2025, 3, 4)], pa.timestamp("us"))})
    assert row["status"] == "error"
    assert "got a date and time (a timestamp column): write the column as dates" in row["error"]



@pytest.mark.parametrize("column", [pa.array([__import__("datetime").time(9, 30)], pa.time64("us")),
                                    pa.array([__import__("datetime").timedelta(days=1)], pa.duration("s"))])
def test_a_time_of_day_or_duration_column_of_dates_is_named_as_no_date(tmp_path, column):
    """A hostile-files audit: a time64 column was called "a date and time (a timestamp column)"."""
    row = _batch_error(tmp_path, {"date_of_service": column})
    assert row["status"] == "error" and "timestamp" not in row["error"], row
    assert "got a time of day or a length of time (no date)" in row["error"], row

def test_whole_numbers_and_dates_typed_in_parquet_and_nulls_in_optional_fields_are_judged_as_in_check(tmp_path):
    from cptkg import check as check_claim

    row = _batch_error(tmp_path, {"line": pa.array([1], pa.int64()), "units": pa.array([None], pa.int64()),
                                  "modifiers": pa.array([None], pa.string()),
                                  "date_of_service": pa.array([__import__("datetime").date(2025, 3, 4)], pa.date32())})
    claim = {"claim_id": "C1", "patient_id": "P1", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician",
         "units": None, "modifiers": None}]}
    res = check_claim(claim)
    assert row["status"] == res["lines"][0]["status"] == "accepted", (row, res)


# ---------------------------------------------------------------- finding 13
FIXTURE = Path(__file__).resolve().parent / "families" / "stimfix"
SECRET = "TOP-SECRET-LINE-9f3e"  # content outside the pack: no message may quote it


@pytest.fixture
def pack(tmp_path):
    """A copy of the fixture pack, and beside it (outside the pack) a file and a folder it must not read."""
    root = tmp_path / "pack"
    shutil.copytree(FIXTURE, root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ttl").write_text(f"{SECRET} this is not Turtle\n")
    (outside / "secret.json").write_text(json.dumps({"claim_id": SECRET}))
    (outside / "claim.dl").write_text(f"{SECRET}\n")
    return root


def lint(root):
    return CliRunner().invoke(main, ["lint", "--kb", str(root)], catch_exceptions=False)


def _refused(r, *words):
    _no_traceback(r)
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert SECRET not in r.output and "outside/" not in err, err
    for w in words:
        assert w in err, err
    return err


def _set(root, **fields):
    import yaml

    desc = root / "family.yaml"
    data = yaml.safe_load(desc.read_text())
    data.update(fields)
    desc.write_text(yaml.safe_dump(data))


def test_a_symbolic_link_out_of_the_pack_is_refused_by_lint_and_check_without_quoting_its_target(pack):
    (pack / "kb" / "leak.ttl").symlink_to(pack.parent / "outside" / "secret.ttl")
    _refused(lint(pack), "kb/leak.ttl", "outside the pack")
    r = check(str(FIXTURE / "examples" / "claim.json"), "--kb", str(pack))
    _refused(r, "kb/leak.ttl")


@pytest.mark.parametrize("where", ["ontology", "rules", "shapes", "sources"])
def test_a_symbolic_link_out_of_any_pack_folder_is_refused(pack, where):
    (pack / where).mkdir(exist_ok=True)
    name = "claim.dl" if where == "rules" else "x.ttl"
    target = pack / where / name
    if target.exists():
        target.unlink()
    target.symlink_to(pack.parent / "outside" / ("claim.dl" if where == "rules" else "secret.ttl"))
    _refused(lint(pack), f"{where}/{name}", "outside the pack")


def test_a_pack_folder_that_is_a_symbolic_link_out_of_the_pack_is_refused(pack):
    shutil.rmtree(pack / "kb")
    (pack.parent / "outside" / "kb").mkdir()
    shutil.copy(FIXTURE / "kb" / "codes.ttl", pack.parent / "outside" / "kb" / "codes.ttl")
    (pack / "kb").symlink_to(pack.parent / "outside" / "kb")
    _refused(lint(pack), "kb", "outside the pack")


def test_family_yaml_as_a_symbolic_link_out_of_the_pack_is_refused(pack):
    outside = pack.parent / "outside" / "family.yaml"
    shutil.move(pack / "family.yaml", outside)
    (pack / "family.yaml").symlink_to(outside)
    _refused(lint(pack), "family.yaml", "outside the pack")


def test_a_fifo_in_the_pack_is_refused_at_once_instead_of_hanging_the_load(pack):
    import subprocess
    import sys

    os.mkfifo(pack / "kb" / "pipe.ttl")
    try:  # a process of its own: a load blocked on the FIFO is killed, never left behind
        r = subprocess.run([sys.executable, "-m", "cptkg", "lint", "--kb", str(pack)], capture_output=True,
                           text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("loading a pack with a FIFO in kb/ hung")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "kb/pipe.ttl" in r.stderr and "not a regular file" in r.stderr


def test_a_folder_named_like_a_pack_file_is_refused_in_words(pack):
    (pack / "kb" / "folder.ttl").mkdir()
    _refused(lint(pack), "kb/folder.ttl", "not a regular file")


@pytest.mark.parametrize("value", ["/etc/passwd", "{outside}/secret.json", "../outside/secret.json",
                                   "examples/../../outside/secret.json"])
@pytest.mark.parametrize("field", ["example_claim", "example_encounter"])
def test_an_example_path_leaving_the_pack_is_refused_by_lint(pack, field, value):
    _set(pack, **{field: value.format(outside=pack.parent / "outside")})
    _refused(lint(pack), "family.yaml", field)


def test_an_example_that_is_a_symbolic_link_out_of_the_pack_is_refused(pack):
    (pack / "examples" / "claim.json").unlink()
    (pack / "examples" / "claim.json").symlink_to(pack.parent / "outside" / "secret.json")
    _refused(lint(pack), "examples/claim.json", "outside the pack")


@pytest.mark.parametrize("edit", ["/etc/passwd", "../../outside/secret.ttl"])
def test_a_case_naming_an_edit_file_outside_the_pack_is_refused_by_test_and_lint(pack, edit):
    import yaml

    cases_file = pack / "rules" / "claim.cases.yaml"
    cases = yaml.safe_load(cases_file.read_text())
    cases[0]["edits"] = [edit]
    cases_file.write_text(yaml.safe_dump(cases))
    _refused(lint(pack), "rules/claim.cases.yaml", "edits")
    r = CliRunner().invoke(main, ["test", "--kb", str(pack)], catch_exceptions=False)
    _no_traceback(r)
    assert r.exit_code != 0 and SECRET not in r.output and "passwd" not in r.output.replace(edit, "")


@pytest.mark.parametrize("change, words", [
    (lambda c: "just a string", "a case is a mapping with name, given and expect"),
    (lambda c: {k: v for k, v in c.items() if k != "given"}, "given: missing"),
    (lambda c: {k: v for k, v in c.items() if k != "expect"}, "expect: missing or empty"),
    (lambda c: {**c, "expect": {"stauts": "rejected"}}, "expect: unknown key stauts"),
    (lambda c: {**c, "expect": {"status": "rejectd"}}, "expect.status: 'rejectd' is not a status"),
    (lambda c: {**c, "expect": {"lines": {1: {"only_rule": ["x"]}}}}, "expect.lines.1: unknown key only_rule"),
    (lambda c: {**c, "expect": {"lines": {1: {"status": "denied"}}}}, "expect.lines.1.status: 'denied' is not a status"),
    (lambda c: {**c, "expct": c.get("expect")}, "case: unknown key expct"),
])
def test_a_case_that_would_check_nothing_as_written_fails_naming_the_problem(pack, change, words):
    # an audit: a misspelled key passed whatever the verdict, a case with no expect passed, and a case
    # that was a string or had no given ended in a Python traceback
    import yaml

    cases_file = pack / "rules" / "claim.cases.yaml"
    cases = yaml.safe_load(cases_file.read_text())
    cases[0] = change(cases[0])
    cases_file.write_text(yaml.safe_dump(cases))
    r = CliRunner().invoke(main, ["test", "--kb", str(pack)], catch_exceptions=False)
    _no_traceback(r)
    assert r.exit_code == 1, r.output
    assert words in r.output and "1 failed" in r.output, r.output


def test_links_inside_the_pack_hard_links_and_a_pack_folder_reached_by_a_link_load(pack, tmp_path):
    # a rule file symlinked to a file inside the pack, and a hard link: both inside the pack
    shared = pack / "rules" / "shared"
    shared.mkdir()
    shutil.move(pack / "rules" / "claim.dl", shared / "claim.dl")
    (pack / "rules" / "claim.dl").symlink_to(Path("shared") / "claim.dl")
    os.link(pack / "kb" / "codes.ttl", pack / "kb" / "codes-hardlink.ttl.bak")
    r = lint(pack)
    assert r.exit_code == 0, r.output
    # the pack folder itself may be reached through a link (the user named it)
    link = tmp_path / "pack-link"
    link.symlink_to(pack)
    assert lint(link).exit_code == 0


def test_the_repository_packs_read_only_their_own_files():
    from cptkg.knowledge.pack import read_pack

    for root in (DEFAULT_PACK, FIXTURE):
        p = read_pack(root)
        for f in (p.example_claim, p.example_encounter):
            assert f is None or p.root in f.resolve().parents
    r = lint(DEFAULT_PACK)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("copy,original", [
    ("kb/pump/examples/claim-rejected.json", "examples/claim-rejected.json"),
    ("kb/pump/examples/encounter.json", "examples/encounter.json"),
    ("kb/pump/rules/edits/synthetic-ptp.ttl", "tests/data/edits/synthetic-ptp.ttl"),
    ("kb/pump/rules/edits/synthetic-mue.ttl", "tests/data/edits/synthetic-mue.ttl"),
    ("kb/pump/rules/edits/synthetic-ptp-reversed.ttl", "tests/data/edits/synthetic-ptp-reversed.ttl"),
    ("kb/pump/rules/edits/synthetic-ptp-superseded.ttl", "tests/data/edits/synthetic-ptp-superseded.ttl"),
    ("kb/pump/rules/edits/synthetic-mue-superseded.ttl", "tests/data/edits/synthetic-mue-superseded.ttl"),
    ("kb/pump/rules/edits/synthetic-mue-column1.ttl", "tests/data/edits/synthetic-mue-column1.ttl"),
])
def test_the_pump_packs_copies_of_shared_files_equal_the_originals(copy, original):
    root = Path(__file__).resolve().parents[1]
    assert (root / copy).read_bytes() == (root / original).read_bytes()


# ---------------------------------------------------------------- finding 15
PROVIDERS = ("PRV-SECRET-1", "PRV-SECRET-2", "PRV-SECRET-3", "PRV-SECRET-4")
DUPLICATES = {"claim_id": "C1", "patient_id": "PAT-SECRET", "lines": [
    {"line": 1, "code": "62367", "date_of_service": "2025-01-10", "provider_id": PROVIDERS[0], "provider_role": "physician"},
    {"line": 2, "code": "62367", "date_of_service": "2025-01-10", "provider_id": PROVIDERS[0], "provider_role": "physician"},
    {"line": 3, "code": "62368", "date_of_service": "2025-01-10", "provider_id": PROVIDERS[1], "provider_role": "physician"},
    {"line": 4, "code": "62368", "date_of_service": "2025-01-10", "provider_id": PROVIDERS[2], "provider_role": "physician",
     "modifiers": ["76"]}],
    "history": [{"code": "62367", "date_of_service": "2025-01-10", "provider_id": PROVIDERS[0]},
                {"code": "62350", "date_of_service": "2024-01-10", "provider_id": PROVIDERS[3]}]}


def _no_ids(text: str) -> None:
    for p in PROVIDERS + ("PAT-SECRET",):
        assert p not in text, f"{p} in {text[text.find(p) - 120:text.find(p) + 40]!r}"


@pytest.mark.parametrize("output", ["text", "json", "csv", "fhir", "html"])
@pytest.mark.parametrize("explained", [False, True], ids=["verdicts", "explained"])
def test_no_writer_shows_a_provider_id_in_verdict_text_or_explanations(output, explained):
    args = ["-", "--output", output] + (["--explain", "--full"] if explained and output == "text"
                                        else ["--explain"] if explained else [])
    r = check(*args, input=json.dumps(DUPLICATES))
    assert r.exit_code == 1, r.output
    _no_ids(r.stdout if output != "fhir" else r.stdout.replace("Patient/PAT-SECRET", ""))
    _no_ids(r.stderr)
    # the verdicts still say what the ids showed: the same provider, and which lines
    assert "by the same provider" in r.stdout or output == "fhir" and "same provider" in r.stdout


def test_the_duplicate_messages_name_the_lines_and_the_same_or_another_provider(kb):
    from cptkg import check as check_claim

    res = check_claim(DUPLICATES, kb=kb)
    texts = {r["rule"]: r["message"] for ln in res["lines"] for r in ln["reasons"] + ln["warnings"]}
    # lines 1 and 2 are both denied as components of the 62368 lines: a duplicate is denied only in favour of a
    # line that stands (duplicate.line-stands), so the two 62367 lines are judged alone for it
    alone = dict(DUPLICATES, lines=DUPLICATES["lines"][:2], history=DUPLICATES["history"][1:])
    texts["duplicate.line"] = next(r["message"] for ln in check_claim(alone, kb=kb)["lines"] for r in ln["reasons"]
                                   if r["rule"] == "duplicate.line")
    assert texts["duplicate.line"].startswith("62367 on line 2 repeats 62367 on line 1 for the same patient, date "
                                              "2025-01-10 and provider:")
    assert "by the same provider (history entry 1)" in texts["duplicate.history"]
    assert "by another provider" in texts["duplicate.76-other-provider"]
    _no_ids(json.dumps(res))


def test_an_explanation_names_each_provider_by_the_first_entry_that_carries_it(kb):
    from cptkg import explain as explain_claim

    res = explain_claim(DUPLICATES, kb=kb)
    text = json.dumps(res)
    _no_ids(text)
    assert "line 2 was performed by the provider of line 1" in text
    assert "history entry 1 was performed by the provider of line 1" in text
    assert "the provider of line 4 is not the provider of line 3" in text  # different providers, in words


def test_batch_verdict_text_shows_no_provider_id(tmp_path):
    from cptkg.judge.batch import run_batch

    rows = [{"claim_id": "C1", "patient_id": "PAT-SECRET", "line": str(ln["line"]), "code": ln["code"],
             "date_of_service": ln["date_of_service"], "provider_id": ln["provider_id"],
             "provider_role": ln["provider_role"], "units": "1", "modifiers": ";".join(ln.get("modifiers", []))}
            for ln in DUPLICATES["lines"]]
    (tmp_path / "in.csv").write_text(_csv(rows))
    (tmp_path / "h.csv").write_text("patient_id,code,date_of_service,provider_id\n"
                                    + "".join(f"PAT-SECRET,{h['code']},{h['date_of_service']},{h['provider_id']}\n"
                                              for h in DUPLICATES["history"]))
    run_batch(tmp_path / "in.csv", tmp_path / "out.csv", history_path=tmp_path / "h.csv")
    out = (tmp_path / "out.csv").read_text()
    _no_ids(out)
    assert "by the same provider (history entry 1)" in out


def test_the_explorers_checker_shows_no_provider_id(kb):
    from cptkg.faces.explorer.explaining import judge

    _no_ids(json.dumps(judge(kb, DUPLICATES)))


def test_lint_refuses_a_rule_message_that_shows_a_provider_id(pack):
    rules = pack / "rules" / "claim.dl"
    rules.write_text(rules.read_text() + '''
% id: fx.shows-provider
% message: {C} on line {L} is billed by {P}.
% source: fx-lead
warn(L) :- line(L), billed(L, C, _), billed_provider(L, P).
''')
    r = lint(pack)
    _no_traceback(r)
    assert r.exit_code == 2  # lint lists every refused rule, one line each
    assert "rules/claim.dl:42: message of rule fx.shows-provider shows {P}, a person's identifier (a provider id): " \
           "verdict text never shows one" in r.stderr


def test_batch_makes_every_claim_an_error_for_a_history_row_naming_no_patient_as_check_does(tmp_path):
    """batch dropped such a row silently and judged every claim without it."""
    from cptkg import pipeline

    claims = _csv([_row(claim_id="C1"), _row(claim_id="C2", patient_id="P2")])
    hist = b"patient_id,code,date_of_service\nP9,62362,2023-01-01\n,62350,2024-01-01\n"
    (tmp_path / "claims.csv").write_text(claims)
    (tmp_path / "history.csv").write_bytes(hist)
    r = CliRunner().invoke(main, ["batch", str(tmp_path / "claims.csv"), "--history", str(tmp_path / "history.csv"),
                                  "-o", str(tmp_path / "out.csv")])
    assert r.exit_code == 2, r.output
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [x["status"] for x in rows] == ["error", "error"]
    checked = pipeline.run(claims.encode(), "csv", "json", history=hist).results
    assert [x["error"] for x in rows] == [x["error"] for x in checked]
    assert "history row 2, field patient_id: is missing" in rows[0]["error"]


def test_a_quote_never_closed_in_a_claim_csv_is_one_line_in_check_and_batch_not_vanished_claims(tmp_path):
    """A quote opened in row 1 read rows 2 and 3 into its value: check and batch gave row 1 an error and
    claims B and C no row at all ("lines in: 1" for 3 rows)."""
    rows = _csv([_row(claim_id="A", modifiers="59"), _row(claim_id="B"), _row(claim_id="C")]).splitlines()
    text = "\n".join([rows[0], rows[1].replace(",59", ',"59'), *rows[2:]]) + "\n"
    f = tmp_path / "claims.csv"
    f.write_text(text)
    r1 = CliRunner().invoke(main, ["check", str(f), "--output", "csv"])
    out = tmp_path / "out.csv"
    r2 = CliRunner().invoke(main, ["batch", str(f), "-o", str(out)])
    assert r1.exit_code == r2.exit_code == 2
    assert r1.stderr.strip() == r2.stderr.strip()
    assert "row 1, field modifiers: a quoted value runs over more than one line of the file" in r1.stderr
    assert not out.exists()


def test_short_rows_read_into_a_quote_never_closed_refuse_the_file_not_vanish(tmp_path):
    """Rows of fewer values than columns (4 commas) read into a note whose quote a later row closes: claim B
    vanished with exit 0 when only lines of six commas were taken for rows. Check and batch refuse the file."""
    header = HEADER + ["notes"]
    text = (",".join(header) + "\n"
            'A,P1,1,95990,2025-03-04,D1,physician,1,,"open note\n'
            "B,P2,1,95990,2025-03-04\n"
            'C,P3,1,95990,2025-03-04,D1,physician,1,,closing" here\n')
    f = tmp_path / "claims.csv"
    f.write_text(text)
    r1 = CliRunner().invoke(main, ["check", str(f), "--output", "csv"])
    r2 = CliRunner().invoke(main, ["batch", str(f), "-o", str(tmp_path / "out.csv")])
    assert r1.exit_code == r2.exit_code == 2, (r1.output, r2.output)
    assert r1.stderr.strip() == r2.stderr.strip()
    assert "row 1, field notes: a quoted value runs over more than one line of the file" in r1.stderr
    assert "take the line breaks out of that value" in r1.stderr


def test_a_pack_whose_files_pass_the_size_limit_is_refused_before_it_is_parsed(pack, monkeypatch):
    """An audit: a 52 MB Turtle file in a pack ran lint past 300 s and 7.9 GB. Checked from the files' sizes."""
    from cptkg import limits

    monkeypatch.setattr(limits, "MAX_PACK_BYTES", 1_000_000)
    (pack / "kb" / "big.ttl").write_text("@prefix e: <urn:e:> .\n" + "e:s e:p \"x\" .\n" * 80_000)
    _refused(lint(pack), "kb/big.ttl", "more than 1,000,000 bytes")
    r = check(str(FIXTURE / "examples" / "claim.json"), "--kb", str(pack))
    _refused(r, "kb/big.ttl", "the most a family pack may hold")


def test_a_symbolic_link_loop_in_a_pack_is_said_to_be_a_loop(pack):
    (pack / "kb" / "loop1.ttl").symlink_to("loop2.ttl")
    (pack / "kb" / "loop2.ttl").symlink_to("loop1.ttl")
    _refused(lint(pack), "a symbolic link in a loop")


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x0c"])
def test_a_pack_literal_no_xml_can_hold_is_refused_naming_file_and_term(pack, char):
    """An integrator's audit: a NUL in a pack's label passed lint, and the RDF/XML, OWL and GraphML exports
    were written (exit 0) as files no XML reader parses."""
    with open(pack / "kb" / "codes.ttl", "a", encoding="utf-8") as f:
        f.write(f'\n<urn:odd> <http://www.w3.org/2000/01/rdf-schema#label> "x{char}y" .\n')
    err = _refused(lint(pack), "kb/codes.ttl", "urn:odd", "which no XML document can carry")
    assert repr(char)[1:-1] in err


BLOWUP_RULES = """
% id: x.blow
% title: Five-way product
% message: blow {A}
% source: n-code-syntax
big_x(A, B, C, D, E) :- instance_of(A, X1), instance_of(B, X2), instance_of(C, X3), instance_of(D, X4), instance_of(E, X5).

% id: x.blow-warn
% title: Warned from the product
% message: blown {L}
% source: n-code-syntax
warn(L) :- line(L), big_x(A, B, C, D, E).
"""


@pytest.mark.parametrize("engine", ["clingo", "duckdb"])
def test_a_pack_rule_that_multiplies_out_is_stopped_at_the_claims_time_limit_and_blamed_not_the_claim(
        tmp_path, engine):
    """An integrator's audit: such a rule (claim-independent, evaluated once per pack) ran 64 s under
    --time-limit 1, and the error told the user to split a one-line claim."""
    import time

    root = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, root)
    with open(root / "rules" / "claim.dl", "a", encoding="utf-8") as f:
        f.write(BLOWUP_RULES)
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps({"claim_id": "R-1", "patient_id": "P", "lines": [
        {"line": 1, "code": "62360", "date_of_service": "2025-03-04", "provider_id": "N", "provider_role": "physician"}]}))
    t0 = time.monotonic()
    r = check(str(claim_file), "--kb", str(root), "--engine", engine, "--time-limit", "1")
    took = time.monotonic() - t0
    _no_traceback(r)
    assert r.exit_code == 2, r.output
    assert "the family pack's rules that hold for every claim (they read no claim) did not finish within the time limit" \
        in r.output
    assert "split the claim" not in r.output
    assert took < 45, took  # (the rules of every claim get MIN_STATIC_SECONDS; a shared machine; it took 64 s)


def test_an_owl_import_in_a_pack_is_not_fetched_and_lint_says_so(pack):
    with open(pack / "kb" / "codes.ttl", "a", encoding="utf-8") as f:
        f.write("\n<urn:o> a <http://www.w3.org/2002/07/owl#Ontology> ; "
                "<http://www.w3.org/2002/07/owl#imports> <http://127.0.0.1:9/imp.ttl> .\n")
    r = lint(pack)
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    assert "note: owl:imports <http://127.0.0.1:9/imp.ttl> is not loaded: a family pack reads only its own files" \
        in r.output


def test_lint_says_when_no_claim_rule_can_reject_a_line(pack):
    """A pack with an empty claim.dl was "valid" (an integrator's audit), and check would accept every claim
    line: lint says so; the fixture pack as shipped, which rejects, gets no such note."""
    r = lint(pack)
    assert r.exit_code == 0 and "no claim rule rejects a line" not in r.output, r.output
    (pack / "rules" / "claim.dl").write_text("")
    (pack / "rules" / "claim.cases.yaml").write_text("[]\n")
    r = lint(pack)
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    assert "note: no claim rule rejects a line (no rule of rules/claim.dl derives reject): check accepts every " \
           "claim line of this pack" in " ".join(r.output.split())


_LAUGHS = ("    a: &a [x, x, x, x, x, x, x, x, x, x]\n"
           + "".join(f"    {c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcde", "bcdef"))
           + f"    g: [{', '.join(['*f'] * 10)}]\n")


@pytest.mark.parametrize("tail, said", [
    # a recursive alias: a RecursionError traceback from cptkg test
    ("- name: recursive\n  given: &g {claim_id: R, patient_id: P, lines: [*g]}\n  expect: {}\n",
     "an alias (*name) refers to the value that holds it (a loop)"),
    # nested aliases, each level ten times the last: 83 s to expand at 8 levels
    ("- name: laughs\n  given:\n" + _LAUGHS + "  expect: {}\n", "its aliases (*name) expand to more than 200,000 values"),
])
def test_a_yaml_alias_loop_or_bomb_in_a_case_file_is_refused_in_one_line_naming_the_line(tmp_path, tail, said):
    """A security audit: the alias expanded after the pack's size check (681 bytes took 83 s), and a recursive
    one ended cptkg test in a 2,991-line traceback while cptkg lint said the pack was valid. An alias PyYAML
    writes for a shared value is read (the next test)."""
    import time

    root = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, root)
    with open(root / "rules" / "claim.cases" / "code.yaml", "a", encoding="utf-8") as f:
        f.write("\n" + tail)
    t0 = time.monotonic()
    r = CliRunner().invoke(main, ["test", "--kb", str(root)])
    _no_traceback(r)
    assert r.exit_code in (1, 2) and time.monotonic() - t0 < 60
    assert said in r.output and "(line " in r.output, r.output[-800:]
    r = lint(root)
    _no_traceback(r)
    assert r.exit_code == 2 and said in r.output, r.output[-800:]


def test_a_yaml_alias_of_a_shared_value_is_read_and_a_loop_in_family_yaml_is_refused(tmp_path):
    from cptkg.files import load_yaml

    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    root = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, root)
    text = (root / "family.yaml").read_text(encoding="utf-8")
    (root / "family.yaml").write_text(text + "\nx_loop: &a [1, *a]\n", encoding="utf-8")
    r = lint(root)
    _no_traceback(r)
    assert r.exit_code == 2 and "family.yaml: not valid YAML (line" in r.output and "a loop" in r.output, r.output


@pytest.mark.parametrize("value, said", [
    ("", "--kb: empty; give a family pack folder or the name of an installed pack"),
    ("FAMILY_YAML", "is a file, not a family pack folder (give the folder that holds family.yaml)"),
])
def test_kb_given_empty_or_a_file_is_refused_saying_which(value, said):
    """A security audit: --kb "" loaded the default pack without a word; --kb pack/family.yaml read "no such
    family pack folder" of a path that exists."""
    value = str(DEFAULT_PACK / "family.yaml") if value == "FAMILY_YAML" else value
    r = CliRunner().invoke(main, ["lint", "--kb", value])
    _no_traceback(r)
    assert r.exit_code == 2 and said in r.output, r.output


def test_batch_output_over_the_history_file_says_it_would_overwrite_the_history(tmp_path):
    claims, hist = tmp_path / "c.csv", tmp_path / "h.csv"
    claims.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role\n"
                      "C,P,1,62367,2025-03-04,D,physician\n")
    hist.write_text("patient_id,code,date_of_service\nP,62362,2024-01-01\n")
    r = CliRunner().invoke(main, ["batch", str(claims), "--history", str(hist), "-o", str(hist)])
    assert r.exit_code == 2 and "is the --history file" in r.output and "would overwrite the history" in r.output, \
        r.output
    assert hist.read_text().startswith("patient_id,code")


def test_the_clinical_staff_warning_reads_the_role_fact_fixes_read(tmp_path):
    """An integrator's audit: ont:reportsIndividually was exported, and read by the fixes, while the rule warning
    that "clinical staff do not report services individually" named the class itself; a pack saying clinical
    staff report individually still got the warning, and a value of "maybe" passed lint."""
    root = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, root)
    onto = root / "ontology" / "pump.ttl"
    text = onto.read_text(encoding="utf-8")
    assert "ont:ClinicalStaff ont:reportsIndividually false ." in text
    claim = tmp_path / "c.json"
    claim.write_text(json.dumps({"claim_id": "C", "patient_id": "P", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N", "provider_role": "nurse"}]}))
    said = CliRunner().invoke(main, ["check", str(claim), "--kb", str(root), "--json"])
    assert "role.clinical-staff-reports" in said.stdout
    other = tmp_path / "other"  # another folder: a session keeps the pack it loaded from a path
    shutil.copytree(DEFAULT_PACK, other)
    (other / "ontology" / "pump.ttl").write_text(
        text.replace("ont:ClinicalStaff ont:reportsIndividually false .", "ont:ClinicalStaff ont:reportsIndividually true .")
        .replace("owl:annotatedTarget false ;", "owl:annotatedTarget true ;"), encoding="utf-8")
    said = CliRunner().invoke(main, ["check", str(claim), "--kb", str(other), "--json"])
    assert said.exit_code == 0 and "role.clinical-staff-reports" not in said.stdout, said.output
    onto.write_text(text.replace("ont:ClinicalStaff ont:reportsIndividually false .",
                                 'ont:ClinicalStaff ont:reportsIndividually false, "maybe" .'), encoding="utf-8")
    r = lint(root)
    _no_traceback(r)
    assert r.exit_code == 2 and "ont:reportsIndividually is one true or false" in r.output, r.output


def test_a_decimal_column_of_no_fraction_digits_is_judged_as_whole_numbers(tmp_path):
    """A hostile-files audit: units of decimal(38, 0) holding 38 nines were "must be a whole number"; a whole number
    past the limit is "must be at most", as the same units in a CSV cell (and decimal(38, 0) of 2 is 2 units)."""
    from decimal import Decimal

    row = _batch_error(tmp_path, {"units": pa.array([Decimal("9" * 38)], pa.decimal128(38, 0))})
    assert row["status"] == "error" and "field units: must be at most" in row["error"], row
    row = _batch_error(tmp_path, {"units": pa.array([Decimal("2")], pa.decimal128(38, 0))})
    assert row["status"] != "error", row
