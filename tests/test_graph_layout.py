"""The knowledge graph's fixed layout (issue 23, finding 7), without a browser.

Positions come from ``cptkg.faces.explorer.graph_layout``: the same on every call and whatever order
the graph's nodes come in, the chosen code at the centre and each other node on the ring of its
distance, no two node boxes (dot and estimated label) within the layout's gap; the whole graph in
rings by kind. tests/test_browser_graph.py checks the boxes Chromium actually draws.
"""
from __future__ import annotations

import math
import zlib

import networkx as nx
import pytest

from cptkg import views as G
from cptkg.faces.explorer import graph_layout as L
from cptkg.faces.explorer import graph_page as P


def _view(kb, view, focus=None, radius=1, kinds=None):
    return P.build_view(kb, view, kinds or P.DEFAULT_KINDS, [kb.pack.code_family], focus, None, radius)


def _clashes(g, pos, selected=None):
    sizes = L.node_sizes(g, selected)
    boxes = [(n, L.box(pos[n], sizes[n])) for n in g.nodes]
    return [(a, b) for i, (a, x) in enumerate(boxes) for b, y in boxes[i + 1:] if L.overlap(x, y)]


def _shuffled(g, seed: int):
    """The same graph, its nodes and edges added in another order (a fixed, synthetic permutation)."""
    nodes = sorted(g.nodes(data=True), key=lambda nd: zlib.crc32(f"{seed}:{nd[0]}".encode()))
    out = nx.MultiDiGraph()
    out.add_nodes_from(nodes)
    out.add_edges_from(sorted(g.edges(keys=True, data=True), key=lambda e: zlib.crc32(f"{seed}:{e[0]}>{e[1]}:{e[2]}".encode())))
    return out


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_every_codes_neighbourhood_has_the_code_at_the_centre_and_no_overlapping_labels(kb, radius):
    for code in kb.family_codes():
        g = _view(kb, P.NEIGHBOURHOOD, code, radius)
        pos = L.neighbourhood_layout(g, code)
        assert pos[code] == (0.0, 0.0)
        assert set(pos) == set(g.nodes)
        assert _clashes(g, pos, selected=code) == [], (code, radius)


def test_a_node_further_from_the_code_sits_on_a_wider_ring(kb):
    code = P.default_focus(kb, P.node_options(G.knowledge_graph(kb)))
    g = _view(kb, P.NEIGHBOURHOOD, code, 3)
    pos = L.neighbourhood_layout(g, code)
    dist = nx.single_source_shortest_path_length(g.to_undirected(as_view=True), code)
    ring = {}
    for n, d in dist.items():
        ring.setdefault(d, []).append(math.hypot(*pos[n]))
    for d in range(1, max(ring)):
        assert max(ring[d]) < min(ring[d + 1]), d
        assert max(ring[d]) - min(ring[d]) < 0.5  # one circle per distance


def test_the_layout_is_the_same_whatever_order_the_nodes_come_in(kb):
    for code in kb.family_codes():
        g = _view(kb, P.NEIGHBOURHOOD, code, 2)
        first = L.neighbourhood_layout(g, code)
        assert L.neighbourhood_layout(g, code) == first
        assert all(L.neighbourhood_layout(_shuffled(g, seed), code) == first for seed in range(4)), code
    for kinds in (None, list(G.KINDS)):
        whole = _view(kb, P.WHOLE, kinds=kinds)
        first = L.kind_layout(whole)
        assert all(L.kind_layout(_shuffled(whole, seed)) == first for seed in range(4))


def test_the_whole_graph_is_drawn_in_rings_by_kind_without_overlapping_labels(kb):
    g = _view(kb, P.WHOLE)
    pos = L.kind_layout(g)
    assert _clashes(g, pos) == []
    radius = {}
    for n, d in g.nodes(data=True):
        radius.setdefault(d["kind"], []).append(math.hypot(*pos[n]))
    # codes inside the services, devices, routes and roles; those inside the code groups and claim edits
    assert max(radius["code"]) < min(min(radius[k]) for k in ("service", "device", "route", "role"))
    assert max(max(radius[k]) for k in ("service", "role")) < min(radius["group"] + radius["exclusion"])


def test_every_kind_of_the_whole_kb_fits_without_overlap(kb):
    g = _view(kb, P.WHOLE, kinds=list(G.KINDS))
    assert _clashes(g, L.kind_layout(g)) == []


def test_a_path_reads_left_to_right_and_the_exclusion_codes_sit_on_one_circle(kb):
    codes = kb.family_codes()
    g = P.build_view(kb, P.PATH, [], [], codes[0], codes[-1])
    pos = P.positions(P.PATH, g, codes[0])
    xs = [pos[n][0] for n in g.nodes]
    assert xs == sorted(xs) and len(set(xs)) == len(xs) and _clashes(g, pos) == []
    ex = _view(kb, P.EXCLUSIONS)
    pos = P.positions(P.EXCLUSIONS, ex)
    assert len({round(math.hypot(*p), 0) for p in pos.values()}) == 1 and _clashes(ex, pos) == []


def test_short_labels_keep_whole_words_and_at_most_three_lines(kb):
    g = G.knowledge_graph(kb)
    for _, d in g.nodes(data=True):
        full = " ".join(d["label"].split())
        short = L.short_label(full)
        lines = short.split("\n")
        assert len(lines) <= L.SHORT_LINES and all(len(s) <= L.SHORT_CHARS for s in lines), short
        kept = " ".join(lines).rstrip("…")
        assert full.startswith(kept), (full, short)
        if short.endswith("…"):  # cut at a word's end, unless one word fills the line
            assert full[len(kept)] == " " or " " not in lines[-1], (full, short)
        else:
            assert kept == full


def test_the_exclusion_graphs_links_are_numbered_by_edit_and_keep_the_edits_words(kb):
    ex = _view(kb, P.EXCLUSIONS)
    els = P.elements(P.EXCLUSIONS, ex)
    edits = P.exclusion_edits(ex)
    words = dict(edits)
    links = [e["data"] for e in els if "source" in e["data"]]
    assert links and {d["tag"] for d in links} == {str(i) for i in range(1, len(edits) + 1)}
    for d in links:
        assert d["label"] == words[d["pred"]] and edits[int(d["tag"]) - 1][0] == d["pred"]
    nodes = [e for e in els if "source" not in e["data"]]
    assert all("position" in e and e["data"]["short"] for e in nodes)
