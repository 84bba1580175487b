"""Run a checked Program on clingo (Potassco's grounder and solver), in-process.

Stratified Datalog is a subset of what clingo grounds: for a stratified
program the grounder alone derives the one answer set, so an evaluation is
one ``ground`` and one trivial ``solve``.

The clingo program is rendered from the rule AST (:mod:`cptkg.rules.ast`),
never from rule or claim text: predicates become ``p<N>`` by their index in a
table, variables ``V<N>``, and every constant a clingo string (escaped) or a
number, so no input value can change the program's shape. Every rule
``h(X) :- body`` is installed as ``r<k>(all vars) :- body`` and
``h(X) :- r<k>(all vars)``, as the pyDatalog engine does, so the caller gets
each rule's bindings for proofs, why-not and fixes.

Isolation and a time limit that stops the work: the program and facts are
rendered to text in the caller's process (where the per-program caches
live), then grounded and solved in a forked child (:mod:`cptkg.bounded`)
with its own ``clingo.Control``, an address-space cap and a deadline; at the
limit the child is killed and its memory returned. A thread cannot do this:
clingo cannot interrupt the grounding of one stratum, so a claim with 10,000
history entries went on grounding after its time-out, and the process ended
in a segmentation fault at exit. Measured cost of the fork: see
``bench/evaluation_fork.py``. Where fork is unavailable (or
``CPTKG_EVALUATION=thread``), the old thread path runs, with that gap.
"""
from __future__ import annotations

import queue
import re
import threading
import time
from typing import Iterable

from cptkg.engines.base import Engine, EvaluationError, EvaluationMemory, EvaluationTimeout, Facts, Model, Static
from cptkg.rules.ast import Comparison, Const, Literal, Var
from cptkg.rules.program import Program

_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1
_CMP = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


#: clingo's text reader stops at NUL and its strings are UTF-8, so a text holding
#: NUL or an unpaired surrogate (both can come in through claim JSON) is passed
#: as this mark and its UTF-8 bytes in hex; so is a text that starts with the mark,
#: which keeps the mapping one-to-one (equal texts stay equal, different ones differ)
_MARK = "\ue000cptkg-hex:"
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def _encode(value: str) -> str:
    if _UNSAFE.search(value) or value.startswith(_MARK):
        return _MARK + value.encode("utf-8", "surrogatepass").hex()
    return value


def _decode(value: str) -> str:
    if value.startswith(_MARK):
        return bytes.fromhex(value[len(_MARK):]).decode("utf-8", "surrogatepass")
    return value


def const(value) -> str:
    """A Python value as a clingo term: a number, or an escaped string."""
    if isinstance(value, bool):
        raise EvaluationError(f"value {value!r} is neither text nor a whole number")
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise EvaluationError(f"number {value} is outside the range clingo can hold (32-bit)")
        return str(value)
    if isinstance(value, str):
        value = _encode(value)
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    raise EvaluationError(f"value {value!r} is neither text nor a whole number")


class _Names:
    """Predicate names of the rendered program: ``p<N>`` per source predicate."""

    def __init__(self):
        self.to_clingo: dict[str, str] = {}
        self.from_clingo: dict[str, str] = {}

    def __call__(self, pred: str) -> str:
        n = self.to_clingo.get(pred)
        if n is None:
            n = f"p{len(self.to_clingo)}"
            self.to_clingo[pred] = n
            self.from_clingo[n] = pred
        return n


def _atom(name: str, args: list[str]) -> str:
    return f"{name}({','.join(args)})" if args else name


def _render_rules(program: Program, names: _Names, skip: set[int], bind: set[int]) -> dict[str, list[str]]:
    """The rules as clingo text, grouped by the head's stratum (its SCC index)."""
    stratum_of = {p: i for i, s in enumerate(program.strata) for p in s}
    parts: dict[str, list[str]] = {}
    for k, rule in enumerate(program.rules):
        if k in skip:
            continue
        vmap: dict[str, str] = {}

        def term(t, vmap=vmap):
            if isinstance(t, Const):
                return const(t.value)
            if t.anonymous:
                return "_"
            v = vmap.get(t.name)
            if v is None:
                v = vmap[t.name] = f"V{len(vmap)}"
            return v

        vars_ = [term(v) for v in rule.variables()]
        body = []
        for item in rule.body:
            if isinstance(item, Literal):
                a = _atom(names(item.atom.pred), [term(x) for x in item.atom.args])
                body.append(("not " + a) if item.negated else a)
            elif isinstance(item, Comparison):
                body.append(f"{term(item.left)}{_CMP[item.op]}{term(item.right)}")
            else:  # pragma: no cover - the AST has only these two
                raise EvaluationError(f"unsupported body item {item!r}")
        head = _atom(names(rule.head.pred), [term(a) for a in rule.head.args])
        part = f"s{stratum_of.get(rule.head.pred, 0)}"
        out = parts.setdefault(part, [])
        if k in bind:
            aux = _atom(f"r{k}", vars_)
            out.append(f"{aux}:-{','.join(body)}.")
            out.append(f"{head}:-{aux}.")
        else:
            out.append(f"{head}:-{','.join(body)}.")
    for f in program.facts:
        if f.head.pred in stratum_of:
            parts.setdefault(f"s{stratum_of[f.head.pred]}", []).append(
                _atom(names(f.head.pred), [const(a.value) for a in f.head.args]) + ".")
    return parts


def _render_facts(facts: Facts, program: Program, names: _Names, skip: set[str], used: set[str] | None = None,
                  memo: dict | None = None, row_filters: dict | None = None) -> str:
    """The facts of the predicates ``used`` as clingo text.

    ``memo`` (pred -> (the row set, its text)) keeps the text of a row set
    that comes back unchanged: the knowledge base's facts are the same set
    objects at every evaluation, only a request's are new.
    """
    used = program.used_predicates() if used is None else used
    out = []
    for pred, rows in facts.items():
        if pred not in used or pred in skip:
            continue
        if memo is not None:
            got = memo.get(pred)
            if got is not None and got[0] is rows and got[1] == len(rows):
                if got[2]:
                    out.append(got[2])
                continue
        n = names(pred)
        pats = row_filters.get(pred) if row_filters else None
        kept = rows if pats is None else [row for row in rows if any(
            len(pat) == len(row) and all(v is None or v == x for v, x in zip(pat, row)) for pat in pats)]
        text = "\n".join(f"{n}({','.join(map(const, row))})." if row else f"{n}." for row in kept)
        if memo is not None and len(rows) > 8:  # request facts are few and new each time
            memo[pred] = (rows, len(rows), text)
        if text:
            out.append(text)
    for f in program.facts:
        if f.head.pred not in program.idb:  # the others go with their stratum's rules
            out.append(_atom(names(f.head.pred), [const(a.value) for a in f.head.args]) + ".")
    return "\n".join(out)


#: strata grounded per call: the deadline is checked between calls, and each call costs
#: about 0.1 ms (grounding 34 strata one by one took 15.7 ms a claim, all at once 12.4 ms)
GROUND_CHUNKS = 4


class _Prepared:
    """What an evaluation of one program renders the same way every time: names, rule text, shows."""

    def __init__(self, program: Program, skip: set[int], bind: set[int], show_preds: tuple):
        self.names = names = _Names()
        for p in program.edb:
            names(p)
        for p in program.idb:
            names(p)
        parts = _render_rules(program, names, skip, bind)
        order = [f"s{i}" for i in range(len(program.strata)) if f"s{i}" in parts]
        size = max(1, -(-len(order) // GROUND_CHUNKS))
        self.chunks = [(f"g{i}", "\n".join(line for name in order[i:i + size] for line in parts[name]))
                       for i in range(0, len(order), size)]
        shows = [f"#show {names(p)}/{program.idb[p]}." for p in show_preds]
        shows += [f"#show r{k}/{len(program.rules[k].variables())}." for k in sorted(bind)]
        self.shows = "\n".join(shows)
        # facts only the precomputed (static) rules read are not needed: their results come as facts
        self.used = {r.head.pred for k, r in enumerate(program.rules) if k not in skip}
        for k, r in enumerate(program.rules):
            if k not in skip:
                self.used.update(b.atom.pred for b in r.body if isinstance(b, Literal))
        self.used |= {f.head.pred for f in program.facts}
        # a predicate every dynamic rule reads with a constant in some place needs only the
        # rows with one of those constants there (instance_of(R, "Route"): the routes, not every term)
        patterns: dict[str, set] = {}
        for k, r in enumerate(program.rules):
            if k in skip:
                continue
            for b in r.body:
                if isinstance(b, Literal):
                    patterns.setdefault(b.atom.pred, set()).add(
                        tuple(a.value if isinstance(a, Const) else None for a in b.atom.args))
        self.row_filters = {p: pats for p, pats in patterns.items()
                            if all(any(v is not None for v in pat) for pat in pats)
                            and p not in {r.head.pred for r in program.rules}}
        self.facts_memo: dict = {}


_prep_lock = threading.Lock()


def _prepared(program: Program, skip: set[int], bind: set[int], show_preds: tuple) -> _Prepared:
    """The :class:`_Prepared` of this program, static part and bindings asked for (kept on the program)."""
    key = (frozenset(skip), frozenset(bind), show_preds)
    with _prep_lock:
        cache = program.__dict__.setdefault("_clingo_prepared", {})
        got = cache.get(key)
        if got is None:
            got = cache[key] = _Prepared(program, skip, bind, show_preds)
        return got


def _value(sym):
    import clingo

    if sym.type == clingo.SymbolType.Number:
        return sym.number
    if sym.type == clingo.SymbolType.String:
        return _decode(sym.string)
    return str(sym)  # pragma: no cover - our programs make no function terms


class _Plan:
    """One evaluation rendered to clingo text in the caller's process (its caches live there)."""

    def __init__(self, program: Program, facts: Facts, want: Iterable[str] | None, rule_bindings,
                 static: Static | None):
        skip = set(static.rules) if static is not None else set()
        self.preds = preds = list(want) if want is not None else list(program.idb)
        if rule_bindings is True:
            bind = set(range(len(program.rules)))
        elif rule_bindings:
            bind = {k for k, r in enumerate(program.rules) if r.head.pred in rule_bindings}
        else:
            bind = set()
        self.bind = bind = bind - skip
        static_preds = set(static.facts) if static is not None else set()
        # Static facts replace the static rules; a predicate derived both by a
        # static and a dynamic rule cannot exist (the latter makes it dynamic).
        all_facts = dict(facts)
        if static is not None:
            all_facts.update(static.facts)
        self.prep = prep = _prepared(program, skip, bind,
                                     tuple(p for p in preds if p in program.idb and p not in static_preds))
        self.base = (_render_facts(all_facts, program, prep.names, set(), prep.used, prep.facts_memo,
                                   prep.row_filters) + "\n" + prep.shows)


def _ground_and_solve(plan: _Plan, deadline: float, cancelled: threading.Event | None = None,
                      holder: list | None = None) -> list[tuple[str, tuple]]:
    """Ground and solve a plan; the shown atoms as (clingo name, values)."""
    import clingo

    ctl = clingo.Control(["--warn=none", "--models=1"])
    if holder is not None:
        holder.append(ctl)
    ctl.add("base", [], plan.base)
    for name, text in plan.prep.chunks:
        ctl.add(name, [], text)
    ctl.ground([("base", [])])
    for name, _ in plan.prep.chunks:
        if (cancelled is not None and cancelled.is_set()) or time.monotonic() > deadline:
            raise EvaluationTimeout("")
        ctl.ground([(name, [])])
    if (cancelled is not None and cancelled.is_set()) or time.monotonic() > deadline:
        raise EvaluationTimeout("")
    symbols: list = []
    with ctl.solve(yield_=True) as handle:
        for m in handle:
            symbols = m.symbols(shown=True)
            break
        res = handle.get()
    if res.interrupted:
        raise EvaluationTimeout("")
    if not res.satisfiable:  # pragma: no cover - a stratified program always has its model
        raise EvaluationError("the rules have no model")
    return [(s.name, tuple(_value(a) for a in s.arguments)) for s in symbols]


def _model(program: Program, plan: _Plan, atoms: list[tuple[str, tuple]], rule_bindings,
           static: Static | None) -> Model:
    names = plan.prep.names
    out: Facts = {p: set() for p in plan.preds if p in program.idb}
    raw: dict[int, list[tuple]] = {k: [] for k in plan.bind}
    for name, args in atoms:
        if name[0] == "r":
            raw[int(name[1:])].append(args)
        else:
            out[names.from_clingo[name]].add(args)
    bindings: dict[int, list[dict]] = {}
    for k, rows in raw.items():
        vnames = [v.name for v in program.rules[k].variables()]
        if not vnames:
            bindings[k] = [{}] if rows else []
        else:
            bindings[k] = [dict(zip(vnames, row)) for row in sorted(rows, key=repr)]
    if static is not None:
        for p in plan.preds:
            if p in static.facts:
                out[p] = set(static.facts[p])
        if rule_bindings:
            for k, bs in static.bindings.items():
                if rule_bindings is True or program.rules[k].head.pred in rule_bindings:
                    bindings[k] = bs
    return Model(out, bindings)


def _in_child(plan: _Plan, deadline: float) -> list[tuple[str, tuple]]:
    return _ground_and_solve(plan, deadline)


def evaluate(program: Program, facts: Facts, want: Iterable[str] | None = None,
             rule_bindings: bool | set[str] = True, timeout: float = 30.0, static: Static | None = None) -> Model:
    """Evaluate ``program`` over ``facts`` within ``timeout`` s: rendered here, grounded in a child killed at the limit."""
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    want = list(want) if want is not None else None
    plan = _Plan(program, facts, want, rule_bindings, static)
    import clingo  # noqa: F401 - imported before the fork: a child never takes the import lock
    from cptkg import bounded
    from cptkg.limits import EVALUATION_MEMORY_BYTES

    if not bounded.can_fork():
        return _model(program, plan, _in_thread(plan, deadline, timeout), rule_bindings, static)
    try:
        atoms = bounded.run_bounded(_in_child, (plan, deadline), timeout=max(0.0, deadline - time.monotonic()),
                                    memory=EVALUATION_MEMORY_BYTES)
    except (bounded.StepTimeout, EvaluationTimeout):
        raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s") from None
    except bounded.StepCrashed as e:
        raise EvaluationError(f"rule evaluation {str(e).removeprefix('stopped: ')}") from None
    except bounded.StepMemory as e:
        raise EvaluationMemory(f"rule evaluation needed more than {EVALUATION_MEMORY_BYTES // 2 ** 20:,} MiB "
                               f"of memory and was stopped" + (f" ({e})" if "without" in str(e) else "")) from None
    except EvaluationError:
        raise
    except Exception as e:  # noqa: BLE001 - clingo's own failure, in one line
        raise EvaluationError(f"rule evaluation failed: {type(e).__name__}: {e}") from None
    return _model(program, plan, atoms, rule_bindings, static)


def _check_timeout(timeout) -> None:
    import math

    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout) or timeout <= 0 \
            or math.isinf(timeout):
        raise EvaluationError(f"the time limit must be a positive number of seconds, not {timeout!r}")


def _in_thread(plan: _Plan, deadline: float, timeout: float) -> list[tuple[str, tuple]]:
    """Where fork is unavailable: ground in a thread the caller stops waiting for at the limit.

    clingo cannot interrupt the grounding of one chunk, so the work may go on
    until that chunk ends; the process-based path above has no such gap.
    """
    box: queue.Queue = queue.Queue(maxsize=1)
    cancelled = threading.Event()
    holder: list = []

    def work():
        try:
            box.put(("ok", _ground_and_solve(plan, deadline, cancelled, holder)))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box.put(("err", e))

    t = threading.Thread(target=work, name="cptkg-clingo", daemon=True)
    t.start()
    try:
        kind, value = box.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        cancelled.set()
        for ctl in holder:
            ctl.interrupt()  # stops a running solve; grounding stops at the next chunk
        raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s") from None
    if kind == "err":
        if isinstance(value, EvaluationTimeout):
            raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s") from None
        if isinstance(value, EvaluationError):
            raise value
        raise EvaluationError(f"rule evaluation failed: {type(value).__name__}: {value}") from None
    return value


class ClingoEngine(Engine):
    """clingo, in-process: the default engine for every interactive answer."""

    name = "clingo"
    batches = True

    def evaluate(self, program: Program, facts: Facts, want: Iterable[str] | None = None,
                 rule_bindings: bool | set[str] = True, timeout: float = 30.0,
                 static: Static | None = None) -> Model:
        return evaluate(program, facts, want, rule_bindings, timeout, static)


ENGINE = ClingoEngine()
