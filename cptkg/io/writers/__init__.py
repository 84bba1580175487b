"""Writers of check results, one module per output format, registered by name.

Each module (named in ``cptkg.registry``, kind ``writer``) defines ``NAME`` and ``write(results, **context) -> str`` where
``results`` are the ``cptkg check --json`` dicts (one per claim). Context a
format may use: ``claims`` (the input claim dicts, for the patient of a FHIR
ClaimResponse), ``row_keys`` (CSV input order), ``was_list``, ``created``.
"""
from __future__ import annotations

from types import ModuleType

from cptkg import registry


def format_names() -> list[str]:
    return registry.names("writer")


def formats() -> dict[str, ModuleType]:
    return registry.all_of("writer")


def write(results: list[dict] | dict, fmt: str, **context) -> str:
    """Render check results (JSON dicts) as ``fmt``: text, json, fhir, csv or html (the work paper)."""
    if fmt not in format_names():
        raise ValueError(f"--output must be one of {', '.join(format_names())}, not {fmt!r}")
    if isinstance(results, dict):
        results = [results]
        context.setdefault("was_list", False)
    return registry.get("writer", fmt).write(list(results), **context)


def why_not_words(line: dict) -> list[str]:
    """Why an explained line was not accepted, in the words the text explanation says it (its summary's
    ``why_not``: each failed condition once, the proof's plumbing folded away). The raw failures (``why_not``,
    kept whole in JSON) read "no fact found: line denied for the patient's device (1)" in CSV and FHIR
    notes, about rules that had nothing to do with the denial (a coder's audit)."""
    summ = line.get("summary")
    if isinstance(summ, dict):
        return [str(w) for w in summ.get("why_not") or []]
    return [w.get("message", "") for w in line.get("why_not", []) if w.get("message")]


def not_checked(line: dict) -> bool:
    """A line no rule of the pack covers: ``checked`` false (issue 23); its status stays "accepted"."""
    return line.get("status") == "accepted" and line.get("checked") is False


def _n(n: int, one: str) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {one}s"


def summary(results: list[dict]) -> str:
    """One line: claims and lines accepted, not checked (outside the knowledge base), rejected, or not judged.

    A line not checked is counted apart from the accepted ones (and only named when there is one, so
    the line reads as before for claims the pack covers whole)."""
    lines = [ln for r in results for ln in r.get("lines", [])]
    rejected = sum(1 for ln in lines if ln.get("status") == "rejected")
    unchecked = sum(1 for ln in lines if not_checked(ln))
    errors = sum(1 for r in results if r.get("status") == "error")
    claims_rej = sum(1 for r in results if r.get("status") == "rejected")
    apart = f"{unchecked} not checked, " if unchecked else ""
    out = (f"{_n(len(results), 'claim')}, {_n(len(lines), 'line')}: {len(lines) - rejected - unchecked} accepted, "
           f"{apart}{rejected} rejected ({_n(claims_rej, 'claim')} with a rejected line)")
    if errors:
        out += f"; {_n(errors, 'claim')} could not be judged"
        given = sum(len(r.get("lines_not_judged") or ()) for r in results if r.get("status") == "error")
        if given:
            out += f" ({_n(given, 'line')} not judged)"
    return out
