"""Query console: read-only SPARQL over the KB, and Datalog in the project's
own rule syntax.

SPARQL goes through ``cptkg.sparql`` (the guarded runner of the export and
query work) when the checkout has it; otherwise through the minimal guard
here, which parses with rdflib's SPARQL parser and walks the parsed algebra:
updates, ``SERVICE``, ``LOAD`` and ``FROM``/``FROM NAMED`` are refused before
anything runs, and the query runs in a forked process stopped at the time
limit, its rows capped.

Datalog text is parsed by the project's parser into rules, checked like the
KB's rule files (declared predicates, arity, safety, stratification) and
evaluated over the KB facts by the pyDatalog backend with a time limit. Text
never reaches ``pyDatalog.load`` or ``ask``.
"""
from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from ..rules.ast import Atom, Rule
from ..rules.parser import RuleSyntaxError, parse_text
from ..rules.program import RuleLoadError, build_program
from ..rules.pydatalog_engine import EvaluationError, EvaluationTimeout, evaluate
from .common import kb_or_stop

try:  # the guarded SPARQL runner of the query/export work, when merged
    from .. import sparql as _sparql
except ImportError:  # pragma: no cover - depends on the checkout
    _sparql = None

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
def _walk(node):
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _walk(v)


def check_sparql(text: str):
    """Parse and vet a query; the prepared query, or QueryError saying why not."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    if not text or not text.strip():
        raise QueryError("the query is empty")
    if len(text) > MAX_TEXT:
        raise QueryError(f"the query is longer than {MAX_TEXT} characters")
    try:
        parsed = parseQuery(text)
    except ParseException as e:
        try:
            parseUpdate(text)
        except ParseException:
            raise QueryError(f"not a SPARQL query: line {e.lineno}, column {e.col}: {e.msg}") from None
        raise QueryError("SPARQL updates (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP …) are refused: the knowledge graph is read-only here") from None
    for node in _walk(parsed):
        if node.name == "ServiceGraphPattern":
            raise QueryError("SERVICE is refused: queries run over the local knowledge graph only")
    try:
        query = translateQuery(parsed)
    except Exception as e:  # rdflib raises plain Exceptions for semantic errors
        raise QueryError(f"not a valid SPARQL query: {e}") from None
    if query.algebra.name not in ("SelectQuery", "AskQuery", "ConstructQuery"):
        raise QueryError(f"{query.algebra.name.replace('Query', '').upper()} queries are refused: use SELECT, ASK or CONSTRUCT")
    if query.algebra.get("datasetClause"):
        raise QueryError("FROM / FROM NAMED is refused: queries run over the loaded knowledge graph only, nothing is fetched")
    for node in _walk(query.algebra):
        if node.name == "ServiceGraphPattern":
            raise QueryError("SERVICE is refused: queries run over the local knowledge graph only")
    return query


def _short(term) -> str:
    if term is None:
        return ""
    from ..kb import local

    v = local(term)
    return str(v)


def _evaluate(graph, query, limit: int) -> Table:
    res = graph.query(query)
    name = query.algebra.name
    if name == "AskQuery":
        return Table(["answer"], [(bool(res.askAnswer),)])
    if name == "ConstructQuery":
        rows, trunc = [], False
        for n, (s, p, o) in enumerate(res):
            if n >= limit:
                trunc = True
                break
            rows.append((_short(s), _short(p), _short(o)))
        return Table(["subject", "predicate", "object"], rows, trunc)
    rows, trunc = [], False
    for n, row in enumerate(res):
        if n >= limit:
            trunc = True
            break
        rows.append(tuple(_short(t) for t in row))
    return Table([str(v) for v in res.vars], rows, trunc)


def _child(conn, graph, query, limit):
    try:
        conn.send(("ok", _evaluate(graph, query, limit)))
    except Exception as e:  # reported to the parent as one line
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def run_sparql(kb, text: str, timeout: float = DEFAULT_TIMEOUT, limit: int = DEFAULT_LIMIT) -> Table:
    """Run a read-only query over ontology + KB; a Table, or QueryError."""
    if _sparql is not None:
        return _run_with_package(kb, text, timeout, limit)
    query = check_sparql(text)
    import rdflib.plugins.sparql as rdflib_sparql

    rdflib_sparql.SPARQL_LOAD_GRAPHS = False  # never fetch a graph a query names
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, kb.graph, query, limit), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise QueryError(f"the query did not finish within {timeout:g} s and was stopped")
        status, payload = parent.recv()
    except EOFError:
        raise QueryError("the query process ended without an answer") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if status == "error":
        raise QueryError(f"the query failed: {payload}")
    return payload


def _run_with_package(kb, text: str, timeout: float, limit: int) -> Table:
    try:
        res = _sparql.run_query(text, timeout=timeout, limit=limit)
    except (_sparql.QueryRefused, _sparql.QueryTimeout) as e:
        raise QueryError(str(e)) from None
    if res.kind == "ask":
        return Table(["answer"], [(bool(res.boolean),)])
    if res.kind == "construct":
        return Table(["subject", "predicate", "object"], [tuple(_short(t) for t in tr) for tr in res.graph], res.truncated)
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
                limit: int = DEFAULT_LIMIT, with_rules: str | None = None) -> Table:
    """Evaluate Datalog over the KB facts; rows of ``want`` (default: the last rule's head).

    ``with_rules`` ("claim" or "infer") adds that rule file's rules, so a query
    can read what they derive from the KB alone (``excluded_pair``, say); the
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
        model = evaluate(prog, facts, want=[head], rule_bindings=False, timeout=timeout)
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

DATALOG_EXAMPLE = """% codes a nurse may bill, and the services they cover
nurse_code(C, S) :- may_be_performed_by(C, "Nurse"), covers_service(C, S)."""


def page() -> None:
    kb = kb_or_stop()
    st.header("Query console")
    st.caption("Read-only: SPARQL updates, SERVICE, LOAD and FROM are refused; each query has a "
               f"{DEFAULT_TIMEOUT:g} s time limit and at most {DEFAULT_LIMIT} rows.")
    tab_sparql, tab_dl = st.tabs(["SPARQL", "Datalog (the rule language)"])
    with tab_sparql:
        text = st.text_area("SPARQL query", value=SPARQL_EXAMPLE, height=180, key="sparql_text")
        if st.button("Run SPARQL", key="run_sparql"):
            _show(lambda: run_sparql(kb, text))
    with tab_dl:
        st.caption("Rules in the syntax of kb/rules/*.dl over the KB facts (predicates: "
                   + ", ".join(sorted(p for p in kb.facts)) + "). A bare condition such as "
                   "`covers_service(C, S), may_be_performed_by(C, \"Nurse\")` is a query too.")
        text = st.text_area("Datalog", value=DATALOG_EXAMPLE, height=140, key="datalog_text")
        rules_from = st.radio("Also use the predicates derived by", ["none", "claim", "infer"], horizontal=True,
                              key="datalog_with", format_func=lambda v: {"none": "KB facts only",
                                                                        "claim": "kb/rules/claim.dl",
                                                                        "infer": "kb/rules/infer.dl"}[v])
        if st.button("Run Datalog", key="run_datalog"):
            _show(lambda: run_datalog(kb, text, with_rules=None if rules_from == "none" else rules_from))


def _show(run) -> None:
    try:
        t = run()
    except QueryError as e:
        st.error(str(e))
        return
    st.write(f"{len(t.rows)} row(s)" + (" — stopped at the row limit" if t.truncated else ""))
    st.dataframe(t.frame(), hide_index=True, width="stretch")
