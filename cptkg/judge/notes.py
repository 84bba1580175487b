"""Notes to the analyst on how a run's claims were judged: one line each, beside the verdicts (standard error
in ``check``, the summary in ``batch``), never part of a verdict.

A verdict can be right by the rules and still rest on input the analyst did not mean to give. An auditor
who takes the billed history from the warehouse that holds the audited claims gives each claim's own lines
as its history: 33 of 34 lines of an audit's file were then judged against themselves, with nothing said.
"""
from __future__ import annotations


def for_run(kb, early: int, overlap: int) -> list[str]:
    """The notes of one run, in one order, from its two counts: the lines dated before the oldest loaded
    unit-edit release, and the lines a history row repeats. ``check`` counts them over parsed claims
    (:func:`cptkg.pipeline.judged_notes`), ``batch`` in SQL over its rows; both say them through here."""
    said = [unit_release_note(getattr(kb, "first_unit_release", None), early), history_overlap(overlap)]
    return [n for n in said if n]


def unit_release_note(first: tuple[str, str] | None, lines_before: int) -> str | None:
    """The note for ``lines_before`` lines dated before the oldest unit-edit release ``first`` (first day,
    label: :func:`cptkg.knowledge.edits.releases.earliest_unit_release`); None when none are."""
    if not first or not lines_before:
        return None
    day, label = first
    return (f"{lines_before:,} line(s) are dated before {day}, when the oldest loaded unit-edit (MUE) release "
            f"({label}) took effect; the units of those whose codes it lists were judged by its values, which were "
            f"not yet in force on their dates: to judge them by the values in force then, load the release of "
            f"those dates too (--edits)")


def history_overlap(lines: int) -> str | None:
    """The note for ``lines`` claim lines that a row of their patient's history repeats; None when none do."""
    if not lines:
        return None
    return (f"{lines:,} line(s) are also in the patient's history, with the same code and date of service (and "
            f"provider, where the history row names one): a history lists services billed on earlier claims, and "
            f"each such line is judged against that row; if the history was taken with these claims, take them "
            f"out of it")


def overlapping_lines(claims) -> int:
    """Lines of parsed claims that a history entry of their claim repeats (code, date of service, and the
    provider where the entry names one), as ``cptkg batch`` counts them over its rows."""
    n = 0
    for c in claims:
        seen = {(h.code, str(h.date_of_service), h.provider_id) for h in getattr(c, "history", None) or ()}
        if not seen:
            continue
        for ln in c.lines:
            code, day = str(ln.code).strip().upper(), str(ln.date_of_service)
            if (code, day, ln.provider_id) in seen or (code, day, None) in seen:
                n += 1
    return n
