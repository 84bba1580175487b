"""The work paper printed by Debian's Chromium (issue 23, finding 5): one claim per page, nothing loaded.

The auditor keeps the paper as a PDF (Print, then Save as PDF); each signed sheet must cover one claim,
so Chromium's print-to-PDF (``page.pdf()``, the same layout engine as its print dialog) of a batch
paper has the summary page and then a page per claim. The claims are SYNTHETIC and short (each fits one
page), so the page count is the count of page breaks. The paper is opened from a file: it needs no
server, and every request it makes must be that file (its Content-Security-Policy forbids the rest).
Run: ``.venv/bin/python -m pytest -q -p no:cacheprovider -m browser tests/test_browser_work_paper.py``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import cptkg
from cptkg import writers

pytestmark = pytest.mark.browser

#: SYNTHETIC claims: each a single line, each accepted, judged by the pack as any claim is
CLAIMS = [{"claim_id": f"SYN-{n}", "patient_id": f"SYNTH-PATIENT-{n:06d}", "lines": [
    {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "1999999984",
     "provider_role": "physician"}]} for n in range(1, 4)]


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF Chromium wrote (one ``/Type /Page`` object each; ``/Pages`` is the tree)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def printed(tmp_path: Path, html: str) -> tuple[int, list[str]]:
    from devtools.tour import browser_page

    path = tmp_path / "work-paper.html"
    path.write_text(html, encoding="utf-8")
    with browser_page() as (page, requests):
        page.goto(path.as_uri())
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4")
    return pdf_pages(pdf), requests


def test_a_printed_batch_paper_puts_each_claim_on_its_own_page(kb, tmp_path):
    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is needed: apt-get install -y chromium"
    results = cptkg.judge_claims(kb, CLAIMS)
    pages, requests = printed(tmp_path, writers.write(results, "html", created="2026-12-02", claims=CLAIMS))
    assert pages == 1 + len(CLAIMS)  # the summary, then one sheet per claim
    assert requests == [(tmp_path / "work-paper.html").as_uri()]  # nothing else was loaded


def test_a_printed_one_claim_paper_is_one_page(kb, tmp_path):
    results = cptkg.judge_claims(kb, CLAIMS[:1])
    pages, _ = printed(tmp_path, writers.write(results, "html", created="2026-12-02", claims=CLAIMS[:1]))
    assert pages == 1  # no blank summary sheet before the only claim
