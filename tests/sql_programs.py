"""Small rule programs and a per-claim comparison of pyDatalog with the SQL backends.

They exercise what the claim rules use (joins, constants, comparisons on
dates and numbers, negation with ``_``, zero-arity heads, ground facts) and
what they may use later (recursion through several predicates over cyclic
data), each on many claims at once against a shared knowledge base.
"""
from __future__ import annotations

import random

from cptkg.engines import pydatalog as pydatalog_engine
from cptkg.engines.sql import compiler as sql_compiler
from cptkg.rules.parser import parse_text
from cptkg.rules.program import build_program

PROGRAM = r"""
% Shared knowledge: a cyclic "includes" graph and a subclass chain.
% id: kb.closure.base
% message: {A} includes {B}
% source: t
incl(A, B) :- includes(A, B).
% id: kb.closure.step
% message: {A} includes {C} through {B}
% source: t
incl(A, C) :- incl(A, B), includes(B, C).
% id: kb.role.base
role_is(R, S) :- subclass(R, S).
% id: kb.role.step
role_is(R, T) :- role_is(R, S), subclass(S, T).
% id: kb.role.self
role_is(R, R) :- role(R).
allowed_role(qhp).
allowed_role(physician).

% Claim-scoped: bundling, role checks, history, zero-arity summaries.
% id: excl.same-date
% message: {C} on line {L} is included in {C2} on line {L2} ({D})
% source: t
reject(L) :- line(L), billed(L, C, D), billed(L2, C2, D), L != L2, incl(C2, C).
% id: role.not-allowed
% message: role {R} may not bill {C} on line {L}
% source: t
reject(L) :- line(L), billed(L, C, _), needs_qhp(C), line_role(L, R), not qualified(L).
qualified(L) :- line_role(L, R), role_is(R, S), allowed_role(S).
% id: units.too-many
% message: {N} units on line {L} exceed {M}
% source: t
reject(L) :- line_units(L, N), billed(L, C, _), max_units(C, M), N > M.
% id: history.no-device
% message: line {L} ({C}) needs a device implanted before {D}
% source: t
reject(L) :- line(L), billed(L, C, D), needs_device(C), not implanted_before(L).
implanted_before(L) :- billed(L, _, D), in_history(E), billed(E, C2, D2), implant_code(C2), D2 < D.
implanted_before(L) :- billed(L, _, D), in_history(E), billed(E, C2, D2), implant_code(C2), D2 = D, E < 0, L > 100.
% id: mod.unknown
% message: modifier {M} on line {L}
% source: t
warn(L) :- line_modifier(L, M), not known_modifier(M).
% id: mod.missing-any
% message: line {L} has no modifier at all
% source: t
warn(L) :- line(L), needs_modifier(L), not line_modifier(L, _).
needs_modifier(L) :- line_units(L, N), N >= 2.
% id: claim.any-reject
any_reject :- reject(_).
% id: claim.clean
clean :- line(_), not any_reject.
% id: kb.unbilled
% message: {C} needs a QHP and is billed on no line of this claim
% source: t
unbilled_qhp_code(C) :- needs_qhp(C), not billed(_, C, _).
% id: kb.quoted
quoted(L) :- line_modifier(L, "it's \\ odd").
% id: claim.provider-pair
same_provider(L, L2) :- billed_provider(L, P), billed_provider(L2, P), L < L2.
% id: claim.chain
chain(L, L2) :- same_provider(L, L2).
% id: claim.chain-step
chain(L, L3) :- chain(L, L2), same_provider(L2, L3).
% id: claim.long-chain
% message: line {L} starts a chain to {L3} for the same provider
% source: t
warn(L) :- chain(L, L3), L3 > L, billed_provider(L, P), not reject(L3), P != "p0".
"""

EDB = {
    "includes": 2, "subclass": 2, "role": 1, "needs_qhp": 1, "max_units": 2,
    "needs_device": 1, "implant_code": 1, "known_modifier": 1,
    "line": 1, "billed": 3, "in_history": 1, "billed_provider": 2,
    "line_role": 2, "line_units": 2, "line_modifier": 2,
}
CLAIM_INPUTS = {"line", "billed", "in_history", "billed_provider", "line_role", "line_units", "line_modifier"}
EDB_TYPES = {
    "line": ["int"], "billed": ["int", "text", "text"], "in_history": ["int"],
    "billed_provider": ["int", "text"], "line_role": ["int", "text"],
    "line_units": ["int", "int"], "line_modifier": ["int", "text"],
    "max_units": ["text", "int"],
}

CODES = ["a", "b", "c", "d", "e", "f"]
KB = {
    "includes": {("a", "b"), ("b", "c"), ("c", "a"), ("d", "e")},
    "subclass": {("pa", "qhp"), ("np", "qhp"), ("qhp", "prof")},
    "role": {("pa",), ("np",), ("qhp",), ("physician",), ("nurse",)},
    "needs_qhp": {("d",), ("e",)},
    "max_units": {("a", 1), ("f", 3)},
    "needs_device": {("f",), ("e",)},
    "implant_code": {("a",)},
    "known_modifier": {("59",), ("KX",)},
}
ROLES = ["pa", "np", "physician", "nurse", "qhp"]
DATES = ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-29"]


def program():
    return build_program(parse_text(PROGRAM, "test.dl"), EDB)


def random_claim(rng: random.Random) -> dict[str, set[tuple]]:
    f: dict[str, set[tuple]] = {p: set() for p in CLAIM_INPUTS}
    n = rng.randint(1, 5)
    lines = rng.sample([1, 2, 3, 101, 102, 7], n)
    for L in lines:
        f["line"].add((L,))
        f["billed"].add((L, rng.choice(CODES), rng.choice(DATES)))
        f["billed_provider"].add((L, rng.choice(["p0", "p1", "p2"])))
        f["line_role"].add((L, rng.choice(ROLES)))
        f["line_units"].add((L, rng.choice([1, 1, 2, 3, 4])))
        for m in rng.sample(["59", "KX", "XX", "25", "it's \\ odd"], rng.randint(0, 2)):
            f["line_modifier"].add((L, m))
    for k in range(rng.randint(0, 3)):
        E = -(k + 1)
        f["in_history"].add((E,))
        f["billed"].add((E, rng.choice(CODES), rng.choice(DATES)))
        if rng.random() < 0.5:
            f["billed_provider"].add((E, rng.choice(["p0", "p1"])))
    return f


def by_claim_pydatalog(prog, claims: dict[str, dict]) -> tuple[dict, dict]:
    facts, binds = {}, {}
    for cid, cf in claims.items():
        m = pydatalog_engine.evaluate(prog, {**KB, **cf})
        for p, rows in m.facts.items():
            for r in rows:
                facts.setdefault(p, set()).add((cid,) + r if p in _scoped(prog) else r)
        for k, bs in m.bindings.items():
            for b in bs:
                key = (cid,) if prog.rules[k].head.pred in _scoped(prog) else ()
                binds.setdefault(k, set()).add(key + tuple(sorted(b.items())))
    return facts, binds


def _scoped(prog):
    return sql_compiler.claim_scoped(prog, CLAIM_INPUTS)


def by_sql(prog, claims: dict[str, dict], backend) -> tuple[dict, dict]:
    cp = sql_compiler.compile_program(prog, EDB_TYPES, CLAIM_INPUTS, backend.dialect)
    inputs: dict[str, set[tuple]] = {p: set(rows) for p, rows in KB.items()}
    for cid, cf in claims.items():
        for p, rows in cf.items():
            inputs.setdefault(p, set()).update((cid,) + r for r in rows)
    sql_compiler.load_inputs(cp, backend, inputs, claims)
    sql_compiler.run(cp, backend)
    facts, bindings = sql_compiler.read_model(cp, backend)
    binds = {}
    for k, bs in bindings.items():
        for b in bs:
            cid = b.pop("claim_id", None)
            key = (cid,) if cid is not None else ()
            binds.setdefault(k, set()).add(key + tuple(sorted(b.items())))
    # KB-only predicates are computed once; pyDatalog recomputes them per claim,
    # which leaves the same set.
    return {p: rows for p, rows in facts.items() if rows}, binds
