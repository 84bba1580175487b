"""Check results as CSV: one row per input claim line, in input order.

Columns: claim_id, line, code, status (accepted | rejected | error),
rules (ids of the rules that rejected the line, each once, ``;``-separated), reasons
(their messages, `` | ``-separated), warnings (warning rule ids and
messages), carc (the X12 group and reason code of each rejection, e.g.
``CO-97``, ``;``-separated in the order of ``rules``; warnings carry none).
Given the input's ``row_keys``, rows come out in the input's
order, one for each input row; without them (JSON or FHIR input) a claim
that could not be judged is one row per line it gave (its line number and
code as far as they could be read), each with the claim's error in reasons,
or one row with an empty line when it gave no lines. Explained results (``--explain``) add two
columns: why_not (why the line was not accepted) and fixes (the claim's
verified fixes, `` | ``-separated, on each of its rows). Cells that a spreadsheet would run as a formula get a
leading ``'`` (cptkg.spreadsheet).

Issue 23 added two columns at the end (after the explained ones, so every earlier column keeps its
place): carc_description (the short description of each code in carc, in its order, `` | ``-separated;
core knowledge/carc.yaml) and checked (``true``, or ``false`` for a line no rule of the pack covers,
whose status stays ``accepted``; empty for a claim that could not be judged), as ``cptkg batch`` writes them.
"""
from __future__ import annotations

from cptkg.claims.models import SHOWN_ID
from cptkg.io.writers import why_not_words

import io

from cptkg import spreadsheet
from cptkg.io.writers import not_checked
from cptkg.knowledge.carc import carc_description

NAME = "csv"
COLUMNS = ("claim_id", "line", "code", "status", "rules", "reasons", "warnings", "carc")
EXPLAINED = ("why_not", "fixes")
ADDED = ("carc_description", "checked")  # issue 23: always last


def _row(claim_id: str, line: dict, fixes: str | None = None) -> dict:
    reasons = line.get("reasons", [])
    warnings = line.get("warnings", [])
    # each rule once, in the order its first reason comes (batch's rules column: the rules that decided, not one
    # per message: a line included in two comprehensive lines read "exclusion.component;exclusion.component")
    first: dict[str, dict] = {}
    for r in reasons:
        first.setdefault(r["rule"], r)
    by_rule = list(first.values())
    extra = {} if fixes is None else {
        "why_not": " | ".join(why_not_words(line)), "fixes": fixes}
    return extra | {
        "claim_id": claim_id, "line": line.get("line"), "code": line.get("code", ""), "status": line.get("status", ""),
        "rules": ";".join(r["rule"] for r in by_rule),
        "reasons": " | ".join(r["message"] for r in reasons),
        "warnings": " | ".join(f"{w['rule']}: {w['message']}" for w in warnings),
        "carc": ";".join(f"{r['group_code']}-{r['carc']}" for r in by_rule if r.get("carc")),
        "carc_description": " | ".join(_carc_words(r) for r in by_rule if r.get("carc")),
        "checked": "false" if not_checked(line) else "true",
    }


def _carc_words(reason: dict) -> str:
    words = reason.get("carc_description")
    return carc_description(reason.get("carc")) if words is None else str(words)


def write(results: list[dict], row_keys: list[tuple[str, int]] | None = None, **_context) -> str:
    by_key: dict[tuple[str, int], dict] = {}
    errors: dict[str, str] = {}
    given_codes: dict[tuple, str] = {}
    line_errors: dict[tuple, str] = {}
    ordered: list[dict] = []
    explained = any("suggestions" in r for r in results)
    for r in results:
        cid = r.get("claim_id", "")
        if r.get("status") == "error":
            errors[cid] = r.get("error", "could not be judged")
            given_lines = r.get("lines_not_judged") or ()
            # the error is in one line: the claim's other lines say so, as batch's rows do, instead of each
            # repeating that line's error as if it were their own
            bad = [g for g in given_lines if g.get("has_error")]
            numbers = [g.get("line") for g in given_lines]
            # (a line number given twice, or none, would not say which line: those rows keep the error)
            other = (f"claim not judged because line {bad[0]['line']} has an error"
                     if len(bad) == 1 and bad[0].get("line") not in ("", None) and numbers.count(bad[0]["line"]) == 1
                     else None)
            for given in given_lines:  # the code each line gave, for its error row
                given_codes.setdefault((cid, given.get("line")), given.get("code", ""))
                if other and not given.get("has_error"):
                    line_errors.setdefault((cid, given.get("line")), other)
        fixes = " | ".join(s.get("message", "") for s in r.get("suggestions", [])) if explained else None
        if r.get("status") == "error" and row_keys is None:  # no input rows to match: a row per line it gave
            for given in r.get("lines_not_judged") or [{"line": "", "code": ""}]:
                ordered.append({"claim_id": cid, "line": given.get("line", ""), "code": given.get("code", ""),
                                "status": "error", "rules": "",
                                "reasons": line_errors.get((cid, given.get("line")), errors[cid]), "warnings": ""})
        for line in r.get("lines", []):
            row = _row(cid, line, fixes)
            by_key[(cid, line.get("line"))] = row
            ordered.append(row)
    if row_keys is not None:
        ordered = []
        # a claim not judged answers its rows in the order it gave them: two rows of one line number each keep
        # their own code (the second row's code was the first's, and its own was lost: an attack audit)
        given_in_order = {r.get("claim_id", ""): list(r.get("lines_not_judged") or ())
                          for r in results if r.get("status") == "error"}
        taken: dict[str, int] = {}
        for cid, n in row_keys:
            row = by_key.get((cid, n))
            if row is None:
                code = given_codes.get((cid, n), "")
                given = given_in_order.get(cid) or []
                k = taken.get(cid, 0)
                if k < len(given) and given[k].get("line") in (n, ""):
                    code = given[k].get("code", code)
                taken[cid] = k + 1
                words = line_errors.get((cid, n), errors.get(cid, "no verdict for this line"))
                line = n
                if k < len(given) and "row" in given[k]:
                    # a claim CSV's rows: the line as batch shows it (empty when it is no whole number) and the
                    # other rows of the claim naming the bad row, in batch's words, whatever their line numbers
                    # (a repeated or unreadable line number made every row repeat the error: an audit)
                    line = given[k].get("line", n)
                    bad = [g for g in given if g.get("has_error")]
                    if given[k].get("error"):  # a later bad row: its own error, as batch's row says it
                        words = given[k]["error"]
                    elif len(bad) == 1 and not given[k].get("has_error"):
                        words = (f"row {given[k]['row']}, claim {cid[:SHOWN_ID]}: claim not judged because row "
                                 f"{bad[0]['row']} has an error")
                row = {"claim_id": cid, "line": line, "code": code, "status": "error", "rules": "",
                       "reasons": words, "warnings": "", "carc": ""}
            ordered.append(row)
    buf = io.StringIO()
    w = spreadsheet.DictWriter(buf, fieldnames=COLUMNS + (EXPLAINED if explained else ()) + ADDED, lineterminator="\n")
    w.writeheader()
    w.writerows(ordered)
    return buf.getvalue()
