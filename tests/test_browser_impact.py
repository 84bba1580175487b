"""Issue 25 in Debian's Chromium: the "What changed" page as an analyst meets it. Two quarterly releases of
CMS's tables are uploaded as CMS publishes them (tests/test_impact.py's layouts; EVERY CODE PAIR, UNIT VALUE,
DATE AND ROW SYNTHETIC), then a claims file (SYNTHETIC claims); the page lists exactly the expected changed
lines, a row click opens one with both sides' explanations, and both downloads hold the same lines."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.test_browser import _outside, app_url  # noqa: F401
from tests.test_edit_tables_published import mue_csv, ptp_text
from tests.test_impact import CLAIMS, EXPECTED, HISTORY, Q1_MUE, Q1_PTP, Q2_MUE, Q2_PTP

pytestmark = pytest.mark.browser


@pytest.fixture()
def uploads(tmp_path) -> dict[str, list[Path]]:
    before = [ptp_text(tmp_path / "PTP-2026Q1.txt", Q1_PTP), mue_csv(tmp_path / "MUE-2026Q1.csv", Q1_MUE)]
    after = [ptp_text(tmp_path / "PTP-2026Q2.txt", Q2_PTP), mue_csv(tmp_path / "MUE-2026Q2.csv", Q2_MUE)]
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CLAIMS), encoding="utf-8")
    history = tmp_path / "history.csv"
    history.write_text(HISTORY, encoding="utf-8")
    return {"before": before, "after": after, "claims": [claims], "history": [history]}


def test_two_releases_and_a_claims_file_show_the_changed_lines_open_one_and_download_the_report(  # noqa: F811
        app_url, uploads, tmp_path):
    from devtools.tour import browser_page, wait_idle

    with browser_page(height=2200) as (page, requests):
        page.goto(app_url + "/what-changed")
        page.get_by_role("heading", name="What changed").first.wait_for()
        wait_idle(page)
        inputs = page.locator('input[type="file"]')
        for i, which in enumerate(("before", "after", "claims", "history")):
            inputs.nth(i).set_input_files([str(p) for p in uploads[which]])
            wait_idle(page)
        page.get_by_role("button", name="Compare").click()
        page.get_by_text("claims affected").wait_for(timeout=180_000)
        page.get_by_text("Changed lines by edit or rule").wait_for()
        page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for()
        # the first changed line is open: claim A line 2, paid now that the pair's row carries a deletion date
        page.get_by_text("no longer applies").first.wait_for(timeout=60_000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        shown = grid.locator("table").first.text_content()
        for claim, line, direction in EXPECTED:
            assert direction in shown
        # a click on the second row (claim B, line 2) opens it with both explanations
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 35 + 17)
        page.get_by_role("heading", name="Claim B, line 2 · 20610: newly denied").wait_for(timeout=60_000)
        page.get_by_text("NCCI PTP edit 29880/20610, release 2026Q2").first.wait_for()
        page.get_by_text("No denial rule applies to this line.").first.wait_for()
        page.locator('[data-testid="stMarkdownContainer"]').get_by_text("CO-236", exact=True).first.wait_for()
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download the changed lines (CSV)").click()
        dl.value.save_as(tmp_path / "impact.csv")
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download the work paper (HTML)").click()
        dl.value.save_as(tmp_path / "impact.html")
    rows = list(csv.DictReader((tmp_path / "impact.csv").open(encoding="utf-8")))
    assert {(r["claim_id"], int(r["line"]), r["direction"]) for r in rows} == (
        EXPECTED | {("B", 1, "warnings changed")})
    paper = (tmp_path / "impact.html").read_text(encoding="utf-8")
    assert "<dt>Claims file</dt><dd>claims.json</dd>" in paper and "release 2026Q2 (2026-04-01): PTP-2026Q2.txt" in paper
    assert paper.count('<section class="change') == 4
    assert _outside(requests, app_url) == []  # nothing loaded from elsewhere (no CDN)
