"""The Datalog rules as one text, re-written from the parsed syntax tree.

Written from the AST rather than copied, so the text is exactly what the
engine loads; each clause keeps its structured comments (id, message,
source, confidence, fix, X12 reason, title …), and the result parses again
with ``cptkg.rules.parser`` into the same rules, metadata included.
"""
from __future__ import annotations

from cptkg.exports import ExportInput, Exporter
from cptkg.exports._rules import load_rules
from cptkg.rules.ast import Rule


def rule_text(rule: Rule) -> str:
    lines = []
    meta = rule.meta
    if meta.id:
        lines.append(f"% id: {meta.id}")
    if meta.message:
        lines.append(f"% message: {meta.message}")
    if meta.source:
        lines.append(f"% source: {', '.join(meta.source)}")
    if meta.confidence:
        lines.append(f"% confidence: {meta.confidence}")
    # what a denial by the rule is reported with and how its line may be fixed: a pack reloaded from the
    # export refused every rejecting rule for want of its X12 reason (an integrator's audit)
    if meta.fix:
        lines.append(f"% fix: {'; '.join(meta.fix)}")
    for key, value in (("carc", meta.carc), ("group", meta.group), ("rarc", meta.rarc)):
        if value:
            lines.append(f"% {key}: {value}")
    for key, value in meta.extra.items():
        lines.append(f"% {key}: {value}")
    lines.append(str(rule))
    return "\n".join(lines)


def _render(data: ExportInput) -> dict[str, bytes]:
    rules = load_rules(data.pack)
    parts = ["% cptkg rules, written from the parsed rule files", ""]
    current = None
    for rule in rules:
        if rule.file != current:
            current = rule.file
            parts += [f"% ---- from {current}", ""]
        parts += [rule_text(rule), ""]
    return {"": "\n".join(parts).encode("utf-8")}


EXPORTER = Exporter("datalog", "the Datalog rules as text", "dl", _render, uses_graph=False)
