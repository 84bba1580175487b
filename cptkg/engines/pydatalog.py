"""Run a checked Program on pyDatalog, through its Python API only.

Each evaluation gets a fresh pyDatalog ``Logic()`` in a process of its own
(forked, so the loaded KB and program are shared copy-on-write, not sent):
two Streamlit sessions or two claims never see each other's facts, and an
evaluation that runs past its time limit is killed. A thread cannot give
that guarantee: pyDatalog's compiled engine never hands the GIL back, so a
waiting thread does not wake until the evaluation ends (docs/conformance.md,
"Findings"). Measured: no cost per claim over the thread path (76–84 ms per
claim both ways, 40 claims). Where fork is unavailable the thread path runs.

Every rule ``h(X) :- body`` is installed as ``rule_k(all vars) <= body`` and
``h(X) <= rule_k(all vars)``, so the caller gets, for each rule, every
binding of every variable: the reasons and proofs are read from those.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable

from pyDatalog import Logic, pyDatalog, pyParser

from cptkg.engines.base import Engine, EvaluationError, EvaluationMemory, EvaluationTimeout, Facts, Model, Static
from cptkg.rules.ast import Comparison, Const, Literal, Var
from cptkg.rules.program import Program


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


def _install(program: Program, facts: Facts, static: Static | None = None) -> list[tuple[int, str, list[str]]]:
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
    if static is not None:
        facts = dict(facts)
        facts.update(static.facts)
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
        if static is not None and k in static.rules:
            continue  # its facts were asserted above
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
        head_vars = [vmap[n] for n in names] or [1]  # pyDatalog needs an argument
        head = T(_pname(rule.head.pred))(*([term(a) for a in rule.head.args] or [1]))
        T(rname)(*head_vars) <= body
        if program._scc_of(rule.head.pred):
            # A recursive rule derives its head from the body directly; its
            # rule_k only mirrors the body for the bindings. pyDatalog does not
            # terminate on a cycle of three derived predicates over a cyclic
            # relation (docs/conformance.md), and routing the head through
            # rule_k would lengthen every recursive cycle by one.
            head <= body
        else:
            head <= T(rname)(*head_vars)
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


def _evaluate(program: Program, facts: Facts, want: Iterable[str] | None, rule_bindings, static: Static | None = None) -> Model:
    Logic()  # a fresh, thread-local database
    aux = _install(program, facts, static)
    preds = set(want) if want is not None else set(program.idb)
    out: Facts = {}
    for p in preds:
        if static is not None and p in static.facts:
            out[p] = set(static.facts[p])
        elif p in program.idb:
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
    if static is not None and rule_bindings:
        for k, bs in static.bindings.items():
            if rule_bindings is True or program.rules[k].head.pred in rule_bindings:
                bindings[k] = bs
    return Model(out, bindings)


def _in_child(program, facts, want, rule_bindings, static) -> Model:
    return _evaluate(program, facts, want, rule_bindings, static)


def evaluate(program: Program, facts: Facts, want: Iterable[str] | None = None,
             rule_bindings: bool | set[str] = True, timeout: float = 30.0, static: Static | None = None) -> Model:
    """Evaluate ``program`` over ``facts`` in a forked child killed at ``timeout`` (:mod:`cptkg.bounded`).

    Same arguments and result as :func:`evaluate_in_thread`, which it falls
    back to where the platform cannot fork.
    """
    from cptkg import bounded
    from cptkg.limits import EVALUATION_MEMORY_BYTES

    if not bounded.can_fork():
        return evaluate_in_thread(program, facts, want, rule_bindings, timeout, static)
    want = list(want) if want is not None else None
    try:
        return bounded.run_bounded(_in_child, (program, facts, want, rule_bindings, static), timeout=timeout,
                                   memory=EVALUATION_MEMORY_BYTES)
    except bounded.StepTimeout:
        raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s") from None
    except bounded.StepCrashed as e:
        raise EvaluationError(f"rule evaluation {str(e).removeprefix('stopped: ')}") from None
    except bounded.StepMemory:
        raise EvaluationMemory(f"rule evaluation needed more than {EVALUATION_MEMORY_BYTES // 2 ** 20:,} MiB "
                               f"of memory and was stopped") from None
    except EvaluationError:
        raise
    except Exception as e:  # noqa: BLE001 - pyDatalog's own failure, in one line
        raise EvaluationError(f"rule evaluation failed: {type(e).__name__}: {e}") from None


def evaluate_in_thread(program: Program, facts: Facts, want: Iterable[str] | None = None,
                       rule_bindings: bool | set[str] = True, timeout: float = 30.0, static: Static | None = None) -> Model:
    """Evaluate ``program`` over ``facts`` in a worker thread's own pyDatalog database.

    The time limit holds only if the evaluation yields the GIL, which
    pyDatalog's compiled engine does not; :func:`evaluate` is the default.
    ``rule_bindings`` is True for every rule's bindings, a set of head
    predicates for the rules deriving those only, or False for none.
    ``static`` (from :func:`precompute`) supplies the results of the rules
    that do not depend on the request, computed once.
    """
    box: queue.Queue = queue.Queue(maxsize=1)

    def work():
        try:
            box.put(("ok", _evaluate(program, facts, want, rule_bindings, static)))
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


class PyDatalogEngine(Engine):
    """pyDatalog, the declared engine and the reference the others are proven against."""

    name = "pydatalog"

    def evaluate(self, program: Program, facts: Facts, want: Iterable[str] | None = None,
                 rule_bindings: bool | set[str] = True, timeout: float = 30.0,
                 static: Static | None = None) -> Model:
        return evaluate(program, facts, want, rule_bindings, timeout, static)


ENGINE = PyDatalogEngine()
