"""The small synthetic claims the questions judge with ``check``, so an answer is what the rules say.

One patient and one provider, and where a code applies to a device, that
device implanted a year before: the smallest claim the rules accept, so a
denial is about the code, performer or pair asked of, not the setting.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cptkg.claims.models import InputError, parse_claims
from cptkg.judge.check import check_claims
from cptkg.judge.questions.reading import _facts
from cptkg.judge.questions.wording import QuestionError, _article
from cptkg.knowledge.loader import KnowledgeBase

# the synthetic claims' patient and provider: one of each, so that every edit scope applies
_PATIENT, _PROVIDER = "question-patient", "question-provider"
# how long before the date of service the device of a synthetic claim was implanted
_IMPLANTED_BEFORE = dt.timedelta(days=365)


@dataclass(frozen=True)
class _Setup:
    """What a synthetic claim's patient has on record: a device implanted by ``implant`` before the date."""

    device: str | None = None
    implant: str | None = None

    def words(self, kb: KnowledgeBase) -> str:
        if self.device is None:
            return "no device in the patient's history"
        return f"{_article(kb.label(self.device))} implanted ({self.implant}) a year before in the patient's history"


def implanting_codes(kb: KnowledgeBase, device: str | None) -> list[str]:
    """The codes that implant ``device`` (a KB term), in code order."""
    return sorted(c for c, d in _facts(kb).get("implants_device", ()) if d == device)


def implanted_history(kb: KnowledgeBase, device: str | None, date: str, provider_id: str,
                      billing: str | None = None) -> list[dict]:
    """The patient's history of a claim for ``device``: its implantation a year before ``date``, by the first
    code that implants it. Empty when no code implants it, or when the code ``billing`` is itself one: such a
    claim bills the implantation. The questions and the explorer's code finder set up their claims with it,
    so that a device the user states is on record, not warned about as missing."""
    implants = implanting_codes(kb, device)
    if not implants or billing in implants:
        return []
    return [_implantation(implants[0], date, provider_id)]


def _implantation(code: str, date: str, provider_id: str) -> dict:
    """The history entry of an implantation by ``code`` a year before ``date``."""
    before = (dt.date.fromisoformat(date) - _IMPLANTED_BEFORE).isoformat()
    return {"code": code, "date_of_service": before, "provider_id": provider_id}


def _setup_for(kb: KnowledgeBase, codes: list[str]) -> _Setup | None:
    """A history that lets every code of ``codes`` be billed: a device all of them apply to, implanted before.

    None when no device the KB knows an implanting code for fits them all.
    Codes that name no device need none.
    """
    restricted = [{d for c, d in _facts(kb).get("applies_to_device", ()) if c == code} for code in codes]
    restricted = [s for s in restricted if s]
    if not restricted:
        return _Setup()
    for device in sorted(set.intersection(*restricted)):
        implants = implanting_codes(kb, device)
        if implants:
            return _Setup(device, implants[0])
    return None


def required_modifiers(kb: KnowledgeBase) -> dict[str, list[str]]:
    """Code -> the modifiers its code requires on a line (``requires_modifier`` facts, e.g. a drug's modifier)."""
    out: dict[str, list[str]] = {}
    for code, mod in sorted(_facts(kb).get("requires_modifier", ())):
        out.setdefault(code, []).append(mod)
    return out


def _claim(cid: str, lines: list[tuple[str, str]], date: str, setup: _Setup) -> dict:
    claim = {"claim_id": cid, "patient_id": _PATIENT,
             "lines": [{"line": i, "code": code, "date_of_service": date, "provider_id": _PROVIDER,
                        "provider_role": role} for i, (code, role) in enumerate(lines, start=1)]}
    if setup.implant:
        claim["history"] = [_implantation(setup.implant, date, _PROVIDER)]
    return claim


#: claims of one question per engine call: each carries the edits naming its codes, so with a
#: payer's table loaded 500 at once rendered 1,000 edits 500 times over (1.3 GB, then MemoryError)
_ASK_BATCH = 50


def _judge(kb: KnowledgeBase, claims: list[dict], engine=None) -> list:
    """The claims judged by ``check`` (one engine call where the engine batches)."""
    if not claims:
        return []
    # each line carries the modifiers its code requires (a drug given through the device, say):
    # a question about a pair or a performer is not answered by a modifier the synthetic line left out (a
    # coder's audit: "not-with" a drug named the refills it belongs with, each denying the drug for its modifier)
    needs = required_modifiers(kb)
    for claim in claims:
        for line in claim["lines"]:
            if needs.get(line["code"]):
                line["modifiers"] = list(dict.fromkeys(list(line.get("modifiers", [])) + needs[line["code"]]))
    parsed, _ = parse_claims(claims, kb=kb)
    bad = next((c for c in parsed if isinstance(c, InputError)), None)
    if bad is not None:  # a code the claim input refuses (never one of the KB's)
        raise QuestionError("code", str(bad))
    import time

    from cptkg.limits import ASK_SECONDS

    try:  # every claim of one question within one time limit (the engine's child is killed at it)
        results = check_claims(kb, parsed, engine=engine, timeout=ASK_SECONDS,
                               deadline=time.monotonic() + ASK_SECONDS, batch_size=_ASK_BATCH)
    except MemoryError:
        raise QuestionError("rules", f"answering needs more memory than this machine gives it ({len(parsed):,} "
                                     f"claims to judge); ask about fewer codes or load fewer edits") from None
    failed = next((r for r in results if r.error is not None), None)
    if failed is not None and failed.error_cause == "pack-rules":  # not the question's size: the pack's
        raise QuestionError("rules", failed.error.split(": could not be judged: ", 1)[-1])
    if failed is not None and failed.error_cause == "time":
        raise QuestionError("rules", f"the question could not be answered within {ASK_SECONDS:g} s (it judges "
                                     f"{len(parsed):,} claims); ask about fewer codes or load fewer edits")
    if failed is not None:
        raise QuestionError("rules", failed.error)
    return results


def billed_alone(kb: KnowledgeBase, code: str, encounter, *, engine: str | None) -> dict:
    """The claim checker's line for ``code`` billed alone by the encounter's performer, on its date, by its
    route, with the encounter's device implanted a year before in the history: its status, verdict in words,
    reasons and warnings. So an inferred code comes with what the checker will say of it (a performer no
    source lists, clinical staff billing under a supervising physician), and so does each code ``ask
    codes-for`` finds. Without the device on record the checker warned "no implantation appears in the
    patient's history" about a device the user had just stated (found by an audit of the explorer's code
    finder)."""
    from cptkg.knowledge.vocabulary import vocabulary

    get = encounter.get if isinstance(encounter, dict) else (lambda k, d=None: getattr(encounter, k, d))
    date = get("date_of_service") or dt.date.today().isoformat()
    line = {"line": 1, "code": code, "date_of_service": date, "provider_id": "encounter",
            "provider_role": get("performer_role") or ""}
    if get("route"):
        line["route"] = get("route")
    claim = {"claim_id": "encounter", "patient_id": "encounter", "lines": [line]}
    device = vocabulary(kb).term("device", get("device") or "")
    history = implanted_history(kb, device, date, "encounter", billing=code)
    if history:
        claim["history"] = history
    parsed = parse_claims([claim], kb=kb)[0][0]
    if isinstance(parsed, InputError):
        return {"status": "error", "verdict": str(parsed), "reasons": [], "warnings": []}
    res = check_claims(kb, [parsed], engine=engine)[0].to_json()
    if not res.get("lines"):  # not judged (its time limit): the claim's status and error
        return {"status": res.get("status"), "verdict": res.get("error") or res.get("status"), "reasons": [],
                "warnings": []}
    ln = res["lines"][0]
    return {k: ln[k] for k in ("status", "verdict", "reasons", "warnings") if k in ln}
