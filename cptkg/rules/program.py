"""A checked rule program: safe, arity-consistent, declared and stratified.

pyDatalog performs none of these checks itself (it answers ``ok() <= ~ok()``
with true and reads an unbound negation as "no fact at all"), so every
program passes through here before any backend sees it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import re
import string

import networkx as nx

from cptkg.rules.ast import FIX_KINDS, Atom, Comparison, Literal, Rule, Var
from cptkg.rules.messages import identifier_variables


class RuleLoadError(ValueError):
    """A rule program that must not run; names file, line and rule."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Program:
    rules: list[Rule]
    facts: list[Rule]
    edb: dict[str, int]  # declared input predicates -> arity
    idb: dict[str, int] = field(default_factory=dict)
    strata: list[set[str]] = field(default_factory=list)
    recursive: set[str] = field(default_factory=set)
    # declared column types of input predicates ("int"/"text" per argument),
    # for engines that need them when a predicate has no facts to read them from
    declared_types: dict[str, list[str]] = field(default_factory=dict)

    def rules_for(self, pred: str) -> list[Rule]:
        return [r for r in self.rules if r.head.pred == pred]

    def used_predicates(self) -> set[str]:
        used = {r.head.pred for r in self.rules + self.facts}
        for r in self.rules:
            used.update(b.atom.pred for b in r.body if isinstance(b, Literal))
        return used

    def static_rules(self, input_preds: set[str]) -> set[int]:
        """Indices of rules whose heads never depend on ``input_preds``.

        Their results are the same for every claim, so they can be computed
        once per knowledge base instead of once per claim.
        """
        g = nx.DiGraph()
        for r in self.rules:
            for b in r.body:
                if isinstance(b, Literal):
                    g.add_edge(b.atom.pred, r.head.pred)
        dynamic = set()
        for p in input_preds:
            if p in g:
                dynamic |= {p} | nx.descendants(g, p)
        return {k for k, r in enumerate(self.rules) if r.head.pred not in dynamic}

    def by_id(self, rule_id: str) -> Rule | None:
        for r in self.rules:
            if r.meta.id == rule_id:
                return r
        return None

    def ordered_body(self, rule: Rule) -> list:
        """Body in evaluation order: recursive literals, other positives,
        comparisons, then negations.

        pyDatalog's negation reads unbound variables as "no fact at all" and
        its right-recursive closure over a cycle never terminates; putting
        recursive literals first and negations last avoids both.
        """
        scc = self._scc_of(rule.head.pred)
        pos = rule.positive()
        rec = [l for l in pos if l.atom.pred in scc]
        rest = [l for l in pos if l.atom.pred not in scc]
        return rec + rest + rule.comparisons() + rule.negative()

    def _scc_of(self, pred: str) -> set[str]:
        for s in self.strata_sccs:
            if pred in s:
                return s if (len(s) > 1 or pred in self.recursive) else set()
        return set()

    strata_sccs: list[set[str]] = field(default_factory=list)


# the only formats a message field may have (cptkg.rules.messages): a width such as
# {C:>1500000000} would print 1.5 GB
MESSAGE_SPECS = ("", "entry", "label", "edit")

def _check_rule(rule: Rule, problems: list[str]) -> None:
    bound: set[str] = set()
    for lit in rule.positive():
        bound.update(v.name for v in lit.vars())
    where = f"{rule.where}" + (f" (rule {rule.meta.id})" if rule.meta.id else "")
    for v in rule.head.vars():
        if v.anonymous:
            problems.append(f"{where}: '_' may not appear in the head of {rule.head.pred}")
        elif v.name not in bound:
            problems.append(f"{where}: unsafe rule: variable {v.name} in the head is not bound by a positive body atom")
    for c in rule.comparisons():
        for v in c.vars():
            if v.name not in bound:
                problems.append(f"{where}: unsafe comparison '{c}': variable {v.name} is not bound by a positive body atom")
    for lit in rule.negative():
        for v in lit.vars():
            if not v.anonymous and v.name not in bound:
                problems.append(f"{where}: unsafe negation '{lit}': variable {v.name} is not bound by a positive body atom")
    if rule.is_fact:
        for a in rule.head.args:
            if isinstance(a, Var):
                problems.append(f"{where}: fact {rule.head} has a variable; facts must be ground")


CARC_RE = re.compile(r"[A-Z]?[0-9]{1,3}")
RARC_RE = re.compile(r"[A-Z]{1,2}[0-9]{1,3}")
#: X12 claim adjustment group codes
GROUP_CODES = ("CO", "PR", "OA", "PI", "CR")


def _check_reason_code(c: Rule, coded: bool, problems: list[str]) -> None:
    """A rule deriving a rejection names its CARC and group code; no other rule does."""
    m = c.meta
    who = f"{c.where}: rule {m.id or c.head.pred}"
    if not coded:
        for key in ("carc", "group", "rarc"):
            if getattr(m, key):
                problems.append(f"{who} derives {c.head.pred}, not a rejection: it carries no reason code (% {key}:)")
        return
    if not m.carc or not m.group:
        problems.append(f"{who} rejects a line but names no reason code: add % carc: and % group: (X12 CARC and group code)")
        return
    if not CARC_RE.fullmatch(m.carc):
        problems.append(f"{who}: '% carc: {m.carc}' is not an X12 claim adjustment reason code (e.g. 97, 236)")
    if m.group not in GROUP_CODES:
        problems.append(f"{who}: '% group: {m.group}' is not an X12 group code ({', '.join(GROUP_CODES)})")
    if m.rarc and not RARC_RE.fullmatch(m.rarc):
        problems.append(f"{who}: '% rarc: {m.rarc}' is not an X12 remittance advice remark code (e.g. M51, N20)")


def build_program(clauses: list[Rule], edb: dict[str, int], require_meta: bool = False,
                  known_sources: set[str] | None = None, coded_heads: set[str] | None = None) -> Program:
    """Check parsed clauses against the declared predicates and stratify them.

    ``edb`` maps every predicate the rules may read without defining it (KB
    properties and claim input) to its arity. A body predicate that is
    neither declared nor defined by a rule is a load error naming the file
    and line, so a misspelt predicate cannot silently match nothing.
    """
    problems: list[str] = []
    rules = [c for c in clauses if not c.is_fact]
    facts = [c for c in clauses if c.is_fact]
    arity: dict[str, tuple[int, str]] = {p: (n, "the ontology") for p, n in edb.items()}
    idb: dict[str, int] = {}
    for c in clauses:
        c_where = c.where
        _check_rule(c, problems)
        atoms = [c.head] + [b.atom for b in c.body if isinstance(b, Literal)]
        for a in atoms:
            if a.pred in arity and arity[a.pred][0] != a.arity:
                problems.append(f"{c_where}: {a.pred} is used with {a.arity} argument(s) here but {arity[a.pred][0]} in {arity[a.pred][1]}")
            else:
                arity.setdefault(a.pred, (a.arity, c_where))
        if c.head.pred in edb and not c.is_fact:
            problems.append(f"{c_where}: {c.head.pred} is an input predicate (declared in the ontology); rules may not derive it")
        if c.head.pred not in edb:
            idb.setdefault(c.head.pred, c.head.arity)
    ids: dict[str, str] = {}
    for c in clauses:
        for lit in c.body:
            if isinstance(lit, Literal) and lit.atom.pred not in edb and lit.atom.pred not in idb:
                problems.append(f"{c.where}: undeclared predicate '{lit.atom.pred}': not in the ontology's predicate mapping and defined by no rule")
        if require_meta and not c.is_fact:
            missing = [k for k in ("id", "message", "source") if not getattr(c.meta, k)]
            if missing:
                problems.append(f"{c.where}: rule for {c.head.pred} lacks structured comment(s): {', '.join(missing)}")
        if coded_heads is not None and not c.is_fact:
            _check_reason_code(c, c.head.pred in coded_heads, problems)
        if c.meta.id:
            if c.meta.id in ids:
                problems.append(f"{c.where}: rule id '{c.meta.id}' already used at {ids[c.meta.id]}")
            ids[c.meta.id] = c.where
        if known_sources is not None:
            for s in c.meta.source:
                if s not in known_sources:
                    problems.append(f"{c.where}: rule {c.meta.id or c.head.pred} cites unknown source '{s}' (not in kb/sources.ttl)")
        checked = c.meta.extra.get("checked")
        if checked is not None and checked.strip().lower() not in ("true", "false"):
            problems.append(f"{c.where}: rule {c.meta.id}: 'checked' is true or false, not '{checked[:40]}'")
        instead = c.meta.extra.get("instead")
        if instead is not None and instead.strip() not in {v.name for v in c.variables()}:
            problems.append(f"{c.where}: rule {c.meta.id}: 'instead' names {instead.strip()[:40]}, which is not a "
                            f"variable of the rule")
        for spec in c.meta.fix:
            kind, *args = spec.split()
            want = FIX_KINDS.get(kind)
            names = {v.name for v in c.variables()}
            if want is None:
                problems.append(f"{c.where}: rule {c.meta.id} declares an unknown fix '{kind}' (known: {', '.join(FIX_KINDS)})")
            elif len(args) not in (want if isinstance(want, tuple) else (want,)):
                problems.append(f"{c.where}: rule {c.meta.id}: fix '{kind}' takes {want} variable(s), got {len(args)}")
            else:
                for a in args:
                    if a not in names:
                        problems.append(f"{c.where}: rule {c.meta.id}: fix '{spec}' names {a}, which is not a variable of the rule")
        if c.meta.message:
            names = {v.name for v in c.variables()}
            try:
                fields = list(string.Formatter().parse(c.meta.message))
            except ValueError as e:
                problems.append(f"{c.where}: message of rule {c.meta.id} is not a valid template ({e}); write a literal brace as {{{{ or }}}}")
                fields = []
            id_vars = identifier_variables(c)
            for _, field_name, spec, conversion in fields:
                if field_name and field_name not in names:
                    problems.append(f"{c.where}: message of rule {c.meta.id} uses {{{field_name}}}, which is not a variable of the rule")
                elif field_name in id_vars:
                    problems.append(f"{c.where}: message of rule {c.meta.id} shows {{{field_name}}}, a person's identifier "
                                    f"(a provider id): verdict text never shows one; say \"the same provider\" or "
                                    f"\"another provider\" and name the lines")
                elif field_name is not None and (conversion is not None or spec not in MESSAGE_SPECS):
                    shown = (f"!{conversion}" if conversion else "") + (f":{spec[:20]}" if spec else "")
                    allowed = ", ".join("{X" + (":" + x if x else "") + "}" for x in MESSAGE_SPECS)
                    problems.append(f"{c.where}: message of rule {c.meta.id}: {{{field_name}{shown}}} has a format the "
                                    f"messages do not support (only {allowed})")
    # Stratification: no cycle through negation.
    g = nx.DiGraph()
    g.add_nodes_from(idb)
    neg_edges: dict[tuple[str, str], Rule] = {}
    for r in rules:
        for lit in r.body:
            if isinstance(lit, Literal) and lit.atom.pred in idb:
                g.add_edge(lit.atom.pred, r.head.pred)
                if lit.negated:
                    neg_edges.setdefault((lit.atom.pred, r.head.pred), r)
    sccs = list(nx.strongly_connected_components(g))
    comp_of = {p: i for i, s in enumerate(sccs) for p in s}
    for (a, b), r in neg_edges.items():
        if comp_of[a] == comp_of[b]:
            cyc = sorted(sccs[comp_of[a]])
            problems.append(f"{r.where}: not stratified: {r.head.pred} depends negatively on {a}, which depends on {r.head.pred} again (cycle through {', '.join(cyc)})")
    if problems:
        raise RuleLoadError(problems)
    cond = nx.condensation(g, sccs)
    order = list(nx.topological_sort(cond))
    strata = [set(cond.nodes[n]["members"]) for n in order]
    recursive = {p for p in idb if g.has_edge(p, p)}
    prog = Program(rules=rules, facts=facts, edb=dict(edb), idb=idb, strata=strata, recursive=recursive)
    prog.strata_sccs = strata
    return prog
