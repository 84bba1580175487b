"""The rule layer refuses what pyDatalog would silently get wrong."""
import pytest

from cptkg.rules.parser import RuleSyntaxError, parse_text
from cptkg.rules.program import RuleLoadError, build_program
from cptkg.engines.pydatalog import evaluate


def prog(text, edb=None):
    return build_program(parse_text(text, "t.dl"), edb or {"e": 2, "x": 2, "y": 2, "n": 1})


def test_self_negation_is_refused_as_unstratified():
    with pytest.raises(RuleLoadError, match="not stratified"):
        prog("ok :- e(_, _), not ok.")


def test_negation_cycle_through_two_predicates_names_both():
    with pytest.raises(RuleLoadError, match=r"cycle through a, b"):
        prog("a(X) :- n(X), not b(X).\nb(X) :- n(X), not a(X).")


def test_unsafe_negation_is_refused_with_file_and_line():
    with pytest.raises(RuleLoadError, match=r"t.dl:2: unsafe negation"):
        prog("p(X) :- n(X).\nq(X) :- not n(X).")


def test_undeclared_predicate_names_file_and_line():
    with pytest.raises(RuleLoadError, match=r"t.dl:1: undeclared predicate 'nope'"):
        prog("p(X) :- n(X), nope(X).")


def test_arity_mismatch_with_the_ontology_is_refused():
    with pytest.raises(RuleLoadError, match="2 in the ontology"):
        prog("p(X) :- e(X).")


def test_rules_may_not_derive_input_predicates():
    with pytest.raises(RuleLoadError, match="input predicate"):
        prog("e(X, Y) :- x(X, Y).")


def test_syntax_error_names_file_and_line():
    with pytest.raises(RuleSyntaxError, match=r"t.dl:2"):
        parse_text("p(X) :- n(X).\np(X) :- n(X", "t.dl")


def test_negation_is_independent_of_literal_order():
    # pyDatalog alone answers [] for the negation-first order (caveat 2).
    p1 = prog("z(X, Y) :- not x(X, Y), y(X, Y).")
    p2 = prog("z(X, Y) :- y(X, Y), not x(X, Y).")
    facts = {"x": {(1, 2)}, "y": {(3, 4), (1, 2)}}
    assert evaluate(p1, facts).facts["z"] == evaluate(p2, facts).facts["z"] == {(3, 4)}


def test_right_recursive_closure_over_a_cycle_terminates():
    p = prog("r(X, Y) :- e(X, Y).\nr(X, Y) :- e(X, Z), r(Z, Y).")
    m = evaluate(p, {"e": {("a", "b"), ("b", "c"), ("c", "a")}}, timeout=20)
    assert len(m.facts["r"]) == 9


def test_rule_bindings_carry_every_variable():
    p = prog("s(X) :- e(X, Y), not n(Y).")
    m = evaluate(p, {"e": {("a", "b"), ("c", "d")}, "n": {("d",)}})
    assert m.bindings[0] == [{"X": "a", "Y": "b"}]


def test_message_fields_must_be_rule_variables():
    text = "% id: r\n% message: {Nope}\n% source: s\np(X) :- n(X)."
    with pytest.raises(RuleLoadError, match=r"uses \{Nope\}"):
        build_program(parse_text(text, "t.dl"), {"n": 1}, require_meta=True)


def test_unknown_source_is_refused():
    text = "% id: r\n% message: m\n% source: nowhere\np(X) :- n(X)."
    with pytest.raises(RuleLoadError, match="unknown source 'nowhere'"):
        build_program(parse_text(text, "t.dl"), {"n": 1}, require_meta=True, known_sources={"g1-1"})


def test_constants_that_look_like_python_are_just_text():
    p = prog('p(X) :- e(X, "__import__(\'os\').system(\'x\')").')
    m = evaluate(p, {"e": {("a", "__import__('os').system('x')")}})
    assert m.facts["p"] == {("a",)}


def test_concurrent_evaluations_do_not_see_each_others_facts():
    import concurrent.futures as cf

    p = prog("s(X) :- n(X).")

    def run(i):
        return evaluate(p, {"n": {(i,)}}).facts["s"]

    with cf.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(run, range(40)))
    assert results == [{(i,)} for i in range(40)]


def test_instead_must_name_a_variable_of_the_rule():
    """`% instead:` names the variable holding the code billed instead (ask codes-for reads it from the
    bindings): a name that is no variable of the rule is refused at load, naming it."""
    text = "% id: r\n% message: m\n% source: s\n% instead: C9\np(X) :- n(X)."
    with pytest.raises(RuleLoadError, match="'instead' names C9, which is not a variable of the rule"):
        build_program(parse_text(text, "t.dl"), {"n": 1}, require_meta=True)
    ok = "% id: r\n% message: m\n% source: s\n% instead: X\np(X) :- n(X)."
    build_program(parse_text(ok, "t.dl"), {"n": 1}, require_meta=True)


@pytest.mark.parametrize("text", ["reject(L) :- line(L)\n", "reject(L) :- line(L),\n"])
def test_a_rule_the_file_ends_inside_says_its_full_stop_may_be_missing(text):
    """An audit: a rule without its final '.' gave "unexpected ''"."""
    with pytest.raises(RuleSyntaxError, match=r"claim\.dl:1: .*the file ends in the middle of a rule: is the '\.' "
                                              r"at the end of the rule missing\?"):
        parse_text(text, "claim.dl")
