"""Export page: the ontology and the KB as Turtle and JSON-LD (and every other
format ``cptkg.exporters`` registers, when the checkout has it)."""
from __future__ import annotations

import streamlit as st

from .common import kb_or_stop

try:  # the exporters of the export work, when merged
    from .. import exporters as _exporters
except ImportError:  # pragma: no cover - depends on the checkout
    _exporters = None

PARTS = {"both": "ontology + KB", "ontology": "ontology only", "kb": "KB only"}
BUILTIN = {"turtle": ("Turtle", "ttl", "text/turtle"), "json-ld": ("JSON-LD", "jsonld", "application/ld+json")}


def builtin_export(kb, fmt: str, which: str = "both") -> bytes:
    """Serialize with rdflib (prefixes bound as in the KB)."""
    graph = {"both": kb.graph, "ontology": kb.ontology_graph, "kb": kb.kb_graph}[which]
    if graph is not kb.graph:
        for prefix, ns in kb.graph.namespaces():
            graph.bind(prefix, ns, override=False)
    if fmt == "json-ld":
        ctx = {p: str(ns) for p, ns in kb.graph.namespaces() if p in ("ont", "kb", "src", "skos", "owl", "rdfs", "dct")}
        return graph.serialize(format="json-ld", context=ctx, indent=1).encode("utf-8")
    return graph.serialize(format=fmt).encode("utf-8")


def formats() -> dict[str, tuple[str, str, str]]:
    """name -> (title, file extension, mime type)."""
    if _exporters is None:
        return dict(BUILTIN)
    out = {}
    for name, ex in sorted(_exporters.formats().items()):
        out[name] = (f"{name} — {ex.description}", ex.extension.lstrip("."), "application/octet-stream")
    return out


def export_files(kb, fmt: str, which: str = "both") -> dict[str, bytes]:
    """{file name: bytes} for one format."""
    if _exporters is None:
        title, ext, _ = BUILTIN[fmt]
        return {f"cptkg-{which}.{ext}": builtin_export(kb, fmt, which)}
    ex = _exporters.get(fmt)
    files = _exporters.export(fmt, which)
    ext = ex.extension.lstrip(".")
    return {(f"cptkg-{which}{'-' + suffix if suffix else ''}.{ext}" if not suffix or "." not in suffix
             else f"cptkg-{which}-{suffix}"): data for suffix, data in files.items()}


def page() -> None:
    kb = kb_or_stop()
    st.header("Export")
    st.caption(f"KB version {kb.version}. Everything is serialized here, from the loaded files.")
    fmts = formats()
    c1, c2 = st.columns(2)
    names = list(fmts)
    fmt = c1.selectbox("Format", names, index=names.index("turtle") if "turtle" in names else 0,
                       format_func=lambda f: fmts[f][0], key="export_format")
    which = c2.radio("What", list(PARTS), format_func=PARTS.get, horizontal=True, key="export_which")
    try:
        files = export_files(kb, fmt, which)
    except Exception as e:  # an exporter's refusal, shown as one line
        st.error(f"this export cannot be made: {e}")
        return
    for name, data in files.items():
        st.download_button(f"Download {name} ({len(data):,} bytes)", data=data, file_name=name,
                           mime=fmts[fmt][2], key=f"dl-{name}")
        with st.expander(f"Preview {name}"):
            st.code(data[:4000].decode("utf-8", "replace") + ("\n…" if len(data) > 4000 else ""), language=None)
