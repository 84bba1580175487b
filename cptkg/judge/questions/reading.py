"""What the questions read from the loaded knowledge base, and the values they may be asked about.

The pack's facts and the edit files loaded over it are read the way the
claim rules read them (a pair edit's column of a code group is every code of
the group), so an answer names the edits ``check`` applies; an asked value
the knowledge base does not hold is refused naming the values it may take.
"""
from __future__ import annotations

from rdflib import RDF, URIRef

from cptkg.judge.questions.wording import QuestionError, _listing
from cptkg.knowledge.loader import KnowledgeBase, local
from cptkg.knowledge.vocabulary import vocabulary


def _facts(kb: KnowledgeBase) -> dict:
    """The pack's facts with those of the edit tables loaded over it (``--edits``), built once per KB."""
    return kb.all_facts()


def _edit_pairs(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """Every (edit, column 1 code, column 2 code) of the pair edits, groups expanded to their codes.

    The same expansion as the claim rules' reading of ont:column1/ont:column2
    (a code, or every member of a code group).
    """
    members: dict[str, set[str]] = {}
    for grp, code in _facts(kb).get("group_member", ()):
        members.setdefault(grp, set()).add(code)
    cols: dict[str, tuple[set[str], set[str]]] = {}
    for n, (code_pred, group_pred) in enumerate((("edit_column1_code", "edit_column1_group"),
                                                 ("edit_column2_code", "edit_column2_group"))):
        for x, c in _facts(kb).get(code_pred, ()):
            cols.setdefault(x, (set(), set()))[n].add(c)
        for x, grp in _facts(kb).get(group_pred, ()):
            cols.setdefault(x, (set(), set()))[n].update(members.get(grp, ()))
    return sorted((x, a, b) for x, (first, second) in cols.items() for a in first for b in second if a != b)


def _node(kb: KnowledgeBase, name: str, rdf_type) -> URIRef | None:
    """The RDF node of type ``rdf_type`` whose Datalog constant is ``name`` (pack or edit file alike)."""
    return next((s for s in kb.graph.subjects(RDF.type, rdf_type) if str(local(s)) == name), None)


def _pair_edits(kb: KnowledgeBase) -> set[str]:
    return {x for (x,) in _facts(kb).get("pair_edit", ())}


def _unit_edits(kb: KnowledgeBase) -> set[str]:
    return {x for (x,) in _facts(kb).get("unit_edit", ())}


def _one(kb: KnowledgeBase, pred: str, subject: str):
    return next((v for s, v in sorted(_facts(kb).get(pred, ()), key=lambda r: tuple(map(str, r))) if s == subject), None)


def _all(kb: KnowledgeBase, pred: str, subject: str) -> list:
    return sorted((v for s, v in _facts(kb).get(pred, ()) if s == subject), key=str)


def _table_row(kb: KnowledgeBase, edit: str):
    """(table, row index, superseded?) of an edit of a loaded edit table, a row a newer release replaced
    included; None for a pack edit."""
    if kb.edit_tables:
        found = kb.edit_index().locate(edit)
        if found is not None:
            return found[0], found[1], False
    for t in getattr(kb, "edit_superseded", ()):
        memo = kb.cache.setdefault("superseded-rows", {})
        rows = memo.get(id(t))
        if rows is None:
            rows = memo[id(t)] = {e: i for i, e in enumerate(t.ids)}
        if edit in rows:
            return t, rows[edit], True
    return None


def _edit_name(kb: KnowledgeBase, edit: str) -> str:
    """An edit in words: its label, else (an edit of a released table) its release, file and row,
    else its table row, else its id."""
    found = _table_row(kb, edit)
    if found is not None and found[0].release_of(found[1]):
        return found[0].describe(found[1])
    row = _one(kb, "edit_source_row", edit)
    if row is not None:  # an imported edit: its row (a message names it by its codes, kb.label)
        return f"edit table row {row}"
    label = kb.label(edit)
    return label


def _code(kb: KnowledgeBase, value, *, edited_too: bool = False) -> str:
    """A code the question may name: a code of the KB (or, ``edited_too``, one an edit names)."""
    if not isinstance(value, str) or not value.strip():
        raise QuestionError("code", "give a billing code of this knowledge base: one of "
                            + _listing(kb.family_codes() or kb.codes()))
    code = value.strip().upper()
    known = set(kb.codes())
    if edited_too:
        known |= {c for _, a, b in _edit_pairs(kb) for c in (a, b)}
        known |= {c for _, c in _facts(kb).get("unit_edit_code", ())}
    if code not in known:
        # the family's codes, then the others it answers for (the drug codes): the list named only the ten
        # family codes, while the pack's other codes (its drug codes) were answered (an audit)
        family = list(kb.family_codes())
        others = sorted(known - set(family))
        listed = _listing(family or sorted(known))
        if family and others:
            listed += "; or another code it knows: " + _listing(others)
        raise QuestionError("code", f"'{code[:40]}' is not a code of this knowledge base: one of " + listed)
    return code


def _term(kb: KnowledgeBase, kind: str, value, field: str) -> str:
    """The ontology term an input value of ``kind`` stands for; QuestionError naming ``field`` if none."""
    vocab = vocabulary(kb)
    value = vocab.canonical(kind, value)
    why = vocab.refusal(kind, value)
    if why:
        raise QuestionError(field, why)
    return vocab.term(kind, value)


def _roles(kb: KnowledgeBase) -> list[str]:
    return vocabulary(kb).values("role")


def choices(kb: KnowledgeBase) -> dict:
    """What each question may name in this KB: codes, roles, devices, routes, sources and edits.

    ``codes`` are the KB's codes (the family's first); ``paired_codes`` adds
    the codes only an edit names (for ``not_with``). Forms offer these; the
    questions refuse anything else.
    """
    vocab = vocabulary(kb)
    family = kb.family_codes()
    codes = family + [c for c in kb.codes() if c not in family]
    edited = sorted({c for _, a, b in _edit_pairs(kb) for c in (a, b)} - set(codes))
    return {"codes": codes, "paired_codes": codes + edited, "roles": vocab.values("role"),
            "devices": vocab.values("device"), "routes": vocab.values("route"),
            "default_route": kb.pack.defaults.get("route") if kb.pack else None,
            "sources": sorted(kb.sources), "edits": sorted(_pair_edits(kb) | _unit_edits(kb))}
