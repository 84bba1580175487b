"""Export page: the ontology and the KB in every format ``cptkg.exports``
registers (Turtle and JSON-LD among them), the same files ``cptkg export``
writes."""
from __future__ import annotations

import streamlit as st

from cptkg.faces.markup import md
from cptkg import exports as exporters
from cptkg import load_graphs
from cptkg.faces.explorer.common import kb_or_stop

PARTS = {"both": "ontology + KB", "ontology": "ontology only", "kb": "KB only"}
MIME = {"ttl": "text/turtle", "jsonld": "application/ld+json", "nt": "application/n-triples", "nq": "application/n-quads",
        "trig": "application/trig", "rdf": "application/rdf+xml", "owl": "application/rdf+xml", "csv": "text/csv",
        "md": "text/markdown", "html": "text/html", "graphml": "application/xml", "dl": "text/plain"}


def export_files(kb, fmt: str, which: str = "both") -> dict[str, bytes]:
    """{file name: bytes} for one format of ``kb`` (the pack the explorer shows); ExportError (one line)
    when it cannot be made."""
    ex = exporters.get(fmt)
    ext = ex.extension.lstrip(".")
    out = {}
    for suffix, data in exporters.export(fmt, which, graphs=load_graphs(kb)).items():
        if not suffix:
            name = f"cptkg-{which}.{ext}"
        elif "." in suffix:
            name = f"cptkg-{which}-{suffix}"
        else:
            name = f"cptkg-{which}-{suffix}.{ext}"
        out[name] = data
    return out


def page() -> None:
    kb = kb_or_stop()
    st.header("Export")
    st.caption(f"KB version {kb.version}. Serialized here from the loaded files, as `cptkg export` writes them.")
    fmts = exporters.formats()
    names = list(fmts)
    c1, c2 = st.columns(2)
    fmt = c1.selectbox("Format", names, index=names.index("turtle") if "turtle" in names else 0,
                       format_func=lambda f: f"{f} — {fmts[f].description}", key="export_format")
    which = c2.radio("What", list(PARTS), format_func=PARTS.get, horizontal=True, key="export_which",
                     disabled=not fmts[fmt].uses_graph)
    try:
        files = export_files(kb, fmt, which)
    except exporters.ExportError as e:
        st.error(f"this export cannot be made: {md(e)}")
        return
    for name, data in files.items():
        ext = name.rsplit(".", 1)[-1]
        st.download_button(f"Download {name} ({len(data):,} bytes)", data=data, file_name=name,
                           mime=MIME.get(ext, "application/octet-stream"), key=f"dl-{name}")
        with st.expander(f"Preview {name}"):
            st.code(data[:4000].decode("utf-8", "replace") + ("\n…" if len(data) > 4000 else ""), language=None)
