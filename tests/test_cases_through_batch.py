"""Every claim case of the pump pack gets the same verdicts, rules and words from ``cptkg batch`` (the
rules compiled to DuckDB SQL, the claim inputs made by SQL) as from ``cptkg check``, with the edit files
it loads. The engine differential runs generated claims with no unit edit loaded; the unit edits'
duplicate and repeat counting (date_units_once, date_units_least) is made twice, in Python and in SQL,
and only the cases reach its edges."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.cases import load_cases
from cptkg.faces.cli import main
from cptkg.knowledge.pack import case_files

PACK = Path(__file__).parent.parent / "kb" / "pump"


def _groups() -> dict[tuple[str, ...], list[dict]]:
    """The cases' claims by the edit files they load (cases that add facts to the pack are left out: they
    judge another knowledge base)."""
    out: dict[tuple[str, ...], list[dict]] = {}
    for case in load_cases(case_files(PACK, "claim")):
        if isinstance(case.get("given"), dict) and not case.get("kb_facts"):
            out.setdefault(tuple(case.get("edits") or ()), []).append(case["given"])
    return out


def _rows(path: Path) -> list[tuple[str, ...]]:
    """Each row's line and verdict (a case's claim may repeat a line number: a list, not keyed by line); a claim
    that cannot be judged is an error row in both, whose words batch gives in its own column with the row."""
    return [(r["claim_id"], r["line"], r["code"], r["status"], r["rules"], r["reasons"] if r["status"] != "error" else "")
            for r in csv.DictReader(open(path, encoding="utf-8", newline=""))]


@pytest.mark.parametrize("edits", sorted(_groups()), ids=lambda e: "+".join(e) or "no edits")
def test_the_cases_claims_get_checks_verdicts_from_batch(tmp_path, edits):
    claims = _groups()[edits]
    src = tmp_path / "claims.json"
    src.write_text(json.dumps(claims), encoding="utf-8")
    loads = [a for e in edits for a in ("--edits", str(PACK / "rules" / e))]
    checked = CliRunner().invoke(main, ["check", str(src), *loads, "--output", "csv"])
    assert checked.exit_code in (0, 1, 2), checked.output  # 2: a case claim that cannot be judged (its rows say so)
    (tmp_path / "check.csv").write_text(checked.stdout, encoding="utf-8")
    batched = CliRunner().invoke(main, ["batch", str(src), *loads, "-o", str(tmp_path / "batch.csv")])
    assert batched.exit_code in (0, 1, 2), batched.output
    want, got = _rows(tmp_path / "check.csv"), _rows(tmp_path / "batch.csv")
    assert len(want) == sum(len(c["lines"]) for c in claims)  # every line of every case answered
    assert [r for r in got if r not in want] == [] and got == want
