"""The ``cptkg check --json`` output: one object, or a list when the input was a list."""
from __future__ import annotations

import json as _json

NAME = "json"

#: claims in a list up to which the output is indented; past it, one claim per line
INDENTED_UP_TO = 50


def write(results: list[dict], was_list: bool = True, **_context) -> str:
    """Indented for a claim or a few; a long list has one compact claim per line.

    Why: Python's JSON encoder is its slow pure-Python path whenever it
    indents; for 10,000 claims (59 MB) that took longer than judging them.
    Either way the text is the same JSON value.
    """
    from cptkg.controls import json_safe  # control characters as JSON's escape: the values unchanged

    if not was_list and len(results) == 1:
        return json_safe(_json.dumps(results[0], indent=2, ensure_ascii=False))
    if len(results) <= INDENTED_UP_TO:
        return json_safe(_json.dumps(results, indent=2, ensure_ascii=False))
    return json_safe("[\n" + ",\n".join(_json.dumps(r, ensure_ascii=False) for r in results) + "\n]")
