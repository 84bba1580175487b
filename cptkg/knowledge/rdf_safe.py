"""Parse untrusted RDF without letting it reach the network or the disk.

rdflib is built to follow links: a JSON-LD ``@context`` given as a URL (or
an ``@import`` inside one) is fetched while parsing, and rdflib's own
security notes (docs/security_considerations) recommend Python audit hooks
or a locked-down URL opener for untrusted input. RDF text pasted by a user
or uploaded in the app is such input, so :func:`parse_rdf`

1. refuses JSON-LD whose ``@context`` (anywhere in the document) is, or
   contains, a reference rather than an inline object, or uses ``@import``:
   nothing to fetch, and a one-line error that says why;
2. hands rdflib the text itself (never a path or URL), with a fixed base IRI;
3. runs the parse under an audit-hook guard that refuses every network
   request, socket connection and file open made on this thread while the
   parse runs — the backstop for anything 1 and 2 did not foresee (RDF/XML
   external entities, a future rdflib feature).

``owl:imports`` and ``@prefix``/``@base`` IRIs are data to rdflib's
parsers, never fetched; the tests prove it with a local HTTP server that
must see no request.
"""
from __future__ import annotations

import contextlib
import json
import re
import sys
import threading

from rdflib import Graph

#: accepted format names -> rdflib parser name (one registry; aliases welcome)
FORMATS = {
    "turtle": "turtle", "ttl": "turtle",
    "nt": "nt", "ntriples": "nt", "n-triples": "nt",
    "json-ld": "json-ld", "jsonld": "json-ld",
    "xml": "xml", "rdf/xml": "xml", "rdfxml": "xml",
}
DEFAULT_BASE = "urn:cptkg:untrusted:"
#: audit events that reach outside the process or the parsed text
_BLOCKED_EVENTS = {
    "urllib.Request", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
    "http.client.connect", "open", "os.listdir", "os.scandir", "subprocess.Popen", "os.system",
}


class RdfInputError(ValueError):
    """Untrusted RDF that cannot be, or may not be, parsed; one line."""


class _Guard(threading.local):
    active = False


_guard = _Guard()
_hook_installed = False
_hook_lock = threading.Lock()


def _audit(event: str, args) -> None:
    if _guard.active and event in _BLOCKED_EVENTS:
        what = args[0] if args else ""
        raise PermissionError(f"blocked {event} while parsing untrusted RDF: {what!r}")


def _install_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # process-wide and permanent; inert outside the guard
            _hook_installed = True


@contextlib.contextmanager
def no_outside_access():
    """Refuse network and file access on this thread for the duration."""
    _install_hook()
    previous, _guard.active = _guard.active, True
    try:
        yield
    finally:
        _guard.active = previous


def _check_jsonld_contexts(node, path: str = "$") -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                _check_context(value, f"{path}.@context")
            else:
                _check_jsonld_contexts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_jsonld_contexts(item, f"{path}[{i}]")


def _check_context(ctx, path: str) -> None:
    items = ctx if isinstance(ctx, list) else [ctx]
    for i, item in enumerate(items):
        where = f"{path}[{i}]" if isinstance(ctx, list) else path
        if isinstance(item, str):
            raise RdfInputError(f"JSON-LD {where}: remote context {item[:80]!r} is not loaded; "
                                "inline the context object instead")
        if isinstance(item, dict):
            if "@import" in item:
                raise RdfInputError(f"JSON-LD {where}.@import: remote context imports are not loaded")
            for key, value in item.items():  # scoped contexts inside term definitions
                if isinstance(value, dict) and "@context" in value:
                    _check_context(value["@context"], f"{where}.{key}.@context")


def _warm_up() -> None:
    """Import rdflib's parser plugins before any guard is active: a plugin's
    first use imports modules, and the guard would refuse those file opens."""
    samples = {"turtle": "<urn:a> <urn:b> <urn:c> .", "nt": "<urn:a> <urn:b> <urn:c> .",
               "json-ld": '{"@id": "urn:a", "urn:b": "c"}',
               "xml": ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                       '<rdf:Description rdf:about="urn:a"/></rdf:RDF>')}
    for fmt, text in samples.items():
        Graph().parse(data=text, format=fmt, publicID=DEFAULT_BASE)


_warmed = False


def syntax_words(e: BaseException) -> str:
    """An RDF parser's error in one line: rdflib's Turtle/N3 syntax error as "line 253: objectList expected"
    (its text quotes the whole document as a Python bytes literal), any other as its first line."""
    if isinstance(e, UnicodeDecodeError):  # a byte that is no UTF-8: its line, not the codec's position
        from cptkg.files import unreadable_words

        return unreadable_words(e)
    why, line = getattr(e, "_why", None), getattr(e, "lines", None)
    if isinstance(why, str) and isinstance(line, int):
        return f"line {line + 1}: {why}"  # rdflib counts the lines before the error (its own text adds 1)
    return (" ".join((str(e).splitlines() or [type(e).__name__])[0].split()) or type(e).__name__)[:200]


#: an external entity declaration of an XML document's DTD (general or parameter)
_EXTERNAL_ENTITY = re.compile(r"<!ENTITY\s+(?:%\s+)?[^\s>]+\s+(?:SYSTEM|PUBLIC)\b")


def parse_rdf(data: str | bytes, format: str, base: str = DEFAULT_BASE, timeout: float | None = None,
              max_bytes: int | None = None) -> Graph:
    """Parse RDF text from an untrusted source into a new Graph.

    Raises :class:`RdfInputError` (one line) for unknown formats, syntax
    errors, remote JSON-LD contexts, any attempt to read a URL or file, input
    over ``max_bytes`` (default cptkg.limits.MAX_RDF_BYTES), and a
    parse that takes longer than ``timeout`` seconds (default
    RDF_PARSE_SECONDS) or more memory than CHILD_MEMORY_BYTES: the parse runs
    in a forked child (cptkg.bounded), so a billion-laughs RDF/XML or a
    megabyte-long literal cannot hang the caller. ``timeout=0`` parses in
    this process (trusted callers, tests of the guard itself).
    """
    from cptkg.limits import MAX_RDF_BYTES, RDF_PARSE_SECONDS

    limit = MAX_RDF_BYTES if max_bytes is None else max_bytes
    size = len(data.encode("utf-8") if isinstance(data, str) else data) if isinstance(data, (str, bytes)) else 0
    if size > limit:
        raise RdfInputError(f"RDF input of {size:,} bytes is over the limit of {limit:,} bytes")
    timeout = RDF_PARSE_SECONDS if timeout is None else timeout
    if not timeout:
        return _parse_here(data, format, base)
    from cptkg.bounded import StepMemory, StepTimeout, run_bounded

    global _warmed
    if not _warmed:  # in the parent, so every child starts warm
        _warm_up()
        _warmed = True
    try:
        triples, namespaces = run_bounded(_parse_for_parent, (data, format, base), timeout=timeout)
    except StepTimeout:
        raise RdfInputError(f"{format}: parsing did not finish within {timeout:g} s and was stopped "
                            f"(entity expansion or a very long literal?)") from None
    except StepMemory as e:
        raise RdfInputError(f"{format}: parsing {e}") from None
    g = Graph()
    for prefix, ns in namespaces:
        g.bind(prefix, ns, override=True)
    for t in triples:
        g.add(t)
    return g


def _parse_for_parent(data, format, base):
    g = _parse_here(data, format, base)
    return list(g), list(g.namespaces())


def _parse_here(data: str | bytes, format: str, base: str = DEFAULT_BASE) -> Graph:
    global _warmed
    fmt = FORMATS.get(str(format).lower())
    if fmt is None:
        raise RdfInputError(f"unknown RDF format {format!r}; use one of: {', '.join(sorted(set(FORMATS.values())))}")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RdfInputError(f"RDF input is not UTF-8 text (byte {e.start})") from None
    if not isinstance(data, str):
        raise RdfInputError(f"RDF input must be text, not {type(data).__name__}")
    if not _warmed:
        _warm_up()
        _warmed = True
    payload: object = data
    if fmt in ("xml", "trix") and _EXTERNAL_ENTITY.search(data):
        # the XML parser leaves an external entity unread (no file or URL is opened), so its value became an
        # empty string without a word (a security audit): refused, naming it; an internal entity (an OWL
        # file's <!ENTITY owl "http://...">) is text in the file and is read
        raise RdfInputError("RDF/XML declares an external XML entity (<!ENTITY name SYSTEM/PUBLIC ...>), a file "
                            "or URL that is not read: write the value out in the file")
    if fmt == "json-ld":
        try:
            payload = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise RdfInputError(f"JSON-LD is not valid JSON: {str(e).splitlines()[0][:120]}") from None
        _check_jsonld_contexts(payload)
        data = json.dumps(payload)
    g = Graph()
    try:
        with no_outside_access():
            g.parse(data=data, format=fmt, publicID=base)
    except RdfInputError:
        raise
    except PermissionError as e:
        raise RdfInputError(f"{fmt}: refused: {e}") from None
    except RecursionError:
        raise RdfInputError(f"{fmt}: input nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - parser errors of every plugin, reported in one line
        cause = e
        while cause.__cause__ is not None or cause.__context__ is not None:
            nxt = cause.__cause__ or cause.__context__
            if isinstance(nxt, PermissionError):
                raise RdfInputError(f"{fmt}: refused: {nxt}") from None
            cause = nxt
        raise RdfInputError(f"{fmt}: cannot parse: {syntax_words(e)}") from None
    return g
