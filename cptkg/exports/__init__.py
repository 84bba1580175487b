"""Export formats, one module per format, registered by name.

A format module builds one or more :class:`Exporter` objects and lists them
in a module-level ``EXPORTERS``; this package imports every module beside it,
so adding a format is adding one file. ``render`` returns the files it makes
as ``{suffix: bytes}``: single-file formats use the suffix ``""``, formats
that write several files (node/edge CSV) name each part.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from rdflib import Dataset, Graph

from cptkg.knowledge.datasets import GRAPH_CHOICES, Graphs, load_graphs, project_root


class ExportError(ValueError):
    """An export that cannot be made; the message says why, in one line."""


@dataclass
class ExportInput:
    """What an exporter may draw on: both graphs, the chosen part, the tree."""

    graphs: Graphs
    which: str = "both"
    root: Path = field(default_factory=project_root)

    def __post_init__(self) -> None:
        if self.which not in GRAPH_CHOICES:
            raise ExportError(f"--graph must be one of {', '.join(GRAPH_CHOICES)}, not {self.which!r}")

    @cached_property
    def graph(self) -> Graph:
        return self.graphs.select(self.which)

    @cached_property
    def dataset(self) -> Dataset:
        return self.graphs.dataset(self.which)


@dataclass(frozen=True)
class Exporter:
    name: str
    description: str
    extension: str
    render: Callable[[ExportInput], dict[str, bytes]]
    # rdflib / pyoxigraph format of the output when it is RDF (round-trip tests)
    rdf_format: str | None = None
    quads: bool = False
    # False when --graph has no meaning for the format (rules, shapes)
    uses_graph: bool = True

    def files(self, data: ExportInput) -> dict[str, bytes]:
        return self.render(data)


_REGISTRY: dict[str, Exporter] = {}


def register(exporter: Exporter) -> Exporter:
    if exporter.name in _REGISTRY:
        raise ValueError(f"export format {exporter.name!r} registered twice")
    _REGISTRY[exporter.name] = exporter
    return exporter


def _load_all() -> None:
    if _REGISTRY:
        return
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for exporter in getattr(module, "EXPORTERS", ()):
            register(exporter)


def formats() -> dict[str, Exporter]:
    """All export formats by name."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> Exporter:
    fmts = formats()
    if name not in fmts:
        raise ExportError(f"unknown export format {name!r}; known: {', '.join(fmts)}")
    return fmts[name]


def export(name: str, which: str = "both", graphs: Graphs | None = None) -> dict[str, bytes]:
    """Render format ``name`` of the chosen graph(s): ``{suffix: bytes}``."""
    exporter = get(name)
    data = ExportInput(graphs=graphs or load_graphs(), which=which)
    return exporter.files(data)
