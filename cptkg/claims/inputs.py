"""What a claim gives the rules: the claim-input facts, made one way for one
claim and another way for a whole file, from one table.

The ontology declares the inputs once (``ont:inputOf "claim"``, with their
``ont:argumentTypes``; the loader reads them into ``kb.input_types``). This
module holds, for each declared predicate and side by side, the two ways its
rows are made: from a parsed :class:`Claim` (``cptkg check``, the interactive
engines) and as SQL over a file's checked lines (``cptkg batch``). A rule pack
therefore cannot see a predicate in one path that the other does not give, and
the SQL compiler types its columns from the same declaration. A predicate the
ontology declares and this table cannot make (or the reverse) is an error
before any claim is judged, not a silently empty relation.

The batch SQL reads two relations the batch reader builds: ``b_ok`` (one row
per checked line: claim_id, patient_id, line, code, dos, provider_id, role,
units, modifiers, route) and ``b_claim_hist`` (one row per claim and history
entry of its patient: claim_id, e, code, dos, provider_id, with e = -1, -2, …).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from cptkg.claims.models import CODE_PATTERN, MODIFIER_PATTERN, MODIFIER_SEPARATORS, Claim, Encounter

Facts = dict[str, set[tuple]]
_WELL_FORMED = re.compile(CODE_PATTERN)


class UndeclaredInput(ValueError):
    """The ontology's claim inputs and the ways this module makes them differ."""


@dataclass(frozen=True)
class ClaimInput:
    """How one declared claim-input predicate is made.

    ``rows(claim, ctx)`` gives its rows for one claim; ``sql(b, rel, ctx)`` its
    rows for a whole file, keyed by ``claim_id`` (columns c0, c1, …), given the
    batch backend (whose dialect spells regular expressions and splits) and the
    relation name of another input (``rel``). Both are given the pack's
    :class:`InputContext`, what an input needs to know of the pack (made once
    per KB), so that no input hard-codes a family's knowledge. ``materialize``
    says whether the batch computes it once (read by many rules) or where it
    is read (a projection). ``keys``
    lists argument positions unique within a claim as the rows are built (an
    entry has one code and date, one role …; claims with a repeated line number
    are not judged): the SQL compiler drops DISTINCTs on their strength. A
    relation may carry a column past c0, c1, … for another input to read (the
    rules read their columns by name)."""

    rows: Callable[..., Iterable[tuple]]
    sql: Callable[..., str]
    keys: tuple[tuple[int, ...], ...] = ((0,),)
    materialize: bool = True


@dataclass(frozen=True)
class InputContext:
    """What the claim inputs read of the pack, made once per KB (:func:`input_context`)."""

    #: the modifiers that mark a true repeat procedure (the pack's ``ont:marksRepeat``), upper case
    repeat: frozenset[str] = frozenset()

    def repeat_sql(self) -> str:
        """The repeat modifiers as an SQL list for ``IN (…)``; ``NULL`` (matching nothing) when there is none."""
        return ", ".join("'" + m.replace("'", "''") + "'" for m in sorted(self.repeat)) or "NULL"

    def marked(self, modifiers) -> bool:
        """Whether a line with these modifiers is marked a true repeat."""
        return any(m.upper() in self.repeat for m in modifiers)


def input_context(kb) -> InputContext:
    """The pack's :class:`InputContext`, made once per KB (``kb.cache``)."""
    ctx = kb.cache.get("input_context")
    if ctx is None:
        ctx = kb.cache["input_context"] = InputContext(
            repeat=frozenset(m.upper() for m in kb.repeat_modifier_sets()))
    return ctx


def _history(claim: Claim):
    """History entries as the rules see them: ids -1, -2, … in the order given,
    so that they share billed/3 with the claim's own lines and a rule can
    compare any two billed services.

    An entry that repeats an earlier one exactly (code, date of service and
    provider) is that service again, not a second one: a history records no
    units, so a row listed twice counted two units against a per-date limit
    and said each denial twice (a coder's audit). It keeps its place in the
    numbering (entry 3 is the third given), as ``cptkg batch`` numbers them."""
    seen: set[tuple] = set()
    for i, h in enumerate(claim.history, start=1):
        key = (h.code, h.date_of_service, h.provider_id)
        if key not in seen:
            seen.add(key)
            yield -i, h


def _date_units(claim: Claim, ctx: InputContext):
    units: dict[tuple[str, str], int] = {}
    for ln in claim.lines:
        key = (ln.code, ln.date_of_service)
        units[key] = units.get(key, 0) + ln.units
    return ((c, d, n) for (c, d), n in units.items())


def _date_units_once(claim: Claim, ctx: InputContext):
    """For a code billed on more than one line of a date: its units, a line counted when it is marked a true
    repeat, or when no earlier line the same provider bills unmarked: the units that stand when each later
    unmarked line is denied as an exact duplicate. The rules read it only when each such line is so denied
    (they have no arithmetic to take a denied duplicate's units out of ``date_units``; an audit found a code
    billed twice, with a limit of 1 a date, denied on both lines: the second as a duplicate, the first for
    the units of both). A code on one line of the date has no row: its units are date_units'."""
    units: dict[tuple[str, str], int] = {}
    lines: dict[tuple[str, str], int] = {}
    first: set[tuple[str, str, str]] = set()
    for ln in sorted(claim.lines, key=lambda ln: ln.line):
        key = (ln.code, ln.date_of_service)
        units.setdefault(key, 0)
        lines[key] = lines.get(key, 0) + 1
        if ctx.marked(ln.modifiers):
            units[key] += ln.units
        elif (ln.code, ln.date_of_service, ln.provider_id) not in first:
            first.add((ln.code, ln.date_of_service, ln.provider_id))
            units[key] += ln.units
    return ((c, d, n) for (c, d), n in units.items() if lines[(c, d)] > 1)


def _date_units_once_sql(b, rel, ctx: InputContext) -> str:
    """The batch's date_units_once: only the codes and dates billed on more than one line (date_units counts
    their lines), so the lines are numbered for the few such groups, not for all (numbering every line of a
    million took 0.65 s; these 0.1 s)."""
    flagged = f"SELECT DISTINCT claim_id, c0 FROM {rel('line_modifier')} WHERE c1 IN ({ctx.repeat_sql()})"
    return ("SELECT claim_id, code AS c0, dos AS c1, sum(CASE WHEN rep OR k = 1 THEN units ELSE 0 END) AS c2 FROM "
            "(SELECT claim_id, code, dos, units, rep, row_number() OVER (PARTITION BY claim_id, code, dos, provider_id, "
            "rep ORDER BY line) AS k FROM (SELECT o.claim_id, o.line, o.code, o.dos, o.provider_id, o.units, "
            "r.c0 IS NOT NULL AS rep FROM b_ok o JOIN "
            f"{rel('date_units')} u ON u.claim_id = o.claim_id AND u.c0 = o.code AND u.c1 = o.dos "
            f"LEFT JOIN ({flagged}) r ON r.claim_id = o.claim_id AND r.c0 = o.line WHERE u.n > 1) y) x "
            "GROUP BY claim_id, code, dos")


def _date_units_least(claim: Claim, ctx: InputContext):
    """The claim's units of a code on a date, plus one for each history entry of that code and date: the history
    records no units, and each billed service is at least one (a per-date limit already broken through the history
    is then certain, not something to check). A line not marked a repeat that the history holds by the same
    provider is not counted: it is denied as an exact duplicate of that service, and is no second unit (an audit:
    with a code in the history, the code again and the code with 76 were 3 units, and the true repeat was denied for them).
    Only the codes and dates the history holds have a row: elsewhere the count is date_units', and the rules
    read it only beside a history entry (a row for every code and date cost 0.39 s a million lines)."""
    billed_before = {(h.code, h.date_of_service, h.provider_id) for _, h in _history(claim) if h.provider_id}
    least: dict[tuple[str, str], int] = {}
    for ln in claim.lines:
        key = (ln.code, ln.date_of_service)
        duplicate = ((ln.code, ln.date_of_service, ln.provider_id) in billed_before
                     and not ctx.marked(ln.modifiers))
        least[key] = least.get(key, 0) + (0 if duplicate else ln.units)
    held: dict[tuple[str, str], int] = {}
    for _, h in _history(claim):
        key = (h.code, h.date_of_service)
        if key in least:
            held[key] = held.get(key, 0) + 1
    return ((c, d, least[(c, d)] + k) for (c, d), k in held.items())


def _date_units_least_sql(b, rel, ctx: InputContext) -> str:
    # the lines the history holds by their provider: the join is built on the history's few such entries
    duplicates = ("SELECT o.claim_id, o.code, o.dos, sum(o.units) AS d FROM b_ok o JOIN (SELECT DISTINCT claim_id, "
                  "code, dos, provider_id FROM b_claim_hist WHERE provider_id IS NOT NULL) e ON e.claim_id = o.claim_id "
                  "AND e.code = o.code AND e.dos = o.dos AND e.provider_id = o.provider_id WHERE NOT EXISTS (SELECT 1 "
                  f"FROM {rel('line_modifier')} m WHERE m.claim_id = o.claim_id AND m.c0 = o.line AND m.c1 IN ({ctx.repeat_sql()})) "
                  "GROUP BY o.claim_id, o.code, o.dos")
    return (f"SELECT u.claim_id, u.c0, u.c1, u.c2 - coalesce(x.d, 0) + h.k AS c2 FROM {rel('date_units')} u "
            "JOIN (SELECT claim_id, code, dos, count(*) AS k FROM b_claim_hist "
            "GROUP BY claim_id, code, dos) h ON h.claim_id = u.claim_id AND h.code = u.c0 AND h.dos = u.c1 "
            f"LEFT JOIN ({duplicates}) x ON x.claim_id = u.claim_id AND x.code = u.c0 AND x.dos = u.c1")


def _billed(claim: Claim, ctx: InputContext | None = None):
    yield from ((ln.line, ln.code, ln.date_of_service) for ln in claim.lines)
    yield from ((e, h.code, h.date_of_service) for e, h in _history(claim))


#: inputs whose batch SQL reads another input's relation: made after the others
READS_INPUTS = ("well_formed_code", "date_units_least", "date_units_once")


def _line_modifier_sql(b, rel, ctx: InputContext) -> str:
    """A line's modifiers, one row each. Most lines with a modifier have one, which needs no split:
    a checked line's field of two characters that are no separator is one modifier (its items were
    checked to be modifiers, and stripped). On a million generated lines, splitting every field
    took 0.7 s; one pattern, then the split of the few others, 0.3 s."""
    one = f"length(modifiers) = 2 AND {b.regex_full('modifiers', MODIFIER_PATTERN)}"
    return (f"SELECT claim_id, line AS c0, upper(modifiers) AS c1 FROM b_ok WHERE {one} UNION ALL "
            f"SELECT DISTINCT claim_id, c0, upper({b.strip('m')}) AS c1 FROM (SELECT claim_id, line AS c0, "
            f"{b.explode_split('modifiers', MODIFIER_SEPARATORS)} AS m FROM b_ok "
            f"WHERE modifiers <> '' AND NOT ({one})) x WHERE {b.strip('m')} <> ''")


CLAIM_INPUTS: dict[str, ClaimInput] = {
    "line": ClaimInput(
        rows=lambda c, ctx: ((ln.line,) for ln in c.lines),
        sql=lambda b, rel, ctx: "SELECT claim_id, line AS c0 FROM b_ok", materialize=False),
    "billed": ClaimInput(
        rows=_billed,
        sql=lambda b, rel, ctx: ("SELECT claim_id, line AS c0, code AS c1, dos AS c2 FROM b_ok "
                            "UNION ALL SELECT claim_id, e, code, dos FROM b_claim_hist")),
    "in_history": ClaimInput(
        rows=lambda c, ctx: ((e,) for e, _ in _history(c)),
        sql=lambda b, rel, ctx: "SELECT claim_id, e AS c0 FROM b_claim_hist"),
    "billed_provider": ClaimInput(
        rows=lambda c, ctx: [*((ln.line, ln.provider_id) for ln in c.lines),
                        *((e, h.provider_id) for e, h in _history(c) if h.provider_id)],
        sql=lambda b, rel, ctx: ("SELECT claim_id, line AS c0, provider_id AS c1 FROM b_ok UNION ALL "
                            "SELECT claim_id, e, provider_id FROM b_claim_hist WHERE provider_id IS NOT NULL")),
    "line_role": ClaimInput(
        rows=lambda c, ctx: ((ln.line, ln.provider_role) for ln in c.lines),
        sql=lambda b, rel, ctx: "SELECT claim_id, line AS c0, role AS c1 FROM b_ok", materialize=False),
    "line_units": ClaimInput(
        rows=lambda c, ctx: ((ln.line, ln.units) for ln in c.lines),
        sql=lambda b, rel, ctx: "SELECT claim_id, line AS c0, units AS c1 FROM b_ok", materialize=False),
    "line_route": ClaimInput(
        rows=lambda c, ctx: ((ln.line, ln.route) for ln in c.lines if ln.route is not None),
        sql=lambda b, rel, ctx: "SELECT claim_id, line AS c0, route AS c1 FROM b_ok WHERE route IS NOT NULL",
        materialize=False),
    "date_units": ClaimInput(
        rows=_date_units,
        # n, the count of lines, is for date_units_once alone (the rules read c0..c2 by name)
        sql=lambda b, rel, ctx: ("SELECT claim_id, code AS c0, dos AS c1, sum(units) AS c2, count(*) AS n FROM b_ok "
                            "GROUP BY claim_id, code, dos"),
        keys=((0, 1),)),
    "date_units_once": ClaimInput(rows=_date_units_once, sql=_date_units_once_sql, keys=((0, 1),)),
    "date_units_least": ClaimInput(rows=_date_units_least, sql=_date_units_least_sql, keys=((0, 1),)),
    "well_formed_code": ClaimInput(
        rows=lambda c, ctx: {(code,) for _, code, _ in _billed(c) if _WELL_FORMED.fullmatch(code)},
        sql=lambda b, rel, ctx: (f"SELECT DISTINCT claim_id, c1 AS c0 FROM {rel('billed')} "
                            f"WHERE {b.regex_full('c1', CODE_PATTERN)}")),
    "line_modifier": ClaimInput(
        rows=lambda c, ctx: ((ln.line, m) for ln in c.lines for m in ln.modifiers),
        sql=_line_modifier_sql,
        keys=()),
}


#: How each declared encounter input is made from a documented encounter, coded
#: within a family (the pack's code family): ``cptkg infer``.
ENCOUNTER_INPUTS: dict[str, Callable[[Encounter, str], Iterable[tuple]]] = {
    "enc_family": lambda e, family: [(family,)],
    "enc_role": lambda e, family: [(e.performer_role,)],
    "enc_device": lambda e, family: [(e.device,)],
    "enc_route": lambda e, family: [(e.route,)],
    "enc_service": lambda e, family: ((s,) for s in e.services),
}


def declared(kb, kind: str = "claim") -> dict[str, list[str]]:
    """The inputs of ``kind`` (claim or encounter) the KB's ontology declares, with
    their argument types, checked against this module's tables
    (:class:`UndeclaredInput` if they differ)."""
    types = dict(kb.input_types.get(kind, {}))
    made = CLAIM_INPUTS if kind == "claim" else ENCOUNTER_INPUTS
    missing, extra = sorted(set(types) - set(made)), sorted(set(made) - set(types))
    if missing or extra:
        raise UndeclaredInput(
            f"the ontology's {kind} inputs and cptkg's differ: "
            + "; ".join(filter(None, [missing and f"declared but not made from the {kind}: {', '.join(missing)}",
                                      extra and f"made from the {kind} but not declared: {', '.join(extra)}"])))
    return types


def encounter_facts(kb, enc: Encounter) -> Facts:
    """The input facts of one encounter, coded within the pack's code family."""
    return {p: set(ENCOUNTER_INPUTS[p](enc, kb.pack.code_family)) for p in declared(kb, "encounter")}


def claim_facts(kb, claim: Claim) -> Facts:
    """The input facts of one claim, one set per declared claim input (empty sets included)."""
    ctx = input_context(kb)
    return {p: set(CLAIM_INPUTS[p].rows(claim, ctx)) for p in declared(kb)}


def claim_keys(kb) -> dict[str, list[tuple[int, ...]]]:
    """Argument positions unique within a claim, per declared input (for the SQL compiler)."""
    return {p: list(CLAIM_INPUTS[p].keys) for p in declared(kb) if CLAIM_INPUTS[p].keys}


def build_batch_inputs(kb, b, rel: Callable[[str], str]) -> None:
    """Make every declared claim input as a relation of the batch backend ``b``,
    from ``b_ok`` and ``b_claim_hist``, in declaration order of dependence
    (``well_formed_code`` reads ``billed``, ``date_units_least`` reads ``date_units``)."""
    order = sorted(declared(kb), key=lambda p: p in READS_INPUTS)
    ctx = input_context(kb)
    for p in order:
        spec = CLAIM_INPUTS[p]
        (b.materialize if spec.materialize else b.view)(rel(p), spec.sql(b, rel, ctx))
