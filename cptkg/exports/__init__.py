"""Export formats, one module per format, registered by name.

A format module builds an :class:`Exporter` (``EXPORTER``) and is named in
the one registry (``cptkg.registry``, kind ``exporter``): adding a format is
one file and one line. ``render`` returns the files it makes
as ``{suffix: bytes}``: single-file formats use the suffix ``""``, formats
that write several files (node/edge CSV) name each part.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from rdflib import Dataset, Graph

from cptkg.knowledge.datasets import GRAPH_CHOICES, Graphs, load_graphs
from cptkg.knowledge.pack import FamilyPack


class ExportError(ValueError):
    """An export that cannot be made; the message says why, in one line."""


@dataclass
class ExportInput:
    """What an exporter may draw on: both graphs, the chosen part, the family pack."""

    graphs: Graphs
    which: str = "both"

    def __post_init__(self) -> None:
        if self.which not in GRAPH_CHOICES:
            raise ExportError(f"--graph must be one of {', '.join(GRAPH_CHOICES)}, not {self.which!r}")

    @property
    def pack(self) -> FamilyPack:
        """The family pack the graphs were loaded from (its rule and shape files)."""
        return self.graphs.pack

    @cached_property
    def published(self) -> Graphs:
        """The graphs as exported: stable blank-node labels, explicit SKOS and OWL declarations."""
        from cptkg.exports._publish import published

        return published(self.graphs)

    @cached_property
    def graph(self) -> Graph:
        return self.published.select(self.which)

    @cached_property
    def dataset(self) -> Dataset:
        return self.published.dataset(self.which)


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
    # True when it writes several files: the CLI then needs a folder (-o FOLDER), the explorer offers each file
    several_files: bool = False

    def files(self, data: ExportInput) -> dict[str, bytes]:
        return self.render(data)


def formats() -> dict[str, Exporter]:
    """All export formats by name."""
    from cptkg import registry

    return dict(sorted(registry.all_of("exporter").items()))


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
