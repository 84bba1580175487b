"""Sources as first-class: what rests on each, what is unused, what conflicts."""
from __future__ import annotations

from rdflib import RDF, RDFS
from rdflib.namespace import DCTERMS

from cptkg.knowledge.kb import KnowledgeBase, local
from cptkg.knowledge.namespace import KB, ONT


#: kinds of KB entity a source's facts name by one line in words ("Removal (62365) is … (pair edit)")
NAMED_ENTITIES = (ONT.PairEdit, ONT.UnitEdit, ONT.ModifierSet, ONT.SourceConflict)
#: facts the loader computes from others (code_routes(C, "epidural or intrathecal") from each
#: applies_to_route fact): listed beside those they are computed from, each route would be said twice
COMPUTED_FACTS = frozenset({"code_routes", "code_devices"})


def source_index(kb: KnowledgeBase) -> dict:
    rules: dict[str, list[str]] = {}
    for prog in (kb.check_program, kb.infer_program):
        for r in prog.rules:
            for s in r.meta.source:
                rules.setdefault(s, []).append(r.meta.id)
    # an edit, modifier set or source conflict is listed once, by its line in words below: its own facts
    # ("… is a source conflict", "… has high confidence", its columns) would repeat it (issue 23: `cptkg
    # sources` printed the 62368 conflict's fact text twice)
    named = {local(subj) for t in NAMED_ENTITIES for subj in kb.graph.subjects(RDF.type, t)}
    facts: dict[str, list[str]] = {}
    own_sources: dict[str, set[str]] = {}
    # as ``ask rests-on`` lists them: not a blank node's facts (an owl:Axiom record annotating another fact; its
    # id is made up by the parser: "n07f14da... has medium confidence") nor a role being a kind of itself (an
    # integrator's audit: the two lists of one sentence's facts differed)
    blank = {x for x in kb.subject_file if not x.startswith(("http://", "https://", "urn:"))}
    for (pred, row), srcs in kb._fact_sources.items():
        if pred in COMPUTED_FACTS or (row and str(row[0]) in blank) or (pred == "subclass_of" and row[0] == row[1]):
            continue
        if row and str(row[0]) in named:
            # a fact of an edit that cites a sentence of its own (its scope, n-ptp-scope) is listed under
            # that sentence; the facts citing the edit's own sentences are the edit's line below
            entity = str(row[0])
            if entity not in own_sources:
                own_sources[entity] = {local(o) for o in kb.graph.objects(KB[entity], DCTERMS.source)}
            srcs = [x for x in srcs if x not in own_sources[entity]]
        for s in srcs:
            facts.setdefault(s, []).append(kb.describe(pred, row))
    for subj, src in kb.graph.subject_objects(DCTERMS.source):
        for t in NAMED_ENTITIES:
            if (subj, RDF.type, t) in kb.graph:  # in words: "Removal (62365) is … (pair edit)", not its id
                facts.setdefault(local(src), []).append(f"{kb.label(local(subj))} ({kb.label(local(t))})")
                break
    for table in kb.edit_tables:  # an edit table's edits, counted per source (not listed one by one)
        counts: dict[str, int] = {}
        for srcs in table.sources:
            for src in srcs:
                counts[src] = counts.get(src, 0) + 1
        for src, n in counts.items():
            facts.setdefault(src, []).append(f"{n:,} edits of the edit table {table.path.name}")
    out = []
    for s in sorted(kb.sources.values(), key=lambda s: (s.document, _key(s.section), s.id)):
        d = s.to_json()
        d.update(normative=s.normative, maps_to=list(s.maps_to), rules=sorted(set(rules.get(s.id, []))),
                 facts=sorted(set(facts.get(s.id, []))))
        d["unused"] = s.normative and not d["rules"] and not d["facts"]
        out.append(d)
    conflicts = []
    for c in sorted(kb.graph.subjects(RDF.type, ONT.SourceConflict)):
        conflicts.append({
            "id": local(c), "label": str(kb.graph.value(c, RDFS.label) or local(c)),
            # in id order: the graph's order changed from run to run (an integrator's audit)
            "conflicting": [kb.sources[x].to_json()
                            for x in sorted(local(y) for y in kb.graph.objects(c, ONT.conflictingSource))],
            "prevailing": kb.sources[local(kb.graph.value(c, ONT.prevailingSource))].to_json(),
            "resolution": str(kb.graph.value(c, ONT.resolution)),
        })
    unsourced = [{"predicate": pred, "args": [str(a) for a in row], "fact": kb.describe(pred, row)}
                 for pred, row in kb.unsourced_facts()]
    return {"sources": out, "conflicts": conflicts,
            "unused": [d["id"] for d in out if d["unused"]], "unsourced": unsourced}


def _key(section: str):
    try:
        return (0, [int(x) for x in section.split(".")])
    except ValueError:
        return (1, section)


def weakest_confidence(levels) -> str:
    """The weakest of the confidences (high, medium, low) of a rule's sources: the rule's own when it
    states none, in its verdicts, the rules catalogue and the explorer alike. High when none is known."""
    order = {"high": 2, "medium": 1, "low": 0}
    levels = [l for l in levels if l in order]
    if not levels:
        return "high"
    return min(levels, key=lambda l: order[l])
