"""The explorer's pages, in the order the sidebar lists them."""
from __future__ import annotations

import streamlit as st

from cptkg.faces.explorer import batch
from cptkg.faces.explorer import checker
from cptkg.faces.explorer import export
from cptkg.faces.explorer import finder
from cptkg.faces.explorer import graph_page
from cptkg.faces.explorer import query
from cptkg.faces.explorer import questions
from cptkg.faces.explorer import rules_page
from cptkg.faces.explorer.common import disclaimer, engine_selector, kb_or_stop


def title() -> str:
    """The browser tab's title: the loaded family's label."""
    try:
        return f"cptkg explorer — {kb_or_stop().pack.label}"
    except Exception:  # the page itself shows why the KB cannot be used
        return "cptkg explorer"


def pages() -> list:
    st.sidebar.caption(disclaimer(kb_or_stop()))
    engine_selector()
    return [
        st.Page(checker.page, title="Claim checker", icon=":material/receipt_long:", url_path="checker", default=True),
        st.Page(graph_page.page, title=graph_page.TITLE, icon=":material/hub:", url_path=graph_page.URL_PATH),
        st.Page(finder.page, title="Code finder", icon=":material/search:", url_path="finder"),
        st.Page(rules_page.page, title="Rules and sources", icon=":material/gavel:", url_path="rules"),
        st.Page(questions.page, title="Questions", icon=":material/help:", url_path="questions"),
        st.Page(query.page, title="Query console", icon=":material/terminal:", url_path="query"),
        st.Page(batch.page, title="Batch", icon=":material/inventory_2:", url_path="batch"),
        st.Page(export.page, title="Export", icon=":material/download:", url_path="export"),
    ]
