"""``cptkg query``: read-only SPARQL over the ontology and the KB."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import click

from cptkg import spreadsheet
from cptkg.faces.options import TimeLimitSeconds, WholeNumber
from cptkg.knowledge import sparql

RDF_DATA_FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml", ".owl": "xml", ".xml": "xml",
                    ".jsonld": "json-ld", ".json": "json-ld", ".n3": "n3"}


def _fail(message: str) -> None:
    from cptkg.faces.cli import fail

    fail(message)


def _cell(term) -> str:
    """A term as a cell of SPARQL 1.1 CSV results: a blank node as ``_:label``, so that it is not read as
    a literal or an IRI of that name."""
    from rdflib import BNode

    if term is None:
        return ""
    return f"_:{term}" if isinstance(term, BNode) else str(sparql.lexical(term))


def _term_kind(term) -> tuple[str, str, str]:
    """(kind, datatype, language) of a term: ``iri``, ``blank`` or ``literal``; a literal's datatype IRI
    (``rdf:langString`` beside a language, ``xsd:string`` for a plain one, as RDF 1.1 reads it)."""
    from rdflib import BNode, Literal
    from rdflib.namespace import RDF, XSD

    if isinstance(term, BNode):
        return "blank", "", ""
    if isinstance(term, Literal):
        if term.language:
            return "literal", str(RDF.langString), term.language
        return "literal", str(term.datatype or XSD.string), ""
    return "iri", "", ""


def _short(term, ds) -> str:
    from rdflib import BNode

    if term is None or isinstance(term, BNode):
        return _cell(term)
    try:
        if hasattr(term, "n3") and not hasattr(term, "language"):
            return ds.namespace_manager.normalizeUri(term)
    except Exception:
        pass
    return str(sparql.lexical(term))


def render(result: sparql.QueryResult, fmt: str, ds=None) -> str:
    """The result as a text table, CSV (SPARQL CSV results) or SPARQL JSON results.

    Control characters in a value are escaped as every writer escapes them
    (cptkg.controls): JSON with JSON's escape, CSV and the table as the
    text report shows them; Turtle with its ``\\u`` escape."""
    from cptkg.controls import json_safe, shown, turtle_safe

    if result.kind == "ask":
        if fmt == "json":
            return json.dumps(sparql.result_json(result), indent=2)
        return "true" if result.boolean else "false"
    if result.kind == "construct":
        g = result.graph
        if fmt == "json":
            # nodes and values sorted, as the JSON-LD export sorts them: rdflib writes them in its sets' order,
            # which changed from run to run (an integrator's audit)
            from cptkg.exports.jsonld import sorted_jsonld

            doc = sorted_jsonld(json.loads(g.serialize(format="json-ld", indent=2)))
            return json_safe(json.dumps(doc, indent=2, ensure_ascii=False))
        if fmt == "csv":
            buf = io.StringIO()
            w = spreadsheet.writer(buf, lineterminator="\n")
            # the object's kind, datatype and language after the three terms: an IRI and a literal of the same
            # text, or a date and a string, were one cell each (an integrator's audit); Turtle and JSON-LD keep them
            w.writerow(["subject", "predicate", "object", "object_kind", "object_datatype", "object_language"])
            for s, p, o in sorted(g):
                w.writerow([_cell(s), _cell(p), _cell(o), *_term_kind(o)])
            return buf.getvalue().rstrip("\n")
        return turtle_safe(g.serialize(format="turtle").rstrip("\n"))
    if fmt == "json":
        return json_safe(json.dumps(sparql.result_json(result), indent=2, ensure_ascii=False))
    if fmt == "csv":
        # SPARQL 1.1 Query Results CSV: RFC 4180 records, each line ended by CRLF (the last one too)
        buf = io.StringIO()
        w = spreadsheet.writer(buf, lineterminator="\r\n")
        w.writerow(result.variables)
        for row in result.rows:
            w.writerow([_cell(t) for t in row])
        return buf.getvalue()
    cells = [[shown(_short(t, ds) if ds is not None else _cell(t)) for t in row] for row in result.rows]
    widths = [max([len(v)] + [min(len(r[i]), 60) for r in cells]) for i, v in enumerate(result.variables)]
    fmt_row = lambda r: "  ".join((c if len(c) <= 60 else c[:57] + "...").ljust(w) for c, w in zip(r, widths)).rstrip()
    lines = [fmt_row(result.variables), fmt_row(["-" * w for w in widths])]
    lines += [fmt_row(r) for r in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines)


@click.command("query")
@click.argument("query_text", required=False, metavar="QUERY")
@click.option("--file", "query_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the query from a file ('-' for standard input) instead of the QUERY argument.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="Output: a text table, CSV, or SPARQL 1.1 JSON results (CONSTRUCT: Turtle, CSV triples, JSON-LD).")
@click.option("--data", "data_files", multiple=True, type=click.Path(path_type=str), metavar="FILE",
              help="Extra RDF to query with the KB (.ttl .nt .rdf .jsonld); parsed without fetching anything it names.")
@click.option("--timeout", type=TimeLimitSeconds(0.1, 600), default=sparql.DEFAULT_TIMEOUT, show_default=True,
              help="Stop the query after this many seconds (0.1 to 600).")
@click.option("--limit", type=WholeNumber(1, 1_000_000), default=sparql.DEFAULT_LIMIT, show_default=True,
              help="Return at most this many rows (triples for CONSTRUCT).")
def command(query_text, query_file, fmt, data_files, timeout, limit):
    """Run a read-only SPARQL SELECT, ASK or CONSTRUCT over the ontology and the KB.

    The default graph is the union of the ontology and the KB; they are also
    the named graphs <https://w3id.org/cptkg/graph/ontology> and
    <https://w3id.org/cptkg/graph/kb>. Updates, SERVICE, DESCRIBE and FROM of
    any other graph are refused. Exit 0 with results, 2 when the query is
    refused, malformed, too slow or too large, or cannot be evaluated (a LIMIT past any count, a
    number out of range), each said in one line.
    """
    if (query_text is None) == (query_file is None):
        _fail("give the query either as the QUERY argument or with --file")
    from cptkg import limits
    from cptkg.faces.cli import out, read_input

    if query_file is not None:
        data = read_input(str(query_file), limits.MAX_QUERY_FILE_BYTES, what="a query file", hint="")
        try:
            query_text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            _fail(f"{'standard input' if str(query_file) == '-' else query_file}: is not UTF-8 text "
                  f"(byte {e.start + 1:,})")
    try:
        sparql.vet_query(query_text, timeout=timeout)
    except (sparql.QueryRefused, sparql.QueryTimeout) as e:
        _fail(str(e))
    extra = []
    for given in data_files:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", given):
            # a URL was read as a path, "http:/host/d.ttl: no such file" (an integrator's audit)
            _fail(f"{given}: --data takes a local file; cptkg fetches nothing from the network (download the file "
                  f"and give its path)")
        path = Path(given)
        fmt_name = RDF_DATA_FORMATS.get(path.suffix.lower())
        if fmt_name is None:
            _fail(f"{path}: unknown RDF file type {path.suffix!r} (known: {', '.join(sorted(RDF_DATA_FORMATS))})")
        raw = read_input(str(path), limits.MAX_RDF_BYTES, what="an RDF file (--data)", hint="")
        try:
            extra.append(sparql.parse_rdf(raw, fmt_name, base=path.resolve().as_uri()))
        except (sparql.UnsafeRDF, UnicodeDecodeError) as e:
            _fail(f"{path}: {e}")
    try:
        from cptkg.faces.cli import get_session
        from cptkg.knowledge.datasets import load_graphs

        from cptkg.exports._publish import published

        # the graphs the exports publish: a query answers here as over an exported file
        ds = sparql.query_dataset(published(load_graphs(get_session().kb)), extra=extra)
    except Exception as e:
        if type(e).__name__ == "KBLoadError":
            from cptkg.faces.cli import fail

            fail(f"knowledge base cannot be used: {e}", listing=True)
        raise
    try:
        result = sparql.run_query(query_text, ds, timeout=timeout, limit=limit)
    except (sparql.QueryRefused, sparql.QueryTimeout) as e:
        _fail(str(e))
    text = render(result, fmt, ds)  # render escaped every value
    # SELECT's CSV ends each line with CRLF itself (SPARQL CSV results): written as bytes, as it is, with no
    # line break added after it and no newline translation
    select_csv = fmt == "csv" and result.kind == "select"
    out(text.encode("utf-8") if select_csv else text, raw=True)
    if result.truncated:
        click.echo(f"cptkg: results cut at --limit {limit}", err=True)
