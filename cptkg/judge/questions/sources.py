"""What rests on a source sentence, and what rests on none (``cptkg ask rests-on``, ``cptkg ask unsupported``).

Both read the source index ``cptkg sources`` prints, so the answers and
that listing cannot disagree.
"""
from __future__ import annotations

from rdflib import RDF
from rdflib.namespace import DCTERMS

from cptkg.judge.questions.answers import _answer, _focus
from cptkg.judge.questions.reading import _edit_name, _node, _pair_edits, _unit_edits
from cptkg.judge.questions.wording import QuestionError, _listing
from cptkg.knowledge import views
from cptkg.knowledge.loader import KnowledgeBase, local
from cptkg.knowledge.namespace import ONT
from cptkg.knowledge.sources import COMPUTED_FACTS, source_index


#: edits of an imported table listed as rows of one answer (a payer's table is millions; the answer counts them all)
MAX_EDIT_ROWS = 1000


def _source(kb: KnowledgeBase, source_id) -> str:
    if not isinstance(source_id, str) or source_id.strip() not in kb.sources:
        shown = str(source_id)[:40] if source_id is not None else ""
        raise QuestionError("source", f"'{shown}' is not a source of this knowledge base: one of "
                            + _listing(sorted(kb.sources), most=8) + " (`cptkg sources` lists them all)")
    return source_id.strip()


def rests_on(kb: KnowledgeBase, source_id: str) -> dict:
    """The rules, edits and facts that rest on one source sentence (``cptkg sources``, one entry)."""
    sid = _source(kb, source_id)
    entry = next(s for s in source_index(kb)["sources"] if s["id"] == sid)
    src = _node(kb, sid, ONT.Source)
    edits = []
    for subj in (kb.graph.subjects(DCTERMS.source, src) if src is not None else ()):
        if any((subj, RDF.type, t) in kb.graph for t in (ONT.PairEdit, ONT.UnitEdit)):
            eid = str(local(subj))
            edits.append({"id": eid, "label": _edit_name(kb, eid)})
    edits.sort(key=lambda e: e["id"])
    # an imported edit table's edits cite the table's source (they are not in the graph: a payer's table is
    # millions of rows): "Nothing rests on it" was said of a table denying claims (an integrator's audit)
    total = len(edits)  # the graph's edits, then every table edit citing it, listed or not
    for table in kb.edit_tables:
        for i, cited in enumerate(table.sources):
            if sid in cited:
                total += 1
                if len(edits) < MAX_EDIT_ROWS:
                    edits.append({"id": table.ids[i], "label": _edit_name(kb, table.ids[i])})
    rules = [{"id": rid, "title": kb.rule_title(rid),
              "program": "claim" if kb.check_program.by_id(rid) else "encounter"} for rid in entry["rules"]]
    # the facts annotated with it, other than the edits' own (listed above as edits), a conflict's own
    # (said below) and those the loader computes from others (each route would be said twice)
    # and those about a blank node (an owl:Axiom record annotating another fact with its source and
    # confidence): its id is made up by the parser, means nothing to a reader, and the fact it
    # annotates is listed itself. The subjects the pack's files state, by the id the facts were read
    # with (subject_file is kept with the facts), are IRIs but for the blank nodes.
    blank = {s for s in kb.subject_file if not s.startswith(("http://", "https://", "urn:"))}
    skip = _pair_edits(kb) | _unit_edits(kb) | blank | {str(local(m)) for t in (ONT.ModifierSet, ONT.SourceConflict)
                                                        for m in kb.graph.subjects(RDF.type, t)}
    facts = sorted({kb.describe(p, row) for p, rows in kb.facts.items() for row in rows
                    if row and str(row[0]) not in skip and not (p == "subclass_of" and row[0] == row[1])
                    and p not in COMPUTED_FACTS and sid in kb.fact_sources(p, row)})
    recorded_by = {str(local(c)) for c in kb.graph.subjects(DCTERMS.source, src)} if src is not None else set()
    conflicts = [c for c in views.conflicts(kb) if c["id"] in recorded_by
                 or any(s["id"] == sid for s in c["conflicting"] + c["prevailing"])]
    s = kb.sources[sid]
    parts = [f"{s.cite()}: “{s.quote}”" if s.quote else f"{s.cite()}."]
    if rules:
        parts.append(f"{len(rules)} rule(s) rest on it: " + "; ".join(f"{r['title']} ({r['id']})" for r in rules) + ".")
    if edits:
        shown = edits if len(edits) <= 20 else edits[:20]
        parts.append(f"{total:,} edit(s): " + "; ".join(e["label"] for e in shown)
                     + (f" … (the first {len(edits):,} listed)" if total > len(edits) else
                        " …" if len(edits) > len(shown) else "") + ".")
    if facts:
        parts.append(f"{len(facts)} fact(s) of the knowledge base: " + "; ".join(facts[:6])
                     + (" …" if len(facts) > 6 else "") + ".")
    if not (rules or edits or facts or conflicts):
        parts.append("Nothing rests on it" + (" although it states a billing rule." if s.normative else "; it "
                                              "describes rather than states a billing rule."))
    for c in conflicts:
        parts.append(f"It is part of a recorded conflict: {c['label']} ({c['resolution']}).")
    rows = ([{"kind": "rule", **r} for r in rules] + [{"kind": "edit", **e} for e in edits]
            + [{"kind": "fact", "fact": f} for f in facts])
    return _answer(kb, "rests-on", {"source": sid}, " ".join(parts), rows, [s.to_json()],
                   _focus(kb, sid, *(e["id"] for e in edits)), normative=s.normative, maps_to=list(s.maps_to),
                   conflicts=[c["id"] for c in conflicts], unused=entry["unused"])


def unsupported(kb: KnowledgeBase) -> dict:
    """Normative source sentences nothing rests on, and KB facts that rest on no sentence.

    The same lists as ``cptkg sources`` (its "NOT USED" and "UNSOURCED" lines).
    """
    idx = source_index(kb)
    unused = [s for s in idx["sources"] if s["unused"]]
    rows = ([{"kind": "sentence", "id": s["id"], "citation": s["citation"], "quote": s["quote"],
              "maps_to": s["maps_to"]} for s in unused]
            + [{"kind": "fact", "fact": u["fact"], "predicate": u["predicate"], "args": u["args"]}
               for u in idx["unsourced"]])
    normative = sum(1 for s in idx["sources"] if s["normative"])
    if unused:
        text = (f"{len(unused)} of the {normative} sentences that state a billing rule have no rule, edit or fact "
                "resting on them: " + "; ".join(f"{s['citation']} “{s['quote'][:100]}”" for s in unused) + ".")
    else:
        text = f"Every one of the {normative} sentences that state a billing rule has a rule, edit or fact resting on it."
    if idx["unsourced"]:
        text += (f" {len(idx['unsourced'])} fact(s) of the knowledge base rest on no source: "
                 + "; ".join(u["fact"] for u in idx["unsourced"][:6]) + (" …" if len(idx["unsourced"]) > 6 else "") + ".")
    else:
        text += " Every fact of the knowledge base rests on a source."
    return _answer(kb, "unsupported", {}, text, rows, [{k: s[k] for k in ("id", "document", "section",
                                                                          "section_title", "quote", "confidence",
                                                                          "citation")} for s in unused],
                   _focus(kb, *(s["id"] for s in unused)), unused=[s["id"] for s in unused],
                   unsourced=[u["fact"] for u in idx["unsourced"]])
