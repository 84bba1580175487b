"""Claim checker page: enter or upload claims, judge them, unfold the reasons
into proofs and why-not, apply a suggested fix and judge again."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import streamlit as st

from cptkg.faces.markup import md, md_code
from cptkg import InputError, load_json, readers, split_modifiers, vocabulary
from cptkg.faces.explorer.common import (NOT_CHECKED, current_engine, draw_graph, kb_or_stop, line_state,
                                         line_verdict, now_judged, reason_code, reason_code_words, status_badge,
                                         upload_problem, work_paper_download)
from cptkg.faces.explorer.explaining import apply_fix, judge
from cptkg.faces.explorer.proofs import (PROOF_STYLESHEET, citations, decision_elements, fix_markdown,
                                         line_summary_markdown, proof_elements, proof_markdown)

LINE_COLUMNS = ["line", "code", "date_of_service", "provider_id", "provider_role", "units", "modifiers", "route"]
HISTORY_COLUMNS = ["code", "date_of_service", "provider_id"]


# ------------------------------------------------------------ editor <-> JSON
def _date(v) -> Any:
    if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
        return v.strftime("%Y-%m-%d")
    return v


def _blank(v) -> bool:
    if v is None:
        return True
    try:
        if pd.isna(v):
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(v, str) and not v.strip()


def _text(v) -> str | None:
    """A cell as the text the analyst sees and edits (None when empty)."""
    return None if _blank(v) else str(v)


def lines_frame(claim: dict) -> pd.DataFrame:
    """A claim's lines as the editor's table: every cell text, as typed (modifiers comma-separated).

    The line number, date and units are text cells, read by the claim parser as a claim file's are: a
    date cell turned an impossible date (2025-02-30, pasted) into today's date, and a number cell read
    a typed 1.5 as 15 units, each judged without a word (an analyst's audit); the parser names them.
    """
    rows = []
    for ln in claim.get("lines", []):
        rows.append({
            "line": _text(ln.get("line")), "code": ln.get("code"),
            "date_of_service": _text(ln.get("date_of_service")),
            "provider_id": ln.get("provider_id"), "provider_role": ln.get("provider_role"),
            "units": _text(ln.get("units", 1)), "modifiers": ", ".join(ln.get("modifiers", [])),
            "route": ln.get("route"),
        })
    frame = pd.DataFrame(rows, columns=LINE_COLUMNS)
    # text columns as text, a missing value as missing: an object column of None showed "None" in each empty
    # route cell (an analyst walk), and so did a missing value in the route's select column (an explorer audit):
    # a route not stated is an empty cell, which the claim reads as no route
    frame = frame.astype("string")
    frame["route"] = frame["route"].fillna("")
    return frame


def history_frame(claim: dict) -> pd.DataFrame:
    rows = [{"code": h.get("code"), "date_of_service": _text(h.get("date_of_service")),
             "provider_id": h.get("provider_id")} for h in claim.get("history", [])]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS).astype("string")


def claim_from_frames(claim_id: str, patient_id: str, lines: pd.DataFrame, history: pd.DataFrame | None = None) -> dict:
    """The editor's tables as a claim object (the CLI's JSON format).

    Empty rows are dropped; empty cells are left out so that the claim
    parser names the missing field (with its line) instead of guessing.
    """
    out: dict = {"claim_id": claim_id, "patient_id": patient_id, "lines": []}
    for _, row in lines.iterrows():
        if all(_blank(row.get(c)) for c in LINE_COLUMNS):
            continue
        ln: dict = {}
        for c in ("line", "code", "date_of_service", "provider_id", "provider_role", "units", "route"):
            v = row.get(c)
            if _blank(v):
                continue
            if c in ("line", "units"):
                try:  # a whole number as a number; any other text as typed, for the parser to name
                    v = int(str(v).strip())
                except (TypeError, ValueError):
                    v = str(v).strip()
            ln[c] = _date(v) if c == "date_of_service" else (v.strip() if isinstance(v, str) else v)
        mods = row.get("modifiers")
        if not _blank(mods):
            # split as a claim CSV's cell is ("KD 59", "KD;59", "KD, 59"): the editor refused "kd 59" whole
            ln["modifiers"] = split_modifiers(str(mods))
        out["lines"].append(ln)
    hist = []
    if history is not None:
        for _, row in history.iterrows():
            if all(_blank(row.get(c)) for c in HISTORY_COLUMNS):
                continue
            h = {c: (_date(row.get(c)) if c == "date_of_service" else row.get(c)) for c in HISTORY_COLUMNS if not _blank(row.get(c))}
            hist.append(h)
    if hist:
        out["history"] = hist
    return out


def example_claim(kb) -> dict:
    """The pack's example claim (family.yaml ``example_claim``), or an empty one-line claim."""
    path = kb.pack.example_claim
    if path is None or not path.is_file():
        return {"claim_id": "CLM-1", "patient_id": "P-1", "lines": []}
    return json.loads(path.read_text(encoding="utf-8"))


def uploaded_claims(kb, data: bytes) -> list:
    """The claims of an uploaded file (claim JSON, FHIR or CSV), read with this pack's vocabulary.

    A claim the file gives badly (a CSV row, a Claim of a Bundle) is the error
    naming its row or element, judged beside the others as an error entry;
    only a file that cannot be read at all raises InputError.
    """
    return readers.read(data, kb=kb).claims


def pasted_problem(text: str, err: Exception) -> str:
    """What is wrong with pasted text: the reader's words, and for a claim CSV pasted into the JSON box
    (its header names claim columns) where it can be read: as an uploaded file."""
    if not (text or "").strip():  # not "not valid JSON (line 1, column 1: Expecting value)" (an analyst walk)
        return "nothing was pasted: paste a claim's JSON into the box, or upload a claim file"
    first = (text or "").strip().splitlines()[0]
    if first[:1] not in "[{" and "," in first and "claim" in first.lower():
        return f"{err}; this looks like a claim CSV: upload it as a file (Browse files above) to check it"
    return str(err)


def claims_of(data: Any) -> list[dict]:
    """Raw claim dicts of the input (one object or a list), for applying fixes."""
    return data if isinstance(data, list) else [data]


def line_summary(result: dict) -> pd.DataFrame:
    """One row per line: the verdict in words and the rules behind it by their titles (the table above
    the details; rule ids are in each line's detail line)."""
    rows = []
    for ln in result.get("lines", []):
        rows.append({"line": int(ln["line"]), "code": ln["code"], "verdict": line_verdict(ln),
                     "reasons": "; ".join(r.get("title") or r["rule"] for r in ln.get("reasons", [])),
                     "warnings": "; ".join(w.get("title") or w["rule"] for w in ln.get("warnings", []))})
    return pd.DataFrame(rows, columns=["line", "code", "verdict", "reasons", "warnings"])


def line_table(result: dict) -> pd.DataFrame:
    """The table above the details as the page shows it: :func:`line_summary` (its columns are a contract)
    with each rejection's reason code (group and CARC, as a remittance prints it) beside the verdict."""
    t = line_summary(result)
    t.insert(3, "reason code", ["; ".join(dict.fromkeys(c for c in map(reason_code, ln.get("reasons", [])) if c))
                                for ln in result.get("lines", [])])
    return t


def _and(items: list) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _billed_codes(claim: Any) -> dict[int, str]:
    """Line number -> the code billed on it, from the claim as entered (a dict, or a parsed claim)."""
    lines = (claim.get("lines") if isinstance(claim, dict) else getattr(claim, "lines", None)) or []
    out = {}
    for ln in lines:
        get = ln.get if isinstance(ln, dict) else (lambda k, ln=ln: getattr(ln, k, None))
        try:
            out[int(get("line"))] = str(get("code"))
        except (TypeError, ValueError):
            continue
    return out


def fix_summary(s: dict, claim: Any = None) -> str:
    """A suggested fix as the edits a coder makes on the claim, so the analyst sees what "Apply fix" changes
    before pressing it (issue 23, finding 4): 'replace lines 1 and 2 by 62369', 'line 3: 95991 → 95990',
    'line 2: modifier 77 → 76', 'line 2: add modifier KD', 'remove line 1'.

    A recode (``kind`` "recode" or "modifier": the fix search drops nothing then) replaces every removed
    line by the line it adds, so lines merged into one code read as one replacement, not as a change
    and a removal. Without ``kind`` (older results) or when the fix drops lines, a removed line that no
    added line takes the place of reads "remove line n". ``claim`` (as entered) names the old code.
    """
    added = {int(l["line"]): l for l in s.get("add_lines", [])}
    removed = sorted(int(n) for n in s.get("remove_lines", []))
    if "dropped" in s:
        dropped = {int(n) for n in s["dropped"]}
    elif s.get("kind") in ("recode", "modifier", "void", "units") and added:
        dropped = set()  # the search names a fix by its most drastic edit: nothing was dropped
    else:
        dropped = {n for n in removed if n not in added}
    billed = _billed_codes(claim) if claim is not None else {}
    groups: dict[int, list[int]] = {n: ([n] if n in removed else []) for n in sorted(added)}
    for n in removed:
        if n in added or n in dropped:
            continue
        # merged into an added line: the one numbered before it (the search numbers a combined line
        # by the first of its lines), else the first
        owner = max((a for a in groups if a < n), default=min(groups)) if groups else None
        if owner is None:
            dropped.add(n)
        else:
            groups[owner].append(n)
    parts, done = [], set()
    for n in removed:
        owner = next((a for a, g in groups.items() if n in g), None)
        if owner is None:
            parts.append(f"remove line {n}")
        elif owner not in done:
            done.add(owner)
            code = added[owner]["code"]
            g = sorted(groups[owner])
            if len(g) > 1:
                parts.append(f"replace lines {_and(g)} by {code}")
            elif g[0] in billed and billed[g[0]] == code and "units" in added[owner]:
                parts.append(f"line {g[0]}: bill {added[owner]['units']} unit{'s' if added[owner]['units'] != 1 else ''}")
            elif g[0] in billed:
                parts.append(f"line {g[0]}: {billed[g[0]]} → {code}")
            else:
                parts.append(f"line {g[0]}: change the code to {code}")
    for n, l in sorted(added.items()):
        if not groups[n]:
            parts.append(f"add line {n}: {l['code']}")
    adds = {int(k): list(v) for k, v in (s.get("add_modifiers") or {}).items()}
    takes = {int(k): list(v) for k, v in (s.get("remove_modifiers") or {}).items()}
    for n in sorted(set(adds) | set(takes)):
        new, old = adds.get(n, []), takes.get(n, [])
        if new and old:  # a changed modifier: the old one goes, the new one takes its place
            parts.append(f"line {n}: modifier{'s' if len(old) > 1 else ''} {', '.join(old)} → {', '.join(new)}")
        elif old:
            parts.append(f"line {n}: take off modifier {', '.join(old)}")
        else:
            parts.append(f"line {n}: add modifier {', '.join(new)}")
    for h in s.get("void_history", []):
        parts.append(f"drop history entry {h}")
    return "; ".join(parts)


# ------------------------------------------------------------------- state
#: claims the checker judges and explains from one paste or upload unless asked for more (each is explained with
#: its proofs and verified fixes, about a second a claim; the Batch page judges a file of any size at once)
CHECKER_CLAIMS = 100


def too_many_claims(n: int) -> str:
    """Why the checker did not judge ``n`` claims, and where to judge them."""
    return (f"This holds {n:,} claims. The checker explains every claim with its proofs and fixes, about a second "
            f"a claim ({n:,} claims: about {max(1, round(n / 60)):,} minutes, with no way to stop it). Judge the "
            f"file on the **Batch** page (the same file: claim JSON, FHIR, CSV or X12 837P) for every line's "
            f"verdict and reasons, then open the claims you want explained here; or tick \"Judge and explain more "
            f"than {CHECKER_CLAIMS} claims here\" and check again.")


def _judge_into_state(kb, data: Any) -> None:
    """Judge and explain the claims into the session; with several claims, a progress bar counts them
    (a hundred pasted claims took two minutes with nothing on the page to say it was working)."""
    bar = None
    if isinstance(data, list) and len(data) > 1:
        bar = st.progress(0.0, text=f"judging and explaining {len(data):,} claims")

    def progress(done: int, total: int) -> None:
        if bar is not None and total:
            bar.progress(min(done / total, 1.0), text=f"judged and explained {done:,} of {total:,} claims")
    try:
        results = judge(kb, data, progress=progress, engine=current_engine())
    except InputError as e:
        st.session_state["checker_error"] = str(e)
        st.session_state.pop("checker_results", None)
        return
    finally:
        if bar is not None:
            bar.empty()
    st.session_state["checker_error"] = None
    st.session_state["checker_claims"] = claims_of(data)
    st.session_state["checker_results"] = results
    st.session_state["checker_judged_on"] = now_judged()


def _keep_input(claim: dict, text: str | None = None) -> None:
    """The claim judged becomes the editor's claim (and ``text`` the JSON box's): Streamlit forgets a widget's
    value once its page is left, and an analyst back from another page found the example claim in the editor
    under the verdict of the claim they had typed (an explorer audit)."""
    st.session_state["checker_editor_claim"] = claim
    st.session_state["checker_editor_version"] = st.session_state.get("checker_editor_version", 0) + 1
    _forget_drafts()
    if text is None:
        st.session_state.pop("checker_json_text", None)  # the box shows the editor's claim
    else:
        st.session_state["checker_json_text"] = text


def _forget_drafts() -> None:
    """The input typed and not checked, kept across pages (see page), is replaced by what was just checked."""
    st.session_state.pop("checker_editor_draft", None)
    st.session_state.pop("checker_json_draft", None)


def _apply(kb, idx: int, suggestion: dict) -> None:
    claims = list(st.session_state["checker_claims"])
    claims[idx] = apply_fix(claims[idx], suggestion)
    st.session_state["checker_applied"] = suggestion.get("message", "")
    _judge_into_state(kb, claims if len(claims) > 1 else claims[0])
    # show the fixed claim in the editor (and several claims, fixed, in the JSON box)
    if len(claims) == 1:
        _keep_input(claims[0])
    else:
        st.session_state["checker_json_text"] = json.dumps(claims, indent=2)
        st.session_state["checker_editor_version"] = st.session_state.get("checker_editor_version", 0) + 1
        _forget_drafts()
    # the fixed claims are now the box's: an uploaded file, judged again by "Check JSON", undid the fix with
    # no word (an explorer audit); a new uploader forgets the file
    st.session_state["checker_upload_version"] = st.session_state.get("checker_upload_version", 0) + 1


# ------------------------------------------------------------------- page
def page() -> None:
    kb = kb_or_stop()
    st.header("Claim checker")
    st.caption("Enter the claim's lines (or paste/upload JSON), judge it, unfold each reason into its proof down to the "
               "source sentence, and apply a suggested fix.")
    codes = kb.codes()
    if "checker_editor_claim" not in st.session_state:
        st.session_state["checker_editor_claim"] = example_claim(kb)
    base = st.session_state["checker_editor_claim"]
    ver = st.session_state.get("checker_editor_version", 0)
    # Streamlit forgets a widget's value when its page is left: what was typed and not checked came back as the
    # example claim (an explorer audit). Each run keeps the input as drafts; widgets made anew (no state under
    # their key) start from them
    if f"lines{ver}" not in st.session_state and st.session_state.get("checker_editor_draft"):
        base = st.session_state["checker_editor_draft"]
    json_draft = st.session_state.get("checker_json_draft") if f"json{ver}" not in st.session_state else None

    tab_edit, tab_json = st.tabs(["Line editor", "JSON (paste or upload; several claims judged together)"])
    with tab_edit:
        c1, c2 = st.columns(2)
        claim_id = c1.text_input("Claim id", value=base.get("claim_id", ""), key=f"cid{ver}")
        patient_id = c2.text_input("Patient id", value=base.get("patient_id", ""), key=f"pid{ver}")
        st.markdown("**Lines**")
        # No cell is "required": Streamlit keeps a new row out of the table until its required cells are
        # filled, so a line with its date left empty was judged as if it were not there (an analyst's audit);
        # the claim parser names the missing field and its line. Line, date and units are text (lines_frame).
        lines = st.data_editor(
            lines_frame(base), num_rows="dynamic", key=f"lines{ver}", width="stretch",
            column_config={
                "line": st.column_config.TextColumn("line", help="the line number: 1, 2, 3 …"),
                "code": st.column_config.SelectboxColumn("code", options=codes),
                "date_of_service": st.column_config.TextColumn("date of service", help="YYYY-MM-DD, e.g. 2025-03-04"),
                "provider_id": st.column_config.TextColumn("provider id"),
                "provider_role": st.column_config.SelectboxColumn("provider role", options=vocabulary(kb).values("role")),
                "units": st.column_config.TextColumn("units", default="1", help="a whole number (1 when empty)"),
                "modifiers": st.column_config.TextColumn("modifiers", help="separated by commas or spaces, e.g. KD, 59"),
                # the route, where the record states it: the rules check a code's route only on a
                # line that states one (an analyst walk: the note asked for a route this table could not take)
                "route": st.column_config.SelectboxColumn(
                    "route", options=vocabulary(kb).values("route"), required=False,
                    help="the route, if the record states it (checked against the code's routes)"),
            })
        st.markdown("**Patient's billed history** (earlier claims)")
        history = st.data_editor(
            history_frame(base), num_rows="dynamic", key=f"hist{ver}", width="stretch",
            column_config={
                "code": st.column_config.SelectboxColumn("code", options=codes),
                "date_of_service": st.column_config.TextColumn("date of service", help="YYYY-MM-DD, e.g. 2024-11-12"),
                "provider_id": st.column_config.TextColumn("provider id"),
            })
        try:
            st.session_state["checker_editor_draft"] = claim_from_frames(claim_id, patient_id, lines, history)
        except Exception:  # noqa: BLE001 - a draft is a convenience; the check names what is wrong
            pass
        if st.button("Check claim", type="primary", key="check_editor"):
            st.session_state.pop("checker_applied", None)
            claim = claim_from_frames(claim_id, patient_id, lines, history)
            _keep_input(claim)
            _judge_into_state(kb, claim)
            # the widgets anew under the new version's keys now: an edit made to the old ones after a claim that
            # could not be judged was lost and the old claim judged again (an explorer audit)
            st.rerun()
    with tab_json:
        up = st.file_uploader("Claim file (claim JSON, FHIR R4 Claim/Bundle, claim CSV, or an X12 837P file); when "
                              "a file is given it is judged instead of the text below",
                              key=f"checker_upload{st.session_state.get('checker_upload_version', 0)}")
        shown = st.session_state.get("checker_json_text") or json.dumps(base, indent=2)
        text = st.text_area("…or paste JSON", value=json_draft or shown, height=220, key=f"json{ver}")
        if text != shown:  # typed here (else the box follows the editor's claim, as before)
            st.session_state["checker_json_draft"] = text
        else:
            st.session_state.pop("checker_json_draft", None)
        many = st.checkbox(f"Judge and explain more than {CHECKER_CLAIMS} claims here (slow: about a second a claim, "
                           f"with no way to stop it; the Batch page judges a whole file at once)", key="checker_many")
        if st.button("Check JSON", key="check_json"):
            st.session_state.pop("checker_applied", None)
            try:
                if up is None:
                    st.session_state["checker_json_text"] = text  # kept when the analyst goes to another page
                data = uploaded_claims(kb, up.getvalue()) if up is not None else load_json(text, "claim")
                if up is not None and not data:  # "[]": said naming the file, as every other upload problem
                    raise InputError("input: the file holds an empty list: there are no claims to judge")
            except InputError as e:
                st.session_state["checker_error"] = upload_problem(up.name, up.getvalue(), e) if up is not None \
                    else pasted_problem(text, e)
                st.session_state.pop("checker_results", None)
            else:
                if isinstance(data, list) and len(data) > CHECKER_CLAIMS and not many:
                    # an analyst uploaded 2,000 claims and waited four minutes, with no way to stop it and no
                    # word of the Batch page (an analyst walk)
                    st.session_state["checker_error"] = too_many_claims(len(data))
                    st.session_state.pop("checker_results", None)
                else:
                    if up is None and isinstance(data, dict):
                        _keep_input(data, text)
                    _judge_into_state(kb, data)
                    st.rerun()  # the widgets anew under the new version's keys (as for "Check claim")

    if st.session_state.get("checker_error"):
        st.error(md(st.session_state["checker_error"]))
    results = st.session_state.get("checker_results")
    if not results:
        return
    if st.session_state.get("checker_applied"):
        st.success(f"Fix applied and the claim judged again: {md(st.session_state['checker_applied'])}")
    for idx, res in enumerate(results):
        show_result(kb, idx, res)


def show_result(kb, idx: int, res: dict) -> None:
    st.subheader(f"Claim {md(res['claim_id'])}: {status_badge(res['status'])}", anchor=False)
    if res["status"] == "error":
        st.error(md(res["error"]))
        return
    st.dataframe(line_table(res), hide_index=True, width="stretch")
    for ln in res["lines"]:
        show_line(idx, ln, res.get("suggestions") or [])
    show_proof_graph(idx, res)
    sugg = res.get("suggestions") or []
    if res["status"] == "rejected":
        st.markdown("**Suggested fixes**")
        if not sugg and not res.get("cut_short"):
            st.write(md(res.get("no_fix") or "No fix found in the knowledge base for this claim."))
        if res.get("cut_short"):
            st.info(md(res["cut_short"]))
        entered = st.session_state.get("checker_claims") or []
        claim = entered[idx] if idx < len(entered) else None
        for k, s in enumerate(sugg):
            c1, c2 = st.columns([5, 1])
            verified = " — re-checked by the rules" if s.get("verified") else " (not re-checked)"
            c1.markdown(f"{k + 1}. {fix_markdown(s, sugg[:k])}  \n:small[{md(fix_summary(s, claim))}{verified}"
                        f"{' → claim ' + md(s['result_status']) if s.get('result_status') else ''}]")
            if s.get("result_status") == "empty":
                # nothing of the claim would remain: applied, it was a claim of no lines, refused as such
                c2.caption("nothing would remain to bill: withdraw the claim")
            elif c2.button("Apply fix", key=f"fix-{idx}-{k}"):
                _apply(kb_or_stop(), idx, s)
                st.rerun()
    work_paper_download([res], st.session_state.get("checker_judged_on"),
                        "Download this claim's work paper (HTML)", key=f"paper-{idx}",
                        claims=st.session_state.get("checker_claims"), kb=kb)


def verdict_words(ln: dict) -> str:
    """The line's verdict as the checker, finder and CLI say it (``verdict``: accepted, rejected, or
    "accepted for billing under the supervising physician or QHP …")."""
    verdict = line_verdict(ln)
    if line_state(ln) == NOT_CHECKED:  # grey, never green: no rule looked at it (issue 23)
        return f":gray[**{md(verdict)}**]"
    return status_badge(verdict) if verdict in ("accepted", "rejected", "error") else f":green[**{verdict}**]"


def show_line(idx: int, ln: dict, suggestions: list[dict]) -> None:
    """One line: its verdict, the short explanation in billing words, and the full proof one click away."""
    icon = {"accepted": ":material/check_circle:", NOT_CHECKED: ":gray[:material/help:]"}.get(
        line_state(ln), ":material/cancel:")
    st.markdown(f"{icon} **line {md(ln['line'])} · {md(ln['code'])}** — {verdict_words(ln)}")
    for r in ln.get("reasons") or []:  # the code a payer's remittance would carry, beside the rejection
        if reason_code_words(r):
            st.markdown(f":red-badge[{md(reason_code(r))}] {md(reason_code_words(r))}")
    # a clean line says what was assumed of it too (the route not stated, so not checked): the note appeared only
    # beside a reason or a warning, and the work paper said what the page did not (an analyst walk)
    if ln.get("reasons") or ln.get("warnings") or ln.get("assumptions") or ln.get("source_conflicts"):
        st.markdown(line_summary_markdown(ln, suggestions))
    if ln.get("reasons") or ln.get("warnings") or ln.get("why_not"):
        with st.expander(f"Full proof of line {md(ln['line'])} ({md(ln['code'])}): every step and why not"):
            show_line_explanation(idx, ln)


def line_proofs(ln: dict) -> list[dict]:
    """The proofs behind a line's verdict: its reasons when it was rejected,
    else its warnings (the first proof of each when all were requested)."""
    out = []
    for r in ln.get("reasons") or ln.get("warnings", []):
        p = r.get("proof")
        if isinstance(p, list):
            p = p[0] if p else None
        if p:
            out.append(p)
    return out


def show_line_explanation(idx: int, ln: dict) -> None:
    for kind, items in (("Why rejected", ln.get("reasons", [])), ("Warnings", ln.get("warnings", []))):
        if not items:
            continue
        st.markdown(f"**{kind}**")
        for r in items:
            p = r.get("proof")
            if isinstance(p, list):  # all proofs requested: show the first
                p = p[0] if p else None
            if p:
                st.markdown(proof_markdown(p))
            else:
                st.markdown(f"*{md(r.get('title') or r['rule'])}*: {md(r['message'])}")
                for c in citations(r.get("sources")):
                    st.markdown(f"- :material/description: {md(c)}")
    if ln.get("why_not"):
        kb = kb_or_stop()
        st.markdown("**Why not accepted: the conditions that failed**")
        for w in ln["why_not"]:
            said = (f"**{md(kb.rule_title(w['rule']))}** does not apply: {md(w['condition'])}"
                    if w.get("rule") and w.get("condition") else md(w.get("message", "")))
            detail = " · ".join(x for x in (f"rule {md_code(w['rule'])}" if w.get("rule") else "",
                                            md(w.get("source", ""))) if x)
            st.markdown(f"- {said}  \n  :small[{detail}]")


def show_proof_graph(idx: int, res: dict) -> None:
    """One line's proof drawn as a graph (outside the expanders: a component
    drawn inside a collapsed expander gets no height)."""
    with_proofs = [ln for ln in res["lines"] if line_proofs(ln)]
    if not with_proofs:
        return
    first = next((i for i, ln in enumerate(with_proofs) if ln["status"] == "rejected"), 0)
    by_no = {ln["line"]: ln for ln in with_proofs}
    n = st.selectbox("Proof as a graph, for line", list(by_no), index=first, key=f"proofline-{idx}",
                     format_func=lambda n: f"line {n} ({by_no[n]['code']}, {by_no[n]['status']})")
    pick = by_no[n]
    every = st.toggle("Show every proof step", value=False, key=f"proofall-{idx}")
    st.caption("blue: derived by a rule; green: from the claim; orange: KB fact; grey: searched, not found "
               "(or steps folded away); yellow: source sentence")
    if every:
        els = proof_elements(line_proofs(pick), root_label=f"line {pick['line']} {pick['status']}")
    else:
        els = decision_elements(pick)
    draw_graph(els, key=f"proof-{idx}-{pick['line']}-{'all' if every else 'path'}", height="460px",
               layout="breadthfirst", stylesheet=PROOF_STYLESHEET)
