"""Issue 25: the explorer's "What changed" page, run headless with Streamlit's AppTest (no browser).

The two releases are tests/test_impact.py's: CMS's published layouts (the practitioner PTP text file, the
MUE CSV) with EVERY CODE PAIR, UNIT VALUE, DATE AND ROW SYNTHETIC. Here they are given to the page as an
analyst uploads them, the CMS tables themselves, which the page imports in-process as
``cptkg edits import`` does (AppTest cannot fill a file uploader, so an upload is an object with the
uploader's ``name`` and ``getvalue()``, put where the uploader keeps its files).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from test_edit_tables_published import mue_csv, ptp_text  # noqa: E402
from test_impact import CLAIMS, EXPECTED, HISTORY, Q1_MUE, Q1_PTP, Q2_MUE, Q2_PTP  # noqa: E402

TIMEOUT = 180


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the page's upload folder, this test's own
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)


@pytest.fixture()
def tables(tmp_path) -> dict[str, list[Path]]:
    """Each release's CMS tables as published (names stating the release, as CMS's files do)."""
    out = {}
    for side, label, ptp, mue in (("before", "2026Q1", Q1_PTP, Q1_MUE), ("after", "2026Q2", Q2_PTP, Q2_MUE)):
        out[side] = [ptp_text(tmp_path / f"PTP-{label}.txt", ptp), mue_csv(tmp_path / f"MUE-{label}.csv", mue)]
    return out


SCRIPT = """
import streamlit as st
from cptkg.faces.explorer import impact_page

class Upload:
    def __init__(self, path):
        self.name, self._data = path.rsplit("/", 1)[-1], open(path, "rb").read()
    def getvalue(self):
        return self._data

for side, files in FILES.items():
    st.session_state[f"impact_{side}_edits"] = [Upload(f) for f in files]
impact_page.compare(NAME, CLAIMS_BYTES, HISTORY_BYTES)
"""


def compared(tables, claims: bytes = None, name: str = "claims.json", **files) -> AppTest:
    """The page's Compare, run on these uploads; the session holds the report or the error line."""
    given = {k: [str(p) for p in v] for k, v in {**tables, **files}.items()}
    claims = json.dumps(CLAIMS).encode() if claims is None else claims
    code = (f"FILES = {given!r}\nNAME = {name!r}\nCLAIMS_BYTES = {claims!r}\nHISTORY_BYTES = {HISTORY.encode()!r}\n"
            + SCRIPT)
    return AppTest.from_string(code, default_timeout=TIMEOUT).run()


def test_the_page_draws_without_input_and_is_in_the_analyst_sidebar():
    at = AppTest.from_string("from cptkg.faces.explorer.impact_page import page\npage()\n",
                             default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [h.value for h in at.header] == ["What changed"]
    nav = AppTest.from_string("import streamlit as st\nfrom cptkg.faces.explorer.navigation import pages\n"
                              "st.session_state['nav'] = [p.title for p in pages()['Analyst']]\n",
                              default_timeout=TIMEOUT).run()
    assert "What changed" in nav.session_state["nav"]


def test_two_uploaded_cms_releases_give_exactly_the_expected_changed_lines(tables):
    at = compared(tables)
    assert not at.exception, at.exception
    assert "impact_error" not in at.session_state
    report = at.session_state["impact_report"]
    assert {(c["claim_id"], c["line"], c["direction"]) for c in report.changes} == EXPECTED
    # the tables were imported with the release their names state, and are cited by the name uploaded
    assert [t["release"] for t in report.after["tables"]] == ["2026Q2", "2026Q2"]
    assert {t["file"] for t in report.after["tables"]} == {"PTP-2026Q2.txt", "MUE-2026Q2.csv"}


def test_the_same_release_on_both_sides_says_so_instead_of_comparing_it_with_itself(tables):
    """An analyst who uploaded nothing, or the same files twice, was told only "No line's verdict changes"
    (analyst walk, issue 23): the page now says the two sides are the same knowledge and what to upload."""
    at = compared(tables, after=tables["before"])
    err = at.session_state["impact_error"]
    assert err.startswith("Before and after are the same knowledge (version ") and "no verdict can change" in err
    assert "impact_report" not in at.session_state


def test_an_edit_file_that_is_not_a_table_is_one_line_naming_the_file(tables, tmp_path):
    junk = tmp_path / "notes-2026Q2.txt"
    junk.write_text("a note, not an edit table\n")
    at = compared(tables, after=[junk])
    err = at.session_state["impact_error"]
    assert err.startswith("notes-2026Q2.txt: neither a PTP nor an MUE table") and "\n" not in err
    assert "impact_report" not in at.session_state


@pytest.mark.parametrize("data", [b'{"claim_id": "C1", "lines": []}\n', bytes(range(256))])
def test_a_ttl_file_that_is_no_edit_file_names_the_file_not_the_servers_folder(tables, tmp_path, data):
    """A claim JSON (or random bytes) named .ttl said "…/tmp/cptkg-explorer-edits-0/5b36…/claim_as_edit.ttl: not
    valid turtle: line 2, column 2: { is not a valid predicate" (an analyst's audit): the file by its name, and
    what it is not."""
    bad = tmp_path / "claim_as_edit.ttl"
    bad.write_bytes(data)
    at = compared(tables, before=[bad])
    err = at.session_state["impact_error"]
    assert err.startswith("Before: claim_as_edit.ttl: cannot be used: ") and "\n" not in err, err
    assert "cptkg-explorer" not in err and "/" not in err.split("cannot be used: ", 1)[1].split(":")[0], err
    assert ("not an edit file cptkg wrote (Turtle)" if data.startswith(b"{") else "holds binary data, not Turtle text") \
        in err, err
    assert "impact_report" not in at.session_state


def test_an_edit_table_with_bad_rows_shows_the_rows_not_only_their_count(tables):
    """The page said "6 bad rows of 9" and no row (an analyst walk): the first five bad rows are listed, each
    naming its row and column, as cptkg edits import lists them."""
    at = compared(tables, after=[Path(__file__).resolve().parent / "data" / "edits" / "ptp_bad_rows_synthetic.txt"])
    err = at.session_state["impact_error"]
    assert "6 bad rows of 9" in err and "row 6, column Modifier" in err and "… and 1 more" in err
    assert not at.exception and "impact_report" not in at.session_state
    assert "row 7, column Column 1" in err


def test_a_claims_file_that_cannot_be_read_is_one_line_naming_the_file_and_where(tables):
    at = compared(tables, claims=b'[{"claim_id": "SYN-1",', name="broken.json")
    err = at.session_state["impact_error"]
    assert err.startswith("broken.json: not valid JSON (line 1, column") and "\n" not in err


def _page_with(at_report: AppTest) -> AppTest:
    """The page, drawn over the session a Compare left."""
    at = AppTest.from_string("from cptkg.faces.explorer.impact_page import page\npage()\n", default_timeout=TIMEOUT)
    for k in ("impact_report", "impact_kbs", "impact_judged_on", "impact_claims_name"):
        at.session_state[k] = at_report.session_state[k]
    return at.run()


def test_the_page_shows_the_summary_chart_and_table_and_opens_a_line_with_both_explanations(tables):
    at = _page_with(compared(tables))
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"newly denied": "2", "newly accepted": "1", "denied for another reason": "0",
                       "claims affected": "3"}
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    (table,) = [d.value for d in at.dataframe]
    assert {(r["claim"], r["line"], r["change"]) for r in table.to_dict("records")} == (
        {(c, n, d) for c, n, d in EXPECTED} | {("B", 1, "warnings changed")})
    # open claim B's line 2: denied after by the new pair, with the rule in words on the after side only
    pick = at.selectbox(key="impact_pick")
    b2 = next(i for i, o in enumerate(pick.options) if o.startswith("claim B line 2 "))
    pick.set_value(b2).run()
    assert not at.exception
    body = "\n".join(m.value for m in at.markdown)
    assert "**Because** NCCI PTP edit 29880/20610, release 2026Q2" in body and "now applies" in body
    assert "No denial rule applies to this line." in body  # before
    assert "**Denied — " in body and ":red-badge[CO-236]" in body  # after, as the checker says it
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download the changed lines (CSV)", "Download the work paper (HTML)"]


def test_the_page_downloads_the_same_table_and_work_paper_the_command_writes(tables):
    from cptkg.faces.explorer.impact_page import changed_table

    at = compared(tables)
    report = at.session_state["impact_report"]
    csv_text = report.csv()
    assert csv_text.splitlines()[0].startswith("claim_id,line,code,date_of_service,direction,before_status")
    assert len(csv_text.splitlines()) == 1 + len(changed_table(report))
    import cptkg

    paper = cptkg.impact_work_paper(report.to_json(), claims_file="claims.json", created="2026-05-10")
    assert "<dt>Claims file</dt><dd>claims.json</dd>" in paper and "row 10 of PTP-2026Q2.txt" in paper
