"""Check results as a readable report, for people (the JSON output is for machines).

``write`` takes the ``cptkg check --json`` dicts, explained or not, so the
report reads the same whatever the claims came in as.
"""
from __future__ import annotations

import textwrap

from cptkg.judge.input import one_line

NAME = "text"


def _t(value) -> str:
    """User text in a report: control characters (\\r, ANSI escapes, ...) shown escaped, never obeyed."""
    return one_line("" if value is None else str(value))


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(_t(text), width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def claim_report(res: dict) -> str:
    """One claim's verdicts (a ``cptkg check --json`` dict) as readable lines."""
    if res.get("status") == "error":
        return f"Claim {_t(res.get('claim_id')) or '(no id)'}: CANNOT BE JUDGED\n  {_t(res.get('error'))}"
    out = [f"Claim {_t(res['claim_id'])}: {res['status'].upper()}"]
    for ln in res.get("lines", []):
        mark = "ok " if ln["status"] == "accepted" else "NO "
        out.append(f"  {mark}line {ln['line']}  {_t(ln['code'])}  {ln['status']}")
        for r in ln.get("reasons", []):
            out.append(_wrap(f"- {r['message']}", "        "))
            out.append(_wrap(f"[{r['rule']}; {r['source']}]", "          "))
        for w in ln.get("warnings", []):
            out.append(_wrap(f"! warning: {w['message']}", "        "))
            out.append(_wrap(f"[{w['rule']}; {w['confidence']} confidence; {w['source']}]", "          "))
    return "\n".join(out)


def proof_text(node: dict, indent: str = "    ", depth: int = 0) -> str:
    """A proof tree as indented lines: rule and message, then its conditions."""
    pad = indent * depth
    kind = node.get("kind")
    mark = {"derived": "because", "claim": "claim:", "encounter": "input:", "kb": "KB:", "absent": "absent:",
            "comparison": "check:"}.get(kind, "")
    head = f"{pad}{mark} {_t(node['message'])}"
    if node.get("rule") and kind == "derived":
        head += f"  [{_t(node['rule'])}]"
    lines = [head]
    cites = [s.get("citation", "") for s in node.get("source", [])]
    if kind in ("kb", "claim", "encounter") and cites:
        quote = node["source"][0].get("quote", "") if node["source"] else ""
        lines.append(f"{pad}{indent}— {'; '.join(dict.fromkeys(cites))}" + (f": “{quote[:140]}”" if kind == "kb" and quote else ""))
    elif kind == "derived" and cites:
        lines.append(f"{pad}{indent}— {'; '.join(dict.fromkeys(cites))}")
    if node.get("searched"):
        lines.append(f"{pad}{indent}({_t(node['searched'])})")
    for w in node.get("why_not", []):
        lines.append(f"{pad}{indent}why not: {_t(w['message'])}")
    if node.get("truncated"):
        lines.append(f"{pad}{indent}… (depth limit)")
    for ch in node.get("children", []):
        lines.append(proof_text(ch, indent, depth + 1))
    return "\n".join(lines)


def explained_claim_report(ex: dict) -> str:
    """Claim report with each reason unfolded into its proof, then why-not and fixes."""
    if ex.get("status") == "error":
        return f"Claim {_t(ex.get('claim_id'))}: CANNOT BE JUDGED\n  {_t(ex.get('error'))}"
    out = [f"Claim {_t(ex['claim_id'])}: {ex['status'].upper()}"]
    for ln in ex["lines"]:
        out.append(f"  line {ln['line']}  {_t(ln['code'])}  {ln['status']}")
        for r in ln["reasons"]:
            out.append(_wrap(f"REJECTED: {r['message']}", "    "))
            proofs = r.get("proof")
            for p in (proofs if isinstance(proofs, list) else [proofs]):
                if p:
                    out.append(f"      [{p.get('rule')}] — " + "; ".join(dict.fromkeys(x.get("citation", "") for x in p.get("source", []))))
                    for ch in p.get("children", []):
                        out.append(proof_text(ch, "  ", 3))
        for w in ln["why_not"]:
            out.append(_wrap(f"why not accepted: {w['message']} [{w['source']}]", "    "))
        for r in ln["warnings"]:
            out.append(_wrap(f"warning: {r['message']}", "    "))
    if ex.get("suggestions"):
        out.append("  Suggested fixes (each re-checked by the rules):")
        for i, s in enumerate(ex["suggestions"], 1):
            out.append(_wrap(f"{i}. {s['message']}", "    "))
    return "\n".join(out)


def write(results: list[dict], **_context) -> str:
    """Every claim's report, explained ones with their proofs, why-not and fixes."""
    return "\n\n".join(explained_claim_report(r) if _explained(r) else claim_report(r) for r in results)


def _explained(result: dict) -> bool:
    return "suggestions" in result or any("why_not" in ln for ln in result.get("lines", []))
