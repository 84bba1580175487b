"""Readable text reports for people (the JSON output is for machines)."""
from __future__ import annotations

import textwrap

from .check import ClaimResult
from .infer import InferResult


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def claim_report(res: ClaimResult) -> str:
    if res.error is not None:
        return f"Claim {res.claim_id or '(no id)'}: CANNOT BE JUDGED\n  {res.error}"
    out = [f"Claim {res.claim_id}: {res.status.upper()}"]
    for ln in res.lines:
        mark = "ok " if ln.status == "accepted" else "NO "
        out.append(f"  {mark}line {ln.line}  {ln.code}  {ln.status}")
        for r in ln.reasons:
            out.append(_wrap(f"- {r.message}", "        "))
            out.append(_wrap(f"[{r.rule}; {r.source}]", "          "))
        for w in ln.warnings:
            out.append(_wrap(f"! warning: {w.message}", "        "))
            out.append(_wrap(f"[{w.rule}; {w.confidence} confidence; {w.source}]", "          "))
    return "\n".join(out)


def infer_report(res: InferResult) -> str:
    out = [f"Encounter {res.encounter_id}"]
    if res.codes:
        for code, reasons in res.codes:
            out.append(f"  BILL {code}  {res.descriptors.get(code, '')[:90]}")
            for r in reasons:
                out.append(_wrap(f"- {r.message}", "        "))
    else:
        out.append("  No code of the family fits this encounter.")
    for svc, reasons in res.uncovered:
        out.append(f"  Not covered by any code: {svc}")
        for r in reasons:
            out.append(_wrap(f"- {r.message}", "        "))
    out.append("  Not chosen:")
    for code, reasons in res.not_chosen:
        first = reasons[0].message if reasons else "(no reason derived)"
        out.append(_wrap(f"{code}: {first}", "    "))
        for r in reasons[1:]:
            out.append(_wrap(f"{r.message}", "          "))
    return "\n".join(out)
