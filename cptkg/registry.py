"""One registry for every extension point: engines, readers, writers, exporters, commands.

As rdflib's ``plugin.register``: a plugin is a kind, a name and where it
lives (``"module:attribute"``, or a module for readers and writers); nothing
is imported until it is asked for, so ``cptkg check`` never imports Spark,
Streamlit or the HTML exporter. A new format or engine is one module and one
line in ``_BUILTIN`` (or one :func:`register` call from outside the package).

The order of names within a kind is meaningful where it says so: readers are
tried for format detection in this order (most specific first).
"""
from __future__ import annotations

import importlib
from typing import Any

KINDS = ("engine", "reader", "writer", "exporter", "command")

_BUILTIN: dict[str, dict[str, str]] = {
    "engine": {
        "clingo": "cptkg.engines.clingo:ENGINE",
        "pydatalog": "cptkg.engines.pydatalog:ENGINE",
        "duckdb": "cptkg.engines.sql.engine:DUCKDB",
    },
    "reader": {  # detection order: most specific first (x12 first: its test reads a few bytes)
        "x12": "cptkg.io.readers.x12",
        "fhir": "cptkg.io.readers.fhir",
        "json": "cptkg.io.readers.json",
        "csv": "cptkg.io.readers.csv",
    },
    "writer": {
        "json": "cptkg.io.writers.json",
        "fhir": "cptkg.io.writers.fhir",
        "csv": "cptkg.io.writers.csv",
        "text": "cptkg.io.writers.text",
        "html": "cptkg.io.writers.html",
    },
    "exporter": {
        "csv": "cptkg.exports.graph_csv:EXPORTER",
        "datalog": "cptkg.exports.datalog:EXPORTER",
        "fhir": "cptkg.exports.fhir_terminology:EXPORTER",
        "graphml": "cptkg.exports.graphml:EXPORTER",
        "html": "cptkg.exports.html_docs:EXPORTER",
        "jsonld": "cptkg.exports.jsonld:EXPORTER",
        "nquads": "cptkg.exports.nquads:EXPORTER",
        "ntriples": "cptkg.exports.ntriples:EXPORTER",
        "owl": "cptkg.exports.owl:EXPORTER",
        "rdfxml": "cptkg.exports.rdfxml:EXPORTER",
        "rules-csv": "cptkg.exports.rules_catalogue:CSV_EXPORTER",
        "rules-md": "cptkg.exports.rules_catalogue:MD_EXPORTER",
        "shacl": "cptkg.exports.shacl:EXPORTER",
        "trig": "cptkg.exports.trig:EXPORTER",
        "turtle": "cptkg.exports.turtle:EXPORTER",
    },
    "command": {
        "ask": "cptkg.faces.commands.ask:command",
        "batch": "cptkg.faces.commands.batch:command",
        "diff": "cptkg.faces.commands.diff:command",
        "edits": "cptkg.faces.commands.edits:command",
        "export": "cptkg.faces.commands.export:command",
        "impact": "cptkg.faces.commands.impact:command",
        "query": "cptkg.faces.commands.query:command",
        "schema": "cptkg.faces.commands.schema:command",
    },
}

_plugins: dict[str, dict[str, str]] = {k: dict(v) for k, v in _BUILTIN.items()}
_loaded: dict[tuple[str, str], Any] = {}


class UnknownPlugin(LookupError):
    """A name no plugin of that kind is registered under; the message lists the known ones."""


def register(kind: str, name: str, where: str) -> None:
    """Register ``where`` ("module" or "module:attribute") as the ``kind`` plugin ``name``."""
    if kind not in _plugins:
        raise ValueError(f"unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
    if name in _plugins[kind] and _plugins[kind][name] != where:
        raise ValueError(f"{kind} {name!r} is registered twice")
    _plugins[kind][name] = where


def names(kind: str) -> list[str]:
    """Registered names of ``kind``, in registration order."""
    return list(_plugins[kind])


def get(kind: str, name: str) -> Any:
    """The plugin object (imported on first use)."""
    if name not in _plugins.get(kind, {}):
        raise UnknownPlugin(f"unknown {kind} {name!r}; known: {', '.join(_plugins.get(kind, {}))}")
    key = (kind, name)
    if key not in _loaded:
        module, _, attr = _plugins[kind][name].partition(":")
        obj = importlib.import_module(module)
        _loaded[key] = getattr(obj, attr) if attr else obj
    return _loaded[key]


def all_of(kind: str) -> dict[str, Any]:
    """Every plugin of ``kind`` by name (imports them all)."""
    return {n: get(kind, n) for n in names(kind)}
