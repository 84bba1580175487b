"""The short explanation of a verdict, in billing words: what a compliance analyst reads first.

The full proof (:mod:`cptkg.explanation.proofs`) has a node for every condition
of every rule, down to identity tests (``1 != 2``), absent out-of-force
dates and helper predicates. The summary keeps what the decision rests on:

    title     the deciding rule's title (its `% title:` metadata), its filled message
    edits     the edits of loaded edit tables (--edits) the reason names: their
              release, the file and row CMS published them in (a fact line
              names a released one: "NCCI PTP edit 62362/62367, release 2026Q2
              (2026-04-01), row 17 of ARCHIVE.zip › part2.txt")
    facts     the input facts the proof reaches (claim lines, billed history,
              the performer's role, the documented device …) and the KB facts
              the deciding rule reads itself, each once
    sources   the deciding rule's sources for this firing ("for": "rule") and
              those of the KB facts the proof reaches ("for": "fact"), once
              each, with their quotes
    why not   the failed conditions of the line's why-not, in words

and folds the rest away, counting it (``folded``), so the full proof stays
one flag away (``--full``) and the JSON keeps the proof beside the summary.
Nothing here is written per rule: a new rule is summarised the day it is added.
"""
from __future__ import annotations

import datetime
import re

from cptkg.explanation.proofs import ProofNode
from cptkg.rules.messages import IDENTIFIER_ARGS, SHARED_IDENTIFIER_VERBS, entry_name

# shapes of raw logic that a summary never shows: an atom "name(…)" with a quoted or numeric argument,
# a comparison "1 != 2", a message template "{C}" / "{E:entry}"
RAW_ATOM = re.compile(r"\b[a-z][a-z0-9_]*\((?:\s*(?:'[^']*'|\"[^\"]*\"|-?\d+|_)\s*,?)+\)|!=|\{[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}")


def _identifier_of(pred: str | None, args: tuple) -> tuple[int, str, str] | None:
    """(entry, noun, shown identifier) of a claim fact that carries a masked identifier, else None: the proof
    shows the identifier as "the provider of line 1" (cptkg.explanation.proofs), never its value."""
    positions = IDENTIFIER_ARGS.get(pred or "")
    if not positions or not args or not isinstance(args[0], int):
        return None
    for i, noun in positions.items():
        if i < len(args) and isinstance(args[i], str):
            return args[0], noun, args[i]
    return None


def _names_itself(pred: str | None, args: tuple) -> bool:
    """A fact whose masked identifier is named after the fact's own entry ("line 1 was performed by the
    provider of line 1"): ids are never shown, so it only says the entry has one.

    >>> _names_itself("billed_provider", (1, "the provider of line 1"))
    True
    >>> _names_itself("billed_provider", (2, "the provider of line 1"))
    False
    """
    found = _identifier_of(pred, args)
    return found is not None and found[2] == f"the {found[1]} of {entry_name(found[0])}"


def _shared_identifiers(facts: list[tuple[str, str | None, tuple]]) -> list[str]:
    """Entries that share a masked identifier, said together: "line 3 and line 2 were performed by the same
    provider", not "line 3 was performed by the provider of line 1; line 2 was performed by the provider of
    line 1" of two lines compared with each other (line 1 was not in question: a coder's audit). Grouped by
    the fact's predicate and identifier, not by its words. ``facts``: (message, predicate, arguments).

    >>> _shared_identifiers([("line 3 was performed by the provider of line 1", "billed_provider",
    ...                       (3, "the provider of line 1")), ("x", None, ()),
    ...                      ("line 2 was performed by the provider of line 1", "billed_provider",
    ...                       (2, "the provider of line 1"))])
    ['line 3 and line 2 were performed by the same provider', 'x']
    """
    groups: dict[tuple, list[int]] = {}
    for _msg, pred, args in facts:
        found = _identifier_of(pred, args)
        if found and pred in SHARED_IDENTIFIER_VERBS:
            groups.setdefault((pred, found[1], found[2]), []).append(found[0])
    out, said = [], set()
    for msg, pred, args in facts:
        found = _identifier_of(pred, args)
        key = (pred, found[1], found[2]) if found else None
        if key in groups and len(groups[key]) > 1:
            if key not in said:
                said.add(key)
                entries = " and ".join(entry_name(e) for e in groups[key])
                out.append(f"{entries} {SHARED_IDENTIFIER_VERBS[pred]} the same {found[1]}")
            continue
        out.append(msg)
    return out


def raw_atoms(text: str) -> list[str]:
    """Raw-logic fragments in ``text`` (atoms, comparisons, templates); empty when it reads as words."""
    return [m.group(0) for m in RAW_ATOM.finditer(text or "")]


def _source_record(s: dict, why: str) -> dict | None:
    if not isinstance(s, dict) or s.get("id") == "input":
        return None
    return {"id": s.get("id", ""), "citation": s.get("citation") or s.get("id", ""), "quote": s.get("quote", ""),
            "for": why}


def reason_summary(kb, node: ProofNode | None, reason) -> dict:
    """The summary of one reason (a Reason) and its shortest proof (a ProofNode, or None)."""
    facts: list[str] = []
    input_args: list[tuple[str, tuple]] = []
    preds: dict[str, str | None] = {}  # a claim fact's message -> its predicate
    sources: dict[str, dict] = {}
    folded = 0

    def cite(srcs) -> None:
        for s in srcs or []:
            rec = _source_record(s, "fact")
            if rec and rec["id"] not in sources:
                sources[rec["id"]] = rec

    for s in reason.sources:
        rec = _source_record(s, "rule")
        if rec:
            sources.setdefault(rec["id"], rec)

    def walk(n: ProofNode, top: bool) -> None:
        nonlocal folded
        if n.kind in ("claim", "encounter"):
            if n.message not in facts:
                facts.append(n.message)
                input_args.append((n.message, tuple(n.args or ())))
                preds[n.message] = n.pred
            else:
                folded += 1
        elif n.kind == "kb":
            cite(n.source)
            if top and n.message not in facts and not raw_atoms(n.message):
                facts.append(n.message)
                input_args.append((n.message, tuple(n.args or ())))
            else:
                folded += 1
        elif n.kind == "derived":  # a helper rule: folded; the facts under it still count
            folded += 1
        else:  # comparisons and absent facts: plumbing; the why-not says what did not hold
            folded += 1
        for ch in n.children:
            walk(ch, top=False)

    if node is not None:
        for ch in node.children:
            walk(ch, top=True)
    # a fact whose arguments all appear in another one says nothing more ("the claim has line 1" or
    # "62368 is a code of the knowledge base" beside "line 1 bills 62368 on 2025-06-10"); nor does one
    # whose masked identifier is named after the fact's own entry ("line 1 was performed by the provider
    # of line 1": ids are never shown, so it only says the line has one; analyst walk, issue 23)
    drop = {msg for msg, args in input_args
            if args and any(o != msg and set(args) < set(oa) for o, oa in input_args)} | {
        msg for msg, args in input_args if _names_itself(preds.get(msg), args)}
    folded += len(drop)
    args_of = dict(input_args)
    facts = _shared_identifiers([(f, preds.get(f), args_of.get(f, ())) for f in facts if f not in drop])
    edits = decided_by(kb, reason)
    for e in edits:  # an edit as an analyst names it, not by its IRI ("NCCI PTP edit 27447/20610")
        name = e["text"].split(",")[0]
        facts = [f.replace(f"edit {e['edit']}", name).replace(e["edit"], name) for f in facts]
    # which release and row decided, first: with several releases loaded it is what an auditor checks
    facts = [f"{e['text']}" for e in edits if e["release"]] + facts
    # and the dates that put it in force on the line's date (an auditor could not see why it applied then)
    for e in edits:
        if e.get("effective") or e.get("deleted"):
            name = e["text"].split(",")[0]
            eff, gone = e.get("effective"), e.get("deleted")
            until = ""
            if gone:
                until = (datetime.date.fromisoformat(gone) - datetime.timedelta(days=1)).isoformat()
            when = (f"in force from {eff} to {until} (deleted {gone})" if eff and gone
                    else f"in force up to {until} (deleted {gone})" if gone
                    else f"in force from {eff}, not deleted")
            facts.append(f"{name} is {when}")
    return {"title": reason.title or reason.rule, "rule": reason.rule, "message": reason.message,
            "confidence": reason.confidence, "facts": facts, "sources": list(sources.values()),
            "proof_nodes": node.size if node is not None else 0, "folded": folded, "edits": edits}


def decided_by(kb, reason) -> list[dict]:
    """The edits of loaded edit tables a reason's rule bound (release, file, row; ``edit_record``), each once."""
    if not getattr(kb, "edit_tables", None):
        return []
    idx = kb.edit_index()
    out: dict[str, dict] = {}
    for v in (reason.bindings or {}).values():
        if isinstance(v, str) and v not in out:
            found = idx.locate(v)
            if found is not None:
                table, i = found
                out[v] = table.edit_record(i)
    return list(out.values())


def why_not_summary(why_not: list[dict]) -> list[str]:
    """A rejected line's why-not in words, each failed condition once; raw logic folded away."""
    out: list[str] = []
    for w in why_not:
        if w.get("kind") == "comparison":
            continue  # a date or number compared ("2024-01-10 is before 2024-01-10"): the denial's message says it in context
        cond = (w.get("condition") or "").strip()
        if w.get("in_words"):  # the condition as an analyst says it ("no source here makes a nurse a physician or QHP")
            cond = w["in_words"].strip()
        elif cond.startswith("it is the case that "):
            cond = cond[len("it is the case that "):]
        elif cond.startswith("no fact found: "):
            # an absent fact (an edit's missing dates, a modifier not billed, a helper verdict
            # that did not fire) is plumbing: the full proof and the JSON keep it
            continue
        if w.get("open"):
            # a condition over a value no binding fixed ("the … include modifier JW"): read as if the line lacked
            # JW (a coder's audit); the rule that did not apply says it in its own title
            title = (w.get("title") or "").strip()
            cond = f"“{title}” does not apply" if title else ""
        if not cond or raw_atoms(cond):
            continue
        cond = cond[:1].upper() + cond[1:]
        if cond not in out:
            out.append(cond)
    return out


def touches(suggestion: dict, line: int) -> bool:
    """Does a suggested fix change ``line`` (removes, recodes or adds a modifier to it)?"""
    return (line in suggestion.get("remove_lines", []) or str(line) in (suggestion.get("add_modifiers") or {})
            or any(l.get("line") == line for l in suggestion.get("add_lines", [])))


def line_summary(line: dict, suggestions: list[dict]) -> dict:
    """A line's verdict in words, its why-not and the verified fixes that change it (indexes into suggestions)."""
    return {"verdict": line.get("verdict") or line.get("status"),
            "why_not": why_not_summary(line.get("why_not", [])) if line.get("status") == "rejected" else [],
            "fixes": [i for i, s in enumerate(suggestions) if touches(s, line["line"])]}
