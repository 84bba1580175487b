"""The knowledge graph as networkx, for views an analyst can read.

The RDF graph holds everything (OWL plumbing, axiom annotations, predicate
declarations); an analyst wants the billing things and how they connect:
codes, services, devices, routes, roles, exclusions, code groups and the
source sentences. ``knowledge_graph`` keeps those as nodes (id = the KB
local name, the same constant the rules see) and every triple between two of
them as a labelled edge. The views (filter, neighbourhood, path, exclusion
graph) are plain networkx operations on it, and ``to_cytoscape`` turns any
view into Cytoscape.js elements for the explorer.
"""
from __future__ import annotations

import re

import networkx as nx
from rdflib import OWL, RDF, RDFS, SKOS, URIRef
from rdflib.namespace import DCTERMS

from cptkg.knowledge.kb import NAMESPACES, KnowledgeBase, local
from cptkg.knowledge.namespace import ONT

# rdf:type (local name) -> node kind; roles are the subclasses of ProviderRole.
KIND_OF_TYPE = {
    "BillingCode": "code",
    "Service": "service",
    "DeviceType": "device",
    "Route": "route",
    "PairEdit": "exclusion",
    "UnitEdit": "exclusion",
    "CodeGroup": "group",
    "CodeFamily": "family",
    "Source": "source",
    "SourceConflict": "conflict",
    "Skill": "skill",
}

# Colour-blind-safe palette (Okabe–Ito plus greys), one per kind; the legend shows it.
KIND_COLOUR = {
    "code": "#0072B2",
    "service": "#009E73",
    "device": "#E69F00",
    "route": "#56B4E9",
    "role": "#CC79A7",
    "exclusion": "#D55E00",
    "group": "#8C8C8C",
    "family": "#000000",
    "source": "#F0E442",
    "conflict": "#B2182B",
    "skill": "#7B3294",
}
KIND_LABEL = {
    "code": "billing code", "service": "service", "device": "device type", "route": "route",
    "role": "provider role", "exclusion": "claim edit", "group": "code group", "family": "code family",
    "source": "source sentence", "conflict": "source conflict", "skill": "skill requirement",
}
KINDS = tuple(KIND_COLOUR)

# Edges not worth drawing: they repeat another edge or are bookkeeping.
_SKIP_PREDICATES = {"inScheme", "type"}

# Edges whose property has no rdfs:label in the KB (RDF, OWL and Dublin Core terms, the core's
# source-conflict links): the words an edge shows instead of the property's name.
EDGE_WORDS = {
    "subClassOf": "is a kind of",
    "disjointWith": "is distinct from",
    "source": "rests on",
    "conflictingSource": "conflicting source",
    "prevailingSource": "prevailing source",
    "seeAlso": "see also",
}


def _edge_words(pred: str) -> str:
    """A property's name in words: 'conflictingSource' -> 'conflicting source'.

    >>> _edge_words("subClassOf"), _edge_words("prevailingSource"), _edge_words("inFamily")
    ('is a kind of', 'prevailing source', 'in family')
    """
    if pred in EDGE_WORDS:
        return EDGE_WORDS[pred]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", pred).lower()


def _is_ours(node) -> bool:
    return isinstance(node, URIRef) and any(str(node).startswith(ns) for ns in NAMESPACES)


def _kind(kb: KnowledgeBase, node: URIRef) -> str | None:
    types = {local(t) for t in kb.graph.objects(node, RDF.type)}
    for t, k in KIND_OF_TYPE.items():
        if t in types:
            return k
    name = local(node)
    if (name, "ProviderRole") in kb.facts.get("subclass_of", set()) and name != "ProviderRole":
        return "role"
    return None


def _label(kb: KnowledgeBase, node: URIRef, kind: str) -> str:
    name = str(local(node))
    if kind == "code":
        return name
    if kind == "source":  # 'guide §7.2 (CPT 62368)', as reasons cite it (the id is in the details)
        return kb.sources[name].cite() if name in kb.sources else name
    lab = kb.graph.value(node, RDFS.label) or kb.graph.value(node, SKOS.prefLabel)
    return str(lab) if lab is not None else name


_cache: dict[int, tuple[KnowledgeBase, nx.MultiDiGraph]] = {}


def knowledge_graph(kb: KnowledgeBase) -> nx.MultiDiGraph:
    """The KB's billing things and their links (built once per loaded KB)."""
    hit = _cache.get(id(kb))
    if hit is None or hit[0] is not kb:
        if len(_cache) > 8:
            _cache.clear()
        hit = _cache[id(kb)] = (kb, _build(kb))
    return hit[1]


def _build(kb: KnowledgeBase) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    nodes: dict[URIRef, str] = {}
    for s in set(kb.graph.subjects()):
        if _is_ours(s):
            k = _kind(kb, s)
            if k:
                nodes[s] = k
    families = {c: f for (c, f) in kb.facts.get("in_family", set())}
    for n, k in nodes.items():
        name = str(local(n))
        g.add_node(name, kind=k, label=_label(kb, n, k), iri=str(n), family=families.get(name, ""))
    for s, p, o in kb.graph:
        if s in nodes and o in nodes and s != o:
            pred = str(local(p)) if _is_ours(p) else p.split("#")[-1].split("/")[-1]
            if pred in _SKIP_PREDICATES:
                continue
            words = kb.graph.value(p, RDFS.label)  # the property's label: edges read in words
            g.add_edge(str(local(s)), str(local(o)), key=pred, pred=pred,
                       label=str(words) if words else _edge_words(pred))
    # an edit names a code of a column by its text, not by the code's node: linked here, so the graph
    # opened on an edit shows the code it denies (it showed the edit and its group only; an analyst walk)
    for n, pred in ((1, "edit_column1_code"), (2, "edit_column2_code")):
        for edit, code in kb.facts.get(pred, ()):
            if edit in g and code in g and g.nodes[code]["kind"] == "code":
                g.add_edge(edit, code, key=f"column{n}Code", pred=f"column{n}Code", label=f"column {n} code")
    return g


def filter_view(g: nx.MultiDiGraph, kinds: set[str] | None = None, families: set[str] | None = None) -> nx.MultiDiGraph:
    """Nodes of the chosen kinds; codes only from the chosen families.

    A non-code node is kept only while it still touches a kept code, a kept
    exclusion or group, so that picking one family does not leave the whole
    source list floating unconnected.
    """
    kinds = set(kinds) if kinds else set(KINDS)
    keep = {n for n, d in g.nodes(data=True) if d["kind"] in kinds}
    if families:
        keep = {n for n in keep if g.nodes[n]["kind"] != "code" or g.nodes[n]["family"] in families}
        codes = {n for n in keep if g.nodes[n]["kind"] == "code"}
        und = g.to_undirected(as_view=True)
        near = set(codes)
        for c in codes:
            near |= set(und.neighbors(c))
        # exclusions reach codes through groups: keep groups/exclusions touching kept codes
        for n in list(near):
            if g.nodes[n]["kind"] == "group":
                near |= set(und.neighbors(n))
        keep = {n for n in keep if n in near or g.nodes[n]["kind"] == "family" and n in families}
    return g.subgraph(keep).copy()


def neighbourhood(g: nx.MultiDiGraph, node: str, radius: int = 1) -> nx.MultiDiGraph:
    """Everything within ``radius`` links of ``node``, ignoring direction."""
    if node not in g:
        raise KeyError(f"'{node}' is not a node of the knowledge graph")
    keep = nx.ego_graph(g.to_undirected(as_view=True), node, radius=radius).nodes
    return g.subgraph(keep).copy()


def path_between(g: nx.MultiDiGraph, a: str, b: str, avoid_kinds: set[str] = frozenset({"source", "family"})) -> nx.MultiDiGraph:
    """The shortest chain of links from ``a`` to ``b`` (direction ignored).

    Sources and families are skipped as stepping stones by default: every
    code shares the family node, which would make every path two steps long
    and say nothing.
    """
    for n in (a, b):
        if n not in g:
            raise KeyError(f"'{n}' is not a node of the knowledge graph")
    allowed = [n for n, d in g.nodes(data=True) if d["kind"] not in avoid_kinds or n in (a, b)]
    und = nx.Graph(g.subgraph(allowed).to_undirected())
    # roles, routes and devices are shared by many codes: prefer chains through
    # groups, exclusions and services, which say more about how two codes relate
    loose = {"role", "route", "device", "skill"}
    for u, v, d in und.edges(data=True):
        d["weight"] = 1 + 2 * (g.nodes[u]["kind"] in loose or g.nodes[v]["kind"] in loose)
    try:
        nodes = nx.shortest_path(und, a, b, weight="weight")
    except nx.NetworkXNoPath:
        raise KeyError(f"no chain of links joins {g.nodes[a].get('label') or a} and {g.nodes[b].get('label') or b}") from None
    out = nx.MultiDiGraph()
    for n in nodes:
        out.add_node(n, **g.nodes[n])
    for x, y in zip(nodes, nodes[1:]):
        for u, v in ((x, y), (y, x)):
            for k, d in (g.get_edge_data(u, v) or {}).items():
                out.add_edge(u, v, key=k, **d)
    return out


def exclusion_graph(kb: KnowledgeBase, family: str | None = "") -> nx.MultiDiGraph:
    """Codes joined by the pair edits that keep them apart on one date.

    ``family``: only codes of that family; "" (the default) the pack's own
    code family; None every family.

    A pair edit names its columns by code or by code group; every column 1 /
    column 2 pair of codes is an edge (column 1 -> column 2) labelled with
    the edit, the same pairs the claim rules compare: the arrow goes from the
    code that stands to the one denied in its favour. An edit of the core's
    kind ``NoSingleCodeEdit`` denies both codes (one other code covers both
    services): its edges carry ``denies="both"`` and say so in their label;
    every other edge carries ``denies="column 2"``.
    """
    g = knowledge_graph(kb)
    kinds = dict(kb.facts.get("edit_kind", ()))
    if family == "":
        family = kb.pack.code_family if kb.pack else None
    members: dict[str, set[str]] = {}
    for grp, code in kb.facts.get("group_member", set()):
        members.setdefault(grp, set()).add(code)
    # the pack's edits, and those of loaded edit tables that name the KB's codes
    facts = dict(kb.facts)
    if kb.edit_tables:
        for pred, rows in kb.edit_index().facts_for(kb.codes()).items():
            facts[pred] = facts.get(pred, set()) | rows
    cols: dict[str, tuple[set[str], set[str]]] = {}
    for n, (code_pred, group_pred) in enumerate((("edit_column1_code", "edit_column1_group"),
                                                 ("edit_column2_code", "edit_column2_group"))):
        for x, c in facts.get(code_pred, ()):
            cols.setdefault(x, (set(), set()))[n].add(c)
        for x, grp in facts.get(group_pred, ()):
            cols.setdefault(x, (set(), set()))[n].update(members.get(grp, ()))
    out = nx.MultiDiGraph()
    for ex in sorted(cols):
        label = g.nodes[ex]["label"] if ex in g else ex
        denies = "both" if kinds.get(ex) == "NoSingleCodeEdit" else "column 2"
        if denies == "both":
            label += " (both denied)"
        first, second = cols[ex]
        for a in sorted(first):
            for b in sorted(second):
                if a == b or a not in g or b not in g:
                    continue
                if family and (g.nodes[a].get("family") != family or g.nodes[b].get("family") != family):
                    continue
                for n in (a, b):
                    out.add_node(n, **g.nodes[n])
                out.add_edge(a, b, key=ex, pred=ex, label=label, denies=denies)
    return out


def to_cytoscape(g: nx.MultiDiGraph, selected: str | None = None) -> list[dict]:
    """Cytoscape.js elements (nodes then edges) for a view."""
    els = []
    for n, d in g.nodes(data=True):
        kind = d.get("kind", "fact")
        els.append({"data": {"id": n, "label": d.get("label", n), "kind": kind,
                             "colour": KIND_COLOUR.get(kind, d.get("colour", "#999999"))},
                    "selected": n == selected})
    for i, (u, v, k, d) in enumerate(g.edges(keys=True, data=True)):
        els.append({"data": {"id": f"e{i}:{u}>{v}:{k}", "source": u, "target": v,
                             "label": d.get("label") or d.get("pred", k), "pred": d.get("pred", k),
                             **({"denies": d["denies"]} if d.get("denies") else {})}})
    return els


STYLESHEET = [
    {"selector": "node", "style": {"label": "data(label)", "background-color": "data(colour)",
                                   "font-size": 11, "width": 22, "height": 22, "text-wrap": "ellipsis",
                                   "text-max-width": 150, "color": "#222"}},
    {"selector": "edge", "style": {"width": 1, "curve-style": "bezier", "target-arrow-shape": "triangle",
                                   "arrow-scale": 0.6, "line-color": "#c8c8c8", "target-arrow-color": "#c8c8c8"}},
    {"selector": "edge:selected", "style": {"label": "data(label)", "font-size": 8, "color": "#333",
                                            "line-color": "#333", "target-arrow-color": "#333", "width": 2,
                                            "text-rotation": "autorotate"}},
    {"selector": "node:selected", "style": {"border-width": 4, "border-color": "#222", "width": 26, "height": 26,
                                            "font-size": 11, "font-weight": "bold"}},
]
# small views (paths, neighbourhoods, exclusion graphs) can afford every edge label
STYLESHEET_LABELLED = STYLESHEET[:-2] + [
    {"selector": "edge", "style": {"width": 1.2, "curve-style": "bezier", "target-arrow-shape": "triangle",
                                   "arrow-scale": 0.7, "line-color": "#aaa", "target-arrow-color": "#aaa",
                                   "label": "data(label)", "font-size": 7, "color": "#555",
                                   "text-rotation": "autorotate"}},
    STYLESHEET[-1],
]
# an edit denying both codes: an arrow head at each end, dashed
_BOTH_DENIED = {"selector": "edge[denies = 'both']", "style": {"source-arrow-shape": "triangle", "line-style": "dashed"}}
STYLESHEET = STYLESHEET + [_BOTH_DENIED]
STYLESHEET_LABELLED = STYLESHEET_LABELLED + [_BOTH_DENIED]


def details(kb: KnowledgeBase, node: str) -> dict:
    """What an analyst wants on clicking a node: what it is, what it covers,
    what it is excluded with, who may perform it, what it rests on and which
    rules read it."""
    g = knowledge_graph(kb)
    if node not in g:
        raise KeyError(f"'{node}' is not a node of the knowledge graph")
    d = g.nodes[node]
    iri = URIRef(d["iri"])
    out: dict = {"id": node, "kind": d["kind"], "label": d["label"], "iri": d["iri"]}
    for key, prop in (("descriptor", SKOS.prefLabel), ("definition", SKOS.definition), ("comment", RDFS.comment)):
        v = kb.graph.value(iri, prop)
        if v is not None:
            out[key] = str(v)
    f = kb.facts
    if d["kind"] == "code":
        out["requires"] = sorted(kb.label(s) for c, s in f.get("requires_service", ()) if c == node)
        out["includes"] = sorted(kb.label(s) for c, s in f.get("covers_service", ()) if c == node)
        out["devices"] = sorted(kb.label(s) for c, s in f.get("applies_to_device", ()) if c == node)
        out["routes"] = sorted(kb.label(s) for c, s in f.get("applies_to_route", ()) if c == node)
        out["may_be_performed_by"] = sorted(kb.label(s) for c, s in f.get("may_be_performed_by", ()) if c == node)
        out["requires_skill"] = sorted(kb.label(s) for c, s in f.get("requires_skill", ()) if c == node)
        ex = exclusion_graph(kb, family=None)
        partners = []
        if node in ex:
            for u, v, k, ed in list(ex.out_edges(node, keys=True, data=True)) + list(ex.in_edges(node, keys=True, data=True)):
                other = v if u == node else u
                denied = "both" if ed.get("denies") == "both" else v  # the arrow points at the denied code
                partners.append({"code": other, "exclusion": k, "label": ed.get("label", k), "stands": u,
                                 "denied": denied})
        out["excluded_with"] = sorted(partners, key=lambda p: (p["code"], p["exclusion"]))
    srcs = sorted({str(local(s)) for s in kb.graph.objects(iri, DCTERMS.source)})
    for ax in kb.graph.subjects(OWL.annotatedSource, iri):
        srcs.extend(str(local(s)) for s in kb.graph.objects(ax, DCTERMS.source))
    if d["kind"] == "source" and node in kb.sources:
        out["source"] = kb.sources[node].to_json()
        out["rests_on_it"] = rests_on(kb, node)
    out["sources"] = [kb.sources[s].to_json() for s in dict.fromkeys(sorted(srcs)) if s in kb.sources]
    out["rules"] = rules_using(kb, node)
    return out


def rules_using(kb: KnowledgeBase, node: str) -> list[str]:
    """Rule ids that read a fact about ``node`` (or cite it, for a source).

    The rules name no code: they read predicates. A rule uses a node when one
    of its body predicates has a KB fact mentioning the node, or when the node
    is a source the rule cites.
    """
    preds = {p for p, rows in kb.facts.items() if any(node in row for row in rows)}
    out = []
    for prog in (kb.check_program, kb.infer_program):
        for r in prog.rules:
            body = {getattr(lit, "atom", lit).pred for lit in r.body if hasattr(getattr(lit, "atom", lit), "pred")}
            if body & preds or node in r.meta.source:
                out.append(r.meta.id or r.head.pred)
    return list(dict.fromkeys(out))


def rests_on(kb: KnowledgeBase, source_id: str) -> dict:
    """Rules citing a source, KB facts annotated with it, and KB terms it maps to."""
    rules = [r.meta.id for prog in (kb.check_program, kb.infer_program) for r in prog.rules if source_id in r.meta.source]
    facts = sorted(f"{p}({', '.join(map(str, args))})" for (p, args), srcs in kb._fact_sources.items() if source_id in srcs)
    return {"rules": list(dict.fromkeys(rules)), "facts": facts,
            "maps_to": list(kb.sources[source_id].maps_to) if source_id in kb.sources else []}


def code_conflicts(kb: KnowledgeBase, code: str) -> list[dict]:
    """The recorded source conflicts a code's own sources take part in (its dct:source among a conflict's
    conflicting or prevailing sources): what a verdict on a line of the code rests on a choice between sources
    for, so the line says so (the guide contradicts itself on 62368; the KB records how it was resolved)."""
    by_code = kb.cache.get("code_conflicts")
    if by_code is None:
        from rdflib.namespace import DCTERMS

        by_code = {}
        found = conflicts(kb)
        for c in found:
            ids = {s["id"] for s in c["conflicting"] + c["prevailing"]}
            for subject in kb.graph.subjects(RDF.type, ONT.BillingCode):
                cited = {str(local(s)) for s in kb.graph.objects(subject, DCTERMS.source)}
                if cited & ids:
                    by_code.setdefault(str(local(subject)), []).append(
                        {"id": c["id"], "label": c["label"], "resolution": c["resolution"]})
        kb.cache["code_conflicts"] = by_code
    return list(by_code.get(code, ()))


def conflicts(kb: KnowledgeBase) -> list[dict]:
    """The recorded ont:SourceConflict resources, with the sentences they set against each other."""
    out = []
    for c in kb.graph.subjects(RDF.type, ONT.SourceConflict):
        conflicting = sorted(str(local(s)) for s in kb.graph.objects(c, ONT.conflictingSource))
        prevailing = sorted(str(local(s)) for s in kb.graph.objects(c, ONT.prevailingSource))
        out.append({
            "id": str(local(c)),
            "label": str(kb.graph.value(c, RDFS.label) or local(c)),
            "conflicting": [kb.sources[s].to_json() for s in conflicting if s in kb.sources],
            "prevailing": [kb.sources[s].to_json() for s in prevailing if s in kb.sources],
            "resolution": str(kb.graph.value(c, ONT.resolution) or ""),
        })
    return sorted(out, key=lambda c: c["id"])
