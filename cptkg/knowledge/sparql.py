"""Read-only SPARQL over the ontology and KB, and RDF parsing that fetches nothing.

Queries are parsed with rdflib's SPARQL parser and the algebra is walked
(not pattern-matched as text) before anything runs. Refused: updates
(``INSERT``, ``DELETE``, ``LOAD``, ``CLEAR`` …), ``SERVICE``, ``DESCRIBE``,
and ``FROM`` / ``FROM NAMED`` of any graph but the two the dataset holds
(``…/graph/ontology`` and ``…/graph/kb``). Two further locks hold even if a
query got past the check: rdflib's ``SERVICE`` evaluation is replaced by a
refusal (rdflib would otherwise send the HTTP request), and loading graphs
named in ``FROM`` is switched off (``SPARQL_LOAD_GRAPHS``).

A query runs in a forked child process so that it can be stopped at the
time limit; results are capped at a row limit.

:func:`parse_rdf` reads RDF from bytes without dereferencing anything named
inside the data: a JSON-LD document may only carry inline contexts (rdflib
would fetch a remote or ``file://`` context), XML external entities are not
resolved, and while it parses, any network request raises.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import multiprocessing
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import rdflib.plugins.sparql as rdflib_sparql
from pyparsing import ParseException
from rdflib import Dataset, Graph, Literal, URIRef, Variable
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Query

from cptkg.knowledge.datasets import KB_GRAPH, ONTOLOGY_GRAPH, Graphs, load_graphs
from cptkg.knowledge.rdf_safe import RdfInputError
from cptkg.knowledge.rdf_safe import parse_rdf as _safe_parse

ALLOWED_GRAPHS = {ONTOLOGY_GRAPH, KB_GRAPH}
QUERY_KINDS = {"SelectQuery": "select", "AskQuery": "ask", "ConstructQuery": "construct"}
DEFAULT_TIMEOUT = 10.0
DEFAULT_LIMIT = 1000
MAX_QUERY_CHARS = 100_000
MAX_NESTING = 24  # rdflib's parser recurses per level: 40 nested { reached Python's recursion limit


def _nesting(text: str) -> int:
    """Deepest nesting of brackets outside strings, IRIs and comments (an upper bound is enough)."""
    depth = best = 0
    quote = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif ch == "<" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in "=<":
            j = text.find(">", i)
            if j > 0 and " " not in text[i:j]:
                i = j
        elif ch in "{([":
            depth += 1
            best = max(best, depth)
        elif ch in "})]":
            depth = max(depth - 1, 0)
        i += 1
    return best


class QueryRefused(ValueError):
    """A query that will not be run; the message says what and why, in one line."""


class QueryTimeout(RuntimeError):
    """A query that did not finish within its time limit."""


UnsafeRDF = RdfInputError  # one refusal type for unsafe or malformed RDF input


# ------------------------------------------------------------------ locks
def _refuse_service(ctx, part):
    if part.name == "ServiceGraphPattern":
        raise QueryRefused(f"SERVICE <{part.get('term')}> is refused: queries run over the local knowledge graph only")
    raise NotImplementedError  # anything else: rdflib's own evaluation


rdflib_sparql.CUSTOM_EVALS["cptkg-refuse-service"] = _refuse_service
rdflib_sparql.SPARQL_LOAD_GRAPHS = False

_NO_NETWORK: contextvars.ContextVar[bool] = contextvars.ContextVar("cptkg_no_network", default=False)
_NETWORK_EVENTS = {"urllib.Request", "socket.connect", "socket.getaddrinfo", "http.client.connect"}


def _audit(event: str, args: tuple) -> None:
    if event in _NETWORK_EVENTS and _NO_NETWORK.get():
        raise UnsafeRDF(f"network access during RDF parsing or querying is refused ({event} {args[:1]!r})")


sys.addaudithook(_audit)


@contextlib.contextmanager
def no_network():
    """Within this block, any network request from this thread raises :class:`UnsafeRDF`."""
    token = _NO_NETWORK.set(True)
    try:
        yield
    finally:
        _NO_NETWORK.reset(token)


# -------------------------------------------------------- query checking
def _walk(node: Any):
    if isinstance(node, CompValue):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item)


QUERY_STARTS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "PREFIX", "BASE")


def _short(exc: ParseException, text: str) -> str:
    """Where the parser stopped, and the query's own text from there: the parser's message names its grammar
    rules ("Expected SelectQuery"), which mean nothing to someone who wrote the query."""
    lines = text.splitlines() or [""]
    row = lines[min(max(exc.lineno, 1), len(lines)) - 1]
    rest = row[max(exc.col, 1) - 1:].strip()
    near = rest[:40] + ("…" if len(rest) > 40 else "")
    where = f"line {exc.lineno}, column {exc.col}"
    if not any(rest.upper().startswith(w) for w in QUERY_STARTS) and "Query" in str(exc.msg) and "|" in str(exc.msg):
        return (f"{where}: a query starts with SELECT, ASK or CONSTRUCT (after any PREFIX or BASE lines), "
                f"not \"{near}\"")
    if not near:
        return f"{where}: the query ends before it is complete (a bracket, brace or quote left open?)"
    return (f"{where}: the query cannot be read from \"{near}\" on (check the braces, the dots between "
            f"patterns, and that each pattern has a subject, a predicate and an object)")


def _semantic(e: Exception) -> str:
    """rdflib's words for a query that parses but cannot mean anything, said as what to change."""
    text = str(e)
    m = re.match(r"Unknown namespace prefix : (\S*)", text)
    if m:
        return f"the prefix {m.group(1)}: is not declared (add PREFIX {m.group(1)}: <...> before the query)"
    return text


def check_query(text: str) -> Query:
    """Parse and vet a query; the prepared query, or :class:`QueryRefused`."""
    if not text or not text.strip():
        raise QueryRefused("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,}")
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise QueryRefused(f"the query is nested {depth} levels deep; at most {MAX_NESTING} levels of {{ }}, ( ) or [ ]")
    try:
        parsed = parseQuery(text)
    except RecursionError:
        # the parser recurses per level of nesting and per pattern of a group: 90 flat patterns reach the limit
        raise QueryRefused(f"the query has more parts than the SPARQL parser can take: nested too deeply (at most "
                           f"about {MAX_NESTING} levels of {{ }} or ( )) or too many patterns in one group "
                           f"(about 80); split it") from None
    except ParseException as e:
        try:
            parseUpdate(text)
        except ParseException:
            raise QueryRefused(f"not a SPARQL query: {_short(e, text)}") from None
        raise QueryRefused("SPARQL updates (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP …) are refused: the knowledge graph is read-only here") from None
    try:
        query = translateQuery(parsed)
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None
    except Exception as e:  # rdflib raises plain Exceptions for semantic errors
        raise QueryRefused(f"not a valid SPARQL query: {_semantic(e)}") from None
    kind = query.algebra.name
    if kind not in QUERY_KINDS:
        raise QueryRefused(f"{kind.replace('Query', '').upper()} queries are refused: use SELECT, ASK or CONSTRUCT")
    for clause in query.algebra.get("datasetClause") or []:
        # rdflib's CompValue answers get() of a key it lacks with the key's name ("default"): read the keys set
        named = "named" in clause
        iri = clause["named"] if named else clause.get("default")
        if iri not in ALLOWED_GRAPHS:
            raise QueryRefused(f"FROM {'NAMED ' if named else ''}<{iri}> is refused: only <{ONTOLOGY_GRAPH}> and <{KB_GRAPH}> can be named")
    for node in _walk(query.algebra):
        if node.name == "ServiceGraphPattern":
            term = node["term"] if "term" in node else None
            shown = f"<{term}>" if isinstance(term, URIRef) else f"?{term}" if isinstance(term, Variable) else "…"
            raise QueryRefused(f"SERVICE {shown} is refused: queries run over the local knowledge graph only")
        if node.name == "Slice":
            for word, key in (("OFFSET", "start"), ("LIMIT", "length")):
                n = node[key] if key in node else None
                if isinstance(n, int) and n > sys.maxsize:
                    raise QueryRefused(f"{word} {n} is more rows than a query can count (at most {sys.maxsize:,})")
    body = parsed[1]
    if body.name == "ConstructQuery" and "template" not in body:
        # the short form (SPARQL 1.1 §16.2.4) failed inside rdflib and read "a function or operator failed on a
        # value" (an integrator's audit): said, with the long form that runs
        raise QueryRefused("CONSTRUCT WHERE { ... } (the short form) is not supported here: write the template out, "
                           "CONSTRUCT { ?s a ?o } WHERE { ?s a ?o }")
    for select in _selects(body):
        if "projection" not in select and ("groupby" in select or "having" in select):
            # rdflib answered it with no rows, in a subquery too (an integrator's audit, a regression hunt)
            raise QueryRefused("SELECT * cannot be used with GROUP BY or HAVING: select the grouped variables and "
                               "aggregates by name, as (COUNT(?x) AS ?n)")
    if body.name == "SelectQuery" and "projection" not in body:
        # SELECT *: the columns in the order the query first names its variables (rdflib returns them in no
        # set order: "o s p" for ?s ?p ?o, as an audit found); a name that is no result variable is dropped
        # later. A projection written out keeps its own order, which rdflib keeps ((STR(?y) AS ?z) ?y ?x came
        # out y, z, x: an integrator's audit)
        query.cptkg_variable_order = list(dict.fromkeys(m.group(1) for m in _VARIABLE.finditer(text)))
    elif body.name == "SelectQuery":
        named = [str(v["evar"] if "evar" in v else v["var"]) for v in body["projection"]]
        twice = sorted({n for n in named if named.count(n) > 1})
        if twice:  # SPARQL 1.1 18.2.1; rdflib answered two columns of the last value
            raise QueryRefused(f"?{twice[0]} is selected twice: a SELECT names each result variable once")
    return query


_VARIABLE = re.compile(r"[?$]([A-Za-z0-9_\u00B7\u00C0-\uFFFF]+)")


# ----------------------------------------------------------- evaluation
@dataclass
class QueryResult:
    kind: str  # select | ask | construct
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None
    truncated: bool = False


def query_dataset(graphs: Graphs | None = None, extra: list[Graph] = ()) -> Dataset:
    """Ontology and KB as named graphs; the default graph is their union (plus extra data).

    The faces pass the graphs the exports publish (``cptkg.exports._publish.published``: the SKOS and OWL
    declarations and stable blank-node labels every export writes), so that a query written with ``cptkg
    query`` answers as it does over an exported file in a triple store (``?c a skos:Concept`` found no code
    and 33 in the export; an integrator's audit).
    """
    graphs = graphs or load_graphs()
    ds = Dataset(default_union=True)
    ds.graph(ONTOLOGY_GRAPH).__iadd__(graphs.ontology)
    ds.graph(KB_GRAPH).__iadd__(graphs.kb)
    for g in extra:
        ds.default_graph.__iadd__(g)
    for prefix, ns in graphs.select("both").namespaces():
        ds.bind(prefix, ns, override=True)
    return ds


def evaluate(dataset: Dataset, query: Query, limit: int = DEFAULT_LIMIT) -> QueryResult:
    """Run a checked query in this process (no time limit: see :func:`run_query`)."""
    with no_network():
        return _evaluate(dataset, query, limit)


def _evaluate(dataset: Dataset, query: Query, limit: int) -> QueryResult:
    res = dataset.query(query)
    kind = QUERY_KINDS[query.algebra.name]
    if kind == "ask":
        return QueryResult("ask", boolean=bool(res.askAnswer))
    if kind == "construct":
        out = Graph()
        for prefix, ns in dataset.namespaces():
            out.bind(prefix, ns)
        truncated = False
        for n, triple in enumerate(res):
            if n >= limit:
                truncated = True
                break
            out.add(triple)
        return QueryResult("construct", graph=out, truncated=truncated)
    rows, truncated = [], False
    variables = list(res.vars or ())
    solutions = _solutions(res)
    if _grouped(query):
        # rdflib gives a GROUP BY over no solutions one empty group (SPARQL: no group, no row; a COUNT(*)
        # of it came out blank, not 0): an empty solution of a grouped query is skipped, as rdflib's own
        # iteration skips it (a group whose every selected value is unbound is then not shown either)
        solutions = (s for s in solutions if s)
    for n, solution in enumerate(solutions):
        if n >= limit:
            truncated = True
            break
        rows.append(tuple(lexical(solution.get(v)) for v in variables))
    names = [str(v) for v in variables]
    order = getattr(query, "cptkg_variable_order", None)
    if order:
        first = {n: i for i, n in enumerate(order)}
        ranked = sorted(range(len(names)), key=lambda i: (first.get(names[i], len(first)), i))
        names = [names[i] for i in ranked]
        rows = [tuple(row[i] for i in ranked) for row in rows]
    return QueryResult("select", variables=names, rows=rows, truncated=truncated)




def _selects(node):
    """The SELECT of the query and of each of its subqueries, as parsed (rdflib's CompValue tree)."""
    from rdflib.plugins.sparql.parserutils import CompValue

    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, CompValue):
            if x.name in ("SelectQuery", "SubSelect"):
                yield x
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)


def _grouped(query) -> bool:
    """Whether the query has a GROUP BY clause (an aggregate alone groups every solution into one, which
    rdflib gets right: COUNT(*) over nothing is one row of 0). CompValue's get() of a key it lacks answers
    the key's name, so the key is read only when set."""
    return any(node.name == "Group" and "expr" in node and node["expr"] is not None for node in _walk(query.algebra))


def _solutions(res):
    """Every solution of a SELECT, as rdflib's evaluation yields them, without reading them all first.

    rdflib's own iteration skips a solution that binds none of the projected variables (its source says
    "don't add a result row in case of empty binding"), but SPARQL 1.1 counts it: ``SELECT ?n WHERE
    { VALUES ?c { 1 2 } OPTIONAL { ?c :p ?n } }`` has two solutions with ``?n`` unbound, and
    ``SELECT * {}`` one empty solution. Those rows were silently dropped (an integrator's audit).
    """
    pending = getattr(res, "_genbindings", None)
    yield from (pending if pending is not None else res.bindings)


def _check_and_evaluate(dataset: Dataset, text: str, limit: int) -> QueryResult:
    return evaluate(dataset, check_query(text), limit)


def vet_query(text: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """:func:`check_query` within ``timeout`` seconds (in a forked child): a query is refused before the
    knowledge base is loaded, and its parse is bounded like its evaluation."""
    from cptkg.bounded import StepMemory, StepTimeout, run_bounded
    from cptkg.limits import CHILD_MEMORY_BYTES

    try:
        run_bounded(_vetted, (text,), timeout=timeout, memory=CHILD_MEMORY_BYTES)
    except StepTimeout:
        raise QueryTimeout(f"the query could not even be read within {timeout:g} s and was stopped") from None
    except StepMemory as e:
        raise QueryRefused(f"the query {e}") from None


def _vetted(text: str) -> None:
    check_query(text)


def run_query(text: str, dataset: Dataset | None = None, timeout: float = DEFAULT_TIMEOUT,
              limit: int = DEFAULT_LIMIT, memory: int | None = None) -> QueryResult:
    """Check and run a query with a time limit (seconds), a memory limit and a row limit.

    The query runs in a forked child (cptkg.bounded): past ``timeout`` it is
    killed, past ``memory`` bytes (default cptkg.limits.CHILD_MEMORY_BYTES)
    its allocations fail; either way a one-line error, never a hang or a
    machine out of memory.
    """
    from cptkg.bounded import StepMemory, StepTimeout, run_bounded
    from cptkg.limits import CHILD_MEMORY_BYTES

    dataset = dataset if dataset is not None else query_dataset()
    try:
        # parsed in the bounded child too: a query of 50,000 additions under the length limit took 94 s to
        # parse under --timeout 1 (an integrator's audit)
        return run_bounded(_check_and_evaluate, (dataset, text, limit), timeout=timeout,
                           memory=CHILD_MEMORY_BYTES if memory is None else memory)
    except StepTimeout:
        raise QueryTimeout(f"the query did not finish within {timeout:g} s and was stopped") from None
    except StepMemory as e:
        raise QueryRefused(f"the query {e}") from None
    except QueryRefused:
        raise
    except RecursionError:
        raise QueryRefused("the query is nested too deeply to evaluate") from None
    except Exception as e:  # reported as one line, in the query's words where the failure is known
        raise QueryRefused(f"the query could not be evaluated: {_failure_words(e)}") from None


def _failure_words(e: Exception) -> str:
    """Why a valid query failed while it ran, without Python's exception names where they are known."""
    import decimal

    if isinstance(e, UnicodeError):
        return "a string it builds holds a character that cannot be written (a lone surrogate such as \\uD800)"
    if isinstance(e, re.error):  # REGEX and REPLACE take their pattern from the query, as Python reads one
        return f"a regular expression in it cannot be read ({' '.join(str(e).split())[:200]})"
    if isinstance(e, (AttributeError, TypeError)):  # rdflib's SUM over IRIs: "'URIRef' object has no attribute"
        return ("a function or operator in it failed on a value it met, of a type it does not take (SUM or AVG "
                "over IRIs or text, YEAR of a value that is no date): filter such values out first, as "
                "FILTER(isNumeric(?x))")
    if isinstance(e, (decimal.InvalidOperation, OverflowError)):
        return "a number it computes is out of range (a value such as 1e400 in ROUND, or a division too large)"
    said = " ".join(str(e).split())[:200]
    return ("a function or operator in it failed on a value it met"
            + (f" (the query engine says: {said})" if said else ""))


# ------------------------------------------------------------ safe parse
def parse_rdf(data: bytes | str, format: str, base: str = "urn:cptkg:input/") -> Graph:
    """Parse RDF text without fetching or opening anything it names (see cptkg.rdf_safe)."""
    return _safe_parse(data, format, base)


# --------------------------------------------------------------- output
_FLOATS = {"http://www.w3.org/2001/XMLSchema#double", "http://www.w3.org/2001/XMLSchema#float"}
_SPECIAL = {"inf": "INF", "+inf": "INF", "-inf": "-INF", "nan": "NaN", "infinity": "INF", "-infinity": "-INF"}


def lexical(term):
    """A computed double or float in its XSD lexical form: rdflib writes an infinity Python's way (``inf``),
    which XSD does not read (``INF``, ``-INF``, ``NaN``; an integrator's audit). Applied where a result is
    made and again where it is written: a row sent back from the query's own process is rebuilt by rdflib,
    which writes ``inf`` again."""
    if isinstance(term, Literal) and term.datatype is not None and str(term.datatype) in _FLOATS:
        special = _SPECIAL.get(str(term).lower())
        if special is not None and str(term) != special:
            return Literal(special, datatype=term.datatype, normalize=False)  # rdflib would write it back as inf
    return term


def term_json(term) -> dict | None:
    """A term in the SPARQL 1.1 JSON results format."""
    if term is None:
        return None
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, Literal):
        out = {"type": "literal", "value": str(lexical(term))}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype:
            out["datatype"] = str(term.datatype)
        return out
    return {"type": "bnode", "value": str(term)}


def result_json(result: QueryResult) -> dict:
    if result.kind == "ask":
        return {"head": {}, "boolean": result.boolean}
    return {"head": {"vars": result.variables},
            "results": {"bindings": [
                {v: term_json(t) for v, t in zip(result.variables, row) if t is not None} for row in result.rows]}}
