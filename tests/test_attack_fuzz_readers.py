"""Issue 16: every claim reader fuzzed with hostile strings (JSON, CSV, FHIR, X12 837P, Parquet via cptkg batch).

Whatever the content, a reader returns claims or raises its one-line
ReadError (never another exception, never a message with a line break, never
a patient id in clear); batch output has one row per input row and no live
spreadsheet formula. The fast run takes a few hundred examples per reader;
.ci/attack.sh runs the slow one (CPTKG_FUZZ_EXAMPLES, default 2,000 per
reader) and prints the figures.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hypothesis_support import examples

from cptkg.io import readers
from cptkg.io.readers import ReadError

DATA = Path(__file__).parent / "data" / "interop"
HOSTILE = ["=HYPERLINK(\"http://127.0.0.1:9\")", "=CMD|'/C CALC'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
           "<IMG SRC=//127.1>", "![x](http://127.0.0.1:9/x)", "<IFRAME>", "<STYLE>", "<B>b</B>", "\x1b[2J", "\r",
           "'; DROP TABLE b_rows; --", "\" OR 1=1 --", "${jndi:ldap://127.0.0.1/a}", "{C:>1500000000}", "../../etc/passwd",
           "*", "?", "[a-z]", "\x00", "\u202e", "９９", "1" * 5000, " ", "", "NaN", "-0", "1e999", "null",
           "2024-02-30", "0000-01-01", "9" * 20]
SECRET = "PAT-SECRET-7"
hostile = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))
FAST = int(os.environ.get("CPTKG_FUZZ_EXAMPLES", "150"))
FUZZ = dict(deadline=None, max_examples=examples(FAST),
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
COLUMNS = ["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units", "modifiers"]
GOOD = ["C1", SECRET, "1", "62367", "2025-03-04", "D1", "physician", "1", ""]
COUNTS: dict[str, int] = {}


def _ok_or_one_line(fn, name):
    COUNTS[name] = COUNTS.get(name, 0) + 1
    try:
        fn()
    except ReadError as e:
        msg = str(e)
        assert msg and "\n" not in msg and "\r" not in msg, msg
        assert SECRET not in msg, msg


@settings(**FUZZ)
@given(st.lists(st.tuples(st.integers(0, 8), hostile), min_size=1, max_size=6), st.booleans())
def test_csv_reader(edits, header_edit):
    row = list(GOOD)
    header = list(COLUMNS)
    for i, v in edits:
        if header_edit and i == 8:
            header[i] = v
        else:
            row[i] = v
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerow(row)
    _ok_or_one_line(lambda: readers.read(buf.getvalue().encode("utf-8", "surrogatepass"), "csv"), "csv")


@settings(**FUZZ)
@given(st.lists(st.tuples(st.sampled_from(["claim_id", "patient_id", "code", "date_of_service", "provider_id",
                                           "provider_role", "line", "units", "modifiers"]),
                          st.one_of(hostile, st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.none(),
                                    st.lists(hostile, max_size=3))), min_size=1, max_size=5))
@example([("claim_id", None), ("patient_id", "null")])  # CI, stop 17: "got null" for claim_id is no leak
@example([("patient_id", 987654321)])
def test_json_reader(edits):
    from cptkg.claims.models import InputError, parse_claims

    c = {"claim_id": "C1", "patient_id": SECRET, "lines": [dict(zip(COLUMNS[2:7], [1, "62367", "2025-03-04", "D1", "physician"]))]}
    for k, v in edits:
        (c if k in ("claim_id", "patient_id") else c["lines"][0])[k] = v

    def messages(claim):
        res = readers.read(json.dumps(claim, allow_nan=False).encode(), "json")
        return [str(item) for item in parse_claims(res.claims[0])[0] if isinstance(item, InputError)]

    def run():
        msgs = messages(c)
        for msg in msgs:
            assert "\n" not in msg and SECRET not in msg, msg
        pid = c.get("patient_id")
        if isinstance(pid, (str, int)) and not isinstance(pid, bool) and len(str(pid)) > 3:
            # A leak is the patient's value showing in a message where another
            # patient value of the same type would not show: text the message
            # holds anyway ("got null" for another field) is not a leak.
            canary = "PATIENT-CANARY-31" if isinstance(pid, str) else 31415926535
            with_canary = messages({**c, "patient_id": canary})
            assert not any(str(canary) in m for m in with_canary), with_canary
            for msg in msgs:
                if str(pid) in msg:
                    assert any(str(pid) in m for m in with_canary), msg
    _ok_or_one_line(run, "json")


@settings(**FUZZ)
@given(st.lists(st.tuples(st.sampled_from(["id", "patient", "code", "date", "provider", "text"]), hostile),
                min_size=1, max_size=5))
def test_fhir_reader(edits):
    doc = json.loads((DATA / "fhir-claim.json").read_text(encoding="utf-8"))
    for k, v in edits:
        if k == "id":
            doc["id"] = v
        elif k == "patient":
            doc["patient"] = {"reference": f"Patient/{v}"}
        elif k == "code" and doc.get("item"):
            doc["item"][0]["productOrService"] = {"coding": [{"code": v}]}
        elif k == "date" and doc.get("item"):
            doc["item"][0]["servicedDate"] = v
        elif k == "provider":
            doc["provider"] = {"reference": f"Practitioner/{v}"}
        else:
            doc["text"] = {"status": "generated", "div": v}
    _ok_or_one_line(lambda: readers.read(json.dumps(doc).encode(), "fhir"), "fhir")


def _x12_claim() -> str:
    from devtools import x12_build

    return x12_build.build([{"claim_id": "C1", "patient_id": SECRET, "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "1234567893",
         "provider_role": "physician"},
        {"line": 2, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "1234567893",
         "provider_role": "physician", "modifiers": ["59"]}]}])


X12 = None


@settings(**FUZZ)
@given(st.lists(st.tuples(st.integers(0, 400), st.one_of(hostile, st.sampled_from(["*", ":", "~", "^", "\n",
                                                                                    "~IEA*1*000000001~", "HL*9**22*0"]))),
                min_size=1, max_size=5))
def test_x12_reader(edits):
    """Hostile values written into a valid 837P at random places (separators and segments among them)."""
    global X12
    X12 = X12 or _x12_claim()
    text = X12
    for at, value in edits:
        at = at % len(text)
        text = text[:at] + value + text[at + 1:]
    _ok_or_one_line(lambda: readers.read(text.encode("utf-8", "surrogatepass"), "x12"), "x12")


@settings(**FUZZ)
@given(st.binary(max_size=400))
def test_every_reader_on_arbitrary_bytes(data):
    for fmt in ("json", "csv", "fhir", "x12"):
        _ok_or_one_line(lambda: readers.read(data, fmt), f"bytes-{fmt}")


@pytest.mark.slow
@settings(**{**FUZZ, "max_examples": examples(max(FAST // 20, 20))})
@given(st.lists(st.lists(hostile, min_size=9, max_size=9), min_size=1, max_size=5))
def test_parquet_through_cptkg_batch(tmp_path_factory, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from cptkg.faces.commands.batch import command
    from cptkg.spreadsheet import TRIGGERS

    d = tmp_path_factory.mktemp("pq")
    clean = [[v.replace("\x00", "") for v in r] for r in rows]
    pq.write_table(pa.table({c: [r[i] for r in clean] for i, c in enumerate(COLUMNS)}), d / "in.parquet")
    COUNTS["parquet"] = COUNTS.get("parquet", 0) + 1
    r = CliRunner().invoke(command, [str(d / "in.parquet"), "-o", str(d / "out.csv")])
    assert r.exit_code in (0, 1, 2) and "Traceback" not in r.output, r.output
    if (d / "out.csv").exists():
        out = list(csv.reader(open(d / "out.csv", newline="", encoding="utf-8")))
        assert len(out) == 1 + len(rows)
        assert not [c for row in out for c in row if c[:1] in TRIGGERS and not c.lstrip("+-").replace(".", "").isdigit()]


def test_zz_figures():
    print("\nreader fuzz examples:", dict(sorted(COUNTS.items())))
