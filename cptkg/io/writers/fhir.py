"""Check results as FHIR R4 ClaimResponse resources (validated by fhir.resources).

One ClaimResponse per claim (a ``collection`` Bundle of them when the input
was a list): ``outcome`` complete (or error for a claim that could not be
judged), ``disposition`` in words, per item an ``adjudication`` whose
``reason`` is coded with the rule id and then the X12 claim adjustment reason code (CARC, system
:data:`CARC_SYSTEM`, with its group code in the text), and for each rejection an ``error``
with ``itemSequence`` and the rule id as code. Rule ids are codes of the
KB's rule code system :data:`RULES_SYSTEM`; messages go in ``processNote``.
"""
from __future__ import annotations

import json as _json
from datetime import datetime, timezone

from cptkg.knowledge.namespace import RULES

NAME = "fhir"
RULES_SYSTEM = RULES
INPUT_ERROR_SYSTEM = "https://w3id.org/cptkg/input-error"
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
# X12 external code lists, as HL7 names them
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC_SYSTEM = "https://x12.org/codes/remittance-advice-remark-codes"


def _rule_coding(reason: dict) -> dict:
    return {"system": RULES_SYSTEM, "code": reason["rule"], "display": reason["message"][:500]}


def claim_response(result: dict, patient_id: str | None = None, created: str | None = None) -> dict:
    """One ClaimResponse (as a dict) for one check result."""
    cid = str(result.get("claim_id") or "unknown")
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    resp: dict = {
        "resourceType": "ClaimResponse",
        "id": "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in f"{cid}-response")[:64],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE_SYSTEM, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{patient_id}"} if patient_id else {"display": "patient not given"},
        "created": created,
        "insurer": {"display": "cptkg compliance check (not a payer decision)"},
        "request": {"reference": f"Claim/{cid}"},
    }
    if result.get("status") == "error":
        resp["outcome"] = "error"
        resp["disposition"] = f"claim could not be judged: {result.get('error', '')}"[:1000]
        resp["error"] = [{"code": {"coding": [{"system": INPUT_ERROR_SYSTEM, "code": "input",
                                               "display": str(result.get("error", ""))[:500]}]}}]
        return resp
    lines = result.get("lines", [])
    rejected = [ln for ln in lines if ln.get("status") == "rejected"]
    resp["outcome"] = "complete"
    if rejected:
        which = ", ".join(f"line {ln['line']} ({ln['code']})" for ln in rejected)
        resp["disposition"] = f"{len(rejected)} of {len(lines)} lines rejected: {which}"
    else:
        resp["disposition"] = f"all {len(lines)} lines accepted"
    items, errors, notes = [], [], []
    for ln in lines:
        item: dict = {"itemSequence": ln["line"]}
        adjudication = []
        for reason in ln.get("reasons", []):
            coding = []
            if reason.get("carc"):
                coding.append({"system": CARC_SYSTEM, "code": reason["carc"]})
            if reason.get("rarc"):
                coding.append({"system": RARC_SYSTEM, "code": reason["rarc"]})
            text = f"rejected: {reason['group_code']}-{reason['carc']}" if reason.get("carc") else "rejected"
            adjudication.append({"category": {"coding": [{"system": ADJUDICATION_SYSTEM, "code": "submitted"}]},
                                 "reason": {"coding": [_rule_coding(reason)] + coding, "text": text}})
            errors.append({"itemSequence": ln["line"], "code": {"coding": [_rule_coding(reason)]}})
        if not adjudication:
            adjudication.append({"category": {"coding": [{"system": ADJUDICATION_SYSTEM, "code": "submitted"}]},
                                 "reason": {"text": "accepted"}})
        item["adjudication"] = adjudication
        numbers = []
        for kind, entries in (("rejected", ln.get("reasons", [])), ("warning", ln.get("warnings", []))):
            for entry in entries:
                notes.append({"number": len(notes) + 1, "type": "display",
                              "text": f"line {ln['line']} {kind} [{entry['rule']}]: {entry['message']}"})
                numbers.append(len(notes))
        for w in ln.get("why_not", []):  # explained results (--explain)
            notes.append({"number": len(notes) + 1, "type": "display",
                          "text": f"line {ln['line']} why not accepted: {w.get('message', '')}"})
            numbers.append(len(notes))
        if numbers:
            item["noteNumber"] = numbers
        items.append(item)
    for i, fix in enumerate(result.get("suggestions", []), 1):
        notes.append({"number": len(notes) + 1, "type": "display",
                      "text": f"suggested fix {i} (re-checked by the rules): {fix.get('message', '')}"})
    resp["item"] = items
    if errors:
        resp["error"] = errors
    if notes:
        resp["processNote"] = notes
    return resp


def validate(resource: dict) -> None:
    """Raise pydantic's ValidationError unless fhir.resources accepts the resource."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.claimresponse import ClaimResponse

    (ClaimResponse if resource["resourceType"] == "ClaimResponse" else Bundle).model_validate(resource)


def write(results: list[dict], claims: list[dict] | None = None, was_list: bool = True,
          created: str | None = None, **_context) -> str:
    patients = {str(c.get("claim_id")): c.get("patient_id") for c in claims or [] if isinstance(c, dict)}
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    responses = [claim_response(r, patients.get(str(r.get("claim_id"))), created) for r in results]
    if not was_list and len(responses) == 1:
        doc = responses[0]
    else:
        doc = {"resourceType": "Bundle", "type": "collection", "timestamp": created,
               "entry": [{"fullUrl": f"urn:cptkg:ClaimResponse:{r['id']}", "resource": r} for r in responses]}
    validate(doc)
    from cptkg.controls import json_safe  # control characters as JSON's escape: the values unchanged

    return json_safe(_json.dumps(doc, indent=2, ensure_ascii=False))
