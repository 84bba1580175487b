"""The KB's edits, indexed by the codes they name.

A claim can only be touched by an edit that names one of its codes: every
claim rule over the edit model joins an edit's column (or unit-edit) code,
directly or through a code group, with a code billed on the claim or in its
history. So the rule engine gets, per claim, the KB's other facts plus the
facts about those edits only — with a payer's quarterly table loaded
(hundreds of thousands of edits, millions of facts) a claim pays for a few
dozen. Which properties name a code or a code group is data: the core
ontology's ``ont:namesCode`` and ``ont:namesCodeGroup`` sub-properties.

The edits sliced are those of the edit tables loaded over the pack
(``--edits``; rows of :class:`cptkg.knowledge.edits.files.ImportedEdits`,
never turned into facts one by one); the pack's own few dozen edits stay
shared, so the rules reading only them keep being evaluated once per KB
(slicing them too made a pack-only claim slower, 26 -> 28 ms, for no
gain). The slice is exact
for rules that reach an edit only through a code it names;
``tests/test_edit_files.py`` judges generated claims with and without
slicing and requires the same verdicts, reasons and messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import RDFS

from cptkg.knowledge.namespace import ONT

#: core predicates whose rows name the edits of the KB (one argument: the edit)
EDIT_PREDICATES = ("pair_edit", "unit_edit")
#: the core predicate listing a code group's codes: group_member(Group, Code)
GROUP_MEMBER = "group_member"


@dataclass
class _Table:
    """One loaded edit table: the rows naming each code or group, the row of each edit."""

    edits: object  # cptkg.knowledge.edits.files.ImportedEdits
    by_code: dict = field(default_factory=dict)
    by_group: dict = field(default_factory=dict)
    _row_of: dict | None = None

    def row_of(self, edit) -> int | None:
        if self._row_of is None:
            self._row_of = {e: i for i, e in enumerate(self.edits.ids)}
        return self._row_of.get(edit)


@dataclass
class EditIndex:
    """The pack's facts every request shares, and the loaded edit tables indexed by code and group."""

    #: the pack's facts, less the predicates edit tables give rows to
    shared: dict[str, set[tuple]]
    #: code -> groups listing it
    groups_of: dict[object, set] = field(default_factory=dict)
    #: predicates edit tables give rows to: each request brings its own (engines treat them as inputs)
    predicates: set[str] = field(default_factory=set)
    #: the pack's rows of those predicates (every request gets them)
    shared_rows: dict[str, set[tuple]] = field(default_factory=dict)
    tables: list[_Table] = field(default_factory=list)

    def facts_for(self, codes) -> dict[str, set[tuple]]:
        """The facts a claim billing ``codes`` needs beyond :attr:`shared`.

        Every predicate edit tables give rows to is present: the pack's rows,
        and the rows of the table edits naming one of ``codes``, directly or
        through a group listing it.
        """
        out = {p: set(rows) for p, rows in self.shared_rows.items()}
        groups = set()
        for c in codes:
            groups |= self.groups_of.get(c, set())
        for t in self.tables:
            rows: set[int] = set()
            for c in codes:
                rows.update(t.by_code.get(c, ()))
            for g in groups:
                rows.update(t.by_group.get(g, ()))
            for i in rows:
                for pred, row in t.edits.row_facts(i):
                    out[pred].add(row)
        return out

    def sources_of(self, edit) -> tuple:
        """The sources an edit of a loaded edit table cites (empty for any other term)."""
        found = self.table_edit(edit)
        return found[1] if found else ()

    def locate(self, edit) -> tuple[object, int] | None:
        """(the loaded edit table, row index) of an edit of a loaded edit table; None for any other term.

        Explanations and ``cptkg ask edit`` name an edit by its release, file
        and row from here (:meth:`ImportedEdits.describe`).
        """
        if not isinstance(edit, str):
            return None
        for t in self.tables:
            i = t.row_of(edit)
            if i is not None:
                return t.edits, i
        return None

    def table_edit(self, edit) -> tuple[str, tuple] | None:
        """For an edit of a loaded edit table: its kind's predicate (pair_edit/unit_edit) and its sources."""
        for t in self.tables:
            i = t.row_of(edit)
            if i is not None:
                return ("pair_edit" if t.edits.types[i] == "PairEdit" else "unit_edit"), t.edits.sources[i]
        return None


def column_predicates(ontology, properties: dict) -> tuple[set[str], set[str]]:
    """Predicates of the properties under ont:namesCode and under ont:namesCodeGroup."""
    def under(top) -> set[str]:
        props = set(ontology.transitive_subjects(RDFS.subPropertyOf, top)) - {top}
        return {name for name, uri in properties.items() if uri in props}
    return under(ONT.namesCode), under(ONT.namesCodeGroup)


def build(facts: dict[str, set[tuple]], code_preds: set[str], group_preds: set[str], tables=()) -> EditIndex:
    """Index the edit ``tables`` loaded over the pack by the codes and groups their edits name.

    The pack's own facts, its own edits among them, stay shared by every
    request (a pack holds a few dozen edits; their rules are evaluated once
    per KB). The predicates an edit table gives rows to become request
    inputs, and the pack's rows of those predicates come with each request.
    """
    idx = EditIndex(shared=dict(facts))
    for group, code in facts.get(GROUP_MEMBER, ()):
        idx.groups_of.setdefault(code, set()).add(group)
    predicates: set[str] = set()
    for edits_file in tables:
        t = _Table(edits_file)
        predicates |= {"instance_of", *EDIT_PREDICATES, *edits_file.columns}
        for pred, values in edits_file.columns.items():
            target = t.by_code if pred in code_preds else t.by_group if pred in group_preds else None
            if target is None:
                continue
            for i, v in enumerate(values):
                if v is not None:
                    target.setdefault(v, []).append(i)
        idx.tables.append(t)
    idx.predicates = predicates
    idx.shared_rows = {p: idx.shared.pop(p, set()) for p in predicates}
    return idx
