"""Check results as CSV: one row per input claim line, in input order.

Columns: claim_id, line, code, status (accepted | rejected | error),
rules (ids of the rules that rejected the line, ``;``-separated), reasons
(their messages, `` | ``-separated), warnings (warning rule ids and
messages), carc (the X12 group and reason code of each rejection, e.g.
``CO-97``, ``;``-separated in the order of ``rules``; warnings carry none). Given the input's ``row_keys``, rows come out in the input's
order, one for each input row.
"""
from __future__ import annotations

import csv as _csv
import io

NAME = "csv"
COLUMNS = ("claim_id", "line", "code", "status", "rules", "reasons", "warnings", "carc")


def _row(claim_id: str, line: dict) -> dict:
    reasons = line.get("reasons", [])
    warnings = line.get("warnings", [])
    return {
        "claim_id": claim_id, "line": line.get("line"), "code": line.get("code", ""), "status": line.get("status", ""),
        "rules": ";".join(r["rule"] for r in reasons),
        "reasons": " | ".join(r["message"] for r in reasons),
        "warnings": " | ".join(f"{w['rule']}: {w['message']}" for w in warnings),
        "carc": ";".join(f"{r['group_code']}-{r['carc']}" for r in reasons if r.get("carc")),
    }


def write(results: list[dict], row_keys: list[tuple[str, int]] | None = None, **_context) -> str:
    by_key: dict[tuple[str, int], dict] = {}
    errors: dict[str, str] = {}
    ordered: list[dict] = []
    for r in results:
        cid = r.get("claim_id", "")
        if r.get("status") == "error":
            errors[cid] = r.get("error", "could not be judged")
        for line in r.get("lines", []):
            row = _row(cid, line)
            by_key[(cid, line.get("line"))] = row
            ordered.append(row)
    if row_keys is not None:
        ordered = []
        for cid, n in row_keys:
            row = by_key.get((cid, n))
            if row is None:
                row = {"claim_id": cid, "line": n, "code": "", "status": "error", "rules": "",
                       "reasons": errors.get(cid, "no verdict for this line"), "warnings": "", "carc": ""}
            ordered.append(row)
    buf = io.StringIO()
    w = _csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(ordered)
    return buf.getvalue()
