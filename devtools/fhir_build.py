"""Claim JSON -> the FHIR R4 Bundle an EHR would send for it, so every rule case can be checked as FHIR.

The shape is the one EHRs send and cptkg/io/readers/fhir.py must read: a
``collection`` Bundle with ``urn:uuid:`` fullUrls; the Patient as its own entry
with the member id as an ``MB`` identifier (HL7 v2 table 0203); the Claim
naming the patient by that fullUrl; each distinct performer a *contained*
Practitioner with an NPI identifier (``http://hl7.org/fhir/sid/us-npi``) and
its NUCC taxonomy as ``Practitioner.qualification`` (or on
``careTeam.qualification``, ``qualification_on="careTeam"``); care-team
members with the ``primary`` role (claimcareteamrole); a supervising physician
no item names (``supervisor=True``) as EHRs add; CPT or HCPCS Level II codings
by the code's form; the route as the cptkg route extension; and the history
as Procedure resources performed by bundled Practitioners.

Every value comes from the claim; the NPI is the claim's ``provider_id`` as
given (synthetic in tests). The taxonomy of each role is the pack's own mapping
(:func:`role_taxonomy`).
"""
from __future__ import annotations

import re
import uuid

from cptkg.io.readers.fhir import (CARE_TEAM_ROLE_SYSTEM, CPT_SYSTEM, HCPCS_SYSTEM, IDENTIFIER_TYPE_SYSTEM,
                                   NPI_SYSTEM, NUCC_SYSTEM, ROUTE_EXTENSION, nucc_role)

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/cptkg/devtools/fhir_build")
# physicians: the pack maps only the grouping prefix "20"; this code is the domain notes' example
# ("208VP0014X Interventional Pain Medicine", section "Real files billing offices and payers exchange")
PHYSICIAN_EXAMPLE = "208VP0014X"
HCPCS_FORM = re.compile("[A-V][0-9]{4}")


def _urn(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, '|'.join(parts))}"


def role_taxonomy(role: str, kb=None) -> str:
    """A NUCC code the pack maps to ``role``: its first listed ``...00000X`` code, else any listed code,
    else (physician) the domain notes' example; always checked against the pack's own mapping."""
    from cptkg.knowledge.loader import default_kb
    from cptkg.knowledge.vocabulary import vocabulary

    vocab = vocabulary(kb or default_kb())
    codes = sorted((c for c, r in vocab.taxonomy.items() if r == role), key=lambda c: (not c.endswith("00000X"), c))
    code = codes[0] if codes else PHYSICIAN_EXAMPLE
    if nucc_role(code, kb) != role:
        raise ValueError(f"the pack maps no NUCC taxonomy code to the role {role!r}")
    return code


def _coding(code: str) -> dict:
    system = HCPCS_SYSTEM if HCPCS_FORM.fullmatch(code) else CPT_SYSTEM
    return {"coding": [{"system": system, "code": code}]}


def _practitioner(rid: str, npi: str, taxonomy: str | None) -> dict:
    res = {"resourceType": "Practitioner", "id": rid, "identifier": [{"system": NPI_SYSTEM, "value": npi}]}
    if taxonomy:
        res["qualification"] = [{"code": {"coding": [{"system": NUCC_SYSTEM, "code": taxonomy}]}}]
    return res


def claim_resource(claim: dict, patient_ref: dict, kb=None, qualification_on: str = "Practitioner",
                   supervisor: bool = True) -> dict:
    """The FHIR Claim for one claim dict (claim JSON contract), naming the patient by ``patient_ref``."""
    performers: dict[tuple, int] = {}
    contained, team = [], []
    for ln in claim["lines"]:
        key = (ln["provider_id"], ln["provider_role"])
        if key not in performers:
            seq = performers[key] = len(performers) + 1
            taxonomy = role_taxonomy(ln["provider_role"], kb)
            contained.append(_practitioner(f"pr{seq}", ln["provider_id"],
                                           taxonomy if qualification_on == "Practitioner" else None))
            member = {"sequence": seq, "provider": {"reference": f"#pr{seq}"},
                      "role": {"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": "primary"}]}}
            if qualification_on == "careTeam":
                member["qualification"] = {"coding": [{"system": NUCC_SYSTEM, "code": taxonomy}]}
            team.append(member)
    if supervisor:  # named by no item: must be ignored (it has a role but no qualification)
        seq = len(team) + 1
        contained.append({"resourceType": "Practitioner", "id": "supervisor",
                          "identifier": [{"system": NPI_SYSTEM, "value": "SYNTHETIC-SUPERVISOR"}]})
        team.append({"sequence": seq, "provider": {"reference": "#supervisor"},
                     "role": {"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": "supervisor"}]}})
    items = []
    for ln in claim["lines"]:
        item = {"sequence": ln["line"], "careTeamSequence": [performers[(ln["provider_id"], ln["provider_role"])]],
                "productOrService": _coding(ln["code"]), "servicedDate": ln["date_of_service"],
                "quantity": {"value": ln.get("units", 1)}}
        if ln.get("modifiers"):
            item["modifier"] = [{"coding": [{"system": CPT_SYSTEM, "code": m}]} for m in ln["modifiers"]]
        if ln.get("route"):
            item["extension"] = [{"url": ROUTE_EXTENSION, "valueCode": ln["route"]}]
        items.append(item)
    created = min(ln["date_of_service"] for ln in claim["lines"])
    return {"resourceType": "Claim", "id": claim["claim_id"], "contained": contained, "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "use": "claim", "patient": patient_ref, "created": created,
            "provider": {"display": "SYNTHETIC billing practice"},
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "SYNTHETIC coverage"}}],
            "careTeam": team, "item": items}


def bundle(claims: dict | list[dict], kb=None, qualification_on: str = "Practitioner",
           supervisor: bool = True) -> dict:
    """An EHR-shaped Bundle of one or several claim dicts, their patients and their history.

    Claims of one patient share that patient's Procedures (a Bundle's history
    belongs to the patient, not to a claim), so give each case its own Bundle
    when two cases of one patient carry different histories.
    """
    claims = [claims] if isinstance(claims, dict) else list(claims)
    entries, patients, practitioners = [], {}, {}
    for c in claims:
        pid = c["patient_id"]
        if pid not in patients:
            patients[pid] = _urn("Patient", pid)
            entries.append({"fullUrl": patients[pid], "resource": {
                "resourceType": "Patient", "identifier": [{
                    "type": {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": "MB"}]},
                    "system": "https://payer.example/member-id", "value": pid}]}})
    for c in claims:
        entries.append({"fullUrl": _urn("Claim", c["claim_id"]),
                        "resource": claim_resource(c, {"reference": patients[c["patient_id"]]}, kb,
                                                   qualification_on, supervisor)})
    seen = set()
    for c in claims:
        for n, h in enumerate(c.get("history") or []):
            key = (c["patient_id"], h["code"], h["date_of_service"], h.get("provider_id"))
            if key in seen:
                continue
            seen.add(key)
            proc = {"resourceType": "Procedure", "status": "completed", "code": _coding(h["code"]),
                    "subject": {"reference": patients[c["patient_id"]]}, "performedDateTime": h["date_of_service"]}
            if h.get("provider_id"):
                npi = h["provider_id"]
                if npi not in practitioners:
                    practitioners[npi] = _urn("Practitioner", npi)
                    entries.append({"fullUrl": practitioners[npi], "resource": _practitioner(
                        f"hist-{len(practitioners)}", npi, None)})
                proc["performer"] = [{"actor": {"reference": practitioners[npi]}}]
            entries.append({"fullUrl": _urn("Procedure", c["claim_id"], str(n)), "resource": proc})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
