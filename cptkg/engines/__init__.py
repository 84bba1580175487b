"""Rule engines behind one small interface (:mod:`cptkg.engines.base`).

An engine is looked up by name in the registry (kind ``engine``): the judge
layer asks for "the engine" and never imports one, so a new engine is a
module and a registry line. Which engine runs is the face's choice
(:class:`cptkg.session.Session`: ``--engine``, ``CPTKG_ENGINE`` read there,
else :data:`DEFAULT`); below the faces no one picks one, so asking here for
no engine at all is a programming error, not a silent default.
"""
from __future__ import annotations

from cptkg.engines.base import Engine, EvaluationError, EvaluationMemory, EvaluationTimeout, Facts, Model, Static

#: clingo: the fastest engine proven equal to pyDatalog (tests/test_sql_differential.py,
#: tests/conformance); pyDatalog stays selectable (--engine pydatalog) and is the
#: reference the tests compare against.
DEFAULT = "clingo"

__all__ = ["DEFAULT", "Engine", "EvaluationError", "EvaluationMemory", "EvaluationTimeout", "Facts", "Model", "NoEngineChosen", "Static", "get", "names", "resolve"]


def names() -> list[str]:
    from cptkg import registry

    return registry.names("engine")


class NoEngineChosen(TypeError):
    """A layer below the faces was reached without an engine: the face builds a Session and passes it down."""


def get(name: str | None = None) -> Engine:
    """The engine called ``name``; None is refused (:class:`NoEngineChosen`): the face chose one."""
    from cptkg import registry

    if not name:
        raise NoEngineChosen("no engine chosen: the face builds a Session (cptkg.Session.open) and passes its "
                             "engine down")
    return registry.get("engine", name)


def resolve(engine) -> Engine:
    """An engine given as an Engine, a registered name, or a session (its ``engine``)."""
    if engine is None or isinstance(engine, str):
        return get(engine)
    if isinstance(engine, Engine) or callable(getattr(engine, "evaluate", None)):
        return engine
    return get(engine.engine)  # a cptkg.session.Session
