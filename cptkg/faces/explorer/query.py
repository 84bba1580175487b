"""Query console: read-only SPARQL over the KB, and Datalog in the project's
own rule syntax.

SPARQL goes through ``cptkg.sparql``, the package's guarded runner (the same
one ``cptkg query`` uses): the parsed query is vetted before anything runs
(updates, ``SERVICE``, ``LOAD``, ``DESCRIBE`` and ``FROM`` of any graph but
the KB's own are refused) and runs in a separate process stopped at the time
limit, its rows capped.

Datalog text is parsed by the project's parser into rules, checked like the
KB's rule files (declared predicates, arity, safety, stratification) and
evaluated over the KB facts by the default engine with a time limit. Text
never reaches ``pyDatalog.load`` or ``ask``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from cptkg.faces.markup import md
from cptkg import Atom, Rule, RuleLoadError, RuleSyntaxError, build_program
from cptkg import parse_rules as parse_text
from cptkg import engines
from cptkg import EvaluationError, EvaluationTimeout
from cptkg.faces.explorer.common import current_engine, kb_or_stop

from cptkg import load_graphs, sparql

MAX_TEXT = 10_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_LIMIT = 1000


class QueryError(ValueError):
    """A query refused or failed; ``str()`` is the one-line message shown."""


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple] = field(default_factory=list)
    truncated: bool = False
    note: str = ""

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([list(r) for r in self.rows], columns=self.columns)


# ------------------------------------------------------------------ SPARQL
def _short(term) -> str:
    """A result cell: KB terms by their local name, other IRIs and literals as text."""
    if term is None:
        return ""
    from cptkg import local

    return str(local(term))


def run_sparql(kb, text: str, timeout: float = DEFAULT_TIMEOUT, limit: int = DEFAULT_LIMIT) -> Table:
    """Run a read-only query over ontology + KB; a Table, or QueryError saying why not.

    ``cptkg.sparql`` vets the parsed query (no updates, SERVICE, LOAD,
    DESCRIBE or FROM of another graph), runs it in a separate process stopped
    at the time limit, and caps the rows.
    """
    if text and len(text) > MAX_TEXT:
        raise QueryError(f"the query is longer than {MAX_TEXT} characters")
    try:
        res = sparql.run_query(text, sparql.query_dataset(load_graphs(kb, published=True)), timeout=timeout,
                               limit=limit)
    except (sparql.QueryRefused, sparql.QueryTimeout) as e:
        raise QueryError(str(e)) from None
    if res.kind == "ask":
        return Table(["answer"], [(bool(res.boolean),)])
    if res.kind == "construct":
        return Table(["subject", "predicate", "object"], sorted(tuple(_short(t) for t in tr) for tr in res.graph),
                     res.truncated)
    return Table(list(res.variables), [tuple(_short(t) for t in r) for r in res.rows], res.truncated)


# ----------------------------------------------------------------- Datalog
def _as_rules(text: str) -> list[Rule]:
    """Rules of the text; a bare conjunction (``covers_service(C, S), ...``) is
    read as the body of ``answer(<its variables>)``."""
    try:
        return parse_text(text, "<query>")
    except RuleSyntaxError as first:
        body = text.strip().rstrip(".").strip()
        if ":-" in body or not body:
            raise QueryError(f"not a rule: {first}") from None
        try:
            probe = parse_text(f"answer :- {body}.", "<query>")
        except RuleSyntaxError:
            raise QueryError(f"not a rule or a query: {first}") from None
        names = []
        for lit in probe[0].body:
            for v in lit.vars():
                if not v.anonymous and not getattr(lit, "negated", False) and v.name not in names:
                    names.append(v.name)
        head = f"answer({', '.join(names)})" if names else "answer"
        try:
            return parse_text(f"{head} :- {body}.", "<query>")
        except RuleSyntaxError as e:
            raise QueryError(f"not a rule or a query: {e}") from None


def run_datalog(kb, text: str, want: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                limit: int = DEFAULT_LIMIT, with_rules: str | None = None, engine: str | None = None) -> Table:
    """Evaluate Datalog over the KB facts; rows of ``want`` (default: the last rule's head).

    ``with_rules`` ("claim" or "infer") adds that rule file's rules, so a query
    can read what they derive from the KB alone (``edit_col1``, say); the
    claim or encounter input predicates are empty.
    """
    if not text or not text.strip():
        raise QueryError("the query is empty")
    if len(text) > MAX_TEXT:
        raise QueryError(f"the query is longer than {MAX_TEXT} characters")
    rules = _as_rules(text)
    if not rules:
        raise QueryError("no rule in the text")
    if len(rules) > 100:
        raise QueryError("at most 100 rules per query")
    base = {"claim": kb.check_program, "infer": kb.infer_program}.get(with_rules) if with_rules else None
    if with_rules and base is None:
        raise QueryError(f"unknown rule file '{with_rules}': use claim or infer")
    try:
        prog = build_program((list(base.rules) if base else []) + rules, dict(kb.edb))
    except RuleLoadError as e:
        raise QueryError("; ".join(p.replace("<query>:", "line ") for p in e.problems)) from None
    head = want or next(r.head for r in reversed(rules)).pred
    if head not in prog.idb or not any(r.head.pred == head for r in rules) and not base:
        raise QueryError(f"'{head}' is not defined by a rule of the query")
    facts = {p: set() for p in kb.edb}
    facts.update(kb.facts)
    try:
        model = engines.get(engine).evaluate(prog, facts, want=[head], rule_bindings=False, timeout=timeout)
    except EvaluationTimeout:
        raise QueryError(f"the query did not finish within {timeout:g} s and was stopped") from None
    except EvaluationError as e:
        raise QueryError(f"the query failed: {e}") from None
    rows = sorted(model.facts.get(head, set()), key=lambda r: tuple(map(str, r)))
    head_atom: Atom = next(r.head for r in list(rules) + (list(base.rules) if base else []) if r.head.pred == head)
    cols = [str(a) if hasattr(a, "name") else f"arg{i + 1}" for i, a in enumerate(head_atom.args)]
    if not cols:
        return Table(["answer"], [(bool(rows),)])
    return Table(cols, rows[:limit], len(rows) > limit)


SPARQL_EXAMPLE = """PREFIX ont: <https://w3id.org/cptkg/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?code ?role WHERE {
  ?c a ont:BillingCode ; skos:notation ?code ; ont:mayBePerformedBy ?role .
} ORDER BY ?code ?role"""

DATALOG_EXAMPLE = """% who may report each code: a role the KB lists for it, or any role beneath one
may_report(C, R) :- may_be_performed_by(C, P), subclass_of(R, P)."""


def page() -> None:
    kb = kb_or_stop()
    st.header("Query console")
    st.caption("Read-only: SPARQL updates, LOAD, SERVICE and FROM of another graph are refused; each query has a "
               f"{DEFAULT_TIMEOUT:g} s time limit and at most {DEFAULT_LIMIT} rows.")
    tab_sparql, tab_dl = st.tabs(["SPARQL", "Datalog (the rule language)"])
    with tab_sparql:
        text = st.text_area("SPARQL query", value=SPARQL_EXAMPLE, height=180, key="sparql_text")
        if st.button("Run SPARQL", key="run_sparql"):
            _show(lambda: run_sparql(kb, text))
    with tab_dl:
        st.caption("Rules in the syntax of the pack's rules/*.dl over the KB facts (predicates: "
                   + ", ".join(sorted(p for p in kb.facts)) + "). A bare condition such as "
                   "`covers_service(C, S), requires_service(C, S)` is a query too.")
        text = st.text_area("Datalog", value=DATALOG_EXAMPLE, height=140, key="datalog_text")
        rules_from = st.radio("Also use the predicates derived by", ["none", "claim", "infer"], horizontal=True,
                              key="datalog_with", format_func=lambda v: {"none": "KB facts only",
                                                                        "claim": "the pack's claim rules (rules/claim.dl)",
                                                                        "infer": "the pack's inference rules (rules/infer.dl)"}[v])
        if st.button("Run Datalog", key="run_datalog"):
            _show(lambda: run_datalog(kb, text, with_rules=None if rules_from == "none" else rules_from,
                                      engine=current_engine()))


def _show(run) -> None:
    try:
        t = run()
    except QueryError as e:
        st.error(md(e))
        return
    st.write(f"{len(t.rows)} row(s)" + (" — stopped at the row limit" if t.truncated else ""))
    st.dataframe(t.frame(), hide_index=True, width="stretch")
