"""The one interface every rule engine implements.

Facts in, verdicts and each rule's bindings out: an engine evaluates a
checked :class:`~cptkg.rules.program.Program` over input facts and returns a
:class:`Model` holding the tuples of the predicates asked for and, for each
rule (by its index in ``program.rules``), every binding of all its variables
that made the body true. Reasons, proofs, why-not and fixes are read from
those bindings alone, so a verdict from any engine — pyDatalog, the fast
in-process engine, DuckDB, Spark — can be explained the same way.

Engines live behind the registry (``cptkg.registry``, kind ``engine``) and are
looked up by name; the judge layer never imports one directly.
"""
from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterable

from cptkg.rules.program import Program

_prepared_lock = threading.RLock()

Facts = dict[str, set[tuple]]


class EvaluationTimeout(RuntimeError):
    """The evaluation did not finish within its time limit."""


class EvaluationError(RuntimeError):
    """The engine failed; the message says how (never user text as code)."""


class EvaluationMemory(EvaluationError):
    """The evaluation needed more memory than its cap and was stopped."""


@dataclass
class Model:
    """What an evaluation derived: tuples per predicate, bindings per rule index."""

    facts: Facts
    bindings: dict[int, list[dict[str, object]]] = field(default_factory=dict)

    def holds(self, pred: str, *args) -> bool:
        return tuple(args) in self.facts.get(pred, set())


@dataclass
class Static:
    """Results of the rules that no request can change, computed once per KB."""

    rules: set[int]
    facts: Facts
    bindings: dict[int, list[dict]]


class Engine(ABC):
    """A rule engine: one evaluation of a program over facts per call.

    ``want`` names the derived predicates whose tuples the caller reads
    (None: all). ``rule_bindings`` is True for every rule's bindings, a set of
    head predicates for the rules deriving those only, or False for none.
    ``static`` (from :meth:`precompute`) supplies the results of rules that
    do not depend on the request. An evaluation past ``timeout`` seconds
    raises :class:`EvaluationTimeout`; concurrent calls never share facts.
    """

    name: str = ""
    #: True if one evaluation of a request-keyed program (engines.scoped) is
    #: cheaper than one evaluation per request; :meth:`evaluate_many` uses it.
    batches: bool = False

    @abstractmethod
    def evaluate(self, program: Program, facts: Facts, want: Iterable[str] | None = None,
                 rule_bindings: bool | set[str] = True, timeout: float = 30.0,
                 static: Static | None = None) -> Model:
        ...

    def evaluate_many(self, program: Program, shared: Facts, requests: list[Facts], input_preds: set[str],
                      want: Iterable[str] | None = None, rule_bindings: bool | set[str] = True,
                      timeout: float = 30.0, static: Static | None = None, scoped=None) -> list[Model]:
        """One model per request, as ``evaluate(program, shared + request)`` would give each.

        Engines with :attr:`batches` evaluate all requests in one call of the
        request-keyed program (``scoped``, from
        :func:`cptkg.engines.scoped.scope_program`, built if not given);
        the others evaluate one request at a time. ``timeout`` is for the
        whole call.
        """
        if not requests:
            return []
        if not self.batches:
            out = []
            for req in requests:
                facts = dict(shared)
                facts.update(req)
                out.append(self.evaluate(program, facts, want, rule_bindings, timeout, static))
            return out
        from cptkg.engines import scoped as sc

        sp = scoped or sc.scope_program(program, input_preds)
        model = self.evaluate(sp.program, sc.scoped_facts(sp, shared, requests), want, rule_bindings,
                              timeout, static)
        return sc.split_model(sp, model, len(requests), static)

    def prepared(self, owner, key, make):
        """``make()``, made once per ``owner`` (a loaded knowledge base) and ``key``, and kept with this
        engine while the owner lives.

        Why on the engine and not on the knowledge base: what an engine prepares
        from a KB (the static part of a program, evaluated once) is the engine's
        state; the KB stays the knowledge, whichever engines judge with it. The
        entry goes when the KB is garbage-collected (a weak reference), so a
        reloaded or copied KB (a rule case's extra facts) never meets another's."""
        with _prepared_lock:
            store = self.__dict__.setdefault("_prepared", {})
            entry = store.get(id(owner))
            if entry is None or entry[0]() is not owner:
                ref = weakref.ref(owner, lambda _r, k=id(owner), s=store: s.pop(k, None))
                entry = store[id(owner)] = (ref, {})
            made = entry[1]
            if key not in made:
                made[key] = make()
            return made[key]

    def precompute(self, program: Program, facts: Facts, input_preds: set[str], timeout: float = 60.0) -> Static:
        """Evaluate once the rules whose heads no request input can change."""
        idx = program.static_rules(input_preds)
        preds = {program.rules[k].head.pred for k in idx}
        m = self.evaluate(program, facts, want=sorted(preds), rule_bindings=True, timeout=timeout)
        return Static(idx, {p: m.facts.get(p, set()) for p in preds}, {k: m.bindings.get(k, []) for k in idx})


def with_static(facts: Facts, static: Static | None) -> Facts:
    """The input facts plus the precomputed facts of the static rules."""
    if static is None:
        return facts
    out = dict(facts)
    out.update(static.facts)
    return out


def merge_static(model: Model, program: Program, want: Iterable[str] | None,
                 rule_bindings: bool | set[str], static: Static | None) -> Model:
    """Add the static rules' tuples and bindings to a model of the other rules."""
    if static is None:
        return model
    for p in (static.facts if want is None else [p for p in want if p in static.facts]):
        model.facts[p] = set(static.facts[p])
    if rule_bindings:
        for k, bs in static.bindings.items():
            if rule_bindings is True or program.rules[k].head.pred in rule_bindings:
                model.bindings[k] = bs
    return model
