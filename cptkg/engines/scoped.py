"""Many requests in one evaluation: the program rewritten with a request key.

A claim's verdicts depend on its own lines and history only. To judge many
claims in one engine call, every predicate that depends on request input
(the input predicates and everything derived from them) gets a first
argument, the request's key, and every rule deriving one joins its request
literals on that key. The rules that no request can change keep their shape
and are shared. For each key the rewritten program derives exactly what the
original derives from that request's facts alone: every rewritten rule
instance reads the facts of one request (its literals share the key, and a
negated literal asks within that request), by induction over the strata.

A rule deriving a request predicate whose request literals are all negated
has nothing to bind the key; it is given ``cptkg_request(Key)``, a fact per
request, as does a ground fact of a request predicate. Rule indices are
kept (added rules go after the original ones), so the per-rule bindings and
the precomputed static part of the original program serve the rewritten one.
"""
from __future__ import annotations

from dataclasses import dataclass

from cptkg.engines.base import Facts, Model, Static
from cptkg.rules.ast import Atom, Const, Literal, Rule, Var
from cptkg.rules.program import Program


@dataclass
class ScopedProgram:
    program: Program
    original: Program
    dynamic: set[str]  # predicates that carry the request key
    key_var: dict[int, str]  # rule index -> name of its key variable
    request_pred: str


def _fresh(base: str, taken: set[str]) -> str:
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name


def scope_program(program: Program, input_preds: set[str]) -> ScopedProgram:
    """``program`` with a request key on every predicate that depends on ``input_preds``."""
    static = program.static_rules(input_preds)
    dynamic = set(input_preds) | {r.head.pred for k, r in enumerate(program.rules) if k not in static}
    all_preds = set(program.edb) | set(program.idb) | program.used_predicates()
    request = _fresh("cptkg_request", all_preds)
    rules: list[Rule] = []
    key_var: dict[int, str] = {}
    for k, rule in enumerate(program.rules):
        if k in static:
            rules.append(rule)
            continue
        key = _fresh("Request", {v.name for v in rule.variables()} | {
            v.name for b in rule.body for v in b.vars()})
        kv = Var(key)
        key_var[k] = key
        body = []
        bound = False
        for item in rule.body:
            if isinstance(item, Literal) and item.atom.pred in dynamic:
                body.append(Literal(Atom(item.atom.pred, (kv,) + item.atom.args), item.negated))
                bound = bound or not item.negated
            else:
                body.append(item)
        if not bound:
            body.insert(0, Literal(Atom(request, (kv,))))
        head = Atom(rule.head.pred, (kv,) + rule.head.args)
        rules.append(Rule(head, tuple(body), rule.meta, rule.file, rule.line))
    facts = []
    for f in program.facts:
        if f.head.pred in dynamic:
            kv = Var("Request")
            rules.append(Rule(Atom(f.head.pred, (kv,) + f.head.args), (Literal(Atom(request, (kv,))),),
                              f.meta, f.file, f.line))
        else:
            facts.append(f)
    edb = {p: (n + 1 if p in dynamic else n) for p, n in program.edb.items()}
    edb[request] = 1
    idb = {p: (n + 1 if p in dynamic else n) for p, n in program.idb.items()}
    scoped = Program(rules=rules, facts=facts, edb=edb, idb=idb, strata=program.strata,
                     recursive=set(program.recursive))
    scoped.strata_sccs = program.strata_sccs
    return ScopedProgram(scoped, program, dynamic, key_var, request)


def scoped_facts(sp: ScopedProgram, shared: Facts, requests: list[Facts]) -> Facts:
    """The shared (KB) facts plus each request's facts keyed by its position."""
    out: Facts = {p: rows for p, rows in shared.items() if p not in sp.dynamic}
    for i, req in enumerate(requests):
        for p, rows in req.items():
            if p in sp.dynamic:
                bucket = out.setdefault(p, set())
                if bucket is shared.get(p):
                    bucket = out[p] = set()
                bucket.update((i,) + tuple(r) for r in rows)
            else:
                out.setdefault(p, set()).update(rows)
    out[sp.request_pred] = {(i,) for i in range(len(requests))}
    return out


def split_model(sp: ScopedProgram, model: Model, n: int, static: Static | None) -> list[Model]:
    """One model per request, shaped as the original program's evaluation returns it."""
    facts: list[Facts] = [{} for _ in range(n)]
    for p, rows in model.facts.items():
        if p in sp.dynamic:
            for m in facts:
                m[p] = set()
            for row in rows:
                facts[row[0]][p].add(tuple(row[1:]))
        else:
            for m in facts:
                m[p] = set(rows)
    bindings: list[dict[int, list[dict]]] = [{} for _ in range(n)]
    for k, bs in model.bindings.items():
        if k >= len(sp.original.rules):
            continue
        key = sp.key_var.get(k)
        if key is None:  # a static rule: the same bindings for every request
            for b in bindings:
                b[k] = bs
            continue
        for b in bindings:
            b[k] = []
        for row in bs:
            row = dict(row)
            i = row.pop(key)
            bindings[i][k].append(row)
        for b in bindings:  # the order one evaluation per request gives
            b[k].sort(key=lambda d: repr(tuple(d.values())))
    return [Model(f, b) for f, b in zip(facts, bindings)]
