"""What an engine prepares from a knowledge base (the static part of a program,
evaluated once) lives with the engine, not parked on the KB object (issue 24):
made once per KB, kind and engine, never shared with another KB (a rule case's
copy with extra facts), and gone when the KB is."""
from __future__ import annotations

import copy
import gc

from cptkg import engines
from cptkg.judge import runner
from cptkg.knowledge.loader import load_kb


def test_the_static_part_is_made_once_per_kb_and_kept_with_the_engine(kb):
    engine = engines.get("clingo")
    calls = []
    real = engine.precompute

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    fresh = load_kb(kb.root)
    engine.precompute = counted
    try:
        first = runner.static_for(fresh, "claim", engine)
        again = runner.static_for(fresh, "claim", engine)
        other_kind = runner.static_for(fresh, "encounter", engine)
    finally:
        del engine.precompute
    assert first is again and other_kind is not first
    assert len(calls) == 2
    assert not any(isinstance(k, tuple) and k and k[0] == "static" for k in fresh.cache)


def test_a_copied_kb_gets_its_own_static_part(kb):
    engine = engines.get("clingo")
    fresh = load_kb(kb.root)
    twin = copy.copy(fresh)
    twin.cache = {}
    assert runner.static_for(fresh, "claim", engine) is not runner.static_for(twin, "claim", engine)


def test_the_engine_lets_go_of_a_kb_that_is_gone(kb):
    engine = engines.get("clingo")
    fresh = load_kb(kb.root)
    runner.static_for(fresh, "claim", engine)
    key = id(fresh)
    assert key in engine._prepared
    del fresh
    gc.collect()
    assert key not in engine._prepared
