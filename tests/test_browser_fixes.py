"""The checker shows the coder's fixes as they are (issue 23, finding 4), in Debian's Chromium.

Each case of the finding is pasted into the checker's JSON tab as an analyst would, and the fix
list is read as the page shows it: a nurse's 62370 + 95990 reads "replace lines 1 and 2 by 62369"
first, and Apply fix gives an accepted claim; 77 on the same provider's repeat reads "modifier
77 → 76", and applying it leaves 76 on the line; an unmarked twin line asks first whether it was
a true repeat, with the removal after it as "Otherwise"; a J-code without KD reads "add modifier
KD" and no fix removes the drug line. Claim, patient and provider ids are synthetic (SYN-…); the
codes, roles and modifiers are those the issue names (domain notes: "Who may perform", "What may
be billed together", "How payers apply edits", "Drug codes billed with a refill").
"""
from __future__ import annotations

import json

import pytest

from tests.test_browser import app_url  # noqa: F401  (the fixture starting the explorer)

pytestmark = pytest.mark.browser


def claim(*lines) -> dict:
    """A synthetic claim: every line on 2025-03-04 by provider SYN-1 (a nurse) unless it says otherwise."""
    base = {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "SYN-1", "provider_role": "nurse"}
    return {"claim_id": "SYN-BRW-1", "patient_id": "SYN-P-1", "lines": [dict(base, **l) for l in lines],
            "history": [{"code": "62362", "date_of_service": "2024-01-01"}]}


def _text(page) -> str:
    return "\n".join(page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()).replace("\u2060", "")


def _fix_list(page) -> list[str]:
    """The texts of the suggested fixes, in the page's order (each one's column beside its Apply fix button)."""
    text = _text(page)
    after = text.split("Suggested fixes", 1)[1]
    return [t for t in after.split("\n") if t.strip()]


def _checked(page, app_url, raw: dict) -> str:  # noqa: F811
    from devtools.tour import wait_idle

    page.goto(app_url + "/")
    page.wait_for_selector("h2")
    wait_idle(page)
    page.get_by_role("tab", name="JSON", exact=False).click()
    page.get_by_label("…or paste JSON").fill(json.dumps(raw))
    page.get_by_role("button", name="Check JSON").click()
    page.get_by_text("Suggested fixes").wait_for()
    wait_idle(page)
    return _text(page).split("Suggested fixes", 1)[1]


def _apply_first(page) -> str:
    from devtools.tour import wait_idle

    page.get_by_role("button", name="Apply fix").first.click()
    page.get_by_text("Fix applied and the claim judged again").wait_for()
    wait_idle(page)
    return "\n".join(page.locator("h3").all_inner_texts())


def test_a_nurses_62370_and_95990_show_the_recode_to_62369_first_and_apply_it(app_url):  # noqa: F811
    from devtools.tour import browser_page

    with browser_page(height=2400) as (page, _):
        fixes = _checked(page, app_url, claim({"code": "62370"}, {"line": 2, "code": "95990"}))
        assert fixes.lstrip().startswith("recode"), fixes[:300]
        assert "replace lines 1 and 2 by 62369" in fixes, fixes[:600]
        assert "remove line 1" not in fixes.lower(), fixes[:600]
        heads = _apply_first(page)
        page.get_by_role("tab", name="JSON", exact=False).click()
        pasted = json.loads(page.get_by_label("…or paste JSON").input_value())
    assert "SYN-BRW-1: accepted" in heads.replace("\n", " "), heads
    assert [ln["code"] for ln in pasted["lines"]] == ["62369"]


def test_77_on_the_same_providers_repeat_shows_77_to_76_and_applies_it(app_url):  # noqa: F811
    from devtools.tour import browser_page

    raw = claim({"code": "62367", "provider_role": "physician"},
                {"line": 2, "code": "62367", "provider_role": "physician", "modifiers": ["77"]})
    with browser_page(height=2400) as (page, _):
        fixes = _checked(page, app_url, raw)
        assert "line 2: modifier 77 → 76" in fixes, fixes[:600]
        assert "add modifier 76" not in fixes, fixes[:600]
        heads = _apply_first(page)
        page.get_by_role("tab", name="JSON", exact=False).click()
        pasted = json.loads(page.get_by_label("…or paste JSON").input_value())
    assert "SYN-BRW-1: accepted" in heads.replace("\n", " "), heads
    assert pasted["lines"][1]["modifiers"] == ["76"]


def test_an_unmarked_twin_asks_first_and_offers_the_removal_as_otherwise(app_url):  # noqa: F811
    from devtools.tour import browser_page

    raw = claim({"code": "62367", "provider_role": "physician"}, {"line": 2, "code": "62367", "provider_role": "physician"})
    with browser_page(height=2400) as (page, _):
        fixes = _checked(page, app_url, raw)
    ask = fixes.index("Ask first: Was 62367 on line 2 a true repeat of line 1")
    assert ask < fixes.index("mark it 76") < fixes.index("Otherwise") < fixes.index("Remove line 2"), fixes[:900]
    assert "Otherwise," not in fixes, "the removal is labelled Otherwise, not a sentence starting with it"


def test_a_drug_without_kd_shows_add_kd_and_never_removes_the_drug_line(app_url):  # noqa: F811
    from devtools.tour import browser_page

    # line 2: J2278 without KD; line 3: an unmarked twin of line 1 (its removal is the question's otherwise)
    raw = claim({"code": "95990"}, {"line": 2, "code": "J2278"}, {"line": 3, "code": "95990"})
    with browser_page(height=2400) as (page, _):
        fixes = _checked(page, app_url, raw)
        heads = _apply_first(page)
    assert "line 2: add modifier KD" in fixes, fixes[:900]
    assert "Ask first: Was 95990 on line 3 a true repeat" in fixes and "Otherwise" in fixes, fixes[:900]
    assert "remove line 2" not in fixes.lower(), "the billable drug line is never removed"
    assert "SYN-BRW-1: accepted" in heads.replace("\n", " "), heads
