"""What changes if, as an auditor's work paper: one self-contained HTML page, printable to PDF (issue 25).

``cptkg impact ... -o report.html`` (or ``-o html``, to standard output) writes it, and the explorer's
"What changed" page offers it for download. An auditor reads it without cptkg: what was compared (the
claims file, each side's knowledge base version, family pack, edit files and the releases they state,
each with the file CMS published), when it was judged, the summary by direction and by the edit or rule
that made the difference, then each changed line with both sides' verdicts, denial reasons and CARCs, and
the cause (the edit with its release, file and row, or the rule). Lines whose only change is their
warnings, and claims that could not be judged, are listed apart: nothing the analyst gave is dropped.

The page follows the check work paper's house rules (:mod:`cptkg.io.writers.html`): its inline CSS with
print styles, no script, image or font, the same Content-Security-Policy forbidding any load, and every
value from the claims, the packs or the edit files escaped by the same :func:`_e`.
"""
from __future__ import annotations

from datetime import datetime, timezone

from cptkg.io.writers.html import CSP, CSS, _e
from cptkg.judge.impact import DIRECTIONS

#: the work paper's own additions to the check work paper's style: the two sides side by side
EXTRA_CSS = """
.change { margin: .8rem 0 1.2rem; padding-left: .8rem; border-left: 3px solid #b3261e; break-inside: avoid;
          page-break-inside: avoid; }
.change.accepted-now { border-left-color: #146c2e; } .change.other { border-left-color: #8a5a00; }
.change.warned { border-left-color: #d9a300; }
table.sides td { width: 50%; }
.cause { background: #f3f0ff; padding: .3rem .6rem; margin: .3rem 0; }
"""

_DIRECTION_CSS = {"newly denied": "", "newly accepted": "accepted-now", "denied for another reason": "other"}


def _n(value) -> str:
    """A count as analysts read it: 43,209."""
    return f"{int(value):,}"


def _side_rows(s: dict) -> list[str]:
    tables = s.get("tables")
    if tables is None:  # a report written before the tables were recorded: its release labels
        tables = [{"release": r["release"], "release_date": r.get("release_date"), "file": "", "edit_file": ""}
                  for r in s.get("releases", [])]
    if tables:
        rel = "; ".join(
            (f"release {_e(t['release'])}" + (f" ({_e(t['release_date'])})" if t.get("release_date") else "")
             if t.get("release") else "no release stated")
            + (f": {_e(t['file'])}" if t.get("file") else "")
            + (f' <span class="detail">(loaded from {_e(t["edit_file"])})</span>'
               if t.get("edit_file") and t["edit_file"] != t.get("file") else "")
            for t in tables)
    else:
        rel = "none loaded (the pack's own edits only)"
    return [f"<td>{_e(s.get('kb_version') or 'not recorded')}</td>", f"<td>{_e(s.get('pack') or '')}</td>",
            f"<td>{_e(', '.join(s.get('edit_files') or []) or 'none')}</td>", f"<td>{rel}</td>"]


def _reason(r: dict) -> str:
    code = f" <strong>CARC {_e(r['carc'])}</strong>" if r.get("carc") else ""
    return (f'<div class="reason">{_e(r.get("title") or r["rule"])}{code}: {_e(r.get("message"))} '
            f'<span class="detail">(rule {_e(r["rule"])})</span></div>')


def _side_cell(sd: dict) -> str:
    if sd.get("checked") is False:  # a line no rule covers never reads as accepted (issue 23)
        css = "notchecked"
    else:
        css = sd["status"] if sd.get("status") in ("accepted", "rejected") else ""
    out = [f'<span class="status {css}">{_e(sd.get("verdict") or sd.get("status"))}</span>']
    out += [_reason(r) for r in sd.get("reasons") or []]
    for w in sd.get("warnings") or []:
        out.append(f'<div class="warning">warning: {_e(w.get("title") or w["rule"])}: {_e(w.get("message"))}</div>')
    ex = sd.get("explanation")
    if ex:
        out.append(_explanation(ex))
    return "".join(out)


def _explanation(ex: dict) -> str:
    """Each side's explanation (``--explain``): the deciding rules' facts, and why not, in billing words."""
    out = []
    for r in ex.get("reasons") or []:
        sm = r.get("summary") or {}
        facts = [f for f in sm.get("facts") or [] if isinstance(f, str)]
        if facts:
            out.append(f"<div class=\"detail\">{_e(sm.get('title') or r.get('rule'))} rests on: "
                       + "; ".join(_e(f) for f in facts) + "</div>")
        for s in sm.get("sources") or []:
            if isinstance(s, dict) and (s.get("quote") or s.get("citation")):
                out.append(f"<blockquote><cite>{_e(s.get('citation'))}</cite>{_e(s.get('quote'))}</blockquote>")
    summary = ex.get("summary")
    if isinstance(summary, dict):
        why = [w for w in summary.get("why_not") or [] if isinstance(w, str)]
        if why:
            out.append("<div class=\"detail\">why not accepted: " + "; ".join(_e(w) for w in why) + "</div>")
    return "".join(out)


def cause_html(c: dict, lead: str = "Because") -> str:
    """A cause: the edit (its text names the release, the row and the file CMS published; the edit file it was
    loaded from in small print) or the rule, and whether it now applies (after) or no longer applies (before)."""
    held = {"after": "now applies", "both": "applies, as it did before"}.get(c["side"], "no longer applies")
    if c.get("edits"):
        parts = []
        for ed in c["edits"]:
            loaded = ed.get("edit_file")
            parts.append(_e(ed["text"]) + (f' <span class="detail">(edit file {_e(loaded)})</span>' if loaded else ""))
        what = "; ".join(parts) + f' <span class="detail">(rule {_e(c["rule"])})</span>'
    else:
        what = f"rule {_e(c.get('title') or c['rule'])} <span class=\"detail\">({_e(c['rule'])})</span>"
    changed = "; ".join(dict.fromkeys(ed["change"] for ed in c.get("edits") or [] if ed.get("change")))
    return f'<div class="cause">{_e(lead)} {what} {held}{": " + _e(changed) if changed else ""}.</div>'


def _change(e: dict) -> list[str]:
    css = "warned" if e["direction"] == "warnings changed" else _DIRECTION_CSS.get(e["direction"], "")
    out = [f'<section class="change {css}">',
           f"<h3>Claim {_e(e['claim_id'])}, line {_e(e['line'])} · {_e(e['code'])} "
           f"({_e(e.get('date_of_service'))}): {_e(e['direction'])}</h3>",
           '<table class="sides"><thead><tr><th>before</th><th>after</th></tr></thead><tbody><tr>',
           f"<td>{_side_cell(e['before'])}</td><td>{_side_cell(e['after'])}</td>", "</tr></tbody></table>"]
    for c in e.get("causes") or []:
        out.append(cause_html(c))
    for c in e.get("still") or []:
        out.append(cause_html(c, "Still denied because"))
    for w in e.get("warnings_added") or []:
        out.append(cause_html(w, "New warning:"))
    for w in e.get("warnings_removed") or []:
        out.append(cause_html(w, "Warning gone:"))
    out.append("</section>")
    return out


def work_paper(report: dict, *, claims_file: str = "", created: str | None = None,
               title: str = "Impact work paper: what changes between two versions of the knowledge") -> str:
    """The page for ``report`` (:meth:`cptkg.judge.impact.Impact.to_json`), judged at ``created`` (ISO date or
    time; default now, UTC); ``claims_file``: the claims file's name as the analyst gave it."""
    from cptkg.controls import shown_text

    if hasattr(report, "to_json") and not isinstance(report, dict):
        report = report.to_json()  # the Impact itself, as cptkg.impact returns it
    if not isinstance(report, dict) or not isinstance(report.get("summary"), dict):
        # a bare KeyError 'summary' or a TypeError from deep in the page (an integrator's audit)
        raise ValueError("report: must be the impact report (cptkg.impact(...), or its to_json()), with its "
                         "'summary'; got " + (type(report).__name__ if not isinstance(report, dict)
                                              else "a dict without 'summary'"))
    created = created or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    s = report["summary"]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title>", f"<style>{CSS}{EXTRA_CSS}</style>", "</head>", "<body>",
           f"<h1>{_e(title)}</h1>",
           '<p class="noprint">To keep it as a PDF, print this page from the browser (Print, then Save as PDF).</p>',
           '<dl class="meta">',
           f"<dt>Claims file</dt><dd>{_e(claims_file or 'not recorded')}</dd>",
           f"<dt>Judged on</dt><dd>{_e(created)}</dd>",
           f"<dt>Claims and lines</dt><dd>{_n(s.get('claims_judged', s['claims']))} claim(s), {_n(s['lines'])} line(s), each judged "
           f"twice</dd>", "</dl>",
           "<h2>What was compared</h2>",
           "<table><thead><tr><th></th><th>knowledge base version</th><th>family pack</th><th>edit files</th>"
           "<th>edit releases (file published)</th></tr></thead><tbody>"]
    for which in ("before", "after"):
        out.append(f"<tr><th>{which}</th>{''.join(_side_rows(report.get(which) or {}))}</tr>")
    out += ["</tbody></table>", "<h2>Summary</h2>",
            f"<p>{_n(s['changed'])} line(s) change, in {_n(s['claims_affected'])} claim(s); "
            f"{_n(s['warnings_changed'])} line(s) only with other warnings"
            + (f"; {_n(s['not_judged'])} claim(s) could not be judged" if s.get("not_judged") else "") + ".</p>",
            '<table><thead><tr><th>direction</th><th class="num">lines</th></tr></thead><tbody>']
    for d in DIRECTIONS:
        out.append(f'<tr><td>{_e(d)}</td><td class="num">{_n(s["by_direction"][d])}</td></tr>')
    out.append("</tbody></table>")
    if s["by_cause"]:
        out.append("<h3>By edit or rule</h3>")
        out.append('<table><thead><tr><th>edit or rule</th>'
                   + "".join(f'<th class="num">{_e(d)}</th>' for d in DIRECTIONS)
                   + '<th class="num">lines</th></tr></thead><tbody>')
        for c in s["by_cause"]:
            out.append(f"<tr><td>{_e(c['cause'])}</td>"
                       + "".join(f'<td class="num">{_n(c[d])}</td>' for d in DIRECTIONS)
                       + f'<td class="num">{_n(c["lines"])}</td></tr>')
        out.append("</tbody></table>")
    out.append("<h2>Changed lines</h2>")
    if not report["changes"]:
        out.append("<p>No line's verdict changes.</p>")
    for e in report["changes"]:
        out += _change(e)
    if report.get("warning_changes"):
        out.append("<h2>Lines whose warnings change (verdict unchanged)</h2>")
        for e in report["warning_changes"]:
            out += _change(e)
    if report.get("errors"):
        out.append("<h2>Claims that could not be judged</h2><ul>")
        out += [f"<li>{_e(err['side'])}: {_e(err['error'])}</li>" for err in report["errors"]]
        out.append("</ul>")
    out += ['<section class="signoff"><h3>Review</h3><p>Notes:</p><div class="notes"></div>',
            '<p>Reviewer: <span class="blank"></span></p><p>Date: <span class="blank"></span></p>',
            '<p>Signature: <span class="blank"></span></p></section>', "</body>", "</html>"]
    return shown_text("\n".join(out) + "\n")


__all__ = ["cause_html", "work_paper"]
