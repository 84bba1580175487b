"""``cptkg diff``: a release note of the knowledge between two edit releases or two family packs (issue 25)."""
from __future__ import annotations

import sys

import click


def _side(kb) -> str:
    files = ", ".join(p.name for p in getattr(kb, "edit_files", ()) or ()) or "no edit files"
    return f"{kb.root.name} + {files} (KB {kb.version})"


def text_report(note: dict, before, after) -> str:
    """The release note in words: each section, each entry with its source."""
    from cptkg.knowledge.diff import change_words

    s = note["summary"]
    out = [f"before: {_side(before)}", f"after:  {_side(after)}",
           f"edits: {s['edits_added']:,} added, {s['edits_deleted']:,} deleted, {s['edits_changed']:,} changed; "
           f"rules: {s['rules_added']:,} added, {s['rules_removed']:,} removed, {s['rules_changed']:,} changed; "
           f"facts: {s['facts_added']:,} added, {s['facts_removed']:,} removed, {s['facts_changed']:,} changed"]
    e = note["edits"]
    for entry in e["added"]:
        out.append(f"edit added    {entry['edit']}: {entry['words']}  [{entry['source']}]")
    for entry in e["deleted"]:
        out.append(f"edit deleted  {entry['edit']}: {entry['words']}  [{entry['source']}]")
    for entry in e["changed"]:
        # one row a side: the fields that differ; several: the dates of service on which they differ
        what = change_words(entry)
        out.append(f"edit changed  {entry['edit']}: {what}  [before: "
                   + "; ".join(r["source"] for r in entry["before"]) + "; after: "
                   + "; ".join(r["source"] for r in entry["after"]) + "]")
    r = note["rules"]
    for entry in r["added"]:
        out.append(f"rule added    {entry['rule']} ({entry['where']})  [{entry['source'] or 'no source'}]")
    for entry in r["removed"]:
        out.append(f"rule removed  {entry['rule']} ({entry['where']})  [{entry['source'] or 'no source'}]")
    for entry in r["changed"]:
        out.append(f"rule changed  {entry['rule']}: {', '.join(entry['changed'])} ({entry['where']})  "
                   f"[{entry['source'] or 'no source'}]")
    f = note["facts"]
    for entry in f["added"]:
        out.append(f"fact added    {entry['fact']}  [{entry['source']}]")
    for entry in f["removed"]:
        out.append(f"fact removed  {entry['fact']}  [{entry['source']}]")
    for entry in f["changed"]:
        out.append(f"fact changed  {entry['before']} → {entry['fact']}  [{entry['source']}]")
    return "\n".join(out)


@click.command("diff")
@click.option("--before-edits", "before_edits", metavar="EDITS.ttl", multiple=True,
              help="Edit file of the earlier release (as check --edits); repeatable.")
@click.option("--after-edits", "after_edits", metavar="EDITS.ttl", multiple=True,
              help="Edit file of the later release; repeatable.")
@click.option("--before-kb", "before_kb", metavar="DIR", default=None,
              help="The earlier family pack folder (default: the pack of --kb).")
@click.option("--after-kb", "after_kb", metavar="DIR", default=None,
              help="The later family pack folder (default: the pack of --kb).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def command(before_edits, after_edits, before_kb, after_kb, as_json):
    """A release note of the knowledge: the edits added, deleted and changed
    (dates, modifier indicator, unit value) between two edit releases, and
    the rules and facts added, removed and changed between two family packs,
    each with its source (release, file and row for an imported edit).

    Exit 0 when nothing differs, 1 when something does, 2 when a pack or
    edit file cannot be used.
    """
    from cptkg.faces.cli import dump, fail, out
    from cptkg.faces.commands.impact import _load
    from cptkg.knowledge.diff import diff, sides

    if not (before_edits or after_edits or before_kb or after_kb):
        fail("diff: give what to compare: --before-edits/--after-edits (two edit releases) or "
             "--before-kb/--after-kb (two family packs)")
    before = _load("--before-kb", before_kb, "--before-edits", before_edits)
    after = _load("--after-kb", after_kb, "--after-edits", after_edits)
    note = diff(before, after)
    if as_json:
        out(dump({**note, **sides(before, after)}), raw=True)
    else:
        out(text_report(note, before, after))
    sys.exit(1 if note["changed"] else 0)


def _shown(value) -> str:
    """A field's value in the release note: a value one side lacks is "none", never Python's None."""
    return "none" if value is None or value == "" else str(value)
