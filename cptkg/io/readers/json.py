"""Claim JSON: one claim object or a list, exactly the ``cptkg check`` input."""
from __future__ import annotations


from cptkg.claims.models import load_json
from cptkg.io.readers import ReadError, ReadResult, peek_json

NAME = "json"


def detect(data: bytes | object) -> bool:
    obj = peek_json(data) if isinstance(data, bytes) else data
    if isinstance(obj, dict):
        return "resourceType" not in obj
    return isinstance(obj, list) and all(isinstance(x, dict) and "resourceType" not in x for x in obj)


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    obj = load_json(data, source)
    if isinstance(obj, dict):
        return ReadResult([obj], was_list=False)
    if isinstance(obj, list):
        return ReadResult(list(obj), was_list=True)
    raise ReadError(f"{source}: expected a claim object or a list of claims")
