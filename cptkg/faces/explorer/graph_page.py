"""Knowledge graph page: the ontology and KB as an interactive graph.

It opens on the neighbourhood of the pack's first family code whose performers
the KB names (the core names no code: ``kb.family_codes()``), roles included, so
the first picture answers
"what is this code, what does it cover, who may perform it, what is it
excluded with". Nodes and edges read as labels and words; ids appear only in a
node's detail line. Every view is drawn at positions computed in Python (``graph_layout``; issue 23,
finding 7): the same picture on every load, no label over another, the whole graph in rings by kind.
"""
from __future__ import annotations

import streamlit as st

import cptkg
from cptkg.faces.markup import md, md_code
from cptkg import views as G
from cptkg.faces.explorer import graph_layout as L
from cptkg.faces.explorer.common import draw_graph, kb_or_stop, legend

TITLE, URL_PATH = "Knowledge graph", "graph"  # the page's title and address (navigation, and pages that open it)
VIEWS = ("Neighbourhood of a node", "Whole graph (filtered)", "Path between two nodes", "Exclusion graph of a family")
NEIGHBOURHOOD, WHOLE, PATH, EXCLUSIONS = VIEWS
EXCLUSION_RADIUS = 250  # px: the exclusion graph's circle, wide enough for its links' numbers to stand apart
DEFAULT_KINDS = ["code", "service", "device", "route", "role", "exclusion", "group"]
# Issue 23, finding 7: every node shows its short label (graph_layout.short_label: whole words, at most three
# lines) under its dot on a white ground, the selected node its full label; sizes match graph_layout's estimate
_NODES = [
    {"selector": "node", "style": {"label": "data(short)", "text-wrap": "wrap", "text-max-width": 400,
                                   "text-valign": "bottom", "text-halign": "center", "text-margin-y": L.LABEL_MARGIN,
                                   "font-size": L.FONT_SIZE, "width": L.NODE_SIZE, "height": L.NODE_SIZE,
                                   "background-color": "data(colour)", "color": "#222",
                                   "text-background-color": "#ffffff", "text-background-opacity": 0.85,
                                   "text-background-padding": 1}},
    {"selector": "node:selected", "style": {"label": "data(full)", "border-width": 4, "border-color": "#222",
                                            "font-weight": "bold"}},
]
_BOTH_DENIED = {"selector": "edge[denies = 'both']", "style": {"source-arrow-shape": "triangle", "line-style": "dashed"}}
#: small views (a neighbourhood, a path): every link's words, legible on a white ground
STYLESHEET_SMALL = _NODES + [
    {"selector": "edge", "style": {"width": 1.2, "curve-style": "bezier", "target-arrow-shape": "triangle",
                                   "arrow-scale": 0.8, "line-color": "#aaa", "target-arrow-color": "#888",
                                   "label": "data(label)", "font-size": 9, "color": "#333",
                                   "text-rotation": "autorotate", "text-background-color": "#ffffff",
                                   "text-background-opacity": 0.85, "text-background-padding": 1}},
    _BOTH_DENIED,
]
#: the whole graph: light links without words (a click on one shows them), nodes readable by kind
STYLESHEET_WHOLE = _NODES + [
    {"selector": "edge", "style": {"width": 0.8, "curve-style": "bezier", "target-arrow-shape": "triangle",
                                   "arrow-scale": 0.5, "line-color": "#d4d4d4", "target-arrow-color": "#c8c8c8",
                                   "opacity": 0.7}},
    {"selector": "edge:selected", "style": {"label": "data(label)", "font-size": 10, "color": "#222", "opacity": 1,
                                            "line-color": "#333", "target-arrow-color": "#333", "width": 2,
                                            "text-rotation": "autorotate", "text-background-color": "#ffffff",
                                            "text-background-opacity": 0.9, "text-background-padding": 2}},
    _BOTH_DENIED,
]
#: the exclusion graph: each link carries its edit's number (listed under the graph with the edit's words),
#: large, dark, on a white ground, never rotated
EXCLUSION_STYLESHEET = _NODES + [
    {"selector": "node", "style": {"font-size": 13, "font-weight": "bold"}},
    {"selector": "node.above", "style": {"text-valign": "top", "text-margin-y": -L.LABEL_MARGIN}},
    {"selector": "edge", "style": {"width": 1.4, "curve-style": "bezier", "target-arrow-shape": "triangle",
                                   "arrow-scale": 1.0, "line-color": "#999", "target-arrow-color": "#555",
                                   "source-arrow-color": "#555", "label": "data(tag)", "font-size": 12,
                                   "font-weight": "bold", "color": "#111", "text-background-color": "#ffffff",
                                   "text-background-opacity": 1, "text-background-padding": 2,
                                   "text-background-shape": "roundrectangle", "text-border-width": 1,
                                   "text-border-color": "#888", "text-border-opacity": 1}},
    _BOTH_DENIED,
]


def build_view(kb, view: str, kinds: list[str], families: list[str], focus: str | None = None,
               other: str | None = None, radius: int = 1):
    """The networkx view the page draws (raises KeyError with a readable message)."""
    g = G.knowledge_graph(kb)
    if view == NEIGHBOURHOOD:
        return G.neighbourhood(G.filter_view(g, set(kinds) | {g.nodes[focus]["kind"]} if focus in g else set(kinds)), focus, radius)
    if view == PATH:
        return G.path_between(g, focus, other)
    if view == EXCLUSIONS:
        return G.exclusion_graph(kb, families[0] if families else None)
    return G.filter_view(g, set(kinds), set(families))


def positions(view: str, view_g, focus: str | None = None) -> dict[str, tuple[float, float]]:
    """Fixed positions of a view's nodes (graph_layout): the same picture on every load."""
    if view == NEIGHBOURHOOD and focus in view_g:
        return L.neighbourhood_layout(view_g, focus)
    if view == PATH:
        return L.line_layout(list(view_g.nodes), view_g)
    if view == EXCLUSIONS:  # codes in their numeric order round one wide circle: room inside for the numbers
        return L.circle_layout(sorted(view_g.nodes, key=lambda n: (len(n), n)), view_g, min_radius=EXCLUSION_RADIUS)
    return L.kind_layout(view_g)


def exclusion_edits(view_g) -> list[tuple[str, str]]:
    """The exclusion graph's edits, numbered as their links show them: [(edit id, edit's words), ...]."""
    edits = {k: d.get("label", k) for _, _, k, d in view_g.edges(keys=True, data=True)}
    return sorted(edits.items(), key=lambda e: (e[1], e[0]))


def elements(view: str, view_g, focus: str | None = None) -> list[dict]:
    """Cytoscape elements of a view at their fixed positions; the exclusion graph's links carry their
    edit's number (``tag``) and keep the edit's words as their ``label``."""
    els = L.with_positions(G.to_cytoscape(view_g, selected=None if view == EXCLUSIONS else focus),
                           positions(view, view_g, focus))
    if view == EXCLUSIONS:  # a code on the upper half of the circle has its label above it, outside the circle
        number = {k: str(i) for i, (k, _) in enumerate(exclusion_edits(view_g), 1)}
        els = [{**e, "data": {**e["data"], "tag": number.get(e["data"].get("pred"), "")}} if "source" in e["data"]
               else {**e, "classes": "above"} if e.get("position", {}).get("y", 0) < 0 else e for e in els]
    return els


def node_options(g, kinds=None) -> list[str]:
    return sorted((n for n, d in g.nodes(data=True) if kinds is None or d["kind"] in kinds),
                  key=lambda n: (G.KINDS.index(g.nodes[n]["kind"]), n))


def node_title(kb, g, node: str) -> str:
    """A node as a picker shows it: its label and kind ('62367 · billing code', 'nurse · provider role');
    a source sentence by its citation and first words (several share a section)."""
    d = g.nodes[node]
    if d["kind"] == "source" and node in kb.sources:
        quote = " ".join(kb.sources[node].quote.split())
        return f"{d['label']}: “{quote[:50]}{'…' if len(quote) > 50 else ''}”"
    return f"{d['label']} · {G.KIND_LABEL[d['kind']]}"


def default_focus(kb, options: list[str]) -> str | None:
    """The node the page opens on: the family's first code (``kb.family_codes()``) whose performers
    the KB names, so that the first picture shows who may perform it; else the family's first code;
    else the first node."""
    codes = [c for c in kb.family_codes() if c in options]
    performed = {c for c, _ in kb.facts.get("may_be_performed_by", ())}
    return next((c for c in codes if c in performed), codes[0] if codes else (options[0] if options else None))


def _source_words(kb, source_id: str) -> dict:
    """A source's entry of ``cptkg.source_index`` (facts as sentences), or {}."""
    return next((s for s in cptkg.source_index(kb)["sources"] if s["id"] == source_id), {})


def show_details(kb, node: str) -> None:
    d = G.details(kb, node)
    st.markdown(f"### {md(d['label'])}  \n:small[{md(G.KIND_LABEL[d['kind']])} · {md_code(d['id'])}]")
    for key in ("descriptor", "definition", "comment"):
        if d.get(key):
            st.markdown(f"**{key}**: {md(d[key])}")
    for key, title in (("requires", "requires"), ("includes", "includes (covers)"), ("devices", "devices"),
                       ("routes", "routes"), ("may_be_performed_by", "who may perform it"),
                       ("requires_skill", "skill required")):
        if d.get(key):
            st.markdown(f"**{title}**: {md(', '.join(d[key]))}")
    if d.get("excluded_with"):
        st.markdown("**excluded with (same patient, same date)**")
        for p in d["excluded_with"]:
            outcome = ("both are denied" if p["denied"] == "both"
                       else f"{p['stands']} stands, {p['denied']} is denied")
            st.markdown(f"- {md(p['code'])}: {md(outcome)} — {md(p['label'])}")
    if d.get("source"):
        s = d["source"]
        st.markdown(f"**{md(s['citation'])}**: “{md(s['quote'])}”")
        r = d.get("rests_on_it", {})
        st.markdown(f"**rules citing it**: {md('; '.join(kb.rule_title(x) for x in r.get('rules', [])) or 'none')}")
        facts = _source_words(kb, node).get("facts") or []
        if facts:
            st.markdown("**KB facts resting on it**")
            for f in facts[:30]:
                st.markdown(f"- {md(f)}")
    if d.get("sources"):
        st.markdown("**sources**")
        for s in d["sources"]:
            st.markdown(f"- {md(s['citation'])}: “{md(s['quote'])}”")
    if d.get("rules"):
        st.markdown("**rules that use it**: " + md("; ".join(kb.rule_title(r) for r in d["rules"])))
        st.markdown(":small[rule ids: " + ", ".join(md_code(r) for r in d["rules"]) + "]")


def page() -> None:
    kb = kb_or_stop()
    st.header(TITLE)
    st.caption("Codes, services, devices, roles, claim edits and sources of the KB. Click a node for its details.")
    g = G.knowledge_graph(kb)
    families = sorted((n for n, d in g.nodes(data=True) if d["kind"] == "family"), key=kb.label)
    opts = node_options(g)
    c1, c2, c3 = st.columns([2, 3, 2])
    view = c1.selectbox("View", VIEWS, key="graph_view")
    kinds = c2.multiselect("Kinds shown", list(G.KINDS), default=DEFAULT_KINDS, key="graph_kinds",
                           format_func=lambda k: G.KIND_LABEL[k], disabled=view in (PATH, EXCLUSIONS))
    fams: list[str] = []
    if view in (WHOLE, EXCLUSIONS):
        fams = c3.multiselect("Code family", families, default=[f for f in [kb.pack.code_family] if f in families],
                              key="graph_families", format_func=kb.label,
                              help="The exclusion graph draws the first family chosen (every family when none is).")
    focus = other = None
    radius = 1
    if view in (NEIGHBOURHOOD, PATH):
        d1, d2 = st.columns(2)
        family = [c for c in kb.family_codes() if c in opts]  # the path: from the family's first to its last code
        first, last = (family[0], family[-1]) if family else (opts[0], opts[-1])
        if view == NEIGHBOURHOOD:
            first = default_focus(kb, opts)
        # a page that opens this one on a node sets graph_focus first: no default index then
        focus = d1.selectbox("Code or node" if view == NEIGHBOURHOOD else "From", opts, key="graph_focus",
                             index=None if "graph_focus" in st.session_state else opts.index(first),
                             format_func=lambda n: node_title(kb, g, n))
        if view == NEIGHBOURHOOD:
            radius = d2.slider("Radius (links)", 1, 3, 1, key="graph_radius")
        else:
            other = d2.selectbox("To", opts, index=opts.index(last), key="graph_other",
                                 format_func=lambda n: node_title(kb, g, n))
    try:
        view_g = build_view(kb, view, kinds, fams, focus, other, radius)
    except KeyError as e:
        st.warning(md(str(e).strip("'\"")))
        return
    if view == EXCLUSIONS:
        st.caption("Each arrow goes from the code that stands to the code denied in its favour; its number is the "
                   "edit's, listed under the graph; a dashed arrow with two heads: both codes are denied (one other code covers both).")
    st.caption(f"{view_g.number_of_nodes()} nodes, {view_g.number_of_edges()} links")
    legend(sorted({d["kind"] for _, d in view_g.nodes(data=True)}, key=G.KINDS.index))
    small = view_g.number_of_edges() <= 60 and view != WHOLE
    els = elements(view, view_g, focus)
    if view == EXCLUSIONS:  # codes on a circle, each link numbered; the numbers listed below
        sel = draw_graph(els, key=f"kg-{view}", height="620px", layout="preset", stylesheet=EXCLUSION_STYLESHEET)
        st.markdown("\n".join(f"{i}. {md(words)}" for i, (_, words) in enumerate(exclusion_edits(view_g), 1)))
    else:
        sel = draw_graph(els, key=f"kg-{view}", height="620px" if small else "900px", layout="preset",
                         stylesheet=STYLESHEET_SMALL if small else STYLESHEET_WHOLE)
    if view == WHOLE:
        st.caption("Rings by kind: codes inside, then services, devices, routes and roles, then code groups and "
                   "claim edits. Click a node for its details or a link for its words; the neighbourhood view "
                   "starts from one code and widens by its radius.")
    elif not small:
        st.caption("Click an edge to see its label; pick a smaller view (neighbourhood, path) for labelled edges.")
    picked = (sel.get("nodes") or [None])[0]
    shown = node_options(view_g) if view_g.number_of_nodes() else opts
    default = picked if picked in shown else (focus if focus in shown else default_focus(kb, shown))
    chosen = st.selectbox("Details of (or click a node)", shown, index=shown.index(default) if default in shown else 0,
                          key=f"details-{picked}", format_func=lambda n: node_title(kb, g, n))
    if chosen:
        show_details(kb, chosen)
