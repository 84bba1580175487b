"""Issue 23, part B: the checker and batch pages for analysts, off the browser (AppTest and the page
functions): reason codes beside rejections, "not checked" apart from "accepted", figures formatted,
upload errors that say what is wrong, and the batch judged on a thread that stops when asked."""
import json
import time

import pytest
from streamlit.testing.v1 import AppTest

import cptkg
from cptkg import InputError, readers
from cptkg.faces.explorer import batch, checker
from cptkg.faces.explorer.common import line_state, line_verdict, share, upload_problem
from cptkg.knowledge.pack import REPO_ROOT as ROOT

BATCH = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
# SYNTHETIC: one claim with a code the pump family does not cover (99213) beside a family code
OUTSIDE = {"claim_id": "SYN-OUT", "patient_id": "SYN-P1", "lines": [
    {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "SYN-D1", "provider_role": "physician"},
    {"line": 2, "code": "99213", "date_of_service": "2025-03-04", "provider_id": "SYN-D1", "provider_role": "physician"}]}


def _judged(claims):
    return batch.judge_batch(cptkg.load_kb(), claims)


def test_a_line_outside_the_knowledge_base_is_not_checked_not_accepted():
    res = _judged([OUTSIDE])[0]
    out = next(ln for ln in res["lines"] if ln["code"] == "99213")
    assert out["status"] == "accepted"  # the JSON contract keeps it
    assert line_state(out) == "not checked" and line_verdict(out).startswith("not checked")
    assert "not checked" in checker.verdict_words(out) and ":green[" not in checker.verdict_words(out)


def test_batch_counts_not_checked_apart_in_claims_lines_and_the_csv():
    res = _judged(BATCH + [OUTSIDE])
    assert batch.claim_counts(res)["not checked"] == 1 and batch.line_counts(res)["not checked"] == 1
    table = batch.batch_table(res, BATCH + [OUTSIDE])
    row = table[(table["claim_id"] == "SYN-OUT") & (table["code"] == "99213")].iloc[0]
    assert not row["checked"] and row["verdict"].startswith("not checked") and row["patient_id"] == "SYN-P1"
    g = batch.grouped_in_words(table, "code")
    assert g[g["code"] == "99213"]["not checked"].iloc[0] == "1"


def test_batch_csv_keeps_its_columns_and_adds_reason_codes_patient_and_warnings_in_words():
    res = _judged(BATCH)
    header = batch.batch_csv(res).decode("utf-8").splitlines()[0].split(",")
    assert header[:12] == ["claim_id", "claim_status", "line", "code", "line_status", "rules", "messages", "warnings",
                           "titles", "verdict", "provider_id", "date_of_service"]
    assert {"carc", "group_code", "carc_description", "checked", "patient_id", "warnings_in_words", "fixes"} <= set(header)
    table = batch.batch_table(res, BATCH)
    rejected = table[table["line_status"] == "rejected"]
    assert (rejected["carc"] != "").all() and "97" in set(rejected["carc"])
    shown = batch.shown_table(table)
    assert "CO-97" in set(shown["reason code"]) and "claim_id" not in shown.columns


def test_fixes_of_an_explained_claim_go_into_its_rows():
    kb = cptkg.load_kb()
    res = _judged(BATCH)
    rej = next(r for r in res if r["status"] == "rejected" and r["claim_id"] == "C-1")
    ex = {r["claim_id"]: r for r in batch.explain_claims(kb, BATCH, {rej["claim_id"]})}
    assert ex[rej["claim_id"]]["suggestions"], "the example's first claim has a verified fix"
    table = batch.batch_table(res, BATCH, ex)
    assert (table[table["claim_id"] == rej["claim_id"]]["fixes"] != "").any()
    assert (batch.batch_table(res, BATCH)["fixes"] == "").all()


def test_shares_read_as_percentages_and_counts_with_separators():
    assert share(31, 100) == "31%" and share(1, 1000) == "<1%" and share(0, 0) == "–"
    table = batch.batch_table(_judged(BATCH), BATCH)
    g = batch.grouped_in_words(table, "provider")
    assert all(v.endswith("%") for v in g["share rejected"])


@pytest.mark.parametrize("data,words", [
    (b"", "the file is empty"),
    (b'[{"claim_id": "x",', "not valid JSON (line 1, column 19"),
    (b"claim,patient\nC1,P1\n", "expected columns: claim_id, patient_id, line, code"),
    (b"claim_id,line,code\nC1,1,62367\n", "missing columns patient_id"),
    # random bytes (named .json or .csv) were "a table without the claim columns (its first row: \x00\x01…)"
    (bytes(range(256)) * 8, "not a claim file cptkg can read: it holds binary data, not text"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(200, 256)) * 20 + b",a,b\n", "it holds binary data, not text"),
])
def test_an_upload_that_cannot_be_read_says_what_is_wrong(data, words):
    with pytest.raises(InputError) as e:
        readers.read(data, kb=cptkg.load_kb())
    said = upload_problem("claims.csv", data, e.value)
    assert said.startswith("claims.csv: ") and words in said and "\n" not in said


def test_the_batch_job_judges_every_claim_and_a_cancel_lists_the_rest_as_not_judged():
    kb = cptkg.load_kb()
    done = batch.BatchJob(kb, BATCH, None, None).start()
    while done.running:
        time.sleep(0.05)
    assert done.state == "done" and len(done.results) == len(BATCH)
    claims = [dict(BATCH[0], claim_id=f"SYN-{i}") for i in range(40)]  # SYNTHETIC copies of one example claim
    job = batch.BatchJob(kb, claims, "pydatalog", None)  # about 0.1 s a claim: slices of 10
    job.cancel()
    job.start()
    while job.running:
        time.sleep(0.05)
    assert job.state == "cancelled" and len(job.results) == 40
    assert all(r["status"] == "error" and "cancelled" in r["error"] for r in job.results)


def test_the_batch_job_stops_when_its_session_is_gone(monkeypatch):
    kb = cptkg.load_kb()
    claims = [dict(BATCH[0], claim_id=f"SYN-{i}") for i in range(60)]
    job = batch.BatchJob(kb, claims, "pydatalog", "SYN-session", grace=0.0)
    monkeypatch.setattr(job, "_connected", lambda: False)
    job.start()
    while job.running:
        time.sleep(0.05)
    assert job.state == "session ended" and job.done == 0 and len(job.results) == 60


def test_checker_page_shows_the_reason_code_beside_a_rejection():
    at = AppTest.from_string("from cptkg.faces.explorer.checker import page\npage()\n", default_timeout=60)
    at.run()
    at.button(key="check_editor").click().run()
    assert not at.exception
    body = "\n".join(m.value for m in at.markdown)
    assert ":red-badge[CO-97]" in body and "CARC 97, group CO" in body


def test_the_engine_choice_is_not_on_an_analyst_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "Rule engine" not in [s.label for s in at.sidebar.selectbox]


def test_batch_csv_writes_a_missing_line_empty_and_checked_as_true_or_false():
    # an analyst walk: a claim that could not be judged had line "<NA>", and checked read True/False
    import csv as _csv
    import io as _io

    bad = {"claim_id": "SYN-BAD", "patient_id": "SYN-P9", "lines": [{"line": 1, "code": "62367"}]}
    res = _judged(BATCH + [bad])
    rows = list(_csv.DictReader(_io.StringIO(batch.batch_csv(res).decode("utf-8"))))
    assert all("<NA>" not in v and v not in ("True", "False", "nan", "None") for r in rows for v in r.values()), rows
    assert {r["checked"] for r in rows if r["line_status"] != "error"} <= {"true", "false"}
    # a line of a claim that could not be judged is neither: empty, as check's CSV writes it (it read "false",
    # the mark of a line outside the knowledge base; an analyst's audit)
    assert [r["checked"] for r in rows if r["claim_id"] == "SYN-BAD"] == [""]


def test_a_claim_not_judged_is_named_once_in_the_list_of_claims_not_judged():
    twice = batch.not_judged_line({"claim_id": "C-BAD", "error": "claim C-BAD, line 1, field code: is missing"})
    assert twice.count("C-BAD") == 1, twice
    row = batch.not_judged_line({"claim_id": "C9", "error": "row 3, claim C9, field units: 'x' is not a whole number"})
    assert row.count("C9") == 1, row
    other = batch.not_judged_line({"claim_id": "C7", "error": "the history file cannot be read"})
    assert other.startswith("- claim C7: ")


def test_a_claim_that_cannot_be_judged_keeps_each_line_it_gave_and_the_counts_add_up():
    """The batch table showed the claim that could not be judged as line "None" with no code, though the file gave
    both, and the line counts read 9 of 10 lines (an analyst walk): each line the file gave is a row with its
    number and code, and the counts include the lines that could not be judged."""
    bad = {"claim_id": "SYN-BAD", "patient_id": "SYN-P9", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-02-30", "provider_id": "SYN-D1", "provider_role": "nurse"},
        {"line": 2, "code": "J0475", "date_of_service": "2025-03-04", "provider_id": "SYN-D1", "provider_role": "nurse"}]}
    claims = BATCH + [bad]
    res = _judged(claims)
    assert next(r for r in res if r["claim_id"] == "SYN-BAD")["status"] == "error"
    table = batch.batch_table(res, claims)
    rows = table[table["claim_id"] == "SYN-BAD"]
    assert list(rows["line"]) == [1, 2] and list(rows["code"]) == ["95990", "J0475"]
    counts = batch.line_counts(res, claims)
    errors = {r["claim_id"] for r in res if r["status"] == "error"}  # examples/claims-batch.json has one too
    assert counts["could not be judged"] == sum(len(c["lines"]) for c in claims if c["claim_id"] in errors) >= 2
    assert sum(counts.values()) == sum(len(c["lines"]) for c in claims)


def test_a_csv_claim_its_reader_refuses_is_a_table_row_per_line_with_its_line_and_code(kb):
    """An explorer audit: a claim of a bad date in an uploaded CSV was one row of the claim id alone in the
    Batch page's table and its CSV download, where cptkg batch writes its line number and code on each row."""
    import cptkg
    from cptkg.faces.explorer.batch import batch_table
    from cptkg.faces.explorer.checker import uploaded_claims

    data = ("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
            "B1,P1,1,95990,2025-03-04,D1,nurse,1,\n"
            "B2,P2,1,95990,2025-13-04,D1,nurse,1,\n"
            "B2,P2,2,95991,2025-03-04,D1,physician,1,\n").encode()
    claims = uploaded_claims(kb, data)
    results = cptkg.judge_claims(kb, claims)
    table = batch_table(results, [c for c in claims if isinstance(c, dict)])
    refused = table[table["claim_id"] == "B2"]
    assert list(refused["line"]) == [1, 2] and list(refused["code"]) == ["95990", "95991"], refused
    assert set(refused["line_status"]) == {"error"}
