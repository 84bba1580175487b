"""Human documentation of the ontology as one static HTML page (pyLODE).

Generated on demand and never committed. pyLODE documents the classes and
properties of the graph it is given, so ``--graph ontology`` is the usual
choice; with the KB included, code individuals are listed as well. The page
is made from the graphs as authored (without the SKOS schemes the other
exports declare: pyLODE would title the page after one of them), in sorted order.
"""
from __future__ import annotations

import logging

from cptkg.exports import ExportError, ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    if data.which == "kb":  # pyLODE documents an ontology; the KB graph alone has none (it said so in its words)
        raise ExportError("html documents the ontology: use --graph ontology or --graph both")
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        from pylode import OntPub
    except ImportError:
        raise ExportError("HTML documentation needs pyLODE (pip install pylode)") from None
    finally:  # pyLODE configures the root logger at import; keep ours as it was
        root.setLevel(level)
        root.handlers[:] = handlers
    try:
        from cptkg.exports._publish import ordered, published

        html = _SafePub(OntPub)(ontology=ordered(published(data.graphs, declare=False).select(data.which))).make_html()
    except Exception as e:  # pyLODE raises bare Exceptions for graphs it cannot document
        raise ExportError(f"HTML documentation cannot be made: {str(e).splitlines()[0]}") from None
    return {"": _sanitised(html).encode("utf-8")}


#: what pyLODE's page body and the Markdown of its descriptions are made of; anything else is taken out
_TAGS = {"a", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
         "li", "ol", "p", "pre", "span", "strong", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"}
_ATTRIBUTES = {"*": {"id", "class", "title"}, "a": {"href"}}


def _sanitised(html: str) -> str:
    """pyLODE's page with its body sanitised (ammonia, through nh3): a pack's ``rdfs:comment`` went through
    pyLODE's Markdown with its raw HTML, and ``<script>`` or ``<img onerror>`` in it reached the page a team
    publishes (an integrator's audit). Links keep http(s) and mailto only (no ``javascript:``). The head is
    pyLODE's own (its CSS, icons, the page title it escapes) and its JSON-LD, escaped by :func:`_SafePub`."""
    import nh3

    cut = html.find("<body>")
    end = html.rfind("</body>")
    if cut < 0 or end < cut:
        raise ExportError("HTML documentation cannot be made: the page pyLODE made has no body")
    body = nh3.clean(html[cut + len("<body>"):end], tags=_TAGS, attributes=_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel=None)
    return html[:cut] + "<body>" + body + html[end:]


def _SafePub(base):
    """pyLODE's OntPub writing its schema.org JSON-LD with every ``<`` escaped (``\\u003c``, the same JSON):
    a description holding ``</script>`` would otherwise end the script element in the page's head."""
    from rdflib import Graph

    class _Escaped(Graph):
        def serialize(self, *args, **kwargs):
            out = super().serialize(*args, **kwargs)
            return out.replace("<", "\\u003c") if isinstance(out, str) else out

    class SafePub(base):
        def _make_schema_org(self):
            made = super()._make_schema_org()
            escaped = _Escaped()
            for t in sorted(made):  # in order: the page is the same file at every run
                escaped.add(t)
            for prefix, ns in made.namespaces():
                escaped.bind(prefix, ns, override=True)
            return escaped

    return SafePub


EXPORTER = Exporter("html", "ontology documentation as static HTML (pyLODE)", "html", _render)
