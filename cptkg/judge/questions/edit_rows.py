"""The edits, and one edit's row with what ``check`` does with it (``cptkg ask edit``).

A pack edit is a node of the knowledge graph; an edit of a loaded edit
table is a row of that table, and a row a newer release replaced is still
answered, naming the rows that decide the pair now.
"""
from __future__ import annotations

from rdflib import RDFS
from rdflib.namespace import DCTERMS

from cptkg.judge.questions.answers import _answer, _focus, _reason, _sources
from cptkg.judge.questions.reading import (_edit_name, _edit_pairs, _facts, _node, _one, _pair_edits, _roles,
                                           _table_row, _unit_edits)
from cptkg.judge.questions.synthetic import _claim, _judge, _setup_for
from cptkg.judge.questions.wording import QuestionError, _date, _listing, _words
from cptkg.knowledge.loader import KnowledgeBase, local
from cptkg.knowledge.namespace import ONT


def _indicator_meaning(kb: KnowledgeBase, prop, value) -> str:
    """What an indicator value means, from the property's comment in the core ontology ("0: …; 1: …")."""
    comment = str(kb.graph.value(prop, RDFS.comment) or "")
    for part in comment.rstrip(".").split(";"):
        head, _, meaning = part.strip().partition(":")
        if head.strip() == str(value):
            return meaning.strip()
    return ""


def _edit_id(kb: KnowledgeBase, edit_id) -> str:
    known = sorted(_pair_edits(kb) | _unit_edits(kb))
    value = edit_id.strip() if isinstance(edit_id, str) else ""
    if value in known or (value and _table_row(kb, value) is not None):  # (a replaced row is asked about too)
        return value
    # as an analyst names an edit (the explanation's "NCCI PTP edit 27447/20610", "MUE 62367"): by its codes
    named = value.upper().removeprefix("NCCI PTP EDIT").removeprefix("MUE").strip()
    if "/" in named:
        first, _, second = (x.strip() for x in named.partition("/"))
        found = sorted({x for x, a, b in _edit_pairs(kb) if a == first and b == second})
    else:
        found = sorted(x for x, c in _facts(kb).get("unit_edit_code", ()) if c == named) if named else []
    if len(found) == 1:
        return found[0]
    if found:
        raise QuestionError("edit", f"'{str(edit_id)[:60]}' names {len(found)} edits (rows of different dates or "
                            f"tables): ask for one of {_listing(found, most=8)}")
    raise QuestionError("edit", f"'{str(edit_id)[:60]}' is not an edit of this knowledge base"
                        + (f" (nor of the --edits files loaded): one of {_listing(known, most=8)}" if known
                           else ": it has none") + "; `cptkg ask edit` lists them")


def edits(kb: KnowledgeBase) -> dict:
    """Every pair and unit edit of the loaded KB (the pack's and the --edits files'), one row each."""
    pairs = sorted(_pair_edits(kb))
    units = sorted(_unit_edits(kb))
    rows = [{"id": x, "kind": "pair", "label": _edit_name(kb, x),
             "column1": sorted({a for e, a, _ in _edit_pairs(kb) if e == x}),
             "column2": sorted({b for e, _, b in _edit_pairs(kb) if e == x})} for x in pairs]
    rows += [{"id": x, "kind": "unit", "label": _edit_name(kb, x), "code": _one(kb, "unit_edit_code", x),
              "max_units": _one(kb, "unit_edit_max", x)} for x in units]
    text = f"The knowledge base holds {len(pairs)} pair edit(s) and {len(units)} unit edit(s)."
    return _answer(kb, "edit", {}, text, rows, [], _focus(kb, *pairs, *units))


def edit(kb: KnowledgeBase, edit_id: str | None = None, *, date: str | None = None, engine=None) -> dict:
    """An edit's dates, scope, modifier (or adjudication) indicator, codes and sources, and what ``check``
    does with it on ``date`` (default today): each pair of codes it names billed together.

    Without ``edit_id``: the list of every edit (:func:`edits`).
    """
    if edit_id is None:
        return edits(kb)
    x = _edit_id(kb, edit_id)
    date = _date(date)
    located = _table_row(kb, x)
    if located is not None and located[2]:
        return _replaced_edit(kb, x, located[0], located[1], date)
    effective = _one(kb, "edit_effective_date", x)
    deleted = _one(kb, "edit_deletion_date", x)
    # the deletion date is the first day the edit no longer applies (ont:deletionDate)
    in_force = (effective is None or str(effective) <= date) and (deleted is None or date < str(deleted))
    iri = _node(kb, x, ONT.PairEdit) or _node(kb, x, ONT.UnitEdit)
    # a pack edit is a node of the KB graph; an edit of a loaded edit table is a row of that table
    table = next((t for t in kb.edit_tables if x in t.ids), None)
    source_ids = (sorted(str(local(s)) for s in kb.graph.objects(iri, DCTERMS.source)) if iri is not None
                  else sorted(kb.edit_index().sources_of(x)))
    row = {"id": x, "label": _edit_name(kb, x), "effective": effective, "deleted": deleted, "in_force": in_force,
           "rationale": _one(kb, "edit_rationale", x), "table_row": _one(kb, "edit_source_row", x),
           "file": kb.subject_file.get(str(iri), "") if iri is not None else (table.path.name if table else "")}
    if located is not None:  # the release it belongs to and the file CMS published it in (issue 22)
        rel = located[0].release_of(located[1])
        src = located[0].source_of(located[1])
        row.update(release=rel[0] if rel else None, release_date=rel[1] if rel else None,
                   source_file=src.file if src is not None else located[0].path.name)
    dates = (f"in force from {effective}" if effective else "in force for every date of service") \
        + (f", deleted from {deleted}" if deleted else (" with no deletion date" if effective else "")) \
        + f" (on {date}: {'in force' if in_force else 'not in force'})"
    if x in _unit_edits(kb):
        ind = _one(kb, "unit_edit_adjudication", x)
        row.update(kind="unit", code=_one(kb, "unit_edit_code", x), max_units=_one(kb, "unit_edit_max", x),
                   adjudication_indicator=ind, adjudication=_indicator_meaning(kb, ONT.adjudicationIndicator, ind))
        text = (f"{row['label']}: at most {row['max_units']} unit(s) of {row['code']}"
                + (f", adjudication indicator {ind} ({row['adjudication']})" if ind else "") + f"; {dates}.")
        rows, focus_codes = [row], [row["code"]]
    else:
        ind = _one(kb, "edit_modifier_indicator", x)
        scope, kind = _one(kb, "edit_scope", x), _one(kb, "edit_kind", x)
        bypass = sorted(s for s, i in _facts(kb).get("modifier_set_bypasses", ()) if str(i) == str(ind))
        pairs = [(a, b) for e, a, b in _edit_pairs(kb) if e == x]
        row.update(kind="pair", edit_kind=kind, edit_kind_label=kb.label(kind) if kind else None,
                   scope=scope, scope_label=kb.label(scope) if scope else None,
                   modifier_indicator=ind, modifier=_indicator_meaning(kb, ONT.modifierIndicator, ind),
                   bypassed_by=[kb.label(s) for s in bypass],
                   column1=sorted({a for a, _ in pairs}), column2=sorted({b for _, b in pairs}))
        text = (f"{row['label']}: column 1 {_words(row['column1'])}, column 2 {_words(row['column2'])}"
                + (f" ({row['edit_kind_label']})" if kind else "") + "; "
                + (f"compares {row['scope_label']}; " if scope else "")
                + (f"modifier indicator {ind}" + (f" ({row['modifier']})" if row["modifier"] else "")
                   + (f", bypassed by the {_words(row['bypassed_by'])}" if bypass else "") + "; " if ind else "")
                + f"{dates}.")
        applied = _edit_applied(kb, x, pairs, date if in_force else (str(effective) if effective else date), engine)
        row["applied"] = applied
        if applied:
            text += f" As the claim rules apply it on {applied[0]['date']}: " + "; ".join(
                f"{a['column1']} with {a['column2']}: " + (
                    f"{_words(a['stands'])} stands, {_words(a['denied'])} is denied" if a["stands"] and a["denied"]
                    else f"both are denied" if a["denied"] else "no line is denied under it")
                for a in applied[:6]) + (" …" if len(applied) > 6 else "") + "."
        rows, focus_codes = [row], row["column1"] + row["column2"]
    if row["rationale"]:
        text += f" Rationale: {row['rationale']}"
    sources = _sources(kb, source_ids)
    return _answer(kb, "edit", {"edit": x, "date": date}, text, rows, sources,
                   _focus(kb, x, *focus_codes, *source_ids))


def _replaced_edit(kb: KnowledgeBase, x: str, table, i: int, date: str) -> dict:
    """A pair edit row a newer release replaced: what it said, and the rows of the newer release that decide
    the pair now (cptkg.knowledge.edits.releases: the newest release with the pair wins)."""
    key = table.key_of(i)
    newer = []
    for tab in (kb.edit_index().tables if kb.edit_tables else ()):  # the rows naming its column 1, by index
        t = tab.edits
        for j in sorted(set(tab.by_code.get(key[1], ())) | set(tab.by_group.get(key[1], ()))):
            if t.types[j] == table.types[i] and t.release_of(j) and t.key_of(j) == key:
                newer.append((t, j))
    rel = table.release_of(i)
    src = table.source_of(i)
    row = {"id": x, "kind": "pair", "label": table.describe(i), "release": rel[0], "release_date": rel[1],
           "file": table.path.name, "source_file": src.file if src is not None else table.path.name,
           "table_row": table.column("sourceRow")[i], "effective": table.column("effectiveDate")[i],
           "deleted": table.column("deletionDate")[i], "in_force": False,
           "modifier_indicator": table.column("modifierIndicator")[i],
           "column1": [key[1]], "column2": [key[2]],
           "replaced_by": [t.ids[j] for t, j in newer], "replaced_by_label": [t.describe(j) for t, j in newer]}
    newest = sorted({t.release_of(j) for t, j in newer})
    text = (f"{row['label']} is replaced by release " + ", ".join(f"{r} ({d})" for r, d in newest)
            + f": check judges {key[1]} with {key[2]} by "
            + "; ".join(row["replaced_by_label"][:6]) + (" …" if len(newer) > 6 else "")
            + " (with several releases loaded, the newest release that has a pair decides it).")
    source_ids = sorted(table.sources[i])
    return _answer(kb, "edit", {"edit": x, "date": date}, text, [row], _sources(kb, source_ids),
                   _focus(kb, *[t.ids[j] for t, j in newer], key[1], key[2], *source_ids))


def _edit_applied(kb: KnowledgeBase, x: str, pairs: list[tuple[str, str]], date: str, engine, most: int = 24):
    """Each (column 1, column 2) pair of edit ``x`` billed together, as ``check`` judges it under ``x``.

    Only the first ``most`` pairs are judged (an edit over two large groups
    names many); a pair no device or performer lets be billed is left out.
    """
    roles = _roles(kb)
    plans = []
    for a, b in pairs[:most]:
        s = _setup_for(kb, [a, b])
        if s is None:
            continue
        plans.append((a, b, s))
    asked = [(c, s, r) for a, b, s in plans for c in (a, b) for r in roles]
    alone = dict(zip(asked, (res.lines[0] for res in _judge(
        kb, [_claim(f"question-{i}", [(c, r)], date, s) for i, (c, s, r) in enumerate(asked)], engine))))
    chosen = []
    for a, b, s in plans:
        ok = [(bool(alone[(a, s, r)].warnings or alone[(b, s, r)].warnings), i, r) for i, r in enumerate(roles)
              if alone[(a, s, r)].status == "accepted" and alone[(b, s, r)].status == "accepted"]
        if ok:
            chosen.append((a, b, s, min(ok)[2]))
    results = _judge(kb, [_claim(f"question-pair-{i}", [(a, r), (b, r)], date, s)
                          for i, (a, b, s, r) in enumerate(chosen)], engine)
    out = []
    for (a, b, s, r), res in zip(chosen, results):
        lines = res.lines
        under = [ln for ln in lines if any(x in _reason(kb, rr)["edits"] for rr in ln.reasons)]
        out.append({"column1": a, "column2": b, "date": date, "role": r,
                    "denied": [ln.code for ln in under],
                    "stands": [ln.code for ln in lines if ln not in under] if under else [],
                    "reasons": [dict(_reason(kb, rr), line_code=ln.code) for ln in under for rr in ln.reasons
                                if x in _reason(kb, rr)["edits"]]})
    return out
