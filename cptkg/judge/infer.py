"""Infer the code(s) for a documented encounter, with why-not for the rest."""
from __future__ import annotations

from dataclasses import dataclass, field

from cptkg.claims.inputs import encounter_facts
from cptkg.claims.models import Encounter
from cptkg.knowledge.kb import KnowledgeBase
from cptkg.judge.reasons import Reason, verdict_reasons
from cptkg.engines import Model
from cptkg.judge import runner

Facts = dict[str, set[tuple]]


@dataclass
class InferResult:
    encounter_id: str
    codes: list[tuple[str, list[Reason]]]
    not_chosen: list[tuple[str, list[Reason]]]
    uncovered: list[tuple[str, list[Reason]]]
    descriptors: dict[str, str] = field(default_factory=dict)
    kb_version: str = ""
    encounter: Encounter | None = None
    model: Model | None = None
    facts: Facts | None = None
    # code -> the recorded source conflicts it rests on (a guide section that contradicts itself), as check notes
    # them on a line of the code (a coder's audit: infer billed such a code with no word of the conflict)
    conflicts: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def message(self) -> str:
        if not self.codes:
            return "No code of the family fits this encounter (why each code does not is listed with it)."
        if self.uncovered:
            return "Some documented services are covered by no code of the family (each is listed below)."
        return ""

    def to_json(self) -> dict:
        out = {
            "encounter_id": self.encounter_id,
            "codes": [{"code": c, "descriptor": self.descriptors.get(c, ""), "reasons": [r.to_json() for r in rs],
                       **({"source_conflicts": [dict(x) for x in self.conflicts[c]]} if self.conflicts.get(c) else {})}
                      for c, rs in self.codes],
            "not_chosen": [{"code": c, "why_not": [r.to_json() for r in rs]} for c, rs in self.not_chosen],
            "uncovered": [{"service": s, "reasons": [r.to_json() for r in rs]} for s, rs in self.uncovered],
            "kb_version": self.kb_version,
        }
        if self.message:
            out["message"] = self.message
        return out


#: predicates stating what a code applies to: their values are the code's alternatives, said with "or" as
#: the loader's code_routes/code_devices phrases say them ("epidural or intrathecal"); values of any other
#: literal are all true at once and are said with "and" ("also refill and maintenance and reprogramming")
_ALTERNATIVES = frozenset({"applies_to_route", "applies_to_device"})


def _joined(labels: list[str], word: str = "or") -> str:
    """Labels as one phrase, sorted, the last joined by ``word``.

    >>> _joined(["epidural"]), _joined(["intrathecal", "epidural"]), _joined(["b", "a", "c"], "and")
    ('epidural', 'epidural or intrathecal', 'a, b and c')
    """
    labels = sorted(set(labels))
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + f" {word} " + labels[-1]


def one_line_per_condition(kb: KnowledgeBase, program, reasons: list[Reason]) -> list[Reason]:
    """Reasons of one rule that differ in one value only, said once with the values joined by "or".

    A rule fires once per binding: 62360 billed for a brain pump is not
    chosen once for each route it applies to, and the why-not read "applies
    to epidural delivery only" and "applies to intrathecal delivery only" of
    the same code, two lines that contradict each other (issue 23). One line
    says the condition: "applies to epidural or intrathecal delivery only"
    (the labels sorted, as the loader's code_routes phrase lists them), with
    the sources of every firing.
    """
    from cptkg.rules.messages import fill

    by_rule: dict[int, list[Reason]] = {}
    for r in reasons:
        by_rule.setdefault(r.rule_index, []).append(r)
    out: list[Reason] = []
    for r in reasons:
        group = by_rule.get(r.rule_index)
        if group is None:
            continue  # already said with the first of its rule
        if len(group) == 1 or r.rule_index < 0:
            out.append(r)
            by_rule.pop(r.rule_index)
            continue
        keys = set().union(*(g.bindings for g in group))
        varying = [k for k in sorted(keys) if len({str(g.bindings.get(k)) for g in group}) > 1]
        template = program.rules[r.rule_index].meta.message or ""
        if len(varying) != 1 or "{" + varying[0] not in template:
            out.extend(group)  # more than one value differs: each firing is its own condition
            by_rule.pop(r.rule_index)
            continue
        var = varying[0]
        rule = program.rules[r.rule_index]
        alternatives = any(getattr(item, "atom", None) is not None and not item.negated
                           and item.atom.pred in _ALTERNATIVES
                           and any(getattr(a, "name", None) == var for a in item.atom.args) for item in rule.body)
        joined = _joined([kb.label(str(g.bindings[var])) for g in group], "or" if alternatives else "and")
        shown = dict(r.bindings, **{var: joined})
        sources = list({s.get("id", str(i)): s for i, s in enumerate(x for g in group for x in g.sources)}.values())
        out.append(Reason(rule=r.rule, message=fill(template, shown, lambda v: v if v == joined else kb.label(v)),
                          source="; ".join(dict.fromkeys(p for g in group for p in g.source.split("; ") if p)),
                          confidence=r.confidence, sources=sources, bindings=dict(r.bindings),
                          rule_index=r.rule_index, carc=r.carc, group_code=r.group_code, rarc=r.rarc, title=r.title))
        by_rule.pop(r.rule_index)
    return out


def infer_codes(kb: KnowledgeBase, enc: Encounter, timeout: float = 30.0, all_bindings: bool = False,
                engine=None) -> InferResult:
    facts = encounter_facts(kb, enc)
    prog = kb.infer_program
    heads = {"bill", "not_chosen", "no_code", "covers_documented"}
    # the edits an encounter can meet are those of the codes it may be coded with: its family's
    model = runner.run(kb, "encounter", facts, want=["bill", "not_chosen", "no_code"],
                       rule_bindings=True if all_bindings else heads, timeout=timeout, engine=engine,
                       codes=kb.family_codes())
    billed = sorted(c for (c,) in model.facts.get("bill", set()))
    codes = []
    for c in billed:
        rs = verdict_reasons(kb, prog, model, "bill", c)
        rs += verdict_reasons(kb, prog, model, "covers_documented", c)
        codes.append((c, rs))
    not_chosen = []
    for c in kb.family_codes():
        if c in billed:
            continue
        not_chosen.append((c, one_line_per_condition(kb, prog, verdict_reasons(kb, prog, model, "not_chosen", c))))
    uncovered = [(kb.label(s), verdict_reasons(kb, prog, model, "no_code", s))
                 for (s,) in sorted(model.facts.get("no_code", set()))]
    from cptkg.knowledge.views import code_conflicts

    return InferResult(enc.encounter_id, codes, not_chosen, uncovered,
                       {c: kb.descriptor(c) for c in kb.family_codes()}, kb.version, enc, model, facts,
                       conflicts={c: code_conflicts(kb, c) for c, _ in codes if code_conflicts(kb, c)})
