"""The JSON Schema of the claim and encounter JSON that ``cptkg check`` and ``cptkg infer`` read.

Integrators validate what they send before they send it; a schema written
by hand would drift from the parser. It is generated from the pydantic
models the parser validates with (:mod:`cptkg.claims.models`), and the values
the family pack accepts (roles, routes, devices, services) are filled in from
the loaded pack's vocabulary, so the schema and the parser cannot disagree
on a field, a limit or a value. What a schema cannot say (a real calendar
date, a claim id given twice in a list) the parser still checks.
"""
from __future__ import annotations

import copy

from cptkg.claims.models import DATE_PATTERN as _DATE

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://w3id.org/cptkg/schema/"
DATE_PATTERN = f"^{_DATE}$"  # the parser's own pattern, anchored

_DESCRIPTIONS = {
    "Claim": {
        "": "One claim: one patient's lines, each judged with the claim's other lines and its billed history.",
        "claim_id": "The claim's id (the provider's patient control number, CLM01 in an 837P).",
        "patient_id": "The patient (an 837P subscriber's member id); history is matched by it.",
        "lines": "The service lines, each with its own date of service and performer.",
        "history": "Services billed before this claim for the same patient: duplicates and edits apply across them.",
    },
    "ClaimLine": {
        "": "One service line.",
        "line": "The line number, unique within the claim.",
        "code": "The CPT or HCPCS Level II code billed (a string that is no such code is a denied line).",
        "date_of_service": "The date of service, YYYY-MM-DD.",
        "provider_id": "The rendering provider (an NPI); same-provider edits and duplicates compare it.",
        "provider_role": "The performer's role, one of the family pack's roles.",
        "units": "Units billed (whole number).",
        "modifiers": "CPT/HCPCS modifiers, in order (e.g. 59, 76, KD).",
        "route": "The route, one of the family pack's routes; when absent it is not checked "
                 "and the explanation says so.",
    },
    "HistoryEntry": {
        "": "One service billed before.",
        "code": "The CPT or HCPCS Level II code billed.",
        "date_of_service": "Its date of service, YYYY-MM-DD.",
        "provider_id": "Who performed it (an NPI), when known; without it same-provider edits cannot be told.",
    },
}


#: fields the parser reads null as absent (ClaimLine's model validator: the default applies), which the
#: schema must accept too, or an integrator's validator refuses what check takes
_NULL_MEANS_ABSENT = {"ClaimLine": ("units", "modifiers")}


def _vocabulary(kb) -> dict[str, list[str]]:
    from cptkg.knowledge.vocabulary import vocabulary

    vocab = vocabulary(kb)
    return {kind: vocab.values(kind) for kind in ("role", "route", "device", "service")}


def _fill(defs: dict, values: dict[str, list[str]]) -> None:
    for name, fields in _DESCRIPTIONS.items():
        model = defs.get(name)
        if model is None:
            continue
        model["description"] = fields[""]
        for field, text in fields.items():
            if field and field in model.get("properties", {}):
                model["properties"][field]["description"] = text
    for name, fields in _NULL_MEANS_ABSENT.items():
        props = defs.get(name, {}).get("properties", {})
        for field in fields:
            if field in props:
                prop = props[field]
                keep = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
                props[field] = {**keep, "anyOf": [prop, {"type": "null"}]}
    for model in defs.values():
        props = model.get("properties", {})
        for field, prop in props.items():
            if field == "date_of_service":
                prop.update(format="date", pattern=DATE_PATTERN)
            kind = {"provider_role": "role", "performer_role": "role", "route": "route", "device": "device"}.get(field)
            if kind and values.get(kind):
                target = next((a for a in prop.get("anyOf", []) if a.get("type") == "string"), prop)
                target["enum"] = list(values[kind])
            if field == "services" and values.get("service"):
                prop["items"]["enum"] = list(values["service"])


def _defs(model, kb) -> dict:
    """``model``'s schema and the models it uses, as ``$defs`` by model name, with the pack's values filled in."""
    raw = copy.deepcopy(model.model_json_schema(ref_template="#/$defs/{model}"))
    defs = raw.pop("$defs", {})
    defs[model.__name__] = raw
    _fill(defs, _vocabulary(kb))
    return defs


def claim_schema(kb) -> dict:
    """The schema of claim JSON: one claim object, or a non-empty list of them."""
    from cptkg.claims.models import Claim

    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_BASE + "claim.json",
            "title": "cptkg claim JSON (cptkg check)",
            "description": "One claim, or a list of claims, as cptkg check reads them.",
            "oneOf": [{"$ref": "#/$defs/Claim"},
                      {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Claim"}}],
            "$defs": _defs(Claim, kb)}


def encounter_schema(kb) -> dict:
    """The schema of encounter JSON (``cptkg infer``): one encounter object."""
    from cptkg.claims.models import Encounter

    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_BASE + "encounter.json",
            "title": "cptkg encounter JSON (cptkg infer)", "$ref": "#/$defs/Encounter",
            "$defs": _defs(Encounter, kb)}


SCHEMAS = {"claim": claim_schema, "encounter": encounter_schema}
