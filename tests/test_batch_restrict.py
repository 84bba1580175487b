"""Work the compiled batch skips must never change what it derives (issue 27).

Two cuts of the batch's SQL: a rule joining a knowledge-base relation with no
facts (no edit table loaded) runs as an empty result instead of joining every
claim row, and a shared join prefix that extends a shorter one is joined from
it. Each program below is run with and without the cut, and every derived
tuple and kept binding must be the same. Values are synthetic.
"""
from __future__ import annotations

from cptkg.engines.sql import compiler as sc
from cptkg.engines.sql.duckdb import DuckDBBackend
from cptkg.rules.parser import parse_text
from cptkg.rules.program import build_program

EDB = {"line": 1, "billed": 3, "edit": 2, "group": 2}
TYPES = {"line": ["int"], "billed": ["int", "text", "text"], "edit": ["text", "text"], "group": ["text", "text"]}
CLAIMS = {"line", "billed"}
RULES = """
pair(L, E) :- line(L), billed(L, C, D), billed(E, C2, D), edit(C, C2).
same(L, E) :- line(L), billed(L, C, D), billed(E, C, D), L != E.
grouped(L, E, G) :- line(L), billed(L, C, D), billed(E, C, D), group(G, C).
reject(L) :- pair(L, E).
reject(L) :- same(L, E), line(E).
warn(L) :- grouped(L, E, G), line(E).
alone(L) :- line(L), billed(L, C, D), group(G, C).
ungrouped(L, D) :- line(L), billed(L, C, D), not group(_, C).
warn(L) :- alone(L), not same(L, _).
warn(L) :- ungrouped(L, D).
"""
# synthetic claims: claim 1 bills 62367 twice on one date, claim 2 two codes an edit would pair
FACTS = {"line": {(1, 1), (1, 2), (2, 1), (2, 2)},
         "billed": {(1, 1, "62367", "2024-01-01"), (1, 2, "62367", "2024-01-01"),
                    (2, 1, "62369", "2024-02-01"), (2, 2, "95990", "2024-02-01")},
         "group": {("g-refill", "62367")}}


def _run(stats, share=True, edits=()):
    prog = build_program(parse_text(RULES, "t.dl"), EDB)
    cp = sc.compile_program(prog, TYPES, CLAIMS, keep_bindings=("reject", "warn"), claim_type=sc.INT,
                            stats=stats, share=share)
    be = DuckDBBackend()
    facts = dict(FACTS, edit=set(edits))
    sc.load_inputs(cp, be, facts, [1, 2])
    sc.run(cp, be)
    got, bindings = sc.read_model(cp, be, ["reject", "warn"])
    return cp, got, {k: sorted(map(repr, v)) for k, v in bindings.items()}


def test_a_rule_joining_an_edit_table_with_no_rows_is_skipped_and_derives_the_same():
    stats = {"edit": set(), "group": FACTS["group"]}
    cp, got, bindings = _run(stats)
    pair_rule = next(k for k, r in enumerate(cp.program.rules) if r.head.pred == "pair")
    reject_from_pair = next(k for k, r in enumerate(cp.program.rules)
                            if r.head.pred == "reject" and r.positive()[0].atom.pred == "pair")
    # pair is empty for every claim, so the reject rule reading it is dead too
    assert {pair_rule, reject_from_pair} <= cp.dead
    assert "1 = 0" in cp.rule_body_select(reject_from_pair)
    _, want, want_bindings = _run(None)  # nothing known empty: every rule joined in full
    assert got == want and bindings == want_bindings
    assert got["reject"] == {(1, 1), (1, 2)}


def test_a_rule_is_not_skipped_once_the_edit_table_has_rows():
    edits = {("62369", "95990")}
    cp, got, _ = _run({"edit": edits, "group": FACTS["group"]}, edits=edits)
    assert not cp.dead
    assert (2, 1) in got["reject"]


def test_a_longer_shared_prefix_is_joined_from_the_shorter_one_and_derives_the_same():
    stats = {"edit": set(), "group": FACTS["group"]}
    cp, got, bindings = _run(stats)
    assert cp.prefix_base, "the program shares line, billed and line, billed, billed"
    name, (base, m) = next(iter(cp.prefix_base.items()))
    assert f"FROM {base} a0" in cp.prefix_select(name) and m < len(cp.prefixes[name])
    _, want, want_bindings = _run(stats, share=False)
    assert got == want and bindings == want_bindings


# ------------------------------------------------- the edit tables, sliced to the batch's codes

def test_a_batch_loads_only_the_edits_naming_its_codes_and_judges_as_with_the_whole_table(tmp_path, monkeypatch):
    """A payer's PTP release is millions of rows: loaded whole, a two-line batch over three million
    rows ran 134 s and stopped at its time limit. The batch takes the edits naming the codes it bills
    (lines and history), as check does per claim; every output cell must be as with the whole table."""
    from pathlib import Path

    from devtools import claimgen

    from cptkg.judge import batch
    from cptkg.knowledge.loader import default_kb

    data = Path(__file__).parent / "data" / "edits"
    kb = default_kb(edits=[data / "synthetic-ptp.ttl", data / "synthetic-mue.ttl"])
    lines, history = claimgen.generate(600, seed=5, edits=True)
    # a part of the batch's codes only: the edits naming the others must be left out
    billed = sorted({ln["code"] for ln in lines})
    kept = set(billed[: len(billed) // 2])
    lines = [ln for ln in lines if ln["code"] in kept]
    history = [h for h in history if h["code"] in kept]
    claimgen.write(lines, tmp_path / "lines.csv", claimgen.EDIT_LINE_FIELDS)
    claimgen.write(history, tmp_path / "history.csv", claimgen.HISTORY_FIELDS)

    seen = []
    real = batch.batch_facts
    monkeypatch.setattr(batch, "batch_facts", lambda kb_, codes: seen.append(set(codes)) or real(kb_, codes))
    sliced = batch.run_batch(tmp_path / "lines.csv", tmp_path / "sliced.csv", tmp_path / "history.csv", kb=kb)
    codes = seen[0]
    assert kept <= codes and codes <= kept | {h["code"] for h in history}
    size = lambda facts: sum(len(facts.get(p, ())) for p in kb.edit_index().predicates)  # noqa: E731
    assert size(real(kb, codes)) < size(kb.all_facts()), "no edit left out: the test slices nothing"

    monkeypatch.setattr(batch, "batch_facts", lambda kb_, codes: kb_.all_facts())
    whole = batch.run_batch(tmp_path / "lines.csv", tmp_path / "whole.csv", tmp_path / "history.csv", kb=kb)
    assert (tmp_path / "sliced.csv").read_text() == (tmp_path / "whole.csv").read_text()
    assert (sliced.rejected, sliced.accepted, sliced.rejected_by_rule) == \
        (whole.rejected, whole.accepted, whole.rejected_by_rule)
    assert sliced.rejected > 0
