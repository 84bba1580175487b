"""The explorer's one door to verdicts and their explanations.

Uses the package's explainer (``cptkg.explain``) for proofs, why-not and
verified fixes. A checkout without it still judges claims (``cptkg.check``):
verdicts and reasons with their sources, no proof trees and no fixes — the
page says so rather than pretending.
"""
from __future__ import annotations

import copy
from typing import Any

from ..check import check_claim
from ..claims import Claim, InputError, parse_claims
from ..kb import KnowledgeBase

try:  # the explainer (issue 3)
    from .. import explain as _explain
except ImportError:  # pragma: no cover - depends on the checkout
    _explain = None

HAS_EXPLAINER = _explain is not None


def judge_one(kb: KnowledgeBase, claim: Claim) -> dict:
    """One validated claim's verdicts with explanations (JSON shape of ``cptkg check --explain --json``)."""
    if _explain is not None:
        return _explain.explain_claim(kb, claim).to_json()
    out = check_claim(kb, claim).to_json()
    out["suggestions"] = []
    return out


def judge(kb: KnowledgeBase, data: Any, progress=None) -> list[dict]:
    """Judge one claim object or a list; a claim that cannot be judged comes
    back as ``{"claim_id", "status": "error", "error"}`` beside the others.

    ``progress(done, total)`` is called after each claim (the batch page's bar).
    Raises InputError only when the input is not a claim or a list of claims.
    """
    claims, _ = parse_claims(data)
    out = []
    for i, c in enumerate(claims):
        if isinstance(c, InputError):
            out.append({"claim_id": c.claim_id or f"#{i + 1}", "status": "error", "error": str(c), "lines": [], "suggestions": []})
        else:
            out.append(judge_one(kb, c))
        if progress:
            progress(i + 1, len(claims))
    return out


def apply_fix(claim: dict, suggestion: dict) -> dict:
    """The claim (plain JSON) with a suggested fix applied."""
    if _explain is not None and hasattr(_explain, "apply_suggestion"):
        return _explain.apply_suggestion(claim, suggestion)
    out = copy.deepcopy(claim)
    rm = set(suggestion.get("remove_lines", []))
    out["lines"] = sorted([l for l in out["lines"] if l["line"] not in rm] + copy.deepcopy(suggestion.get("add_lines", [])),
                          key=lambda l: l["line"])
    return out


def explain_encounter(kb: KnowledgeBase, enc) -> dict:
    """The code finder's result: codes with proofs, not-chosen codes with why-not."""
    if _explain is not None and hasattr(_explain, "explain_encounter"):
        return _explain.explain_encounter(kb, enc)
    from ..infer import infer_codes

    return infer_codes(kb, enc).to_json()
