"""The conformance adapter translates, and the engine fix it led to holds.

Fast: these need neither the suite's YAML nor the slow run.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from devtools.conformance import (CptkgEvaluator, OutsideSubset, SafetyViolationError, dialect_for_source,
                               translate, translate_rule)
from cptkg.rules.program import RuleLoadError


def prog(rules, facts=None):
    return SimpleNamespace(rules=rules, facts=facts or {})


def model(ev, p):
    m = ev.evaluate(p)
    return m.facts if hasattr(m, "facts") else m


def test_souffle_identifiers_are_variables_and_predicates_keep_their_case():
    clauses, arity, body = translate_rule("T (x1, x3) :- R(x1, a, x2), R(x2, a, x3).", ident_vars=True)
    assert clauses == ["p_T(V_x1, V_x3) :- p_R(V_x1, V_a, V_x2), p_R(V_x2, V_a, V_x3)."]
    assert arity == {"R": 3, "T": 2} and body == {"R"}


def test_textbook_lowercase_identifiers_are_constants_and_constant_arithmetic_folds():
    clauses, _, _ = translate_rule("result(1-2-3) :- seed(x).", ident_vars=False)
    assert clauses == ['p_result(-4) :- p_seed("x").']


def test_arithmetic_over_variables_is_outside_the_subset():
    with pytest.raises(OutsideSubset):
        translate_rule("A(a, b, a+b) :- R(a,b).", ident_vars=True)


def test_nemo_existential_negation_becomes_an_auxiliary_predicate():
    clauses, _, _ = translate_rule("px(X, Y, Z) :- main(X, Y, Z), not s3(X, P, P).", ident_vars=False,
                                   existential_negation=True, aux_prefix="aux")
    assert clauses == ["p_px(V_X, V_Y, V_Z) :- p_main(V_X, V_Y, V_Z), not aux_0(V_X).",
                       "aux_0(V_X) :- p_s3(V_X, V_P, V_P)."]
    ev = CptkgEvaluator("nemo", timeout=30, isolate=False)
    out = model(ev, prog(["px(X) :- main(X), not s3(X, P, P)."],
                         {"main": [(1,), (2,)], "s3": [(1, 7, 7), (2, 7, 8)]}))
    assert out["px"] == {(2,)}


def test_textbook_reading_keeps_negation_only_variables_unsafe():
    ev = CptkgEvaluator("textbook", timeout=30, isolate=False)
    with pytest.raises(SafetyViolationError):
        ev.evaluate(prog(["ok(X) :- person(X), not banned(X, Y)."], {"person": [("alice",)]}))


@pytest.mark.parametrize("rules,facts,code", [
    (["Ok() :- not Ok()"], {}, "cyclic_negation"),
    (["p(X) :- q(Y)."], {}, "unbound_variable"),
    (["Ok(_) :- Ok(_)"], {}, "safety_violations"),
    ([], {"Fib": [(0, 0, 2), (1, 1)]}, "arity_mismatch"),
])
def test_our_load_errors_carry_the_suites_error_codes(rules, facts, code):
    ev = CptkgEvaluator("identifiers", timeout=30, isolate=False)
    with pytest.raises(RuleLoadError) as e:
        ev.evaluate(prog(rules, facts))
    assert e.value.code == code


def test_inputs_are_part_of_the_model_and_mixed_predicates_are_parsed_as_clauses():
    tr = translate(prog(["orbits(X,Y) :- orbits(X,Z), orbits(Z,Y)."], {"orbits": [("a", "b"), ("b", "c")]}),
                   ident_vars=True)
    assert 'p_orbits("a", "b").' in tr.text and tr.edb == {}
    ev = CptkgEvaluator("identifiers", timeout=30)
    assert model(ev, prog(["orbits(X,Y) :- orbits(X,Z), orbits(Z,Y)."],
                          {"orbits": [("a", "b"), ("b", "c")]}))["orbits"] == {("a", "b"), ("b", "c"), ("a", "c")}


def test_dialect_follows_the_case_source():
    assert dialect_for_source("souffle/example/tree") == "identifiers"
    assert dialect_for_source("crepe/tests/ui/x.rs") == "identifiers"
    assert dialect_for_source("nemo/testcases/basic/negation.rls") == "nemo"
    assert dialect_for_source("manual/scaffold") == "textbook"


def test_isolated_evaluation_is_killed_at_its_time_limit():
    from cptkg.engines.pydatalog import EvaluationTimeout

    ev = CptkgEvaluator("textbook", timeout=1.5)
    edges = [(i, i + 1) for i in range(400)]
    with pytest.raises(EvaluationTimeout):
        ev.evaluate(prog(["path(X, Y) :- edge(X, Y).", "path(X, Y) :- path(X, Z), edge(Z, Y).",
                          "far(X, Y) :- path(X, Z), path(Z, Y)."], {"edge": edges}))


def test_mutual_recursion_through_three_predicates_over_a_self_loop_terminates():
    """Regression: the backend's rule_k indirection made this cycle three
    predicates long, and pyDatalog never returned (docs/conformance.md).
    Run in a child process: a hang cannot be interrupted in-process."""
    code = textwrap.dedent("""
        from cptkg.rules.parser import parse_text
        from cptkg.rules.program import build_program
        from cptkg.engines.pydatalog import evaluate
        prog = build_program(parse_text('''
            live_in(X, V) :- use(X, V).
            live_in(X, V) :- live_out(X, V), not def(X, V).
            live_out(X, V) :- edge(X, Y), live_in(Y, V).
        '''), {"use": 2, "def": 2, "edge": 2})
        m = evaluate(prog, {"use": {("C", "x")}, "def": {("Z", "z")}, "edge": {("C", "C"), ("B", "C")}})
        print(sorted(m.facts["live_in"]))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-1000:]
    assert p.stdout.strip() == "[('B', 'x'), ('C', 'x')]"


# ---------------------------------------------------------------- killable evaluation
def _closure_program():
    from cptkg.rules.parser import parse_text
    from cptkg.rules.program import build_program

    return build_program(parse_text("path(X, Y) :- edge(X, Y).\npath(X, Y) :- path(X, Z), edge(Z, Y).\n"
                                    "far(X, Y) :- path(X, Z), path(Z, Y)."), {"edge": 2})


def test_forked_evaluation_gives_the_same_model_as_the_thread_path():
    from cptkg.engines import pydatalog as pydatalog_engine

    prog = _closure_program()
    facts = {"edge": {(1, 2), (2, 3), (3, 1), (3, 4)}}
    a = pydatalog_engine.evaluate_in_thread(prog, facts)
    b = pydatalog_engine.evaluate(prog, facts)
    assert a.facts == b.facts and a.bindings == b.bindings


def test_evaluation_stops_at_its_time_limit():
    import time

    from cptkg.engines.pydatalog import EvaluationTimeout, evaluate

    t = time.perf_counter()
    with pytest.raises(EvaluationTimeout):
        evaluate(_closure_program(), {"edge": {(i, i + 1) for i in range(600)}}, timeout=1.0)
    assert time.perf_counter() - t < 10
