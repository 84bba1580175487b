"""Issue 16, finding 3: nothing a claim (or a query, a filter, an upload) says
is markup in the explorer. Every page is walked in a real browser with
hostile values; the test fails on an element made from user text (img,
iframe, style, b, a link) or on any request that leaves the app's own
127.0.0.1:port. Run by .ci/browser.sh (``pytest -m browser``).
"""
from __future__ import annotations

import json

import pytest

from test_browser import app_url  # noqa: F401  (the fixture starting the explorer)

pytestmark = pytest.mark.browser

IMG = "<IMG SRC=//127.1>"
FRAME = "<IFRAME SRC=//127.1>"
STYLE = "<STYLE>p{color:red}</STYLE>"
BOLD = "<B>bold-xss</B>"
LINK_IMG = "![x](http://127.0.0.1:9/x)"
HOSTILE = [IMG, FRAME, STYLE, BOLD, LINK_IMG]


def hostile_claims() -> list[dict]:
    line = {"date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"}
    out = []
    for i, cid in enumerate(HOSTILE):
        out.append({"claim_id": cid, "patient_id": f"P{i}", "lines": [
            dict(line, line=1, code="62367"), dict(line, line=2, code="95990"),
            dict(line, line=3, code=[IMG, FRAME, "<B>b</B>", "![y](//127.1/y)", "<STYLE>"][i])]})
    # a claim that cannot be judged: its error box quotes the value
    out.append({"claim_id": LINK_IMG + " bad", "patient_id": "P", "lines": [dict(line, line=1, code="62367",
                                                                               date_of_service=IMG)]})
    return out


MARKUP_FROM_USER = """() => {
  const bad = [];
  const origin = location.origin;
  for (const el of document.querySelectorAll('img, iframe, video, audio, source, embed, object, link')) {
    const src = el.getAttribute('src') || el.getAttribute('href') || el.getAttribute('data') || '';
    if (src && !src.startsWith('data:') && !src.startsWith('blob:') && !src.startsWith('about:')
        && !(new URL(src, location.href).href.startsWith(origin)))
      bad.push(el.tagName + ' ' + src);
  }
  const user = '[data-testid="stMarkdownContainer"], [data-testid="stAlert"], [data-testid="stHeading"], '
             + '[data-testid="stExpander"] summary, [data-testid="stCaptionContainer"]';
  for (const box of document.querySelectorAll(user))
    for (const el of box.querySelectorAll('img, iframe, style, b, a, script, object, embed, video, audio, form, input'))
      if (!(el.tagName === 'A' && (el.getAttribute('href') || '').startsWith('#')))  // Streamlit's heading anchors
        bad.push('in text: ' + el.outerHTML.slice(0, 100));
  for (const el of document.querySelectorAll('style'))
    if (el.textContent.includes('p{color:red}')) bad.push('STYLE from user text');
  return bad;
}"""


def _outside(requests, url):
    return sorted({u for u in requests if not (u.startswith(url) or u.startswith("data:") or u.startswith("blob:"))})


def _page_text(page) -> str:
    return "\n".join(page.locator('[data-testid="stMarkdownContainer"], [data-testid="stAlert"]').all_inner_texts())


def test_every_page_shows_hostile_values_as_text(app_url, tmp_path):  # noqa: F811
    from devtools.tour import browser_page, wait_idle

    claims_file = tmp_path / "hostile.json"
    claims_file.write_text(json.dumps(hostile_claims()), encoding="utf-8")
    found: dict[str, list[str]] = {}
    with browser_page(height=2400) as (page, requests):
        # checker: the JSON tab, several claims judged together, explanations unfolded
        page.goto(app_url + "/")
        page.wait_for_selector("h2")
        wait_idle(page)
        page.get_by_role("tab", name="JSON", exact=False).click()
        page.get_by_label("…or paste JSON").fill(json.dumps(hostile_claims()))
        page.get_by_role("button", name="Check JSON").click()
        page.get_by_text("cannot be judged").first.wait_for()
        wait_idle(page)
        for exp in page.get_by_text("Explain line", exact=False).all()[:6]:
            exp.click()
        wait_idle(page)
        found["checker"] = page.evaluate(MARKUP_FROM_USER)
        text = (_page_text(page) + "\n".join(page.locator("h3").all_inner_texts())).replace("\u2060", "")
        for v in (BOLD, LINK_IMG, IMG, STYLE, FRAME):
            assert v in text, f"{v} is not shown as text on the checker page"
        # batch: the same claims uploaded
        page.goto(app_url + "/batch")
        page.wait_for_selector("h2")
        wait_idle(page)
        page.locator('input[type="file"]').first.set_input_files(str(claims_file))  # the claims, not the history
        page.get_by_role("button", name="Judge all").click()
        page.get_by_text("could not be judged").first.wait_for()
        wait_idle(page)
        found["batch"] = page.evaluate(MARKUP_FROM_USER)
        # query console: hostile text in a SPARQL query and a Datalog query (their errors quote it)
        page.goto(app_url + "/query")
        page.wait_for_selector("h2")
        wait_idle(page)
        page.get_by_label("SPARQL query").fill(f"SELECT * WHERE {{ {IMG} {LINK_IMG} {BOLD} }}")
        page.get_by_role("button", name="Run SPARQL").click()
        page.locator('[data-testid="stAlert"]').first.wait_for()
        wait_idle(page)
        found["query-sparql"] = page.evaluate(MARKUP_FROM_USER)
        page.get_by_role("tab", name="Datalog", exact=False).click()
        page.get_by_role("textbox", name="Datalog").fill(f'q(X) :- {BOLD}{IMG}{LINK_IMG}(X).')
        page.get_by_role("button", name="Run Datalog").click()
        page.locator('[data-testid="stAlert"]').first.wait_for()
        wait_idle(page)
        found["query-datalog"] = page.evaluate(MARKUP_FROM_USER)
        # rules: a hostile filter
        page.goto(app_url + "/rules")
        page.wait_for_selector("h2")
        wait_idle(page)
        page.get_by_label("Filter (title, message or source)").fill(IMG + LINK_IMG)
        page.keyboard.press("Enter")
        wait_idle(page)
        found["rules"] = page.evaluate(MARKUP_FROM_USER)
        for path in ("/graph", "/finder", "/questions", "/export"):
            page.goto(app_url + path)
            page.wait_for_selector("h2")
            wait_idle(page)
            found[path] = page.evaluate(MARKUP_FROM_USER)
        page.wait_for_timeout(1000)
    assert {k: v for k, v in found.items() if v} == {}, "markup rendered from user text"
    assert _outside(requests, app_url) == [], "a request left the app (127.0.0.1:port)"
