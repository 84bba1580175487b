"""Explanations of verdicts: proofs, why-not and verified fixes, from any engine's bindings.

``explain_claim`` judges a claim with every rule's bindings kept and builds,
for each line's reasons, a proof down to the source sentence
(:mod:`cptkg.explanation.proofs`), the why-not of a rejected line, and the
suggested fixes, each re-judged (:mod:`cptkg.explanation.fixes`).
"""
from __future__ import annotations

from cptkg.explanation.fixes import FixSearch, Suggestion, apply_suggestion, search_fixes, suggest_fixes
from cptkg.explanation.proofs import ABSENT_REASONS, Explainer, ProofNode
from cptkg.explanation.summary import line_summary, reason_summary
from cptkg.judge.assumptions import STATE_ROUTE, route_assumptions  # noqa: F401  (their home was here)
from cptkg.judge.check import ClaimResult, billed_codes, check_claim
from cptkg.judge.infer import infer_codes
from cptkg.claims.models import Claim, Encounter
from cptkg.knowledge.kb import KnowledgeBase
from cptkg.rules.ast import Literal

__all__ = ["ClaimExplanation", "Explainer", "ProofNode", "Suggestion", "apply_suggestion", "explain_claim",
           "explain_encounter", "explain_inferred", "suggest_fixes", "search_fixes", "FixSearch"]


class ClaimExplanation:
    def __init__(self, result: ClaimResult, explainer: Explainer, proofs: dict, why_not: dict, suggestions: list[Suggestion],
                 summaries: dict | None = None, fix_search: FixSearch | None = None):
        self.result, self.explainer = result, explainer
        self.proofs, self.why_not, self.suggestions = proofs, why_not, suggestions
        self.summaries = summaries or {}
        self.fix_search = fix_search
        self.unexplained = 0  # lines whose proofs were not built: the time limit ran out first
        self.assumptions: dict[int, list[str]] = {}  # line -> what the rules assumed of facts it does not state

    def to_json(self, line: int | None = None) -> dict:
        out = self.result.to_json()
        for ln in out["lines"]:
            n = ln["line"]
            for kind in ("reasons", "warnings"):
                for r, p in zip(ln[kind], self.proofs.get((n, kind), [])):
                    r["proof"] = p if isinstance(p, list) else p
                for r, sm in zip(ln[kind], self.summaries.get((n, kind), [])):
                    r["summary"] = sm
            ln["why_not"] = self.why_not.get(n, [])
            if self.assumptions.get(n):
                ln["assumptions"] = list(self.assumptions[n])
        if line is not None:
            out["lines"] = [l for l in out["lines"] if l["line"] == line]
        # the fixes are the claim's; explaining one line that is not rejected, none is about it (a claim's fix
        # of another line was shown under "--line 1" of an accepted line: a real-files audit)
        asked_ok = line is not None and not any(l.get("status") == "rejected" for l in out["lines"])
        out["suggestions"] = [] if asked_ok else [s.to_json() for s in self.suggestions]
        if self.fix_search is not None:
            out["fix_search"] = self.fix_search.to_json()
        if self.unexplained:
            out["unexplained_lines"] = self.unexplained
        note = cut_short_note(self.unexplained, self.fix_search)
        if note:
            out["cut_short"] = note
        search = self.fix_search
        if (search is not None and not search.cut_short and not out["suggestions"] and search.tried
                and any(l.get("status") == "rejected" for l in out["lines"])):
            # a search that went through and found nothing says so (the claim's report ended with its reasons,
            # as if no fix had been looked for: a regression hunt)
            out["no_fix"] = (f"No fix was found that the rules accept: each of the {search.judged:,} candidate "
                             f"fix{'es' if search.judged != 1 else ''} re-checked leaves a line rejected."
                             if search.judged else
                             "No fix was found: no edit of the lines the rules name (a recode, a modifier, dropping a "
                             "line) leaves a claim to bill.")
        for ln in out["lines"]:
            if (ln["line"], "reasons") in self.proofs:
                ln["summary"] = line_summary(ln, out["suggestions"])
        return out


def cut_short_note(unexplained: int, search: FixSearch | None) -> str:
    """The sentences that say the explanation or the search for fixes stopped early ("" when both went through)."""
    out = []
    if unexplained:
        out.append(f"The explanation was cut short: the time limit ran out before the proofs of {unexplained} "
                   f"line{'s' if unexplained != 1 else ''} were built; their verdicts stand.")
    if search is not None and search.cut_short:
        shown = ("the fixes shown are verified" if search.suggestions
                 else "no verified fix was found in time" if "time" in search.cut_short
                 else "no verified fix was found among them")
        out.append(f"The search for fixes was cut short: {search.cut_short} ({search.tried:,} combinations tried, "
                   f"{search.judged:,} re-checked); {shown}, and other fixes may exist.")
    return " ".join(out)


def _failed_negations(ex: Explainer, program, k: int, bindings: dict, depth: int = 2) -> list[dict]:
    """Why-not of the derived facts whose absence rule ``k`` relied on.

    A rejection often rests on a helper (a line's fault, say) whose own body
    holds the negation that matters ("no rule permits this performer"): the
    helpers the rule's positive literals were derived by are searched too,
    ``depth`` levels down.
    """
    out: list[dict] = []
    rule = program.rules[k]
    # a rule with a negation of its own fails on it: its helpers' negations are how its entries were found
    # (a device denial rests on "not applies_to_device"; the current device's "not superseded" read as the
    # reason: the why-not of a code billed for a device it does not fit named "Device replaced since", an audit)
    own = any(isinstance(item, Literal) and item.negated for item in rule.body)
    for item in rule.body:
        if not isinstance(item, Literal):
            continue
        pattern = ex._pattern(item.atom, bindings)
        if item.atom.pred not in program.idb:
            # a knowledge-base fact the rule needed absent, said where the pack words it ("no source here
            # makes <code> apply to <route> delivery"); an input's (a modifier not billed) is the
            # message's to say
            if item.negated and None not in pattern and item.atom.pred in ABSENT_REASONS:
                entry = ex.absent(rule, item, pattern)
                if entry not in out:
                    out.append(entry)
            continue
        if item.negated:
            if None not in pattern:
                out.extend(f for f in ex.why_not(item.atom.pred, pattern) if f not in out)
        elif depth > 0 and not own:
            for k2, r2 in enumerate(program.rules):
                if r2.head.pred != item.atom.pred:
                    continue
                for b2 in ex.model.bindings.get(k2, []):
                    head = ex._pattern(r2.head, b2)
                    if all(p is None or p == h for p, h in zip(pattern, head)):
                        out.extend(f for f in _failed_negations(ex, program, k2, b2, depth - 1) if f not in out)
                        break
    return out


def explain_claim(kb: KnowledgeBase, claim: Claim, line: int | None = None, depth: int | None = None,
                  all_proofs: bool = False, fixes: bool = True, engine=None, timeout: float = 30.0) -> ClaimExplanation:
    """Judge a claim and explain every verdict: proofs, why-not and verified fixes.

    ``engine`` names the engine that judges (the face's choice; none is refused);
    every engine returns the bindings the explanation is built from.
    ``timeout`` bounds the whole explanation: judging the claim, then the
    search for fixes, which stops at the limit with what it verified so far.
    """
    import time

    deadline = time.monotonic() + timeout
    res = check_claim(kb, claim, all_bindings=True, engine=engine, timeout=timeout)
    ex = Explainer(kb, kb.check_program, res.model, res.facts, f"claim {claim.claim_id}", codes=billed_codes(claim))
    proofs: dict = {}
    summaries: dict = {}
    why: dict = {}
    unexplained = 0
    for ln in res.lines:
        if line is not None and ln.line != line:
            continue
        if time.monotonic() >= deadline:  # past the limit: the verdicts stand, the rest go unproven
            unexplained += 1
            continue
        for kind, items in (("reasons", ln.reasons), ("warnings", ln.warnings)):
            ps, sms = [], []
            for r in items:
                node = ex.rule_node(r.rule_index, r.bindings, depth)
                if all_proofs:
                    ps.append([node.to_json()] if node else [])
                else:
                    ps.append(node.to_json() if node else None)
                # the summary rests on the whole proof whatever depth the full proof is cut at
                whole = node if depth is None else ex.rule_node(r.rule_index, r.bindings, None)
                sms.append(reason_summary(kb, whole, r))
            proofs[(ln.line, kind)] = ps
            summaries[(ln.line, kind)] = sms
        if ln.status == "rejected":
            wn = []
            for r in ln.reasons:
                for f in _failed_negations(ex, kb.check_program, r.rule_index, r.bindings):
                    if f not in wn:
                        wn.append(f)
            why[ln.line] = wn
    search = (search_fixes(kb, claim, res, engine=engine, deadline=deadline) if fixes and res.status == "rejected"
              else None)
    out = ClaimExplanation(res, ex, proofs, why, search.suggestions if search else [], summaries, search)
    out.unexplained = unexplained
    out.assumptions = {ln.line: list(ln.assumptions) for ln in res.lines if ln.assumptions}
    return out


def explain_encounter(kb: KnowledgeBase, enc: Encounter, depth: int | None = None, engine=None) -> dict:
    """Inferred codes with their proofs, and for each code not chosen why not."""
    return explain_inferred(kb, infer_codes(kb, enc, all_bindings=True, engine=engine), depth)


def explain_inferred(kb: KnowledgeBase, res, depth: int | None = None) -> dict:
    """The explanation of an inference already made with every rule's bindings
    (``infer_codes(..., all_bindings=True)``): the encounter is judged once,
    whether or not it is then explained."""
    enc = res.encounter
    ex = Explainer(kb, kb.infer_program, res.model, res.facts, f"encounter {enc.encounter_id}", codes=kb.family_codes())
    out = res.to_json()
    for entry, (code, reasons) in zip(out["codes"], res.codes):
        p = ex.prove("bill", (code,), depth)
        entry["proof"] = p.to_json() if p else None
        for rj, r in zip(entry["reasons"], reasons):
            node = ex.rule_node(r.rule_index, r.bindings, depth)
            rj["proof"] = node.to_json() if node else None
    for entry, (code, reasons) in zip(out["not_chosen"], res.not_chosen):
        for rj, r in zip(entry["why_not"], reasons):
            node = ex.rule_node(r.rule_index, r.bindings, depth)
            rj["proof"] = node.to_json() if node else None
        entry["failed_conditions"] = ex.why_not("bill", (code,))
    for entry, (svc, reasons) in zip(out["uncovered"], res.uncovered):
        for rj, r in zip(entry["reasons"], reasons):
            node = ex.rule_node(r.rule_index, r.bindings, depth)
            rj["proof"] = node.to_json() if node else None
    return out
