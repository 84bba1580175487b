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
    """The claim checker's line for ``code`` billed alone by the encounter's performer, by its route, with
    the encounter's device implanted a year before in the history: its verdict in words and its warnings,
    so the finder says what the checker says about the code it infers. (Without the device on record the
    checker warned "no implantation appears in the patient's history" about a device the user had just
    stated; found by an audit.)"""
    import datetime as dt

    date = encounter.get("date_of_service") or dt.date.today().isoformat()
    line = {"line": 1, "code": code, "date_of_service": date, "provider_id": "finder",
            "provider_role": encounter.get("performer_role", "")}
    if encounter.get("route"):
        line["route"] = encounter["route"]
    claim = {"claim_id": "finder", "patient_id": "finder", "lines": [line]}
    device = cptkg.vocabulary(kb).term("device", encounter.get("device") or "")
    history = cptkg.implanted_history(kb, device, date, "finder", billing=code)
    if history:
        claim["history"] = history
    res = cptkg.check(claim, kb=kb, engine=engine)
    return res["lines"][0] if res.get("lines") else {"status": res.get("status"), "warnings": [], "reasons": []}
