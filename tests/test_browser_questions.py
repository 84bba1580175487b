"""The Questions page in a real browser (issue 23, finding 6): the honest who-may-perform answer.

Asked of 62360 (an implantation no source lists performers for), the page used to say that a
nurse practitioner, a physical therapist, a physician and a physician assistant "may perform and
report" it, and only its last sentence that no source lists performers. It now says first that
the rules do not check the performer, and "may perform and report" nowhere. Debian's Chromium,
driven as tests/test_browser.py does; every request stays on 127.0.0.1.
"""
from __future__ import annotations

import pytest

from tests.test_browser import _outside, app_url  # noqa: F401

pytestmark = pytest.mark.browser


def test_questions_page_says_the_rules_do_not_check_who_performs_62360(app_url):  # noqa: F811
    from devtools.tour import browser_page, wait_idle

    with browser_page() as (page, requests):
        page.goto(app_url + "/questions")
        page.wait_for_selector("h2")
        wait_idle(page)
        form = page.locator('[data-testid="stForm"]').first
        ask = form.get_by_role("button", name="Ask")  # the first code of the family (62360) is chosen by default
        ask.wait_for()
        ask.click()
        answer = page.locator('[data-testid="stAlert"]').filter(has_text="As the claim rules judge one line of 62360")
        answer.first.wait_for()
        wait_idle(page)
        said = " ".join(answer.first.inner_text().split())
        body = " ".join(page.locator("body").inner_text().split())
    assert "no source here lists who performs 62360, so the rules do not check its performer" in said
    assert "may perform and report" not in said and "may perform and report" not in body
    assert "lists no performers" not in said  # the old last sentence, now said first and in words
    assert _outside(requests, app_url) == []
