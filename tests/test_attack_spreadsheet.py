"""Issue 16, finding 4: no CSV that cptkg writes carries a live spreadsheet formula."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.spreadsheet import TRIGGERS, safe_cell

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_IDS = ['=HYPERLINK("http://127.0.0.1:9/x","click")', "+1+1", "@SUM(A1)", "\t=1+2", "\r=1+2"]
HOSTILE_CODES = ["=CMD|'/C CALC'!A0", "-2+3", "@A1", "+A1"]


def live_formula(cell: str) -> bool:
    return cell[:1] in TRIGGERS and not re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", cell)


def assert_no_formula(text: str):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    bad = [c for r in rows for c in r if live_formula(c)]
    assert not bad, bad
    return rows


def test_safe_cell_follows_owasp():
    for v in HOSTILE_IDS + HOSTILE_CODES:
        assert safe_cell(v) == "'" + v
    for v in ["62367", "-3", "+1.5", "", "a=b", 5, None]:
        assert safe_cell(v) == v


def _claims():
    return [{"claim_id": cid, "patient_id": "P", "lines": [
        {"line": 1, "code": code, "date_of_service": "2025-03-04", "provider_id": "D", "provider_role": "physician"}]}
        for cid, code in zip(HOSTILE_IDS, HOSTILE_CODES + ["62367"])]


def test_check_output_csv_neutralises_formulas_and_json_keeps_raw_values():
    data = json.dumps(_claims())
    r = CliRunner().invoke(main, ["check", "-", "--output", "csv"], input=data)
    rows = assert_no_formula(r.stdout)
    assert rows[1][0] == "'" + HOSTILE_IDS[0]
    r = CliRunner().invoke(main, ["check", "-", "--json"], input=data)
    assert [c["claim_id"] for c in json.loads(r.stdout)] == HOSTILE_IDS


def test_batch_csv_neutralises_formulas_parquet_keeps_raw_values(tmp_path):
    from cptkg.faces.commands.batch import command

    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role"])
        for c in _claims():
            w.writerow([c["claim_id"], "P", 1, c["lines"][0]["code"], "2025-03-04", "D", "physician"])
        w.writerow(["=BAD", "P", "x", "-1+1", "2025-03-04", "D", "physician"])  # an error row: message names it
    r = CliRunner().invoke(command, [str(src), "-o", str(tmp_path / "out.csv")])
    assert r.exit_code == 2, r.output
    rows = assert_no_formula((tmp_path / "out.csv").read_text(encoding="utf-8"))
    assert len(rows) == 1 + 6
    r = CliRunner().invoke(command, [str(src), "-o", str(tmp_path / "out.parquet")])
    t = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert t[0]["claim_id"] == HOSTILE_IDS[0] and t[-1]["claim_id"] == "=BAD"


def test_explorer_batch_download_neutralises_formulas(kb):
    from cptkg.faces.explorer.batch import batch_csv, judge_batch

    results = judge_batch(kb, _claims())
    assert_no_formula(batch_csv(results).decode("utf-8"))


def test_every_csv_writer_in_the_package_uses_the_helper():
    """Any module writing CSV (csv.writer, DictWriter, to_csv, COPY ... csv) goes through cptkg.spreadsheet."""
    writers = []
    for p in (ROOT / "cptkg").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        if re.search(r"(csv|spreadsheet)\.(writer|DictWriter)\(|\.to_csv\(|frame_csv\(|\.csv\(target\)|FORMAT csv", text) and p.name != "spreadsheet.py":
            writers.append(p.relative_to(ROOT).as_posix())
    assert len(writers) >= 6, writers
    engines = {"cptkg/engines/sql/duckdb.py", "cptkg/engines/sql/spark.py"}  # they write what judge/batch.py selects
    for w in set(writers) - engines:
        assert "spreadsheet" in (ROOT / w).read_text(encoding="utf-8"), f"{w} writes CSV without cptkg.spreadsheet"
    for w in writers:  # only the helper's own writers, which quote a row holding a carriage return
        assert not re.search(r"(?<!spreadsheet)\.(writer|DictWriter)\(", (ROOT / w).read_text(encoding="utf-8")), w
        assert ".to_csv(" not in (ROOT / w).read_text(encoding="utf-8"), w
    assert "safe_sql" in (ROOT / "cptkg/judge/batch.py").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.xdist_group("spark")  # one Spark JVM per test run, on one worker
def test_spark_batch_csv_neutralises_the_same_cells_as_duckdb(tmp_path):
    from spark_support import spark_session

    from cptkg.engines.sql.spark import SparkBackend
    from cptkg.judge.batch import run_batch

    spark = spark_session()
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role"])
        for cid, code in [("=1+1", "-1+5"), ("-3", "+A1"), ("@x", "62367"), ("\t=2", "=CMD|'/C CALC'!A0")]:
            w.writerow([cid, "P", 1, code, "2025-03-04", "D", "physician"])
    run_batch(src, tmp_path / "duck.csv", engine="duckdb")
    run_batch(src, tmp_path / "spark.csv", backend=SparkBackend(spark))
    duck = (tmp_path / "duck.csv").read_text(encoding="utf-8")
    assert_no_formula(duck)
    sprk = list(csv.DictReader(open(tmp_path / "spark.csv", newline="", encoding="utf-8")))
    keep = ("claim_id", "code", "status", "error")
    assert [{k: r[k] for k in keep} for r in sprk] == [{k: r[k] for k in keep}
                                                       for r in csv.DictReader(io.StringIO(duck, newline=""))]


def test_a_cell_that_already_reads_guarded_gets_its_own_quote_so_two_ids_stay_two(tmp_path):
    """A batch audit: claims '=F5 and =F5 were both written '=F5, in batch's CSV and check's: which verdict was
    whose could not be told. The Python guard and its SQL form (DuckDB here; Spark runs the same SQL) agree."""
    import duckdb

    from cptkg.faces.commands.batch import command
    from cptkg.spreadsheet import safe_sql

    pairs = {"=F5": "'=F5", "'=F5": "''=F5", "''x": "'''x", "'abc": "'abc", "'": "'", "-3": "-3"}
    con = duckdb.connect()
    sql = safe_sql("v", lambda e, p: f"regexp_full_match({e}, '{p}')")
    for given, written in pairs.items():
        assert safe_cell(given) == written
        assert con.execute(f"SELECT {sql} FROM (SELECT CAST(? AS VARCHAR) AS v)", [given]).fetchone()[0] == written
    src = tmp_path / "in.csv"
    src.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role\n"
                   "'=F5,P,1,95990,2025-03-04,D,physician\n=F5,Q,1,62367,2025-03-04,D,physician\n", encoding="utf-8")
    CliRunner().invoke(command, [str(src), "-o", str(tmp_path / "out.csv")])
    rows = list(csv.reader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert [r[1] for r in rows[1:]] == ["''=F5", "'=F5"]


@pytest.mark.parametrize("extra", ["Modifier 1", "Modifier2", "modifiers_2", "CPT Modifier 1", "Mod1", "M2"])
def test_a_second_modifier_column_beside_modifiers_is_refused_naming_it(tmp_path, extra):
    """A hostile-files audit: 'Modifier 1' beside 'modifiers' was read as no column, so its 76 was dropped and a
    true repeat was denied as a duplicate; check and batch refuse the header naming the column."""
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    p = tmp_path / "claims.csv"
    p.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers," + extra + "\n"
                 "C1,P1,1,95991,2025-03-04,D1,physician,1,,\n"
                 "C1,P1,2,95991,2025-03-04,D1,physician,1,,76\n", encoding="utf-8")
    for args in (["check", str(p)], ["batch", str(p), "-o", str(tmp_path / "out.csv")]):
        got = CliRunner().invoke(main, args)
        assert got.exit_code == 2, (args, got.output)
        assert f"row 2: column {extra!r} holds '76', which the column 'modifiers' does not" in got.output, got.output


@pytest.mark.parametrize("second", ["76", "", "x"])
def test_a_second_modifier_column_that_loses_nothing_is_read(tmp_path, second):
    """A regression hunt: exports carry 'modifiers' and 'Modifier 1' alike, or an empty 'Modifier 1', or an 'M1' of
    other values: nothing of theirs is lost, and they were refused by their header alone."""
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    p = tmp_path / "claims.csv"
    p.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers,Modifier 1,M1\n"
                 "C1,P1,1,95991,2025-03-04,D1,physician,1,,,\n"
                 f"C1,P1,2,95991,2025-03-04,D1,physician,1,76,{second if second != 'x' else '76'},"
                 f"{second if second == 'x' else ''}\n", encoding="utf-8")
    for args in (["check", str(p)], ["batch", str(p), "-o", str(tmp_path / "out.csv")]):
        got = CliRunner().invoke(main, args)
        assert got.exit_code == 0, (args, got.output)
