"""Knowledge graph page: the ontology and KB as an interactive graph."""
from __future__ import annotations

import streamlit as st

from cptkg.faces.markup import md, md_code
from cptkg import views as G
from cptkg.faces.explorer.common import draw_graph, kb_or_stop, legend

TITLE, URL_PATH = "Knowledge graph", "graph"  # the page's title and address (navigation, and pages that open it)
VIEWS = ("Whole graph (filtered)", "Neighbourhood of a node", "Path between two nodes", "Exclusion graph of a family")
DEFAULT_KINDS = ["code", "service", "device", "exclusion", "group"]


def build_view(kb, view: str, kinds: list[str], families: list[str], focus: str | None = None,
               other: str | None = None, radius: int = 1):
    """The networkx view the page draws (raises KeyError with a readable message)."""
    g = G.knowledge_graph(kb)
    if view == VIEWS[1]:
        return G.neighbourhood(G.filter_view(g, set(kinds) | {g.nodes[focus]["kind"]} if focus in g else set(kinds)), focus, radius)
    if view == VIEWS[2]:
        return G.path_between(g, focus, other)
    if view == VIEWS[3]:
        return G.exclusion_graph(kb, families[0] if families else None)
    return G.filter_view(g, set(kinds), set(families))


def node_options(g, kinds=None) -> list[str]:
    return sorted((n for n, d in g.nodes(data=True) if kinds is None or d["kind"] in kinds),
                  key=lambda n: (G.KINDS.index(g.nodes[n]["kind"]), n))


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
            st.markdown(f"- {md(p['code'])} — {md(p['label'])}")
    if d.get("source"):
        s = d["source"]
        st.markdown(f"**{md(s['citation'])}**: “{md(s['quote'])}”")
        r = d.get("rests_on_it", {})
        st.markdown(f"**rules citing it**: {md(', '.join(r.get('rules', [])) or 'none')}")
        if r.get("facts"):
            st.markdown("**KB facts annotated with it**: " + ", ".join(md_code(f) for f in r["facts"][:30]))
    if d.get("sources"):
        st.markdown("**sources**")
        for s in d["sources"]:
            st.markdown(f"- {md(s['citation'])}: “{md(s['quote'])}”")
    if d.get("rules"):
        st.markdown("**rules that use it**: " + ", ".join(md_code(r) for r in d["rules"]))


def page() -> None:
    kb = kb_or_stop()
    st.header(TITLE)
    st.caption("Codes, services, devices, roles, exclusions and sources of the KB. Click a node for its details.")
    g = G.knowledge_graph(kb)
    families = sorted(n for n, d in g.nodes(data=True) if d["kind"] == "family")
    c1, c2, c3 = st.columns([2, 3, 2])
    view = c1.selectbox("View", VIEWS, key="graph_view")
    kinds = c2.multiselect("Kinds shown", list(G.KINDS), default=DEFAULT_KINDS, key="graph_kinds",
                           format_func=lambda k: G.KIND_LABEL[k])
    fams = c3.multiselect("Code family", families, default=[f for f in [kb.pack.code_family] if f in families], key="graph_families")
    focus = other = None
    radius = 1
    if view in (VIEWS[1], VIEWS[2]):
        opts = node_options(g)
        d1, d2 = st.columns(2)
        family = kb.family_codes()  # start from the family's first and last codes (the engine names no code)
        first, last = (family[0], family[-1]) if family else (opts[0], opts[-1])
        # a page that opens this one on a node sets graph_focus first: no default index then
        focus = d1.selectbox("Node" if view == VIEWS[1] else "From", opts, key="graph_focus",
                             index=None if "graph_focus" in st.session_state else opts.index(first))
        if view == VIEWS[1]:
            radius = d2.slider("Radius (links)", 1, 3, 1, key="graph_radius")
        else:
            other = d2.selectbox("To", opts, index=opts.index(last), key="graph_other")
    try:
        view_g = build_view(kb, view, kinds, fams, focus, other, radius)
    except KeyError as e:
        st.warning(md(str(e).strip("'\"")))
        return
    st.caption(f"{view_g.number_of_nodes()} nodes, {view_g.number_of_edges()} links")
    legend(sorted({d["kind"] for _, d in view_g.nodes(data=True)}, key=G.KINDS.index))
    small = view_g.number_of_edges() <= 60
    sel = draw_graph(G.to_cytoscape(view_g, selected=focus), key=f"kg-{view}", height="560px",
                     stylesheet=G.STYLESHEET_LABELLED if small else G.STYLESHEET)
    if not small:
        st.caption("Click an edge to see its label; pick a smaller view (neighbourhood, path) for labelled edges.")
    picked = (sel.get("nodes") or [None])[0]
    opts = node_options(view_g) if view_g.number_of_nodes() else node_options(g)
    default = picked if picked in opts else (focus if focus in opts else (opts[0] if opts else None))
    chosen = st.selectbox("Details of (or click a node)", opts, index=opts.index(default) if default in opts else 0,
                          key=f"details-{picked}")
    if chosen:
        show_details(kb, chosen)
