"""Judge claims: each claim's lines and history become input facts, the claim
rules run in an isolated pyDatalog database, and each line gets a verdict
with the rules and sources behind it."""
from __future__ import annotations

from dataclasses import dataclass, field

from cptkg.judge.input import Claim, InputError
from cptkg.knowledge.loader import KnowledgeBase
from cptkg.judge.reasons import Reason, verdict_reasons
from cptkg.engines import EvaluationError, EvaluationTimeout, Model
from cptkg.judge import runner

Facts = dict[str, set[tuple]]


def claim_facts(claim: Claim) -> Facts:
    """Input facts for one claim (see the ont:Predicate declarations).

    History entries get ids -1, -2, … so that they share billed/3 with the
    claim's own lines and a rule can compare any two billed services.
    """
    f: Facts = {k: set() for k in ("line", "billed", "in_history", "billed_provider", "line_role", "line_units", "line_modifier")}
    for ln in claim.lines:
        f["line"].add((ln.line,))
        f["billed"].add((ln.line, ln.code, ln.date_of_service))
        f["billed_provider"].add((ln.line, ln.provider_id))
        f["line_role"].add((ln.line, ln.provider_role))
        f["line_units"].add((ln.line, ln.units))
        for m in ln.modifiers:
            f["line_modifier"].add((ln.line, m))
    for i, h in enumerate(claim.history, start=1):
        f["billed"].add((-i, h.code, h.date_of_service))
        f["in_history"].add((-i,))
        if h.provider_id:
            f["billed_provider"].add((-i, h.provider_id))
    return f


@dataclass
class LineResult:
    line: int
    code: str
    status: str
    reasons: list[Reason]
    warnings: list[Reason]
    date_of_service: str = ""
    provider_role: str = ""
    verdict: str = ""  # the verdict in words: the status, or what an accepted line's warning makes of it

    def to_json(self) -> dict:
        return {"line": self.line, "code": self.code, "status": self.status,
                "reasons": [r.to_json() for r in self.reasons],
                "warnings": [w.to_json() for w in self.warnings], "verdict": self.verdict or self.status}


def verdict_text(kb: KnowledgeBase, status: str, warnings: list) -> str:
    """A line's verdict in words, the same on every face (checker, finder, CLI, exports).

    An accepted line with a warning whose rule names a verdict in rules/titles.yaml
    ("accepted for billing under the supervising physician or QHP …") reads as that verdict.
    """
    if status != "accepted":
        return status
    for w in warnings:
        rid = w.rule if hasattr(w, "rule") else w.get("rule")
        if rid in kb.rule_verdicts:
            return kb.rule_verdicts[rid]
    return status


@dataclass
class ClaimResult:
    claim_id: str
    status: str
    lines: list[LineResult] = field(default_factory=list)
    error: str | None = None
    kb_version: str = ""
    claim: Claim | None = None
    model: Model | None = None
    facts: Facts | None = None

    def to_json(self) -> dict:
        if self.error is not None:
            return {"claim_id": self.claim_id, "status": "error", "error": self.error, "lines": []}
        return {"claim_id": self.claim_id, "status": self.status,
                "lines": [ln.to_json() for ln in self.lines], "kb_version": self.kb_version}


def check_claim(kb: KnowledgeBase, claim: Claim, timeout: float = 30.0, all_bindings: bool = False,
                engine=None) -> ClaimResult:
    """Judge one validated claim; every input line comes back with a verdict.

    Only the verdict rules' bindings are read unless ``all_bindings`` (the
    explainer wants every rule's): reading them all costs about as much again.
    """
    facts = claim_facts(claim)
    program = kb.check_program
    model = runner.run(kb, "claim", facts, want=[p for p in kb.verdicts if p in program.idb],
                       rule_bindings=True if all_bindings else {"reject", "warn"}, timeout=timeout, engine=engine)
    lines = []
    for ln in sorted(claim.lines, key=lambda l: l.line):
        reasons = verdict_reasons(kb, program, model, "reject", ln.line)
        warnings = verdict_reasons(kb, program, model, "warn", ln.line)
        status = "rejected" if reasons else "accepted"
        lines.append(LineResult(ln.line, ln.code, status, reasons, warnings, ln.date_of_service, ln.provider_role,
                                verdict_text(kb, status, warnings)))
    status = "rejected" if any(l.status == "rejected" for l in lines) else "accepted"
    return ClaimResult(claim.claim_id, status, lines, kb_version=kb.version, claim=claim, model=model, facts=facts)


def not_judged(kb: KnowledgeBase, claim: Claim, error: Exception) -> ClaimResult:
    """The one place a time-out or an engine failure becomes a one-line error entry."""
    if isinstance(error, EvaluationTimeout):
        text = (f"claim {claim.claim_id}: could not be judged within the time limit ({len(claim.lines)} lines, "
                f"{len(claim.history)} history entries); split the claim or shorten the history")
    else:
        text = f"claim {claim.claim_id}: could not be judged ({error})"
    return ClaimResult(claim.claim_id, "error", kb_version=kb.version, claim=claim, error=text)


def check_claims(kb: KnowledgeBase, claims: list[Claim | InputError], engine=None, progress=None,
                 timeout: float = 30.0) -> list[ClaimResult]:
    """Judge each claim; an input error or a claim the engine could not judge is an error entry.

    ``progress(done, total)`` is called after each claim.
    """
    out = []
    for i, c in enumerate(claims):
        if isinstance(c, InputError):
            out.append(ClaimResult(c.claim_id or "", "error", error=str(c), kb_version=kb.version))
        else:
            try:
                out.append(check_claim(kb, c, timeout=timeout, engine=engine))
            except (EvaluationTimeout, EvaluationError) as e:
                out.append(not_judged(kb, c, e))
        if progress:
            progress(i + 1, len(claims))
    return out


def exit_code(results: list[ClaimResult]) -> int:
    """0 all accepted, 1 any line rejected, 2 any claim that could not be judged."""
    if any(r.error is not None for r in results):
        return 2
    return 1 if any(r.status == "rejected" for r in results) else 0
