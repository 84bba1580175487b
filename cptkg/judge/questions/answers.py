"""The one shape every answer takes, and its reasons, sources and graph nodes.

Kept in one place so that the CLI (``cptkg ask --json``) and the explorer's
Questions page read the same fields from every question (the shape is in
the package docstring).
"""
from __future__ import annotations

from cptkg.judge.check import LineResult
from cptkg.judge.questions.reading import _pair_edits, _unit_edits
from cptkg.judge.reasons import Reason
from cptkg.knowledge import views
from cptkg.knowledge.loader import KnowledgeBase


def _sources(kb: KnowledgeBase, *lists) -> list[dict]:
    """Sources (as Source.to_json) from source ids or source dicts, each once, in order."""
    out: dict[str, dict] = {}
    for items in lists:
        for s in items:
            sid = s["id"] if isinstance(s, dict) else s
            if sid not in out:
                if isinstance(s, dict):
                    out[sid] = s
                elif sid in kb.sources:
                    out[sid] = kb.sources[sid].to_json()
    return list(out.values())


def _focus(kb: KnowledgeBase, *ids) -> list[str]:
    """The ids that are nodes of the knowledge graph, each once."""
    g = views.knowledge_graph(kb)
    return [n for n in dict.fromkeys(str(i) for i in ids if i is not None) if n in g]


def _answer(kb: KnowledgeBase, question: str, asked: dict, answer: str, rows: list, sources: list[dict],
            focus: list[str], **extra) -> dict:
    g = views.knowledge_graph(kb)
    # the graph's own labels ("programmable pump", not the node id "ProgrammablePump"), as the explorer shows them
    labels = [str(g.nodes[n].get("label") or n) for n in focus]
    return {"question": question, "asked": asked, "answer": answer, "rows": rows, "sources": sources,
            "focus": focus, "focus_labels": labels, **extra, "kb_version": kb.version}


def _reason(kb: KnowledgeBase, r: Reason) -> dict:
    edits = kb.cache.get("question-edits")
    if edits is None:
        edits = kb.cache["question-edits"] = frozenset(_pair_edits(kb) | _unit_edits(kb))
    out = {"rule": r.rule, "title": r.title or kb.rule_title(r.rule), "message": r.message, "source": r.source,
           "sources": r.sources,
           "edits": sorted({v for v in r.bindings.values() if isinstance(v, str) and v in edits})}
    if r.carc:
        out["carc"] = r.carc
        out["group_code"] = r.group_code
        out["denial"] = f"{r.group_code}-{r.carc}" if r.group_code else r.carc
    return out


def _line(kb: KnowledgeBase, ln: LineResult) -> dict:
    return {"code": ln.code, "status": ln.status, "verdict": ln.verdict or ln.status,
            "reasons": [_reason(kb, r) for r in ln.reasons], "warnings": [_reason(kb, w) for w in ln.warnings]}
