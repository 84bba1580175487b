"""The knowledge graph page in a real browser (issue 23, finding 7): a picture people can read.

The analyst found that the layout changed on every load, labels ran over each other and the exclusion
graph's edge labels were too small to read. Drawn by Cytoscape in Debian's Chromium (driven as
tests/test_browser.py does), read back from the page's own Cytoscape instance (``_cyreg.cy``): node
positions on two fresh loads, each node's drawn box (its dot and its label as rendered) and the
exclusion graph's link labels. Every request stays on 127.0.0.1.
"""
from __future__ import annotations

import pytest

from tests.test_browser import _outside, app_url  # noqa: F401

pytestmark = pytest.mark.browser

_CY = "const el = [...document.querySelectorAll('div')].find(d => d._cyreg && d._cyreg.cy); if (!el) return null; const cy = el._cyreg.cy;"
POSITIONS = "(body) => { " + _CY + """
  return cy.nodes().map(n => [n.id(), Math.round(n.position('x')), Math.round(n.position('y'))]).sort(); }"""
# each node's box as drawn: its dot and its label (the rendered text's measured size), model coordinates
BOXES = "(body) => { " + _CY + """
  return cy.nodes().map(n => { const b = n.boundingBox({includeNodes: true, includeLabels: true,
    includeEdges: false, includeOverlays: false, includeUnderlays: false});
    return [n.id(), b.x1, b.y1, b.x2, b.y2]; }); }"""
EDGE_LABELS = "(body) => { " + _CY + """
  return cy.edges().map(e => [e.data('label'), e.style('label'), parseFloat(e.style('font-size')),
    parseFloat(e.style('text-background-opacity')), e.style('text-rotation')]); }"""


def _open_graph(page, url: str, view: str | None = None):
    from devtools.tour import GRAPH_FRAME, choose, graph_canvas_drawn, wait_idle

    page.goto(url + "/graph")
    page.get_by_role("heading", name="Knowledge graph").first.wait_for()
    wait_idle(page)
    if view:
        choose(page, "View", view)
    assert graph_canvas_drawn(page, 0)
    page.wait_for_timeout(1500)  # a layout that animates or iterates has settled by now
    return page.frame_locator(GRAPH_FRAME).nth(0).locator("body")


def _overlapping(boxes: list) -> list[tuple[str, str]]:
    return [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]]


def test_the_graph_draws_the_same_picture_on_every_load(app_url):  # noqa: F811
    from devtools.tour import browser_page

    seen = []
    with browser_page() as (page, requests):
        for _ in range(2):  # two fresh loads of the page, as two visits
            seen.append(_open_graph(page, app_url).evaluate(POSITIONS))
    assert seen[0] and len(seen[0]) > 5
    assert seen[0] == seen[1], "the nodes moved between two loads of the page"
    assert _outside(requests, app_url) == []


def test_no_two_node_labels_overlap_in_a_codes_neighbourhood_or_the_whole_graph(app_url):  # noqa: F811
    from devtools.tour import browser_page

    with browser_page() as (page, requests):
        near = _open_graph(page, app_url).evaluate(BOXES)
        whole = _open_graph(page, app_url, "Whole graph (filtered)").evaluate(BOXES)
    assert len(near) > 5 and len(whole) > len(near)
    assert _overlapping(near) == [], "labels overlap in the code's neighbourhood"
    assert _overlapping(whole) == [], "labels overlap in the whole graph"
    assert _outside(requests, app_url) == []


def test_the_exclusion_graphs_links_carry_legible_numbers_listed_with_the_edits_words(app_url, kb):  # noqa: F811
    from devtools.tour import browser_page

    with browser_page() as (page, requests):
        edges = _open_graph(page, app_url, "Exclusion graph of a family").evaluate(EDGE_LABELS)
        listed = page.locator('[data-testid="stMarkdownContainer"] ol li').all_inner_texts()
    assert edges
    assert all(size >= 11 for _, _, size, _, _ in edges), "edge labels smaller than 11 px"
    assert all(bg >= 0.8 for _, _, _, bg, _ in edges), "edge labels without a solid white ground"
    assert all(rot == "none" for *_, rot in edges), "edge labels rotated along their links"
    words = {label for label, *_ in edges}
    assert kb.label("edit-refill-includes-analysis") in words
    # each link's number names its edit in the list under the graph
    numbered = {shown: label for label, shown, *_ in edges}
    assert sorted(numbered, key=int) == [str(i) for i in range(1, len(listed) + 1)]
    assert [" ".join(x.split()) for x in listed] == [" ".join(numbered[str(i)].split()) for i in range(1, len(listed) + 1)]
