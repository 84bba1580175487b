"""The explorer's one door to verdicts and their explanations.

Everything comes from the package's explainer (``cptkg.explain``), so the
explorer shows exactly what ``cptkg check --explain --json`` prints: proofs
down to the source sentence, why-not, and fixes re-checked by the rules.
"""
from __future__ import annotations

from typing import Any

from cptkg.judge.input import Encounter, InputError, parse_claims
from cptkg.explain import apply_suggestion, explain_claim
from cptkg.explain import explain_encounter as _explain_encounter
from cptkg.knowledge.loader import KnowledgeBase
from cptkg.engines import EvaluationError, EvaluationTimeout


def judge(kb: KnowledgeBase, data: Any, progress=None, engine=None) -> list[dict]:
    """Judge one claim object or a list; a claim that cannot be judged comes
    back as ``{"claim_id", "status": "error", "error"}`` beside the others.

    ``progress(done, total)`` is called after each claim.
    Raises InputError only when the input is not a claim or a list of claims.
    """
    claims, _ = parse_claims(data)
    out = []
    for i, c in enumerate(claims):
        if isinstance(c, InputError):
            out.append({"claim_id": c.claim_id or f"#{i + 1}", "status": "error", "error": str(c), "lines": [], "suggestions": []})
        else:
            try:
                out.append(explain_claim(kb, c, engine=engine).to_json())
            except (EvaluationTimeout, EvaluationError) as e:
                out.append({"claim_id": c.claim_id, "status": "error", "lines": [], "suggestions": [],
                            "error": f"claim {c.claim_id}: could not be judged: {e}"})
        if progress:
            progress(i + 1, len(claims))
    return out


def apply_fix(claim: dict, suggestion: dict) -> dict:
    """The claim (plain JSON) with a suggested fix applied."""
    return apply_suggestion(claim, suggestion)


def explain_encounter(kb: KnowledgeBase, enc: Encounter, engine=None) -> dict:
    """The code finder's result: codes with proofs, not-chosen codes with why-not."""
    return _explain_encounter(kb, enc, engine=engine)
