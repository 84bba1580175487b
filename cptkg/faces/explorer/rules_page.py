"""Rules and sources, in words: every rule by its title with its message, sources and cases; every
source with what rests on it; the recorded source conflicts. The rules' Datalog text, message
templates and the predicates they read are on the Advanced page ``rule_text``."""
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


def source_rows(kb) -> list[dict]:
    """Every source in words: its citation and quote, the rules citing it (by title), the KB facts
    annotated with it (as sentences) and the KB terms it maps to (by label); the id is kept for the
    detail line only."""
    out = []
    for d in cptkg.source_index(kb)["sources"]:
        out.append({**d, "rule_titles": [kb.rule_title(r) for r in d["rules"]],
                    "terms": [kb.label(t) for t in d["maps_to"]]})
    return out


def source_choice(s: dict) -> str:
    """A source as the picker shows it: 'guide §7.2 (CPT 62368): “The first words …”'."""
    quote = " ".join(str(s.get("quote", "")).split())
    return f"{s['citation']}: “{quote[:70]}{'…' if len(quote) > 70 else ''}”"


def page() -> None:
    kb = kb_or_stop()
    st.header("Rules and sources")
    st.caption("Every rule in words, with the source sentences it rests on and the cases that pin it. "
               "The rules' Datalog text is under Advanced › Rule text.")
    tab_rules, tab_sources, tab_conflicts = st.tabs(["Rules", "Sources", "Source conflicts"])
    with tab_rules:
        rows = rule_table(kb)
        c1, c2 = st.columns([1, 3])
        kind = c1.radio("Rules that", ["claim", "infer"], horizontal=True, key="rules_kind",
                        format_func=lambda k: {"claim": "check claims", "infer": "find the code"}[k])
        text = c2.text_input("Filter (title, message or source)", key="rules_filter").strip().lower()
        shown = [r for r in rows if r["kind"] == kind and (not text or text in r["id"].lower() or text in r["title"].lower()
                                                             or text in r["message"].lower()
                                                             or any(text in s["citation"].lower() for s in r["sources"]))]
        st.dataframe(pd.DataFrame([{"rule": r["title"], "says": plain_message(r["message"]),
                                    "sources": "; ".join(dict.fromkeys(s["citation"] for s in r["sources"])),
                                    "cases": len(r["cases"])}
                                   for r in shown], columns=["rule", "says", "sources", "cases"]),
                     hide_index=True, width="stretch")
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
        if r["confidence"]:
            st.markdown(f"**confidence**: {md(r['confidence'])}")
        st.markdown("**sources**")
        for s in r["sources"]:
            st.markdown(f"- {md(s['citation'])}: “{md(s['quote'])}”")
        st.markdown(f"**worked examples that test this rule** ({len(r['cases'])})")
        for name in r["cases"]:
            st.markdown(f"- {md(name)}")
        if r["cases"] and st.button("Run these cases", key=f"runcases-{rid}"):
            for name, ok, problems in run_rule_cases(kb, r):
                (st.success if ok else st.error)(f"{'pass' if ok else 'FAIL'}: {md(name)}" + ("" if ok else " — " + "; ".join(md(p) for p in problems)))
    with tab_sources:
        srcs = source_rows(kb)
        st.dataframe(pd.DataFrame([{"source": s["citation"], "quote": s["quote"], "confidence": s["confidence"],
                                    "normative": s["normative"], "rules": len(s["rules"]), "facts": len(s["facts"])}
                                   for s in srcs], columns=["source", "quote", "confidence", "normative", "rules", "facts"]),
                     hide_index=True, width="stretch")
        by_id = {s["id"]: s for s in srcs}
        sid = st.selectbox("Source", list(by_id), key="sources_pick", format_func=lambda i: source_choice(by_id[i]))
        s = by_id[sid]
        st.markdown(f"**{md(s['citation'])}**: “{md(s['quote'])}”  \n:small[source {md_code(s['id'])}]")
        st.markdown("**rules citing it**: " + (md("; ".join(s["rule_titles"])) or "none"))
        st.markdown("**KB facts resting on it**" + ("" if s["facts"] else ": none"))
        for f in s["facts"][:40]:
            st.markdown(f"- {md(f)}")
        st.markdown("**KB terms it maps to**: " + (md("; ".join(s["terms"])) or "none"))
        unused = [x for x in srcs if x["unused"]]
        if unused:
            st.caption(f"{len(unused)} normative sentences rest under no rule or fact: "
                       + md("; ".join(source_choice(x) for x in unused)))
    with tab_conflicts:
        for c in G.conflicts(kb):
            st.markdown(f"#### {md(c['label'])}  \n:small[{md_code(c['id'])}]")
            for s in c["conflicting"]:
                st.markdown(f"- :material/compare_arrows: conflicting: {md(s['citation'])}: “{md(s['quote'])}”")
            for s in c["prevailing"]:
                st.markdown(f"- :material/check: prevails: {md(s['citation'])}: “{md(s['quote'])}”")
            st.markdown(f"**resolution**: {md(c['resolution'])}")
