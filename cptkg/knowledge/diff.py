"""A release note of the knowledge: what differs between two KBs (two edit releases, or two pack versions).

Issue 25 asks for ``cptkg diff``: edits added, deleted and changed (their
dates, modifier indicator, unit value), and rules and facts added, removed
and changed, each with its source. The KBs compared are loaded as ``cptkg
check`` loads them, so the edits compared are **the rows the rules read**:
with several releases loaded on a side, the newest release's pair rows and
the MUE rows with their release windows (:mod:`cptkg.knowledge.edits.releases`).

An edit is matched across the two sides by what it is, not by its row id
(which differs from release to release): a PTP edit by its (column 1,
column 2) pair, an MUE by the code it limits (CMS publishes the tables
quarterly "as complete replacement files": domain notes, How payers apply
edits, src:n-edit-files). A pair with several rows (a deleted row and a new
one) is compared as the set of what its rows do. The pack's own edits (its
kb/*.ttl) are compared the same way, so a pack's edit whose dates changed is
one "changed" entry, not a removed and an added fact.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Iterable

from cptkg.knowledge.edits.files import ONT_NS, PAIR, UNIT

#: the properties that say what an edit does to a claim, by kind (a rationale's words aside)
EFFECT = {PAIR: ("editKind", "modifierIndicator", "editScope", "effectiveDate", "deletionDate"),
          UNIT: ("maxUnits", "adjudicationIndicator", "effectiveDate", "deletionDate")}
#: the words a release note uses for them
WORDS = {"editKind": "kind", "modifierIndicator": "modifier indicator", "editScope": "scope",
         "effectiveDate": "effective", "deletionDate": "deleted", "maxUnits": "at most units",
         "adjudicationIndicator": "adjudication indicator"}
#: the same fields as a sentence says them (WORDS are the keys of ``diff --json``'s ``fields``, a contract)
SAID = {"effective": "effective date", "deleted": "deletion date", "at most units": "units allowed"}
_CODE_NAMES = ("column1Code", "column2Code", "column1", "column2", "editCode", "sourceRow")


def _names(kb) -> dict[str, str]:
    """Edit-model property local name -> the KB's predicate for it."""
    out = {}
    for pred, uri in (getattr(kb, "properties", None) or {}).items():
        s = str(uri)
        if s.startswith(ONT_NS):
            out[s[len(ONT_NS):]] = pred
    return out


def _key(kind: str, v: dict) -> tuple:
    if kind == PAIR:
        return (PAIR, str(v.get("column1Code") or v.get("column1")), str(v.get("column2Code") or v.get("column2")))
    return (UNIT, str(v.get("editCode")))


def _key_words(key: tuple) -> str:
    return f"NCCI PTP edit {key[1]}/{key[2]}" if key[0] == PAIR else f"MUE {key[1]}"


def edits(kb, keys: set[tuple] | None = None) -> dict[tuple, list[dict]]:
    """Every edit the rules read, by what it is: its effect, and its source (release, file, row) in words.

    ``keys``: only the edits of these keys (``(PAIR, column 1, column 2)`` or ``(UNIT, code)``), read in one
    pass without building the others (impact names what changed in the few edits its changes rest on)."""
    out: dict[tuple, list[dict]] = {}
    tables = getattr(kb, "edit_tables", ()) or ()
    # with keys, only the rows naming a key's first code (the edit index's rows by code): a release of
    # millions of rows was walked row by row in Python to find the few edits a change rests on
    by_code = ({id(t.edits): (t.by_code, t.by_group) for t in kb.edit_index().tables}
               if keys is not None and tables else {})
    for t in tables:
        cols = {n: t.column(n) for n in set(EFFECT[PAIR] + EFFECT[UNIT] + _CODE_NAMES)}
        rows: Iterable[int] = range(len(t))
        if id(t) in by_code:
            codes, groups = by_code[id(t)]
            rows = sorted({i for k in keys for i in (*codes.get(k[1], ()), *groups.get(k[1], ()))})
        for i in rows:
            if keys is not None and tuple(str(k) for k in t.key_of(i)) not in keys:
                continue
            kind = t.types[i]
            v = {n: cols[n][i] for n in cols}
            rel = t.release_of(i)
            out.setdefault(_key(kind, v), []).append({
                "effect": {n: _said(kb, n, v[n]) for n in EFFECT[kind]}, "source": t.describe(i),
                "release": rel[0] if rel else None, "row": v.get("sourceRow"), "edit_file": t.path.name})
    names = _names(kb)
    facts = kb.facts
    for kind, pred in ((PAIR, "pair_edit"), (UNIT, "unit_edit")):
        for (e,) in facts.get(pred, ()):
            v = {}
            for n in set(EFFECT[kind] + _CODE_NAMES):
                p = names.get(n)
                got = [row[1] for row in facts.get(p, ()) if row[0] == e] if p else []
                v[n] = got[0] if got else None
            if keys is not None and _key(kind, v) not in keys:
                continue
            srcs = kb.fact_sources(pred, (e,))
            cited = "; ".join(kb.sources[s].cite() for s in srcs if s in kb.sources) or "the pack's edits"
            out.setdefault(_key(kind, v), []).append({
                "effect": {n: _said(kb, n, v[n]) for n in EFFECT[kind]}, "source": f"pack edit {e} ({cited})",
                "release": None, "row": v.get("sourceRow"), "edit_file": None})
    return out


def _said(kb, name: str, v):
    """A field's value as a release note says it: a kind or scope by its label ("column 2 is a component of
    column 1", not "ComponentEdit"; a payer-edit specialist's audit), any other value as it is."""
    if name in ("editKind", "editScope") and isinstance(v, str) and v:
        return kb.label(v)
    return _plain(v)


def _plain(v):
    return v if v is None or isinstance(v, (int, str)) else str(v)


def _effect_words(effect: dict) -> str:
    return ", ".join(f"{_field_said(WORDS.get(k, k))} {v}" for k, v in effect.items() if v is not None)


def _field_said(word: str) -> str:
    return SAID.get(word, word)


def _effect_key(row: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in row["effect"].items()))


def change_words(entry: dict) -> str:
    """A changed edit (an entry of ``diff_edits(...)["changed"]``) in one line: "modifier indicator 0 → 1"."""
    shown = lambda v: "none" if v is None else str(v)  # noqa: E731
    fields = entry.get("fields") or {}
    if entry.get("kind") == "unit" and list(fields) == ["deleted"] and fields["deleted"]["before"] is None:
        # an MUE row has no deletion date: the later knowledge's release no longer lists the code (its window
        # ends), and "deletion date none → 2025-04-01" named a CMS column MUE files do not have (an audit)
        first = _day(fields["deleted"]["after"])
        last = f" (its last day {(first - _ONE_DAY).isoformat()})" if first and first > dt.date.min else ""
        return f"not in force from {fields['deleted']['after']}{last}: a newer release loaded does not list it"
    if fields:
        return "; ".join(f"{_field_said(k)} {shown(v['before'])} → {shown(v['after'])}"
                         for k, v in entry["fields"].items())
    if entry.get("periods"):
        return "; ".join(_period_words(p) for p in entry["periods"])
    return (f"before: {' | '.join(entry['before_only']) or 'no other row'} → "
            f"after: {' | '.join(entry['after_only']) or 'no other row'}")


_DATES = ("effectiveDate", "deletionDate")
_ONE_DAY = dt.timedelta(days=1)


def _day(v) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(v)[:10]) if v not in (None, "") else None
    except ValueError:
        return None


def _in_force(rows: list[dict]) -> list[tuple[dt.date, dt.date, frozenset]]:
    """What an edit's rows do over time: (first day, last day, what is in force) for each stretch of days.

    Two releases loaded on one side give a code two MUE rows, the older one closed the day before the
    newer one opens; when both allow the same, nothing changed for any date of service, and a release
    note that said "changed" (an edit specialist's audit of two releases on one side) sent a reviewer
    to look for a change there is none of."""
    segs = []
    for r in rows:
        eff = r["effect"]
        what = tuple((k, repr(v)) for k, v in eff.items() if k not in _DATES)
        # the deletion date is the first day the edit no longer applies (ont:deletionDate): its last day is the one before
        gone = _day(eff.get("deletionDate"))
        last = dt.date.max if gone is None else gone - _ONE_DAY if gone > dt.date.min else gone
        segs.append((_day(eff.get("effectiveDate")) or dt.date.min, last, what))
    return _stretches(segs, {s for s, _, _ in segs} | {e + _ONE_DAY for _, e, _ in segs if e < dt.date.max})


def _stretches(segs, starts) -> list[tuple[dt.date, dt.date, frozenset]]:
    points = sorted(starts | {dt.date.min})
    out: list[tuple[dt.date, dt.date, frozenset]] = []
    for i, p in enumerate(points):
        last = points[i + 1] - _ONE_DAY if i + 1 < len(points) else dt.date.max
        now = frozenset(w for s, e, w in segs if s <= p <= e)
        if out and out[-1][2] == now:
            out[-1] = (out[-1][0], last, now)
        else:
            out.append((p, last, now))
    return out


def _periods(rb: list[dict], ra: list[dict]) -> list[dict]:
    """The stretches of dates of service on which the two sides' rows do different things."""
    tb, ta = _in_force(rb), _in_force(ra)
    starts = {s for s, _, _ in tb} | {s for s, _, _ in ta}
    segs = [(s, e, ("b", w)) for s, e, ws in tb for w in ws] + [(s, e, ("a", w)) for s, e, ws in ta for w in ws]
    out = []
    for first, last, now in _stretches(segs, starts):
        before = sorted(w for side, w in now if side == "b")
        after = sorted(w for side, w in now if side == "a")
        if before != after:
            period = {"from": None if first == dt.date.min else first.isoformat(),
                      "to": None if last == dt.date.max else last.isoformat(),
                      "before": [_what_words(w) for w in before], "after": [_what_words(w) for w in after]}
            if len(before) == len(after) == 1:  # one edit a side: the fields that differ, as a one-row change says
                vb, va = dict(before[0]), dict(after[0])
                period["fields"] = {WORDS.get(k, k): {"before": _value(vb.get(k)), "after": _value(va.get(k))}
                                    for k in vb if vb.get(k) != va.get(k)}
            if out and out[-1]["to"] and period["from"] and _day(out[-1]["to"]) + _ONE_DAY == first and all(
                    out[-1][k] == period[k] for k in ("before", "after")):
                out[-1]["to"] = period["to"]
            else:
                out.append(period)
    return out


def _value(v):
    import ast

    return None if v is None else ast.literal_eval(v)


def _what_words(what: tuple) -> str:
    return _effect_words({k: _value(v) for k, v in what})


def _period_words(p: dict) -> str:
    when = (f"from {p['from']} to {p['to']}" if p["from"] and p["to"] else f"from {p['from']}" if p["from"]
            else f"until {p['to']}" if p["to"] else "on every date")
    shown = lambda v: "none" if v is None else str(v)  # noqa: E731
    if p.get("fields"):
        return f"{when}: " + "; ".join(f"{_field_said(k)} {shown(v['before'])} → {shown(v['after'])}"
                                       for k, v in p["fields"].items())
    said = lambda ws: " | ".join(ws) or "not in force"  # noqa: E731
    return f"{when}: {said(p['before'])} → {said(p['after'])}"


def edit_changes(before, after, keys: set[tuple]) -> dict[tuple, str]:
    """What changed in each edit of ``keys`` between two knowledge bases, in a release note's words."""
    d = diff_edits(before, after, keys)
    out = {}
    for e in d["added"]:
        out.setdefault(tuple(e["key"]), "added (the earlier knowledge has no such edit)")
    for e in d["deleted"]:
        out.setdefault(tuple(e["key"]), "not in the later knowledge")
    for e in d["changed"]:
        out[tuple(e["key"])] = change_words(e)
    return out


def diff_edits(before, after, keys: set[tuple] | None = None) -> dict:
    """Edits added, deleted and changed (field by field when each side has one row for the edit)."""
    b, a = edits(before, keys), edits(after, keys)
    added, deleted, changed = [], [], []
    for key in sorted(set(b) | set(a)):
        rb, ra = b.get(key, []), a.get(key, [])
        name = _key_words(key)
        kind = "pair" if key[0] == PAIR else "unit"
        if not rb:
            added += [{"edit": name, "kind": kind, "key": list(key), **r, "words": _effect_words(r["effect"])}
                      for r in ra]
            continue
        if not ra:
            deleted += [{"edit": name, "kind": kind, "key": list(key), **r, "words": _effect_words(r["effect"])}
                        for r in rb]
            continue
        # an effect as a comparable value: a field may be empty (None) on one row and a date on another
        eb = sorted(_effect_key(r) for r in rb)
        ea = sorted(_effect_key(r) for r in ra)
        if eb == ea:
            continue
        periods = _periods(rb, ra)
        if not periods:  # the rows differ, but on every date of service they do the same (see _in_force)
            continue
        entry = {"edit": name, "kind": kind, "key": list(key), "before": rb, "after": ra, "periods": periods}
        # the rows that differ: a row both sides have (the pack's own edit beside an imported one) is no change
        only_b = [r for r in rb if _effect_key(r) not in ea]
        only_a = [r for r in ra if _effect_key(r) not in eb]
        entry["before_only"] = [_effect_words(r["effect"]) for r in only_b]
        entry["after_only"] = [_effect_words(r["effect"]) for r in only_a]
        if len(only_b) == 1 and len(only_a) == 1:
            entry["fields"] = {WORDS.get(k, k): {"before": only_b[0]["effect"].get(k), "after": only_a[0]["effect"].get(k)}
                               for k in only_b[0]["effect"] if only_b[0]["effect"].get(k) != only_a[0]["effect"].get(k)}
        changed.append(entry)
    return {"added": added, "deleted": deleted, "changed": changed}


def _rules(kb) -> dict[str, dict]:
    out = {}
    for kind, program in (("claim", kb.check_program), ("encounter", kb.infer_program)):
        for r in program.rules:
            key = r.meta.id or str(r)
            entry = out.setdefault(key, {"rule": key, "kind": kind, "text": [], "message": r.meta.message or "",
                                         "carc": f"{r.meta.group or ''}-{r.meta.carc}".lstrip("-") if r.meta.carc
                                         else None, "sources": list(r.meta.source), "where": r.where})
            entry["text"].append(str(r))
    for e in out.values():
        e["text"] = sorted(e["text"])
        e["source"] = "; ".join(kb.sources[s].cite() for s in e["sources"] if s in kb.sources)
    return out


def diff_rules(before, after) -> dict:
    """Rules added, removed and changed (body, message, CARC or sources), by rule id."""
    b, a = _rules(before), _rules(after)
    changed = []
    for k in sorted(set(b) & set(a)):
        what = [f for f in ("text", "message", "carc", "sources") if b[k][f] != a[k][f]]
        if what:
            changed.append({"rule": k, "kind": a[k]["kind"], "changed": what,
                            "before": {f: b[k][f] for f in what}, "after": {f: a[k][f] for f in what},
                            "source": a[k]["source"], "where": a[k]["where"]})
    return {"added": [a[k] for k in sorted(set(a) - set(b))], "removed": [b[k] for k in sorted(set(b) - set(a))],
            "changed": changed}


def _pack_facts(kb) -> set[tuple]:
    """The pack's facts as a release note compares them.

    Left out: facts about the pack's edits (compared as edits) and about the
    edit files' own sources (an edit names its release, file and row). A
    blank node (an axiom annotation) gets a new name at every load: it is
    compared as ``_:`` so that the same annotation is not "removed" and
    "added" again.
    """
    from rdflib import BNode

    edit_ids = {e for p in ("pair_edit", "unit_edit") for (e,) in kb.facts.get(p, ())}
    edit_ids |= {s for t in getattr(kb, "edit_tables", ()) or () for s in t.table_sources}
    blank = {str(n) for n in kb.graph.all_nodes() if isinstance(n, BNode)}

    def is_blank(v) -> bool:
        # a KB read from its cache keeps the facts of the load that wrote the cache, and its graph has
        # new blank nodes: the facts' blank names are then rdflib's generated ids, in none of them
        return isinstance(v, str) and (v in blank or _GENERATED_BLANK.fullmatch(v) is not None)

    out = set()
    for p, rows in kb.facts.items():
        for row in rows:
            if row and row[0] in edit_ids:
                continue
            out.add((p, tuple("_:" if is_blank(v) else v for v in row)))
    return out


#: the names rdflib gives blank nodes it reads (``n`` + 32 hex digits + ``b`` + a serial number)
_GENERATED_BLANK = re.compile(r"n[0-9a-f]{32}b[0-9]+")


def diff_facts(before, after) -> dict:
    """The pack's facts (its edits aside) added, removed and changed; a changed fact keeps all but its last value."""
    b, a = _pack_facts(before), _pack_facts(after)
    gone, new = b - a, a - b

    def group(facts):
        out = {}
        for p, row in facts:
            out.setdefault((p, row[:-1]), []).append(row)
        return out

    gb, ga = group(gone), group(new)
    changed, removed, added = [], [], []
    for key in sorted(set(gb) & set(ga), key=str):
        if len(gb[key]) == 1 and len(ga[key]) == 1:
            changed.append({"fact": after.describe(key[0], ga[key][0]), "before": before.describe(key[0], gb[key][0]),
                            "predicate": key[0], "source": _fact_source(after, key[0], ga[key][0])})
            gone.discard((key[0], gb[key][0]))
            new.discard((key[0], ga[key][0]))
    for p, row in sorted(gone, key=str):
        removed.append({"fact": before.describe(p, row), "predicate": p, "source": _fact_source(before, p, row)})
    for p, row in sorted(new, key=str):
        added.append({"fact": after.describe(p, row), "predicate": p, "source": _fact_source(after, p, row)})
    return {"added": added, "removed": removed, "changed": changed}


def _fact_source(kb, pred, row) -> str:
    return "; ".join(kb.sources[s].cite() for s in kb.fact_sources(pred, row) if s in kb.sources) or "unsourced"


def diff(before, after) -> dict:
    """The whole release note: edits, rules, facts; and what each side is."""
    out = {"edits": diff_edits(before, after), "rules": diff_rules(before, after),
           "facts": diff_facts(before, after)}
    out["summary"] = {f"{part}_{what}": len(out[part][what]) for part in ("edits", "rules", "facts")
                      for what in out[part]}
    out["changed"] = sum(out["summary"].values())
    return out


__all__ = ["diff", "diff_edits", "diff_facts", "diff_rules", "edits"]


def sides(before, after) -> dict:
    """What each side of a release note is (``before``, ``after``: its pack, KB version and edit files), as
    ``cptkg diff --json`` and ``cptkg.diff`` both give it (the API's note lacked them: an integrator's audit)."""
    return {w: {"pack": kb.root.name, "kb_version": kb.version, "edit_files": [p.name for p in kb.edit_files]}
            for w, kb in (("before", before), ("after", after))}
