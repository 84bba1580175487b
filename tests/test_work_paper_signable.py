"""A work paper an auditor can sign (issue 23, finding 5): the ``html`` writer, without a browser.

Each claim's sheet opens with what it covers (claim id, patient id masked unless asked, rendering
providers, dates of service, KB version, edit releases loaded, date judged, reviewer), gives each
reason with its CARC, group code and the code's description, says why not in billing words (never
the engine's "no fact found: … is in force from any"), keeps rule ids to small detail text, shows a
line no rule covers as "not checked" and counts it apart, and ends with notes and sign-off lines.

ALL CLAIMS, PATIENT IDS, NPIs AND EDIT RELEASES HERE ARE SYNTHETIC.
"""
from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

import cptkg
from cptkg import writers
from cptkg.faces.cli import main
from cptkg.io.writers.html import edit_releases, masked_patient_id
from cptkg.knowledge.loader import load_kb
from cptkg.knowledge.pack import REPO_ROOT as ROOT
from tests.test_edit_releases import PACK, pair, source, unit, write

#: SYNTHETIC identifiers: a patient id long enough to show its end, an NPI-shaped provider id
PATIENT = "SYNTH-PATIENT-000123"
NPI = "1999999984"


def synthetic_claim(cid: str = "SYN-1", patient: str = PATIENT, lines=(("62367", "physician"), ("95990", "physician")),
                    date: str = "2025-03-04") -> dict:
    return {"claim_id": cid, "patient_id": patient, "lines": [
        {"line": n, "code": code, "date_of_service": date, "provider_id": NPI, "provider_role": role}
        for n, (code, role) in enumerate(lines, 1)]}


class _Page(HTMLParser):
    """The page's text, and each text piece with the classes of the elements it sits in."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.pieces: list[tuple[str, set]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] in ("style", "title"):
            return
        self.pieces.append((data, {c for _, cls in self.stack for c in cls.split()}))

    @property
    def text(self) -> str:
        return " ".join(" ".join(d for d, _ in self.pieces).split())


def page_of(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


def explained(kb, claims):
    return cptkg.judge_claims(kb, claims, explain=True)


def test_each_claim_opens_with_claim_patient_providers_dates_kb_release_date_judged_and_reviewer(kb):
    claims = [synthetic_claim(date="2025-03-04"),
              synthetic_claim("SYN-2", lines=(("95990", "nurse"),), date="2025-05-06")]
    results = cptkg.judge_claims(kb, claims)
    html = writers.write(results, "html", created="2026-12-02", claims=claims, kb=kb)
    text = page_of(html).text
    for cid, date, role in (("SYN-1", "2025-03-04", "physician"), ("SYN-2", "2025-05-06", "nurse")):
        head = text.split(f"Claim id {cid} ", 1)[1].split("Reviewer", 1)[0]
        assert head.startswith("Patient id ••••0123 (masked")
        assert f"Rendering providers (NPI) ••••{NPI[-4:]} ({role}) (masked)" in head and NPI not in html
        assert f"Dates of service {date}" in head
        assert f"Knowledge base version {kb.version}" in head
        assert "Edit releases loaded none loaded (the pack's own edits only)" in head
        assert "Judged on 2026-12-02" in head
    assert PATIENT not in html  # masked by default: only its last 4 characters anywhere on the page


def test_patient_id_is_in_clear_only_when_asked_and_a_short_id_is_all_mask(kb):
    claims = [synthetic_claim()]
    results = cptkg.judge_claims(kb, claims)
    assert f"Patient id {PATIENT} " in page_of(writers.write(results, "html", claims=claims,
                                                              include_identifiers=True)).text
    short = [synthetic_claim(patient="P-77")]
    text = page_of(writers.write(cptkg.judge_claims(kb, short), "html", claims=short)).text
    assert "Patient id •••• (masked" in text and "P-77" not in text
    assert masked_patient_id("ABCDEFGH") == "••••EFGH" and masked_patient_id("ABCDEFG") == "••••"
    assert masked_patient_id("") == "" and masked_patient_id(None) == ""


def test_header_says_not_recorded_when_the_input_claims_were_not_given(kb):
    text = page_of(writers.write(cptkg.judge_claims(kb, [synthetic_claim()]), "html")).text
    assert "Patient id not recorded" in text and "Rendering providers (NPI) not recorded" in text
    assert "Edit releases loaded not recorded" in text


def test_a_claim_of_a_batch_gets_its_own_input_claim_by_id(kb):
    claims = [synthetic_claim("SYN-A", patient="SYNTH-AAAA-1111"), synthetic_claim("SYN-B", patient="SYNTH-BBBB-2222",
                                                                                   date="2025-07-08")]
    results = cptkg.judge_claims(kb, claims)
    text = page_of(writers.write(results[1:], "html", claims=claims)).text  # the explorer's one-claim download
    assert "Patient id ••••2222" in text and "Dates of service 2025-07-08" in text and "1111" not in text


def test_edit_releases_loaded_are_named_by_release_date_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))
    q1 = write(tmp_path, "q1.ttl", source("PTP-MUE-2026Q1.txt", "2026Q1", "2026-01-01"),
               pair(5, "27447", "20610", "0", "2020-01-01"), unit(7, "62367", 3))
    q2 = write(tmp_path, "q2.ttl", source("ARCHIVE-2026Q2.zip › part1.txt", "2026Q2", "2026-04-01", "source-1"),
               unit(3, "62367", 1, src="source-1"))
    kb2 = load_kb(PACK, edits=[q2, q1])
    assert [(e["release"], e["release_date"], e["file"], e["edit_file"]) for e in edit_releases(kb2)] == [
        ("2026Q1", "2026-01-01", "PTP-MUE-2026Q1.txt", "q1.ttl"),
        ("2026Q2", "2026-04-01", "ARCHIVE-2026Q2.zip › part1.txt", "q2.ttl")]
    claims = [synthetic_claim()]
    text = page_of(writers.write(cptkg.judge_claims(kb2, claims), "html", claims=claims, kb=kb2)).text
    assert ("Edit releases loaded release 2026Q1 (2026-01-01): PTP-MUE-2026Q1.txt (loaded from q1.ttl); "
            "release 2026Q2 (2026-04-01): ARCHIVE-2026Q2.zip › part1.txt (loaded from q2.ttl)") in text


def test_why_not_is_in_billing_words_never_the_engines_raw_conditions(kb):
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    res = explained(kb, [claim])
    raw = [w["condition"] for ln in res[0]["lines"] for w in ln.get("why_not", [])]
    assert any(c.startswith("no fact found: ") for c in raw)  # the engine has them; the paper must not show them
    stripped = [{**res[0], "lines": [{k: v for k, v in ln.items() if k != "summary"} for ln in res[0]["lines"]]}]
    for r in (res, stripped):  # without its summary a result shows no why-not, never the raw conditions
        html = writers.write(r, "html", claims=[claim])
        assert "no fact found" not in html and "in force from any" not in html
    assert "Why not accepted" in page_of(writers.write(res, "html", claims=[claim])).text  # line 3's stays


def test_rule_ids_appear_only_in_small_detail_text(kb):
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    res = explained(kb, [claim])
    rules = {x["rule"] for ln in res[0]["lines"] for x in ln["reasons"] + ln["warnings"]}
    assert rules
    page = page_of(writers.write(res, "html", claims=[claim]))
    for data, classes in page.pieces:
        for rule in rules:
            if re.search(rf"(?<![\w.-]){re.escape(rule)}(?![\w-])", data):
                assert "detail" in classes, (rule, data)


def test_a_line_outside_the_kb_reads_not_checked_and_is_counted_apart_from_accepted(kb):
    claims = [synthetic_claim(lines=(("99213", "physician"), ("95990", "physician")))]
    res = cptkg.judge_claims(kb, claims)
    assert res[0]["lines"][0]["status"] == "accepted"  # kept for compatibility: the paper must not read it so
    for r in (res, _with_checked(res)):
        html = writers.write(r, "html", claims=claims)
        text = page_of(html).text
        assert "Lines 2: 1 accepted, 0 rejected, 1 not checked" in text
        assert "1 99213 not checked (outside the knowledge base)" in text
        assert "accepted (outside the knowledge base" not in text
        assert "1 line not checked" in text  # beside the claim's verdict
    # the contract's field wins over the warning: a line marked checked is not "not checked"
    marked = copy.deepcopy(res)
    marked[0]["lines"][0]["checked"] = True
    assert "Lines 2: 2 accepted, 0 rejected, 0 not checked" in page_of(writers.write(marked, "html")).text


def _with_checked(res):
    """The results as issue 23's judge writes them: ``checked`` false and the verdict in words, no warning needed."""
    out = copy.deepcopy(res)
    for ln in out[0]["lines"]:
        ln["checked"] = ln["code"] != "99213"
        if ln["code"] == "99213":
            ln["verdict"], ln["warnings"] = "not checked (outside the knowledge base)", []
    return out


def test_each_reason_has_its_carc_group_code_and_the_codes_description(kb):
    claim = json.loads((ROOT / "examples" / "claim-rejected.json").read_text())
    res = copy.deepcopy(explained(kb, [claim]))
    words = "SYNTHETIC description of CARC"
    for ln in res[0]["lines"]:
        for x in ln["reasons"]:
            x["carc_description"] = f"{words} {x['carc']}"
    text = page_of(writers.write(res, "html")).text
    reason = next(x for ln in res[0]["lines"] for x in ln["reasons"])
    c, g = reason["carc"], reason["group_code"]
    assert f"(CARC {c}, group code {g}) CARC {c}: {words} {c}" in text
    assert f"{c} {g} 1 {words} {c}" in text  # the summary's by-reason table


def test_every_claim_sheet_ends_with_notes_and_reviewer_date_and_signature_lines(kb):
    claims = json.loads((ROOT / "examples" / "claims-batch.json").read_text())
    res = cptkg.judge_claims(kb, claims)
    text = page_of(writers.write(res, "html", claims=claims, reviewer="SYNTHETIC Reviewer")).text
    for label in ("Notes", "Reviewer: SYNTHETIC Reviewer", "Date reviewed:", "Signature:"):
        assert text.count(label) == len(res), label
    assert text.count("Reviewer SYNTHETIC Reviewer") == len(res)  # and on each claim's header
    blank = page_of(writers.write(res[:1], "html")).text
    assert "Reviewer: Date reviewed: Signature:" in blank.replace("\xa0", "").replace("  ", " ")


def test_the_print_style_starts_each_claim_on_its_own_page(kb):
    res = cptkg.judge_claims(kb, [synthetic_claim(), synthetic_claim("SYN-2")])
    html = writers.write(res, "html")
    css = html.split("@media print", 1)[1].split("</style>", 1)[0]
    assert re.search(r"section\.claim\s*\{[^}]*break-before:\s*page", css)
    assert "<body>" in html and '<body class="one-claim">' in writers.write(res[:1], "html")


def test_header_values_from_the_claim_are_text_never_markup(kb):
    hostile = "<IMG SRC=//127.1>"
    claims = [{"claim_id": "SYN-H", "patient_id": hostile + "-0000", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": hostile,
         "provider_role": "physician"}]}]
    res = cptkg.judge_claims(kb, claims)
    html = writers.write(res, "html", claims=claims, include_identifiers=True, reviewer=hostile)
    assert "<IMG" not in html and html.count("&lt;IMG SRC=//127.1&gt;") >= 4


def test_cptkg_check_work_paper_carries_the_header_of_the_file_read():
    r = CliRunner().invoke(main, ["check", "--explain", "--output", "html",
                                  str(ROOT / "examples" / "claim-rejected.json")])
    assert r.exit_code == 1, r.output
    text = page_of(r.stdout).text
    assert "Rendering providers (NPI) ••••7890 (nurse) (masked)" in text and "NPI-1234567890" not in r.stdout
    assert "Dates of service 2025-03-04, 2025-04-01" in text
    clear = CliRunner().invoke(main, ["check", "--explain", "--output", "html", "--paper-identifiers",
                                      str(ROOT / "examples" / "claim-rejected.json")])
    assert "Rendering providers (NPI) NPI-1234567890 (nurse)" in page_of(clear.stdout).text
    assert "Patient id PAT-77" in page_of(clear.stdout).text
    assert "Patient id •••• (masked" in text and "PAT-77" not in r.stdout
    assert "Signature:" in text and "no fact found" not in r.stdout


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_other_claim_formats_give_the_header_too(fmt, tmp_path):
    src = {"csv": ROOT / "examples" / "claims.csv",
           "fhir": ROOT / "tests" / "data" / "interop" / "fhir-claim.json"}[fmt]
    r = CliRunner().invoke(main, ["check", "--output", "html", str(src)])
    assert r.exit_code in (0, 1), r.output
    text = page_of(r.stdout).text
    assert "Rendering providers (NPI) not recorded" not in text and "Dates of service not recorded" not in text
