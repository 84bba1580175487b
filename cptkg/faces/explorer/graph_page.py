"""Knowledge graph page: the ontology and KB as an interactive graph.

It opens on the neighbourhood of the pack's first family code whose performers
the KB names (the core names no code: ``kb.family_codes()``), roles included, so
the first picture answers
"what is this code, what does it cover, who may perform it, what is it
excluded with". Nodes and edges read as labels and words; ids appear only in a
node's detail line.
"""
from __future__ import annotations

import streamlit as st

import cptkg
from cptkg.faces.markup import md, md_code
from cptkg import views as G
from cptkg.faces.explorer.common import draw_graph, kb_or_stop, legend

TITLE, URL_PATH = "Knowledge graph", "graph"  # the page's title and address (navigation, and pages that open it)
VIEWS = ("Neighbourhood of a node", "Whole graph (filtered)", "Path between two nodes", "Exclusion graph of a family")
NEIGHBOURHOOD, WHOLE, PATH, EXCLUSIONS = VIEWS
DEFAULT_KINDS = ["code", "service", "device", "route", "role", "exclusion", "group"]
EXCLUSION_STYLESHEET = G.STYLESHEET_LABELLED + [
    {"selector": "edge", "style": {"text-wrap": "wrap", "text-max-width": 150, "font-size": 6, "color": "#333",
                                   "text-background-color": "#ffffff", "text-background-opacity": 0.85,
                                   "text-background-padding": 1, "arrow-scale": 0.9, "line-color": "#999",
                                   "target-arrow-color": "#555", "source-arrow-color": "#555"}},
    {"selector": "node", "style": {"font-size": 12, "font-weight": "bold", "width": 26, "height": 26}},
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
        st.caption("Each arrow goes from the code that stands to the code denied in its favour, labelled with the "
                   "edit's name; a dashed arrow with two heads: both codes are denied (one other code covers both).")
    st.caption(f"{view_g.number_of_nodes()} nodes, {view_g.number_of_edges()} links")
    legend(sorted({d["kind"] for _, d in view_g.nodes(data=True)}, key=G.KINDS.index))
    small = view_g.number_of_edges() <= 60
    if view == EXCLUSIONS:  # codes on a circle, each edge's edit name wrapped on a light background
        sel = draw_graph(G.to_cytoscape(view_g), key=f"kg-{view}", height="720px", layout="circle",
                         stylesheet=EXCLUSION_STYLESHEET)
    else:
        sel = draw_graph(G.to_cytoscape(view_g, selected=focus), key=f"kg-{view}", height="560px",
                         stylesheet=G.STYLESHEET_LABELLED if small else G.STYLESHEET)
    if not small:
        st.caption("Click an edge to see its label; pick a smaller view (neighbourhood, path) for labelled edges.")
    picked = (sel.get("nodes") or [None])[0]
    shown = node_options(view_g) if view_g.number_of_nodes() else opts
    default = picked if picked in shown else (focus if focus in shown else default_focus(kb, shown))
    chosen = st.selectbox("Details of (or click a node)", shown, index=shown.index(default) if default in shown else 0,
                          key=f"details-{picked}", format_func=lambda n: node_title(kb, g, n))
    if chosen:
        show_details(kb, chosen)
