"""One judging pipeline: read → judge → explain → write → decision log.

Every face goes through :func:`run` (files: ``cptkg check``, ``cptkg
explain``) or :func:`judge` (claims already in memory: the explorer's
checker and batch page, the public API), so a claim is judged the same way
whatever it came in as and whatever it goes out as:

    read     any reader (claim JSON, FHIR R4, CSV; detected from the content)
    judge    the engine, through ``cptkg.judge.check``; a time-out or an engine
             failure becomes a one-line error entry there (``not_judged``),
             and every other claim is still judged
    explain  optional: proofs, why-not and verified fixes (``cptkg.explanation``)
    write    any writer (readable text, JSON, CSV, FHIR ClaimResponse, HTML work paper)
    log      optional: one decision-log line per claim (``cptkg.io.decision_log``)

Exit codes are the CLI's: 0 every line accepted, 1 a line rejected, 2 a claim
that could not be judged. A line not checked (outside the knowledge base,
``"checked": false``) leaves the code as it is: the rules found nothing wrong
with it, and a 1 would tell a script the claim has a denial it does not have;
the summary line counts it apart ("… 3 accepted, 1 not checked, 2 rejected …").
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cptkg.io import readers, writers

TEXT = "text"  # the readable report


@dataclass
class Outcome:
    text: str  # the rendered output
    results: list[dict]  # one JSON dict per claim (``cptkg check --json`` shape)
    summary: str
    exit_code: int  # 0 all accepted, 1 a line rejected, 2 a claim not judged
    format: str  # the input format read
    errors: list[str] = field(default_factory=list)  # one line per claim not judged, for stderr
    was_list: bool = True
    invalid: list[int] = field(default_factory=list)  # positions of claims refused as input (not judged)
    # what the analyst should know of how the claims were judged, one line each (for stderr): lines a history
    # row repeats, lines dated before the oldest loaded unit-edit release (cptkg.judge.notes)
    notes: list[str] = field(default_factory=list)


def _progress(total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty() and total > 1
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("checking claims"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)


def exit_code(results: list[dict]) -> int:
    """0 all accepted, 1 any line rejected, 2 any claim that could not be judged (a line not checked: 0).

    ``results``: the list ``check`` returns for a list, or the one result it returns for one claim."""
    if isinstance(results, dict):
        results = [results]
    if not isinstance(results, (list, tuple)) or not all(isinstance(r, dict) for r in results):
        raise TypeError("exit_code takes the results of cptkg.check or cptkg.explain (a result dict or a list of "
                        "them)")
    if any(r.get("status") == "error" for r in results):
        return 2
    return 1 if any(r.get("status") == "rejected" for r in results) else 0


def parse(kb, claims: list) -> list:
    """Each claim validated: a Claim, or the InputError naming what is wrong.

    Claim dicts are validated together (a claim id given twice is an error of
    the second); claims already parsed pass through. An empty list is an
    InputError.
    """
    from cptkg.claims.models import Claim, InputError, parse_claims

    claims = list(claims)
    if all(not isinstance(c, (Claim, InputError)) for c in claims):
        return parse_claims(claims, kb=kb)[0]
    return [c if isinstance(c, (Claim, InputError)) else parse_claims(c, kb=kb)[0][0] for c in claims]


def check_route(kb, route: str) -> None:
    """Refuse a ``--route`` that is not one of the pack's routes, before any claim is read."""
    from cptkg.claims.models import InputError
    from cptkg.knowledge.vocabulary import vocabulary

    routes = vocabulary(kb).values("route")
    if route not in routes:
        raise InputError(f"--route: {route[:40]!r} is not a route of this code family; use one of {', '.join(routes)}")


def state_route(claims: list, route: str) -> None:
    """Give every line that states no route the route the user stated for the file (``--route``).

    837P lines and FHIR items carry no route; the rules check
    the route only where a line states one (docs/interop.md, "History and route, for every format").
    A line's own route (a claim JSON ``route``, the FHIR route extension)
    wins over the option.
    """
    for claim in claims:
        lines = claim.get("lines") if isinstance(claim, dict) else None
        for ln in lines if isinstance(lines, list) else ():
            if isinstance(ln, dict) and ln.get("route") is None:
                ln["route"] = route


def within_claims_cap(n: int) -> None:
    """Refuse more claims than one run keeps results for (:data:`cptkg.limits.MAX_CHECK_CLAIMS`).

    Here, in the one place every face passes (the CLI's :func:`run`, the public API's ``check`` and
    ``explain``, the explorer), not in each face: the API once judged any number, holding every result.
    """
    from cptkg.limits import MAX_CHECK_CLAIMS

    if n > MAX_CHECK_CLAIMS:
        raise readers.ReadError(f"input: {n:,} claims: cptkg check and explain judge at most "
                                f"{MAX_CHECK_CLAIMS:,} claims a run (they keep every claim's result until they write "
                                f"them); cptkg batch judges a file of any size (cptkg batch FILE -o OUT.csv)")


def line_given(parsed: list, line: int) -> None:
    """Refuse explaining line ``line`` when no claim has it. A file of several claims (an 837P numbers each
    claim's lines from 1) explains the line of every claim that has it; the CLI, the API and the explorer
    all pass here (the API once returned an empty explanation for a line no claim had)."""
    from cptkg.claims.models import Claim, InputError

    judged = [c for c in parsed if isinstance(c, Claim)]
    if judged and not any(line in {ln.line for ln in c.lines} for c in judged):
        raise InputError(f"claim {judged[0].claim_id}: has no line {line}" if len(judged) == 1
                         else f"the input has no line {line} in any of its {len(judged):,} claims")


def judged_notes(kb, parsed: list) -> list[str]:
    """The notes of :attr:`Outcome.notes` for these claims, counted over the parsed claims (``cptkg batch``
    counts the same two things in SQL; :func:`cptkg.judge.notes.for_run` words them for both)."""
    from cptkg.claims.models import Claim
    from cptkg.judge import notes

    judged = [c for c in parsed if isinstance(c, Claim)]
    from cptkg.judge.assumptions import unit_edit_codes

    first = getattr(kb, "first_unit_release", None)
    limited = unit_edit_codes(kb) if first else frozenset()
    early = sum(1 for c in judged for ln in c.lines
                if str(ln.date_of_service) < first[0] and ln.code in limited) if first else 0
    return notes.for_run(kb, early, notes.overlapping_lines(judged))


def judge(kb, claims: list, *, explain: bool = False, line: int | None = None, depth: int | None = None,
          all_proofs: bool = False, engine: str | None = None, timeout: float | None = None,
          progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Judge claims (dicts in the claim JSON shape, parsed Claims, or InputErrors); one result each.

    Each result is the ``cptkg check --json`` dict of its claim (with the
    explanation's fields when ``explain``); a claim that is not valid input,
    or that the engine could not judge in time, is an error entry naming the
    claim, and every other claim is still judged.
    """
    from cptkg.judge.check import ClaimResult, check_claims, not_judged
    from cptkg.claims.models import InputError

    within_claims_cap(len(claims))
    parsed = parse(kb, claims)
    if explain and line is not None:
        line_given(parsed, line)
    kw = {} if timeout is None else {"timeout": timeout}
    out: list[dict] = []
    if not explain:
        results = check_claims(kb, parsed, engine=engine, progress=progress, **kw)
        return [r.to_json() for r in results]
    from cptkg.explanation import explain_claim
    from cptkg.engines import EvaluationError, EvaluationTimeout

    for i, c in enumerate(parsed):
        if isinstance(c, InputError):
            entry = ClaimResult(c.claim_id or "", "error", error=str(c), kb_version=kb.version,
                                lines_not_judged=list(getattr(c, "lines", ()))).to_json()
        else:
            try:
                ex = explain_claim(kb, c, line=line, depth=depth, all_proofs=all_proofs, engine=engine, **kw)
                entry = ex.to_json(line=line)
            except (EvaluationTimeout, EvaluationError) as e:
                entry = not_judged(kb, c, e).to_json()
        if "error" in entry:
            entry.setdefault("suggestions", [])
        out.append(entry)
        if progress:
            progress(i + 1, len(parsed))
    return out


def render(results: list[dict], output: str, *, was_list: bool = True, read: readers.ReadResult | None = None,
           created: str | None = None, full: bool = False, kb=None, paper: dict | None = None) -> str:
    """The results in ``output``: any registered writer (text, json, csv, fhir, html).

    ``full``: the text report unfolds each explained reason into its whole proof
    instead of the short explanation (the other formats carry every field anyway). ``kb``: the knowledge
    base judged with (the work paper names its version and edit releases); ``paper``: the work paper's
    options (``include_identifiers``, ``reviewer``)."""
    return writers.write(results, output, claims=read.claims if read else None,
                         row_keys=read.row_keys if read else None, was_list=was_list, created=created, full=full,
                         kb=kb, **(paper or {}))


def run(source: bytes | str | Path, input_format: str | None = None, output: str = "json",
        history: bytes | str | Path | None = None, kb=None, progress: bool | None = None,
        created: str | None = None, *, explain: bool = False, line: int | None = None,
        depth: int | None = None, all_proofs: bool = False, log: str | Path | None = None,
        log_identifiers: bool = False, engine: str | None = None, timeout: float | None = None,
        full: bool = False, deliver: Callable[[Outcome], None] | None = None, route: str | None = None,
        paper: dict | None = None) -> Outcome:
    """Read, judge (and explain), write, deliver, log.

    ``deliver`` (optional) puts the outcome where it goes (the CLI: standard
    output). The decision log is opened and checked before it and appended to
    after it: a decision is logged only once it was delivered, and a log that
    cannot be used stops the run before anything is delivered. An exception
    (or exit) from ``deliver`` propagates, and nothing is logged.

    ``kb`` and ``engine`` are the face's choice (a :class:`cptkg.session.Session`'s); a run without a
    knowledge base is refused (``TypeError``), as one without an engine is: no default is taken here.

    Raises :class:`cptkg.io.readers.ReadError` for a file that cannot be read
    as claims at all, and ``OSError`` (:class:`cptkg.io.decision_log.DecisionLogError`)
    when the decision log cannot be written (after judging: nothing is logged then).
    """
    from cptkg.engines import NoEngineChosen

    if kb is None:
        raise NoEngineChosen("no knowledge base chosen: the face builds a Session (cptkg.Session.open) and "
                             "passes its kb down")
    if engine is None:
        raise NoEngineChosen("no engine chosen: the face builds a Session (cptkg.Session.open) and passes its "
                             "engine down")
    if route is not None:
        check_route(kb, route)
    read = readers.read(source, input_format, history, kb=kb)
    within_claims_cap(len(read.claims))  # judge checks it too; here before twenty thousand claims are parsed
    if route is not None:
        state_route(read.claims, route)
    bar = _progress(len(read.claims), progress)
    tick = None
    if bar:
        task = bar.add_task("check", total=len(read.claims))
        bar.start()

        def tick(done, total):
            bar.update(task, completed=done)
    parsed = parse(kb, read.claims)  # judge checks the line asked for (every face passes there)
    try:
        results = judge(kb, parsed, explain=explain, line=line, depth=depth, all_proofs=all_proofs,
                        engine=engine, timeout=timeout, progress=tick)
    finally:
        if bar:
            bar.stop()
    opened = None
    if log:  # opened and checked now, appended to once the outcome is delivered
        from cptkg.io.decision_log import OpenLog

        opened = OpenLog(log, include_identifiers=log_identifiers)
    try:
        text = render(results, output, was_list=read.was_list, read=read, created=created, full=full, kb=kb,
                      paper=paper)
        errors = [r["error"] for r in results if r.get("status") == "error" and r.get("error")]
        from cptkg.claims.models import InputError

        invalid = [i for i, c in enumerate(parsed) if isinstance(c, InputError)]
        outcome = Outcome(text, results, writers.summary(results), exit_code(results), read.format, errors,
                          read.was_list, invalid, judged_notes(kb, parsed))
        if deliver is not None:
            deliver(outcome)
        if opened is not None:
            # a claim a reader refused is logged as received (its rows), with its error
            received = [getattr(c, "raw", None) if isinstance(c, InputError) else c for c in read.claims]
            opened.append(received, results, kb_version_value=kb.version)
    finally:
        if opened is not None:
            opened.close()
    return outcome


@dataclass
class Inferred:
    """One encounter's inference, read, judged, explained and written."""
    text: str  # the rendered output
    result: dict  # the ``cptkg infer --json`` dict (with proofs and failed conditions when explained)
    exit_code: int  # 0 a code for every documented service, 1 a service no code of the family covers


def infer(kb, encounter, *, engine: str | None, explain: bool = False, depth: int | None = None,
          output: str = TEXT) -> Inferred:
    """Read → judge → explain → write for an encounter, as :func:`run` is for claims.

    ``encounter`` is the encounter JSON (a dict) or a parsed ``Encounter``; an
    encounter that is not valid raises ``InputError`` naming the field. It is
    judged once: explained from the same evaluation (every rule's bindings
    kept) rather than judged again for its proofs. ``output`` is ``text`` or ``json``.
    """
    from cptkg.claims.models import Encounter, parse_encounter
    from cptkg.engines import NoEngineChosen
    from cptkg.io.writers.text import encounter_report
    from cptkg.judge.infer import infer_codes

    if kb is None or engine is None:
        raise NoEngineChosen("no knowledge base or engine chosen: the face builds a Session (cptkg.Session.open) "
                             "and passes its kb and engine down")
    enc = encounter if isinstance(encounter, Encounter) else parse_encounter(encounter, kb=kb)
    res = infer_codes(kb, enc, all_bindings=explain, engine=engine)
    if explain:
        from cptkg.explanation import explain_inferred

        result = explain_inferred(kb, res, depth)
    else:
        result = res.to_json()
    # What the claim checker says of each inferred code billed by this performer (an analyst's audit: infer
    # said an implant code "applies to the performer", a nurse, where check warns that no source lists who
    # performs it), and the route the encounter was read as when it states none.
    for entry in result["codes"]:
        entry["as_billed"] = as_billed(kb, entry["code"], enc, engine=engine)
    stated = encounter.route if isinstance(encounter, Encounter) else (
        encounter.get("route") if isinstance(encounter, dict) else None)
    assumed = [route_assumed(kb, enc.route)] if stated is None and enc.route is not None else []
    assumed += skill_assumed(kb, [e["code"] for e in result["codes"]])
    if assumed:
        result["assumptions"] = assumed
    if output == "json":
        from cptkg.io.writers import json as json_writer

        text = json_writer.write([result], was_list=False)
    elif output == TEXT:
        text = encounter_report(result)
    else:
        raise ValueError(f"unknown output {output!r}: an inference is written as text or json")
    return Inferred(text, result, 0 if res.codes and not res.uncovered else 1)


def skill_assumed(kb, codes: list[str]) -> list[str]:
    """A sentence for each inferred code requiring a skill (a physician's or QHP's) that a code of the same
    services does not: the code was chosen because the performer has the skill, which the sources do not
    say a service by such a performer always required (a coder's audit: a physician's refill was "bill
    95991" with nothing in the headline saying so; only "Not chosen" told of 95990)."""
    from cptkg.explanation.fixes import at_billed_skill

    out = []
    for code in codes:
        twin = at_billed_skill(kb, code, ("",))
        if twin == code or twin in codes:
            continue
        skills = sorted(kb.label(s) for (c, s) in kb.facts.get("requires_skill", ()) if c == code)
        out.append(f"{code} requires the {' and the '.join(skills)}: it was chosen because the performer has it. "
                   f"Bill {code} when the service required that skill; if the documentation shows it did not, "
                   f"bill {twin}.")
    return out


def route_assumed(kb, route: str) -> str:
    """The sentence saying an encounter stating no route was read as the pack's default (family.yaml)."""
    from cptkg.knowledge.vocabulary import vocabulary

    term = vocabulary(kb).term("route", route)
    return (f"The encounter does not state the route: it was read as {kb.label(term) if term else route}, "
            f"the family pack's default route. Codes apply to some routes only: if the route was another, state "
            f"it in the encounter (\"route\").")


def as_billed(kb, code: str, encounter, *, engine: str | None) -> dict:
    """The claim checker's line for ``code`` billed alone by the encounter's performer
    (:func:`cptkg.judge.questions.synthetic.billed_alone`): its status, verdict in words, reasons and warnings."""
    from cptkg.judge.questions import billed_alone

    return billed_alone(kb, code, encounter, engine=engine)


__all__ = ["Inferred", "Outcome", "TEXT", "as_billed", "exit_code", "infer", "judge", "parse", "render", "run"]

