"""Issue 23's done-when, an analyst's walk of every page with unseen claims, in Debian's Chromium: each
obstacle the walk fixed in the explorer's own pages is pinned here. Every claim is SYNTHETIC (ids WLK-…)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.test_browser import app_url  # noqa: F401
from tests.test_browser_analyst import _upload

pytestmark = pytest.mark.browser


def _csv_with_one_bad_date(path: Path, claims: int = 100, bad: int = 28) -> Path:
    """claims × 2 lines (a refill-with-reprogramming and its drug, SYNTHETIC), one impossible date on claim
    ``bad``: the shape of the walk's 200-line file."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role"])
        for i in range(claims):
            for line, code in ((1, "62369"), (2, "J0475")):
                date = "2025-13-40" if (i == bad and line == 2) else "2025-06-02"
                w.writerow([f"WLK-C{i}", f"WLK-P{i}", line, code, date, "1234567893", "nurse"])
    return path


def test_batch_names_the_claim_that_could_not_be_judged_and_why_beside_its_count(app_url, tmp_path):  # noqa: F811
    """Before: "could not be judged 1" and nothing else on the page; the claim and its bad date were one row,
    57 rows down a 199-row table, whose shown columns do not include the message."""
    from devtools.tour import browser_page

    path = _csv_with_one_bad_date(tmp_path / "walk-200.csv")
    with browser_page(height=1400) as (page, _):
        _upload(page, app_url, path)
        page.get_by_text("Lines by verdict").wait_for(timeout=120_000)
        notice = page.locator('[data-testid="stAlert"]').filter(has_text="could not be judged").first
        notice.wait_for(timeout=30_000)
        words = notice.inner_text()
        assert "1 claim could not be judged" in words
        assert "WLK-C28" in words and "row 58" in words and "not a real calendar date" in words
        assert "WLK-C27" not in words  # only the claim that failed is named
        # the others are judged: 99 claims, each with its rejected drug line (no KD)
        from playwright.sync_api import expect

        expect(page.get_by_text("rejected claims").first).to_be_visible(timeout=30_000)
