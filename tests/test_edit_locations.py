"""A denial by an imported edit says where the edit is: its row, the file CMS published and the release.

The verdict CSV read "edit table row 9" with no file or release (an edit specialist's audit): with two
releases loaded an auditor could not tell which table's row 9 it was. ``{X:edit}`` in a rule's message
names the row, file and release, in ``check`` and ``batch`` alike. EVERY CODE PAIR, UNIT VALUE, DATE
AND ROW IS SYNTHETIC (not CMS values).
"""
from __future__ import annotations

import csv
import io
import json

import pytest

from test_impact import NPI, Q1_MUE, Q1_PTP, _release, run  # noqa: F401


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))


def test_a_pair_and_a_unit_denial_name_the_row_file_and_release_in_check_and_batch(tmp_path):
    q1 = _release(tmp_path, "2026Q1", Q1_PTP, Q1_MUE)
    line = lambda n, code, units=1: (f"T,P1,{n},{code},2026-02-02,{NPI},physician,{units},\n")  # noqa: E731
    claims = tmp_path / "claims.csv"
    claims.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
                      + line(1, "29881") + line(2, "20610") + line(3, "62367", 4), encoding="utf-8")
    edits = sum((["--edits", f] for f in q1), [])
    checked = run("check", claims, *edits, "--output", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(checked.split("\n\n")[0])))
    run("batch", claims, *edits, "-o", tmp_path / "out.csv")
    batched = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    pair = "row 8 of ptp-2026Q1.txt, release 2026Q1"  # the row in the file as published (notice lines above)
    for got in (rows, batched):
        by_line = {int(r["line"]): r for r in got}
        assert pair in by_line[2]["reasons"], by_line[2]["reasons"]
        assert "unit edit row 6 of mue-2026Q1.csv, release 2026Q1" in by_line[3]["reasons"], by_line[3]["reasons"]
        assert "edit table row" not in by_line[2]["reasons"]
    assert [r["reasons"] for r in rows] == [r["reasons"] for r in batched]


def test_a_pack_edit_is_named_by_its_label_not_a_row():
    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    edit = next(e for (e,) in kb.facts["pair_edit"])
    assert kb.edit_location(edit) == kb.label(edit)
