"""Proof trees (the explainer's JSON) as readable text and as a graph.

A proof node is ``{"fact", "kind", "rule", "message", "source", "children"}``
(``kind``: derived, claim, encounter, kb, absent, comparison); ``source`` is a
list of source records or, in older outputs, a citation string.
"""
from __future__ import annotations

from cptkg.faces.markup import md, md_code

KIND_COLOUR = {
    "derived": "#0072B2",
    "claim": "#009E73",
    "encounter": "#009E73",
    "kb": "#E69F00",
    "absent": "#999999",
    "comparison": "#56B4E9",
    "source": "#F0E442",
}
KIND_LABEL = {
    "derived": "derived by a rule", "claim": "from the claim", "encounter": "from the encounter",
    "kb": "knowledge-base fact", "absent": "searched, not found", "comparison": "comparison",
    "source": "source sentence",
}


def citations(source) -> list[str]:
    """Readable citations of a node's ``source`` (list of records or text)."""
    if not source:
        return []
    if isinstance(source, str):
        return [source]
    out = []
    for s in source:
        if isinstance(s, dict):
            cite = s.get("citation") or s.get("id", "")
            quote = s.get("quote")
            out.append(f"{cite}: “{quote}”" if quote else cite)
        else:
            out.append(str(s))
    return out


def _quote_lines(sources: list[dict], cited: set, pad: str = "  ") -> list[str]:
    out, facts = [], []
    for s in sources or []:
        if not isinstance(s, dict) or s.get("id") in cited or s.get("id") == "input":
            continue
        cited.add(s.get("id"))
        if s.get("for") == "fact":
            facts.append(md(s.get("citation", "")))
        else:
            out.append(f"{pad}- :material/description: {md(s.get('citation', ''))}" + (f": “{md(s['quote'])}”" if s.get("quote") else ""))
    if facts:
        out.append(f"{pad}- facts from: " + "; ".join(dict.fromkeys(facts)))
    return out


#: a fix's kind (cptkg.explanation.fixes) as the badge the analyst reads beside it
FIX_KIND_WORDS = {"recode": "recode", "modifier": "modifier", "void": "correct an earlier claim", "remove": "remove a line",
                  "units": "change the units"}
_OTHERWISE = "Otherwise, "


def fix_markdown(s: dict, earlier: list[dict] | tuple = ()) -> str:
    """A suggested fix as a coder reads it (issue 23, finding 4): a conditional fix opens with the
    question the record must answer ("Ask first: was it a true repeat?"), and the removal the fix
    search offers for the other answer reads "Otherwise", so the analyst never applies a removal
    that drops a true repeat, nor a repeat modifier on a duplicate, without asking."""
    out = []
    if s.get("question"):
        out.append(f":material/help: **Ask first**: {md(s['question'])}")
    msg = s.get("message", "")
    kind = FIX_KIND_WORDS.get(s.get("kind", ""))
    badge = f":gray-badge[{kind}] " if kind else ""
    if msg.startswith(_OTHERWISE) and any(e.get("question") for e in earlier):
        rest = msg[len(_OTHERWISE):]
        out.append(f"**Otherwise** {badge}{md(rest[:1].upper() + rest[1:])}")
    else:
        out.append(f"{badge}{md(msg)}")
    return "  \n".join(out)


def line_summary_markdown(ln: dict, suggestions: list[dict] | None = None) -> str:
    """A line's short explanation (the ``summary`` blocks of ``cptkg explain --json``) as Markdown:
    the deciding rule by its title, its message, the facts it rests on, each source once with its quote,
    why not, the verified fixes that change the line, the warnings; rule ids only in small detail lines."""
    out: list[str] = []
    cited: set = set()
    for r in ln.get("reasons", []):
        sm = r.get("summary") or {}
        out.append(f"**Denied — {md(sm.get('title') or r.get('title') or r['rule'])}**  \n{md(r['message'])}")
        if sm.get("facts"):
            out.append("- rests on: " + "; ".join(md(f) for f in sm["facts"]))
        srcs = _quote_lines(sm.get("sources") or r.get("sources"), cited, "")
        out.extend(srcs)
        out.append(f":small[rule {md_code(r['rule'])} · {md(r.get('confidence', ''))} confidence]")
    summ = ln.get("summary") or {}
    if summ.get("why_not"):
        out.append("**Why not accepted**: " + "; ".join(md(w) for w in summ["why_not"]) + ".")
    for i in summ.get("fixes", []):
        if suggestions and i < len(suggestions):
            out.append(f":material/build: **Fix**: {fix_markdown(suggestions[i], suggestions[:i])}")
    for w in ln.get("warnings", []):
        sm = w.get("summary") or {}
        cites = "; ".join(dict.fromkeys(md(s.get("citation", "")) for s in (sm.get("sources") or w.get("sources") or [])
                                        if isinstance(s, dict)))
        out.append(f":material/warning: **{md(sm.get('title') or w.get('title') or w['rule'])}**: {md(w['message'])}  \n"
                   f":small[{cites} · rule {md_code(w['rule'])}]")
    for a in ln.get("assumptions") or []:
        out.append(f":material/info: **Assumed**: {md(in_the_explorer(a))}")
    for c in ln.get("source_conflicts") or []:  # the sources the code rests on contradict each other (62368)
        out.append(f":material/info: **The sources conflict**: {md(c['label'])}. {md(c['resolution'])}")
    return "\n\n".join(out)


#: how the explorer's analyst states a route: the checker's line editor has a route column, an uploaded file may
EXPLORER_ROUTE = ("choose the line's route in the Claim checker's line editor (its route column), or give it in a "
                  "claim JSON or CSV file (its route field) and upload that file on the Claim checker or Batch page")


def in_the_explorer(assumption: str) -> str:
    """An assumption's "how to state it" as the explorer's analyst does it, not with the CLI's --route or a
    FHIR extension URL (analyst walk, issue 23).

    >>> in_the_explorer("route was not checked; to have it checked, state it …, or with --route.")
    "route was not checked; to have it checked, choose the line's route in the Claim checker's line editor (its route column), or give it in a claim JSON or CSV file (its route field) and upload that file on the Claim checker or Batch page."
    """
    head, sep, _ = assumption.partition("; to have it checked, ")
    return f"{head}; to have it checked, {EXPLORER_ROUTE}." if sep else assumption


def proof_markdown(proof: dict | None, max_depth: int | None = None) -> str:
    """The proof as a nested Markdown list: each step's message in words, a small detail line with its
    kind, the raw fact and the rule that derived it, and the source sentences at the leaves."""
    if not proof:
        return "_no proof recorded_"
    lines: list[str] = []
    # a step proved once (a line's fault that two denials rest on) is shown in full once; where it is used
    # again it is named and said to be proved above, not repeated step for step (an analyst's walk)
    proved: set[str] = set()

    def walk(node: dict, depth: int) -> None:
        pad = "  " * depth
        msg = node.get("message") or node.get("fact", "")
        if node.get("kind") == "comparison":  # '1 != 2 holds' as 'entry 1 differs from entry 2'
            msg = _comparison_words(msg)
        rule = f" · rule {md_code(node['rule'])}" if node.get("rule") and node.get("kind") == "derived" else ""
        # the step in words; the raw fact, its kind and the rule id in a small detail line
        lines.append(f"{pad}- **{md(msg)}**  \n{pad}  :small[{md(KIND_LABEL.get(node.get('kind'), node.get('kind', '')))}"
                     f" · {md(node.get('fact', ''))}{rule}]")
        if node.get("searched"):  # what was searched (rule ids among it): a detail line
            lines.append(f"{pad}  - :small[{md(node['searched'])}]")
        if node.get("kind") not in ("derived", "claim", "encounter", "comparison") or not node.get("children") and node.get("kind") == "derived":
            for c in citations(node.get("source")):
                lines.append(f"{pad}  - :material/description: {md(c)}")
        if max_depth is not None and depth >= max_depth and node.get("children"):
            lines.append(f"{pad}  - … ({len(node['children'])} more steps)")
            return
        if node.get("kind") == "derived" and node.get("children") and node.get("fact"):
            if node["fact"] in proved:
                lines.append(f"{pad}  - :small[proved above]")
                return
            proved.add(node["fact"])
        for ch in node.get("children", []):
            walk(ch, depth + 1)

    walk(proof, 0)
    return "\n".join(lines)


def proof_elements(proofs: list[dict], root_label: str | None = None, with_sources: bool = True) -> list[dict]:
    """Cytoscape elements for one or more proof trees (under an optional root),
    each node coloured by its kind; source sentences become their own leaves."""
    els: list[dict] = []
    counter = [0]
    source_ids: dict[str, str] = {}

    def add(node: dict, parent: str | None) -> None:
        counter[0] += 1
        nid = f"p{counter[0]}"
        kind = node.get("kind", "derived")
        label = _words_label(_comparison_words(node.get("message", "")) if kind == "comparison"
                             else node.get("message") or node.get("fact", ""))
        els.append({"data": {"id": nid, "label": label, "kind": kind, "colour": KIND_COLOUR.get(kind, "#999"),
                             "message": node.get("message", ""), "detail": node.get("fact", ""),
                             "rule": node.get("rule") or ""}})
        if parent:
            els.append({"data": {"id": f"{parent}>{nid}", "source": parent, "target": nid, "label": ""}})
        if with_sources and isinstance(node.get("source"), list) and (kind != "derived" or not node.get("children")):
            for s in node["source"]:
                if not isinstance(s, dict):
                    continue
                sid = source_ids.get(s.get("id", ""))
                if sid is None:
                    sid = source_ids[s.get("id", "")] = f"s:{s.get('id', len(source_ids))}"
                    els.append({"data": {"id": sid, "label": s.get("citation") or s.get("id", ""), "kind": "source",
                                         "colour": KIND_COLOUR["source"], "message": s.get("quote", "")}})
                els.append({"data": {"id": f"{nid}>{sid}", "source": nid, "target": sid, "label": "rests on"}})
        for ch in node.get("children", []):
            add(ch, nid)

    root = None
    if root_label:
        root = "root"
        els.append({"data": {"id": root, "label": root_label, "kind": "derived", "colour": "#333333", "message": ""}})
    for p in proofs:
        if p:
            add(p, root)
    return els


_OP_WORDS = {"!=": "differs from", "<=": "is on or before", ">=": "is on or after", "<": "is before", ">": "is after",
             "=": "equals"}


def _comparison_words(message: str) -> str:
    """'1 != 2 holds' as 'line 1 differs from line 2' — a comparison in words for the graph."""
    text = message.removesuffix(" holds")
    for op, words in _OP_WORDS.items():
        left, sep, right = text.partition(f" {op} ")
        if sep:
            show = lambda v: f"entry {v}" if v.lstrip("-").isdigit() else v  # noqa: E731
            return f"{show(left)} {words} {show(right)}"
    return text


def _words_label(text: str, limit: int = 90) -> str:
    """A node label in words, cut at a word boundary (never mid-word)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def decision_elements(ln: dict) -> list[dict]:
    """The decision path of a line as a graph, from its reasons' summaries: the verdict, the deciding
    rule by its title, the facts it rests on, one node per source; every other proof step is folded
    (the full proof graph shows them)."""
    els: list[dict] = [{"data": {"id": "verdict", "label": f"line {ln['line']} ({ln['code']}): "
                                 f"{ln.get('verdict') or ln['status']}", "kind": "derived", "colour": "#333333",
                                 "message": ""}}]
    seen: set[str] = {"verdict"}

    def node(nid: str, label: str, kind: str, message: str = "", detail: str = "") -> str:
        if nid not in seen:
            seen.add(nid)
            els.append({"data": {"id": nid, "label": _words_label(label), "kind": kind,
                                 "colour": KIND_COLOUR.get(kind, "#999"), "message": message, "detail": detail}})
        return nid

    for i, r in enumerate(ln.get("reasons") or ln.get("warnings") or []):
        sm = r.get("summary") or {}
        rid = node(f"r{i}", sm.get("title") or r.get("title") or r["rule"], "derived", r.get("message", ""), r["rule"])
        els.append({"data": {"id": f"verdict>{rid}", "source": "verdict", "target": rid, "label": "decided by"}})
        for k, f in enumerate(sm.get("facts", [])):
            fid = node(f"f:{f}", f, "claim" if f.startswith(("line ", "history entry", "the performer")) else "kb", f)
            els.append({"data": {"id": f"{rid}>{fid}", "source": rid, "target": fid, "label": "rests on"}})
        for src in sm.get("sources", []):
            sid = node(f"s:{src.get('id')}", src.get("citation", ""), "source", src.get("quote", ""))
            els.append({"data": {"id": f"{rid}>{sid}", "source": rid, "target": sid, "label": "cites"}})
        if sm.get("folded"):
            fold = node(f"fold{i}", f"{sm['folded']} more proof steps (show every step)", "absent")
            els.append({"data": {"id": f"{rid}>{fold}", "source": rid, "target": fold, "label": ""}})
    return els


def leaves_without_source(proof: dict) -> list[str]:
    """Facts at leaves that cite nothing (the explainer promises a source at every leaf)."""
    out = []
    if not proof.get("children"):
        if not proof.get("source") and proof.get("kind") not in ("claim", "encounter", "comparison"):
            out.append(proof.get("fact", ""))
    for c in proof.get("children", []):
        out.extend(leaves_without_source(c))
    return out


PROOF_STYLESHEET = [
    {"selector": "node", "style": {"label": "data(label)", "background-color": "data(colour)", "shape": "round-rectangle",
                                   "font-size": 8, "width": 16, "height": 16, "text-wrap": "wrap", "text-max-width": 170,
                                   "text-valign": "bottom", "color": "#222"}},
    {"selector": "node[kind = 'source']", "style": {"shape": "ellipse"}},
    {"selector": "edge", "style": {"width": 1, "curve-style": "bezier", "target-arrow-shape": "triangle",
                                   "line-color": "#aaa", "target-arrow-color": "#aaa", "label": "data(label)",
                                   "font-size": 6}},
]
