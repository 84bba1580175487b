"""Fixed positions for the knowledge graph page: the same picture on every load, labels that do not overlap.

Issue 23, finding 7: the force-directed layout (fcose, randomised) drew a new picture on every load,
let long labels run over each other and made the whole-graph view a hairball. Here every position is
computed in Python, without randomness, and drawn by Cytoscape's ``preset`` layout:

- a node's neighbourhood: the node at the centre, everything one link away on the first ring, two links
  on the second, ...; each ring ordered by kind (services, devices, routes, roles side by side) and, from
  the second ring on, by where its neighbours sit on the ring inside it (fewer crossing links);
- the whole graph: rings by kind (codes inside; services, devices, routes and roles around them; code
  groups and claim edits next; sources outside), so the picture reads by kind;
- a path: its nodes on one line, left to right;
- a ring is pushed out until no node's box (its dot and its label) overlaps another's.

A node shows a short label of at most three lines (broken at words, an ellipsis when cut); its full label
stays the element's ``label`` (the selected node shows it; the details panel beside the graph gives it).
Label sizes are estimated from the font size; the estimate is generous so that the drawn boxes (checked
in a real browser by tests/test_browser_graph.py) stay apart.
"""
from __future__ import annotations

import math
import textwrap

#: what a node's drawing takes: dot diameter, label font size (px) and the estimate of a glyph's size
NODE_SIZE, FONT_SIZE = 22, 11
CHAR_WIDTH, LINE_HEIGHT = 0.62, 1.3  # times the font size: wider than Source Sans' average glyph, on purpose
LABEL_MARGIN, GAP = 4, 10  # label below the dot; free space kept around every box
SHORT_CHARS, SHORT_LINES = 20, 3  # a node's own label: three lines of 20 characters at most
FULL_CHARS = 30  # the selected node's full label, wrapped

#: the whole graph's rings, inside out (kinds not named go to the outermost ring)
KIND_TIERS = (("code",), ("service", "device", "route", "role", "skill"), ("group", "exclusion", "family", "conflict"),
              ("source",))


def short_label(text: str, width: int = SHORT_CHARS, lines: int = SHORT_LINES) -> str:
    """A node's label on the canvas: at most ``lines`` lines of ``width`` characters, broken at words,
    "…" where it is cut (the full label is in the details panel and on the selected node).

    >>> short_label("A1234")
    'A1234'
    >>> short_label("A comprehensive service and its component billed apart on one date of service")
    'A comprehensive\\nservice and its\\ncomponent billed…'
    """
    text = " ".join(str(text).split())
    parts = textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    if len(parts) <= lines:
        return "\n".join(parts)
    kept = parts[:lines]
    last = kept[-1]
    if len(last) >= width:  # no room for the ellipsis: cut before the last word (inside a word only when alone)
        last = last.rsplit(" ", 1)[0] if " " in last else last[:width - 1]
    kept[-1] = last.rstrip() + "…"
    return "\n".join(kept)


def full_label(text: str, width: int = FULL_CHARS) -> str:
    """The full label, wrapped at words (the selected node shows it)."""
    return "\n".join(textwrap.wrap(" ".join(str(text).split()), width, break_on_hyphens=False) or [""])


def box_size(label: str, font: float = FONT_SIZE, node: float = NODE_SIZE) -> tuple[float, float]:
    """(width, height) a node takes with its label under it, lines split at "\\n"."""
    lines = label.split("\n") if label else []
    text_w = max((len(s) for s in lines), default=0) * CHAR_WIDTH * font
    text_h = len(lines) * LINE_HEIGHT * font
    return max(node, text_w), node + (LABEL_MARGIN + text_h if lines else 0)


def box(pos: tuple[float, float], size: tuple[float, float], node: float = NODE_SIZE) -> tuple[float, float, float, float]:
    """The box (x1, y1, x2, y2) of a node drawn at ``pos``: the dot centred there, its label below it."""
    (x, y), (w, h) = pos, size
    return x - w / 2, y - node / 2, x + w / 2, y - node / 2 + h


def overlap(a: tuple, b: tuple, gap: float = 0.0) -> bool:
    """Do two boxes (x1, y1, x2, y2) overlap, or come closer than ``gap``?

    >>> overlap((0, 0, 10, 10), (5, 5, 15, 15)), overlap((0, 0, 10, 10), (11, 0, 20, 10)), overlap((0, 0, 10, 10), (11, 0, 20, 10), 2)
    (True, False, True)
    """
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _rings(rings: list[list[str]], sizes: dict[str, tuple[float, float]], order_key,
           min_radius: float = 40.0) -> dict[str, tuple[float, float]]:
    """Place ``rings`` (lists of nodes, inside out; ring 0 may hold one node, put at the centre) on
    concentric circles, each pushed out until none of its boxes comes within GAP of any placed box."""
    pos: dict[str, tuple[float, float]] = {}
    boxes: list[tuple] = []
    radius = 0.0
    for i, ring in enumerate(rings):
        if not ring:
            continue
        ring = sorted(ring, key=lambda n: order_key(n, pos))
        if i == 0 and len(ring) == 1:
            pos[ring[0]] = (0.0, 0.0)
            boxes.append(box((0.0, 0.0), sizes[ring[0]]))
            radius = max(sizes[ring[0]]) / 2
            continue
        widest = max(max(sizes[n]) for n in ring)
        r = max(radius + widest / 2 + GAP, len(ring) * widest / (2 * math.pi) * 0.5, min_radius)
        while True:
            placed = {}
            for k, n in enumerate(ring):  # from the top, clockwise
                a = -math.pi / 2 + 2 * math.pi * k / len(ring)
                placed[n] = (round(r * math.cos(a), 1), round(r * math.sin(a), 1))
            new = [box(placed[n], sizes[n]) for n in ring]
            clash = any(overlap(b, o, GAP) for b in new for o in boxes) or any(
                overlap(new[x], new[y], GAP) for x in range(len(new)) for y in range(x + 1, len(new)))
            if not clash:
                break
            r = r * 1.06 + 4
        pos.update(placed)
        boxes.extend(new)
        radius = r + widest / 2
    return pos


def _angle(p: tuple[float, float]) -> float:
    """A position's angle from the top, clockwise, in [0, 2π)."""
    return (math.atan2(p[1], p[0]) + math.pi / 2) % (2 * math.pi)


def _kind_rank(g, n: str) -> int:
    from cptkg import views

    kind = g.nodes[n].get("kind", "")
    return views.KINDS.index(kind) if kind in views.KINDS else len(views.KINDS)


def _by_neighbours(g, und):
    """Order of a ring: kind, then the mean angle of the node's neighbours already placed, then label."""
    def key(n, pos):
        near = sorted({_angle(pos[m]) for m in und.neighbors(n) if m in pos and pos[m] != (0.0, 0.0)})
        # summed in a fixed order and rounded; neighbours all round the circle (a mean of ~nothing) count as 0,
        # so that the order the graph lists its nodes in never moves a node
        sx, sy = round(sum(math.cos(a) for a in near), 6), round(sum(math.sin(a) for a in near), 6)
        mean = math.atan2(sy, sx) % (2 * math.pi) if abs(sx) + abs(sy) > 1e-3 else 0.0
        return _kind_rank(g, n), round(mean, 4), str(g.nodes[n].get("label", n)), n
    return key


def node_sizes(g, selected: str | None = None) -> dict[str, tuple[float, float]]:
    """Each node's box size with the label it shows: short, the selected node's full."""
    return {n: box_size(full_label(d.get("label", n)) if n == selected else short_label(d.get("label", n)))
            for n, d in g.nodes(data=True)}


def neighbourhood_layout(g, centre: str) -> dict[str, tuple[float, float]]:
    """``centre`` at (0, 0), each other node on the ring of its distance (links, direction ignored);
    nodes no link reaches go on a last ring."""
    import networkx as nx

    und = g.to_undirected(as_view=True)
    dist = nx.single_source_shortest_path_length(und, centre) if centre in g else {}
    depth = max(dist.values(), default=0)
    rings: list[list[str]] = [[] for _ in range(depth + 2)]
    for n in g.nodes:
        rings[dist.get(n, depth + 1)].append(n)
    return _rings(rings, node_sizes(g, centre), _by_neighbours(g, und))


def kind_layout(g) -> dict[str, tuple[float, float]]:
    """The whole graph in rings by kind (``KIND_TIERS``): codes inside, what they cover around them."""
    tier = {k: i for i, ks in enumerate(KIND_TIERS) for k in ks}
    rings: list[list[str]] = [[] for _ in range(len(KIND_TIERS) + 1)]
    for n, d in g.nodes(data=True):
        rings[1 + tier.get(d.get("kind", ""), len(KIND_TIERS) - 1)].append(n)
    return _rings(rings, node_sizes(g), _by_neighbours(g, g.to_undirected(as_view=True)))


def line_layout(nodes: list[str], g) -> dict[str, tuple[float, float]]:
    """A path's nodes left to right, each box clear of the next by room for the link's words."""
    sizes, pos, x = node_sizes(g), {}, 0.0
    for i, n in enumerate(nodes):
        if i:
            x += sizes[nodes[i - 1]][0] / 2 + sizes[n][0] / 2 + 90
        pos[n] = (round(x, 1), 0.0)
    return pos


def circle_layout(nodes: list[str], g, min_radius: float = 40.0) -> dict[str, tuple[float, float]]:
    """``nodes`` in their order on one circle, from the top, clockwise, clear of each other;
    ``min_radius`` leaves room inside for the links' words."""
    return _rings([[], list(nodes)], node_sizes(g), lambda n, pos, order=list(nodes): order.index(n), min_radius)


def with_positions(elements: list[dict], pos: dict[str, tuple[float, float]]) -> list[dict]:
    """Cytoscape elements with their fixed ``position`` and the node labels the canvas shows
    (``short``; ``full`` on the selected node); ``label`` stays the full label (the browser tests and
    the details read it)."""
    out = []
    for e in elements:
        d = e["data"]
        if "source" not in d:
            e = {**e, "data": {**d, "short": short_label(d.get("label", "")), "full": full_label(d.get("label", ""))}}
            if d["id"] in pos:
                x, y = pos[d["id"]]
                e["position"] = {"x": x, "y": y}
        out.append(e)
    return out
