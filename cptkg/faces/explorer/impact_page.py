"""What changed: the same claims judged under two versions of the knowledge (issue 25), for analysts.

Every quarter CMS republishes its edit tables as complete replacement files (domain notes, "How payers
apply edits"); the analyst's question is which past claims would now be denied, or paid, and why. Each
side is the loaded family pack (or another version of it, a folder on this computer) with edit files: the
RDF ``cptkg edits import`` writes, or the CMS PTP and MUE tables themselves, imported here as the command
imports them (their release from the field beside them, else from the file names). The page runs
``cptkg.impact`` (the same reading, judging and comparison as ``cptkg impact``), then shows the summary,
a chart by the edit or rule that made the difference, the changed lines (a click opens one with both
sides' explanations), and the downloads: the table as CSV and the auditor's work paper as HTML.

Thin on purpose: every verdict, cause and file format comes from the public API; this module only keeps
uploads on disk (the loader reads edit files by path) and draws.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import cptkg
from cptkg import EditTableError, InputError, KBLoadError, PackError
from cptkg.faces.explorer.common import (count, current_engine, file_stem, kb_or_stop, line_verdict, now_judged,
                                         reason_code, reason_code_words, upload_problem)
from cptkg.faces.explorer.proofs import line_summary_markdown
from cptkg.faces.markup import md

SIDES = ("before", "after")
#: the directions in the order the summary and the chart list them (:mod:`cptkg.judge.impact`)
DIRECTIONS = ("newly denied", "newly accepted", "denied for another reason")
COLOURS = ("#c62828", "#2e7d32", "#8a5a00")
WARNINGS_CHANGED = "warnings changed"
#: what an edit file is, by its name's ending: the RDF ``cptkg edits import`` writes, else a CMS table
RDF_ENDINGS = (".ttl",)
# The uploaders take a file of any name: the readers tell a file by its content and say what is wrong with one
# they cannot read. Filtered by extension, Streamlit set a refused file aside with "application/octet-stream
# files are not allowed" and the page went on without it: the checker judged its example claim in its place
# (an analyst's audit), and a comparison would have run without an edit table given.


def upload_folder() -> Path:
    """Where uploaded edit files are kept while the explorer runs: the loader reads edit files by path and
    keeps each loaded knowledge base by path, so a file is stored under its content's hash (the same upload
    twice is the same path, loaded once)."""
    root = Path(tempfile.gettempdir()) / f"cptkg-explorer-edits-{os.getuid() if hasattr(os, 'getuid') else 0}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def _stored(name: str, data: bytes) -> Path:
    """``data`` written once, under its hash, with the name the analyst's file had (letters, digits, '.', '_'
    and '-' only: the work paper cites the file by this name)."""
    folder = upload_folder() / hashlib.sha256(data).hexdigest()[:24]
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / file_stem(name)
    if not target.is_file():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return target


def _first_line(text: str) -> str:
    lines = [x for x in str(text).splitlines() if x.strip()]
    more = len(lines) - 1
    return (lines[0] if lines else str(text)) + (f" (and {more} more line(s) of problems)" if more > 0 else "")


def edit_file(name: str, data: bytes, release: str = "") -> Path:
    """An uploaded edit file as the loader takes it: the RDF ``cptkg edits import`` writes as it is, a CMS PTP
    or MUE table imported (PTP tried first, MUE when the name says MUE; the other kind when the first refuses).

    Raises ``ValueError`` with one line naming the file and the problem."""
    if not data.strip():
        raise ValueError(f"{name}: the file is empty")
    if name.lower().endswith(RDF_ENDINGS):
        return _stored(name, data)
    src = _stored(name, data)
    kinds = ("mue", "ptp") if "mue" in name.lower() else ("ptp", "mue")
    problems = []
    for kind in kinds:
        target = src.with_name(f"{file_stem(Path(name).stem)}.{kind}{'.' + file_stem(release) if release else ''}.ttl")
        if target.is_file():
            return target
        try:
            cptkg.import_edit_table(kind, [src], target, release=release.strip() or None)
            return target
        except EditTableError as e:
            problems.append((kind, _first_line(e), e))
    said = problems[0][1].replace(str(src), name)
    rows = [str(x).replace(str(src), name) for x in problems[0][2].problems[:5]]
    if rows:
        # the bad rows themselves, not only "6 bad rows of 9" (an analyst walk): the first five, each naming its
        # row and column, as cptkg edits import lists them
        total = problems[0][2].total or len(problems[0][2].problems)
        more = f"\n- … and {total - len(rows):,} more" if total > len(rows) else ""
        raise ValueError(f"{name}: cannot be imported as a{'n MUE' if problems[0][0] == 'mue' else ' PTP'} table "
                         f"({said}):\n" + "\n".join(f"- {r}" for r in rows) + more)
    raise ValueError(f"{name}: neither a PTP nor an MUE table cptkg can import ({said})")


def side_inputs(which: str) -> tuple[str | None, list[Path]]:
    """(the pack folder, the edit files) of a side, from its widgets; ValueError with one line on a bad file."""
    folder = (st.session_state.get(f"impact_{which}_pack") or "").strip() or None
    release = st.session_state.get(f"impact_{which}_release") or ""
    files = [edit_file(f.name, f.getvalue(), release) for f in st.session_state.get(f"impact_{which}_edits") or []]
    return folder, files


def compare(claims_name: str, claims: bytes, history: bytes | None) -> None:
    """Run the comparison into the session (the report, its sides' KBs, the time judged) or an error line."""
    for k in ("impact_report", "impact_error", "impact_pick"):
        st.session_state.pop(k, None)
    try:
        sides = {w: side_inputs(w) for w in SIDES}
    except ValueError as e:
        st.session_state["impact_error"] = str(e)
        return
    kbs = {}
    for w, (folder, files) in sides.items():
        try:
            if folder is not None and not Path(folder).expanduser().is_dir():
                raise ValueError("no such family pack folder")
            kbs[w] = cptkg.load_kb(Path(folder).expanduser() if folder else None, edits=files)
        except (KBLoadError, PackError, ValueError) as e:
            said = ", ".join(p.name for p in files) if files else (folder or "the family pack")
            why = _first_line(e)
            for p in files:  # the file by the name the analyst gave it, not the server's folder it was saved in
                why = why.replace(str(p), p.name)
            st.session_state["impact_error"] = f"{w.capitalize()}: {said}: cannot be used: {why}"
            return
    if kbs["before"].version == kbs["after"].version:  # the same files on both sides: nothing can change
        st.session_state["impact_error"] = (
            f"Before and after are the same knowledge (version {kbs['before'].version}: the same family pack and "
            "the same edit files), so no verdict can change. Upload the earlier release's edit files under Before "
            "and the later release's under After, or name two versions of the family pack.")
        return
    try:
        report = cptkg.impact(claims, before_kb=kbs["before"], after_kb=kbs["after"], history=history,
                              engine=current_engine(), name=claims_name)
    except InputError as e:  # the readers' ReadError is an InputError too
        st.session_state["impact_error"] = upload_problem(claims_name, claims, e)
        return
    st.session_state.update(impact_report=report, impact_kbs=kbs, impact_judged_on=now_judged(),
                            impact_claims_name=claims_name)


def _side_words(s: dict) -> str:
    tables = s.get("tables") or []
    rel = ", ".join(dict.fromkeys(f"release {t['release']}" for t in tables if t.get("release")))
    files = ", ".join(s.get("edit_files") or []) or "no edit files"
    return f"{s.get('pack')} (version {s.get('kb_version')}) + {files}" + (f" — {rel}" if rel else "")


def cause_words(c: dict) -> str:
    """A cause in one line: the edit with its release and row, or the rule; and whether it now applies."""
    held = {"after": "now applies", "both": "applies, as it did before"}.get(c["side"], "no longer applies")
    if c["edits"]:
        changed = "; ".join(dict.fromkeys(e["change"] for e in c["edits"] if e.get("change")))
        return "; ".join(e["text"] for e in c["edits"]) + f" {held}" + (f" ({changed})" if changed else "")
    return f"rule {c.get('title') or c['rule']} {held}"


def changed_table(report) -> pd.DataFrame:
    """One row per changed line (then per line whose warnings changed), its columns in words."""
    rows = []
    for e in report.changes + report.warning_changes:
        causes = e.get("causes") or e.get("warnings_added", []) + e.get("warnings_removed", [])
        rows.append({"claim": str(e["claim_id"]), "line": int(e["line"]), "code": e["code"],
                     "date of service": e.get("date_of_service") or "", "change": e["direction"],
                     "before": e["before"]["verdict"], "before reason code": ", ".join(e["before"]["carc"]),
                     "after": e["after"]["verdict"], "after reason code": ", ".join(e["after"]["carc"]),
                     "because": " | ".join(cause_words(c) for c in causes)})
    return pd.DataFrame(rows, columns=["claim", "line", "code", "date of service", "change", "before",
                                       "before reason code", "after", "after reason code", "because"])


def by_cause(report) -> pd.DataFrame:
    """Changed lines counted by the edit or rule that made the difference and by direction (the chart)."""
    rows = [{"edit or rule": c["cause"], "change": d, "lines": c[d]}
            for c in report.summary()["by_cause"] for d in DIRECTIONS if c[d]]
    return pd.DataFrame(rows, columns=["edit or rule", "change", "lines"])


def _claim(report, which: str, claim_id):
    for c in report.inputs.get(which) or []:
        if isinstance(c, dict) and str(c.get("claim_id")) == str(claim_id):
            return c
    return None


def explained_line(report, kbs: dict, which: str, claim_id, line: int) -> tuple[dict | None, list]:
    """One side's explanation of one line (the checker's: proofs, why not, fixes), judged again on demand."""
    claim = _claim(report, which, claim_id)
    if claim is None:
        return None, []
    res = cptkg.explain(dict(claim), kb=kbs[which], line=line, engine=current_engine())
    ln = next((x for x in res.get("lines", []) if x.get("line") == line), None)
    return ln, res.get("suggestions") or []


def show_line(report, kbs: dict, entry: dict) -> None:
    st.markdown(f"##### Claim {md(entry['claim_id'])}, line {md(entry['line'])} · {md(entry['code'])}: "
                f"{md(entry['direction'])}")
    for c in entry.get("causes") or []:
        st.markdown(f":material/compare_arrows: **Because** {md(cause_words(c))}")
    for c in entry.get("still") or []:
        st.markdown(f":material/block: **Still denied because** {md(cause_words(c))}")
    for w in entry.get("warnings_added") or []:
        st.markdown(f":material/warning: **New warning**: {md(cause_words(w))}")
    for w in entry.get("warnings_removed") or []:
        st.markdown(f":material/warning: **Warning gone**: {md(cause_words(w))}")
    cols = st.columns(2)
    for which, col in zip(SIDES, cols):
        with col:
            st.markdown(f"**{which.capitalize()}**: {md(_side_words(getattr(report, which)))}")
            ln, sugg = explained_line(report, kbs, which, entry["claim_id"], int(entry["line"]))
            if ln is None:
                st.caption("no explanation: the claim was not found on this side")
                continue
            st.markdown(f"**{md(line_verdict(ln))}**")
            for r in ln.get("reasons") or []:
                if reason_code_words(r):
                    st.markdown(f":red-badge[{md(reason_code(r))}] {md(reason_code_words(r))}")
            if ln.get("reasons") or ln.get("warnings"):
                st.markdown(line_summary_markdown(ln, sugg))
            else:
                st.markdown("No denial rule applies to this line.")


def page() -> None:
    kb = kb_or_stop()
    st.header("What changed")
    st.caption("The same claims judged under two versions of the knowledge: two quarterly releases of the edit "
               "tables, or two versions of the family pack. Every line whose verdict changes is listed with both "
               "verdicts, their reason codes and the edit (release, file, row) or rule that made the difference.")
    cols = st.columns(2)
    for which, col in zip(SIDES, cols):
        with col:
            st.subheader(which.capitalize())
            st.file_uploader(f"Edit tables, {which}: the CMS NCCI procedure-to-procedure (PTP) or MUE files "
                             f"of the quarter, as downloaded (.zip, .txt, .csv or .xlsx), or edits saved "
                             f"earlier by cptkg (.ttl)", accept_multiple_files=True,
                             key=f"impact_{which}_edits")
            st.text_input(f"Quarter of those tables, {which} (e.g. 2026Q2; leave empty when the file names "
                          f"say it)", key=f"impact_{which}_release")
            with st.expander("Or compare two versions of the billing rules"):
                st.text_input(f"Folder of the rules version to use {which} (on the computer running the "
                              f"explorer; empty: the rules in use, {kb.pack.label})",
                              key=f"impact_{which}_pack")
    up = st.file_uploader("Claims (JSON, FHIR R4 Claim or Bundle, claim CSV or X12 837P)",
                          key="impact_claims")
    hist = st.file_uploader("Billed history (optional CSV: patient_id, code, date_of_service, provider_id)",
                            key="impact_history")
    if up is not None and st.button("Compare", type="primary", key="impact_run"):
        with st.spinner("judging the claims twice"):
            compare(up.name, up.getvalue(), hist.getvalue() if hist is not None else None)
    if st.session_state.get("impact_error"):
        # a table's bad rows are one line each (a user value on each: each line made plain text on its own)
        st.error("  \n".join(md(x) for x in st.session_state["impact_error"].split("\n")))
        return
    report = st.session_state.get("impact_report")
    if report is None:
        return
    show_report(report)


def show_report(report) -> None:
    s = report.summary()
    st.caption(f"Before: {md(_side_words(report.before))}  \nAfter: {md(_side_words(report.after))}")
    c = st.columns(4)
    for col, d in zip(c, DIRECTIONS):
        col.metric(d, count(s["by_direction"][d]))
    c[3].metric("claims affected", count(s["claims_affected"]))
    st.caption(f"{count(s['lines'])} lines of {count(s['claims_judged'])} claims judged twice · "
               f"{count(s['warnings_changed'])} lines only with other warnings"
               + (f" · {count(s['not_judged'])} claims could not be judged" if s["not_judged"] else ""))
    for note in getattr(report, "notes", []):  # the sides as set: a newer release as before, lines before a release
        # in the page's words: the CLI's options are the page's two sides' edit uploads ("(with After)" read as
        # a leftover of an option: an explorer audit)
        said = (note[:1].upper() + note[1:]).replace("(with --before-edits)", "(upload it on the Before side)") \
            .replace("(with --after-edits)", "(upload it on the After side)") \
            .replace("with --before-edits", "on the Before side").replace("with --after-edits", "on the After side")
        st.info(md(said))
    for err in report.errors:
        st.warning(md(f"Not judged ({err['side']}): {err['error']}"))
    if not report.changes and not report.warning_changes:
        st.success("No line's verdict changes between the two versions.")
    causes = by_cause(report)
    if len(causes):
        import altair as alt

        st.markdown("**Changed lines by edit or rule**")
        st.altair_chart(alt.Chart(causes).mark_bar().encode(
            x=alt.X("sum(lines):Q", title="changed lines", axis=alt.Axis(format=",d", tickMinStep=1)),
            y=alt.Y("edit or rule:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
            color=alt.Color("change:N", scale=alt.Scale(domain=list(DIRECTIONS), range=list(COLOURS)),
                            legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["edit or rule", "change", alt.Tooltip("lines:Q", format=",d")]), width="stretch")
    table = changed_table(report)
    entries = report.changes + report.warning_changes
    if entries:
        st.markdown("**Changed lines** — click a row to open it with both explanations below")

        def open_row() -> None:
            rows = st.session_state["impact_table"]["selection"]["rows"]
            if rows:
                st.session_state["impact_pick"] = rows[0]

        st.dataframe(table, hide_index=True, width="stretch", key="impact_table", on_select=open_row,
                     selection_mode="single-row")
        pick = st.selectbox("Open a line", list(range(len(entries))), key="impact_pick",
                            format_func=lambda i: f"claim {entries[i]['claim_id']} line {entries[i]['line']} "
                                                  f"{entries[i]['code']}: {entries[i]['direction']}")
        show_line(report, st.session_state.get("impact_kbs") or {}, entries[pick])
    name = st.session_state.get("impact_claims_name") or "claims"
    d1, d2 = st.columns(2)
    d1.download_button("Download the changed lines (CSV)", report.csv().encode("utf-8"),
                       file_name=f"cptkg-impact-{file_stem(Path(name).stem)}.csv", mime="text/csv",
                       key="impact_csv")
    d2.download_button("Download the work paper (HTML)",
                       cptkg.impact_work_paper(report.to_json(), claims_file=name,
                                               created=st.session_state.get("impact_judged_on")).encode("utf-8"),
                       file_name=f"cptkg-impact-{file_stem(Path(name).stem)}.html", mime="text/html",
                       key="impact_html", icon=":material/description:")
