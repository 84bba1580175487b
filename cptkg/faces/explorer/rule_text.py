"""Advanced: the rules as written, for those who read Datalog: each rule's text, its message
template, the predicates it reads (and which of them are KB facts), its file and line. The
analyst's page (``rules_page``) says the same rules in words."""
from __future__ import annotations

import streamlit as st

from cptkg.faces.markup import md, md_code
from cptkg.faces.explorer.common import kb_or_stop
from cptkg.faces.explorer.rules_page import rule_table


def page() -> None:
    kb = kb_or_stop()
    st.header("Rule text (Datalog)")
    st.caption("The family pack's rule files as the engines read them. Rules and sources (under Analyst) "
               "says each rule in words, with its sources and cases.")
    rows = rule_table(kb)
    kind = st.radio("Rule file", ["claim", "infer"], horizontal=True, key="ruletext_kind",
                    format_func=lambda k: {"claim": "claim.dl (claim checks)", "infer": "infer.dl (code inference)"}[k])
    shown = [r for r in rows if r["kind"] == kind]
    rid = st.selectbox("Rule", [r["id"] for r in shown], key="ruletext_pick",
                       format_func=lambda i: next(f"{x['id']} — {x['title']}" for x in shown if x["id"] == i))
    r = next(x for x in shown if x["id"] == rid)
    st.markdown(f"#### {md(r['title'])}  \n:small[rule {md_code(r['id'])} · {md(r['file'])}:{md(r['line'])}]")
    st.code(r["text"], language="prolog")
    st.markdown(f"**message template**: {md_code(r['message'])}")
    st.markdown("**facts and predicates it uses**: " + ", ".join(md_code(u) for u in r["uses"]))
    if r["kb_facts"]:
        st.markdown("of which read from the knowledge base: " + ", ".join(md_code(p) for p in r["kb_facts"]))
    with st.expander(f"Every rule of {md(kind)}.dl"):
        st.code("\n\n".join(x["text"] for x in shown), language="prolog")
