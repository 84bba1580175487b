"""User text never becomes code, never fetches, never writes.

Claims, rule files, SPARQL queries and RDF documents are the user's. Each
test plants a payload that *would* leave a trace if it were executed (a file
created, a request seen by a local HTTP server) and proves the trace is
absent; the check run itself happens with ``eval``/``exec`` and pyDatalog's
text entry points (``load``, ``ask``) replaced by tripwires.
"""
from __future__ import annotations

import builtins
import http.server
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.knowledge.rdf_safe import RdfInputError, parse_rdf
from cptkg.rules.parser import RuleSyntaxError, parse_text
from cptkg.rules.program import RuleLoadError, build_program
from cptkg.engines.pydatalog import evaluate
from cptkg.knowledge.sparql import QueryRefused, check_query


def payloads(marker: Path) -> list[str]:
    """Strings that create ``marker`` if any layer evaluates them as code."""
    m = str(marker)
    return [
        f"__import__('pathlib').Path({m!r}).touch()",
        f"'); __import__('pathlib').Path({m!r}).touch(); ('",
        f"\"); __import__('os').system('touch {m}'); (\"",
        f"X) <= __import__('os').system('touch {m}')",
        f"{{0.__class__.__base__.__subclasses__}} {{__import__('os').system('touch {m}')}}",
        f"${{__import__('os').system('touch {m}')}}",
        f"`touch {m}`",
        f"$(touch {m})",
        f"' ; import os; os.system('touch {m}') #",
    ]


MARKER_NAME = "pwned-by-user-text"


class Tripwire(AssertionError):
    pass


@pytest.fixture
def tripwires(monkeypatch):
    """eval/exec raise when handed user text; pyDatalog's text loaders raise always."""
    calls: list[str] = []

    def trip(name, original=None):
        def f(*a, **k):
            # Libraries call exec/eval on their own fixed text (the import
            # system on module code, namedtuple and dataclasses on templates);
            # a breach is *user* text, and every payload names the marker.
            if original is not None and not (a and MARKER_NAME in str(a[0])):
                return original(*a, **k)
            calls.append(name)
            raise Tripwire(f"{name} called with {str(a)[:200]}")
        return f

    import pyDatalog.pyDatalog as pd

    import cptkg.judge.check, cptkg.claims.models, cptkg.io.writers.text  # noqa: E401,F401 - imported before the tripwires
    monkeypatch.setattr(builtins, "eval", trip("eval", builtins.eval))
    monkeypatch.setattr(builtins, "exec", trip("exec", builtins.exec))
    for name in ("load", "ask"):
        monkeypatch.setattr(pd, name, trip(f"pyDatalog.{name}"))
    return calls


def claim_with(text: str, n: int = 0) -> dict:
    return {
        "claim_id": f"C-{n}-" + text[:150], "patient_id": text[:200],
        "lines": [{"line": 1, "code": "62367", "date_of_service": "2025-03-04",
                   "provider_id": text[:200], "provider_role": "physician", "modifiers": ["59"]},
                  {"line": 2, "code": text[:20], "date_of_service": "2025-03-04",
                   "provider_id": "NPI-1", "provider_role": "physician"}],
        "history": [{"code": "62362", "date_of_service": "2024-01-01", "provider_id": text[:200]}],
    }


def test_crafted_claim_strings_are_judged_as_data_and_run_no_code(tmp_path, tripwires):
    marker = tmp_path / MARKER_NAME
    claims = [claim_with(p, i) for i, p in enumerate(payloads(marker))]
    # a history code that is not written as a code is refused before any rule (its claims are errors)
    claims += [dict(claim_with(p, 100 + i), history=[{"code": p[:20], "date_of_service": "2024-01-01"}])
               for i, p in enumerate(payloads(marker))]
    r = CliRunner().invoke(main, ["check", "-", "--json"], input=json.dumps(claims))
    assert r.exit_code in (0, 1, 2), r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    out = json.loads(r.stdout)
    assert len(out) == len(claims)
    # the crafted code on line 2 is data: an unknown code, so a rejected line
    judged = [c for c in out if c["status"] != "error"]
    assert judged, "no crafted claim reached the rules"
    for c in judged:
        assert c["lines"][1]["status"] == "rejected"
    assert all(c["status"] == "error" and "history entry 1, field code" in c["error"] for c in out[len(claims) // 2:])
    assert not marker.exists()
    assert tripwires == []


def test_crafted_claim_strings_reach_the_engine_only_as_values(tmp_path, tripwires, kb):
    """Straight at the engine: payloads as fact values come back verbatim."""
    marker = tmp_path / MARKER_NAME
    prog = build_program(parse_text("echo(X) :- said(X)."), {"said": 1})
    values = {(p,) for p in payloads(marker)}
    model = evaluate(prog, {"said": values}, timeout=30)
    assert model.facts["echo"] == values
    assert not marker.exists()
    assert tripwires == []


@pytest.mark.parametrize("rule_text", [
    "p(X) :- q(X), __import__('os').system('touch {m}').",
    "p(X) :- q(X), X = \"{m}\"); __import__('os').system('touch {m}'\".",
    "p(X) <= q(X) & __import__('os').system('touch {m}')",
    "% id: x\n% message: {{__import__('os').system('touch {m}')}}\np(X) :- q(X).",
    "exec(\"import os; os.system('touch {m}')\").",
    "p(\"{m}\") :- q(\"';import os;os.system('touch {m}');'\").",
])
def test_crafted_rule_files_are_refused_or_kept_as_data(tmp_path, tripwires, rule_text):
    marker = tmp_path / MARKER_NAME
    text = rule_text.format(m=marker)
    try:
        clauses = parse_text(text, "crafted.dl")
        prog = build_program(clauses, {"q": 1})
        evaluate(prog, {"q": {("a",), (str(marker),)}}, timeout=30)
    except (RuleSyntaxError, RuleLoadError):
        pass  # refused with a file:line message: fine
    assert not marker.exists()
    assert tripwires == []


def test_a_rule_message_template_is_not_evaluated(tmp_path, tripwires):
    marker = tmp_path / MARKER_NAME
    text = (f"% id: t\n% message: {{X.__class__.__init__.__globals__}} {marker}\n"
            "p(X) :- q(X).")
    with pytest.raises(RuleLoadError, match="not a variable of the rule"):
        build_program(parse_text(text), {"q": 1})
    assert tripwires == []


# ---------------------------------------------------------------- SPARQL
def _guards():
    return [("sparql", check_query, QueryRefused)]


REFUSED_QUERIES = [
    "LOAD <http://127.0.0.1:9/evil.ttl>",
    "LOAD <file:///etc/passwd> INTO GRAPH <urn:x>",
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "CLEAR ALL", "DROP GRAPH <urn:x>", "CREATE GRAPH <urn:x>", "COPY DEFAULT TO <urn:x>",
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { ?s ?p ?o . optional { service <http://127.0.0.1:9/> { ?s ?q ?r } } }",
    "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } } } }",
    "ASK { FILTER EXISTS { SERVICE <http://127.0.0.1:9/> { ?a ?b ?c } } }",
    "SELECT * WHERE { ?s ?p ?o MINUS { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } } }",
    "SELECT * FROM <http://127.0.0.1:9/evil.ttl> WHERE { ?s ?p ?o }",
    "SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o } ; DROP ALL",
    "",
]


@pytest.mark.parametrize("name,guard,refused", _guards())
@pytest.mark.parametrize("query", REFUSED_QUERIES)
def test_sparql_updates_service_load_and_remote_from_are_refused(name, guard, refused, query):
    with pytest.raises(refused):
        guard(query)


@pytest.mark.parametrize("name,guard,refused", _guards())
@pytest.mark.parametrize("query", [
    "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1",
    'SELECT ?s WHERE { ?s ?p "SERVICE <http://127.0.0.1:9/> LOAD INSERT" }',
    "# SERVICE <http://x/> in a comment\nASK { ?s ?p ?o }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
])
def test_read_only_local_queries_pass_the_guard(name, guard, refused, query):
    guard(query)  # no exception: a word in a string or comment is not a clause


# ---------------------------------------------------------------- RDF
class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(self.path)
        body = json.dumps({"@context": {"ex": "http://example.org/"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    _Recorder.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", _Recorder.seen
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_local_server_does_record_a_fetch(local_server):
    """The witness works: rdflib left alone does fetch a remote @context."""
    from rdflib import Graph

    url, seen = local_server
    doc = json.dumps({"@context": f"{url}/ctx.jsonld", "@id": "ex:a", "ex:p": "v"})
    Graph().parse(data=doc, format="json-ld")
    assert seen == ["/ctx.jsonld"]


def _parsers():
    return [("rdf_safe", parse_rdf, RdfInputError)]


def _remote_documents(url: str, secret: Path) -> list[tuple[str, str]]:
    return [
        ("json-ld", json.dumps({"@context": f"{url}/ctx.jsonld", "@id": "urn:a", "ex:p": "v"})),
        ("json-ld", json.dumps({"@context": [f"{url}/a.jsonld", {"ex": "http://example.org/"}],
                                "@id": "urn:a"})),
        ("json-ld", json.dumps({"@context": {"@import": f"{url}/imp.jsonld"}, "@id": "urn:a"})),
        ("json-ld", json.dumps({"@context": {"ex": "http://example.org/"},
                                "@graph": [{"@context": f"{url}/nested.jsonld", "@id": "urn:b"}]})),
        ("json-ld", json.dumps({"@context": {"t": {"@id": "urn:t", "@context": f"{url}/scoped.jsonld"}},
                                "@id": "urn:a", "t": {"@id": "urn:b"}})),
        ("json-ld", json.dumps({"@context": f"file://{secret}", "@id": "urn:a"})),
    ]


@pytest.mark.parametrize("name,parse,error", _parsers())
def test_rdf_parsing_fetches_no_remote_or_file_context(name, parse, error, local_server, tmp_path):
    url, seen = local_server
    secret = tmp_path / "secret.jsonld"
    secret.write_text(json.dumps({"@context": {"ex": "http://example.org/"}}))
    for fmt, doc in _remote_documents(url, secret):
        try:
            parse(doc, fmt)
        except error:
            pass  # refused, one line: fine
    assert seen == []


@pytest.mark.parametrize("name,parse,error", _parsers())
def test_owl_imports_and_base_iris_are_data_not_fetched(name, parse, error, local_server):
    url, seen = local_server
    ttl = (f"@base <{url}/base/> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
           f"<{url}/onto> a owl:Ontology ; owl:imports <{url}/imported.ttl> .\n<x> <y> <z> .")
    g = parse(ttl, "turtle")
    assert len(g) == 3
    rdfxml = (f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY ext SYSTEM "{url}/entity.xml">]>\n'
              '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
              'xmlns:owl="http://www.w3.org/2002/07/owl#">'
              f'<owl:Ontology rdf:about="urn:o"><owl:imports rdf:resource="{url}/i.owl"/></owl:Ontology>'
              '<rdf:Description rdf:about="urn:a"><rdf:value>&ext;</rdf:value></rdf:Description></rdf:RDF>')
    try:
        parse(rdfxml, "xml")
    except error:
        pass
    assert seen == []


def test_rdf_xml_external_file_entity_is_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY ext SYSTEM "file://{secret}">]>\n'
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="urn:a"><rdf:value>&ext;</rdf:value></rdf:Description></rdf:RDF>')
    try:
        g = parse_rdf(doc, "xml")
    except RdfInputError:
        return
    assert "TOP-SECRET" not in " ".join(str(o) for o in g.objects())


def test_remote_jsonld_context_is_refused_with_one_line(local_server):
    url, _ = local_server
    with pytest.raises(RdfInputError) as e:
        parse_rdf(json.dumps({"@context": f"{url}/ctx.jsonld", "@id": "urn:a"}), "json-ld")
    assert "\n" not in str(e.value) and "remote context" in str(e.value)


def test_inline_jsonld_context_still_parses():
    g = parse_rdf(json.dumps({"@context": {"ex": "http://example.org/"}, "@id": "ex:a", "ex:p": "v"}), "json-ld")
    assert len(g) == 1


def test_the_guard_blocks_requests_while_parsing_and_only_then(local_server):
    """The audit-hook backstop refuses a request made during a parse, on
    that thread only, and leaves the process's networking alone otherwise."""
    import urllib.request

    from cptkg.knowledge.rdf_safe import no_outside_access

    url, seen = local_server
    with no_outside_access():
        with pytest.raises(PermissionError):
            urllib.request.urlopen(f"{url}/during-parse")
    urllib.request.urlopen(f"{url}/after").read()
    assert seen == ["/after"]


def test_the_guard_also_refuses_file_reads_during_a_parse(tmp_path):
    from cptkg.knowledge.rdf_safe import no_outside_access

    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    with no_outside_access():
        with pytest.raises(PermissionError):
            open(secret).read()
    assert open(secret).read() == "x"


@pytest.mark.parametrize("fmt,doc", [
    ("turtle", "<urn:a> <urn:b> \"c\" ."), ("nt", "<urn:a> <urn:b> <urn:c> .\n"),
    ("json-ld", json.dumps({"@context": {"ex": "http://example.org/"}, "@id": "ex:a", "ex:p": "v"})),
    ("xml", '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="urn:a"><rdf:value>v</rdf:value></rdf:Description></rdf:RDF>'),
])
def test_safe_parsing_still_reads_ordinary_rdf(fmt, doc):
    assert len(parse_rdf(doc, fmt)) == 1


@pytest.mark.parametrize("fmt,doc", [("turtle", "<urn:a> <urn:b> ."), ("json-ld", "{"), ("trix", "<x/>"),
                                     ("xml", "<rdf:RDF")])
def test_bad_rdf_is_one_line_error(fmt, doc):
    with pytest.raises(RdfInputError) as e:
        parse_rdf(doc, fmt)
    assert "\n" not in str(e.value)
