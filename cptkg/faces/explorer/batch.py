"""Batch page: many claims at once, a progress bar, a summary by rule (titles,
full labels), views by provider, code and month, a table to download as CSV,
each claim's explanation and fixes one selection away, and an auditor's work
paper (HTML, printable to PDF; the ``html`` writer) for the batch and for the claim drilled into."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from cptkg.faces.markup import md
import cptkg
from cptkg import InputError, readers
from cptkg.faces.explorer.common import current_engine, kb_or_stop, now_judged, work_paper_download, work_paper_html
from cptkg.faces.explorer.proofs import line_summary_markdown
from cptkg import frame_csv


def judge_batch(kb, data, progress=None, engine=None) -> list[dict]:
    """Verdicts (no proofs: a batch wants speed) for a claim or a list of claims, through the pipeline.

    ``progress(done, total)`` is called after each claim.
    """
    return cptkg.judge_claims(kb, data if isinstance(data, list) else [data], progress=progress, engine=engine)


COLUMNS = ["claim_id", "claim_status", "line", "code", "line_status", "rules", "messages", "warnings", "titles",
           "verdict", "provider_id", "date_of_service"]


def _input_lines(claims: list[dict] | None) -> dict[tuple[str, int], dict]:
    out = {}
    for c in claims or []:
        if isinstance(c, dict):
            for ln in c.get("lines", []) or []:
                if isinstance(ln, dict):
                    try:
                        out[(str(c.get("claim_id")), int(ln.get("line")))] = ln
                    except (TypeError, ValueError):
                        continue
    return out


def batch_table(results: list[dict], claims: list[dict] | None = None) -> pd.DataFrame:
    """One row per claim line (one per claim that could not be judged); line numbers are whole numbers
    (an empty cell for a claim not judged), rules by id and by title, the provider and date from the input."""
    given = _input_lines(claims)
    rows = []
    for r in results:
        if r["status"] == "error":
            rows.append({"claim_id": r["claim_id"], "claim_status": "error", "line": None, "code": "",
                         "line_status": "error", "rules": "", "messages": r["error"], "warnings": "", "titles": "",
                         "verdict": "cannot be judged", "provider_id": "", "date_of_service": ""})
            continue
        for ln in r["lines"]:
            src = given.get((str(r["claim_id"]), int(ln["line"])), {})
            rows.append({"claim_id": r["claim_id"], "claim_status": r["status"], "line": ln["line"], "code": ln["code"],
                         "line_status": ln["status"], "rules": "; ".join(x["rule"] for x in ln["reasons"]),
                         "messages": " | ".join(x["message"] for x in ln["reasons"]),
                         "warnings": "; ".join(x["rule"] for x in ln.get("warnings", [])),
                         "titles": "; ".join(x.get("title") or x["rule"] for x in ln["reasons"]),
                         "verdict": ln.get("verdict") or ln["status"],
                         "provider_id": str(src.get("provider_id") or ""),
                         "date_of_service": str(src.get("date_of_service") or "")})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["line"] = df["line"].astype("Int64")  # 1, not 1.0, beside a claim with no line
    return df


def by_title(results: list[dict]) -> pd.DataFrame:
    """Rejected lines counted by the rule that rejected them, by its title (the chart's full labels)."""
    counts: dict[tuple[str, str], int] = {}
    for r in results:
        for ln in r.get("lines", []):
            for x in {x["rule"]: x for x in ln["reasons"]}.values():
                key = (x.get("title") or x["rule"], x["rule"])
                counts[key] = counts.get(key, 0) + 1
    rows = [{"reason": t, "rule": rid, "rejected lines": n} for (t, rid), n in counts.items()]
    return pd.DataFrame(rows, columns=["reason", "rule", "rejected lines"]).sort_values(
        ["rejected lines", "reason"], ascending=[False, True], ignore_index=True)


def grouped(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Lines, rejected lines and the share rejected, per provider, code or month (``by``)."""
    t = table[table["line_status"] != "error"].copy()
    if by == "month":
        t["month"] = t["date_of_service"].str[:7]
    key = {"provider": "provider_id", "code": "code", "month": "month"}[by]
    g = t.groupby(key).agg(lines=("line", "size"), rejected=("line_status", lambda s: int((s == "rejected").sum())))
    g["rejected share"] = (g["rejected"] / g["lines"]).round(2)
    return g.reset_index().rename(columns={key: by}).sort_values(["rejected", by], ascending=[False, True],
                                                                 ignore_index=True)


def explain_claims(kb, claims: list[dict], ids: set[str]) -> list[dict]:
    """The claims named by ``ids``, explained through the pipeline (proofs, summaries, verified fixes)."""
    chosen = [c for c in claims if isinstance(c, dict) and str(c.get("claim_id")) in ids]
    return cptkg.judge_claims(kb, chosen, explain=True) if chosen else []


def batch_csv(results: list[dict]) -> bytes:
    """The downloadable table: spreadsheet-safe cells (cptkg.spreadsheet)."""
    return frame_csv(batch_table(results)).encode("utf-8")


def summary(results: list[dict]) -> tuple[dict[str, int], pd.DataFrame]:
    """Claim counts by status, and rejected lines counted by the rule that rejected them."""
    counts = {"accepted": 0, "rejected": 0, "error": 0}
    by_rule: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        for ln in r.get("lines", []):
            for rule in dict.fromkeys(x["rule"] for x in ln["reasons"]):
                by_rule[rule] = by_rule.get(rule, 0) + 1
    df = pd.DataFrame(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])), columns=["rule", "rejected lines"])
    return counts, df.set_index("rule")


def page() -> None:
    kb = kb_or_stop()
    st.header("Batch")
    st.caption("Upload claims: a JSON list (the format of `cptkg check`), a FHIR R4 Claim or Bundle, claim CSV, "
               "or an X12 837P file. Each claim is judged on its own; a claim that cannot be judged is listed "
               "with the reason.")
    up = st.file_uploader("Claims (JSON list, FHIR JSON, CSV or X12 837P)", type=["json", "csv", "x12", "edi", "837", "txt"],
                          key="batch_upload")
    if up is not None and st.button("Judge all", type="primary", key="batch_run"):
        try:
            data = readers.read(up.getvalue(), kb=kb).claims
            bar = st.progress(0.0, text="judging…")
            results = judge_batch(kb, data, lambda d, n: bar.progress(d / n, text=f"judged {d} of {n} claims"),
                                      engine=current_engine())
        except InputError as e:
            st.error(md(e))
            return
        st.session_state["batch_results"] = results
        st.session_state["batch_judged_on"] = now_judged()
        st.session_state["batch_claims"] = [c for c in data if isinstance(c, dict)] if isinstance(data, list) else [data]
        st.session_state.pop("batch_paper", None)
    results = st.session_state.get("batch_results")
    if not results:
        return
    claims = st.session_state.get("batch_claims") or []
    counts, _ = summary(results)
    c1, c2, c3 = st.columns(3)
    c1.metric("accepted claims", counts.get("accepted", 0))
    c2.metric("rejected claims", counts.get("rejected", 0))
    c3.metric("could not be judged", counts.get("error", 0))
    titles = by_title(results)
    table = batch_table(results, claims)
    if len(titles):
        import altair as alt

        st.markdown("**Rejected lines by reason**")
        chart = alt.Chart(titles).mark_bar().encode(
            x=alt.X("rejected lines:Q", title="rejected lines"),
            y=alt.Y("reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
            tooltip=["reason", "rule", "rejected lines"])
        st.altair_chart(chart, width="stretch")
    view = st.radio("Lines by", ["provider", "code", "month"], horizontal=True, key="batch_view")
    st.dataframe(grouped(table, view), hide_index=True, width="stretch")
    st.dataframe(table.drop(columns=["rules", "warnings"]), hide_index=True, width="stretch")
    st.download_button("Download the table (CSV)", frame_csv(table).encode("utf-8"), file_name="cptkg-batch.csv",
                       mime="text/csv", key="batch_csv")
    show_claim(kb, results, claims)
    st.markdown("**Auditor's work paper for the batch**")
    st.caption("HTML, one self-contained page: print it from the browser to keep it as a PDF.")
    if st.button("Prepare the work paper (explains every rejected claim)", key="batch_paper_make"):
        rejected = {str(r["claim_id"]) for r in results if r["status"] == "rejected"}
        explained = {str(r["claim_id"]): r for r in explain_claims(kb, claims, rejected)}
        st.session_state["batch_paper"] = work_paper_html([explained.get(str(r["claim_id"]), r) for r in results],
                                                          st.session_state.get("batch_judged_on"))
    if st.session_state.get("batch_paper"):
        st.download_button("Download the work paper (HTML)", st.session_state["batch_paper"],
                           file_name="cptkg-work-paper.html", mime="text/html", key="batch_paper_dl",
                           icon=":material/description:")


def show_claim(kb, results: list[dict], claims: list[dict]) -> None:
    """From a batch row to its explanation and fixes: pick a claim, see each line in words."""
    ids = [str(r["claim_id"]) for r in sorted(results, key=lambda r: r["status"] != "rejected") if r["status"] != "error"]
    if not ids:
        return
    pick = st.selectbox("Explain a claim", ids, key="batch_pick",
                        format_func=lambda i: f"{i} ({next(r['status'] for r in results if str(r['claim_id']) == i)})")
    ex = explain_claims(kb, claims, {pick})
    if not ex:
        return
    res = ex[0]
    st.markdown(f"##### Claim {md(res['claim_id'])}: {md(res['status'])}")
    for ln in res.get("lines", []):
        st.markdown(f"**line {md(ln['line'])} · {md(ln['code'])}** — {md(ln.get('verdict') or ln['status'])}")
        if ln.get("reasons") or ln.get("warnings"):
            st.markdown(line_summary_markdown(ln, res.get("suggestions") or []))
    shown = {i for ln in res.get("lines", []) for i in (ln.get("summary") or {}).get("fixes", [])}
    for i, s in enumerate(res.get("suggestions") or []):
        if i not in shown:
            st.markdown(f":material/build: **Fix**: {md(s.get('message', ''))}")
    work_paper_download([res], st.session_state.get("batch_judged_on"), "Download this claim's work paper (HTML)",
                        key="batch_claim_paper")
