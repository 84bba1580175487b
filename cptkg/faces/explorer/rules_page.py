"""Rule browser: every rule with its message, sources, cases and the facts it
reads; every source with what rests on it; the recorded source conflicts."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import re

import cptkg
from cptkg.faces.markup import md, md_code
from cptkg import Comparison, load_cases, run_claim_case, run_infer_case
from cptkg import views as G
from cptkg.faces.explorer.common import kb_or_stop


def _mentions(expect, rule_id: str) -> bool:
    """Does a case's ``expect`` name the rule (rules, only_rules, warnings, why-not lists)?"""
    if isinstance(expect, dict):
        return any(_mentions(v, rule_id) for v in expect.values())
    if isinstance(expect, list):
        return any(_mentions(v, rule_id) for v in expect)
    return expect == rule_id


def rule_table(kb) -> list[dict]:
    """One record per rule of both rule files, in file order."""
    rows = []
    for kind, prog in (("claim", kb.check_program), ("infer", kb.infer_program)):
        cases = _cases(kb, kind)
        for r in prog.rules:
            preds = []
            for item in r.body:
                if isinstance(item, Comparison):
                    continue
                name = item.atom.pred
                preds.append(("not " if item.negated else "") + f"{name}/{item.atom.arity}")
            rid = r.meta.id or r.head.pred
            rows.append({
                "id": rid, "title": kb.rule_title(rid), "file": r.file, "line": r.line, "kind": kind, "head": str(r.head),
                "message": r.meta.message or "", "confidence": r.meta.confidence or "",
                "sources": [s.to_json() for s in kb.rule_source(r)],
                "uses": list(dict.fromkeys(preds)),
                "kb_facts": sorted({p.split("/")[0].removeprefix("not ") for p in preds} & set(kb.facts)),
                "text": str(r),
                "cases": [c.get("name", "") for c in cases if _mentions(c.get("expect"), rid)],
            })
    return rows


_case_cache: dict = {}


def _cases(kb, kind: str) -> list[dict]:
    path = kb.pack.case_file(kind)
    key = (str(path), path.stat().st_mtime if path.exists() else 0)
    if key not in _case_cache:
        _case_cache[key] = load_cases(path) if path.exists() else []
    return _case_cache[key]


def run_rule_cases(kb, rule: dict) -> list[tuple[str, bool, list[str]]]:
    """Run the cases that pin a rule; (name, passed, problems) each."""
    runner = run_claim_case if rule["kind"] == "claim" else run_infer_case
    out = []
    for c in _cases(kb, rule["kind"]):
        if c.get("name", "") in rule["cases"]:
            r = runner(kb, c, kb.pack.shown(kb.pack.case_file(rule["kind"])))
            out.append((r.name, r.ok, r.problems))
    return out


def plain_message(template: str) -> str:
    """A message template in plain words: each field ({C}, {E:entry}) shown as '…'."""
    return re.sub(r"\{[^{}]*\}", "…", template or "")


_example_cache: dict = {}


def example_message(kb, rule: dict) -> str | None:
    """The rule's message as a case that pins it fills it in (the first such case), or None."""
    key = (kb.version, rule["id"])
    if key in _example_cache:
        return _example_cache[key]
    found = None
    for c in _cases(kb, rule["kind"]):
        if c.get("name", "") not in rule["cases"] or "given" not in c:
            continue
        try:
            if rule["kind"] == "claim":
                res = cptkg.check(c["given"], kb=kb)
                items = [x for ln in res.get("lines", []) for x in ln.get("reasons", []) + ln.get("warnings", [])]
            else:
                res = cptkg.infer(c["given"], kb=kb)
                items = [x for e in res.get("codes", []) for x in e.get("reasons", [])]
                items += [x for e in res.get("not_chosen", []) for x in e.get("why_not", [])]
                items += [x for e in res.get("uncovered", []) for x in e.get("reasons", [])]
        except (cptkg.InputError, cptkg.EvaluationError, cptkg.EvaluationTimeout):
            continue
        found = next((x["message"] for x in items if x.get("rule") == rule["id"]), None)
        if found:
            break
    _example_cache[key] = found
    return found


def source_table(kb) -> pd.DataFrame:
    rows = []
    for sid, s in sorted(kb.sources.items()):
        rest = G.rests_on(kb, sid)
        rows.append({"id": sid, "citation": s.cite(), "confidence": s.confidence, "normative": s.normative,
                     "rules": len(rest["rules"]), "facts": len(rest["facts"]), "quote": s.quote})
    return pd.DataFrame(rows)


def page() -> None:
    kb = kb_or_stop()
    st.header("Rules and sources")
    tab_rules, tab_sources, tab_conflicts = st.tabs(["Rules", "Sources", "Source conflicts"])
    with tab_rules:
        rows = rule_table(kb)
        c1, c2 = st.columns([1, 3])
        kind = c1.radio("Rule file", ["claim", "infer"], horizontal=True, key="rules_kind",
                        format_func=lambda k: {"claim": "claim checks (claim.dl)", "infer": "code inference (infer.dl)"}[k])
        text = c2.text_input("Filter (title, message or source)", key="rules_filter").strip().lower()
        shown = [r for r in rows if r["kind"] == kind and (not text or text in r["id"].lower() or text in r["title"].lower()
                                                             or text in r["message"].lower()
                                                             or any(text in s["citation"].lower() for s in r["sources"]))]
        st.dataframe(pd.DataFrame([{"rule": r["title"], "says": plain_message(r["message"]),
                                    "sources": "; ".join(s["citation"] for s in r["sources"]), "cases": len(r["cases"]),
                                    "id": r["id"]}
                                   for r in shown]), hide_index=True, width="stretch")
        if not shown:
            return
        rid = st.selectbox("Rule", [r["id"] for r in shown], key="rules_pick",
                           format_func=lambda i: next(x["title"] for x in shown if x["id"] == i))
        r = next(x for x in shown if x["id"] == rid)
        st.markdown(f"#### {md(r['title'])}  \n:small[rule {md_code(r['id'])} · {md(r['file'])}:{md(r['line'])}]")
        example = example_message(kb, r)
        if example:
            st.markdown(f"**for example**: {md(example)}")
        else:
            st.markdown(f"**says**: {md(plain_message(r['message']))}")
        with st.expander("Rule text (Datalog) and message template"):
            st.markdown(f"message template: {md_code(r['message'])}")
            st.code(r["text"], language="prolog")
        st.markdown("**facts and predicates it uses**: " + ", ".join(md_code(u) for u in r["uses"]))
        if r["kb_facts"]:
            st.markdown("of which read from the knowledge base: " + ", ".join(md_code(p) for p in r["kb_facts"]))
        st.markdown("**sources**")
        for s in r["sources"]:
            st.markdown(f"- {md(s['citation'])}: “{md(s['quote'])}”")
        st.markdown(f"**cases pinning it** ({len(r['cases'])})")
        for name in r["cases"]:
            st.markdown(f"- {md(name)}")
        if r["cases"] and st.button("Run these cases", key=f"runcases-{rid}"):
            for name, ok, problems in run_rule_cases(kb, r):
                (st.success if ok else st.error)(f"{'pass' if ok else 'FAIL'}: {md(name)}" + ("" if ok else " — " + "; ".join(md(p) for p in problems)))
    with tab_sources:
        df = source_table(kb)
        st.dataframe(df, hide_index=True, width="stretch")
        sid = st.selectbox("Source", list(df["id"]), key="sources_pick")
        s = kb.sources[sid]
        rest = G.rests_on(kb, sid)
        st.markdown(f"**{md(s.cite())}**: “{md(s.quote)}”")
        st.markdown("**rules citing it**: " + (", ".join(md_code(x) for x in rest["rules"]) or "none"))
        st.markdown("**KB facts annotated with it**: " + (", ".join(md_code(x) for x in rest["facts"]) or "none"))
        st.markdown("**KB terms it maps to**: " + (md(", ".join(rest["maps_to"])) or "none"))
        unused = [x for x in df.itertuples() if x.rules == 0 and x.facts == 0 and x.normative]
        if unused:
            st.caption(f"{len(unused)} normative sentences rest under no rule or fact: " + md(", ".join(x.id for x in unused)))
    with tab_conflicts:
        for c in G.conflicts(kb):
            st.markdown(f"#### {md(c['label'])}  \n:small[{md_code(c['id'])}]")
            for s in c["conflicting"]:
                st.markdown(f"- :material/compare_arrows: conflicting: {md(s['citation'])}: “{md(s['quote'])}”")
            for s in c["prevailing"]:
                st.markdown(f"- :material/check: prevails: {md(s['citation'])}: “{md(s['quote'])}”")
            st.markdown(f"**resolution**: {md(c['resolution'])}")
