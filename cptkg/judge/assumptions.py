"""What the rules assumed of a line: facts the claim does not state, which the verdict did not check.

A line's route (an 837P service line and a FHIR Claim item have no element
for it) and a line's units where no unit edit is loaded are not refused and
not guessed: the verdict stands on what was stated, and each line says what
was left unchecked. Part of the verdict's record (``cptkg check --json``),
not only of its explanation: an integrator reading verdicts alone must see
that the route was never checked (a read-through of the check output).
"""
from __future__ import annotations

from cptkg.claims.models import Claim
from cptkg.knowledge.kb import KnowledgeBase


#: what separates an assumption from how to have it checked: a report that says the how once per claim, and
#: the explorer that says it in its own words, split the sentence there
HOW_TO_CHECK = "; to have it checked, "

#: how a user states a route the claim file does not carry (docs/interop.md, "History and route, for every format")
STATE_ROUTE = ("state it as the line's route (claim JSON or CSV) or with the FHIR item extension "
               "https://w3id.org/cptkg/fhir/StructureDefinition/route; cptkg check and batch also take "
               "--route for a whole file")


def route_assumptions(kb: KnowledgeBase, claim: Claim) -> dict[int, list[str]]:
    """Line -> the sentence saying what the rules assumed of a route the line does not state.

    An 837P service line and a FHIR Claim item have no element for the
    route, yet the rules deny a code billed for a route it does not apply to
    (the pack's descriptors). Refusing such claims would refuse
    every 837P; guessing a route would invent a fact. The rules check the
    route only where a line states one; the verdict says so for each
    line whose code is limited to some routes, so the analyst knows what
    was not checked and how to state it.
    """
    routes: dict[str, str] = {}
    for code, text in kb.facts.get("code_routes", ()):
        routes[code] = text
    out: dict[int, list[str]] = {}
    for ln in claim.lines:
        if ln.route is None and ln.code in routes:
            out[ln.line] = [f"The claim does not state the route of line {ln.line}: {ln.code} was "
                            f"judged as billed for {routes[ln.code]} delivery, the routes it applies to, and the "
                            f"route was not checked{HOW_TO_CHECK}{STATE_ROUTE}."]
        # units over 1 of a code no unit edit limits: nothing checked them, and no source gives a limit (MUE
        # values come in through the importers only); said, as the route is (a coder's audit)
        if ln.units > 1 and not _has_unit_edit(kb, ln.code):
            out.setdefault(ln.line, []).append(
                f"Line {ln.line} bills {ln.units} units of {ln.code}, and no unit edit (MUE) for {ln.code} is loaded: "
                f"the units were not checked; load the payer's MUE table (cptkg edits import mue, then --edits) to "
                f"check them.")
    return out


def _has_unit_edit(kb: KnowledgeBase, code: str) -> bool:
    """Does a unit edit of the pack or of a loaded edit table limit ``code``?"""
    if any(c == code for _, c in kb.facts.get("unit_edit_code", ())):
        return True
    if not kb.edit_tables:
        return False
    from cptkg.knowledge.edits.files import UNIT

    for t in kb.edit_index().tables:
        if any(t.edits.types[i] == UNIT for i in t.by_code.get(code, ())):
            return True
    return False


def unit_edit_codes(kb: KnowledgeBase) -> frozenset:
    """The codes a unit edit (MUE) of the pack or of a loaded edit table limits: the lines a release's values can
    judge (the note on lines dated before the oldest release counts only these: an integrator's audit, its count
    took in lines of codes the release does not list)."""
    got = kb.cache.get("unit_edit_codes")
    if got is None:
        codes = {c for _, c in kb.facts.get("unit_edit_code", ())}
        if kb.edit_tables:
            from cptkg.knowledge.edits.files import UNIT

            for t in kb.edit_index().tables:
                codes.update(c for c, rows in t.by_code.items() if any(t.edits.types[i] == UNIT for i in rows))
        got = kb.cache["unit_edit_codes"] = frozenset(codes)
    return got
