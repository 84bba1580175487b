"""Questions page: an analyst's questions as forms, answered by the rules (``cptkg.questions``),
each answer with its sources and a button that opens the knowledge graph on what it names."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from cptkg import EvaluationError, EvaluationTimeout, QuestionError, questions, views, vocabulary
from cptkg.faces.explorer import graph_page
from cptkg.faces.explorer.common import current_engine, kb_or_stop
from cptkg.faces.markup import md, md_code

# (tab title, question name): the order of the tabs
TABS = (("Who may perform a code", "who-may-perform"), ("Not billed with a code", "not-with"),
        ("Codes for a device, route, performer", "codes-for"), ("What rests on a source", "rests-on"),
        ("Sentences nothing rests on", "unsupported"), ("An edit", "edit"))
ALL_EDITS = "(every edit)"


def open_in_graph(node: str) -> None:
    """The Knowledge graph page, showing the neighbourhood of ``node`` (its view and focus set first)."""
    st.session_state["graph_view"] = graph_page.NEIGHBOURHOOD
    st.session_state["graph_focus"] = node
    st.switch_page(st.Page(graph_page.page, title=graph_page.TITLE, url_path=graph_page.URL_PATH))


def _ask(name: str, question, kb, **kwargs) -> None:
    """Ask and keep the answer (or the one-line refusal) for this question's tab."""
    try:
        st.session_state[f"questions_answer_{name}"] = question(kb, **kwargs)
    except QuestionError as e:
        st.session_state[f"questions_answer_{name}"] = {"error": str(e)}
    except (EvaluationTimeout, EvaluationError) as e:
        st.session_state[f"questions_answer_{name}"] = {"error": f"the rules could not answer: {e}"}


def _may_perform(row: dict) -> str:
    """A who-may-perform row's answer: "yes" only where a source lists the performer for the code.

    A line the rules accept for a code no source lists performers for is not
    checked for its performer (issue 23: "yes" read as a source's word).
    """
    if not row["may_perform"]:
        return "no"
    if not row.get("performer_checked", True):
        return "not checked (no source lists who performs the code)"
    return "yes" if row.get("listed_as") else "not denied (no source lists this performer)"


def _rows(answer: dict) -> list[dict]:
    """The answer's rows as a table (plain cells: a table renders no Markdown)."""
    q, out = answer["question"], []
    titles = lambda rs: "; ".join(dict.fromkeys(  # noqa: E731
        r["title"] + (f" ({r['denial']})" if r.get("denial") else "") for r in rs))
    for r in answer["rows"]:
        if q == "who-may-perform":
            out.append({"performer": r["role_label"], "may perform": _may_perform(r),
                        "verdict": r["verdict"], "why not": titles(r["reasons"]),
                        "listed as": ", ".join(r["listed_as"])})
        elif q == "not-with":
            out.append({"with": r["code"], "stands": ", ".join(r["stands"]) or "neither",
                        "denied": ", ".join(r["denied"]), "rule": titles(r["reasons"]),
                        "edit": "; ".join(r.get("edit_labels") or r["edits"])})
        elif q == "codes-for":
            fits = ("yes, performer not checked" if r["fits"] and r.get("performer_checked") is False else "yes"
                    if r["fits"] else f"yes, {', '.join(r['included_in'])} billed instead" if r.get("included_in")
                    else "no")
            billed = r.get("as_billed") or {}
            out.append({"code": r["code"], "fits": fits,
                        "services": ", ".join(r["services"]),
                        "as billed": billed.get("verdict") or "",
                        "why not": "" if r["fits"] else (r["reasons"][0]["message"] if r["reasons"] else
                                                         "billed instead: " + ", ".join(r["instead"]))})
        elif q == "rests-on":
            out.append({"kind": r["kind"], "what": r.get("title") or r.get("label") or r.get("fact", ""),
                        "reference": r.get("id", "")})
        elif q == "unsupported":
            out.append({"kind": r["kind"], "what": r.get("citation") or r.get("fact", ""),
                        "quote": r.get("quote", ""), "id": r.get("id", "")})
        elif q == "edit" and not answer["asked"].get("edit"):
            # the edit by its name first; its id (as `cptkg ask edit ID` takes it) last, for reference
            out.append({"edit": r["label"], "kind": r["kind"],
                        "codes": (" / ".join(", ".join(r[k]) for k in ("column1", "column2")) if r["kind"] == "pair"
                                  else f"{r['code']}, at most {r['max_units']}"), "id": r["id"]})
        elif q == "edit":
            for a in r.get("applied", []):
                out.append({"column 1": a["column1"], "column 2": a["column2"], "judged on": a["date"],
                            "stands": ", ".join(a["stands"]), "denied": ", ".join(a["denied"]),
                            "rule": titles(a["reasons"])})
    return out


def _edit_details(answer: dict) -> None:
    r = answer["rows"][0]
    pairs = (("kind of edit", r.get("edit_kind_label")), ("column 1", r.get("column1")), ("column 2", r.get("column2")),
             ("code", r.get("code")), ("most units", r.get("max_units")), ("provider scope", r.get("scope_label")),
             ("modifier indicator", r.get("modifier_indicator")), ("meaning", r.get("modifier") or r.get("adjudication")),
             ("adjudication indicator", r.get("adjudication_indicator")), ("bypassed by", r.get("bypassed_by")),
             ("effective", r.get("effective") or "no date (every date of service)"),
             ("deleted", r.get("deleted") or "no deletion date"),
             (f"in force on {answer['asked']['date']}", "yes" if r.get("in_force") else "no"),
             ("rationale", r.get("rationale")), ("edit table row", r.get("table_row")), ("file", r.get("file")))
    for key, value in pairs:
        if value not in (None, "", []):
            st.markdown(f"**{md(key)}**: {md(', '.join(map(str, value)) if isinstance(value, list) else value)}")


def show_answer(kb, name: str) -> None:
    """The kept answer of a tab: the sentence, its table, its sources and the graph button."""
    answer = st.session_state.get(f"questions_answer_{name}")
    if not answer:
        return
    if "error" in answer:
        st.warning(md(answer["error"]))
        return
    st.info(md(answer["answer"]))
    if name == "edit" and answer["asked"].get("edit"):
        _edit_details(answer)
    rows = _rows(answer)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    if answer["sources"]:
        with st.expander(f"Sources ({len(answer['sources'])})"):
            for s in answer["sources"]:
                quote = f": “{md(s['quote'])}”" if s.get("quote") else ""
                st.markdown(f"- **{md(s['citation'])}**{quote} :small[{md_code(s['id'])}]")
    if answer["focus"]:
        g = views.knowledge_graph(kb)
        c1, c2 = st.columns([3, 1])
        node = c1.selectbox("Show in the knowledge graph", answer["focus"], key=f"questions_focus_{name}",
                            format_func=lambda n: f"{g.nodes[n]['label']} ({views.KIND_LABEL[g.nodes[n]['kind']]})"
                            if n in g else n)
        c2.markdown("&nbsp;")
        if c2.button("Open in the knowledge graph", key=f"questions_graph_{name}", icon=":material/hub:"):
            open_in_graph(node)


def page() -> None:
    kb = kb_or_stop()
    st.header("Questions")
    st.caption("The questions an analyst asks of the rules, without SPARQL or Datalog: each answer is computed "
               "by the claim and inference rules (the same as `cptkg ask`), in words, with the source sentences "
               "it rests on.")
    can = questions.choices(kb)
    descriptor = lambda c: f"{c} — {kb.descriptor(c)[:70]}" if kb.descriptor(c) else c  # noqa: E731
    engine = current_engine()
    tabs = st.tabs([t for t, _ in TABS])
    with tabs[0]:
        with st.form("questions_form_who"):
            code = st.selectbox("Code", can["codes"], format_func=descriptor, key="questions_who_code")
            date = st.date_input("Date of service", dt.date.today(), key="questions_who_date")
            if st.form_submit_button("Ask"):
                _ask("who-may-perform", questions.who_may_perform, kb, code=code, date=date.isoformat(),
                     engine=engine)
        show_answer(kb, "who-may-perform")
    with tabs[1]:
        with st.form("questions_form_not_with"):
            code = st.selectbox("Code", can["paired_codes"], format_func=descriptor, key="questions_not_with_code")
            date = st.date_input("Date of service", dt.date.today(), key="questions_not_with_date")
            if st.form_submit_button("Ask"):
                _ask("not-with", questions.not_with, kb, code=code, date=date.isoformat(), engine=engine)
        show_answer(kb, "not-with")
    with tabs[2]:
        with st.form("questions_form_codes_for"):
            c1, c2, c3 = st.columns(3)
            vocab = vocabulary(kb)

            def label(kind: str):
                return lambda v: kb.label(vocab.term(kind, v) or v)

            device = c1.selectbox("Device", can["devices"], format_func=label("device"), key="questions_device")
            routes = can["routes"]
            default = routes.index(can["default_route"]) if can["default_route"] in routes else 0
            route = c2.selectbox("Route", routes, index=default, format_func=label("route"), key="questions_route")
            role = c3.selectbox("Performer", can["roles"], format_func=label("role"), key="questions_role")
            if st.form_submit_button("Ask"):
                _ask("codes-for", questions.codes_for, kb, device=device, route=route, role=role, engine=engine)
        show_answer(kb, "codes-for")
    with tabs[3]:
        with st.form("questions_form_rests_on"):
            source = st.selectbox("Source sentence", can["sources"], key="questions_source",
                                  format_func=lambda s: f"{kb.sources[s].cite()} — {kb.sources[s].quote[:80]}")
            if st.form_submit_button("Ask"):
                _ask("rests-on", questions.rests_on, kb, source_id=source)
        show_answer(kb, "rests-on")
    with tabs[4]:
        with st.form("questions_form_unsupported"):
            st.markdown("Sentences of the sources that state a billing rule with no rule, edit or fact resting on "
                        "them, and facts of the knowledge base that rest on no sentence (as `cptkg sources`).")
            if st.form_submit_button("Ask"):
                _ask("unsupported", questions.unsupported, kb)
        show_answer(kb, "unsupported")
    with tabs[5]:
        with st.form("questions_form_edit"):
            edit = st.selectbox("Edit", [ALL_EDITS, *can["edits"]], key="questions_edit",
                                format_func=lambda x: x if x == ALL_EDITS else f"{kb.label(x)} ({x})"
                                if kb.label(x) != x else x)
            date = st.date_input("Date of service", dt.date.today(), key="questions_edit_date")
            if st.form_submit_button("Ask"):
                _ask("edit", questions.edit, kb, edit_id=None if edit == ALL_EDITS else edit, date=date.isoformat(),
                     engine=engine)
        show_answer(kb, "edit")

