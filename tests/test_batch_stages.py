"""cptkg batch runs in named stages (issues 24 and 27), and its fast path for rule sets applies to the pump pack."""
from __future__ import annotations

import csv

import pytest


def _write_rows(tmp_path, n: int, seed: int):
    from devtools import claimgen

    lines, history = claimgen.generate(n, seed=seed)  # synthetic claim lines and history
    for name, rows, cols in (("in.csv", lines, claimgen.LINE_FIELDS), ("hist.csv", history, claimgen.HISTORY_FIELDS)):
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    return tmp_path / "in.csv", tmp_path / "hist.csv"


def test_batch_runs_read_history_validate_facts_evaluate_collect_write_finish_in_that_order(tmp_path, monkeypatch, kb):
    from cptkg.judge import batch

    seen = []
    stages = ["_stage_read", "_stage_history", "_stage_validate", "_stage_facts", "_stage_evaluate", "_stage_collect",
              "_stage_write", "_stage_finish"]
    for name in stages:
        real = getattr(batch, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(batch, name, spy)
    lines, hist = _write_rows(tmp_path, 60, seed=11)
    summary = batch.run_batch(lines, tmp_path / "out.csv", hist, kb=kb)
    assert seen == stages
    assert summary.lines_out == summary.lines_in == len(list(csv.DictReader(open(lines, encoding="utf-8"))))


def test_pump_pack_has_more_rules_than_bits_but_each_verdict_fits_them(kb):
    # The rule sets of a line are gathered as the bits of one integer when the rules of each verdict
    # (numbered per verdict) fit; the pump pack's program as a whole has more rules than that.
    from cptkg.judge import batch

    rules = kb.check_program.rules
    assert len(rules) > batch.MAX_BIT_RULES
    for verdict in batch.VERDICTS:
        assert 0 < sum(r.head.pred == verdict for r in rules) <= batch.MAX_BIT_RULES


@pytest.mark.parametrize("seed", [5])
def test_rule_numbers_per_verdict_give_the_same_rows_as_the_list_path(tmp_path, monkeypatch, kb, seed):
    from cptkg.judge import batch

    lines, hist = _write_rows(tmp_path, 800, seed=seed)
    outs = []
    for limit in (batch.MAX_BIT_RULES, 0):  # 0: every rule set gathered as a sorted list of ids instead
        monkeypatch.setattr(batch, "MAX_BIT_RULES", limit)
        out = tmp_path / f"out{limit}.csv"
        batch.run_batch(lines, out, hist, kb=kb)
        outs.append(list(csv.DictReader(open(out, encoding="utf-8"))))
    assert outs[0] == outs[1]
    several = [r for r in outs[0] if ";" in r["rules"]]
    assert several and all(r["carc"].count(";") == r["rules"].count(";") for r in several)
    assert any(";" in r["warnings"] for r in outs[0])
