"""What changes if: the same claims judged under two versions of the knowledge, line by line (issue 25).

Every quarter the payer republishes its edit tables "as complete replacement
files" (domain notes, How payers apply edits: src:n-edit-files), and a pack's
rules change with the guide and the notes. The analyst's question is then
"which of our claims would now be denied, or paid, and why?". This module
answers it from two judgements the rest of cptkg already makes: it does not
judge (the face runs :func:`cptkg.judge.check.check_claims` once per side, so
every engine, reader and option works as it does for ``cptkg check``), it
compares.

A line **changes** when its status changes (newly denied, newly accepted) or
when it is denied on both sides but by other rules or another CARC (the
remittance an office receives would differ). A line whose status and denial
reasons stay but whose warnings (or verdict words, or "not checked") change
is listed apart: nothing is paid or denied differently, but an analyst
reading the line would read something else.

What made the difference is the reasons one side has and the other lacks,
compared by rule and by the edit they bound: an edit of a loaded edit table
is compared by what it is (its column 1/column 2 pair, or the code an MUE
limits), not by its row's id, which differs from release to release; it is
named with its release, file and row (:meth:`ImportedEdits.edit_record`), so
an auditor finds the row CMS published. A reason binding no table edit is
compared by its rule and message.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: the direction of a change, in the order the summary lists them
NEWLY_DENIED, NEWLY_ACCEPTED, OTHER_REASON = "newly denied", "newly accepted", "denied for another reason"
DIRECTIONS = (NEWLY_DENIED, NEWLY_ACCEPTED, OTHER_REASON)
WARNINGS_CHANGED = "warnings changed"


def decided_edits(kb, reason) -> list[dict]:
    """The edits of loaded edit tables a reason bound: release, file, row, and ``key`` (what the edit is).

    Why here and not :func:`cptkg.explanation.summary.decided_by`: the judge layer
    may not import the explainer, and impact needs the edit's key too.
    """
    if not getattr(kb, "edit_tables", None):
        return []
    idx = kb.edit_index()
    out: dict[str, dict] = {}
    for v in (getattr(reason, "bindings", None) or {}).values():
        if isinstance(v, str) and v not in out:
            found = idx.locate(v)
            if found is not None:
                table, i = found
                rec = table.edit_record(i)
                rec["key"] = [str(k) for k in table.key_of(i)]
                out[v] = rec
    return list(out.values())


def _carc(reason) -> str:
    """"CO-97", "97" without a group, "" for a reason with no CARC (a warning)."""
    if not reason.carc:
        return ""
    return f"{reason.group_code}-{reason.carc}" if reason.group_code else str(reason.carc)


def _reason(kb, reason) -> dict:
    edits = decided_edits(kb, reason)
    out = {"rule": reason.rule, "title": reason.title or reason.rule, "message": reason.message}
    if reason.carc:
        out["carc"] = _carc(reason)
    out["source"] = reason.source
    out["edits"] = edits
    return out


def _signature(r: dict) -> tuple:
    """What makes a reason "the same" on both sides: its rule and the edits it bound, else its message."""
    if r["edits"]:
        return (r["rule"], tuple(sorted(tuple(e["key"]) for e in r["edits"])))
    return (r["rule"], r["message"])


def side(kb, line) -> dict:
    """One side's view of a line (a :class:`cptkg.judge.check.LineResult`): status, rules, CARC, reasons."""
    reasons = [_reason(kb, r) for r in line.reasons]
    warnings = [_reason(kb, w) for w in line.warnings]
    return {"status": line.status, "verdict": line.verdict or line.status, "checked": line.checked,
            "rules": list(dict.fromkeys(r["rule"] for r in reasons)),
            "carc": list(dict.fromkeys(r["carc"] for r in reasons if r.get("carc"))),
            "warning_rules": list(dict.fromkeys(w["rule"] for w in warnings)),
            "reasons": reasons, "warnings": warnings}


def _only(a: list[dict], b: list[dict]) -> list[dict]:
    """The reasons of ``a`` that ``b`` has not (compared by :func:`_signature`)."""
    have = {_signature(r) for r in b}
    return [r for r in a if _signature(r) not in have]


def _cause(r: dict, which: str) -> dict:
    """A reason one side has and the other lacks, as the cause of a change."""
    out = {"side": which, "rule": r["rule"], "title": r["title"], "message": r["message"]}
    if r.get("carc"):
        out["carc"] = r["carc"]
    out["edits"] = [{k: e[k] for k in ("text", "kind", "release", "release_date", "file", "edit_file", "row", "key")}
                    for e in r["edits"]]
    return out


def name_edit_changes(report: "Impact", kb_before, kb_after) -> None:
    """Say in each cause's edit what changed in it between the two sides (``change``: "modifier indicator 0 → 1",
    as ``cptkg diff`` says it): "edit … no longer applies" alone read as if the pair were gone when only its
    indicator changed (a payer-edit specialist's audit). Read for the edits the changes rest on only."""
    # the edits a line is still denied under too: "applies, as it did before" named the after side's row of a
    # pair whose indicator had changed from 0 to 1 (an audit)
    causes = [c for e in report.changes for c in e.get("causes", []) + e.get("still", [])]
    causes += [c for e in report.warning_changes for c in e.get("warnings_added", []) + e.get("warnings_removed", [])]
    keys = {tuple(ed["key"]) for c in causes for ed in c["edits"] if ed.get("key")}
    if not keys:
        return
    from cptkg.knowledge.diff import edit_changes

    words = edit_changes(kb_before, kb_after, keys)
    for c in causes:
        for ed in c["edits"]:
            said = words.get(tuple(ed.get("key") or ()))
            if said:
                ed["change"] = said


def cause_label(c: dict) -> str:
    """A cause as the summary groups it: the edit (with release and row) when one decided, else the rule."""
    if c["edits"]:
        return "; ".join(e["text"] for e in c["edits"])
    return f"rule {c['rule']} ({c['title']})"


@dataclass
class Impact:
    """The comparison: every changed line, every line whose warnings changed, every claim not judged."""

    lines: int = 0
    claims: int = 0
    changes: list[dict] = field(default_factory=list)
    warning_changes: list[dict] = field(default_factory=list)
    #: one entry per claim that could not be judged on a side (with the side and the one-line error)
    errors: list[dict] = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    #: what the reader should know of how the sides were set (a side of releases newer than its lines' dates,
    #: the newer release given as before), in words
    notes: list[str] = field(default_factory=list)
    #: the claims each side read (the reader's dicts, in input order), kept so a face can explain one line of a
    #: side on demand without reading the file again; not part of the JSON
    inputs: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def exit_code(self) -> int:
        """0 nothing changes, 1 a line's verdict or warnings change, 2 a claim could not be judged."""
        if self.errors:
            return 2
        return 1 if self.changes or self.warning_changes else 0

    def summary(self) -> dict:
        by_direction = {d: sum(1 for c in self.changes if c["direction"] == d) for d in DIRECTIONS}
        by_cause: dict[str, dict] = {}
        for c in self.changes:
            for cause in c["causes"]:
                label = cause_label(cause)
                entry = by_cause.setdefault(label, {"cause": label, "rule": cause["rule"], "lines": 0,
                                                    **{d: 0 for d in DIRECTIONS}})
                entry["lines"] += 1
                entry[c["direction"]] += 1
        affected = {c["claim_id"] for c in self.changes}
        return {"lines": self.lines, "claims": self.claims, "changed": len(self.changes),
                "warnings_changed": len(self.warning_changes), "by_direction": by_direction,
                "by_cause": sorted(by_cause.values(), key=lambda e: (-e["lines"], e["cause"])),
                "claims_affected": len(affected),
                "claims_affected_ids": sorted(affected, key=str),
                # a claim refused on both sides is one claim not judged (an error entry per side)
                "not_judged": len({e["position"] for e in self.errors}),
                "claims_judged": self.claims - len({e["position"] for e in self.errors})}

    def to_json(self) -> dict:
        return {"lines": self.lines, "changed": len(self.changes), "notes": list(self.notes), "changes": self.changes,
                "warning_changes": self.warning_changes, "errors": self.errors, "summary": self.summary(),
                "before": self.before, "after": self.after}

    def rows(self) -> list[dict]:
        """One flat row per changed line (then per line whose warnings changed), in :data:`COLUMNS`: the CSV
        and Parquet of ``cptkg impact -o`` and the explorer's download are the same table."""
        out = []
        for e in self.changes + self.warning_changes:
            causes = e.get("causes") or e.get("warnings_added", []) + e.get("warnings_removed", [])
            edits = [ed for c in causes for ed in c["edits"]]
            out.append({
                "claim_id": e["claim_id"], "line": e["line"], "code": e["code"],
                "date_of_service": e["date_of_service"], "direction": e["direction"],
                "before_status": e["before"]["verdict"], "before_rules": _cell_list(e["before"]["rules"]),
                "before_carc": _cell_list(e["before"]["carc"]),
                "after_status": e["after"]["verdict"], "after_rules": _cell_list(e["after"]["rules"]),
                "after_carc": _cell_list(e["after"]["carc"]),
                "cause_rules": _cell_list(dict.fromkeys(f"{c['rule']} ({c['side']})" for c in causes)),
                "cause_edits": _cell_list(ed["text"] for ed in edits),
                "cause_releases": _cell_list(dict.fromkeys(ed["release"] for ed in edits)),
                "cause_rows": _cell_list(ed["row"] for ed in edits),
                "before_warnings": _cell_list(e["before"]["warning_rules"]),
                "after_warnings": _cell_list(e["after"]["warning_rules"])})
        return out

    def csv(self) -> str:
        """:meth:`rows` as CSV text, every cell spreadsheet-safe (:mod:`cptkg.spreadsheet`)."""
        import io

        from cptkg.spreadsheet import DictWriter

        buf = io.StringIO()
        w = DictWriter(buf, COLUMNS)
        w.writeheader()
        for r in self.rows():
            w.writerow(r)
        return buf.getvalue()


#: the columns of the changed-lines table (``cptkg impact -o FILE.csv`` / ``.parquet``, the explorer's CSV)
COLUMNS = ("claim_id", "line", "code", "date_of_service", "direction", "before_status", "before_rules",
           "before_carc", "after_status", "after_rules", "after_carc", "cause_rules", "cause_edits",
           "cause_releases", "cause_rows", "before_warnings", "after_warnings")


def _cell_list(values) -> str:
    return "; ".join(str(v) for v in values if v not in (None, ""))


def _line_entry(claim_id, b, a, kb_before, kb_after) -> tuple[str | None, dict]:
    """(the direction, or WARNINGS_CHANGED, or None when nothing changes; the entry)."""
    before, after = side(kb_before, b), side(kb_after, a)
    entry = {"claim_id": claim_id, "line": b.line, "code": b.code, "date_of_service": b.date_of_service}
    if before["status"] != after["status"]:
        direction = NEWLY_DENIED if after["status"] == "rejected" else NEWLY_ACCEPTED
    elif before["status"] == "rejected" and (set(before["rules"]) != set(after["rules"])
                                             or set(before["carc"]) != set(after["carc"])
                                             or _only(before["reasons"], after["reasons"])
                                             or _only(after["reasons"], before["reasons"])):
        direction = OTHER_REASON
    elif (before["verdict"] != after["verdict"] or before["checked"] != after["checked"]
          or _only(before["warnings"], after["warnings"]) or _only(after["warnings"], before["warnings"])):
        entry.update(direction=WARNINGS_CHANGED, before=before, after=after,
                     warnings_added=[_cause(w, "after") for w in _only(after["warnings"], before["warnings"])],
                     warnings_removed=[_cause(w, "before") for w in _only(before["warnings"], after["warnings"])])
        return WARNINGS_CHANGED, entry
    else:
        return None, entry
    causes = ([_cause(r, "after") for r in _only(after["reasons"], before["reasons"])]
              + [_cause(r, "before") for r in _only(before["reasons"], after["reasons"])])
    entry.update(direction=direction, before=before, after=after, causes=causes)
    if direction == OTHER_REASON:
        # the reasons the line is denied for on both sides: "denied for another reason" of a line that lost one
        # of two reasons read as if its remaining reason were new (a payer-edit specialist's audit)
        have = {_signature(r) for r in before["reasons"]}
        entry["still"] = [_cause(r, "both") for r in after["reasons"] if _signature(r) in have]
    return direction, entry


def compare(kb_before, results_before: list, kb_after, results_after: list) -> Impact:
    """Compare the judgements of the same claims (``ClaimResult`` lists, in input order) under two KBs.

    Claims are matched by position (both sides read the same file); a claim
    not judged on either side is an error entry, never dropped.
    """
    out = Impact(before=kb_summary(kb_before), after=kb_summary(kb_after))
    for i, (rb, ra) in enumerate(zip(results_before, results_after)):
        out.claims += 1
        claim_id = rb.claim_id or ra.claim_id
        if rb.error is not None or ra.error is not None:
            for which, r in (("before", rb), ("after", ra)):
                if r.error is not None:
                    out.errors.append({"claim_id": claim_id, "position": i + 1, "side": which, "error": r.error})
            continue
        after_lines = {ln.line: ln for ln in ra.lines}
        for b in rb.lines:
            out.lines += 1
            a = after_lines.get(b.line)
            if a is None:  # both sides judge the same input: a line cannot go missing; said, never dropped
                out.errors.append({"claim_id": claim_id, "position": i + 1, "side": "after",
                                   "error": f"claim {claim_id}: line {b.line} has no verdict after"})
                continue
            direction, entry = _line_entry(claim_id, b, a, kb_before, kb_after)
            if direction == WARNINGS_CHANGED:
                out.warning_changes.append(entry)
            elif direction is not None:
                out.changes.append(entry)
    name_edit_changes(out, kb_before, kb_after)
    from cptkg.judge.assumptions import unit_edit_codes

    dated = [(str(ln.date_of_service), ln.code) for r in results_before if r.error is None for ln in r.lines]
    codes = {"before": unit_edit_codes(kb_before), "after": unit_edit_codes(kb_after)}
    out.notes = side_notes(out.before, out.after,
                           lambda which, day: sum(1 for d, c in dated if d and d < day and c in codes[which]))
    return out


def side_notes(before: dict, after: dict, lines_before, what: str = "line(s)") -> list[str]:
    """What a payer reader should know of how the two sides were set (a payer-edit specialist's audit: both went
    unsaid): the before side newer than the after side, and lines dated before a side's earliest release, which
    that release judged though it was not in force on their dates."""
    notes = []
    newest = {w: max((r["release_date"] or "", r["release"]) for r in s["releases"]) if s["releases"] else None
              for w, s in (("before", before), ("after", after))}
    if newest["before"] and newest["after"] and newest["before"][0] > newest["after"][0]:
        notes.append(f"the before side's newest release ({newest['before'][1]}, {newest['before'][0]}) is newer than "
                     f"the after side's ({newest['after'][1]}, {newest['after'][0]}): the comparison goes back in "
                     f"time; give the earlier release with --before-edits and the newer with --after-edits")
    for which, s in (("before", before), ("after", after)):
        # only a unit-edit (MUE) release judges dates before it (cptkg.knowledge.edits.releases): a pair edit
        # row applies from its own effective date (an analyst's audit: PTP-only releases got this note)
        unit = s.get("earliest_unit_release")
        if not unit:
            continue
        first_date, first = unit["release_date"], unit["release"]
        # the lines dated before a day whose codes a unit edit of the side lists (the batch path counts them in SQL)
        early = lines_before(which, first_date)
        if early:
            notes.append(f"{early:,} {what} are dated before {first_date}, when the {which} side's earliest unit-edit "
                         f"(MUE) release ({first}) took effect; the units of those whose codes it lists were judged "
                         f"by its values; to judge them by the release in force on their dates, load that release "
                         f"too (with --{which}-edits)")
    return notes


def kb_summary(kb) -> dict:
    """What a side was judged with: the KB version, its pack folder, its edit files and their releases."""
    releases = set()
    for t in getattr(kb, "edit_tables", ()) or ():
        for s in t.table_sources.values():
            if s.release:
                releases.add((s.release, s.release_date))
    tables: dict[tuple, dict] = {}  # each published file once: what an auditor looks up (the HTML work paper)
    for t in getattr(kb, "edit_tables", ()) or ():
        loaded = getattr(getattr(t, "path", None), "name", "") or ""
        for s in t.table_sources.values():
            e = {"release": s.release, "release_date": s.release_date, "file": s.file or loaded, "edit_file": loaded}
            tables.setdefault(tuple(e.values()), e)
    from cptkg.knowledge.edits.releases import earliest_unit_release

    unit = earliest_unit_release(getattr(kb, "edit_tables", ()) or ())
    return {"kb_version": kb.version, "pack": kb.root.name if getattr(kb, "root", None) else "",
            # the oldest loaded unit-edit release, which also judges the units of earlier dates (None: none loaded)
            "earliest_unit_release": {"release": unit[1], "release_date": unit[0]} if unit else None,
            "edit_files": [p.name for p in getattr(kb, "edit_files", ()) or ()],
            "releases": [{"release": r, "release_date": d} for r, d in sorted(releases, key=lambda x: (x[1] or "", x[0]))],
            "tables": sorted(tables.values(), key=lambda e: (e["release_date"] or "", e["release"] or "",
                                                             str(e["file"])))}


__all__ = ["COLUMNS", "DIRECTIONS", "Impact", "NEWLY_ACCEPTED", "NEWLY_DENIED", "OTHER_REASON", "WARNINGS_CHANGED",
           "cause_label", "compare", "decided_edits", "kb_summary", "side"]
