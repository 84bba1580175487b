"""The explorer in a real browser: the README's run command starts it,
Playwright drives Debian's Chromium (never a downloaded browser) through
checking a rejected claim, unfolding its explanation and applying a fix, and
every request the page made is checked to have stayed on 127.0.0.1.

Run by ``.ci/browser.sh`` (which installs Chromium when missing):
``pytest -m browser``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is needed: apt-get install -y chromium (.ci/browser.sh does)"
    port = _free_port()
    log = open(ROOT / ".pytest_cache" / "explorer-app.log" if (ROOT / ".pytest_cache").exists() else os.devnull, "w")
    proc = subprocess.Popen(["bash", "scripts/app.sh"], cwd=ROOT, env={**os.environ, "PORT": str(port)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600  # the first start installs the project into .venv
        while True:
            if proc.poll() is not None:
                pytest.fail(f"bash scripts/app.sh exited with {proc.returncode} before serving")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("the explorer did not answer within 600 s")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _outside(requests: list[str], url: str) -> list[str]:
    return sorted({u for u in requests if not (u.startswith(url) or u.startswith("data:") or u.startswith("blob:"))})


def test_rejected_claim_explained_and_fixed_in_a_real_browser(app_url):
    from devtools.tour import browser_page, check_and_fix

    with browser_page() as (page, requests):
        seen = check_and_fix(page, app_url)
        assert seen["rejected"], "the example claim is shown rejected"
        assert seen["proof_text"], "the explanation unfolds into the proof"
        assert seen["canvas"], "the proof graph drew into its canvas"
        assert seen["fixed"]
        after = "\n".join(seen["after_fix_text"])
        assert "accepted" in after and "rejected" not in after.split("Fix applied")[-1].split("Suggested fixes")[0]
    assert _outside(requests, app_url) == [], "a request left 127.0.0.1"


def test_knowledge_graph_draws_offline_and_a_click_opens_details(app_url):
    from devtools.tour import browser_page, click_graph_node, graph_canvas_drawn, wait_idle

    with browser_page() as (page, requests):
        page.goto(app_url + "/graph")
        page.get_by_text("Knowledge graph").first.wait_for()
        wait_idle(page)
        assert graph_canvas_drawn(page, 0)
        page.wait_for_timeout(1000)  # the layout settles
        click_graph_node(page, "95991")
        assert page.locator("h3").filter(has_text="95991").count() == 1, "a click on a node opens its details"
        page.get_by_text("who may perform it").first.wait_for()
    assert _outside(requests, app_url) == []


def test_batch_upload_charts_and_downloads_csv(app_url, tmp_path):
    from devtools.tour import browser_page, wait_idle

    with browser_page() as (page, requests):
        page.goto(app_url + "/batch")
        page.get_by_text("Claims (JSON list, FHIR JSON or CSV)").wait_for()
        wait_idle(page)
        page.locator('input[type="file"]').set_input_files(str(ROOT / "examples" / "claims-batch.json"))
        page.get_by_role("button", name="Judge all").click()
        page.get_by_text("judged 21 of 21 claims").wait_for()
        page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for()
        with page.expect_download() as dl:
            page.get_by_test_id("stDownloadButton").get_by_role("button").click()
        path = tmp_path / "batch.csv"
        dl.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("claim_id,claim_status,line,code,line_status,rules,messages,warnings,titles")
    assert "C-BAD,error" in text and "exclusion.component" in text
    assert _outside(requests, app_url) == []


def test_batch_row_drills_into_its_explanation_and_the_work_paper_downloads(app_url, tmp_path):
    from cptkg.explain.summary import raw_atoms
    from devtools.tour import browser_page, wait_idle

    with browser_page(height=1900) as (page, requests):
        page.goto(app_url + "/batch")
        page.get_by_text("Claims (JSON list, FHIR JSON or CSV)").wait_for()
        wait_idle(page)
        page.locator('input[type="file"]').set_input_files(str(ROOT / "examples" / "claims-batch.json"))
        page.get_by_role("button", name="Judge all").click()
        page.get_by_text("judged 21 of 21 claims").wait_for()
        wait_idle(page)
        page.get_by_text("Denied — Component of a more comprehensive code billed the same day").first.wait_for()
        shown = "\n".join(page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts())
        assert "Fix:" in shown
        assert not raw_atoms(shown), f"raw logic shown to the analyst: {raw_atoms(shown)}"
        page.get_by_role("button", name="Prepare the work paper (explains every rejected claim)").click()
        page.get_by_role("button", name="Download the work paper (Markdown)").wait_for()
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download the work paper (Markdown)").click()
        path = tmp_path / "paper.md"
        dl.value.save_as(path)
    paper = path.read_text(encoding="utf-8")
    assert paper.startswith("# Claim audit work paper") and "Reason: **Component of a more comprehensive code" in paper
    assert "Source: guide §1" in paper and "Fix" in paper
    assert _outside(requests, app_url) == []
