"""Decide whether a SPARQL text may run: read-only, local, nothing fetched.

rdflib will happily execute ``LOAD <http://…>``, ``INSERT DATA``, a
``SERVICE <http://…>`` clause (an outbound HTTP request) and ``FROM <url>``
(which, with rdflib's default ``SPARQL_LOAD_GRAPHS``, fetches the URL). The
guard parses the text with rdflib's own SPARQL grammar and walks the parse
tree and the algebra — never a regular expression over the text, which a
comment, a string literal or odd spacing would fool.

Allowed: SELECT, ASK, CONSTRUCT (and DESCRIBE only if asked for), with
``FROM``/``FROM NAMED`` limited to the graph IRIs the caller names.
"""
from __future__ import annotations

from typing import Any, Iterable

from pyparsing import ParseException
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

ALLOWED_KINDS = {"SelectQuery", "AskQuery", "ConstructQuery"}


class QueryRefused(ValueError):
    """A query that will not run; the message says what and why, in one line."""


def _walk(node: Any, seen: set[int] | None = None):
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    if isinstance(node, CompValue):
        seen.add(id(node))
        yield node
        for value in node.values():
            yield from _walk(value, seen)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk(value, seen)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item, seen)


def check_query(text: str, allowed_graphs: Iterable[str] = (), allow_describe: bool = False):
    """Parse and vet ``text``; return rdflib's prepared Query or raise QueryRefused."""
    if not isinstance(text, str) or not text.strip():
        raise QueryRefused("the query is empty")
    try:
        parsed = parseQuery(text)
    except ParseException as e:
        try:
            parseUpdate(text)
        except ParseException:
            raise QueryRefused(f"not a SPARQL query (line {e.lineno}, column {e.col}: {e.msg})") from None
        raise QueryRefused("SPARQL updates (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, COPY, MOVE, ADD) "
                           "are refused: the knowledge graph is read-only") from None
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None
    # The parse tree first: SERVICE and dataset clauses are visible there
    # whatever the algebra later makes of them.
    for node in _walk(parsed):
        if node.name == "ServiceGraphPattern":
            raise QueryRefused(f"SERVICE <{node.get('term')}> is refused: queries run on the local graph only")
    try:
        query = translateQuery(parsed)
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - rdflib raises plain Exceptions for semantic errors
        raise QueryRefused(f"not a valid SPARQL query: {' '.join(str(e).split())[:160]}") from None
    kind = query.algebra.name
    if kind not in ALLOWED_KINDS and not (allow_describe and kind == "DescribeQuery"):
        raise QueryRefused(f"{kind.replace('Query', '').upper()} queries are refused: use SELECT, ASK or CONSTRUCT")
    allowed = {str(g) for g in allowed_graphs}
    for clause in query.algebra.get("datasetClause") or []:
        # CompValue.get answers a missing key with the key itself: test membership
        iri = clause["default"] if "default" in clause else clause.get("named") if "named" in clause else clause
        if str(iri) not in allowed:
            raise QueryRefused(f"FROM <{iri}> is refused: a query may name only the local graphs"
                               + (f" ({', '.join(sorted(allowed))})" if allowed else ""))
    for node in _walk(query.algebra):
        if node.name == "ServiceGraphPattern":
            raise QueryRefused(f"SERVICE <{node.get('term')}> is refused: queries run on the local graph only")
    return query
