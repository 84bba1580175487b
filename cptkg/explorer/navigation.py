"""The explorer's pages, in the order the sidebar lists them."""
from __future__ import annotations

import streamlit as st

from . import batch, checker, export, finder, graph_page, query, rules_page
from .common import DISCLAIMER


def pages() -> list:
    st.sidebar.caption(DISCLAIMER)
    return [
        st.Page(checker.page, title="Claim checker", icon="🧾", url_path="checker", default=True),
        st.Page(graph_page.page, title="Knowledge graph", icon="🕸️", url_path="graph"),
        st.Page(finder.page, title="Code finder", icon="🔎", url_path="finder"),
        st.Page(rules_page.page, title="Rules and sources", icon="📜", url_path="rules"),
        st.Page(query.page, title="Query console", icon="⌨️", url_path="query"),
        st.Page(batch.page, title="Batch", icon="📦", url_path="batch"),
        st.Page(export.page, title="Export", icon="⬇️", url_path="export"),
    ]
