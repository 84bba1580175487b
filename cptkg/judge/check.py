"""Judge claims: each claim's lines and history become input facts, the claim
rules run on the engine (isolated per request), and each line gets a verdict
with the rules and sources behind it. Many claims go through one engine call
where the engine allows it (:func:`check_claims`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from cptkg.claims.inputs import claim_facts
from cptkg.claims.models import Claim, InputError, one_line
from cptkg.knowledge.kb import KnowledgeBase
from cptkg.knowledge.views import code_conflicts
from cptkg.judge.assumptions import route_assumptions
from cptkg.judge.reasons import Reason, verdict_reasons_by_key
from cptkg.engines import EvaluationError, EvaluationMemory, EvaluationTimeout, Model
from cptkg.judge import runner

Facts = dict[str, set[tuple]]


def billed_codes(claim: Claim) -> set[str]:
    """The codes a claim bills, on its lines and in its history: the edits naming them are the ones it meets."""
    return {ln.code for ln in claim.lines} | {h.code for h in claim.history}


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
    # False for a line no rule of the pack covers (its status stays "accepted" for the tools that read it;
    # its verdict reads "not checked ..."): counted apart from accepted everywhere (issue 23)
    checked: bool = True
    # the recorded source conflicts the line's code rests on (id, label, resolution): not a verdict, a note
    source_conflicts: list[dict] = field(default_factory=list)
    # what the rules assumed of facts the line does not state (its route, its units with no unit edit loaded)
    assumptions: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {"line": self.line, "code": self.code, "status": self.status,
               "reasons": [r.to_json() for r in self.reasons],
               "warnings": [w.to_json() for w in self.warnings], "verdict": self.verdict or self.status,
               "checked": self.checked}
        if self.source_conflicts:
            out["source_conflicts"] = [dict(c) for c in self.source_conflicts]
        if self.assumptions:
            out["assumptions"] = list(self.assumptions)
        return out


def unchecked_rules(kb: KnowledgeBase) -> frozenset[str]:
    """Warning rules whose warning means "no rule of the pack judged this line" (``% checked: false``
    in the rule's metadata, or ``checked: false`` on its entry in a pack's rules/titles.yaml).

    Why data: which warning marks a line as outside the pack is the pack's to say; the core names
    no rule. The loader reads it with the rules' titles (``KnowledgeBase.rule_unchecked``).
    """
    return frozenset(getattr(kb, "rule_unchecked", frozenset()) or frozenset())


def is_checked(kb: KnowledgeBase, status: str, warnings: list) -> bool:
    """False for an accepted line carrying a warning that says no rule of the pack covers it."""
    if status != "accepted":
        return True
    marks = unchecked_rules(kb)
    return not any((w.rule if hasattr(w, "rule") else w.get("rule")) in marks for w in warnings)


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
    # a claim that could not be judged: the lines it gave (line, code), so that each is answered for
    lines_not_judged: list[dict] = field(default_factory=list)
    # why it could not be judged: "pack-rules" (the rules every claim shares stopped), "time", "memory" or
    # "engine"; callers tell these apart by it, not by the error's words
    error_cause: str | None = None

    def to_json(self) -> dict:
        if self.error is not None:
            out = {"claim_id": self.claim_id, "status": "error", "error": self.error, "lines": []}
            if self.lines_not_judged:
                out["lines_not_judged"] = list(self.lines_not_judged)
            if self.kb_version:  # the knowledge it was refused under (a time limit, a rule stop can change with it)
                out["kb_version"] = self.kb_version
            return out
        return {"claim_id": self.claim_id, "status": self.status,
                "lines": [ln.to_json() for ln in self.lines], "kb_version": self.kb_version}


def _want(kb: KnowledgeBase) -> list[str]:
    return [p for p in kb.verdicts if p in kb.check_program.idb]


def _result(kb: KnowledgeBase, claim: Claim, model: Model, facts: Facts) -> ClaimResult:
    program = kb.check_program
    lines = []
    rejects = verdict_reasons_by_key(kb, program, model, "reject")
    warns = verdict_reasons_by_key(kb, program, model, "warn")
    assumed = route_assumptions(kb, claim)
    for ln in sorted(claim.lines, key=lambda l: l.line):
        reasons = rejects.get(ln.line, [])
        warnings = warns.get(ln.line, [])
        status = "rejected" if reasons else "accepted"
        lines.append(LineResult(ln.line, ln.code, status, reasons, warnings, ln.date_of_service, ln.provider_role,
                                verdict_text(kb, status, warnings), is_checked(kb, status, warnings),
                                code_conflicts(kb, ln.code), assumed.get(ln.line, [])))
    status = "rejected" if any(l.status == "rejected" for l in lines) else "accepted"
    return ClaimResult(claim.claim_id, status, lines, kb_version=kb.version, claim=claim, model=model, facts=facts)


def check_claim(kb: KnowledgeBase, claim: Claim, timeout: float = 30.0, all_bindings: bool = False,
                engine=None) -> ClaimResult:
    """Judge one validated claim; every input line comes back with a verdict.

    Only the verdict rules' bindings are read unless ``all_bindings`` (the
    explainer wants every rule's): reading them all costs about as much again.
    """
    facts = claim_facts(kb, claim)
    model = runner.run(kb, "claim", facts, want=_want(kb), rule_bindings=True if all_bindings else {"reject", "warn"},
                       timeout=timeout, engine=engine, codes=billed_codes(claim))
    return _result(kb, claim, model, facts)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def not_judged(kb: KnowledgeBase, c: Claim, e: Exception) -> ClaimResult:
    """The one place a time-out or an engine failure becomes a one-line error entry."""
    given = [{"line": ln.line, "code": ln.code} for ln in c.lines]  # each line answered with the error
    if getattr(e, "in_pack_rules", False) and isinstance(e, (EvaluationTimeout, EvaluationMemory)):
        # the rules that hold for every claim (they read no claim) stopped: the claim is not at fault (an audit:
        # "split the claim or shorten the history" of a one-line claim, where a pack rule multiplied out)
        limit = "time" if isinstance(e, EvaluationTimeout) else "memory"
        return ClaimResult(c.claim_id, "error", kb_version=kb.version, claim=c, lines_not_judged=given,
                           error_cause="pack-rules", error=(
            f"claim {one_line(str(c.claim_id))}: could not be judged: the family pack's rules that hold for every "
            f"claim (they read no claim) did not finish within the {limit} limit, whatever the claim; a rule of the "
            f"pack may multiply out (cptkg lint, cptkg test)"))
    if isinstance(e, EvaluationTimeout):
        return ClaimResult(c.claim_id, "error", kb_version=kb.version, claim=c, lines_not_judged=given,
                           error_cause="time", error=(
            f"claim {one_line(str(c.claim_id))}: could not be judged within the time limit ({_count(len(c.lines), 'line')}, "
            f"{_count(len(c.history), 'history entry', 'history entries')}); split the claim or shorten the history"))
    if isinstance(e, EvaluationMemory):
        return ClaimResult(c.claim_id, "error", kb_version=kb.version, claim=c, lines_not_judged=given,
                           error_cause="memory", error=(
            f"claim {one_line(str(c.claim_id))}: could not be judged within the memory limit "
            f"({_count(len(c.lines), 'line')}, {_count(len(c.history), 'history entry', 'history entries')}); "
            f"split the claim or shorten the history"))
    return ClaimResult(c.claim_id, "error", kb_version=kb.version, claim=c, lines_not_judged=given,
                       error_cause="engine", error=one_line(f"claim {c.claim_id}: could not be judged ({e})"))


#: claims judged in one engine call by :func:`check_claims` (engines that batch)
BATCH_SIZE = 500


def _workers() -> int:
    """Batches judged at once: one per core, at most 4 (``CPTKG_WORKERS`` overrides)."""
    import os

    got = os.environ.get("CPTKG_WORKERS", "")
    if got.isdigit() and int(got) > 0:
        return int(got)
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def check_claims(kb: KnowledgeBase, claims: list[Claim | InputError], engine=None, timeout: float = 30.0,
                 batch_size: int = BATCH_SIZE, progress=None, deadline: float | None = None) -> list[ClaimResult]:
    """Judge many claims; the results are those of :func:`check_claim` on each, in order.

    On an engine that batches (clingo), up to ``batch_size`` claims are judged
    in one engine call, each claim's facts keyed by its position
    (:mod:`cptkg.engines.scoped`). If a batch cannot be judged (time limit,
    engine error), its claims are judged one by one, so only the claim at
    fault gets the one-line error. ``progress(done, total)`` is called as
    claims are judged. ``deadline`` (``time.monotonic()``) ends the whole
    call: no evaluation runs past it, and the claims not judged by then get
    the time-limit error entry.
    """
    import time

    from cptkg import engines

    def limit() -> float:
        return timeout if deadline is None else min(timeout, deadline - time.monotonic())

    eng = engines.resolve(engine)  # the engine the face chose: None is refused (engines.NoEngineChosen)
    out: list[ClaimResult | None] = [None] * len(claims)
    todo: list[int] = []
    for i, c in enumerate(claims):
        if isinstance(c, InputError):
            out[i] = ClaimResult(c.claim_id or "", "error", error=str(c), kb_version=kb.version,
                                 lines_not_judged=list(getattr(c, "lines", ())))
        else:
            todo.append(i)
    if eng.batches and len(todo) > 1:
        def judge(chunk):
            facts = [claim_facts(kb, claims[i]) for i in chunk]
            if limit() <= 0:
                return chunk
            try:
                models = runner.run_many(kb, "claim", facts, want=_want(kb), rule_bindings={"reject", "warn"},
                                         timeout=limit(), engine=eng, codes=[billed_codes(claims[i]) for i in chunk])
            except (EvaluationTimeout, EvaluationError):
                return chunk  # judged one by one below
            for i, f, m in zip(chunk, facts, models):
                out[i] = _result(kb, claims[i], m, f)
            return chunk

        chunks = [todo[start:start + batch_size] for start in range(0, len(todo), batch_size)]
        # clingo grounds and solves without the GIL, so a second batch in a
        # thread uses a second core; the first batch runs alone and fills the
        # per-program caches the others share
        judge(chunks[0])
        if progress:
            progress(sum(r is not None for r in out), len(claims))
        if len(chunks) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=_workers()) as pool:
                for _ in pool.map(judge, chunks[1:]):
                    if progress:
                        progress(sum(r is not None for r in out), len(claims))
    for i in todo:
        if out[i] is None:
            c = claims[i]
            try:
                if limit() <= 0:
                    raise EvaluationTimeout("")
                out[i] = check_claim(kb, c, timeout=limit(), engine=eng)
            except (EvaluationTimeout, EvaluationError) as e:
                out[i] = not_judged(kb, c, e)
            if progress:
                progress(sum(r is not None for r in out), len(claims))
    if progress:
        progress(len(claims), len(claims))
    return out


def exit_code(results: list[ClaimResult]) -> int:
    """0 all accepted, 1 any line rejected, 2 any claim that could not be judged.

    A line not checked (outside the knowledge base) is no rejection: nothing was found
    wrong with it, so it leaves the code 0 (the summary line counts it apart)."""
    if any(r.error is not None for r in results):
        return 2
    return 1 if any(r.status == "rejected" for r in results) else 0
