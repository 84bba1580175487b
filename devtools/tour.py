"""A scripted tour of the running explorer in a real browser (Playwright
driving the system's Chromium): the browser test walks it, and
``python -m devtools.tour URL docs/`` takes the screenshots in docs/.

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


def tour(base: str, shots: Path) -> list[str]:
    """Visit every page, do its main action, screenshot it; returns the requested URLs."""
    shots.mkdir(parents=True, exist_ok=True)
    with browser_page(height=1900) as (page, requests):
        check_and_fix(page, base, shots)
        for path, name, action in (
            ("/graph", "explorer-graph.png", None),
            ("/finder", "explorer-finder.png", None),
            ("/rules", "explorer-rules.png", None),
            ("/query", "explorer-query.png", "Run SPARQL"),
            ("/batch", "explorer-batch.png", "upload"),
            ("/export", "explorer-export.png", "Preview"),
        ):
            page.goto(base + path)
            page.wait_for_selector("h2")
            wait_idle(page)
            if action == "upload":
                examples = Path(__file__).resolve().parents[1] / "examples" / "claims-batch.json"
                page.locator('input[type="file"]').set_input_files(str(examples))
                page.get_by_role("button", name="Judge all").click()
                page.get_by_text("Rejected lines by reason").wait_for()
                page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for()
                page.wait_for_timeout(3000)
            elif action == "Preview":
                page.get_by_text("Preview cptkg-both.ttl").click()
                page.get_by_text("@prefix").first.wait_for()
            elif action:
                page.get_by_role("button", name=action).click()
                page.get_by_text("row(s)").wait_for()
            wait_idle(page)
            if path in ("/graph", "/finder"):
                graph_canvas_drawn(page, 0)
                page.wait_for_timeout(2000)
            if path == "/graph":
                from cptkg.knowledge.loader import default_kb

                click_graph_node(page, default_kb().family_codes()[4])  # a code in the middle of the family
                page.get_by_text("who may perform it").wait_for()
                page.wait_for_timeout(1500)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / name), full_page=True)
            trim(shots / name)
    trim(shots / "explorer-checker.png")
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


if __name__ == "__main__":  # python -m devtools.tour http://127.0.0.1:8501 docs
    reqs = tour(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
    outside = sorted({u for u in reqs if not u.startswith(sys.argv[1].rstrip("/"))})
    print(f"{len(reqs)} requests; outside the app: {outside or 'none'}")
