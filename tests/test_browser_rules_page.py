"""Issue 23, finding 9, in Debian's Chromium: the rules page as an analyst reads it. Its table and the picked
rule said most rules as templates full of "…" blanks; every rule now reads as a billing sentence."""
from __future__ import annotations

import re

import pytest

from tests.test_browser import app_url  # noqa: F401

pytestmark = pytest.mark.browser


def _rule_sentences(page) -> list[str]:
    """The picked rule's sentences: the markdown lines that say what it does, says and shows by example."""
    lines = page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
    return [x for x in lines if x.startswith(("what it does:", "says:", "for example:"))]


def test_rules_page_says_every_rule_without_blanks(app_url):  # noqa: F811  (finding 9)
    from devtools.tour import browser_page, wait_idle

    with browser_page(height=1400) as (page, _):
        page.goto(app_url + "/rules")
        page.get_by_role("heading", name="Rules and sources").first.wait_for()
        wait_idle(page)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.locator("canvas").first.wait_for()
        page.wait_for_timeout(1500)
        table = grid.locator("table").first.text_content()
        assert "says" in table and "what it does" in table and "denies the line" in table
        assert "…" not in table and "{" not in table
        said = _rule_sentences(page)
        assert [x.split(":")[0] for x in said] == ["what it does", "says", "for example"], said
        assert not [x for x in said if "…" in x or "{" in x]
        # a helper rule: what it establishes, and a worked example's filled message
        page.get_by_label("Filter (title, message or source)").fill("edit.applies")
        page.keyboard.press("Enter")
        wait_idle(page)
        page.get_by_role("heading", name="Pair edit applies").first.wait_for()
        # the picked rule's example, not the previous rule's block still on the page while Streamlit reruns
        page.get_by_text(re.compile(r"applies to line \d+ \(column 2\)")).first.wait_for(timeout=120_000)
        wait_idle(page)
        said = _rule_sentences(page)
        assert any(x.startswith("what it does: establishes a step other rules use") for x in said), said
        assert any(x.startswith("for example:") and re.search(r"applies to line \d+ \(column 2\)", x) for x in said), said
        assert not [x for x in said if "…" in x or "{" in x]
        assert "cases that pin" not in page.locator("[data-testid='stMain']").first.inner_text()
        # a rule's worked examples run on the session's engine (the button stopped the page: no engine chosen)
        page.get_by_label("Filter (title, message or source)").fill("exclusion.component")
        page.keyboard.press("Enter")
        wait_idle(page)
        page.get_by_role("heading", name="Component of a more comprehensive code billed the same day").first.wait_for()
        wait_idle(page)
        page.get_by_role("button", name="Run these cases").first.click()
        page.get_by_text(re.compile(r"^pass: ")).first.wait_for(timeout=120_000)
        wait_idle(page)
        main = page.locator("[data-testid='stMain']").first.inner_text()
        assert "FAIL:" not in main and "encountered an error" not in main
