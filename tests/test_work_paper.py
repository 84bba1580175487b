"""The auditor's work paper (issue 15, item 5): the ``html`` writer, without a browser.

One self-contained page for one claim or a batch: summary counts, KB version, date judged, each
line's verdict, each denied line's reason by title with its CARC and group code, the source quotes,
why not and the verified fixes; nothing loaded from anywhere; every value from a claim escaped.
"""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

import cptkg
from cptkg import writers
from cptkg.knowledge.pack import REPO_ROOT as ROOT

IMG = "<IMG SRC=//127.1>"
BOLD = "<B>bold-xss</B>"
LINK = "![x](http://127.0.0.1:9/x)"
ATTR = '" onmouseover="alert(1)'

#: every element the work paper may contain: text, tables, quotes; no script, image, link, frame, form
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "dl", "dt", "dd", "table",
                "thead", "tbody", "tr", "th", "td", "span", "strong", "div", "section", "blockquote", "cite"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def parsed(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


def explained(kb, claims: list[dict]) -> list[dict]:
    """As ``cptkg check --explain --json``."""
    return cptkg.judge_claims(kb, claims, explain=True)


@pytest.fixture(scope="module")
def batch_paper(kb):
    claims = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
    results = explained(kb, claims)
    return results, writers.write(results, "html", created="2026-12-02")


def test_the_html_writer_is_registered_and_the_cli_offers_it():
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    assert "html" in writers.format_names()
    res = CliRunner().invoke(main, ["check", "--explain", "--output", "html", str(ROOT / "examples" / "claim-rejected.json")])
    assert res.exit_code == 1, res.output
    assert res.stdout.startswith("<!DOCTYPE html>") and "Claim audit work paper: claim CLM-1001" in res.stdout
    assert "1 claim, 3 lines" in res.stderr  # the summary goes to stderr, as for csv and fhir


def test_one_claim_paper_has_summary_version_date_reasons_carc_quotes_why_not_and_fixes(kb):
    res = explained(kb, [json.loads((ROOT / "examples" / "claim-rejected.json").read_text())])
    page = writers.write(res, "html", created="2026-12-02T10:00:00+00:00")
    text = " ".join(" ".join(parsed(page).text).split())
    assert "Judged on 2026-12-02T10:00:00+00:00" in text
    assert f"Knowledge base version {kb.version}" in text
    assert "Claims 1: 0 accepted, 1 rejected, 0 could not be judged" in text and "Lines 3: 1 accepted, 2 rejected" in text
    assert "Line 1 · 62367: rejected" in text
    assert "Reason: Component of a more comprehensive code billed the same day (CARC 97, group code CO)" in text
    assert "guide §1 (General Billing Guidelines) “Do not report CPT 62367, CPT 62368" in text
    assert "Why not accepted" in text and "No source here makes a nurse a physician or qualified health care professional" in text
    assert "is a kind of" not in text  # class-hierarchy wording is not billing words (issue 23)
    assert "Fix 1 (re-checked by the rules; the claim is then accepted): Remove line 1 (62367)" in text
    assert "accepted for billing under the supervising physician or QHP" in text  # line 2's verdict in words
    # rule ids only in detail lines
    assert 'class="detail">rule exclusion.component' in page


def test_batch_paper_counts_reasons_and_lists_every_claim(kb, batch_paper):
    results, page = batch_paper
    text = " ".join(" ".join(parsed(page).text).split())
    assert "Denied lines by reason" in text
    assert text.count("Claim ") >= len(results)
    for r in results:
        assert f"Claim {r['claim_id']}:" in text
    assert "C-BAD: cannot be judged" in text and "Cannot be judged: claim C-BAD" in text
    rejected_lines = sum(1 for r in results for ln in r.get("lines", []) if ln["status"] == "rejected")
    assert f"{rejected_lines} rejected" in text
    # the lines add up to the lines given: those of a claim that could not be judged are counted (an explorer
    # audit: 370 of 371 uploaded lines, the one not judged unsaid)
    given = sum(len(c.get("lines") or []) if isinstance(c.get("lines"), list) else 0
                for c in json.loads((ROOT / "examples" / "claims-batch.json").read_text()))
    not_judged = sum(len(r.get("lines_not_judged") or []) for r in results if r["status"] == "error")
    assert not_judged and f"Lines {given}:" in text and f"{not_judged} not judged" in text, text[:600]


def test_the_paper_loads_nothing_and_prints(batch_paper):
    _, page = batch_paper
    p = parsed(page)
    assert set(p.tags) <= ALLOWED_TAGS, set(p.tags) - ALLOWED_TAGS
    assert not [v for k, v in p.attrs if k in ("src", "href", "srcset", "action", "data")]
    assert "default-src 'none'" in page and "@media print" in page and "@import" not in page and "url(" not in page


def hostile_claims() -> list[dict]:
    line = {"date_of_service": "2025-03-04", "provider_id": IMG, "provider_role": "physician"}
    return [
        {"claim_id": IMG, "patient_id": BOLD, "lines": [dict(line, line=1, code="62367"), dict(line, line=2, code="95990"),
                                                       dict(line, line=3, code=BOLD)]},
        {"claim_id": LINK + ATTR, "patient_id": "P", "lines": [dict(line, line=1, code=IMG)]},
        {"claim_id": BOLD, "patient_id": "P", "lines": [dict(line, line=1, code="62367", date_of_service=IMG)]},
    ]


def test_hostile_claim_values_are_text_never_markup(kb):
    results = explained(kb, hostile_claims())
    assert [r["status"] for r in results] == ["rejected", "rejected", "error"]
    for page in (writers.write(results, "html", created=IMG), writers.write(results[:1], "html")):
        p = parsed(page)
        assert set(p.tags) <= ALLOWED_TAGS, set(p.tags) - ALLOWED_TAGS
        assert "<IMG" not in page and "<B>" not in page and "onmouseover=\"" not in page
        assert not [v for k, v in p.attrs if k in ("src", "href", "onmouseover")]
        text = "".join(p.text)
        assert IMG in text  # shown as the characters it is
    page = writers.write(results, "html", created=IMG)
    assert "&lt;IMG SRC=//127.1&gt;" in page and "&lt;B&gt;bold-xss&lt;/B&gt;" in page
    assert "Claim audit work paper: claim &lt;IMG SRC=//127.1&gt;" in writers.write(results[:1], "html")


def test_control_characters_in_a_claim_id_stay_on_one_line(kb):
    res = cptkg.check({"claim_id": "C1\n<h1>fake</h1>", "patient_id": "P", "lines": []}, kb=kb)
    page = writers.write([res], "html")
    assert "<h1>fake" not in page and "C1\\n&lt;h1&gt;fake&lt;/h1&gt;" in page
