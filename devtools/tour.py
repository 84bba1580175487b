"""A scripted tour of the running explorer in a real browser (Playwright
driving the system's Chromium): the browser test walks it (``analyst_walk``;
with ``CPTKG_SCREENSHOTS=docs/images`` it saves the screenshots once it has passed),
and ``python -m devtools.tour URL docs/images`` takes every page's screenshot.

Every request the page makes is recorded, so a caller can check that nothing
left 127.0.0.1. The browser is the one installed by the system (Debian's
``chromium``); nothing is downloaded.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
GRAPH_FRAME = 'iframe[title="st_cytoscape.st_cytoscape"]'


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A fresh Chromium page; yields (page, list of every requested URL)."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("request", lambda r: requests.append(r.url))
            page.set_default_timeout(60_000)
            yield page, requests
        finally:
            browser.close()


def wait_idle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
    page.wait_for_timeout(300)


def graph_canvas_drawn(page, index: int = 0) -> bool:
    """Did a Cytoscape graph draw into its canvas (non-zero size, inside its iframe)?"""
    page.locator(GRAPH_FRAME).nth(index).wait_for(state="attached", timeout=60_000)
    frame = page.frame_locator(GRAPH_FRAME).nth(index)
    canvas = frame.locator("canvas").first
    canvas.wait_for(state="attached", timeout=60_000)
    deadline = 30
    while deadline > 0:  # the iframe gets its height once the component has drawn
        outer = page.locator(GRAPH_FRAME).nth(index).bounding_box()
        box = canvas.bounding_box()
        if outer and box and outer["height"] > 50 and box["width"] > 50 and box["height"] > 50:
            # something was painted: the canvas is not blank
            painted = frame.locator("body").evaluate("""() => [...document.querySelectorAll('canvas')].some(c => {
                const x = c.getContext('2d'); if (!x || !c.width || !c.height) return false;
                const d = x.getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; })""")
            if painted:
                return True
        page.wait_for_timeout(500)
        deadline -= 0.5
    return False


def click_graph_node(page, node_id: str, index: int = 0) -> None:
    """Click a node of a drawn graph where Cytoscape rendered it (as a user would)."""
    frame = page.frame_locator(GRAPH_FRAME).nth(index)
    pos = frame.locator("body").evaluate("""(body, id) => {
      const el = [...document.querySelectorAll('div')].find(d => d._cyreg && d._cyreg.cy);
      if (!el) return null;
      const n = el._cyreg.cy.getElementById(id);
      if (!n || n.empty()) return null;
      const p = n.renderedPosition(), r = el.getBoundingClientRect();
      return {x: p.x + r.left, y: p.y + r.top};
    }""", node_id)
    if pos is None:
        raise AssertionError(f"node {node_id} is not in the drawn graph")
    box = page.locator(GRAPH_FRAME).nth(index).bounding_box()
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_timeout(300)
    wait_idle(page)


def check_and_fix(page, base: str, shots: Path | None = None) -> dict:
    """The main path: judge the example claim (rejected), unfold line 1's
    explanation, apply the first suggested fix; returns what was seen."""
    seen: dict = {}
    page.goto(base + "/")
    page.get_by_role("button", name="Check claim").click()
    page.get_by_text("Suggested fixes").wait_for()
    wait_idle(page)
    seen["rejected"] = page.get_by_text("rejected").count() > 0
    page.get_by_text("Full proof of line 1", exact=False).first.click()
    page.get_by_text("Why rejected").first.wait_for()
    seen["proof_text"] = page.get_by_text("Why rejected").first.is_visible()
    seen["canvas"] = graph_canvas_drawn(page, 0)
    page.wait_for_timeout(1500)
    seen["labels_explained"] = visible_labels(page) + graph_labels(page, 0)
    if shots:
        page.screenshot(path=str(shots / "explorer-checker.png"), full_page=True)
        page.mouse.move(5, 5)  # off the graph: a wheel over it would zoom it
        page.get_by_text("Suggested fixes").scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "explorer-checker-fixes.png"))
    page.get_by_role("button", name="Apply fix").first.click()
    page.get_by_text("Fix applied and the claim judged again").wait_for()
    wait_idle(page)
    seen["fixed"] = True
    seen["after_fix_text"] = page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
    return seen


#: what an analyst sees first: the sidebar's first section, in its order
ANALYST_PAGES = ("Claim checker", "Code finder", "Knowledge graph", "Batch", "Rules and sources")
ADVANCED_PAGES = ("Query console", "Rule text (Datalog)", "Export")

#: detail lines: where ids and raw logic may appear (small print, captions, tooltips); see visible_labels
DETAIL_SELECTOR = 'small, span[style*="font-size: 0.875rem"], [data-testid="stCaptionContainer"], [role="tooltip"], [data-testid="stTooltipContent"]'

VISIBLE_TEXT = """(detail) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const t = walker.currentNode, el = t.parentElement, text = (t.textContent || '').trim();
    if (!el || !text || el.closest('script, style, noscript, ' + detail)) continue;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;  // screen-reader-only copies (data grid, charts)
    out.push(text);
  }
  return out;
}"""

GRAPH_LABELS = """(body) => {
  const el = [...document.querySelectorAll('div')].find(d => d._cyreg && d._cyreg.cy);
  return el ? el._cyreg.cy.elements().map(e => e.data('label') || '').filter(Boolean) : [];
}"""


def visible_labels(page) -> list[str]:
    """Every visible text of the page outside detail lines (``DETAIL_SELECTOR``: ``small`` print, which
    Streamlit renders for ``:small[...]``, captions and tooltips), one string per text node."""
    return page.evaluate(VISIBLE_TEXT, DETAIL_SELECTOR)


def graph_labels(page, index: int = 0) -> list[str]:
    """The node and edge labels of a drawn Cytoscape graph (text drawn on a canvas, out of the DOM's reach)."""
    if page.locator(GRAPH_FRAME).count() <= index:
        return []
    return page.frame_locator(GRAPH_FRAME).nth(index).locator("body").evaluate(GRAPH_LABELS)


def open_page(page, title: str) -> None:
    """Go to a page by clicking its link in the sidebar, as an analyst would."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    wait_idle(page)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def download(page, button: str, to: Path) -> Path:
    """Click a download button (its label, icon aside) and save the file to ``to``."""
    with page.expect_download() as dl:
        page.get_by_role("button", name=button).first.click()
    dl.value.save_as(to)
    return to


def shoot(page, shots: Path | None, name: str, full: bool = True) -> None:
    if shots:
        page.mouse.move(5, 5)  # off any graph: a hover shows a tooltip, a wheel zooms
        page.wait_for_timeout(800)
        page.screenshot(path=str(shots / name), full_page=full)
        if full:
            trim(shots / name)


def analyst_walk(page, base: str, files: Path, shots: Path | None = None) -> dict:
    """Every analyst page as an analyst uses it, through the sidebar: check the example claim, unfold line
    1, apply a fix, download the claim's work paper; the code finder; the knowledge graph on a code's
    neighbourhood, a click on a node, the exclusion graph; the rules and the sources; a batch upload, a
    claim drilled into, its work paper and the batch's. Returns what was seen: ``labels`` (visible labels
    outside detail lines, per page state, graph labels included), the downloaded files, the sidebar."""
    seen: dict = {"labels": {}, "files": {}}
    seen.update(check_and_fix(page, base, shots))
    seen["labels"]["checker, line 1 explained"] = seen.pop("labels_explained")
    seen["sidebar"] = page.locator('[data-testid="stSidebarNav"]').inner_text()
    seen["labels"]["checker, fix applied"] = visible_labels(page)
    seen["files"]["claim"] = download(page, "Download this claim's work paper (HTML)", files / "claim.html")
    if shots:
        trim(shots / "explorer-checker.png")

    open_page(page, "Code finder")
    graph_canvas_drawn(page, 0)
    page.wait_for_timeout(1500)
    shoot(page, shots, "explorer-finder.png")
    page.locator('[data-testid="stExpander"] summary').first.click()  # the first code not chosen: why not
    wait_idle(page)
    seen["labels"]["finder"] = visible_labels(page) + graph_labels(page, 0)

    open_page(page, "Knowledge graph")
    seen["graph_drawn"] = graph_canvas_drawn(page, 0)
    page.wait_for_timeout(2000)  # the layout settles
    seen["graph_focus"] = page.locator("h3").first.inner_text()
    seen["graph_text"] = "\n".join(visible_labels(page))
    seen["labels"]["graph, neighbourhood"] = visible_labels(page) + graph_labels(page, 0)
    shoot(page, shots, "explorer-graph.png")
    click_graph_node(page, "Nurse")  # a neighbour: who may perform it
    seen["graph_clicked"] = page.locator("h3").first.inner_text()
    choose(page, "View", "Exclusion graph of a family")
    graph_canvas_drawn(page, 0)
    page.wait_for_timeout(1500)
    seen["exclusion_edges"] = page.frame_locator(GRAPH_FRAME).nth(0).locator("body").evaluate("""(body) => {
      const el = [...document.querySelectorAll('div')].find(d => d._cyreg && d._cyreg.cy);
      return el ? el._cyreg.cy.edges().map(e => [e.data('source'), e.data('target'), e.data('label')]) : [];
    }""")
    seen["labels"]["graph, exclusions"] = visible_labels(page) + graph_labels(page, 0)
    shoot(page, shots, "explorer-graph-exclusions.png")

    open_page(page, "Rules and sources")
    seen["labels"]["rules"] = visible_labels(page)
    shoot(page, shots, "explorer-rules.png")
    page.get_by_role("tab", name="Sources").click()
    wait_idle(page)
    seen["labels"]["sources"] = visible_labels(page)

    open_page(page, "Batch")
    examples = Path(__file__).resolve().parents[1] / "examples" / "claims-batch.json"
    page.locator('input[type="file"]').first.set_input_files(str(examples))
    page.get_by_role("button", name="Judge all").click()
    page.get_by_text("Rejected lines by reason").wait_for()
    page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for()
    wait_idle(page)
    page.wait_for_timeout(2000)
    shoot(page, shots, "explorer-batch.png")
    seen["batch_text"] = "\n".join(visible_labels(page))
    # drill into a row: the second claim of the picker (rejected claims come first)
    picker = page.get_by_label("Explain a claim", exact=True)
    picker.scroll_into_view_if_needed()  # below the two uploaders: its list opens only once it is in view
    picker.click()
    page.get_by_role("option").nth(1).wait_for()
    options = page.get_by_role("option").all_inner_texts()
    seen["drilled"] = options[1]
    page.get_by_role("option", name=options[1], exact=True).click()
    wait_idle(page)
    page.get_by_role("heading", name=f"Claim {options[1].rsplit(' (', 1)[0]}").first.wait_for()
    seen["labels"]["batch, claim drilled into"] = visible_labels(page)
    seen["files"]["drilled"] = download(page, "Download this claim's work paper (HTML)", files / "drilled.html")
    page.get_by_role("button", name="Prepare the work paper (explains every rejected claim)").click()
    page.get_by_role("button", name="Download the work paper (HTML)").wait_for()
    wait_idle(page)
    seen["files"]["batch"] = download(page, "Download the work paper (HTML)", files / "batch.html")
    if shots:  # the drilled-into claim and the work paper buttons
        page.get_by_role("heading", name=f"Claim {options[1].rsplit(' (', 1)[0]}").first.scroll_into_view_if_needed()
        shoot(page, shots, "explorer-batch-claim.png", full=False)
    return seen


def show_work_paper(path: Path, shot: Path) -> list[str]:
    """Open a downloaded work paper in Chromium and screenshot its first screen; returns the URLs it
    requested (only its own file: the page loads nothing)."""
    with browser_page(width=1100, height=1400) as (page, requests):
        page.goto(path.resolve().as_uri())
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot))
    return requests


def advanced_walk(page, shots: Path | None = None) -> dict[str, str]:
    """The Advanced section's pages, by the sidebar: run the example SPARQL query, show the rule text,
    preview the Turtle export; returns each page's heading as shown."""
    seen = {}
    for title, name, action in (("Query console", "explorer-query.png", "Run SPARQL"),
                                ("Rule text (Datalog)", "explorer-rule-text.png", None),
                                ("Export", "explorer-export.png", "Preview")):
        open_page(page, title)
        if action == "Preview":
            page.get_by_text("Preview cptkg-both.ttl").click()
            page.get_by_text("@prefix").first.wait_for()
        elif action:
            page.get_by_role("button", name=action).click()
            page.get_by_text("row(s)").wait_for()
        wait_idle(page)
        seen[title] = page.locator("h2").first.inner_text()
        shoot(page, shots, name)
    return seen


def tour(base: str, shots: Path) -> list[str]:
    """Walk every page (``analyst_walk``, then ``advanced_walk``), screenshot each and the batch's work
    paper; returns the requested URLs."""
    import tempfile

    shots.mkdir(parents=True, exist_ok=True)
    with browser_page(height=1900) as (page, requests), tempfile.TemporaryDirectory() as tmp:
        seen = analyst_walk(page, base, Path(tmp), shots)
        advanced_walk(page, shots)
        show_work_paper(seen["files"]["batch"], shots / "explorer-work-paper.png")
    return requests


def trim(path: Path, margin: int = 40, min_height: int = 900) -> None:
    """Cut the empty space below the page's content off a screenshot."""
    from PIL import Image, ImageChops

    im = Image.open(path).convert("RGB")
    main = im.crop((im.width // 4, 0, im.width, im.height))  # right of the sidebar
    bg = Image.new("RGB", main.size, main.getpixel((main.width - 5, main.height - 5)))
    box = ImageChops.difference(main, bg).getbbox()
    if box:
        im.crop((0, 0, im.width, min(im.height, max(min_height, box[3] + margin)))).save(path, optimize=True)


if __name__ == "__main__":  # python -m devtools.tour http://127.0.0.1:8501 docs/images
    reqs = tour(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
    outside = sorted({u for u in reqs if not u.startswith(sys.argv[1].rstrip("/"))})
    print(f"{len(reqs)} requests; outside the app: {outside or 'none'}")
