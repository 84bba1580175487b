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

    default = _default_engine()
    options = [e for e in SELECTABLE_ENGINES if e in engines.names()]
    if default not in options:
        options.insert(0, default)
    chosen = st.session_state.get("engine") or default
    if chosen not in options:
        chosen = default

    def keep() -> None:  # the choice outlives the widget: the analyst pages do not draw it (issue 23, finding 9)
        st.session_state["engine"] = st.session_state["engine_pick"]

    return st.sidebar.selectbox("Rule engine", options, index=options.index(chosen), key="engine_pick",
                                on_change=keep,
                                help="Every verdict, proof and fix on every page comes from this engine; "
                                     "pyDatalog is the reference the others are proven equal to.")


def _default_engine() -> str:
    """The engine a browser session starts with: ``CPTKG_ENGINE`` of the explorer's process (read once, at
    this face, by cptkg.Session), else the default engine."""
    import os

    import cptkg

    try:
        return cptkg.Session.chosen_engine(None, os.environ)
    except ValueError as e:  # a stray CPTKG_ENGINE: said on the page, and the default engine judges
        from cptkg import engines

        st.warning(f"{e}: the explorer judges with the default engine, {engines.DEFAULT}.")
        return engines.DEFAULT


def current_engine() -> str:
    """This session's rule engine (the choice made on an Advanced page, else the default engine)."""
    return st.session_state.get("engine") or _default_engine()


def current_session():
    """The browser session's :class:`cptkg.Session`: the process's KB (loaded once per process) and the
    engine chosen on an Advanced page; pages pass it (or its ``kb`` and ``engine``) down."""
    import cptkg

    return cptkg.Session(kb=kb_or_stop(), engine=current_engine())


def kb_or_stop() -> KnowledgeBase:
    """The family pack's KB (``CPTKG_KB`` or the default pack); a KB that fails its checks stops
    the page with the reason."""
    try:
        kb = default_kb()
    except KBLoadError as e:
        st.error(f"The knowledge base cannot be used: {md(e)}")
        st.stop()
        raise  # unreachable: st.stop() ends the script run
    if not st.session_state.get("engine"):
        _default_engine()  # a stray CPTKG_ENGINE is said on every page, not only on the pages that judge
    return kb


def draw_graph(elements: list[dict], key: str, height: str = "520px", layout: str = "fcose",
               stylesheet: list[dict] | None = None) -> dict:
    """Draw Cytoscape.js elements (JS shipped inside st-cytoscape, no CDN);
    returns the selection ``{"nodes": [...], "edges": [...]}``.

    ``layout="preset"`` draws each element at its ``position`` (issue 23, finding 7: fixed positions,
    fitted into the frame); the other layouts are Cytoscape's own."""
    from st_cytoscape import cytoscape

    lay = {"name": layout, "animate": False, "animationDuration": 0}
    if layout == "preset":  # positions computed in Python (graph_layout): the same picture on every load
        lay.update({"fit": True, "padding": 24})
    if layout == "breadthfirst":
        # spaced by each node's label as well as its box: the labels of a proof's sources (up to 170 px
        # wide, on 16 px nodes) ran into each other in its bottom row (an analyst's audit)
        lay.update({"directed": True, "spacingFactor": 1.0, "nodeDimensionsIncludeLabels": True})
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
            "error": ":orange[**cannot be judged**]", NOT_CHECKED: f":gray[**{NOT_CHECKED}**]"}.get(status, status)


#: the third verdict (issue 23): a line no rule of the pack covers is not "accepted" in anything an analyst reads
NOT_CHECKED = "not checked"
#: the warning the judge gives such a line, read when a result predates the ``checked`` field
OUTSIDE_KB = "code.outside-kb"


def is_checked(ln: dict) -> bool:
    """Whether a rule of the pack judged the line: the line's ``checked`` field (issue 23), else, for results
    written before it, the absence of the outside-the-knowledge-base warning."""
    if "checked" in ln:
        return bool(ln["checked"])
    return not any(w.get("rule") == OUTSIDE_KB for w in ln.get("warnings") or [])


def line_state(ln: dict) -> str:
    """accepted, rejected or not checked: what a count, a chart or a colour shows for the line (its JSON
    ``status`` stays "accepted" for a line not checked, for the tools that read it)."""
    if ln.get("status") == "accepted" and not is_checked(ln):
        return NOT_CHECKED
    return ln.get("status", "")


def line_verdict(ln: dict) -> str:
    """The line's verdict in words; a line not checked never reads "accepted"."""
    if line_state(ln) == NOT_CHECKED:
        v = ln.get("verdict") or ""
        return v if v.startswith(NOT_CHECKED) else f"{NOT_CHECKED} (outside the knowledge base)"
    return ln.get("verdict") or ln.get("status", "")


def reason_code(r: dict) -> str:
    """A rejection's claim adjustment reason code as payers print it on a remittance: group and CARC
    ("CO-97"; X12 CARC with group code CO for coding edits: domain notes, "Reason codes on denials")."""
    carc, group = str(r.get("carc") or ""), str(r.get("group_code") or "")
    return f"{group}-{carc}" if carc and group else carc


def reason_code_words(r: dict) -> str:
    """The reason code with its short description, as the checker and the batch show it beside a rejection:
    'CARC 97, group CO: The benefit for this service is included …' (the description when the judge gives one)."""
    carc, group, desc = r.get("carc"), r.get("group_code"), r.get("carc_description")
    if not carc:
        return ""
    out = f"CARC {carc}" + (f", group {group}" if group else "")
    return f"{out}: {desc}" if desc else out


def upload_problem(name: str, data: bytes, err: Exception) -> str:
    """One line saying what is wrong with an uploaded file that cannot be read at all (empty, JSON broken at a
    line and column, a CSV without the claim columns: the expected ones listed); a claim the file gives badly
    is not this: the readers make it that claim's error entry and judge the others."""
    from cptkg import readers

    claim_csv = readers.formats()["csv"]  # the CSV reader's own column lists, through the public API

    msg = str(err)
    expected = ("expected columns: " + ", ".join(claim_csv.REQUIRED)
                + " (optional: " + ", ".join(claim_csv.OPTIONAL) + ")")
    if "missing columns" in msg:
        return f"{name}: {msg.split(': ', 1)[-1]}; {expected}"
    if msg != f"input: {readers.NOT_CLAIMS} ({readers.EXPECTED})":  # the readers' own words (binary data, …)
        return f"{name}: {msg[len('input'):].lstrip(' ,:') if msg.startswith('input') else msg}"
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        return f"{name}: the file is empty: there are no claims to judge"
    if text.lstrip()[:1] in "[{":  # JSON that does not parse is the JSON reader's to word (line and column)
        return (f"{name}: JSON, but not claims cptkg can read: a claim object or a list of them (the format of "
                f"`cptkg check`), a FHIR R4 Claim or a Bundle of Claims")
    first = text.strip().splitlines()[0]
    if "," in first or "\t" in first:
        got = ", ".join(c.strip() for c in first.replace("\t", ",").split(",")[:12])
        return f"{name}: a table without the claim columns (its first row: {got}); {expected}"
    return (f"{name}: not a claim file cptkg can read: expected claim JSON, a FHIR R4 Claim or Bundle, "
            f"a claim CSV ({expected}) or an X12 837P file")


def count(n: int) -> str:
    """A count as analysts read it: 43,209."""
    return f"{int(n):,}"


def share(part: int, whole: int) -> str:
    """A share as a percentage: 31%, and under 1% never rounded to 0% when it is not nothing."""
    if not whole:
        return "–"
    p = 100 * part / whole
    return "<1%" if 0 < p < 1 else f"{p:.0f}%"


def now_judged() -> str:
    """The time a claim is judged, as the work paper states it (UTC, to the second)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def file_stem(text: str) -> str:
    """A claim id as part of a download's file name: letters, digits, '.', '_' and '-' only.

    >>> file_stem("CLM-1001"), file_stem("<IMG SRC=//127.1>"), file_stem("")
    ('CLM-1001', 'IMG_SRC_127.1', 'claim')
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text or "").strip("._")[:60] or "claim"


def work_paper_html(results: list[dict], judged_on: str | None, claims: list | None = None, kb=None) -> bytes:
    """The auditor's work paper (the ``html`` writer: self-contained, every value escaped) as bytes.

    ``claims``: the claims as received (the paper's header names their patient, providers and dates;
    the writer finds each result's claim by id); ``kb``: the knowledge base judged with (its version and
    edit releases)."""
    return writers.write(list(results), "html", created=judged_on, claims=claims, kb=kb).encode("utf-8")


def said_in_the_explorer(results: list[dict]) -> list[dict]:
    """``results`` with each line's notes (what was assumed of it) in the explorer's words (copies; the
    results themselves unchanged)."""
    from cptkg.faces.explorer.proofs import in_the_explorer

    return [dict(r, lines=[dict(ln, assumptions=[in_the_explorer(a) for a in ln["assumptions"]])
                           if ln.get("assumptions") else ln for ln in r.get("lines") or []])
            if r.get("lines") else r for r in results]


def work_paper_download(results: list[dict], judged_on: str | None, label: str, key: str,
                        claims: list | None = None, kb=None) -> None:
    """A download button for the work paper of ``results`` (one claim or several).

    Its notes say how to state a route as the explorer's analyst does (the line editor's route column), not
    with the CLI's --route or a FHIR extension's address (an analyst walk: the paper an auditor signs said both).
    """
    results = said_in_the_explorer(results)
    stem = f"cptkg-work-paper-{file_stem(str(results[0].get('claim_id') or ''))}" if len(results) == 1 \
        else "cptkg-work-paper"
    st.download_button(label, work_paper_html(results, judged_on, claims, kb), file_name=f"{stem}.html",
                       mime="text/html", key=key, icon=":material/description:")
