"""Batch page: many claims at once, a progress bar, a summary by rule and a
table to download as CSV."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from cptkg.faces.markup import md
import cptkg
from cptkg import readers
from cptkg.faces.explorer.common import current_engine, kb_or_stop
from cptkg import frame_csv


def judge_batch(kb, data, progress=None, engine=None) -> list[dict]:
    """Verdicts (no proofs: a batch wants speed) for a claim or a list of claims, through the pipeline.

    ``progress(done, total)`` is called after each claim.
    """
    return cptkg.judge_claims(kb, data if isinstance(data, list) else [data], progress=progress, engine=engine)


def batch_table(results: list[dict]) -> pd.DataFrame:
    """One row per claim line (one per claim that could not be judged)."""
    rows = []
    for r in results:
        if r["status"] == "error":
            rows.append({"claim_id": r["claim_id"], "claim_status": "error", "line": None, "code": "",
                         "line_status": "error", "rules": "", "messages": r["error"], "warnings": ""})
            continue
        for ln in r["lines"]:
            rows.append({"claim_id": r["claim_id"], "claim_status": r["status"], "line": ln["line"], "code": ln["code"],
                         "line_status": ln["status"], "rules": "; ".join(x["rule"] for x in ln["reasons"]),
                         "messages": " | ".join(x["message"] for x in ln["reasons"]),
                         "warnings": "; ".join(x["rule"] for x in ln.get("warnings", []))})
    return pd.DataFrame(rows, columns=["claim_id", "claim_status", "line", "code", "line_status", "rules", "messages", "warnings"])


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
    st.caption("Upload claims: a JSON list (the format of `cptkg check`), a FHIR R4 Claim or Bundle, or claim CSV. "
               "Each claim is judged on its own; a claim that cannot be judged is listed with the reason.")
    up = st.file_uploader("Claims (JSON list, FHIR JSON or CSV)", type=["json", "csv"], key="batch_upload")
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
    results = st.session_state.get("batch_results")
    if not results:
        return
    counts, by_rule = summary(results)
    c1, c2, c3 = st.columns(3)
    c1.metric("accepted claims", counts.get("accepted", 0))
    c2.metric("rejected claims", counts.get("rejected", 0))
    c3.metric("could not be judged", counts.get("error", 0))
    if len(by_rule):
        st.markdown("**Rejected lines by rule**")
        st.bar_chart(by_rule, horizontal=True)
    table = batch_table(results)
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Download the table (CSV)", batch_csv(results), file_name="cptkg-batch.csv",
                       mime="text/csv", key="batch_csv")
