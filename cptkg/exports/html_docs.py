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

        html = OntPub(ontology=ordered(published(data.graphs, declare=False).select(data.which))).make_html()
    except Exception as e:  # pyLODE raises bare Exceptions for graphs it cannot document
        raise ExportError(f"HTML documentation cannot be made: {str(e).splitlines()[0]}") from None
    return {"": html.encode("utf-8")}


EXPORTER = Exporter("html", "ontology documentation as static HTML (pyLODE)", "html", _render)
