"""Human documentation of the ontology as one static HTML page (pyLODE).

Generated on demand and never committed. pyLODE documents the classes and
properties of the graph it is given, so ``--graph ontology`` is the usual
choice; with the KB included, code individuals are listed as well.
"""
from __future__ import annotations

from cptkg.exporters import ExportError, ExportInput, Exporter


def _render(data: ExportInput) -> dict[str, bytes]:
    try:
        from pylode import OntPub
    except ImportError:  # an optional extra: say how to get it
        raise ExportError("HTML documentation needs pyLODE: pip install 'cptkg[export]'") from None
    html = OntPub(ontology=data.graph).make_html()
    return {"": html.encode("utf-8")}


EXPORTERS = [Exporter("html", "ontology documentation as static HTML (pyLODE)", "html", _render)]
