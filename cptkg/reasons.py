"""Reasons: a fired rule, its filled message and the sources it cites."""
from __future__ import annotations

from dataclasses import dataclass, field

from .kb import KnowledgeBase
from .messages import fill
from .rules.ast import Rule


@dataclass
class Reason:
    rule: str
    message: str
    source: str
    confidence: str
    sources: list[dict]
    bindings: dict = field(default_factory=dict)
    rule_index: int = -1

    def to_json(self) -> dict:
        return {"rule": self.rule, "message": self.message, "source": self.source,
                "confidence": self.confidence, "sources": self.sources}


def make_reason(kb: KnowledgeBase, rule: Rule, bindings: dict, index: int) -> Reason:
    srcs = kb.rule_source(rule)
    conf = rule.meta.confidence or _weakest(s.confidence for s in srcs)
    return Reason(
        rule=rule.meta.id or rule.head.pred,
        message=fill(rule.meta.message or rule.head.pred, bindings, kb.label),
        source="; ".join(dict.fromkeys(s.cite() for s in srcs)),
        confidence=conf,
        sources=[s.to_json() for s in srcs],
        bindings=dict(bindings),
        rule_index=index,
    )


def _weakest(levels) -> str:
    order = {"high": 2, "medium": 1, "low": 0}
    levels = [l for l in levels if l in order]
    if not levels:
        return "high"
    return min(levels, key=lambda l: order[l])


def verdict_reasons(kb: KnowledgeBase, program, model, head_pred: str, key_var_value) -> list[Reason]:
    """Reasons for ``head_pred(key)``: one per distinct binding of each rule deriving it."""
    out: list[Reason] = []
    seen: set[tuple[str, str]] = set()
    for k, rule in enumerate(program.rules):
        if rule.head.pred != head_pred:
            continue
        arg = rule.head.args[0]
        for b in model.bindings.get(k, []):
            val = b.get(arg.name) if hasattr(arg, "name") else arg.value
            if val != key_var_value:
                continue
            r = make_reason(kb, rule, b, k)
            if (r.rule, r.message) not in seen:
                seen.add((r.rule, r.message))
                out.append(r)
    return out
