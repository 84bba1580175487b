"""The explorer's pages, in the order the sidebar lists them: what an analyst
uses first, then an "Advanced" section (the query console, the raw rule text,
the exports) for those who read RDF and Datalog.

Each page's module is imported when the page is first shown, not at start:
the checker should not wait for pandas, altair, the graph component and the
SPARQL engine that other pages need (the explorer's first page is what an
analyst waits for)."""
from __future__ import annotations

import importlib

import streamlit as st

from cptkg.faces.explorer.common import disclaimer, engine_selector, kb_or_stop

ANALYST = "Analyst"
ADVANCED = "Advanced"


def title() -> str:
    """The browser tab's title: the loaded family's label."""
    try:
        return f"cptkg explorer — {kb_or_stop().pack.label}"
    except Exception:  # the page itself shows why the KB cannot be used
        return "cptkg explorer"


def _page(module: str, title: str, icon: str, url_path: str, default: bool = False, advanced: bool = False):
    """A sidebar page whose module (``cptkg.faces.explorer.<module>``) is imported when it is shown; an
    Advanced page also draws the rule-engine choice (an analyst's page does not: "Rule engine: clingo" is
    developer words there, issue 23 finding 9; the choice, once made, holds on every page)."""
    def run():
        if advanced:
            engine_selector()
        importlib.import_module(f"cptkg.faces.explorer.{module}").page()

    run.__name__ = f"page_{module}"
    return st.Page(run, title=title, icon=icon, url_path=url_path, default=default)


def pages() -> dict[str, list]:
    """The sidebar's sections, ``{section: [st.Page, ...]}`` for ``st.navigation``."""
    st.sidebar.caption(disclaimer(kb_or_stop()))
    return {
        ANALYST: [
            _page("checker", "Claim checker", ":material/receipt_long:", "checker", default=True),
            _page("finder", "Code finder", ":material/search:", "finder"),
            _page("graph_page", "Knowledge graph", ":material/hub:", "graph"),
            _page("batch", "Batch", ":material/inventory_2:", "batch"),
            _page("impact_page", "What changed", ":material/compare_arrows:", "what-changed"),
            _page("questions", "Questions", ":material/help:", "questions"),
            _page("rules_page", "Rules and sources", ":material/gavel:", "rules"),
        ],
        ADVANCED: [
            _page("query", "Query console", ":material/terminal:", "query", advanced=True),
            _page("rule_text", "Rule text (Datalog)", ":material/code:", "rule-text", advanced=True),
            _page("export", "Export", ":material/download:", "export", advanced=True),
        ],
    }
