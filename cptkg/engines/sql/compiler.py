"""Compile a checked rule Program into SQL, for DuckDB and Spark SQL.

Batches are judged at warehouse scale by running the same Datalog the
interactive path runs on pyDatalog, translated rule by rule from the AST (no
per-rule SQL is written by hand anywhere):

* every predicate is a relation ``cp_<pred>`` with columns ``c0..cN``
  (a zero-arity predicate has one column ``c0`` holding 1 when it is true);
* a rule is a ``SELECT DISTINCT`` with one joined relation per positive
  literal, ``WHERE`` for constants, repeated variables and comparisons, and
  ``NOT EXISTS`` for each negated literal (``_`` in a negation is not
  constrained: "no matching fact for any value");
* a predicate is the ``UNION`` of its rules' projections and its ground facts;
* strata run in topological order; a recursive component runs as a naive
  fixpoint loop of ``UNION`` steps until no relation grows, which both
  dialects run alike (Spark has no ``WITH RECURSIVE`` before 4.1);
* a rule whose bindings are kept is first materialised as ``cr_<k>`` with
  one column per named variable (``b0..bN``), exactly like the pyDatalog
  backend's ``rule_k``: reasons are read from it, so both paths fill the same
  message template from the same bindings.

Many claims run in one evaluation: every predicate that depends on claim
input ("claim-scoped") carries a leading ``claim_id`` column, and the literals
of a rule over claim-scoped predicates join on it, while predicates that only
read the knowledge base are computed once and shared by every claim. A
claim-scoped rule with no positive claim-scoped literal ranges over the
table of claims ``c_claims`` so each claim gets its own answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from cptkg.rules.ast import Atom, Comparison, Const, Literal, Rule, Var
from cptkg.rules.program import Program

INT, TEXT = "int", "text"

CLAIMS = "c_claims"


class SQLCompileError(ValueError):
    """The program cannot be translated faithfully (e.g. a column mixing text and integers)."""


# --------------------------------------------------------------------------
# dialects
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Dialect:
    name: str
    int_type: str
    text_type: str

    def sql_type(self, t: str) -> str:
        return self.int_type if t == INT else self.text_type

    def literal(self, value) -> str:
        if isinstance(value, bool):  # never in facts, but never print True as 1 silently
            raise SQLCompileError(f"boolean constant {value!r}: booleans are the strings 'true'/'false'")
        if isinstance(value, int):
            return str(value)
        s = str(value)
        if self.name == "spark":
            # Spark SQL reads backslash escapes inside string literals.
            return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + s.replace("'", "''") + "'"

    def ident(self, name: str) -> str:
        return f"`{name}`" if self.name == "spark" else f'"{name}"'


DUCKDB = Dialect("duckdb", "BIGINT", "VARCHAR")
SPARK = Dialect("spark", "BIGINT", "STRING")
DIALECTS = {"duckdb": DUCKDB, "spark": SPARK}


# --------------------------------------------------------------------------
# the compiled program
# --------------------------------------------------------------------------

def rel(pred: str) -> str:
    return f"cp_{pred}"


def rule_rel(k: int) -> str:
    return f"cr_{k}"


@dataclass
class CompiledProgram:
    """A Program ready to run: types, claim scope and SQL per rule."""

    program: Program
    dialect: Dialect
    types: dict[str, list[str]]          # pred -> column types (c0..)
    scoped: set[str]                     # predicates carrying claim_id
    keep: set[int]                       # rule indexes whose bindings are materialised
    rule_vars: dict[int, list[str]] = field(default_factory=dict)
    claim_type: str = TEXT               # type of the claim_id column
    stats: dict[str, set[tuple]] | None = None   # facts of shared predicates, to cost join orders
    # Join prefixes several rules share, computed once (see share_prefixes):
    # relation name -> its literals (variables V0..Vn, all kept as c0..cn);
    # rule index -> (relation name, literals it replaces, the rule's terms for V0..Vn).
    prefixes: dict[str, tuple[Literal, ...]] = field(default_factory=dict)
    prefix_of: dict[int, tuple[str, int, tuple[Var, ...]]] = field(default_factory=dict)
    # Argument positions that fix a whole tuple of a relation (per claim when
    # scoped): declared for the claim inputs, read from the facts of the
    # knowledge base, derived for shared prefixes. They tell when a SELECT
    # cannot repeat a row, so it needs no DISTINCT.
    keys: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)
    # A shared prefix built from a shorter one (its first literals): name -> (base name, literals it replaces).
    prefix_base: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Rules whose body joins a relation known to be empty (a knowledge-base
    # predicate with no facts, e.g. no edit table loaded, or a claim
    # predicate every rule of which is such a rule): they derive nothing, so
    # their SQL carries a false condition the engines plan as an empty result
    # instead of joining a million claim rows to find no match (see dead_rules).
    dead: set[int] = field(default_factory=set)
    # (predicate, constants, keyed positions) -> (matching rows, distinct keys): counted once, not at every
    # join-order step (a payer's edit table is millions of facts; recounted, compiling took minutes)
    _counts: dict = field(default_factory=dict, repr=False, compare=False)

    # ---- relation shapes -------------------------------------------------
    def width(self, pred: str) -> int:
        return max(self.arity(pred), 1)

    def arity(self, pred: str) -> int:
        p = self.program
        return p.edb[pred] if pred in p.edb else p.idb[pred]

    def columns(self, pred: str) -> list[str]:
        cols = [f"c{i}" for i in range(self.width(pred))]
        return (["claim_id"] + cols) if pred in self.scoped else cols

    def empty_select(self, pred: str) -> str:
        d = self.dialect
        parts = []
        if pred in self.scoped:
            parts.append(f"CAST(NULL AS {d.sql_type(self.claim_type)}) AS claim_id")
        for i, t in enumerate(self.types[pred]):
            parts.append(f"CAST(NULL AS {d.sql_type(t)}) AS c{i}")
        return "SELECT " + ", ".join(parts) + " WHERE 1 = 0"

    def rule_columns(self, k: int) -> list[str]:
        rule = self.program.rules[k]
        cols = [f"b{i}" for i in range(len(self.rule_vars[k]))] or ["b0"]
        return (["claim_id"] + cols) if rule.head.pred in self.scoped else cols

    # ---- SQL for one rule -----------------------------------------------
    def rule_body_select(self, k: int, table: dict[str, str] | None = None, nothing: bool = False) -> str:
        """SELECT DISTINCT [claim_id,] b0..bN: every binding of rule k's named variables.

        ``nothing``: the rule joins a relation found empty while running (see :func:`run`): its SQL keeps
        its shape and types, with a false condition an engine plans as an empty result."""
        rule = self.program.rules[k]
        frm, where, var_expr, claim_expr = self._body(rule, table or {}, k, nothing=nothing)
        names = self.rule_vars[k]
        sel = []
        if rule.head.pred in self.scoped:
            sel.append(f"{claim_expr} AS claim_id")
        sel += [f"{var_expr[n]} AS b{i}" for i, n in enumerate(names)] or ["1 AS b0"]
        return _select(sel, frm, where, self._projects_away(self._as_joined(rule, k, table), names))

    def rule_head_select(self, k: int, table: dict[str, str] | None = None, nothing: bool = False) -> str:
        """The head tuples rule k derives, straight from its body (no bindings kept); ``nothing`` as in
        :meth:`rule_body_select`."""
        rule = self.program.rules[k]
        frm, where, var_expr, claim_expr = self._body(rule, table or {}, k, nothing=nothing)
        sel = []
        if rule.head.pred in self.scoped:
            sel.append(f"{claim_expr} AS claim_id")
        sel += self._head_cols(rule, lambda n: var_expr[n])
        return _select(sel, frm, where, self._projects_away(self._as_joined(rule, k, table),
                                                            [v.name for v in rule.head.vars()]))

    def prefix_select(self, name: str, nothing: bool = False) -> str:
        """The shared join prefix ``name``: every binding of its variables, as c0..cN (``nothing``: it joins
        a relation found empty while running, as in :meth:`rule_body_select`)."""
        lits = self.prefixes[name]
        n = len(_prefix_vars(lits))
        rule = Rule(Atom(name, tuple(Var(f"V{i}") for i in range(n))), lits)
        joined = list(lits)
        if name in self.prefix_base:
            # the shorter prefix is already joined (same literals, same variable names V0..)
            base, m = self.prefix_base[name]
            joined = [Literal(Atom(base, tuple(Var(f"V{i}") for i in range(len(self.types[base])))))] + joined[m:]
        frm, where, var_expr, claim_expr = self._body(rule, {}, literals=joined, nothing=nothing)
        sel = [f"{claim_expr} AS claim_id"] if name in self.scoped else []
        sel += [f"{var_expr[f'V{i}']} AS c{i}" for i in range(n)]
        return _select(sel, frm, where, distinct=False)

    def head_from_bindings(self, k: int) -> str:
        """The head tuples rule k derives, projected from its materialised bindings."""
        rule = self.program.rules[k]
        names = self.rule_vars[k]
        sel = ["claim_id"] if rule.head.pred in self.scoped else []
        sel += self._head_cols(rule, lambda n: f"b{names.index(n)}")
        return f"SELECT DISTINCT {', '.join(sel)} FROM {rule_rel(k)}"

    def facts_select(self, pred: str) -> str | None:
        """Ground facts of ``pred`` written in the rule files (for every claim when scoped)."""
        facts = [f for f in self.program.facts if f.head.pred == pred]
        if not facts:
            return None
        d = self.dialect
        rows = []
        for f in facts:
            vals = [d.literal(a.value) for a in f.head.args] or ["1"]
            rows.append("SELECT " + ", ".join(f"CAST({v} AS {d.sql_type(self.types[pred][i])}) AS c{i}"
                                             for i, v in enumerate(vals)))
        body = " UNION ".join(rows)
        if pred in self.scoped:
            cols = ", ".join(f"f.c{i}" for i in range(self.width(pred)))
            return f"SELECT cc.claim_id, {cols} FROM {CLAIMS} cc CROSS JOIN ({body}) f"
        return body

    def join_order(self, rule: Rule) -> list[Literal]:
        """Positive literals in the order the SQL joins them.

        A claim literal leads (the rule's first in body order): the claim
        relations are the large ones, and each later claim literal joins on
        ``claim_id``. Then, greedily, the literal that multiplies the rows
        least: one whose variables are all bound is a filter; a
        knowledge-base literal is costed from its facts (``stats``); a
        literal sharing no variable with the rows so far comes last (a
        cross product). Datalog engines evaluate a body in a fixed order;
        emitting a good one lets an engine follow the FROM order (DuckDB
        with its join reordering off, Spark by default) instead of a
        cardinality guess that can pair claim rows with knowledge-base rows
        first and build millions of useless rows, and it puts a selective
        knowledge-base filter (a code that requires a skill, a code of a
        group) before the next join of a million claim rows.
        """
        pos = rule.positive()
        rest = list(pos)
        out: list[Literal] = []
        bound: set[str] = set()
        first = next((l for l in rest if l.atom.pred in self.scoped), rest[0] if rest else None)
        while rest:
            if not out:
                best = first
            else:
                best = min(rest, key=lambda l: (not self._connected(l, bound), self._fanout(l, bound), rest.index(l)))
            rest.remove(best)
            out.append(best)
            bound.update(a.name for a in best.atom.args if isinstance(a, Var))
        return out

    def free_order(self) -> set[str]:
        """Relations whose statement an engine may join in its own order: those built by a rule whose
        fixed left-deep order must take a literal that shares no variable with the rows before it.

        There a fixed order can only multiply the rows so far by that literal
        (a claim relation joined on the claim alone, a knowledge-base table
        joined on nothing), where an optimizer may first join the literal
        with the ones that narrow it ("entries whose code implants a device")
        and then meet the rows: on a million lines, 0.28 s against 0.07 s for
        ``removed_after``. Every other rule keeps the compiler's order.
        """
        out: set[str] = set()
        for k, rule in enumerate(self.program.rules):
            bound: set[str] = set()
            for j, lit in enumerate(self._joined_literals(rule, k, {})):
                names = [a.name for a in lit.atom.args if isinstance(a, Var) and not a.anonymous]
                if j and names and not any(n in bound for n in names):
                    out.update({rel(rule.head.pred), rule_rel(k)})
                    break
                bound.update(names)
        return out

    @staticmethod
    def _connected(lit: Literal, bound: set[str]) -> bool:
        names = [a.name for a in lit.atom.args if isinstance(a, Var) and not a.anonymous]
        return not names or any(n in bound for n in names)

    def _fanout(self, lit: Literal, bound: set[str]) -> float:
        """Rough rows out per row in when ``lit`` is joined next (below 1: a filter)."""
        args = lit.atom.args
        consts = [(i, a.value) for i, a in enumerate(args) if isinstance(a, Const)]
        free = [i for i, a in enumerate(args) if isinstance(a, Var) and (a.anonymous or a.name not in bound)]
        keyed = [i for i, a in enumerate(args) if isinstance(a, Var) and not a.anonymous and a.name in bound]
        if lit.atom.pred in self.scoped:
            # No statistics per claim: a few rows per claim, one per entry
            # when the entry (first argument) is bound.
            fan = 1.0 if 0 in keyed else (1.5 if keyed else 3.0)
            fan *= 0.5 ** len(consts)
            return min(fan, 0.7) if not free else fan
        rows = self.stats.get(lit.atom.pred) if self.stats else None
        if rows is None:
            return 10.0 * 0.5 ** len(consts) / (4.0 if keyed else 1.0)
        memo = (lit.atom.pred, tuple(consts), tuple(keyed))
        counted = self._counts.get(memo)
        if counted is None:
            match = sum(1 for r in rows if all(i < len(r) and r[i] == v for i, v in consts))
            keys = len({tuple(r[i] for i in keyed) for r in rows}) if keyed else 0
            counted = self._counts[memo] = (match, keys)
        match, keys = counted
        if not keyed:
            return float(match)
        return match / max(1, keys)

    # ---- internals -------------------------------------------------------
    def _projects_away(self, rule: Rule, kept: list[str]) -> bool:
        """Whether the SELECT can repeat a row, so it needs DISTINCT.

        Every relation is a set, so a join of them has one row per choice
        of tuples; when each positive literal's tuple is fixed by the kept
        variables and constants, no two rows are alike and DISTINCT (a
        hash of every row, the costliest step of a wide rule) is skipped.
        A literal is also fixed when the arguments of one of its keys are:
        ``billed(L, C, _)`` with ``L`` kept is one tuple, whatever ``_`` is.
        """
        lits = rule.positive()
        return len(self.fixed_literals(lits, set(kept))) < len(lits)

    def fixed_literals(self, lits, known: set[str]) -> set[int]:
        """Indexes of ``lits`` whose tuple is fixed once the ``known`` variables are."""
        known = set(known)
        fixed: set[int] = set()
        changed = True
        while changed:
            changed = False
            for j, lit in enumerate(lits):
                if j in fixed:
                    continue
                args = lit.atom.args
                ok = lambda i: isinstance(args[i], Const) or (not args[i].anonymous and args[i].name in known)  # noqa: E731
                if all(ok(i) for i in range(len(args))) or any(
                        all(ok(i) for i in key) for key in self.keys.get(lit.atom.pred, ())):
                    fixed.add(j)
                    known.update(a.name for a in args if isinstance(a, Var) and not a.anonymous)
                    changed = True
        return fixed

    def _head_cols(self, rule: Rule, var_col) -> list[str]:
        d = self.dialect
        if not rule.head.args:
            return ["1 AS c0"]
        out = []
        for i, a in enumerate(rule.head.args):
            if isinstance(a, Var):
                out.append(f"{var_col(a.name)} AS c{i}")
            else:
                out.append(f"CAST({d.literal(a.value)} AS {d.sql_type(self.types[rule.head.pred][i])}) AS c{i}")
        return out

    def _joined_literals(self, rule: Rule, k: int | None, table: dict[str, str]) -> list[Literal]:
        """The positive literals as joined: a shared prefix becomes one literal."""
        order = self.join_order(rule)
        if k is None or table or k not in self.prefix_of:
            return order
        name, n, terms = self.prefix_of[k]
        return [Literal(Atom(name, terms))] + order[n:]

    def _as_joined(self, rule: Rule, k: int | None, table: dict[str, str] | None) -> Rule:
        return Rule(rule.head, tuple(self._joined_literals(rule, k, table or {})) + tuple(
            b for b in rule.body if not (isinstance(b, Literal) and not b.negated)), rule.meta, rule.file, rule.line)

    def prefix_relations(self, name: str) -> set[str]:
        """The relations prefix ``name`` joins (its shorter base prefix, if it has one, for its first literals)."""
        lits = self.prefixes[name]
        base = self.prefix_base.get(name)
        out = {base[0]} if base else set()
        return out | {self.relation(l.atom.pred) for l in lits[base[1] if base else 0:]}

    def joined_relations(self, k: int) -> set[str]:
        """The relations rule k's positive literals read as joined (a shared prefix by its own name)."""
        return {self.relation(l.atom.pred) for l in self._joined_literals(self.program.rules[k], k, {})}

    def relation(self, pred: str) -> str:
        """The relation a literal of ``pred`` reads, as the runner keeps it: a shared prefix by its own name,
        a predicate as ``cp_<pred>`` (what :func:`run` records as empty)."""
        return pred if pred in self.prefixes else rel(pred)

    def _body(self, rule: Rule, table: dict[str, str], k: int | None = None,
              literals: list[Literal] | None = None, nothing: bool = False):
        d = self.dialect
        t = lambda p: table.get(p, p if p in self.prefixes else rel(p))  # noqa: E731
        scoped_rule = rule.head.pred in self.scoped
        frm: list[str] = []
        where: list[str] = []
        var_expr: dict[str, str] = {}
        claim_expr: str | None = None
        joined = literals if literals is not None else self._joined_literals(rule, k, table)
        if nothing or (k is not None and k in self.dead):
            where.append("1 = 0")
        for j, lit in enumerate(joined):
            a = f"a{j}"
            frm.append(f"{t(lit.atom.pred)} {a}")
            if lit.atom.pred in self.scoped:
                if claim_expr is None:
                    claim_expr = f"{a}.claim_id"
                else:
                    where.append(f"{a}.claim_id = {claim_expr}")
            for i, arg in enumerate(lit.atom.args):
                col = f"{a}.c{i}"
                if isinstance(arg, Const):
                    where.append(f"{col} = {self._const(arg, lit.atom.pred, i)}")
                elif arg.name in var_expr:
                    where.append(f"{col} = {var_expr[arg.name]}")
                else:
                    var_expr[arg.name] = col
        if scoped_rule and claim_expr is None:
            frm.insert(0, f"{CLAIMS} cc")
            claim_expr = "cc.claim_id"
        if not frm:
            frm.append("(SELECT 1 AS one) u")
        for c in rule.comparisons():
            where.append(f"{self._term(c.left, var_expr, c)} {'<>' if c.op == '!=' else c.op} {self._term(c.right, var_expr, c)}")
        first = " a0"
        early: list[str] = []  # negations of knowledge-base relations that the first relation's columns decide
        for j, lit in enumerate(rule.negative()):
            n = f"n{j}"
            conds = []
            if lit.atom.pred in self.scoped:
                conds.append(f"{n}.claim_id = {claim_expr}")
            local: dict[str, str] = {}
            reads_first_only = lit.atom.pred not in self.scoped
            for i, arg in enumerate(lit.atom.args):
                col = f"{n}.c{i}"
                if isinstance(arg, Const):
                    conds.append(f"{col} = {self._const(arg, lit.atom.pred, i)}")
                elif arg.name in var_expr:
                    conds.append(f"{col} = {var_expr[arg.name]}")
                    reads_first_only = reads_first_only and var_expr[arg.name].startswith("a0.")
                elif arg.name in local:  # the same existential variable twice
                    conds.append(f"{col} = {local[arg.name]}")
                else:
                    local[arg.name] = col
            cond = " AND ".join(conds) or "1 = 1"
            (early if reads_first_only and joined else where).append(
                f"NOT EXISTS (SELECT 1 FROM {t(lit.atom.pred)} {n} WHERE {cond})")
        if early:
            # Applied to the first relation before any join: a rule such as "a line whose code is not in
            # the knowledge base" then joins the few lines left, not a million (with the engine following
            # the FROM order, a NOT EXISTS is planned after every join of the FROM clause).
            at = next(i for i, f in enumerate(frm) if f.endswith(first))
            frm[at] = f"(SELECT * FROM {frm[at]} WHERE {' AND '.join(early)}) a0"
        return frm, where, var_expr, claim_expr

    def _const(self, c: Const, pred: str, i: int) -> str:
        want = self.types[pred][i]
        have = INT if isinstance(c.value, int) else TEXT
        if want != have:
            # pyDatalog never equates 1 and "1"; the SQL must not either.
            return "NULL"
        return self.dialect.literal(c.value)

    def _term(self, term, var_expr: dict[str, str], c: Comparison) -> str:
        if isinstance(term, Const):
            return self.dialect.literal(term.value)
        return var_expr[term.name]


def _select(sel: list[str], frm: list[str], where: list[str], distinct: bool = True) -> str:
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(sel)} FROM {' CROSS JOIN '.join(frm)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql


# --------------------------------------------------------------------------
# compilation: types and claim scope
# --------------------------------------------------------------------------

def infer_types(program: Program, edb_types: dict[str, list[str]]) -> dict[str, list[str]]:
    """Column types of every predicate, from the declared input types and the rules.

    A variable takes the type of the column it is bound from; head columns
    take their variables' or constants' types. A column that would hold both
    text and integers is refused: SQL would need one type where Python keeps
    two, and verdicts could differ.
    """
    types: dict[str, list[str | None]] = {}
    for p, n in program.edb.items():
        given = edb_types.get(p)
        types[p] = list(given) if given else [None] * n
    for p, n in program.idb.items():
        types[p] = [None] * n
    problems: list[str] = []

    def put(pred: str, i: int, t: str, where: str) -> bool:
        cur = types[pred][i]
        if cur is None:
            types[pred][i] = t
            return True
        if cur != t:
            problems.append(f"{where}: argument {i + 1} of {pred} would hold both {cur} and {t} values")
        return False

    for f in program.facts:
        for i, a in enumerate(f.head.args):
            put(f.head.pred, i, INT if isinstance(a.value, int) else TEXT, f.where)
    changed = True
    while changed and not problems:
        changed = False
        for r in program.rules:
            vt: dict[str, str] = {}
            for lit in r.positive():
                for i, a in enumerate(lit.atom.args):
                    if isinstance(a, Var) and types[lit.atom.pred][i] is not None:
                        vt.setdefault(a.name, types[lit.atom.pred][i])
            for i, a in enumerate(r.head.args):
                t = (INT if isinstance(a.value, int) else TEXT) if isinstance(a, Const) else vt.get(a.name)
                if t is not None and types[r.head.pred][i] != t:
                    changed |= put(r.head.pred, i, t, r.where)
    if problems:
        raise SQLCompileError("; ".join(dict.fromkeys(problems)))
    # A column nothing ever fills (an input with no facts) defaults to text.
    return {p: [t or TEXT for t in ts] for p, ts in types.items()}


def claim_scoped(program: Program, claim_inputs: Iterable[str]) -> set[str]:
    """Predicates whose answer depends on claim input, directly or through rules."""
    scoped = {p for p in claim_inputs if p in program.edb}
    changed = True
    while changed:
        changed = False
        for r in program.rules:
            if r.head.pred in scoped:
                continue
            if any(isinstance(b, Literal) and b.atom.pred in scoped for b in r.body):
                scoped.add(r.head.pred)
                changed = True
    return scoped


def compile_program(program: Program, edb_types: dict[str, list[str]] | None = None,
                    claim_inputs: Iterable[str] = (), dialect: str | Dialect = "duckdb",
                    keep_bindings: Iterable[str] | None = None, claim_type: str = TEXT,
                    stats: dict[str, set[tuple]] | None = None, share: bool = True,
                    keys: dict[str, Iterable[tuple[int, ...]]] | None = None) -> CompiledProgram:
    """Translate ``program`` for ``dialect``.

    ``claim_inputs`` names the input predicates that come per claim (they get
    a ``claim_id`` column); every other input predicate is shared knowledge.
    ``keep_bindings`` names the head predicates whose rules keep their
    bindings (default: every rule, as the pyDatalog backend does).
    ``stats`` gives the facts of shared (knowledge-base) predicates, input
    or derived, so join orders can be costed from them, and the argument
    positions that are unique in them (a key) read from them. ``keys`` declares
    keys of the claim inputs (positions unique within a claim): a promise
    the caller keeps, since the SQL then skips the DISTINCT that would have
    removed repeated rows.
    """
    d = DIALECTS[dialect] if isinstance(dialect, str) else dialect
    types = infer_types(program, edb_types or {})
    scoped = claim_scoped(program, claim_inputs)
    keep_preds = None if keep_bindings is None else set(keep_bindings)
    keep = {k for k, r in enumerate(program.rules) if keep_preds is None or r.head.pred in keep_preds}
    cp = CompiledProgram(program, d, types, scoped, keep, claim_type=claim_type, stats=stats)
    cp.rule_vars = {k: [v.name for v in r.variables()] for k, r in enumerate(program.rules)}
    cp.keys = {p: [tuple(k) for k in ks] for p, ks in (keys or {}).items()}
    for p, rows in (stats or {}).items():
        if p in scoped or p in cp.keys or not rows or p not in types:
            continue
        n = len(types[p])
        found = [(i,) for i in range(n) if len({r[i] for r in rows if len(r) == n}) == len(rows)]
        if found:
            cp.keys[p] = found
    cp.dead = dead_rules(program, scoped, stats)
    if share:
        share_prefixes(cp)
    return cp


def dead_rules(program: Program, scoped: set[str], stats: dict[str, set[tuple]] | None) -> set[int]:
    """Rules that can derive nothing: a positive literal over an empty relation.

    Empty are the shared predicates whose facts ``stats`` gives as none
    (an input predicate absent from ``stats`` is loaded empty), then every
    predicate all of whose rules are dead and which has no ground facts.
    Without ``stats`` nothing is known empty. A dead rule's relation is
    still created (empty, with its columns), so reasons and counts read it
    as before: only the work is skipped, never a verdict.
    """
    if stats is None:
        return set()
    empty = {p for p in program.edb if p not in scoped and not stats.get(p)}
    empty |= {p for p in program.idb if p not in scoped and p in stats and not stats[p]}
    with_facts = {f.head.pred for f in program.facts}
    rules_of: dict[str, list[int]] = {}
    for k, r in enumerate(program.rules):
        rules_of.setdefault(r.head.pred, []).append(k)
    dead: set[int] = set()
    changed = True
    while changed:
        changed = False
        for k, r in enumerate(program.rules):
            if k not in dead and any(l.atom.pred in empty for l in r.positive()):
                dead.add(k)
                changed = True
        for p, ks in rules_of.items():
            if p not in empty and p not in with_facts and all(k in dead for k in ks):
                empty.add(p)
                changed = True
    return dead


def _canon(lits) -> tuple:
    """A join prefix up to the names of its variables (each ``_`` its own)."""
    names: dict[str, int] = {}
    out = []
    for lit in lits:
        args = []
        for a in lit.atom.args:
            if isinstance(a, Const):
                args.append(("c", type(a.value).__name__, a.value))
            else:
                args.append(("v", names.setdefault(a.name, len(names))))
        out.append((lit.atom.pred, tuple(args)))
    return tuple(out)


def _prefix_vars(lits) -> list[str]:
    return list(dict.fromkeys(a.name for lit in lits for a in lit.atom.args if isinstance(a, Var)))


def share_prefixes(cp: CompiledProgram) -> None:
    """Compute once the join prefixes that several rules start with.

    Many claim rules open with the same joins (``line(L), billed(L, C, D)``;
    ``conflict(L, E, X), billed(L, C, D), billed(E, C2, D)``), each a join
    of a million claim rows. A prefix of two or more literals that two or
    more rules share (same predicates, constants and variable pattern, in
    join order) becomes a relation of its own, built once and read by each
    of those rules instead of their first literals. Rules of recursive
    strata keep their own joins (their fixpoint renames relations per
    round).
    """
    prog = cp.program
    recursive = set().union(*[s for s in prog.strata if len(s) > 1 or s & prog.recursive]) if prog.strata else set()
    orders = {k: cp.join_order(r) for k, r in enumerate(prog.rules)
              if r.head.pred not in recursive and len(r.positive()) >= 2 and k not in cp.dead}
    counts: dict[tuple, int] = {}
    for k, lits in orders.items():
        for n in range(2, len(lits) + 1):
            key = _canon(lits[:n])
            counts[key] = counts.get(key, 0) + 1
    chosen: dict[int, tuple] = {}
    for k, lits in orders.items():
        for n in range(len(lits), 1, -1):
            key = _canon(lits[:n])
            if counts.get(key, 0) >= 2:
                chosen[k] = (key, n)
                break
    used: dict[tuple, int] = {}
    for key, _n in chosen.values():
        used[key] = used.get(key, 0) + 1
    names: dict[tuple, str] = {}
    for k in sorted(chosen):
        key, n = chosen[k]
        if used[key] < 2:
            continue
        lits = orders[k][:n]
        if key not in names:
            name = f"cj_{len(names)}"
            names[key] = name
            rename = {v: f"V{i}" for i, v in enumerate(_prefix_vars(lits))}
            canon_lits = tuple(Literal(Atom(l.atom.pred, tuple(Var(rename[a.name]) if isinstance(a, Var) else a
                                                                 for a in l.atom.args))) for l in lits)
            cp.prefixes[name] = canon_lits
            cp.types[name] = [next(cp.types[l.atom.pred][i] for l in canon_lits for i, a in enumerate(l.atom.args)
                                   if isinstance(a, Var) and a.name == f"V{j}") for j in range(len(rename))]
            if any(l.atom.pred in cp.scoped for l in canon_lits):
                cp.scoped.add(name)
            cp.keys[name] = [(i,) for i in range(len(rename))
                             if len(cp.fixed_literals(canon_lits, {f"V{i}"})) == len(canon_lits)]
        terms = tuple(Var(v) for v in _prefix_vars(lits))
        cp.prefix_of[k] = (names[key], n, terms)
    # A prefix that extends another (cj_0 = line, billed; cj_10 = those and
    # two more) is joined from it: the first joins of a million claim rows
    # are done once, not once per prefix.
    for key, name in names.items():
        for m in range(len(key) - 1, 1, -1):
            base = names.get(key[:m])
            if base is not None:
                cp.prefix_base[name] = (base, m)
                break


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------

class Backend(Protocol):
    """What the runner needs from an SQL engine."""

    dialect: Dialect

    def materialize(self, name: str, sql: str) -> int | None: ...  # the rows made, when the engine says
    def count(self, name: str) -> int: ...
    def drop(self, name: str) -> None: ...
    def load_rows(self, name: str, columns: list[str], types: list[str], rows: Iterable[tuple]) -> None: ...
    def fetch(self, sql: str) -> list[tuple]: ...


def run(cp: CompiledProgram, backend: Backend, on_stratum=None, drop_after_use: bool = False,
        read_after: Iterable[str] | None = None) -> None:
    """Evaluate every stratum; input relations (``cp_<edb>``, ``c_claims``) must be loaded.

    With ``drop_after_use`` each predicate's relation is dropped after the
    last stratum that reads it (the kept rule bindings ``cr_<k>`` stay):
    a batch of a million lines then holds a few relations at a time, not all.
    ``read_after`` names the predicates the caller reads afterwards (default:
    all); those are never dropped, and a predicate no rule reads and the
    caller does not want is not built at all (its kept rule bindings still are).
    """
    prog = cp.program
    rules_of: dict[str, list[int]] = {}
    for k, r in enumerate(prog.rules):
        rules_of.setdefault(r.head.pred, []).append(k)
    stratum_of = {p: i for i, s in enumerate(prog.strata) for p in s}
    last_use: dict[str, int] = {p: stratum_of.get(p, -1) for p in list(prog.edb) + list(prog.idb)}
    for r in prog.rules:
        for item in r.body:
            if isinstance(item, Literal):
                last_use[item.atom.pred] = max(last_use[item.atom.pred], stratum_of[r.head.pred])
    prefix_last: dict[str, int] = {}
    prefix_first: dict[str, int] = {}
    for k, (name, _n, _t) in cp.prefix_of.items():
        prefix_last[name] = max(prefix_last.get(name, -1), stratum_of[prog.rules[k].head.pred])
        prefix_first[name] = min(prefix_first.get(name, len(prog.strata)), stratum_of[prog.rules[k].head.pred])
    # a base prefix lives until the first use of every prefix built on it (chains: longest first)
    for name in sorted(cp.prefix_base, key=lambda n: -len(cp.prefixes[n])):
        base = cp.prefix_base[name][0]
        first = prefix_first.get(name, -1)
        prefix_first[base] = min(prefix_first.get(base, first), first)
        prefix_last[base] = max(prefix_last.get(base, -1), first)
    built: set[str] = set()
    if hasattr(backend, "free_order"):  # an engine that reorders joins unless told to follow the FROM order
        backend.free_order = cp.free_order()
    # Relations found empty while running. A rule joining one derives nothing, yet an engine following
    # the FROM order still builds a hash table of every other relation it joins before it finds that
    # out: a rule over an empty list of opposite edits cost 0.12 s on a million lines, to make 0 rows.
    # Its SQL gets a false condition instead, which the engine plans as an empty result. Known from the
    # rows an engine reports making (DuckDB does; Spark would need a job per relation, so it does not).
    stored_rows = getattr(backend, "stored_rows", None)  # the rows of a stored table, when cheap to say
    empty: set[str] = {rel(p) for p in prog.edb if p in cp.scoped and stored_rows and stored_rows(rel(p)) == 0}

    def make(name: str, sql: str) -> None:
        if backend.materialize(name, sql) == 0:
            empty.add(name)

    def build_prefix(name: str) -> None:
        if name in built:
            return
        if name in cp.prefix_base:
            build_prefix(cp.prefix_base[name][0])
        make(name, cp.prefix_select(name, nothing=bool(cp.prefix_relations(name) & empty)))
        built.add(name)

    for si, stratum in enumerate(prog.strata):
        recursive = len(stratum) > 1 or bool(stratum & prog.recursive)
        if recursive:
            _run_fixpoint(cp, backend, stratum, rules_of)
        else:
            (pred,) = stratum
            for k in rules_of.get(pred, []):
                if k in cp.prefix_of:
                    build_prefix(cp.prefix_of[k][0])
            parts = []
            for k in rules_of.get(pred, []):
                nothing = bool(cp.joined_relations(k) & empty)
                if k in cp.keep:
                    make(rule_rel(k), cp.rule_body_select(k, nothing=nothing))
                    parts.append(cp.head_from_bindings(k))
                else:
                    parts.append(cp.rule_head_select(k, nothing=nothing))
            fs = cp.facts_select(pred)
            if fs:
                parts.append(fs)
            unread = read_after is not None and pred not in read_after and last_use.get(pred, -1) <= si
            if not unread:
                make(rel(pred), " UNION ".join(parts) if parts else cp.empty_select(pred))
        if drop_after_use:
            for p, last in last_use.items():
                if last == si and (read_after is None or p not in read_after):
                    backend.drop(rel(p))
            for name, last in prefix_last.items():
                if last == si:
                    backend.drop(name)
        if on_stratum:
            on_stratum(si, stratum)


def _run_fixpoint(cp: CompiledProgram, backend: Backend, scc: set[str], rules_of: dict[str, list[int]]) -> None:
    prog = cp.program
    preds = sorted(scc)

    def name(p: str, it: int) -> str:
        return f"cx_{p}_{it}"

    def reads_scc(k: int) -> bool:
        return any(l.atom.pred in scc for l in prog.rules[k].positive())

    counts = {}
    for p in preds:
        parts = [cp.rule_head_select(k) for k in rules_of.get(p, []) if not reads_scc(k)]
        fs = cp.facts_select(p)
        if fs:
            parts.append(fs)
        backend.materialize(name(p, 0), " UNION ".join(parts) if parts else cp.empty_select(p))
        counts[p] = backend.count(name(p, 0))
    it = 0
    while True:
        it += 1
        table = {q: name(q, it - 1) for q in preds}
        for p in preds:
            parts = [f"SELECT * FROM {name(p, it - 1)}"]
            parts += [cp.rule_head_select(k, table) for k in rules_of.get(p, []) if reads_scc(k)]
            backend.materialize(name(p, it), " UNION ".join(parts))
        new = {p: backend.count(name(p, it)) for p in preds}
        for p in preds:
            backend.drop(name(p, it - 1))
        if new == counts:
            break
        counts = new
    for p in preds:
        backend.materialize(rel(p), f"SELECT * FROM {name(p, it)}")
        backend.drop(name(p, it))
    for p in preds:
        for k in rules_of.get(p, []):
            if k in cp.keep:
                backend.materialize(rule_rel(k), cp.rule_body_select(k))


def load_inputs(cp: CompiledProgram, backend: Backend, facts: dict[str, set[tuple]],
                claims: Iterable[str] = ()) -> None:
    """Load input facts (rows of claim-scoped predicates start with their claim id)."""
    backend.load_rows(CLAIMS, ["claim_id"], [cp.claim_type], [(c,) for c in dict.fromkeys(claims)])
    for p in cp.program.edb:
        rows = facts.get(p, set())
        if cp.arity(p) == 0:
            rows = {tuple(r) + (1,) for r in rows}
        types = ([cp.claim_type] if p in cp.scoped else []) + cp.types[p]
        backend.load_rows(rel(p), cp.columns(p), types, rows)


def read_model(cp: CompiledProgram, backend: Backend, preds: Iterable[str] | None = None,
               bindings: bool = True) -> tuple[dict[str, set[tuple]], dict[int, list[dict]]]:
    """Derived tuples and rule bindings, shaped as the pyDatalog backend returns them
    (claim-scoped rows keep their claim id first)."""
    facts: dict[str, set[tuple]] = {}
    for p in (cp.program.idb if preds is None else preds):
        rows = backend.fetch(f"SELECT * FROM {rel(p)}")
        if cp.arity(p) == 0:
            rows = [r[:-1] for r in rows]
        facts[p] = set(map(tuple, rows))
    out: dict[int, list[dict]] = {}
    if bindings:
        for k in sorted(cp.keep):
            names = cp.rule_vars[k]
            scoped = cp.program.rules[k].head.pred in cp.scoped
            res = []
            for row in backend.fetch(f"SELECT * FROM {rule_rel(k)}"):
                row = tuple(row)
                b = dict(zip(names, row[1:] if scoped else row))
                if scoped:
                    b = {"claim_id": row[0], **b}
                res.append(b)
            out[k] = res
    return facts, out
