"""Check results as FHIR R4 ClaimResponse resources (validated by fhir.resources).

One ClaimResponse per claim (a ``collection`` Bundle of them when the input
was a list): ``outcome`` complete (or error for a claim that could not be
judged), ``disposition`` in words, per item an ``adjudication`` whose
``reason`` is coded with the rule id and then the X12 claim adjustment reason code (CARC, system
:data:`CARC_SYSTEM`, with its group code in the text), and for each rejection an ``error``
with ``itemSequence`` and the rule id as code. Rule ids are codes of the
KB's rule code system :data:`RULES_SYSTEM`, each with the display that code system gives it (the
rule's title, as ``cptkg export -f fhir`` publishes it); messages go in ``processNote`` and in the
error code's ``text``.

Built with fhir.resources' R4B models, so a resource FHIR would refuse is never
written. ``request`` names the Claim as the input did: ``Claim/<id>`` when the
Claim had an id, ``request.identifier`` when it had only a business identifier
(a Reference's ``reference`` is a resource address, not an identifier);
``patient`` likewise (a contained or bundled Patient, which the response does
not carry, is named by the identifier the reader took as the patient id). The
Bundle's entries have ``urn:uuid:`` fullUrls (FHIR wants an absolute URL or a
UUID URN), a UUID v5 of the claim id so that the same input gives the same output.

A line no rule of the pack covers (``"checked": false``, issue 23) is not adjudicated, so it must
not read as approved: its item's adjudication reason says "not checked (outside the knowledge
base)", the disposition counts it apart, and a claim with such a line has ``outcome`` ``partial``,
which FHIR R4 defines as "No errors have been detected and some of the adjudication has been
performed" (code system http://hl7.org/fhir/remittance-outcome; ``complete`` is "The processing
completed without errors", which a claim judged whole keeps, rejected lines or not). Each CARC
coding carries its short description as ``display`` (core knowledge/carc.yaml).
"""
from __future__ import annotations

from cptkg.io.writers import why_not_words

import hashlib
import json as _json
import re
import uuid
from datetime import datetime, timezone

from cptkg.io.writers import not_checked
from cptkg.knowledge.namespace import CARC_SYSTEM, INPUT_ERROR_DISPLAY, INPUT_ERROR_SYSTEM, RULES  # noqa: F401

NAME = "fhir"
RULES_SYSTEM = RULES
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
# X12 external code lists, as HL7 names them
RARC_SYSTEM = "https://x12.org/codes/remittance-advice-remark-codes"
# the namespace of the entries' urn:uuid: fullUrls (UUID v5 of the claim id)
FULL_URL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/cptkg/ClaimResponse")


def _coding(system: str, code: str, display: str | None = None):
    from fhir.resources.R4B.coding import Coding

    return Coding(system=system, code=code, display=display)


def _concept(codings: list, text: str | None = None):
    from fhir.resources.R4B.codeableconcept import CodeableConcept

    return CodeableConcept(coding=codings or None, text=text)


def _rule_coding(reason: dict):
    """The rule as a code of the pack's rules CodeSystem, with the display that CodeSystem gives it (the
    rule's title, ``cptkg export -f fhir``): the message naming this claim's lines is text, not a display
    a terminology server would check against the code system."""
    return _coding(RULES_SYSTEM, reason["rule"], (reason.get("title") or reason["rule"])[:500])


def _reference(ref: dict | None, fallback: dict):
    """A Reference from how the input named the resource (reference or identifier), else ``fallback``."""
    from fhir.resources.R4B.reference import Reference

    return Reference.model_validate(ref or fallback)


_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def response_id(claim_id: str) -> str:
    """The ClaimResponse's id: ``<claim id>-response`` when that is a FHIR id (letters, digits, '-' and '.', at
    most 64), else the claim id's id characters and a digest of the whole id, so that "CLM 1", "CLM/1" and
    "CLM_1" do not all answer as ``CLM-1-response``."""
    plain = f"{claim_id}-response"
    if _FHIR_ID.fullmatch(plain):
        return plain
    digest = hashlib.sha256(claim_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    kept = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-.") else "-" for ch in claim_id)[:40]
    return f"{kept}-{digest}-response"


def _local_reference(kind: str, ident: str) -> dict:
    """``Claim/<id>`` when the id is a FHIR id; else the id as a business identifier (a reference must be a
    resource type and a FHIR id, and "Claim/CLM/1" names another resource)."""
    if _FHIR_ID.fullmatch(ident):
        return {"reference": f"{kind}/{ident}"}
    return {"type": kind, "identifier": {"value": ident}}


def claim_response_model(result: dict, patient_id: str | None = None, created: str | None = None,
                         request: dict | None = None, patient: dict | None = None):
    """One ClaimResponse, built (and so validated) with fhir.resources' R4B models.

    ``request`` and ``patient`` are how the FHIR Claim named itself and its patient
    (:class:`cptkg.io.readers.fhir.FhirClaim`): a Claim that had only a business
    identifier is answered with ``request.identifier``, as FHIR's Reference
    means it; without them, ``Claim/<claim id>`` and ``Patient/<patient id>``.
    """
    from fhir.resources.R4B.claimresponse import (ClaimResponse, ClaimResponseError, ClaimResponseItem,
                                                   ClaimResponseItemAdjudication, ClaimResponseProcessNote)
    from fhir.resources.R4B.reference import Reference

    cid = str(result.get("claim_id") or "unknown")
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if patient is None:
        patient = _local_reference("Patient", patient_id) if patient_id else {"display": "patient not given"}
    fields: dict = {
        "id": response_id(cid),
        "status": "active",
        "type": _concept([_coding(CLAIM_TYPE_SYSTEM, "professional")]),
        "use": "claim",
        "patient": _reference(patient, {"display": "patient not given"}),
        "created": created,
        "insurer": Reference(display="cptkg compliance check (not a payer decision)"),
        # a claim that gave no id is named by no reference: "Claim/unknown" named a real claim of that id (a
        # hostile-files audit: that claim got two responses, its own and this error)
        "request": _reference(request, _local_reference("Claim", cid) if result.get("claim_id")
                              else {"display": "a claim that gave no id"}),
    }
    if result.get("status") == "error":
        fields["outcome"] = "error"
        fields["disposition"] = f"claim could not be judged: {result.get('error', '')}"[:1000]
        fields["error"] = [ClaimResponseError(code=_concept([_coding(INPUT_ERROR_SYSTEM, "input", INPUT_ERROR_DISPLAY)],
                                                            str(result.get("error", ""))[:1000]))]
        return ClaimResponse(**fields)
    lines = result.get("lines", [])
    rejected = [ln for ln in lines if ln.get("status") == "rejected"]
    unchecked = [ln for ln in lines if not_checked(ln)]
    fields["outcome"] = "partial" if unchecked else "complete"
    if rejected:
        which = ", ".join(f"line {ln['line']} ({ln['code']})" for ln in rejected)
        fields["disposition"] = f"{len(rejected)} of {len(lines)} lines rejected: {which}"
    elif unchecked:
        fields["disposition"] = f"{len(lines) - len(unchecked)} of {len(lines)} lines accepted"
    else:
        fields["disposition"] = f"all {len(lines)} lines accepted"
    if unchecked:
        which = ", ".join(f"line {ln['line']} ({ln['code']})" for ln in unchecked)
        fields["disposition"] += f"; {len(unchecked)} not checked (outside the knowledge base): {which}"
    submitted = _concept([_coding(ADJUDICATION_SYSTEM, "submitted")])
    items, errors, notes = [], [], []
    for ln in lines:
        adjudication = []
        for reason in ln.get("reasons", []):
            coding = [_rule_coding(reason)]
            if reason.get("carc"):
                words = reason.get("carc_description")
                if words is None:
                    from cptkg.knowledge.carc import carc_description

                    words = carc_description(reason["carc"])
                coding.append(_coding(CARC_SYSTEM, reason["carc"], words or None))
            if reason.get("rarc"):
                coding.append(_coding(RARC_SYSTEM, reason["rarc"]))
            text = f"rejected: {reason['group_code']}-{reason['carc']}" if reason.get("carc") else "rejected"
            adjudication.append(ClaimResponseItemAdjudication(category=submitted, reason=_concept(coding, text)))
            errors.append(ClaimResponseError(itemSequence=ln["line"],
                                             code=_concept([_rule_coding(reason)], reason["message"][:1000])))
        if not adjudication:
            said = "accepted"
            if not_checked(ln):  # the verdict in words when it says so, never "accepted"
                verdict = str(ln.get("verdict") or "")
                said = verdict if verdict.startswith("not checked") else "not checked (outside the knowledge base)"
            adjudication.append(ClaimResponseItemAdjudication(category=submitted, reason=_concept([], said)))
        numbers = []
        for kind, entries in (("rejected", ln.get("reasons", [])), ("warning", ln.get("warnings", []))):
            for entry in entries:
                notes.append(ClaimResponseProcessNote(number=len(notes) + 1, type="display",
                                                      text=f"line {ln['line']} {kind} [{entry['rule']}]: {entry['message']}"))
                numbers.append(len(notes))
        for w in why_not_words(ln) if ln.get("status") == "rejected" else ():  # explained results (--explain)
            notes.append(ClaimResponseProcessNote(number=len(notes) + 1, type="display",
                                                  text=f"line {ln['line']} why not accepted: {w}"))
            numbers.append(len(notes))
        items.append(ClaimResponseItem(itemSequence=ln["line"], adjudication=adjudication, noteNumber=numbers or None))
    for i, fix in enumerate(result.get("suggestions", []), 1):
        notes.append(ClaimResponseProcessNote(number=len(notes) + 1, type="display",
                                              text=f"suggested fix {i} (re-checked by the rules): {fix.get('message', '')}"))
    fields["item"] = items or None
    fields["error"] = errors or None
    fields["processNote"] = notes or None
    return ClaimResponse(**fields)


def claim_response(result: dict, patient_id: str | None = None, created: str | None = None,
                   request: dict | None = None, patient: dict | None = None) -> dict:
    """One ClaimResponse as FHIR JSON (a dict), built with the models (:func:`claim_response_model`)."""
    return _json.loads(claim_response_model(result, patient_id, created, request, patient).model_dump_json())


def validate(resource: dict) -> None:
    """Raise pydantic's ValidationError unless fhir.resources accepts the resource."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.claimresponse import ClaimResponse

    (ClaimResponse if resource["resourceType"] == "ClaimResponse" else Bundle).model_validate(resource)


def full_url(claim_id: str, taken: set[str] | None = None) -> str:
    """The Bundle entry's ``fullUrl``: ``urn:uuid:`` + a UUID v5 of the claim id, so the same input
    gives the same output; a repeated claim id (say, two claims that had none) gets ``#2``, ``#3`` ..."""
    taken = taken if taken is not None else set()
    name, n = claim_id, 1
    while True:
        url = f"urn:uuid:{uuid.uuid5(FULL_URL_NAMESPACE, name)}"
        if url not in taken:
            taken.add(url)
            return url
        n += 1
        name = f"{claim_id}#{n}"


def write(results: list[dict], claims: list | None = None, was_list: bool = True,
          created: str | None = None, **_context) -> str:
    from fhir.resources.R4B.bundle import Bundle, BundleEntry

    named: dict[str, tuple] = {}  # claim id -> (patient id, how the Claim named itself, how it named the patient)
    for c in claims or []:
        if isinstance(c, dict):
            named.setdefault(str(c.get("claim_id")), (c.get("patient_id"), getattr(c, "request", None),
                                                      getattr(c, "patient", None)))
        elif getattr(c, "claim_id", None) is not None:  # a claim a reader could not read (its error entry)
            named.setdefault(str(c.claim_id), (None, getattr(c, "request", None), None))
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    responses = []
    ids: set[str] = set()
    for r in results:
        patient_id, request, patient = named.get(str(r.get("claim_id")), (None, None, None))
        resp = claim_response_model(r, patient_id, created, request, patient)
        n, base = 1, resp.id
        while resp.id in ids:  # one claim id given twice in the file: each response keeps an id of its own
            n += 1
            resp.id = f"{base[:60 - len(str(n))]}-{n}"
        ids.add(resp.id)
        responses.append(resp)
    if not was_list and len(responses) == 1:
        doc = responses[0]
    else:
        taken: set[str] = set()
        doc = Bundle(type="collection", timestamp=created,
                     entry=[BundleEntry(fullUrl=full_url(str(r.get("claim_id") or "unknown"), taken), resource=resp)
                            for r, resp in zip(results, responses)])
    from cptkg.controls import json_safe  # control characters as JSON's escape: the values unchanged

    return json_safe(doc.model_dump_json(indent=2))
