"""Claim JSON: one claim object or a list, exactly the ``cptkg check`` input."""
from __future__ import annotations


from cptkg.claims.models import load_json, one_line
from cptkg.io.readers import ReadError, ReadResult, peek_json

NAME = "json"


def detect(data: bytes | object) -> bool:
    obj = peek_json(data) if isinstance(data, bytes) else data
    if isinstance(obj, dict):
        return "resourceType" not in obj
    # a list of claims, some of them not objects (null, a string): each of those is its own claim's error,
    # as in check, so batch too reads the file and judges the rest (an attack audit: batch refused it whole)
    return (isinstance(obj, list) and any(isinstance(x, dict) for x in obj)
            and not any(isinstance(x, dict) and "resourceType" in x for x in obj))


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    obj = load_json(data, source)
    if isinstance(obj, dict):
        kind = obj.get("resourceType")
        if isinstance(kind, str):  # --input-format json forced on FHIR: it was "claim, field claim_id: is missing"
            raise ReadError(f"{source}: a FHIR resource (resourceType {one_line(kind)[:40]}), not claim JSON: "
                            f"read it as FHIR (--input-format fhir, or no --input-format)")
        return ReadResult([obj], was_list=False)
    if isinstance(obj, list):
        fhir = fhir_list_problem(obj)
        if fhir:
            raise ReadError(f"{source}: {fhir}")
        return ReadResult(list(obj), was_list=True)
    raise ReadError(f"{source}: expected a claim object or a list of claims")


def fhir_list_problem(obj) -> str | None:
    """Why a JSON list of FHIR resources is not read: FHIR sends several resources as a Bundle, and read
    as claim JSON each Claim was "claim, field claim_id: is missing" (an audit)."""
    if not isinstance(obj, list):
        return None
    kinds = sorted({x["resourceType"] for x in obj if isinstance(x, dict) and isinstance(x.get("resourceType"), str)})
    if not kinds:
        return None
    return (f"a JSON list of FHIR resources ({', '.join(k[:40] for k in kinds[:3])}): FHIR sends several Claims "
            f"as a Bundle (resourceType Bundle, one entry per resource); give a Bundle, or one Claim per file")
