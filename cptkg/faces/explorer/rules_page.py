"""Rules and sources, in words: every rule by its title with its message, sources and cases; every
source with what rests on it; the recorded source conflicts. The rules' Datalog text, message
templates and the predicates they read are on the Advanced page ``rule_text``."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import re
import threading

import cptkg
from cptkg.faces.markup import md, md_code
from cptkg import Comparison, load_cases, run_claim_case, run_infer_case
from cptkg import views as G
from cptkg.faces.explorer.common import current_engine, kb_or_stop


def _mentions(expect, rule_id: str) -> bool:
    """Does a case's ``expect`` name the rule (rules, only_rules, warnings, why-not lists)?"""
    if isinstance(expect, dict):
        return any(_mentions(v, rule_id) for v in expect.values())
    if isinstance(expect, list):
        return any(_mentions(v, rule_id) for v in expect)
    return expect == rule_id


# ------------------------------------------------------------------ every rule as a sentence (issue 23, finding 9)
#
# A rule's message template names its variables ({C} on line {L}); the rules page said each as "…", which
# left most rules blank. Each variable is now said by what it holds, found where the rule's body binds it:
# a claim or encounter input (the core ontology's input predicates), a KB property (its rdfs:domain and
# rdfs:range labels), a class the rule names (subclass_of(R, "ProviderRole") is "a provider role"), or a
# predicate another rule of the pack derives (what that rule's body binds there). Nothing here names a code,
# device or role of a pack: the nouns are the core input's and the KB's own labels.

#: the core's claim and encounter input (ontology/core.ttl, "predicates not read from RDF"): argument -> noun
INPUT_NOUNS = {
    ("line", 0): "line", ("in_history", 0): "history entry",
    ("billed", 0): "line or history entry", ("billed", 1): "code", ("billed", 2): "date of service",
    ("billed_provider", 0): "line or history entry", ("billed_provider", 1): "provider",
    ("line_role", 0): "line", ("line_role", 1): "role as the claim writes it",
    ("line_units", 0): "line", ("line_units", 1): "number of units",
    ("line_modifier", 0): "line", ("line_modifier", 1): "modifier",
    ("line_route", 0): "line", ("line_route", 1): "route as the claim writes it",
    ("date_units", 0): "code", ("date_units", 1): "date of service", ("date_units", 2): "number of units",
    ("date_units_once", 0): "code", ("date_units_once", 1): "date of service",
    ("date_units_once", 2): "units of each provider's first line",
    ("date_units_least", 0): "code", ("date_units_least", 1): "date of service",
    ("date_units_least", 2): "fewest units with the history",
    ("well_formed_code", 0): "code", ("code", 0): "code", ("pair_edit", 0): "pair edit", ("unit_edit", 0): "unit edit",
    ("enc_role", 0): "performer as documented", ("enc_device", 0): "device as documented",
    ("enc_route", 0): "route as documented", ("enc_service", 0): "service as documented",
    ("input_value", 1): "value as written",
}
#: core properties whose range the ontology leaves open, and the loader's built-ins (ontology/core.ttl): their value's noun
CORE_NOUNS = {("may_be_performed_by", 1): "provider role", ("modifier_set_repeat_by", 1): "the same or another",
              ("group_member", 0): "code group", ("group_member", 1): "code",
              ("code_routes", 1): "route of delivery", ("code_devices", 1): "device type"}
#: the nouns a line number wins with over "line or history entry" (a rule's line(L) says L is a line of the claim)
_SPECIFIC = {("line", 0), ("in_history", 0)}
_XSD = "http://www.w3.org/2001/XMLSchema#"


def _local(term) -> str:
    return str(term).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _property_nouns(kb) -> dict[tuple[str, int], str]:
    """(predicate, position) -> noun for the KB's properties: the labels of their domain and range class
    (a literal range: the property's own label, "effective date", "maximum units")."""
    from rdflib.namespace import RDFS

    g, out = kb.ontology_graph, {}
    for pred, prop in kb.properties.items():
        dom, rng, lab = g.value(prop, RDFS.domain), g.value(prop, RDFS.range), g.value(prop, RDFS.label)
        if dom is not None and not str(dom).startswith(_XSD):
            out[(pred, 0)] = kb.label(_local(dom))
        if rng is not None and not str(rng).startswith(_XSD):
            out[(pred, 1)] = kb.label(_local(rng))
        elif rng is not None and lab is not None:
            out[(pred, 1)] = _value_noun(str(lab))
    out.update(CORE_NOUNS)
    return {k: v for k, v in out.items() if v}


def _value_noun(label: str) -> str | None:
    """A literal-valued property's label as the noun of its value: "column 1 code" holds a code, "maximum units"
    a number of units, "modifier indicator" an indicator; a label that names no value (a yes/no) gives none."""
    words = label.split()
    if not words:
        return None
    last = words[-1].lower()
    if last == "code":
        return "code"
    if last == "units":
        return "number of units"
    if last in ("date", "indicator", "modifier") or words[0].lower() == "row":
        return "row" if words[0].lower() == "row" else " ".join(words[-2:]) if last == "indicator" else label
    return None


def _is_var(t) -> bool:
    return hasattr(t, "name") and not str(t.name).startswith("_")


def _rule_var_nouns(kb, rule, known: dict) -> dict[str, str]:
    """What each named variable of ``rule`` holds, as a noun: a class the rule names first, then the input,
    then a KB property, then a predicate another rule derives (``known``)."""
    ranked: dict[str, tuple[int, str]] = {}

    def offer(name: str, rank: int, noun: str | None):
        if noun and (name not in ranked or rank < ranked[name][0]):
            ranked[name] = (rank, noun)

    for item in rule.body:
        if isinstance(item, Comparison):
            continue
        atom = item.atom
        args = atom.args
        if atom.pred in ("subclass_of", "instance_of") and len(args) == 2 and _is_var(args[0]) \
                and hasattr(args[1], "value") and not item.negated:
            offer(args[0].name, 0, kb.label(str(args[1].value)))
        for i, a in enumerate(args):
            if not _is_var(a):
                continue
            key = (atom.pred, i)
            if key in INPUT_NOUNS:
                offer(a.name, 1 if key in _SPECIFIC else 2, INPUT_NOUNS[key])
            else:
                offer(a.name, 3 if key in known.get("properties", {}) else 4,
                      known.get("properties", {}).get(key) or known.get("derived", {}).get(key))
    return {k: v[1] for k, v in ranked.items()}


def _nouns(kb) -> dict:
    """Per rule (by program and index), its variables' nouns; a derived predicate's argument takes the noun its
    rule's body gives there, passed on until nothing changes (at most a few rounds)."""
    cached = _noun_cache.get((id(kb), kb.version))
    if cached is not None:
        return cached
    known = {"properties": _property_nouns(kb), "derived": {}}
    rules = [(kind, i, r) for kind, prog in (("claim", kb.check_program), ("infer", kb.infer_program))
             for i, r in enumerate(prog.rules)]
    per_rule: dict = {}
    for _ in range(6):
        changed = False
        for kind, i, r in rules:
            per_rule[(kind, i)] = nouns = _rule_var_nouns(kb, r, known)
            for pos, a in enumerate(r.head.args):
                key = (r.head.pred, pos)
                if _is_var(a) and a.name in nouns and key not in known["derived"]:
                    known["derived"][key] = nouns[a.name]
                    changed = True
        if not changed:
            break
    _noun_cache[(id(kb), kb.version)] = per_rule
    return per_rule


_noun_cache: dict = {}
#: words after which a field needs no article of its own ("the same date {D}", "the documented {S:label}")
_ARTICLES = {"a", "an", "the", "no", "its", "each", "every"}
#: words before a noun the template names after which the field adds nothing ("the same date {D}",
#: "a line's date {DL}", "modifier indicator {I}", "edit table row {N}")
_NO_ARTICLE = _ARTICLES | {"same", "earlier", "later", "first", "table", "modifier", "adjudication"}
#: words before which a field's noun gets an article when the template names the noun itself ("on line {L}")
#: nouns a template writes before a field ("modifier indicator {I}", "row {N}"): the field adds nothing to them
_VALUE_NOUNS = {"line", "date", "modifier", "indicator", "row", "edit", "role", "route", "code", "entry"}


def _article(noun: str) -> str:
    if noun.startswith("the "):
        return noun
    return ("an " if noun[:1].lower() in "aeio" else "a ") + noun


def words_for(template: str, nouns: dict[str, str]) -> str:
    """``template`` with each field said by the noun of its variable: 'a code on a line', then 'the code',
    and 'another code' for a second variable holding a code. Where the template names the noun itself
    ('on line {L}', 'for the same date {D}', 'modifier indicator {I}') the field adds only an article."""
    import string

    out, seen, by_noun, drop_quote, drop_word = "", {}, {}, False, ""
    for literal, field, spec, _ in string.Formatter().parse(template or ""):
        if drop_quote and literal.startswith('"'):
            literal = literal[1:]
        if drop_word and re.match(rf" {re.escape(drop_word)}s?(\(s\))?\b", literal):
            literal = re.sub(rf"^ {re.escape(drop_word)}s?(\(s\))?", "", literal)
        drop_quote, drop_word = False, ""
        out += literal
        if field is None:
            continue
        noun = nouns.get(field) or {"entry": "line or history entry"}.get(spec or "", "value")
        if out.endswith('"'):  # '"{X:label}"': a noun is not quoted
            out, drop_quote = out[:-1], True
        if field in seen:
            det = "the " if by_noun[noun][0] == field or len(by_noun[noun]) == 1 else "the other "
        else:
            by_noun.setdefault(noun, []).append(field)
            seen[field] = noun
            det = "another " if len(by_noun[noun]) > 1 else ""
        drop_word = noun.split(" ")[-1].removesuffix("s")  # "{N} units", "{R:label} delivery"
        words = out.rstrip(" ").split(" ") if out.endswith(" ") else []
        bare = [w.lower().lstrip("(") for w in words]
        parts = noun.lower().split(" ")
        n = next((k for k in (len(parts), 2, 1) if len(bare) >= k and k <= len(parts)
                  and (bare[-k:] == parts[:k] or (k == len(parts) and bare[-k:] == parts))), 0)
        if not n and bare and bare[-1] in _VALUE_NOUNS:
            n = 1
        if n:  # the template names the noun: "line {L}", "pair edit {X}", "the same date {D}"
            before = bare[-n - 1] if len(bare) > n else ""
            opening = words[-n].startswith("(")
            earlier = bare[-n - 2] if len(bare) > n + 1 else ""
            listed = before.endswith(",") and "same" in bare[max(0, len(bare) - n - 4):len(bare) - n]
            if not opening and (before in _NO_ARTICLE or before.endswith("'s") or listed or earlier in _ARTICLES):
                out = out.rstrip(" ")
                continue
            said = " ".join(words[-n:]).lstrip("(")
            out = " ".join(words[:-n]) + (" " if len(words) > n else "") + ("(" if opening else "")
            out += (det + said) if det else _article(said)
            continue
        if bare and bare[-1] in ("a", "an"):  # "a {R:label}": the template's article, fitted to the noun
            out = " ".join(words[:-1]) + (" " if len(words) > 1 else "") + ((det + noun) if det else _article(noun))
            continue
        if bare and (bare[-1] in _ARTICLES or (len(bare) > 1 and bare[-2] in _ARTICLES and bare[-1].isalpha())):
            out += noun  # "the {S:label}", "the documented {S:label}": the template's own article
            continue
        out += (det + noun) if det else _article(noun)
    return out[:1].upper() + out[1:]


def rule_table(kb) -> list[dict]:
    """One record per rule of both rule files, in file order."""
    rows = []
    nouns = _nouns(kb)
    for kind, prog in (("claim", kb.check_program), ("infer", kb.infer_program)):
        cases = _cases(kb, kind)
        for i, r in enumerate(prog.rules):
            preds = []
            for item in r.body:
                if isinstance(item, Comparison):
                    continue
                name = item.atom.pred
                preds.append(("not " if item.negated else "") + f"{name}/{item.atom.arity}")
            rid = r.meta.id or r.head.pred
            rows.append({
                "id": rid, "title": kb.rule_title(rid), "file": r.file, "line": r.line, "kind": kind, "head": str(r.head),
                "message": r.meta.message or "",
                # as its verdicts report it: its own, else its sources' weakest (it was blank for those)
                "confidence": r.meta.confidence or cptkg.weakest_confidence(s.confidence for s in kb.rule_source(r)),
                "sources": [s.to_json() for s in kb.rule_source(r)],
                "uses": list(dict.fromkeys(preds)),
                "kb_facts": sorted({p.split("/")[0].removeprefix("not ") for p in preds} & set(kb.facts)),
                "text": str(r),
                "cases": [c.get("name", "") for c in cases if _mentions(c.get("expect"), rid)],
                "says": words_for(r.meta.message or "", nouns.get((kind, i), {})) or kb.rule_title(rid),
                "does": DOES.get(kb.verdicts.get(r.head.pred, ""), STEP),
            })
    return rows


_case_cache: dict = {}


def _cases(kb, kind: str) -> list[dict]:
    path = kb.pack.case_file(kind)
    key = (str(path), path.stat().st_mtime if path.exists() else 0)
    if key not in _case_cache:
        _case_cache[key] = load_cases(path) if path.exists() else []
    return _case_cache[key]


def run_rule_cases(kb, rule: dict, engine: str) -> list[tuple[str, bool, list[str]]]:
    """Run the worked examples that show a rule on the session's ``engine``; (name, passed, problems) each.
    (The engine is required: without one, every run stopped the page with "no engine chosen".)"""
    runner = run_claim_case if rule["kind"] == "claim" else run_infer_case
    out = []
    for c in _cases(kb, rule["kind"]):
        if c.get("name", "") in rule["cases"]:
            r = runner(kb, c, kb.pack.shown(kb.pack.case_file(rule["kind"])), engine=engine)
            out.append((r.name, r.ok, r.problems))
    return out


def plain_message(template: str) -> str:
    """A message template with each field ({C}, {E:entry}) shown as '…' (kept for callers; the page says each
    field in words: ``words_for``)."""
    return re.sub(r"\{[^{}]*\}", "…", template or "")


#: what a rule whose head is a verdict predicate does (the core's verdicts: ontology/core.ttl, ont:verdict)
DOES = {"reject": "denies the line", "warn": "warns on the line", "bill": "names the code to bill",
        "why_not": "says why a code is not chosen", "no_code": "names a service no code covers"}
#: a rule that derives no verdict: a step the others use, shown by what it establishes
STEP = "establishes a step other rules use"

_example_cache: dict = {}
_example_lock = threading.Lock()


def _proof_messages(node, into: dict) -> None:
    """Every rule's message in a result and its proofs (reasons, warnings, why-not, and each step under them)."""
    if isinstance(node, dict):
        rule, msg = node.get("rule"), node.get("message")
        if isinstance(rule, str) and isinstance(msg, str) and msg and "…" not in msg and "{" not in msg:
            into.setdefault(rule, msg)
        for v in node.values():
            _proof_messages(v, into)
    elif isinstance(node, list):
        for v in node:
            _proof_messages(v, into)


def rule_example(kb, rule: dict) -> tuple[str, str] | None:
    """(worked example's name, the rule's message as its proof fills it) or None: the examples that show the
    rule first, then the others, each judged with proofs once per KB (a helper rule shows in a proof only).
    An example that loads the pack's synthetic edit files is judged with them; one that adds facts of its
    own is left out."""
    with _example_lock:  # sessions share the examples found; one judges each worked example once
        return _rule_example(kb, rule)


def _case_kb(kb, edits):
    """The KB a worked example is judged with: the pack's, or the pack with the edit files the example
    loads (the pack's own synthetic edit files, as ``cptkg test`` loads them); None for an edit file that
    is not a file of the pack. Why load them: the pair- and unit-edit rules fire only on an edit table,
    so without them those rules had no example at all."""
    try:
        return cptkg.with_case_edits(kb, edits)
    except (cptkg.PackError, cptkg.KBLoadError):
        return None


def _rule_example(kb, rule: dict) -> tuple[str, str] | None:
    state = _example_cache.setdefault((id(kb), kb.version), {"found": {}, "done": set()})
    found, done = state["found"], state["done"]
    key = (rule["kind"], rule["id"])
    if key in found or all((rule["kind"], i) in done for i, _ in enumerate(_cases(kb, rule["kind"]))):
        return found.get(key)
    cases = list(enumerate(_cases(kb, rule["kind"])))
    cases.sort(key=lambda ic: ic[1].get("name", "") not in rule["cases"])
    for i, c in cases:
        if (rule["kind"], i) in done:
            continue
        done.add((rule["kind"], i))
        if "given" not in c or c.get("kb_facts"):
            continue
        judged_with = _case_kb(kb, c.get("edits"))
        if judged_with is None:
            continue
        msgs: dict = {}
        try:
            if rule["kind"] == "claim":
                _proof_messages(cptkg.explain(c["given"], kb=judged_with, all_proofs=True, engine=current_engine()),
                                msgs)
            else:
                _proof_messages(cptkg.infer(c["given"], kb=judged_with, explain=True, engine=current_engine()), msgs)
        except (cptkg.InputError, cptkg.EvaluationError, cptkg.EvaluationTimeout):
            continue
        for rid, msg in msgs.items():
            found.setdefault((rule["kind"], rid), (c.get("name", ""), msg))
        if key in found:
            break
    return found.get(key)


def example_message(kb, rule: dict) -> str | None:
    """The rule's message as a worked example fills it in, or None."""
    got = rule_example(kb, rule)
    return got[1] if got else None


def rule_words(kb, rule: dict) -> list[str]:
    """What the rules page says of a rule, each a sentence: what it does, in general, and its example."""
    got = rule_example(kb, rule)
    return [rule["does"], rule["says"]] + ([got[1]] if got else [])


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
    st.caption("Every rule in words, with the source sentences it rests on and the worked examples that show it. "
               "The rules' Datalog text is under Advanced › Rule text.")
    tab_rules, tab_sources, tab_conflicts = st.tabs(["Rules", "Sources", "Source conflicts"])
    with tab_rules:
        rows = rule_table(kb)
        c1, c2 = st.columns([1, 3])
        kind = c1.radio("Rules that", ["claim", "infer"], horizontal=True, key="rules_kind",
                        format_func=lambda k: {"claim": "check claims", "infer": "find the code"}[k])
        text = c2.text_input("Filter (title, message or source)", key="rules_filter").strip().lower()
        shown = [r for r in rows if r["kind"] == kind and (not text or text in r["id"].lower() or text in r["title"].lower()
                                                             or text in r["says"].lower()
                                                             or any(text in s["citation"].lower() for s in r["sources"]))]
        st.dataframe(pd.DataFrame([{"rule": r["title"], "what it does": r["does"], "says": r["says"],
                                    "sources": "; ".join(dict.fromkeys(s["citation"] for s in r["sources"])),
                                    "worked examples": len(r["cases"])}
                                   for r in shown], columns=["rule", "what it does", "says", "sources", "worked examples"]),
                     hide_index=True, width="stretch")
        if not shown:
            return
        rid = st.selectbox("Rule", [r["id"] for r in shown], key="rules_pick",
                           format_func=lambda i: next(x["title"] for x in shown if x["id"] == i))
        r = next(x for x in shown if x["id"] == rid)
        st.markdown(f"#### {md(r['title'])}  \n:small[rule {md_code(r['id'])} · {md(r['file'])}:{md(r['line'])}]")
        st.markdown(f"**what it does**: {md(r['does'])}")
        st.markdown(f"**says**: {md(r['says'])}")
        with st.spinner("Finding a worked example"):
            example = rule_example(kb, r)
        if example:
            st.markdown(f"**for example**: {md(example[1])}  \n:small[from the worked example “{md(example[0])}”]")
        if r["confidence"]:
            st.markdown(f"**confidence**: {md(r['confidence'])}")
        st.markdown("**sources**")
        for s in r["sources"]:
            st.markdown(f"- {md(s['citation'])}: “{md(s['quote'])}”")
        st.markdown(f"**worked examples that test this rule** ({len(r['cases'])})")
        for name in r["cases"]:
            st.markdown(f"- {md(name)}")
        if r["cases"] and st.button("Run these cases", key=f"runcases-{rid}"):
            for name, ok, problems in run_rule_cases(kb, r, current_engine()):
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
