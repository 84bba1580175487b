"""Readable text reports of inferred codes; claim reports are the text writer's."""
from __future__ import annotations

from cptkg.io.writers.text import _wrap, claim_report, explained_claim_report, proof_text
from cptkg.judge.infer import InferResult
from cptkg.judge.input import one_line


def _t(value) -> str:
    """User text in a report: control characters (\\r, ANSI escapes, ...) shown escaped, never obeyed."""
    return one_line("" if value is None else str(value))

__all__ = ["claim_report", "explained_claim_report", "infer_report", "proof_text"]


def infer_report(res: InferResult) -> str:
    out = [f"Encounter {_t(res.encounter_id)}"]
    if res.codes:
        for code, reasons in res.codes:
            out.append(f"  BILL {_t(code)}  {_t(res.descriptors.get(code, '')[:90])}")
            for r in reasons:
                out.append(_wrap(f"- {r.message}", "        "))
    else:
        out.append("  No code of the family fits this encounter.")
    for svc, reasons in res.uncovered:
        out.append(f"  Not covered by any code: {_t(svc)}")
        for r in reasons:
            out.append(_wrap(f"- {r.message}", "        "))
    out.append("  Not chosen:")
    for code, reasons in res.not_chosen:
        first = reasons[0].message if reasons else "(no reason derived)"
        out.append(_wrap(f"{code}: {first}", "    "))
        for r in reasons[1:]:
            out.append(_wrap(f"{r.message}", "          "))
    return "\n".join(out)
