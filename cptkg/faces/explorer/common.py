"""What every page shares: the loaded KB, the graph component, the legend."""
from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from cptkg.faces.markup import html, md
from cptkg import KBLoadError, KnowledgeBase, load_kb as default_kb, views, writers

KIND_COLOUR, KIND_LABEL, STYLESHEET = views.KIND_COLOUR, views.KIND_LABEL, views.STYLESHEET



def disclaimer(kb: KnowledgeBase) -> str:
    """The family pack's codes and disclaimer, as its family.yaml says them."""
    pack = kb.pack
    return " ".join(x for x in (f"{pack.codes}." if pack.codes else "", pack.disclaimer) if x)


#: engines the sidebar offers: the in-process rule engines (batch-only Spark is left out)
SELECTABLE_ENGINES = ("clingo", "pydatalog", "duckdb")


def engine_selector() -> str:
    """The sidebar's rule-engine selector; the choice is this session's only."""
    from cptkg import engines

    default = engines.get().name
    options = [e for e in SELECTABLE_ENGINES if e in engines.names()]
    if default not in options:
        options.insert(0, default)
    return st.sidebar.selectbox("Rule engine", options, index=options.index(default), key="engine",
                                help="Every verdict, proof and fix on every page comes from this engine; "
                                     "pyDatalog is the reference the others are proven equal to.")


def current_engine() -> str:
    """This session's rule engine (the sidebar's choice, else the default engine)."""
    from cptkg import engines

    return st.session_state.get("engine") or engines.get().name


def kb_or_stop() -> KnowledgeBase:
    """The family pack's KB (``CPTKG_KB`` or the default pack); a KB that fails its checks stops
    the page with the reason."""
    try:
        return default_kb()
    except KBLoadError as e:
        st.error(f"The knowledge base cannot be used: {md(e)}")
        st.stop()
        raise  # unreachable: st.stop() ends the script run


def draw_graph(elements: list[dict], key: str, height: str = "520px", layout: str = "fcose",
               stylesheet: list[dict] | None = None) -> dict:
    """Draw Cytoscape.js elements (JS shipped inside st-cytoscape, no CDN);
    returns the selection ``{"nodes": [...], "edges": [...]}``."""
    from st_cytoscape import cytoscape

    lay = {"name": layout, "animate": False, "animationDuration": 0}
    if layout == "breadthfirst":
        lay.update({"directed": True, "spacingFactor": 1.0})
    if layout == "fcose":
        lay.update({"nodeRepulsion": 6000, "idealEdgeLength": 70, "nodeSeparation": 60, "randomize": True,
                    "quality": "proof", "packComponents": True})
    sel = cytoscape(elements, stylesheet or STYLESHEET, height=height, layout=lay,
                    selection_type="single", key=key)
    return sel or {"nodes": [], "edges": []}


def legend(kinds=None) -> None:
    """Colour legend of node kinds, as text (colour swatches in HTML spans)."""
    kinds = kinds or list(KIND_COLOUR)
    parts = [f"<span style='display:inline-block;width:11px;height:11px;border-radius:6px;"
             f"background:{html(KIND_COLOUR[k])};margin:0 4px 0 10px;border:1px solid #555'></span>{html(KIND_LABEL[k])}"
             for k in kinds if k in KIND_COLOUR]
    st.markdown("<div style='font-size:0.85em'>" + "".join(parts) + "</div>", unsafe_allow_html=True)


def status_badge(status: str) -> str:
    return {"accepted": ":green[**accepted**]", "rejected": ":red[**rejected**]",
            "error": ":orange[**cannot be judged**]"}.get(status, status)


def now_judged() -> str:
    """The time a claim is judged, as the work paper states it (UTC, to the second)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def file_stem(text: str) -> str:
    """A claim id as part of a download's file name: letters, digits, '.', '_' and '-' only.

    >>> file_stem("CLM-1001"), file_stem("<IMG SRC=//127.1>"), file_stem("")
    ('CLM-1001', 'IMG_SRC_127.1', 'claim')
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text or "").strip("._")[:60] or "claim"


def work_paper_html(results: list[dict], judged_on: str | None) -> bytes:
    """The auditor's work paper (the ``html`` writer: self-contained, every value escaped) as bytes."""
    return writers.write(list(results), "html", created=judged_on).encode("utf-8")


def work_paper_download(results: list[dict], judged_on: str | None, label: str, key: str) -> None:
    """A download button for the work paper of ``results`` (one claim or several)."""
    stem = f"cptkg-work-paper-{file_stem(str(results[0].get('claim_id') or ''))}" if len(results) == 1 \
        else "cptkg-work-paper"
    st.download_button(label, work_paper_html(results, judged_on), file_name=f"{stem}.html", mime="text/html",
                       key=key, icon=":material/description:")
