"""Run a checked Program on pyDatalog, through its Python API only.

Each evaluation gets a fresh pyDatalog ``Logic()`` in a worker thread of its
own: pyDatalog keeps its database per thread, so two Streamlit sessions (or
two claims) never see each other's facts, and a runaway evaluation can be
abandoned after a time limit instead of hanging the caller.

Every rule ``h(X) :- body`` is installed as ``rule_k(all vars) <= body`` and
``h(X) <= rule_k(all vars)``, so the caller gets, for each rule, every
binding of every variable: the reasons and proofs are read from those.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Iterable

from pyDatalog import Logic, pyDatalog, pyParser

from .ast import Comparison, Const, Literal, Rule, Var
from .program import Program


class EvaluationTimeout(RuntimeError):
    pass


class EvaluationError(RuntimeError):
    pass


Facts = dict[str, set[tuple]]


@dataclass
class Model:
    """What an evaluation derived: tuples per predicate, bindings per rule."""

    facts: Facts
    bindings: dict[int, list[dict[str, object]]] = field(default_factory=dict)

    def holds(self, pred: str, *args) -> bool:
        return tuple(args) in self.facts.get(pred, set())


_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _pname(pred: str) -> str:
    # A prefix keeps our names apart from pyDatalog's own and from variables.
    return "p_" + pred


def _install(program: Program, facts: Facts) -> list[tuple[int, str, list[str]]]:
    T = pyParser.Term
    declared = set(program.edb) | set(program.idb)
    for pred in declared:
        n = program.edb.get(pred, program.idb.get(pred))
        # Declare every predicate: pyDatalog raises on a negated predicate
        # that has neither facts nor rules.
        dummy = tuple(["__cptkg_declare__"] * max(n, 1))
        pyDatalog.assert_fact(_pname(pred), *dummy)
        pyDatalog.retract_fact(_pname(pred), *dummy)
    used = program.used_predicates()
    for pred, rows in facts.items():
        if pred not in used:
            continue  # asserting unused facts only costs time
        name = _pname(pred)
        for row in rows:
            pyDatalog.assert_fact(name, *(row or (1,)))
    for f in program.facts:
        pyDatalog.assert_fact(_pname(f.head.pred), *([a.value for a in f.head.args] or [1]))
    aux: list[tuple[int, str, list[str]]] = []
    for k, rule in enumerate(program.rules):
        names = [v.name for v in rule.variables()]
        vmap: dict[str, object] = {}

        def term(t):
            if isinstance(t, Const):
                return t.value
            if t.name not in vmap:
                vmap[t.name] = T(f"V{len(vmap)}")
            return vmap[t.name]

        # Fix variable numbering by the rule's variable order first.
        for n in names:
            term(Var(n))
        body = None
        for item in program.ordered_body(rule):
            if isinstance(item, Literal):
                lit = T(_pname(item.atom.pred))(*([term(a) for a in item.atom.args] or [1]))
                if item.negated:
                    lit = ~lit
            else:
                lit = _comparison(item, term)
            body = lit if body is None else body & lit
        rname = f"rule_{k}"
        head_vars = [vmap[n] for n in names]
        if len(head_vars) == 0:
            # pyDatalog needs at least one argument; a constant stands in.
            T(rname)(1) <= body
            T(_pname(rule.head.pred))(*([term(a) for a in rule.head.args] or [1])) <= T(rname)(1)
        else:
            T(rname)(*head_vars) <= body
            T(_pname(rule.head.pred))(*([term(a) for a in rule.head.args] or [1])) <= T(rname)(*head_vars)
        aux.append((k, rname, names))
    return aux


def _comparison(c: Comparison, term):
    left, right = term(c.left), term(c.right)
    if isinstance(c.left, Const) and isinstance(c.right, Const):
        raise EvaluationError(f"comparison of two constants: {c}")
    if isinstance(c.left, Const):
        # pyDatalog wants the variable on the left
        flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
        left, right, op = right, left, flip[c.op]
    else:
        op = c.op
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _ask(name: str, arity: int) -> set[tuple]:
    T = pyParser.Term
    arity = max(arity, 1)
    res = T(name)(*[T(f"Q{i}") for i in range(arity)]).ask()
    return set(res or [])


def _evaluate(program: Program, facts: Facts, want: Iterable[str] | None, rule_bindings) -> Model:
    Logic()  # a fresh, thread-local database
    aux = _install(program, facts)
    preds = set(want) if want is not None else set(program.idb)
    out: Facts = {}
    for p in preds:
        if p in program.idb:
            rows = _ask(_pname(p), program.idb[p])
            out[p] = rows if program.idb[p] else ({()} if rows else set())
    bindings: dict[int, list[dict]] = {}
    if rule_bindings:
        for k, rname, names in aux:
            if rule_bindings is not True and program.rules[k].head.pred not in rule_bindings:
                continue
            rows = _ask(rname, len(names))
            if not names:
                bindings[k] = [{}] if rows else []
            else:
                bindings[k] = [dict(zip(names, row)) for row in sorted(rows, key=repr)]
    return Model(out, bindings)


def evaluate(program: Program, facts: Facts, want: Iterable[str] | None = None,
             rule_bindings: bool | set[str] = True, timeout: float = 30.0) -> Model:
    """Evaluate ``program`` over ``facts`` in an isolated pyDatalog database.

    ``rule_bindings`` is True for every rule's bindings, a set of head
    predicates for the rules deriving those only, or False for none.
    """
    box: queue.Queue = queue.Queue(maxsize=1)

    def work():
        try:
            box.put(("ok", _evaluate(program, facts, want, rule_bindings)))
        except BaseException as e:  # reported to the caller's thread
            box.put(("err", e))

    t = threading.Thread(target=work, name="cptkg-eval", daemon=True)
    t.start()
    try:
        kind, value = box.get(timeout=timeout)
    except queue.Empty:
        raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s") from None
    if kind == "err":
        raise EvaluationError(f"rule evaluation failed: {value}") from value
    return value
