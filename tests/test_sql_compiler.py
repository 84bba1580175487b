"""The SQL backend derives exactly what pyDatalog derives, claim by claim.

A program of its own (recursion over a cyclic graph, negation with ``_``,
comparisons on dates and numbers, zero-arity heads, constants with quotes
and backslashes, a claim-scoped rule with no positive claim literal) runs
on many claims at once in SQL and once per claim on pyDatalog; every
derived tuple and every rule binding must agree.
"""
from __future__ import annotations

import random

import pytest

import sql_programs as sp
from cptkg.engines.sql import compiler as sc
from cptkg.rules.parser import parse_text
from cptkg.rules.program import build_program
from cptkg.engines.sql.duckdb import DuckDBBackend


def _claims(n: int, seed: int) -> dict[str, dict]:
    rng = random.Random(seed)
    return {f"c{i}": sp.random_claim(rng) for i in range(n)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duckdb_derives_what_pydatalog_derives_for_every_claim(seed):
    prog = sp.program()
    claims = _claims(40, seed)
    want_facts, want_bindings = sp.by_claim_pydatalog(prog, claims)
    got_facts, got_bindings = sp.by_sql(prog, claims, DuckDBBackend())
    assert got_facts == want_facts
    assert got_bindings == want_bindings
    # the program's paths are exercised, not vacuously equal
    for pred in ("reject", "warn", "incl", "chain", "clean", "unbilled_qhp_code", "quoted"):
        assert want_facts.get(pred), pred


def test_kb_only_predicates_have_no_claim_column_and_claim_predicates_do():
    cp = sc.compile_program(sp.program(), sp.EDB_TYPES, sp.CLAIM_INPUTS)
    assert {"incl", "role_is", "allowed_role"} .isdisjoint(cp.scoped)
    assert {"reject", "warn", "qualified", "chain", "unbilled_qhp_code", "clean"} <= cp.scoped
    assert cp.columns("incl") == ["c0", "c1"]
    assert cp.columns("reject") == ["claim_id", "c0"]


def test_negated_anonymous_variable_means_no_fact_for_any_value():
    prog = build_program(parse_text("bare(L) :- line(L), not mod(L, _).", "t.dl"), {"line": 1, "mod": 2})
    cp = sc.compile_program(prog, {"line": ["int"], "mod": ["int", "text"]}, {"line", "mod"})
    be = DuckDBBackend()
    sc.load_inputs(cp, be, {"line": {("a", 1), ("a", 2), ("b", 1)}, "mod": {("a", 1, "59"), ("b", 2, "KX")}}, ["a", "b"])
    sc.run(cp, be)
    facts, _ = sc.read_model(cp, be, ["bare"])
    assert facts["bare"] == {("a", 2), ("b", 1)}


def test_a_rule_joining_a_relation_found_empty_is_planned_empty_and_derives_what_it_would_have():
    """A rule over a relation that came out empty (no opposite edits on any claim) still built hash tables
    of every claim relation it joined: 0.12 s a rule on a million lines, to make no row. It now runs with a
    false condition; the rules after it, and every relation, are what they were."""
    text = ("odd(L) :- line(L), mod(L, \"ZZ\").\n"
            "odd_pair(L, E) :- odd(L), line(E), mod(E, M), L != E.\n"
            "kept(L, M) :- line(L), mod(L, M), not odd(L).\n"
            "some(L) :- odd_pair(L, _).\n")
    prog = build_program(parse_text(text, "t.dl"), {"line": 1, "mod": 2})
    cp = sc.compile_program(prog, {"line": ["int"], "mod": ["int", "text"]}, {"line", "mod"},
                            keep_bindings={"odd_pair", "kept"})
    sent: list[str] = []

    class Seen(DuckDBBackend):
        def materialize(self, name, sql):
            sent.append((name, sql))
            return super().materialize(name, sql)

    for mods, empty in (({("a", 1, "59"), ("b", 2, "KX")}, True), ({("a", 1, "ZZ"), ("a", 2, "KX")}, False)):
        sent.clear()
        be = Seen()
        sc.load_inputs(cp, be, {"line": {("a", 1), ("a", 2), ("b", 1), ("b", 2)}, "mod": mods}, ["a", "b"])
        sc.run(cp, be)
        facts, bindings = sc.read_model(cp, be, ["odd", "odd_pair", "kept", "some"])
        pruned = {name for name, sql in sent if "1 = 0" in sql}
        assert pruned == ({"cr_1", "cp_some"} if empty else set()), pruned
        want = {("a", 2, "KX")} if not empty else {("a", 1, "59"), ("b", 2, "KX")}
        assert facts["kept"] == {(c, ln, m) for c, ln, m in want}
        assert facts["odd_pair"] == (set() if empty else {("a", 1, 2)})
        assert facts["some"] == (set() if empty else {("a", 1)})


def test_a_column_holding_text_and_integers_is_refused():
    prog = build_program(parse_text("p(X) :- a(X).\np(X) :- b(X).", "t.dl"), {"a": 1, "b": 1})
    with pytest.raises(sc.SQLCompileError, match="argument 1 of p would hold both"):
        sc.compile_program(prog, {"a": ["int"], "b": ["text"]})


def test_integer_constant_never_equals_text_column():
    # pyDatalog never equates 1 and "1"; the compiled SQL must not either.
    prog = build_program(parse_text('p(X) :- a(X, 1).', "t.dl"), {"a": 2})
    cp = sc.compile_program(prog, {"a": ["text", "text"]})
    be = DuckDBBackend()
    sc.load_inputs(cp, be, {"a": {("x", "1")}})
    sc.run(cp, be)
    assert sc.read_model(cp, be, ["p"])[0]["p"] == set()


def test_fixpoint_terminates_on_a_cycle_and_closes_it():
    text = "r(X, Y) :- e(X, Y).\nr(X, Z) :- r(X, Y), e(Y, Z).\n"
    prog = build_program(parse_text(text, "t.dl"), {"e": 2})
    cp = sc.compile_program(prog, {"e": ["text", "text"]})
    be = DuckDBBackend()
    sc.load_inputs(cp, be, {"e": {("a", "b"), ("b", "c"), ("c", "a")}})
    sc.run(cp, be)
    facts, _ = sc.read_model(cp, be, ["r"])
    assert len(facts["r"]) == 9


def test_spark_literals_escape_quotes_and_backslashes():
    assert sc.SPARK.literal("it's \\ odd") == "'it\\'s \\\\ odd'"
    assert sc.DUCKDB.literal("it's \\ odd") == "'it''s \\ odd'"


@pytest.mark.slow
@pytest.mark.xdist_group("spark")  # one Spark JVM per test run, on one worker
def test_spark_derives_what_pydatalog_derives_for_every_claim():
    from spark_support import spark_session
    from cptkg.engines.sql.spark import SparkBackend

    spark = spark_session()
    prog = sp.program()
    claims = _claims(40, 1)
    want = sp.by_claim_pydatalog(prog, claims)
    got = sp.by_sql(prog, claims, SparkBackend(spark))
    assert got[0] == want[0]
    assert got[1] == want[1]


def test_rules_opening_with_the_same_joins_read_one_shared_relation_and_derive_the_same():
    # line(L), billed(L, C, D) opens three reject rules (one with '_' for D),
    # and the two implanted_before rules are one join end to end.
    prog = sp.program()
    shared = sc.compile_program(prog, sp.EDB_TYPES, sp.CLAIM_INPUTS)
    assert len(shared.prefixes) >= 2 and len(shared.prefix_of) >= 4
    for k, (name, _n, _terms) in shared.prefix_of.items():
        assert f"FROM {name} a0" in shared.rule_body_select(k)
    claims = _claims(30, 9)
    alone = sc.compile_program(prog, sp.EDB_TYPES, sp.CLAIM_INPUTS, share=False)
    assert not alone.prefixes
    results = []
    for cp in (shared, alone):
        be = DuckDBBackend()
        inputs = {p: set(rows) for p, rows in sp.KB.items()}
        for cid, cf in claims.items():
            for p, rows in cf.items():
                inputs.setdefault(p, set()).update((cid,) + r for r in rows)
        sc.load_inputs(cp, be, inputs, claims)
        sc.run(cp, be, drop_after_use=True, read_after=["reject", "warn"])
        facts, bindings = sc.read_model(cp, be, ["reject", "warn"])
        results.append((facts, {k: sorted(tuple(sorted(b.items())) for b in bs) for k, bs in bindings.items()}))
    assert results[0] == results[1]
    assert results[0][0]["reject"] and results[0][0]["warn"]


def test_a_key_fixing_every_literal_drops_distinct_and_keeps_the_same_facts():
    # billed(L, C, _): with L a key of billed, the '_' date cannot repeat a row;
    # grp(C, G) has C unique in its facts, so G is fixed by C too. tag(C, T)
    # has two tags for one code: no key, so the rule reading it keeps DISTINCT.
    text = ("p(L, C) :- line(L), billed(L, C, _).\n"
            "q(L, C) :- line(L), billed(L, C, _), grp(C, _).\n"
            "t(L) :- line(L), billed(L, C, _), tag(C, _).\n")
    prog = build_program(parse_text(text, "t.dl"), {"line": 1, "billed": 3, "grp": 2, "tag": 2})
    types = {"line": ["int"], "billed": ["int", "text", "text"], "grp": ["text", "text"], "tag": ["text", "text"]}
    kb = {"grp": {("62368", "g1"), ("62369", "g1")}, "tag": {("62368", "a"), ("62368", "b")}}
    claim = {"line": {("x", 1), ("x", 2)}, "billed": {("x", 1, "62368", "2024-01-01"), ("x", 2, "62369", "2024-01-01"),
                                                      ("x", -1, "62368", "2023-12-01")}}
    keyed = sc.compile_program(prog, types, {"line", "billed"}, stats=kb, keys={"billed": [(0,)], "line": [(0,)]},
                               share=False)
    plain = sc.compile_program(prog, types, {"line", "billed"}, share=False)
    assert keyed.keys["grp"] == [(0,)] and keyed.keys["tag"] == [(1,)]  # the tag, not the code, is unique
    sql = {name: {r.head.pred: cp.rule_head_select(k) for k, r in enumerate(prog.rules)}
           for name, cp in (("keyed", keyed), ("plain", plain))}
    assert "DISTINCT" not in sql["keyed"]["p"] and "DISTINCT" not in sql["keyed"]["q"]
    assert "DISTINCT" in sql["keyed"]["t"]
    assert all("DISTINCT" in s for s in sql["plain"].values())
    results = []
    for cp in (keyed, plain):
        be = DuckDBBackend()
        sc.load_inputs(cp, be, {**kb, **claim}, ["x"])
        sc.run(cp, be)
        results.append(sc.read_model(cp, be, ["p", "q", "t"])[0])
    assert results[0] == results[1]
    assert results[0]["t"] == {("x", 1)} and len(results[0]["q"]) == 2


#: the patterns batch validation matches whole, and values at their edges
_FULL_MATCH_CASES = [(p, v) for p in ("[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4}", "[0-9]{4}-[0-9]{2}-[0-9]{2}", "[0-9]{1,9}")
                     for v in ("62367", "62367a", "x62367", "62367\n", "0001F", "A1234", "A12345", "2024-02-01",
                               "2024-02-01\n", "12", "+12", "")]


def _full_matches(backend) -> list[bool]:
    rows = backend.fetch(" UNION ALL ".join(
        f"SELECT {i} AS i, {backend.regex_full(backend.dialect.literal(v), p)} AS ok"
        for i, (p, v) in enumerate(_FULL_MATCH_CASES)))
    return [bool(ok) for _, ok in sorted(rows)]


def test_duckdb_full_match_is_pythons_fullmatch():
    import re

    assert _full_matches(DuckDBBackend()) == [bool(re.fullmatch(p, v)) for p, v in _FULL_MATCH_CASES]


@pytest.mark.slow
@pytest.mark.xdist_group("spark")  # one Spark JVM per test run, on one worker
def test_spark_full_match_is_pythons_fullmatch():
    """Regression (found when CI first ran the Spark edge-row test): Spark's
    '^a|b|c$' anchored only the first and last alternatives, so '62367a' was
    a well-formed code on Spark and not on DuckDB; Java's '$' also matched
    before a final line break."""
    import re

    from spark_support import spark_session
    from cptkg.engines.sql.spark import SparkBackend

    assert _full_matches(SparkBackend(spark_session())) == [bool(re.fullmatch(p, v)) for p, v in _FULL_MATCH_CASES]


def test_a_knowledge_base_negation_on_the_first_relation_filters_it_before_any_join():
    # "a line whose code is unknown, with its role": the unknown-code test reads the first relation only, so it
    # runs on the lines before the join of their roles; a negation of a claim relation stays after the joins,
    # and so does one that reads the second relation
    arity = {"line": 2, "role": 2, "known": 1, "waived": 1}
    types = {"line": ["int", "text"], "role": ["int", "text"], "known": ["text"], "waived": ["int"]}
    facts = {"line": {("a", 1, "X"), ("a", 2, "K"), ("b", 1, "K")}, "role": {("a", 1, "rn"), ("a", 2, "md"), ("b", 1, "K")},
             "waived": {("a", 2)}, "known": {("K",)}}
    for text, first, later, want in [
            ("odd(L, C, R) :- line(L, C), role(L, R), not known(C), not waived(L).", "cp_known", "cp_waived",
             {("a", 1, "X", "rn")}),
            ("odd(L, C, R) :- line(L, C), role(L, R), not known(R).", None, "cp_known",
             {("a", 1, "X", "rn"), ("a", 2, "K", "md")})]:
        cp = sc.compile_program(build_program(parse_text(text, "t.dl"), arity), types, {"line", "role", "waived"})
        frm, rest = cp.rule_body_select(0).split(" CROSS JOIN ", 1)
        if first:
            assert f"NOT EXISTS (SELECT 1 FROM {first}" in frm and first not in rest
        assert f"NOT EXISTS (SELECT 1 FROM {later}" in rest and later not in frm
        be = DuckDBBackend()
        sc.load_inputs(cp, be, facts, ["a", "b"])
        sc.run(cp, be)
        got, _ = sc.read_model(cp, be, ["odd"])
        assert got["odd"] == want


def test_only_a_rule_whose_fixed_order_needs_a_cross_product_is_left_to_the_engines_join_order():
    text = ("fitted(L, Dev) :- line(L, C), billed(E, C2, D2), implants(C2, Dev), L != E.\n"
            "plain(L, Dev) :- line(L, C), implants(C, Dev).")
    prog = build_program(parse_text(text, "t.dl"), {"line": 2, "billed": 3, "implants": 2})
    types = {"line": ["int", "text"], "billed": ["int", "text", "text"], "implants": ["text", "text"]}
    cp = sc.compile_program(prog, types, {"line", "billed"}, keep_bindings={"fitted", "plain"})
    assert cp.free_order() == {"cp_fitted", "cr_0"}

    class Recorder:
        def __init__(self):
            self.sql: list[str] = []

        def execute(self, sql, *args):
            self.sql.append(sql)
            return self

        def fetchone(self):  # the rows a CREATE TABLE AS made, as DuckDB reports them
            return (1,)

    be = DuckDBBackend(conn=Recorder())
    be.free_order = cp.free_order()
    be.materialize("cp_fitted", "SELECT 1 AS c0")
    be.materialize("cp_plain", "SELECT 1 AS c0")
    told = [s for s in be.conn.sql if "disabled_optimizers" in s or "CREATE" in s]
    assert told == ["CREATE OR REPLACE TEMP TABLE cp_fitted AS SELECT 1 AS c0",
                    "SET disabled_optimizers = 'join_order'", "CREATE OR REPLACE TEMP TABLE cp_plain AS SELECT 1 AS c0",
                    "RESET disabled_optimizers"]
    # and the engine derives the same either way
    facts = {"line": {("a", 1, "X"), ("a", 2, "P")}, "billed": {("a", 1, "X", "d1"), ("a", 2, "P", "d1")},
             "implants": {("P", "pump")}}
    got = []
    for follow in (True, False):
        real = DuckDBBackend(follow_join_order=follow)
        sc.load_inputs(cp, real, facts, ["a"])
        sc.run(cp, real)
        got.append(sc.read_model(cp, real, ["fitted", "plain"])[0])
    assert got[0] == got[1] and got[0]["fitted"] == {("a", 1, "pump")} and got[0]["plain"] == {("a", 2, "pump")}
