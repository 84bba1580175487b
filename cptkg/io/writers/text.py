"""Check results as a readable report, for people (the JSON output is for machines).

``write`` takes the ``cptkg check --json`` dicts, explained or not, so the
report reads the same whatever the claims came in as.
"""
from __future__ import annotations

import textwrap

from cptkg.io.writers import not_checked
from cptkg.claims.models import one_line
from cptkg.judge.assumptions import HOW_TO_CHECK
from cptkg.judge.reasons import reason_code_text
from cptkg.controls import clip

NAME = "text"


def _mark(line: dict) -> str:
    """The verdict at a glance: ``ok`` accepted, ``NO`` rejected, ``--`` not checked (outside the knowledge
    base: neither accepted nor rejected, issue 23)."""
    if line.get("status") != "accepted":
        return "NO "
    return "-- " if not_checked(line) else "ok "


def _code_line(reason: dict, indent: str) -> list[str]:
    """The rejection's X12 reason as a remittance prints it ("Reason code: CO-97 The benefit ..."), or none."""
    code = reason_code_text(reason)
    return [_wrap(f"Reason code: {code}", indent)] if code else []


def _t(value) -> str:
    """User text in a report: control characters (\\r, ANSI escapes, ...) shown escaped, never obeyed."""
    return one_line("" if value is None else str(value))


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(_t(text), width=100, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False)


def claim_report(res: dict) -> str:
    """One claim's verdicts (a ``cptkg check --json`` dict) as readable lines."""
    if res.get("status") == "error":
        return f"Claim {_t(res.get('claim_id')) or '(no id)'}: CANNOT BE JUDGED\n  {_t(res.get('error'))}"
    out = [f"Claim {_t(res['claim_id'])}: {res['status'].upper()}"]
    to_state: dict[str, None] = {}
    for ln in res.get("lines", []):
        out.append(f"  {_mark(ln)}line {ln['line']}  {_t(ln['code'])}  {ln.get('verdict') or ln['status']}")
        for r in ln.get("reasons", []):
            out.append(_wrap(f"- {r['message']}", "        "))
            out.extend(_code_line(r, "          "))
            out.append(_wrap(f"[{r['rule']}; {r['source']}]", "          "))
        for w in ln.get("warnings", []):
            out.append(_wrap(f"! warning: {w['message']}", "        "))
            out.append(_wrap(f"[{w['rule']}; {w['confidence']} confidence; {w['source']}]", "          "))
        for a in ln.get("assumptions", []):
            # how to state a route is said once under the claim, not under each line (the report stays short)
            head, sep, how = a.partition(HOW_TO_CHECK)
            out.append(_wrap(f"assumed: {head}." if sep else f"assumed: {a}", "        "))
            if sep:
                to_state.setdefault(how.rstrip("."), None)
        for c in ln.get("source_conflicts", []):
            out.append(_wrap(f"note: the sources conflict: {c['label']}. {c['resolution']}", "        "))
            out.append(_wrap(f"[{c['id']}]", "          "))
    for how in to_state:
        out.append(_wrap(f"To have a route checked, {how}.", "  "))
    return "\n".join(out)


def proof_text(node: dict, indent: str = "    ", depth: int = 0, proved: set[str] | None = None) -> str:
    """A proof tree as indented lines: rule and message, then its conditions. A step two branches rest on
    is proved once: where it is used again (``proved`` holds the steps shown) it is said to be proved above."""
    pad = indent * depth
    proved = set() if proved is None else proved
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
        lines.append(f"{pad}{indent}— {'; '.join(dict.fromkeys(cites))}" + (f": “{clip(quote, 200)}”" if kind == "kb" and quote else ""))
    elif kind == "derived" and cites:
        lines.append(f"{pad}{indent}— {'; '.join(dict.fromkeys(cites))}")
    if node.get("searched"):
        lines.append(f"{pad}{indent}({_t(node['searched'])})")
    for w in node.get("why_not", []):
        lines.append(f"{pad}{indent}why not: {_t(w['message'])}")
    if node.get("truncated"):
        lines.append(f"{pad}{indent}… (depth limit)")
    if kind == "derived" and node.get("children") and node.get("fact"):
        if node["fact"] in proved:
            return "\n".join(lines + [f"{pad}{indent}(proved above)"])
        proved.add(node["fact"])
    for ch in node.get("children", []):
        lines.append(proof_text(ch, indent, depth + 1, proved))
    return "\n".join(lines)


def _sources_lines(sources: list[dict], indent: str, cited: set[str]) -> list[str]:
    """The rule's sources once each, with their quotes (quotes of one citation together), then the
    sources of the facts it reads (code descriptors …) by citation."""
    by_cite: dict[str, list[str]] = {}
    facts: list[str] = []
    for s in sources:
        if s.get("id") in cited:
            continue
        cited.add(s.get("id"))
        if s.get("for") == "fact":
            facts.append(s.get("citation", ""))
            continue
        by_cite.setdefault(s.get("citation", ""), [])
        if s.get("quote"):
            by_cite[s.get("citation", "")].append(f"“{s['quote']}”")
    out = [_wrap(f"{c}: {' '.join(q)}" if q else c, indent) for c, q in by_cite.items()]
    facts = [c for c in dict.fromkeys(facts) if c not in by_cite]
    if facts:
        out.append(_wrap("facts from: " + "; ".join(facts), indent))
    return out


def _fix_lines(sugg: dict, indent: str) -> str:
    msg = sugg.get("message", "")
    checked = "" if "re-checked" in msg.lower() else (" (re-checked by the rules)" if sugg.get("verified") else
                                                      " (not re-checked)")
    return _wrap(f"Fix{checked}: {msg}", indent)


def summary_report(ex: dict) -> str:
    """The default explanation: per line the verdict, the deciding rule by its title, the facts it rests
    on and every source once with its quote, why not, and the verified fixes; the proof's plumbing
    (identity tests, absent dates, helper rules) is folded away (``--full`` shows the whole proof)."""
    if ex.get("status") == "error":
        return f"Claim {_t(ex.get('claim_id'))}: CANNOT BE JUDGED\n  {_t(ex.get('error'))}"
    out = [f"Claim {_t(ex['claim_id'])}: {ex['status'].upper()}"]
    head = len(out) - 1
    sugg = ex.get("suggestions") or []
    shown_fixes: set[int] = set()
    folded = 0
    for ln in ex["lines"]:
        summ = ln.get("summary") or {}
        out.append(f"  {_mark(ln)}line {ln['line']}  {_t(ln['code'])}  "
                   f"{_t(summ.get('verdict') or ln.get('verdict') or ln['status'])}")
        cited: set[str] = set()
        for r in ln["reasons"]:
            sm = r.get("summary") or {}
            out.append(_wrap(f"Denied: {sm.get('title') or r.get('title') or r['rule']}", "    "))
            out.extend(_code_line(r, "      "))
            out.append(_wrap(r["message"], "      "))
            if sm.get("facts"):
                out.append(_wrap("Rests on: " + "; ".join(sm["facts"]) + ".", "      "))
            srcs = _sources_lines(sm.get("sources") or r.get("sources") or [], "        ", cited)
            if srcs:
                out.append(f"      Sources (rule {_t(r['rule'])}):")
                out.extend(srcs)
            folded += sm.get("folded", 0)
        if summ.get("why_not"):
            out.append(_wrap("Why not accepted: " + "; ".join(summ["why_not"]) + ".", "    "))
        for w in ln["warnings"]:
            sm = w.get("summary") or {}
            cites = "; ".join(dict.fromkeys(s.get("citation", "") for s in (sm.get("sources") or w.get("sources") or [])))
            out.append(_wrap(f"Warning: {sm.get('title') or w.get('title') or w['rule']}: {w['message']}"
                             + (f" ({cites})" if cites else ""), "    "))
        for a in ln.get("assumptions") or []:
            out.append(_wrap(f"Assumed: {a}", "    "))
        for c in ln.get("source_conflicts") or []:  # the sources the code rests on contradict each other
            out.append(_wrap(f"Note: the sources conflict: {c['label']}. {c['resolution']}", "    "))
        for i in summ.get("fixes", []):
            if i < len(sugg):
                out.append(_fix_lines(sugg[i], "    "))
                shown_fixes.add(i)
    rest = [s for i, s in enumerate(sugg) if i not in shown_fixes]
    if rest:
        out.append("  Other fixes:" if shown_fixes else "  Suggested fixes:")
        out.extend(_fix_lines(s, "    ") for s in rest)
    if cut_short_note(ex):
        out.append(_wrap(cut_short_note(ex), "  "))
    if ex.get("no_fix"):
        out.append(_wrap(ex["no_fix"], "  "))
    if folded:
        out[head] += f"  ({folded} proof steps folded away; --full shows the whole proof)"
    return "\n".join(out)


def explained_claim_report(ex: dict) -> str:
    """Claim report with each reason unfolded into its full proof, then why-not and fixes (``--full``)."""
    if ex.get("status") == "error":
        return f"Claim {_t(ex.get('claim_id'))}: CANNOT BE JUDGED\n  {_t(ex.get('error'))}"
    out = [f"Claim {_t(ex['claim_id'])}: {ex['status'].upper()}"]
    for ln in ex["lines"]:
        shown = "not checked" if not_checked(ln) else ln["status"]
        out.append(f"  line {ln['line']}  {_t(ln['code'])}  {shown}")
        for r in ln["reasons"]:
            out.append(_wrap(f"REJECTED: {r['message']}", "    "))
            out.extend(_code_line(r, "      "))
            proofs = r.get("proof")
            for p in (proofs if isinstance(proofs, list) else [proofs]):
                if p:
                    out.append(f"      [{p.get('rule')}] — " + "; ".join(dict.fromkeys(x.get("citation", "") for x in p.get("source", []))))
                    proved: set[str] = set()
                    for ch in p.get("children", []):
                        out.append(proof_text(ch, "  ", 3, proved))
        for w in ln["why_not"]:
            out.append(_wrap(f"why not accepted: {w['message']} [{w['source']}]", "    "))
        for r in ln["warnings"]:
            out.append(_wrap(f"warning: {r['message']}", "    "))
        for a in ln.get("assumptions") or []:
            out.append(_wrap(f"assumed: {a}", "    "))
        for c in ln.get("source_conflicts") or []:
            out.append(_wrap(f"note: the sources conflict: {c['label']}. {c['resolution']}", "    "))
    if ex.get("suggestions"):
        out.append("  Suggested fixes (each re-checked by the rules):")
        for i, s in enumerate(ex["suggestions"], 1):
            out.append(_wrap(f"{i}. {s['message']}", "    "))
    if cut_short_note(ex):
        out.append(_wrap(cut_short_note(ex), "  "))
    if ex.get("no_fix"):
        out.append(_wrap(ex["no_fix"], "  "))
    return "\n".join(out)


def cut_short_note(ex: dict) -> str:
    """The explanation's own sentence saying what was cut short ("" when nothing was)."""
    return str(ex.get("cut_short") or "")


def write(results: list[dict], full: bool = False, **_context) -> str:
    """Every claim's report; explained ones as the short explanation, or with their whole proofs (``full``).

    Every value is shown through :func:`_t`; the whole report then passes
    :func:`cptkg.controls.shown_text`, so no control character reaches a
    terminal raw even from a value shown without it."""
    from cptkg.controls import shown_text

    explained = explained_claim_report if full else summary_report
    return shown_text("\n\n".join(explained(r) if _explained(r) else claim_report(r) for r in results))


def _explained(result: dict) -> bool:
    return "suggestions" in result or any("why_not" in ln for ln in result.get("lines", []))


def encounter_report(res: dict) -> str:
    """An inference (``cptkg infer --json``'s dict) as a readable report; an
    explained one (with each code's ``proof`` and the ``failed_conditions`` of
    the codes not chosen) adds why each code was chosen and why each other was not."""
    out = [f"Encounter {_t(res.get('encounter_id'))}"]
    for a in res.get("assumptions", ()):
        out.append(_wrap(f"Assumed: {a}", "  "))
    if res["codes"]:
        for c in res["codes"]:
            out.append(_wrap(f"BILL {c['code']}  {c.get('descriptor') or ''}", "  "))
            for r in c["reasons"]:
                out.append(_wrap(f"- {r['message']}", "        "))
            billed = c.get("as_billed") or {}
            if billed.get("status") not in (None, "accepted") or billed.get("warnings"):
                # what the claim checker will say of the code billed by this performer (its performer not
                # checked, billing under a supervising physician, …): said here, not first found at check
                out.append(_wrap(f"the claim checker, billing {c['code']} on line 1 of a claim by this performer: "
                                 f"{billed.get('verdict')}", "        "))
                for r in billed.get("reasons", ()):
                    out.append(_wrap(f"denied: {r['message']}", "          "))
                for w in billed.get("warnings", ()):
                    out.append(_wrap(f"warning: {w['message']}", "          "))
            for x in c.get("source_conflicts", []):
                out.append(_wrap(f"note: the sources conflict: {x['label']}. {x['resolution']}", "        "))
                out.append(_wrap(f"[{x['id']}]", "          "))
    else:
        out.append("  No code of the family fits this encounter.")
    for u in res["uncovered"]:
        out.append(f"  Not covered by any code: {_t(u['service'])}")
        for r in u["reasons"]:
            out.append(_wrap(f"- {r['message']}", "        "))
    out.append("  Not chosen:")
    for c in res["not_chosen"]:
        reasons = c["why_not"]
        first = reasons[0]["message"] if reasons else "(no reason derived)"
        out.append(_wrap(f"{c['code']}: {first}", "    "))
        for r in reasons[1:]:
            out.append(_wrap(f"{r['message']}", "          "))
    for c in res["codes"]:
        if "proof" in c:  # explained
            out.append(f"\nWhy {c['code']}:")
            if c["proof"]:
                out.append(proof_text(c["proof"], "  ", 1))
    for c in res["not_chosen"]:
        for f in c.get("failed_conditions", ()):
            out.append(f"why not {c['code']}: {f['message']}")
            out.extend(_since(f, "  "))
            out.extend(_deeper_why_not(f, "  "))
    return "\n".join(out)


def _deeper_why_not(failure: dict, indent: str) -> list[str]:
    """The failed conditions of a failed condition (``why_not`` inside a failure), indented under it."""
    out = []
    for f in failure.get("why_not", ()):
        out.append(_wrap(f"because: {f['message']}", indent))
        out.extend(_since(f, indent + "  "))
        out.extend(_deeper_why_not(f, indent + "  "))
    return out


def _since(failure: dict, indent: str) -> list[str]:
    """What a fact that stopped a rule rests on (a failure's ``because`` proof): its derived reasons in words."""
    proof = failure.get("because") or {}
    said = [ch.get("message") for ch in proof.get("children", ()) if ch.get("kind") == "derived" and ch.get("message")]
    return [_wrap(f"since: {m}", indent) for m in dict.fromkeys(said)]
