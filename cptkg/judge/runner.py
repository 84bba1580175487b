"""Run one of the KB's rule programs on an engine for one request.

The rules that no request can change (exclusion pairs, code inclusion) are
evaluated once per loaded KB and engine and kept with the engine
(:meth:`cptkg.engines.Engine.prepared`), so each
claim pays only for its own part. A claim gets the KB's facts about edits
only for the edits that name one of its codes (``codes``;
:mod:`cptkg.knowledge.edits.index`): with a payer's table of hundreds of
thousands of edits loaded, a claim still pays for a few dozen. The
knowledge layer never runs an engine: this is where the two meet.
"""
from __future__ import annotations

from typing import Iterable

from cptkg import engines
from cptkg.engines import Engine, Facts, Model, Static
from cptkg.engines.base import EvaluationError, EvaluationTimeout



def program_of(kb, kind: str):
    """The KB's rule program for a request kind ("claim" or "encounter")."""
    return kb.check_program if kind == "claim" else kb.infer_program


def _inputs(kb, kind: str, sliced: bool) -> set[str]:
    """The predicates a request supplies: the kind's inputs, and with slicing the facts about edits."""
    inputs = set(kb.input_predicates.get(kind, set()))
    return inputs | kb.edit_index().predicates if sliced else inputs


def _shared(kb, sliced: bool) -> Facts:
    """The facts every request shares: without the facts about edits when each request brings its own."""
    return kb.edit_index().shared if sliced else kb.all_facts()


def static_for(kb, kind: str, engine: Engine | None = None, sliced: bool = False,
               timeout: float | None = None) -> Static:
    """The static part of ``kind``'s program on ``engine``, computed once per KB.

    ``sliced``: the static part when the facts about edits come with each
    request (they are then inputs, and the rules reading them are not static).
    ``timeout``: the request's time limit, which the first request's static part is held to as well, but
    at least ``limits.MIN_STATIC_SECONDS`` (a pack rule that multiplies out ran 64 s under ``--time-limit 1``:
    an audit). Stopped there, the error says it is the pack's rules that did not finish (``in_pack_rules``),
    not the request.
    """
    engine = engines.resolve(engine)
    from cptkg.limits import MIN_STATIC_SECONDS

    def compute() -> Static:
        try:
            return engine.precompute(program_of(kb, kind), _shared(kb, sliced), _inputs(kb, kind, sliced),
                                     **({} if timeout is None else {"timeout": max(timeout, MIN_STATIC_SECONDS)}))
        except (EvaluationTimeout, EvaluationError) as e:
            e.in_pack_rules = True
            raise

    return engine.prepared(kb, ("static", engine.name, kind, sliced), compute)


def _with_edits(kb, request_facts: Facts, codes) -> Facts:
    """A request's facts plus the facts about the edits naming its codes."""
    out = kb.edit_index().facts_for(codes)
    for p, rows in request_facts.items():
        out[p] = out[p] | rows if p in out else rows
    return out


def run(kb, kind: str, request_facts: Facts, want: Iterable[str] | None, rule_bindings: bool | set[str],
        timeout: float = 30.0, engine: Engine | str | None = None, codes=None) -> Model:
    """Evaluate ``kind``'s program over the KB's facts plus ``request_facts``.

    ``codes``: the codes the request bills (a claim's lines and history);
    given, only the edits naming them are evaluated.
    """
    engine = engines.resolve(engine)
    sliced = codes is not None and bool(kb.edit_tables)  # nothing to slice without edit tables
    facts = dict(_shared(kb, sliced))
    facts.update(_with_edits(kb, request_facts, codes) if sliced else request_facts)
    return engine.evaluate(program_of(kb, kind), facts, want=want, rule_bindings=rule_bindings,
                           timeout=timeout, static=static_for(kb, kind, engine, sliced, timeout))


def scoped_program(kb, kind: str, sliced: bool = False):
    """``kind``'s program keyed by request, for many requests in one call (cached per KB)."""
    key = ("scoped", kind, sliced)
    cached = kb.cache.get(key)
    if cached is None:
        from cptkg.engines.scoped import scope_program

        cached = kb.cache[key] = scope_program(program_of(kb, kind), _inputs(kb, kind, sliced))
    return cached


def run_many(kb, kind: str, requests: list[Facts], want: Iterable[str] | None, rule_bindings: bool | set[str],
             timeout: float = 30.0, engine: Engine | str | None = None, codes: list | None = None) -> list[Model]:
    """:func:`run` for many requests at once: one engine call where the engine batches.

    ``codes``: per request, the codes it bills (as for :func:`run`).
    """
    engine = engines.resolve(engine)
    sliced = codes is not None and bool(kb.edit_tables)
    if sliced:
        requests = [_with_edits(kb, r, c) for r, c in zip(requests, codes)]
    return engine.evaluate_many(program_of(kb, kind), _shared(kb, sliced), requests, _inputs(kb, kind, sliced),
                                want=want, rule_bindings=rule_bindings, timeout=timeout,
                                static=static_for(kb, kind, engine, sliced, timeout),
                                scoped=scoped_program(kb, kind, sliced) if engine.batches else None)
