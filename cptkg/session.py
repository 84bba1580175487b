"""One session: the pack, the engine, the edit tables and the limits of one run.

Why: the pack and the engine used to travel from the CLI to the judge
through environment variables (``--kb`` and ``--engine`` written into
``os.environ``, read back deep in ``knowledge.pack`` and ``engines``), and
nine functions fell back silently to the default pack or engine. Now each
face (the CLI, the explorer, the public API, a test) builds one
:class:`Session` and passes it, or its ``kb`` and ``engine``, downwards; the
layers below take what they are given, and ``engines.get(None)`` is a
programming error (issue 24, point 2).

This module is the only one in the package that reads ``CPTKG_KB`` and
``CPTKG_ENGINE``, and only from the mapping a face hands it (``environ``):
the faces pass ``os.environ``; a test can pass a dict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from cptkg import limits as _limits

#: the environment variables a face may honour (read here only)
KB_VARIABLE = "CPTKG_KB"
ENGINE_VARIABLE = "CPTKG_ENGINE"


def choose_pack(pack: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The pack folder a face asked for: ``pack``, else ``environ['CPTKG_KB']``, else the default pack."""
    from cptkg.knowledge.pack import locate

    return locate(pack or (environ or {}).get(KB_VARIABLE) or None)


def choose_engine(engine: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The engine name a face asked for: ``engine``, else ``environ['CPTKG_ENGINE']``, else the declared default."""
    from cptkg import engines

    name = engine or (environ or {}).get(ENGINE_VARIABLE) or engines.DEFAULT
    if name not in engines.names():
        # said when the session is built, naming where the name came from: a stray CPTKG_ENGINE was a
        # traceback at the first claim, and exit 1, which reads "a line was rejected" (an integrator's audit)
        where = "" if engine else f" (from {ENGINE_VARIABLE})"
        raise ValueError(f"{name!r}{where} is not a rule engine of cptkg (one of {', '.join(engines.names())})")
    return name


@dataclass(frozen=True)
class Session:
    """What one run judges with: built once by a face and passed down.

    ``kb``: the loaded knowledge base (the pack with ``edits`` over it);
    ``engine``: the rule engine's registered name; ``edits``: the edit files
    loaded over the pack (resolved paths, for messages and logs);
    ``limits``: the bounds every input path is held to (:mod:`cptkg.limits`).
    """

    kb: Any
    engine: str
    edits: tuple = ()
    limits: ModuleType = field(default=_limits, compare=False, repr=False)

    @classmethod
    def open(cls, pack: str | Path | None = None, engine: str | None = None, edits=(), *,
             environ: Mapping[str, str] | None = None, kb=None) -> "Session":
        """The session a face builds: the pack ``pack`` (a folder or a pack's name; else
        ``environ['CPTKG_KB']``, else the default pack) with the edit files ``edits`` over it, loaded once
        per process, and the engine ``engine`` (else ``environ['CPTKG_ENGINE']``, else the default).

        ``kb``: an already loaded knowledge base to use instead of loading ``pack`` (the API's ``kb=``).
        Raises ``KBLoadError`` naming the file for a pack that cannot be loaded.
        """
        from cptkg.knowledge import loader

        name = choose_engine(engine, environ)
        edits = tuple(str(Path(e).expanduser().resolve()) for e in edits or ())
        if kb is None:
            kb = loader.default_kb(choose_pack(pack, environ), edits=list(edits))
        elif edits:
            raise ValueError("give edit files with a pack folder, not with a loaded knowledge base")
        return cls(kb=kb, engine=name, edits=edits)

    @staticmethod
    def chosen_engine(engine: str | None = None, environ: Mapping[str, str] | None = None) -> str:
        """The engine name a face asked for (``engine``, else ``environ['CPTKG_ENGINE']``, else the default)."""
        return choose_engine(engine, environ)

    def engine_object(self):
        """The rule engine this session judges with (:mod:`cptkg.engines`)."""
        from cptkg import engines

        return engines.get(self.engine)

    def with_kb(self, kb) -> "Session":
        """The same engine and limits over another knowledge base (``impact``'s two sides)."""
        return Session(kb=kb, engine=self.engine, edits=(), limits=self.limits)
