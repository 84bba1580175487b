"""The ``cptkg check --json`` output: one object, or a list when the input was a list."""
from __future__ import annotations

import json as _json

NAME = "json"


def write(results: list[dict], was_list: bool = True, **_context) -> str:
    payload = results if was_list or len(results) != 1 else results[0]
    return _json.dumps(payload, indent=2, ensure_ascii=False)
