"""Check results as an auditor's work paper: one self-contained HTML page, printable to PDF.

``cptkg check --explain --output html`` writes it, and the explorer offers it for the claim
checked, for a claim of a batch and for a whole batch. The page holds the summary (claims and
lines accepted, rejected, not judged; denied lines counted by reason), the knowledge base
version and the date judged, then per claim each line's verdict and, for each denied line, the
reason by its title with its CARC and group code when the rule has them, the message, the facts
it rests on, the source quotes, why not, and the fixes re-checked by the rules. Rule ids appear
only in small detail lines.

Self-contained: inline CSS (with ``@media print``), no script, no image, no font or stylesheet
from elsewhere, and a Content-Security-Policy that forbids loading anything, so the page opens
the same behind a firewall and in an archive years later. Every value from a claim or the KB is
HTML-escaped (:func:`_e`); nothing of the input is ever markup.

Explained results (``--explain``) carry the short explanation (the ``summary`` blocks) and the
verified fixes; plain verdicts give the reasons with their sources and quotes.
"""
from __future__ import annotations

import html as _html
from datetime import datetime, timezone

from cptkg.judge.input import one_line

NAME = "html"

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1b1b1b; max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-top: .6rem; border-top: 2px solid #444; }
h3 { font-size: 1rem; margin: 1.1rem 0 .3rem; }
table { border-collapse: collapse; margin: .4rem 0 .8rem; width: 100%; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num, th.num { text-align: right; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .6rem 0 1rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.status { font-weight: 700; }
.accepted { color: #146c2e; } .rejected { color: #b3261e; } .error { color: #8a5a00; }
.line { margin: .6rem 0 1rem; padding-left: .8rem; border-left: 3px solid #b3261e; }
.line.warned { border-left-color: #d9a300; }
.reason { margin: .3rem 0 .6rem; }
blockquote { margin: .3rem 0 .3rem 1rem; padding: .2rem .6rem; border-left: 3px solid #ccc; color: #333; }
blockquote cite { display: block; font-style: normal; font-weight: 600; color: #1b1b1b; }
.fix { background: #eef6ee; padding: .3rem .6rem; margin: .3rem 0; }
.warning { background: #fff6e0; padding: .3rem .6rem; margin: .3rem 0; }
.detail { font-size: .8rem; color: #666; }
.noprint { font-size: .85rem; color: #555; border: 1px dashed #aaa; padding: .3rem .6rem; }
@page { margin: 15mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .noprint { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section.claim { break-before: auto; }
  .line, .reason, blockquote, .fix, tr { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
# nothing may be loaded: no script, no image, no font, no frame; only the inline style above
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _e(value) -> str:
    """A value from a claim or the KB as HTML text (control characters shown escaped, never obeyed)."""
    return _html.escape(one_line("" if value is None else str(value)), quote=True)


def _status(status: str) -> str:
    words = {"accepted": "accepted", "rejected": "rejected", "error": "cannot be judged"}.get(status, status)
    css = status if status in ("accepted", "rejected", "error") else ""
    return f'<span class="status {css}">{_e(words)}</span>'


def _carc(reason: dict) -> str:
    parts = []
    if reason.get("carc"):
        parts.append(f"CARC {_e(reason['carc'])}")
    if reason.get("group_code"):
        parts.append(f"group code {_e(reason['group_code'])}")
    return f" ({', '.join(parts)})" if parts else ""


def _title(reason: dict) -> str:
    return (reason.get("summary") or {}).get("title") or reason.get("title") or reason.get("rule", "")


def summary_counts(results: list[dict]) -> dict:
    """The counts the work paper opens with: claims by status, lines accepted and rejected, and denied
    lines by reason (title, CARC, group code, rule id), most frequent first."""
    claims = {"accepted": 0, "rejected": 0, "error": 0}
    lines = {"accepted": 0, "rejected": 0}
    by_reason: dict[tuple, int] = {}
    for r in results:
        claims[r.get("status", "error")] = claims.get(r.get("status", "error"), 0) + 1
        for ln in r.get("lines", []):
            lines["rejected" if ln.get("status") == "rejected" else "accepted"] += 1
            for x in {x["rule"]: x for x in ln.get("reasons", [])}.values():
                key = (_title(x), x.get("carc") or "", x.get("group_code") or "", x["rule"])
                by_reason[key] = by_reason.get(key, 0) + 1
    reasons = [{"title": t, "carc": c, "group_code": g, "rule": rid, "lines": n}
               for (t, c, g, rid), n in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {"claims": claims, "lines": lines, "reasons": reasons}


def _sources(sources, cited: set) -> list[str]:
    """Each source once per claim line: the rule's own with their quotes, then the facts' by citation."""
    out, facts = [], []
    for s in sources or []:
        if not isinstance(s, dict) or s.get("id") in cited or s.get("id") == "input":
            continue
        cited.add(s.get("id"))
        if s.get("for") == "fact":
            facts.append(s.get("citation", ""))
        elif s.get("quote"):
            out.append(f'<blockquote><cite>{_e(s.get("citation", ""))}</cite>“{_e(s["quote"])}”</blockquote>')
        else:
            out.append(f'<blockquote><cite>{_e(s.get("citation", ""))}</cite></blockquote>')
    if facts:
        out.append(f'<p class="detail">Facts from: {_e("; ".join(dict.fromkeys(facts)))}</p>')
    return out


def _line(ln: dict, suggestions: list[dict]) -> list[str]:
    """A denied (or warned) line: each reason, its sources, why not, its fixes, its warnings."""
    rejected = ln.get("status") == "rejected"
    out = [f'<div class="line {"denied" if rejected else "warned"}">',
           f'<h3>Line {_e(ln.get("line"))} · {_e(ln.get("code"))}: {_e(ln.get("verdict") or ln.get("status"))}</h3>']
    cited: set = set()
    for x in ln.get("reasons", []):
        sm = x.get("summary") or {}
        out.append('<div class="reason">')
        out.append(f"<p>Reason: <strong>{_e(_title(x))}</strong>{_carc(x)}</p>")
        out.append(f"<p>{_e(sm.get('message') or x.get('message', ''))}</p>")
        if sm.get("facts"):
            out.append("<p>Rests on: " + "; ".join(_e(f) for f in sm["facts"]) + "</p>")
        out.extend(_sources(sm.get("sources") or x.get("sources"), cited))
        conf = x.get("confidence")
        out.append(f'<p class="detail">rule {_e(x.get("rule"))}' + (f" · {_e(conf)} confidence" if conf else "") + "</p>")
        out.append("</div>")
    summ = ln.get("summary") or {}
    why_not = summ.get("why_not") or ([w.get("condition") for w in ln.get("why_not", []) if w.get("condition")]
                                      if rejected else [])
    if why_not:
        out.append("<p><strong>Why not accepted</strong>: " + "; ".join(_e(w) for w in why_not) + ".</p>")
    fixes = [i + 1 for i in summ.get("fixes", []) if i < len(suggestions)]
    if fixes:
        out.append(f"<p>Fixes for this line: {', '.join(f'fix {n}' for n in fixes)} (below).</p>")
    for w in ln.get("warnings", []):
        out.append(f'<div class="warning"><p>Warning: <strong>{_e(_title(w))}</strong>: {_e(w.get("message", ""))}</p>')
        out.extend(_sources((w.get("summary") or {}).get("sources") or w.get("sources"), cited))
        out.append(f'<p class="detail">rule {_e(w.get("rule"))}</p></div>')
    for a in ln.get("assumptions") or []:
        out.append(f'<p class="assumed">Assumed: {_e(a)}</p>')
    out.append("</div>")
    return out


def _fix(n: int, s: dict) -> str:
    checked = "re-checked by the rules" if s.get("verified") else "not re-checked"
    result = f"; the claim is then {_e(s['result_status'])}" if s.get("result_status") else ""
    return f'<p class="fix"><strong>Fix {n}</strong> ({checked}{result}): {_e(s.get("message", ""))}</p>'


def _claim(r: dict) -> list[str]:
    cid = r.get("claim_id")
    out = ['<section class="claim">', f"<h2>Claim {_e(cid) or '(no id)'}: {_status(r.get('status', 'error'))}</h2>"]
    if r.get("status") == "error":
        out += [f'<p class="error">Cannot be judged: {_e(r.get("error", ""))}</p>', "</section>"]
        return out
    out.append('<table><thead><tr><th class="num">line</th><th>code</th><th>verdict</th><th>reasons</th>'
               "<th>CARC</th></tr></thead><tbody>")
    for ln in r.get("lines", []):
        reasons = "; ".join(_e(_title(x)) for x in ln.get("reasons", []))
        carcs = "; ".join(_e(f"{x.get('group_code') or ''}-{x['carc']}".lstrip("-"))
                          for x in ln.get("reasons", []) if x.get("carc"))
        out.append(f'<tr><td class="num">{_e(ln.get("line"))}</td><td>{_e(ln.get("code"))}</td>'
                   f'<td>{_e(ln.get("verdict") or ln.get("status"))}</td><td>{reasons}</td><td>{carcs}</td></tr>')
    out.append("</tbody></table>")
    sugg = r.get("suggestions") or []
    for ln in r.get("lines", []):
        if ln.get("reasons") or ln.get("warnings") or ln.get("assumptions"):
            out.extend(_line(ln, sugg))
    if sugg:
        out.append("<h3>Fixes</h3>")
        out.extend(_fix(n, s) for n, s in enumerate(sugg, 1))
    elif r.get("status") == "rejected" and "suggestions" in r and not r.get("cut_short"):
        out.append("<p>No fix found in the knowledge base for this claim.</p>")
    if r.get("cut_short"):
        out.append(f"<p class=\"cut-short\">{_e(r['cut_short'])}</p>")
    out.append("</section>")
    return out


def work_paper(results: list[dict], created: str | None = None, title: str | None = None) -> str:
    """The work paper for ``results`` (``cptkg check --json`` dicts, explained or not) judged at ``created``
    (an ISO date or time; default now, UTC)."""
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if title is None:
        title = (f"Claim audit work paper: claim {one_line(str(results[0].get('claim_id') or '(no id)'))}"
                 if len(results) == 1 else "Claim audit work paper")
    versions = sorted({str(r["kb_version"]) for r in results if r.get("kb_version")})
    counts = summary_counts(results)
    c, ln = counts["claims"], counts["lines"]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>{_e(title)}</h1>",
           '<p class="noprint">To keep it as a PDF, print this page from the browser (Print, then Save as PDF).</p>',
           '<dl class="meta">',
           f"<dt>Judged on</dt><dd>{_e(created)}</dd>",
           f"<dt>Knowledge base version</dt><dd>{_e(', '.join(versions) or 'not recorded')}</dd>",
           f"<dt>Claims</dt><dd>{sum(c.values())}: {c['accepted']} accepted, {c['rejected']} rejected, "
           f"{c['error']} could not be judged</dd>",
           f"<dt>Lines</dt><dd>{ln['accepted'] + ln['rejected']}: {ln['accepted']} accepted, "
           f"{ln['rejected']} rejected</dd>",
           "</dl>"]
    if counts["reasons"]:
        out.append("<h2>Denied lines by reason</h2>")
        out.append('<table><thead><tr><th>reason</th><th>CARC</th><th>group code</th><th class="num">lines</th>'
                   "</tr></thead><tbody>")
        for x in counts["reasons"]:
            out.append(f'<tr><td>{_e(x["title"])} <span class="detail">({_e(x["rule"])})</span></td>'
                       f'<td>{_e(x["carc"])}</td><td>{_e(x["group_code"])}</td><td class="num">{x["lines"]}</td></tr>')
        out.append("</tbody></table>")
    for r in results:
        out.extend(_claim(r))
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def write(results: list[dict], created: str | None = None, title: str | None = None, **_context) -> str:
    """The work paper; every value went through :func:`_e`, and the page passes
    :func:`cptkg.controls.shown_text` too, so no control character is in it raw."""
    from cptkg.controls import shown_text

    return shown_text(work_paper(results, created=created, title=title))
