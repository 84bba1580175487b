"""Run one of the KB's rule programs on an engine for one request.

The rules that no request can change (exclusion pairs, code inclusion) are
evaluated once per loaded KB and engine and kept on the KB object, so each
claim pays only for its own part. The knowledge layer never runs an engine:
this is where the two meet.
"""
from __future__ import annotations

import threading
from typing import Iterable

from cptkg import engines
from cptkg.engines import Engine, Facts, Model, Static

_lock = threading.Lock()


def program_of(kb, kind: str):
    """The KB's rule program for a request kind ("claim" or "encounter")."""
    return kb.check_program if kind == "claim" else kb.infer_program


def static_for(kb, kind: str, engine: Engine | None = None) -> Static:
    """The static part of ``kind``'s program on ``engine``, computed once per KB."""
    engine = engine or engines.get()
    key = ("static", kind, engine.name)
    cached = kb.cache.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in kb.cache:
            program = program_of(kb, kind)
            kb.cache[key] = engine.precompute(program, kb.facts, kb.input_predicates.get(kind, set()))
        return kb.cache[key]


def run(kb, kind: str, request_facts: Facts, want: Iterable[str] | None, rule_bindings: bool | set[str],
        timeout: float = 30.0, engine: Engine | str | None = None) -> Model:
    """Evaluate ``kind``'s program over the KB's facts plus ``request_facts``."""
    engine = engines.get(engine) if not isinstance(engine, Engine) else engine
    facts = dict(kb.facts)
    facts.update(request_facts)
    return engine.evaluate(program_of(kb, kind), facts, want=want, rule_bindings=rule_bindings,
                           timeout=timeout, static=static_for(kb, kind, engine))


def scoped_program(kb, kind: str):
    """``kind``'s program keyed by request, for many requests in one call (cached per KB)."""
    key = ("scoped", kind)
    cached = kb.cache.get(key)
    if cached is None:
        from cptkg.engines.scoped import scope_program

        cached = kb.cache[key] = scope_program(program_of(kb, kind), kb.input_predicates.get(kind, set()))
    return cached


def run_many(kb, kind: str, requests: list[Facts], want: Iterable[str] | None, rule_bindings: bool | set[str],
             timeout: float = 30.0, engine: Engine | str | None = None) -> list[Model]:
    """:func:`run` for many requests at once: one engine call where the engine batches."""
    engine = engines.get(engine) if not isinstance(engine, Engine) else engine
    return engine.evaluate_many(program_of(kb, kind), kb.facts, requests, kb.input_predicates.get(kind, set()),
                                want=want, rule_bindings=rule_bindings, timeout=timeout,
                                static=static_for(kb, kind, engine),
                                scoped=scoped_program(kb, kind) if engine.batches else None)
