"""Infer the code(s) for a documented encounter, with why-not for the rest."""
from __future__ import annotations

from dataclasses import dataclass, field

from cptkg.judge.input import Encounter
from cptkg.knowledge.loader import KnowledgeBase
from cptkg.judge.reasons import Reason, verdict_reasons
from cptkg.engines import Model
from cptkg.judge import runner

Facts = dict[str, set[tuple]]


def encounter_facts(enc: Encounter, family: str) -> Facts:
    """Input facts of one encounter, coded within ``family`` (a code family of the KB)."""
    return {
        "enc_family": {(family,)},
        "enc_role": {(enc.performer_role,)},
        "enc_device": {(enc.device,)},
        "enc_route": {(enc.route,)},
        "enc_service": {(s,) for s in enc.services},
    }


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

    @property
    def message(self) -> str:
        if not self.codes:
            return "No code of the family fits this encounter; see why_not for each code."
        if self.uncovered:
            return "Some documented services are covered by no code of the family; see uncovered."
        return ""

    def to_json(self) -> dict:
        out = {
            "encounter_id": self.encounter_id,
            "codes": [{"code": c, "descriptor": self.descriptors.get(c, ""), "reasons": [r.to_json() for r in rs]} for c, rs in self.codes],
            "not_chosen": [{"code": c, "why_not": [r.to_json() for r in rs]} for c, rs in self.not_chosen],
            "uncovered": [{"service": s, "reasons": [r.to_json() for r in rs]} for s, rs in self.uncovered],
            "kb_version": self.kb_version,
        }
        if self.message:
            out["message"] = self.message
        return out


def infer_codes(kb: KnowledgeBase, enc: Encounter, timeout: float = 30.0, all_bindings: bool = False,
                engine=None) -> InferResult:
    facts = encounter_facts(enc, kb.pack.code_family)
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
        not_chosen.append((c, verdict_reasons(kb, prog, model, "not_chosen", c)))
    uncovered = [(kb.label(s), verdict_reasons(kb, prog, model, "no_code", s))
                 for (s,) in sorted(model.facts.get("no_code", set()))]
    return InferResult(enc.encounter_id, codes, not_chosen, uncovered,
                       {c: kb.descriptor(c) for c in kb.family_codes()}, kb.version, enc, model, facts)
