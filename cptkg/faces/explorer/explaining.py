"""The explorer's one door to verdicts and their explanations.

Everything comes from the package's explainer (``cptkg.explain``), so the
explorer shows exactly what ``cptkg check --explain --json`` prints: proofs
down to the source sentence, why-not, and fixes re-checked by the rules.
"""
from __future__ import annotations

from typing import Any

import cptkg
from cptkg import Encounter, KnowledgeBase, apply_suggestion


def judge(kb: KnowledgeBase, data: Any, progress=None, engine=None) -> list[dict]:
    """Judge and explain one claim object or a list, through the pipeline; a claim
    that cannot be judged comes back as ``{"claim_id", "status": "error", "error"}``
    beside the others.

    ``progress(done, total)`` is called after each claim.
    Raises InputError only when the input is not a claim or a list of claims.
    """
    if not isinstance(data, (dict, list)):
        cptkg.parse_claims(data, kb=kb)  # refuses it, in the words cptkg check uses
    return cptkg.judge_claims(kb, data if isinstance(data, list) else [data], explain=True, progress=progress,
                              engine=engine)


def apply_fix(claim: dict, suggestion: dict) -> dict:
    """The claim (plain JSON) with a suggested fix applied."""
    return apply_suggestion(claim, suggestion)


def explain_encounter(kb: KnowledgeBase, enc: Encounter, engine=None) -> dict:
    """The code finder's result: codes with proofs, not-chosen codes with why-not."""
    return cptkg.infer(enc, kb=kb, explain=True, engine=engine)


def as_billed(kb: KnowledgeBase, code: str, encounter: dict, engine=None) -> dict:
    """The claim checker's line for ``code`` billed by the encounter's performer (:func:`cptkg.pipeline.as_billed`,
    the line ``cptkg infer`` shows with each code)."""
    from cptkg.faces.explorer.common import current_engine

    return cptkg.as_billed(kb, code, encounter, engine=engine or current_engine())
