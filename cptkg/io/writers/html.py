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

A page an auditor can sign (issue 23, finding 5): each claim opens with its own header (claim id,
patient id, rendering providers, dates of service, KB version, the edit releases loaded, the date
judged, the reviewer) and closes with notes and sign-off lines (reviewer, date, signature); printed,
each claim starts on its own page, so every signed sheet says what it covers. The patient id is
masked (only its last 4 characters, and only when at least as many stay hidden) unless the caller
asks for identifiers in clear (``include_identifiers``, as ``--log-identifiers`` does for the
decision log). Rendering provider ids are masked the same way: an NPI is public (CMS publishes
every NPI in the NPI Registry), but a provider id may be a practice's own staff number, and no
verdict text shows provider ids (issue 21); ``include_identifiers`` shows both in clear, for the
auditor who signs. "Why not accepted" is the explanation summary's billing-word lines, never
the engine's raw conditions; a line no rule of the pack covers reads "not checked", not accepted
(issue 23's contract: the line's ``checked`` false, or before it, the ``code.outside-kb`` warning).
"""
from __future__ import annotations

import html as _html
from datetime import datetime, timezone

from cptkg.claims.models import one_line

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
.notchecked { color: #5f6368; }
.carc-words { margin: 0 0 .3rem; color: #333; }
dl.claim-head { border: 1px solid #bbb; padding: .4rem .6rem; }
.blank { display: inline-block; min-width: 16rem; border-bottom: 1px solid #444; }
.signoff { margin: 1.2rem 0 .4rem; break-inside: avoid; page-break-inside: avoid; }
.signoff .notes { height: 5.5rem; border: 1px solid #bbb; margin: .3rem 0 .8rem; }
.signoff p { margin: .9rem 0; }
@page { margin: 15mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .noprint { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section.claim { break-before: page; page-break-before: always; }
  body.one-claim section.claim { break-before: auto; page-break-before: auto; }
  section.claim h2 { border-top: none; margin-top: 0; }
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


def _carc_words(reason: dict) -> str:
    """The CARC's short description (``carc_description``, issue 23) on its own line, when the judge gave one."""
    words = reason.get("carc_description")
    if not words or not reason.get("carc"):
        return ""
    return f'<p class="carc-words">CARC {_e(reason["carc"])}: {_e(words)}</p>'


#: the warning a line carries when no rule of the pack covers its code (before the line's ``checked`` field)
OUTSIDE_KB = "code.outside-kb"
NOT_CHECKED = "not checked (outside the knowledge base)"


def not_checked(ln: dict) -> bool:
    """A line no rule of the pack covers: ``checked`` false (issue 23), or, in results written before that
    field, the outside-the-knowledge-base warning. Its ``status`` stays "accepted" for compatibility; the
    work paper must not read it as accepted."""
    if "checked" in ln:
        return ln.get("checked") is False
    return any(isinstance(w, dict) and w.get("rule") == OUTSIDE_KB for w in ln.get("warnings") or [])


def _verdict(ln: dict) -> str:
    if not_checked(ln):
        v = ln.get("verdict") or ""
        return v if v.startswith("not checked") else NOT_CHECKED
    return ln.get("verdict") or ln.get("status") or ""


def _verdict_css(ln: dict) -> str:
    if not_checked(ln):
        return "notchecked"
    return ln["status"] if ln.get("status") in ("accepted", "rejected") else ""


#: characters of a masked patient id left to read (its end, as statements and receipts show an account)
SHOWN_END = 4
MASK = "••••"


def masked_patient_id(value, include_identifiers: bool = False) -> str:
    """The patient id as the work paper shows it: in clear only when asked (``include_identifiers``),
    else its last 4 characters, and those only when at least as many stay hidden (a short id is all mask).

    >>> masked_patient_id("PATIENT-000123")
    '••••0123'
    >>> masked_patient_id("PAT-77")
    '••••'
    >>> masked_patient_id("PAT-77", include_identifiers=True)
    'PAT-77'
    """
    text = one_line("" if value is None else str(value)).strip()
    if not text or include_identifiers:
        return text
    return MASK + text[-SHOWN_END:] if len(text) >= 2 * SHOWN_END else MASK


def edit_releases(kb) -> list[dict]:
    """The edit tables loaded over the pack (``--edits``), each published file once: ``release``,
    ``release_date`` (None for a file that states no release), ``file`` (the file CMS published, as the
    edit file names it) and ``edit_file`` (the file loaded). An auditor checks a denial against the
    release in force; this is what the page was judged with (:class:`cptkg.knowledge.edits.files.TableSource`)."""
    out: dict[tuple, dict] = {}
    for t in getattr(kb, "edit_tables", None) or ():
        path = getattr(t, "path", None)
        name = getattr(path, "name", None) or str(path or "")
        for s in list((getattr(t, "table_sources", None) or {}).values()) or [None]:
            entry = {"release": getattr(s, "release", None), "release_date": getattr(s, "release_date", None),
                     "file": getattr(s, "file", None) or name, "edit_file": name}
            out.setdefault(tuple(entry.values()), entry)
    return sorted(out.values(), key=lambda e: (e["release_date"] or "", e["release"] or "", e["file"]))


def _releases_text(releases: list[dict] | None) -> str:
    if releases is None:
        return "not recorded"
    if not releases:
        return "none loaded (the pack's own edits only)"
    out = []
    for e in releases:
        rel = (f"release {e['release']}" + (f" ({e['release_date']})" if e.get("release_date") else "")
               if e.get("release") else "no release stated")
        out.append(f"{rel}: {e['file']}" + (f" (loaded from {e['edit_file']})"
                                              if e.get("edit_file") and e["edit_file"] != e["file"] else ""))
    return "; ".join(out)


def _as_claim(c) -> dict | None:
    """An input claim as a dict with ``lines``: a claim dict, or the claim a reader refused (its ``raw``:
    the claim dict, or its CSV rows, each a line)."""
    c = getattr(c, "raw", c)
    if isinstance(c, dict):
        return c
    if isinstance(c, list) and c and all(isinstance(x, dict) for x in c):
        return {"claim_id": c[0].get("claim_id"), "patient_id": c[0].get("patient_id"), "lines": c}
    return None


def _inputs(results: list[dict], claims) -> list[dict | None]:
    """The input claim of each result: by position when the reader's claims and the results are the same list
    (the pipeline), else by claim id (a claim of a batch); None when it is not known."""
    if not claims:
        return [None] * len(results)
    got = [_as_claim(c) for c in claims]
    if len(got) == len(results):
        return [c if c is not None and str(c.get("claim_id") or "") in ("", str(r.get("claim_id"))) else None
                for r, c in zip(results, got)]
    ids: dict[str, list] = {}
    for c in got:
        if c is not None:
            ids.setdefault(str(c.get("claim_id")), []).append(c)
    return [ids[str(r.get("claim_id"))][0] if len(ids.get(str(r.get("claim_id")), [])) == 1 else None for r in results]


def _claim_head(r: dict, claim: dict | None, created: str, releases: list[dict] | None, include_identifiers: bool,
                reviewer: str | None) -> list[str]:
    """What a signed sheet must say it covers: claim, patient, providers, dates, the rules it was judged by,
    when, and by whom."""
    lines = [ln for ln in (claim or {}).get("lines") or [] if isinstance(ln, dict)]
    if claim is None:
        patient = "not recorded"
    else:
        shown = masked_patient_id(claim.get("patient_id"), include_identifiers)
        patient = ("not given" if not shown else shown if include_identifiers else f"{shown} (masked)"
                   if shown == MASK else f"{shown} (masked: its last {SHOWN_END} characters shown)")
    providers: dict[str, list] = {}
    for ln in lines:
        pid = one_line(str(ln.get("provider_id") or "")).strip()
        if pid:
            role = one_line(str(ln.get("provider_role") or "")).replace("_", " ").strip()
            roles = providers.setdefault(pid, [])
            if role and role not in roles:
                roles.append(role)
    dates = sorted({one_line(str(ln.get("date_of_service"))) for ln in lines if ln.get("date_of_service")})
    unknown = "not recorded" if claim is None else "none given"
    def shown_id(p: str) -> str:
        return masked_patient_id(p, include_identifiers)

    prov = "; ".join(f"{shown_id(p)} ({', '.join(rs)})" if rs else shown_id(p) for p, rs in providers.items()) \
        or unknown
    if providers and not include_identifiers:
        prov += " (masked)"
    who = (f"<dd>{_e(reviewer)}</dd>" if reviewer and str(reviewer).strip()
           else '<dd><span class="blank">&nbsp;</span></dd>')
    return ['<dl class="meta claim-head">',
            f"<dt>Claim id</dt><dd>{_e(r.get('claim_id')) or '(no id)'}</dd>",
            f"<dt>Patient id</dt><dd>{_e(patient)}</dd>",
            f"<dt>Rendering providers (NPI)</dt><dd>{_e(prov)}</dd>",
            f"<dt>Dates of service</dt><dd>{_e(', '.join(dates) or unknown)}</dd>",
            f"<dt>Knowledge base version</dt><dd>{_e(r.get('kb_version') or 'not recorded')}</dd>",
            f"<dt>Edit releases loaded</dt><dd>{_e(_releases_text(releases))}</dd>",
            f"<dt>Judged on</dt><dd>{_e(created)}</dd>",
            f"<dt>Reviewer</dt>{who}",
            "</dl>"]


def _sign_off(reviewer: str | None) -> list[str]:
    """Room for the reviewer's notes and the lines a signature goes on, at the end of each claim's sheet."""
    name = _e(reviewer) if reviewer and str(reviewer).strip() else '<span class="blank">&nbsp;</span>'
    return ['<div class="signoff">', "<h3>Notes</h3>", '<div class="notes"></div>',
            f"<p>Reviewer: {name}</p>",
            '<p>Date reviewed: <span class="blank">&nbsp;</span></p>',
            '<p>Signature: <span class="blank">&nbsp;</span></p>', "</div>"]


def summary_counts(results: list[dict]) -> dict:
    """The counts the work paper opens with: claims by status, lines accepted, rejected and not checked
    (a line no rule covers is counted apart from accepted, issue 23), and denied lines by reason (title,
    CARC, group code, rule id, and the CARC's description when the judge gave one), most frequent first."""
    claims = {"accepted": 0, "rejected": 0, "error": 0}
    lines = {"accepted": 0, "rejected": 0, "not_checked": 0, "not_judged": 0}
    by_reason: dict[tuple, int] = {}
    words: dict[tuple, str] = {}
    for r in results:
        claims[r.get("status", "error")] = claims.get(r.get("status", "error"), 0) + 1
        # the lines of a claim that could not be judged: counted, so the lines add up to those given (370 of
        # 371 uploaded, the one not judged unsaid: an explorer audit)
        lines["not_judged"] += len(r.get("lines_not_judged") or []) if r.get("status") == "error" else 0
        for ln in r.get("lines", []):
            lines["rejected" if ln.get("status") == "rejected" else "not_checked" if not_checked(ln)
                  else "accepted"] += 1
            for x in {x["rule"]: x for x in ln.get("reasons", [])}.values():
                key = (_title(x), x.get("carc") or "", x.get("group_code") or "", x["rule"])
                by_reason[key] = by_reason.get(key, 0) + 1
                if x.get("carc_description"):
                    words.setdefault(key, str(x["carc_description"]))
    reasons = [{"title": t, "carc": c, "group_code": g, "rule": rid, "lines": n,
                "carc_description": words.get((t, c, g, rid), "")}
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
           f'<h3>Line {_e(ln.get("line"))} · {_e(ln.get("code"))}: '
           f'<span class="{_verdict_css(ln)}">{_e(_verdict(ln))}</span></h3>']
    cited: set = set()
    for x in ln.get("reasons", []):
        sm = x.get("summary") or {}
        out.append('<div class="reason">')
        out.append(f"<p>Reason: <strong>{_e(_title(x))}</strong>{_carc(x)}</p>")
        out.append(_carc_words(x))
        out.append(f"<p>{_e(sm.get('message') or x.get('message', ''))}</p>")
        if sm.get("facts"):
            out.append("<p>Rests on: " + "; ".join(_e(f) for f in sm["facts"]) + "</p>")
        out.extend(_sources(sm.get("sources") or x.get("sources"), cited))
        conf = x.get("confidence")
        out.append(f'<p class="detail">rule {_e(x.get("rule"))}' + (f" · {_e(conf)} confidence" if conf else "") + "</p>")
        out.append("</div>")
    summ = ln.get("summary") or {}
    # explained: the summary's billing-word lines (raw engine conditions stay in the JSON); a result
    # without its summary shows no why-not rather than raw conditions
    why_not = (summ.get("why_not") or []) if rejected else []
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
    for c in ln.get("source_conflicts") or []:  # the sources the code rests on contradict each other (an auditor reads it here)
        out.append(f'<p class="assumed">Note: the sources conflict: {_e(c.get("label", ""))}. {_e(c.get("resolution", ""))}</p>')
    out.append("</div>")
    return out


def _fix(n: int, s: dict) -> str:
    checked = "re-checked by the rules" if s.get("verified") else "not re-checked"
    result = f"; the claim is then {_e(s['result_status'])}" if s.get("result_status") else ""
    return f'<p class="fix"><strong>Fix {n}</strong> ({checked}{result}): {_e(s.get("message", ""))}</p>'


def _claim(r: dict, claim: dict | None = None, created: str = "", releases: list[dict] | None = None,
           include_identifiers: bool = False, reviewer: str | None = None) -> list[str]:
    """One claim's sheet: its header, its lines, the denied lines explained, the fixes, then notes and sign-off."""
    cid = r.get("claim_id")
    unchecked = sum(1 for ln in r.get("lines", []) if not_checked(ln))
    extra = (f'; <span class="notchecked">{unchecked} line{"s" if unchecked != 1 else ""} not checked</span>'
             if unchecked and r.get("status") != "error" else "")
    out = ['<section class="claim">',
           f"<h2>Claim {_e(cid) or '(no id)'}: {_status(r.get('status', 'error'))}{extra}</h2>"]
    out += _claim_head(r, claim, created, releases, include_identifiers, reviewer)
    if r.get("status") == "error":
        out.append(f'<p class="error">Cannot be judged: {_e(r.get("error", ""))}</p>')
        out += _sign_off(reviewer)
        out.append("</section>")
        return out
    out.append('<table><thead><tr><th class="num">line</th><th>code</th><th>verdict</th><th>reasons</th>'
               "<th>CARC</th></tr></thead><tbody>")
    for ln in r.get("lines", []):
        reasons = "; ".join(_e(_title(x)) for x in ln.get("reasons", []))
        carcs = "; ".join(_e(f"{x.get('group_code') or ''}-{x['carc']}".lstrip("-"))
                          for x in ln.get("reasons", []) if x.get("carc"))
        out.append(f'<tr><td class="num">{_e(ln.get("line"))}</td><td>{_e(ln.get("code"))}</td>'
                   f'<td class="{_verdict_css(ln)}">{_e(_verdict(ln))}</td><td>{reasons}</td><td>{carcs}</td></tr>')
    out.append("</tbody></table>")
    sugg = r.get("suggestions") or []
    for ln in r.get("lines", []):
        if ln.get("reasons") or ln.get("warnings") or ln.get("assumptions") or ln.get("source_conflicts"):
            out.extend(_line(ln, sugg))
    if sugg:
        out.append("<h3>Fixes</h3>")
        out.extend(_fix(n, s) for n, s in enumerate(sugg, 1))
    elif r.get("status") == "rejected" and "suggestions" in r and not r.get("cut_short"):
        out.append("<p>No fix found in the knowledge base for this claim.</p>")
    if r.get("cut_short"):
        out.append(f"<p class=\"cut-short\">{_e(r['cut_short'])}</p>")
    out += _sign_off(reviewer)
    out.append("</section>")
    return out


def work_paper(results: list[dict], created: str | None = None, title: str | None = None, *, claims=None, kb=None,
               releases: list[dict] | None = None, include_identifiers: bool = False,
               reviewer: str | None = None) -> str:
    """The work paper for ``results`` (``cptkg check --json`` dicts, explained or not) judged at ``created``
    (an ISO date or time; default now, UTC).

    ``claims``: the input claims (the reader's, in the results' order, or any claims by id): the header's
    patient id, providers and dates come from them ("not recorded" without). ``kb`` (or ``releases``, as
    :func:`edit_releases` gives them): the edit releases loaded. ``include_identifiers``: the patient id in
    clear. ``reviewer``: the reviewer's name, printed on each claim's header and sign-off (else a blank line)."""
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if releases is None and kb is not None:
        releases = edit_releases(kb)
    inputs = _inputs(results, claims)
    # a claim that could not be judged carries no version: it was read against the same KB as the others
    seen = {str(r["kb_version"]) for r in results if r.get("kb_version")}
    judged_by = getattr(kb, "version", None) or (next(iter(seen)) if len(seen) == 1 else None)
    if title is None:
        title = (f"Claim audit work paper: claim {one_line(str(results[0].get('claim_id') or '(no id)'))}"
                 if len(results) == 1 else "Claim audit work paper")
    versions = sorted({str(r["kb_version"]) for r in results if r.get("kb_version")})
    counts = summary_counts(results)
    c, ln = counts["claims"], counts["lines"]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title>", f"<style>{CSS}</style>", "</head>",
           '<body class="one-claim">' if len(results) == 1 else "<body>",
           f"<h1>{_e(title)}</h1>",
           '<p class="noprint">To keep it as a PDF, print this page from the browser (Print, then Save as PDF).</p>',
           '<dl class="meta">',
           f"<dt>Judged on</dt><dd>{_e(created)}</dd>",
           f"<dt>Knowledge base version</dt><dd>{_e(', '.join(versions) or 'not recorded')}</dd>",
           f"<dt>Edit releases loaded</dt><dd>{_e(_releases_text(releases))}</dd>",
           f"<dt>Claims</dt><dd>{sum(c.values())}: {c['accepted']} accepted, {c['rejected']} rejected, "
           f"{c['error']} could not be judged</dd>",
           f"<dt>Lines</dt><dd>{sum(ln.values())}: {ln['accepted']} accepted, "
           f"{ln['rejected']} rejected, {ln['not_checked']} not checked (outside the knowledge base)"
           + (f", {ln['not_judged']} not judged (their claim could not be judged)" if ln["not_judged"] else "")
           + "</dd>",
           "</dl>"]
    if counts["reasons"]:
        out.append("<h2>Denied lines by reason</h2>")
        words = any(x["carc_description"] for x in counts["reasons"])
        out.append('<table><thead><tr><th>reason</th><th>CARC</th><th>group code</th><th class="num">lines</th>'
                   + ("<th>CARC description</th>" if words else "") + "</tr></thead><tbody>")
        for x in counts["reasons"]:
            out.append(f'<tr><td>{_e(x["title"])} <span class="detail">({_e(x["rule"])})</span></td>'
                       f'<td>{_e(x["carc"])}</td><td>{_e(x["group_code"])}</td><td class="num">{x["lines"]}</td>'
                       + (f'<td>{_e(x["carc_description"])}</td>' if words else "") + "</tr>")
        out.append("</tbody></table>")
    for r, claim in zip(results, inputs):
        if not r.get("kb_version") and judged_by:
            r = {**r, "kb_version": judged_by}
        out.extend(_claim(r, claim, created, releases, include_identifiers, reviewer))
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def write(results: list[dict], created: str | None = None, title: str | None = None, claims=None, kb=None,
          include_identifiers: bool = False, reviewer: str | None = None, **_context) -> str:
    """The work paper; every value went through :func:`_e`, and the page passes
    :func:`cptkg.controls.shown_text` too, so no control character is in it raw.

    Context it reads besides the results (:func:`work_paper`): ``claims`` (the pipeline passes the reader's),
    ``kb`` (its edit releases), ``include_identifiers`` (the patient id in clear), ``reviewer``."""
    from cptkg.controls import shown_text

    return shown_text(work_paper(results, created=created, title=title, claims=claims, kb=kb,
                                 include_identifiers=include_identifiers, reviewer=reviewer))
