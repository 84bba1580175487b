"""Shared helpers for the RDF serialisations."""
from __future__ import annotations

from rdflib import Graph


def context_from_namespaces(g: Graph) -> dict[str, str]:
    """An inline JSON-LD context: the graph's prefixes, no remote document."""
    ctx: dict[str, str] = {}
    for prefix, ns in g.namespaces():
        if prefix and str(ns).startswith(("http://", "https://", "urn:")):
            ctx[prefix] = str(ns)
    return ctx
