"""The explorer's pages, in the order the sidebar lists them: what an analyst
uses first, then an "Advanced" section (the query console, the raw rule text,
the exports) for those who read RDF and Datalog."""
from __future__ import annotations

import streamlit as st

from cptkg.faces.explorer import batch
from cptkg.faces.explorer import checker
from cptkg.faces.explorer import export
from cptkg.faces.explorer import finder
from cptkg.faces.explorer import graph_page
from cptkg.faces.explorer import query
from cptkg.faces.explorer import rule_text
from cptkg.faces.explorer import rules_page
from cptkg.faces.explorer.common import disclaimer, engine_selector, kb_or_stop

ANALYST = "Analyst"
ADVANCED = "Advanced"


def title() -> str:
    """The browser tab's title: the loaded family's label."""
    try:
        return f"cptkg explorer — {kb_or_stop().pack.label}"
    except Exception:  # the page itself shows why the KB cannot be used
        return "cptkg explorer"


def pages() -> dict[str, list]:
    """The sidebar's sections, ``{section: [st.Page, ...]}`` for ``st.navigation``."""
    st.sidebar.caption(disclaimer(kb_or_stop()))
    engine_selector()
    return {
        ANALYST: [
            st.Page(checker.page, title="Claim checker", icon=":material/receipt_long:", url_path="checker", default=True),
            st.Page(finder.page, title="Code finder", icon=":material/search:", url_path="finder"),
            st.Page(graph_page.page, title="Knowledge graph", icon=":material/hub:", url_path="graph"),
            st.Page(batch.page, title="Batch", icon=":material/inventory_2:", url_path="batch"),
            st.Page(rules_page.page, title="Rules and sources", icon=":material/gavel:", url_path="rules"),
        ],
        ADVANCED: [
            st.Page(query.page, title="Query console", icon=":material/terminal:", url_path="query"),
            st.Page(rule_text.page, title="Rule text (Datalog)", icon=":material/code:", url_path="rule-text"),
            st.Page(export.page, title="Export", icon=":material/download:", url_path="export"),
        ],
    }
