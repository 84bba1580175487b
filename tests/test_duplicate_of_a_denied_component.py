"""A duplicate is denied in favour of a line that stands (n-duplicates, n-precedence), and a line denied as the
component of a pair edit does not stand.

An auditor's claim: 27447, 20610 and 20610-59 by one provider under an indicator-1 pair edit (27447/20610,
SYNTHETIC table tests/data/edits/synthetic-ptp.ttl, in force from 2025-01-01). 20610 was denied as the
component and 20610-59 as "an exact duplicate of line 2: the first line stands", though line 2 did not
stand: no 20610 was paid, where the notes deny the column 2 code "unless a clinically appropriate
NCCI-associated modifier is also reported". Every claim here is judged on every engine.
"""
from pathlib import Path

import pytest

import cptkg
from cptkg.knowledge.loader import load_kb

pytestmark = pytest.mark.usefixtures("each_engine")

PTP = Path(__file__).parent / "data" / "edits" / "synthetic-ptp.ttl"


@pytest.fixture(scope="module")
def edits_kb(kb):
    return load_kb(kb.pack.root, edits=[PTP])


def claim(day: str, *lines):
    return {"claim_id": "SYN-DUP-1", "patient_id": "SYN-P-1", "lines": [
        {"line": n, "code": code, "date_of_service": day, "provider_id": "SYN-D1", "provider_role": "physician",
         "modifiers": list(mods)} for n, (code, *mods) in enumerate(lines, 1)]}


def judged(kb, raw):
    res = cptkg.check(raw, kb=kb)
    return [(ln["status"], sorted(r["rule"] for r in ln["reasons"])) for ln in res["lines"]]


def test_the_modified_component_stands_when_the_unmodified_one_is_denied_under_the_edit(edits_kb):
    got = judged(edits_kb, claim("2025-03-01", ("27447",), ("20610",), ("20610", "59")))
    assert got[0] == ("accepted", [])
    assert got[1][0] == "rejected" and not any(r.startswith("duplicate.") for r in got[1][1]), got
    assert got[2] == ("accepted", []), got


def test_the_unmodified_component_after_the_modified_one_is_denied_under_the_edit_and_as_its_duplicate(edits_kb):
    got = judged(edits_kb, claim("2025-03-01", ("27447",), ("20610", "59"), ("20610",)))
    assert got[1] == ("accepted", []), got
    assert got[2][0] == "rejected" and "duplicate.line" in got[2][1], got


def test_before_the_edit_is_in_force_the_two_lines_are_an_exact_duplicate_as_the_notes_define_it(edits_kb):
    # no edit applies on 2024-12-31: line 2 stands, and 59 is no repeat marker (only 76 and 77 are)
    got = judged(edits_kb, claim("2024-12-31", ("27447",), ("20610",), ("20610", "59")))
    assert got[1] == ("accepted", []), got
    assert got[2] == ("rejected", ["duplicate.line"]), got


def test_the_fix_offered_for_the_denied_component_is_re_judged_accepted(edits_kb):
    from cptkg.claims.models import parse_claim
    from cptkg.explanation import apply_suggestion, explain_claim
    from cptkg.judge.check import check_claim

    raw = claim("2025-03-01", ("27447",), ("20610",), ("20610", "59"))
    fixes = explain_claim(edits_kb, parse_claim(raw, kb=edits_kb)).to_json()["suggestions"]
    verified = [s for s in fixes if s.get("verified")]
    assert verified, fixes
    again = check_claim(edits_kb, parse_claim(apply_suggestion(raw, verified[0]), kb=edits_kb))
    assert again.status == "accepted"
    assert "20610" in [ln.code for ln in again.lines]
