"""Suggested fixes: the smallest edits of a claim that make it acceptable, each re-judged.

What a fix may do is declared beside the rule it repairs, in the rule's
``% fix:`` metadata (see ``cptkg.rules.ast.FIX_KINDS``): remove the line,
combine it with another line into the code inference gives for both, void a
history entry, recode it to the code that fits its services, performer and
device, or add a modifier the rule names. This module knows those kinds of
edit, never a rule id, a code or a device.

Fixes are offered as a coder would make them (issue 23, finding 4): a recode
(the line, alone or together with the other lines of its date and provider
whose services the new code covers: a nurse's 62370 and 95990 are one 62369)
or a modifier (the one a rule names, or a repeat modifier of the KB's
modifier sets: "change 77 to 76", or, as a question, "if it was a true
repeat, mark it 76") is searched before any removal; a removal is offered
only when no unconditional recode or modifier fix that keeps the line
verifies, so a billable line is never dropped beside a fix that keeps it.
"""
from __future__ import annotations

import copy
import functools
import itertools
import json
from dataclasses import dataclass, field

from cptkg.judge.check import ClaimResult, check_claims
from cptkg.judge.infer import infer_codes
from cptkg.claims.models import Claim, InputError, parse_claim, parse_encounter
from cptkg.knowledge.kb import KnowledgeBase
from cptkg.knowledge.vocabulary import vocabulary
from cptkg.rules.messages import entry_fields, entry_name


#: how a fix that replaces two lines by the one code of both ends (:func:`search_fixes` says several of them once)
COVERS_BOTH = "which covers both services"


@dataclass
class Suggestion:
    remove_lines: list[int]
    add_lines: list[dict]
    message: str
    verified: bool
    void_history: list[int] = field(default_factory=list)
    add_modifiers: dict[int, list[str]] = field(default_factory=dict)
    result_status: str = ""
    #: what kind of edit this is, as a coder reads it: "recode" (a line billed under
    #: another code, alone or with lines its new code covers), "modifier" (a
    #: modifier added or changed), "void" (an earlier claim corrected first) or
    #: "remove" (a line dropped with nothing billed in its place); a fix of
    #: several lines is named by its most drastic edit
    kind: str = ""
    #: a conditional fix: the question the coder answers from the record
    #: before applying it ("was it a true repeat?"); empty when unconditional
    question: str = ""
    #: modifiers taken off a line (with add_modifiers: a modifier changed)
    remove_modifiers: dict[int, list[str]] = field(default_factory=dict)
    #: lines removed with nothing billed in their place (the "remove" edits)
    dropped: list[int] = field(default_factory=list)
    #: the lines the question is about (their edits are conditional)
    asks: list[int] = field(default_factory=list)
    #: a pair of lines replaced by one code that covers both services (two such fixes billing the same
    #: code merge into one line of it, said once); not part of the fix's JSON
    combines: bool = False
    #: the lines a "mark it 76/77" question says this line repeats: the fix is incoherent if it removes them all
    repeat_of: list[int] = field(default_factory=list)
    #: what the fix leaves billed by no claim, said after it is verified (another provider's earlier claim
    #: voided: the service it billed); a loss, as a dropped line's: ranked after the fixes that lose nothing
    unbilled: list[str] = field(default_factory=list)
    #: what else is said after it is verified, no loss (the service another provider's voided claim billed is
    #: then billed within this line's code); not part of the fix's JSON
    said_after: list[str] = field(default_factory=list)

    def edits(self) -> frozenset:
        """What the fix does to the claim, whatever its words, as a set of single edits: two rules' fixes
        that edit alike are one fix, and one fix can be seen to do all another does and more."""
        return frozenset([("remove", n) for n in self.remove_lines]
                         + [("add", json.dumps(a, sort_keys=True)) for a in self.add_lines]
                         + [("void", h) for h in self.void_history]
                         + [("add-modifier", k, m) for k, v in self.add_modifiers.items() for m in v]
                         + [("remove-modifier", k, m) for k, v in self.remove_modifiers.items() for m in v])

    @property
    def size(self) -> int:
        return (len(self.remove_lines) + len(self.add_lines) + len(self.void_history)
                + sum(len(v) for v in self.add_modifiers.values()) + sum(len(v) for v in self.remove_modifiers.values()))

    def to_json(self) -> dict:
        return {"remove_lines": self.remove_lines, "add_codes": [l["code"] for l in self.add_lines],
                "add_lines": self.add_lines, "void_history": self.void_history,
                "add_modifiers": {str(k): v for k, v in self.add_modifiers.items()},
                "message": self.message, "verified": self.verified, "result_status": self.result_status,
                "kind": self.kind, "question": self.question,
                "remove_modifiers": {str(k): v for k, v in self.remove_modifiers.items()},
                "dropped": list(self.dropped)}  # lines removed with nothing billed in their place


_KIND_ORDER = ("remove", "recode", "void", "units", "modifier")  # most drastic first


def _merged_kind(kinds) -> str:
    """The kind a fix of several edits is named by: its most drastic edit."""
    present = set(kinds)
    return next((k for k in _KIND_ORDER if k in present), "")


def apply_suggestion(claim: dict, s: dict | Suggestion) -> dict:
    """The claim with a suggested fix applied (plain JSON in, JSON out)."""
    if isinstance(s, Suggestion):
        s = s.to_json()
    out = copy.deepcopy(claim)
    rm = set(s.get("remove_lines", []))
    mods = {int(k): v for k, v in (s.get("add_modifiers") or {}).items()}
    unmods = {int(k): set(v) for k, v in (s.get("remove_modifiers") or {}).items()}
    lines = []
    for ln in out["lines"]:
        if ln["line"] in rm:
            continue
        if ln["line"] in unmods:  # a changed modifier: the old one goes before the new one is added
            ln["modifiers"] = [m for m in ln.get("modifiers", []) if m not in unmods[ln["line"]]]
        if ln["line"] in mods:
            ln["modifiers"] = list(dict.fromkeys(list(ln.get("modifiers", [])) + mods[ln["line"]]))
        lines.append(ln)
    lines.extend(copy.deepcopy(s.get("add_lines", [])))
    out["lines"] = sorted(lines, key=lambda l: l["line"])
    void = set(s.get("void_history", []))
    if void and "history" in out:
        out["history"] = [h for i, h in enumerate(out["history"], start=1) if i not in void]
    return out


def _services_text(kb: KnowledgeBase, code: str) -> list[str]:
    """The input values of the services ``code`` requires (what a fix re-documents)."""
    terms = [s for (c, s) in kb.facts.get("requires_service", ()) if c == code]
    values = {t: v for (t, v) in kb.facts.get("input_value", ())}
    return sorted(values[t] for t in terms if t in values)


def _devices(kb: KnowledgeBase, *codes: str) -> list[str]:
    """Input values of the devices every one of ``codes`` applies to (all devices when none says)."""
    vocab = vocabulary(kb)
    allowed = None
    for code in codes:
        terms = {d for (c, d) in kb.facts.get("applies_to_device", ()) if c == code}
        if terms:
            allowed = terms if allowed is None else allowed & terms
    values = vocab.values("device")
    if allowed is None:
        return values
    return [v for v in values if vocab.term("device", v) in allowed]


def _fitting_codes(kb: KnowledgeBase, services: list[str], role: str, devices: list[str],
                   route: str | None = None, engine=None, billed: tuple[str, ...] = ()) -> list[str]:
    """Codes inference gives for these services and performer, for any of ``devices``, by ``route``
    (the billed line's; None: the pack's default), so a fix never drops what made the line wrong;
    each at the skill level of the ``billed`` codes it replaces (:func:`at_billed_skill`)."""
    out: list[str] = []
    for device in devices or [None]:
        for code in _fitting_cached(kb, tuple(sorted(services)), role, device, route, engine):
            code = at_billed_skill(kb, code, billed)
            if code not in out:
                out.append(code)
    return out


def _billed_beside(claim: Claim, me, *others) -> tuple[str, ...]:
    """The codes ``me``'s provider bills on its date on this claim, and ``others``': what the encounter
    shows of the skill it needed (a 95991 beside 62368 and 95990 shows a physician's or QHP's skill)."""
    return tuple(dict.fromkeys([l.code for l in claim.lines if l.date_of_service == me.date_of_service
                                and l.provider_id == me.provider_id] + [o.code for o in others]))


def at_billed_skill(kb: KnowledgeBase, code: str, billed: tuple[str, ...]) -> str:
    """``code``, or the code of the same services, devices and routes without the skill it requires when no
    ``billed`` code requires that skill. Inference gives a physician the code requiring a physician's or
    QHP's skill (62370, 95991); a fix replacing a physician's 62368 and 95990, or a physician's 62369 on a
    reservoir, gave 62370 or 95991, though what was billed (95990, 62369: the level "typically performed by
    clinical staff") says that skill was not needed (a coder's audit): a fix does not raise the level billed.
    """
    skills = kb.facts.get("requires_skill", ())
    needs = {s for (c, s) in skills if c == code}
    if not billed or not needs or any(c in billed for (c, s) in skills if s in needs):
        return code

    def shape(c: str) -> tuple:
        return tuple(frozenset(x for (c2, x) in kb.facts.get(p, ()) if c2 == c)
                     for p in ("requires_service", "applies_to_device", "applies_to_route"))

    wanted = shape(code)
    twins = sorted(c for c in {c for (c, _) in kb.facts.get("requires_service", ())}
                   if c != code and not needs & {s for (c2, s) in skills if c2 == c} and shape(c) == wanted)
    return twins[0] if len(twins) == 1 else code


@functools.lru_cache(maxsize=512)
def _inferred(kb: KnowledgeBase, services: tuple, role: str, device: str | None,
              route: str | None = None, engine=None) -> tuple[tuple, frozenset] | None:
    """(codes, labels of the services no code covers) inference gives for these services: the KB's own
    answer to "what should have been billed". None when the services cannot make an encounter. Cached:
    both questions below ask it of the same services, and a claim's lines ask it again and again."""
    if not services or device is None:
        return None
    try:
        enc = parse_encounter({"encounter_id": "fix", "performer_role": role, "device": device,
                               "services": list(services), "route": route}, kb)
    except InputError:
        return None
    r = infer_codes(kb, enc, engine=engine)  # the engine the fixes are verified on
    return tuple(c for c, _ in r.codes), frozenset(label for label, _ in r.uncovered)


def _fitting_cached(kb: KnowledgeBase, services: tuple, role: str, device: str | None,
                    route: str | None = None, engine=None) -> tuple:
    """Codes that bill every one of these services (none when inference leaves one uncovered)."""
    got = _inferred(kb, services, role, device, route, engine)
    return got[0] if got is not None and not got[1] else ()


def _fitting_what_the_device_admits(kb: KnowledgeBase, services: tuple, role: str, device: str,
                                    route: str | None = None, engine=None) -> tuple[tuple, tuple]:
    """(codes, labels of the services left out) for the services of ``services`` some code of the family
    covers on ``device``: a nurse's 62369 on a nonprogrammable pump documents a reprogramming and an
    analysis no code covers on that pump (the codes for them are for a programmable pump), and the
    refill it holds is 95990, as the denial itself says. ((), ()) when every service is covered (the
    plain recode answers) or none is."""
    got = _inferred(kb, services, role, device, route, engine)
    if got is None or not got[1]:
        return (), ()
    vocab = vocabulary(kb)
    left_out = got[1]
    kept = tuple(v for v in services if kb.label(vocab.term("service", v) or v) not in left_out)
    if not kept or len(kept) == len(services):
        return (), ()
    return _fitting_cached(kb, kept, role, device, route, engine), tuple(sorted(left_out))


def _role_label(kb: KnowledgeBase, role: str) -> str:
    term = vocabulary(kb).term("role", role)
    return kb.label(term) if term else role


def reports_individually(kb: KnowledgeBase, role: str) -> bool | None:
    """Whether a performer of ``role`` reports their services individually (``ont:reportsIndividually`` on
    the role's class or a class above it; None when the pack does not say)."""
    term = vocabulary(kb).term("role", role)
    above = {b for (a, b) in kb.facts.get("subclass_of", ()) if a == term}
    said = {v for (c, v) in kb.facts.get("reports_individually", ()) if c in above}
    return False if "false" in said else True if "true" in said else None


def _performer(kb: KnowledgeBase, ln) -> str:
    """A line's performer as a fix names them: by role and line, never by identifier ("the nurse of line 2";
    identifiers are not shown in explanations, cptkg.explanation.proofs)."""
    return f"the {_role_label(kb, ln.provider_role)} of line {ln.line}"


def _performers(kb: KnowledgeBase, lines) -> str:
    """Several lines' performers: "the nurse of lines 2 and 3", "the nurse of line 2 and the PA of line 3"."""
    by_role: dict[str, list[int]] = {}
    for ln in lines:
        by_role.setdefault(_role_label(kb, ln.provider_role), []).append(ln.line)
    parts = [f"the {role} of line {ns[0]}" if len(ns) == 1 else
             f"the {role} of lines {', '.join(map(str, ns[:-1]))} and {ns[-1]}" for role, ns in by_role.items()]
    return " and ".join(parts)


def _merge_providers(kb: KnowledgeBase, me, other) -> list:
    """The lines whose provider may bill one code for ``me``'s and ``other``'s services together.

    One provider's two lines: that provider. Two providers: only a provider who reports individually
    (a physician or QHP) beside one who does not (clinical staff), whose service the first reports under
    their supervision (domain notes, "Who may perform": clinical staff "do not individually report the
    service"). A fix merged a physician's 62368 and a nurse's 95990 into the nurse's 62369 (a coder's
    audit): the nurse then billed the physician's reprogramming; two physicians each report their own.
    """
    if (me.provider_id, me.provider_role) == (other.provider_id, other.provider_role):
        return [me]
    # two providers, or one NPI on lines of two roles (incident-to lines often carry the supervising
    # physician's NPI: "62369 billed by the nurse NPI-B" reported the physician's reprogramming as the
    # nurse's, a regression hunt): the role that reports individually, beside one that does not
    return [x for x, y in ((me, other), (other, me))
            if reports_individually(kb, x.provider_role) is True and reports_individually(kb, y.provider_role) is False]


def _line_options(kb: KnowledgeBase, claim: Claim, res: ClaimResult, ln, engine=None) -> list[Suggestion]:
    """Candidate edits for one rejected line, most service-preserving first.

    Each reason's rule declares the fixes that may repair it (``% fix:``);
    removing the line is allowed unless a rule that declares fixes leaves
    removal out (two codes that each lack the other's service are replaced
    together, not dropped one by one).
    """
    lines = {l.line: l for l in claim.lines}
    me = lines[ln.line]
    opts: list[Suggestion] = []
    base = {"date_of_service": me.date_of_service, "provider_id": me.provider_id, "units": 1, "modifiers": []}
    if me.route is not None:  # a replacement line keeps the route the service was given by
        base["route"] = me.route
    recode_devices: list[str] | None = None
    modifiers: list[str] = []
    removable = True
    for r in ln.reasons:
        rule = kb.rule(r.rule)
        specs = [f.split() for f in (rule.meta.fix if rule else [])]
        if specs and not any(kind == "remove" for kind, *_ in specs):
            removable = False
        b = r.bindings
        for kind, *args in specs:
            arg = b.get(args[0]) if args else None
            if kind == "combine" and arg in lines and arg != me.line:
                other = lines[arg]
                services = sorted(set(_services_text(kb, me.code)) | set(_services_text(kb, other.code)))
                devices = _devices(kb, me.code, other.code)
                if other.route is not None and me.route is not None and other.route != me.route:
                    continue  # two routes: no one code covers both lines
                route = me.route if me.route is not None else other.route
                for biller in _merge_providers(kb, me, other):
                    role = biller.provider_role
                    helper = other if biller is me else me
                    for code in _fitting_codes(kb, services, role, devices, route, engine, _billed_beside(claim, me, other)):
                        new = dict(base, line=min(me.line, other.line), code=code, provider_role=role,
                                   provider_id=biller.provider_id)
                        if route is not None:
                            new["route"] = route
                        # lines of two performers: the text says whose line the code is (an analyst's audit:
                        # only the JSON said 62370 was the physician's, and the nurse's 62370 is denied)
                        # (performers named by their lines, never by their ids: cptkg.explanation.proofs)
                        who = ""
                        if (me.provider_id, me.provider_role) != (other.provider_id, other.provider_role):
                            who = f" billed by {_performer(kb, biller)}"
                            if reports_individually(kb, helper.provider_role) is False:
                                who += f" (reporting the service of {_performer(kb, helper)}, incident-to)"
                        opts.append(Suggestion(sorted({me.line, other.line}), [new],
                                               f"replace {me.code} (line {me.line}) and {other.code} (line {other.line}) by {code}{who}, {COVERS_BOTH}", False,
                                               kind="recode", combines=True))
            elif kind == "combine" and isinstance(arg, int) and arg < 0 and -arg <= len(claim.history):
                # the other service was billed on an earlier claim: correct that claim and
                # bill the one code that covers both here
                other = claim.history[-arg - 1]
                if other.provider_id is not None and other.provider_id != me.provider_id:
                    # another provider's service: billed here it would be reported as this provider's. That
                    # provider's claim is theirs to correct; this line stands once it is (a regression hunt:
                    # nothing was offered). Voided alone, the service it billed is billed by no claim: said, with
                    # the one code the two services are (a coder's audit: "one code covers both services" read
                    # as done, where the fix billed it nowhere)
                    services = sorted(set(_services_text(kb, me.code)) | set(_services_text(kb, other.code)))
                    one = _fitting_codes(kb, services, me.provider_role, _devices(kb, me.code, other.code), me.route,
                                         engine, _billed_beside(claim, me, other))[:1]
                    are = f": the two services are one code, {one[0]}, billed by one provider" if one else ""
                    lost, also = _history_left_unbilled(kb, me, other, arg, one)
                    opts.append(Suggestion([], [], f"have its provider void or correct the earlier {other.code} "
                                           f"({entry_name(arg)}, another provider's claim of the same date){are}",
                                           False, void_history=[-arg], kind="void", unbilled=lost, said_after=also))
                    continue
                services = sorted(set(_services_text(kb, me.code)) | set(_services_text(kb, other.code)))
                # an entry naming no provider may be another's: the fix says whose it must be (a regression hunt)
                unsure = other.provider_id is None
                for code in _fitting_codes(kb, services, me.provider_role, _devices(kb, me.code, other.code), me.route,
                                           engine, _billed_beside(claim, me, other)):
                    new = dict(base, line=me.line, code=code, provider_role=me.provider_role)
                    said = (f"void or correct the earlier {other.code} ({entry_name(arg)}) and bill {code} instead of "
                            f"{me.code} on line {me.line}, which covers both services")
                    if unsure:
                        said = (f"if the earlier {other.code} ({entry_name(arg)}, its provider not on record) was "
                                f"billed by the provider of line {me.line}: " + said)
                    opts.append(Suggestion([me.line], [new], said, False, void_history=[-arg], kind="recode"))
            elif kind == "void" and isinstance(arg, int) and arg < 0:
                by = claim.history[-arg - 1].provider_id if -arg <= len(claim.history) else None
                # another provider's claim is theirs to correct (a coder's audit: "void the earlier 62368"
                # read as this provider's own claim)
                other_claim = by is not None and by != me.provider_id
                who = "have its provider void or correct" if other_claim else "void or correct"
                whose = ", another provider's claim" if other_claim else ""
                lost, also = (_history_left_unbilled(kb, me, claim.history[-arg - 1], arg, [], within_too=True)
                              if other_claim and -arg <= len(claim.history) else ([], []))
                opts.append(Suggestion([], [], f"{who} the earlier {b.get('C2', 'service')} ({entry_name(arg)}{whose}) before billing {me.code}", False,
                                       void_history=[-arg], kind="void", unbilled=lost, said_after=also))
            elif kind == "recode":
                device = vocabulary(kb).value_of("device", arg) if args else None
                chosen = [device] if device else _devices(kb, me.code)
                recode_devices = chosen if recode_devices is None or device else recode_devices
            elif kind == "units" and len(args) == 2:
                # the units the limit leaves this line: per line its maximum, per date what the other
                # lines of that date leave (a coder bills what the edit allows rather than drop the line)
                billed_n, most = b.get(args[0]), b.get(args[1])
                if isinstance(billed_n, int) and isinstance(most, int) and billed_n > most:
                    left = me.units - (billed_n - most)
                    if 1 <= left < me.units:
                        new = dict(base, line=me.line, code=me.code, provider_role=me.provider_role, units=left,
                                   modifiers=list(me.modifiers))
                        opts.append(Suggestion([me.line], [new], f"bill {left} unit{'s' if left > 1 else ''} of "
                                               f"{me.code} on line {me.line} instead of {me.units}: the unit edit "
                                               f"allows at most {most}", False, kind="units"))
            elif kind == "add-modifier" and arg is not None and str(arg) not in modifiers:
                modifiers.append(str(arg))
    if recode_devices is not None:
        services = _services_text(kb, me.code)
        fitting = _fitting_codes(kb, services, me.provider_role, recode_devices, me.route, engine, _billed_beside(claim, me))
        for code in fitting:
            if code != me.code:
                opts.append(Suggestion([me.line], [dict(base, line=me.line, code=code, provider_role=me.provider_role,
                                                        modifiers=list(me.modifiers))],
                                       f"bill {code} instead of {me.code} on line {me.line}: it fits the services, the device and the {_role_label(kb, me.provider_role)}", False,
                                       kind="recode"))
        if not fitting:  # no code covers every service of the billed code on this device: what it admits
            for device in recode_devices:
                codes, left_out = _fitting_what_the_device_admits(kb, tuple(sorted(services)), me.provider_role,
                                                                  device, me.route, engine)
                vocab = vocabulary(kb)
                term = vocab.term("device", device)
                where = (kb.label(term) if term else device).lower()
                if me.route is not None:  # the route can be what no code covers, as for a brain pump
                    route = vocab.term("route", me.route)
                    where += f" by {(kb.label(route) if route else me.route).lower()} delivery"
                for code in dict.fromkeys(at_billed_skill(kb, c, _billed_beside(claim, me)) for c in codes):
                    if code != me.code:
                        opts.append(Suggestion(
                            [me.line], [dict(base, line=me.line, code=code, provider_role=me.provider_role,
                                             modifiers=list(me.modifiers))],
                            f"bill {code} instead of {me.code} on line {me.line}: on a {where} no code covers "
                            f"{' or '.join(s.lower() for s in left_out)}, and {code} is the code for the rest "
                            f"of what {me.code} bills, by the {_role_label(kb, me.provider_role)}", False,
                            kind="recode"))
        # the accepted lines this one is denied as included in (CARC 97, "included in the allowance for another
        # service"): the entries its rule's message names ({E:entry}). The fix is this line's removal, and
        # merging the two would recode a payable line (a physician's 62367 beside 95990: not 95991)
        accepted = {l.line for l in res.lines if l.status == "accepted"}
        including = {r.bindings[v] for r in ln.reasons if str(r.carc or "") == "97"
                     for v in entry_fields(getattr(getattr(kb.rule(r.rule), "meta", None), "message", None))
                     if v in r.bindings and r.bindings[v] != me.line}
        opts.extend(_recode_with_neighbours(kb, claim, me, base, recode_devices, engine, keep=accepted & including))
    # never a modifier that bypasses pair edits (the NCCI-associated ones, as
    # data, and the pack's never_bypass list): "never append a modifier to
    # solely bypass an NCCI PTP edit"
    bypassing = {m for (st, m) in kb.facts.get("modifier_in_set", ())
                 if any(st == s2 for (s2, _) in kb.facts.get("modifier_set_bypasses", ()))}
    bypassing |= set(kb.pack.never_bypass if kb.pack else ())
    for m in modifiers:
        if m in bypassing:
            continue
        opts.append(Suggestion([], [], f"add modifier {m} to line {me.line} ({me.code}): the line is denied without it",
                               False, add_modifiers={me.line: [m]}, kind="modifier"))
    opts.extend(_repeat_modifier_options(kb, claim, me, bypassing))
    # a line denied for two reasons, one an earlier claim to correct and one its own code (a nurse's 95991
    # beside another provider's 62368 of that date): both edits, as one option of the line (a line takes one
    # option of a combination, so neither alone was accepted and nothing was offered: a regression hunt)
    voids = [o for o in opts if o.kind == "void" and not o.remove_lines and not o.add_lines][:2]
    recodes = [o for o in opts if o.kind == "recode" and not o.void_history and o.remove_lines == [me.line]][:2]
    for v in voids:
        for r in recodes:
            opts.append(Suggestion(list(r.remove_lines), list(r.add_lines), f"{r.message}; {v.message}", False,
                                   void_history=list(v.void_history), kind="recode", unbilled=list(v.unbilled),
                                   said_after=list(v.said_after)))
    if removable or not opts:
        opts.append(_removal(me))
    return opts


def _history_left_unbilled(kb: KnowledgeBase, me, other, arg: int, one: list[str],
                           within_too: bool = False) -> tuple[list[str], list[str]]:
    """The services another provider's earlier claim bills that this line does not: voided, no claim bills them
    until one provider bills the one code of both services (``one``), in the words of :func:`_left_unbilled`."""
    mine = {t for p in ("requires_service", "covers_service") for (c, t) in kb.facts.get(p, ()) if c == me.code}
    needs = {t for (c, t) in kb.facts.get("requires_service", ()) if c == other.code}
    gone = sorted(kb.label(t) for t in needs - mine)
    within = sorted(kb.label(t) for t in needs & mine) if within_too else []
    out, also = [], []
    if gone:
        until = f" until one provider bills {one[0]} for both services" if one else ""
        out.append(f"The {' and the '.join(gone)} billed by {entry_name(arg)} ({other.code}) "
                   f"{'are' if len(gone) > 1 else 'is'} then billed by no claim{until}.")
    if within:
        # the service another provider performed is then inside this line's code, reported as this line's
        # performer's: said, never left for the coder to infer (a coder's audit)
        also.append(f"The {' and the '.join(within)} billed by {entry_name(arg)} ({other.code}, another provider's) "
                   f"{'are' if len(within) > 1 else 'is'} then billed only within {me.code} on line {me.line}, "
                   f"as a service of {_performer(kb, me)}: bill it so only if the record shows it.")
    return out, also


def _removal(me) -> Suggestion:
    return Suggestion([me.line], [], f"remove line {me.line} ({me.code})", False, kind="remove", dropped=[me.line])


def _recode_with_neighbours(kb: KnowledgeBase, claim: Claim, me, base: dict, devices: list[str],
                            engine=None, keep: set[int] = frozenset()) -> list[Suggestion]:
    """The line and another line of its date and provider replaced by the one code that covers both.

    A performer who billed a code outside their skill often billed beside it
    a service the right code includes: a nurse's 62370 with 95990 is 62369
    alone ("analysis with reprogramming and refill by a nurse is 62369"), a
    physical therapist's 62367 with 95991 is 95990 alone (95990 includes
    the electronic analysis when performed: domain notes, "What may be billed
    together"). Recoding the line alone leaves the other line denied under
    the pair edit; inference over both lines' services, for the line's
    performer, gives the code a coder would bill. Only lines of the same
    provider and route are joined: merging two providers' services into one
    line would change who billed them. Never a line in ``keep``: an accepted line that this one is denied
    as included in: a physician's 62367 beside an accepted 95990 on a reservoir is the 95990 alone, not
    95991, whose skill nothing on the claim shows (merged, the fix upcoded a payable line).
    """
    out: list[Suggestion] = []
    mine = set(_services_text(kb, me.code))
    for other in claim.lines:
        if (other.line == me.line or other.line in keep or other.date_of_service != me.date_of_service
                or other.provider_id != me.provider_id or other.code == me.code):
            continue
        if other.route is not None and me.route is not None and other.route != me.route:
            continue
        theirs = set(_services_text(kb, other.code))
        if not theirs:
            continue
        route = me.route if me.route is not None else other.route
        devs = [d for d in devices if d in _devices(kb, other.code)]
        for code in _fitting_codes(kb, sorted(mine | theirs), me.provider_role, devs, route, engine, _billed_beside(claim, me, other)):
            if code in (me.code, other.code):
                continue  # not a recode: the other line already bills it (a removal says that)
            new = dict(base, line=min(me.line, other.line), code=code, provider_role=me.provider_role)
            if route is not None:
                new["route"] = route
            first, second = sorted((me, other), key=lambda l: l.line)
            out.append(Suggestion(sorted({me.line, other.line}), [new],
                                  f"replace {first.code} (line {first.line}) and {second.code} (line {second.line}) by {code}, "
                                  f"which covers both services for the {_role_label(kb, me.provider_role)}", False,
                                  kind="recode"))
    return out


def _repeat_modifier_options(kb: KnowledgeBase, claim: Claim, me, bypassing: set) -> list[Suggestion]:
    """Repeat-modifier fixes of a line billed twice for one date: change the one it carries, or ask.

    The same code for the same patient and date is an exact duplicate unless
    it was a true repeat, "reported with modifier 76 (same physician) or 77
    (another physician)" (domain notes, "How payers apply edits"). A line
    that already carries a repeat modifier says it was a repeat: the fix is
    to change it to the other one ("change 77 to 76"). A line that carries
    none may be a duplicate or an unmarked repeat: only the record can tell,
    so adding a repeat modifier is offered as a question, beside the removal
    that fits if it was not a repeat. The modifiers are the KB's repeat sets,
    never one that bypasses an edit; which of them fits is left to the rules,
    as every fix is re-judged.
    """
    supplies = {t for (t, cls) in kb.facts.get("instance_of", ()) if cls == "SupplyService"}
    if any(c == me.code and s in supplies for (c, s) in kb.facts.get("covers_service", ())):
        return []  # a drug given is no procedure repeated: 76/77 mark a repeat procedure (ont:SupplyService)
    twins = [o for o in claim.lines if o.line != me.line and o.code == me.code
             and o.date_of_service == me.date_of_service]
    earlier = [i for i, h in enumerate(claim.history, start=1)
               if h.code == me.code and h.date_of_service == me.date_of_service]
    if not twins and not earlier:
        return []
    # a repeat modifier says by whom the repeat was done ("same" physician: 76, "another": 77): offer only
    # the one the providers fit (a history entry with no provider fits either). Re-judging alone let
    # "remove line 1; change 76 on line 2 to 77 (another physician)" through on one provider's two lines:
    # with line 1 gone nothing refuses the 77 (an audit)
    by = {st: str(b) for (st, b) in kb.facts.get("modifier_set_repeat_by", ())}
    fits: set[str] = set()
    for p in [o.provider_id for o in twins] + [claim.history[i - 1].provider_id for i in earlier]:
        fits |= {"same", "another"} if p is None else {"same" if p == me.provider_id else "another"}
    sets = kb.repeat_modifier_sets()
    repeat = {m: st for m, st in sets.items() if m not in bypassing and by.get(st, "") in fits | {""}}
    carried = [m for m in me.modifiers if m in sets]
    what = f"line {twins[0].line}" if twins else f"the {me.code} already billed on {me.date_of_service}"
    out: list[Suggestion] = []
    for m, st in sorted(repeat.items()):
        if m in carried:
            continue
        label = kb.label(st)
        if carried:
            old = carried[0]
            out.append(Suggestion([], [], f"change modifier {old} on line {me.line} ({me.code}) to {m}: the {label}",
                                  False, add_modifiers={me.line: [m]}, remove_modifiers={me.line: [old]},
                                  kind="modifier"))
        else:
            q = f"Was {me.code} on line {me.line} a true repeat of {what}, not a duplicate?"
            out.append(Suggestion([], [], f"if {me.code} on line {me.line} was a true repeat of {what}, not a duplicate, "
                                          f"mark it {m}: the {label}",
                                  False, add_modifiers={me.line: [m]}, kind="modifier", question=q,
                                  asks=[me.line], repeat_of=[o.line for o in twins]))
    return out


_EMPTY = object()  # a candidate that leaves no line to bill

#: combinations of the rejected lines' options tried by the fix search, clashing ones
#: included: 3 options on each of 40 lines make 3^40, every one of which was walked
MAX_FIX_TRIES = 400
#: candidate fixes re-judged by the rules, at most (12 ran out on one-line fixes before a three-line claim's
#: combination was tried: a coder's audit; the batching engines judge them in one call)
MAX_FIX_CHECKS = 40


@dataclass
class FixSearch:
    """What the fix search found and how far it went (``cut_short``: it stopped before trying every candidate)."""

    suggestions: list[Suggestion]
    tried: int = 0
    judged: int = 0
    cut_short: str = ""  # why, in words; empty when the search was complete

    def to_json(self) -> dict:
        return {"tried": self.tried, "judged": self.judged, "cut_short": bool(self.cut_short),
                "why": self.cut_short}


def _left_unbilled(kb: KnowledgeBase, before: Claim, after: Claim, dropped: list[int]) -> list[str]:
    """For each line a fix drops: the services its code requires that no line left on its date bills
    (requires or covers), in words ("the refill and maintenance of line 3 (95990)")."""
    out = []
    given = {ln.line: ln for ln in before.lines}
    for n in dropped:
        ln = given.get(n)
        if ln is None:
            continue
        needs = {t for (c, t) in kb.facts.get("requires_service", ()) if c == ln.code}
        left = {x.code for x in after.lines if x.date_of_service == ln.date_of_service}
        billed = {t for p in ("requires_service", "covers_service") for (c, t) in kb.facts.get(p, ()) if c in left}
        gone = sorted(kb.label(t) for t in needs - billed)
        if gone:
            out.append(f"The {' and the '.join(gone)} billed on line {n} ({ln.code}) "
                       f"{'are' if len(gone) > 1 else 'is'} then billed by no line.")
    return out


def _within(s: Suggestion, t: Suggestion) -> bool:
    """``s``'s edit is a strict part of ``t``'s: the lines it removes and adds, and nothing else."""
    if s is t or s.kind == "keep" or t.kind == "keep" or s.void_history or s.add_modifiers \
            or s.remove_modifiers or s.repeat_of:
        return False
    part = set(s.remove_lines) <= set(t.remove_lines) and all(a in t.add_lines for a in s.add_lines)
    return part and (len(s.remove_lines), len(s.add_lines)) != (len(t.remove_lines), len(t.add_lines))


def _choices(sizes: list[int]):
    """Choice vectors (one option index per rejected line), preferred options first.

    When the whole product is small it is walked in product order (each
    line's preferred option first); otherwise by how many lines leave their
    preferred option: none, then one, then two, ... so the first
    :data:`MAX_FIX_TRIES` vectors are the ones closest to every line's
    preferred fix, and walking them costs a number of steps polynomial in the
    number of lines, never the product.
    """
    total = 1
    for n in sizes:
        total *= max(1, n)
        if total > MAX_FIX_TRIES:
            break
    if total <= MAX_FIX_TRIES:
        yield from itertools.product(*[range(n) for n in sizes])
        return
    alts = [i for i, n in enumerate(sizes) if n > 1]
    for level in range(len(alts) + 1):
        for which in itertools.combinations(alts, level):
            for picks in itertools.product(*[range(1, sizes[i]) for i in which]):
                vec = [0] * len(sizes)
                for i, k in zip(which, picks):
                    vec[i] = k
                yield tuple(vec)


def _no_needless_removals(verified: list[Suggestion], own_fix: set[int] = frozenset()) -> list[Suggestion]:
    """The verified fixes without those that drop a line another verified fix keeps.

    "Add KD" and "remove the drug line" both verify, but the second drops a
    billable drug: a removal stands only when no fix that drops fewer of its
    lines verified (issue 23, finding 4). A fix that asks a question keeps
    the removal beside it, as its "otherwise": an unmarked twin line is
    either a true repeat (mark it) or a duplicate (remove it), and only the
    record tells which.

    ``own_fix``: the lines with a fix of their own that asks nothing (a
    recode, units, a modifier). A removal of such a line is needless beside
    a verified fix that keeps the line, without asking, and drops no more
    lines, none of them with such a fix: "remove
    62370" beside "62369 for the nurse; add KD; remove the duplicate"
    dropped the reprogramming, and "remove 62370" beside "bill 1 unit of
    62370; remove 95991" left 95991 in its place (a coder's audit).
    """
    out = []
    for s in verified:
        gone = set(s.dropped)
        if not gone:
            out.append(s)
            continue
        if any(t is not s and len(t.dropped) <= len(gone) and not set(t.dropped) & set(own_fix)
               and any(n not in t.dropped and n not in t.asks for n in gone & set(own_fix))
               for t in verified):
            continue  # another fix keeps a line this one drops, with that line's own fix, dropping only lines
            # that have none (two lines each with a recode, each fix keeping one: both stand)
        keepers = [t for t in verified if t is not s and set(t.dropped) < gone]
        if any(n not in t.asks for t in keepers for n in gone - set(t.dropped)):
            continue  # another fix keeps one of its lines, and not only if the record says so
        if keepers:
            s.message = "Otherwise, " + s.message[0].lower() + s.message[1:]
        out.append(s)
    return out


def _no_needless_edits(verified: list[Suggestion]) -> list[Suggestion]:
    """The verified fixes without one that makes every edit another verified fix makes, and more: "mark line
    1 as a repeat (76); remove line 2" beside "remove line 2" (an audit found the first offered for two
    lines over a unit limit per date, where removing the second line is the whole fix). A fix that drops a line
    the other keeps is no subset of it, whatever its edits: "remove line 1" is not a part of "bill 1 unit on line
    1; remove line 2" (a line billed with new units is written as removed and added again)."""
    return [s for s in verified if not any(t is not s and t.edits() < s.edits() and set(t.dropped) <= set(s.dropped)
                                           for t in verified)]


def suggest_fixes(kb: KnowledgeBase, claim: Claim, res: ClaimResult, limit: int = 3, max_checks: int = MAX_FIX_CHECKS,
                  engine=None, timeout: float | None = None) -> list[Suggestion]:
    """The smallest verified edits that make the claim acceptable (re-judged on ``engine``).

    Every suggestion is re-judged by the rules before it is returned; a
    modifier is never suggested to get past an exclusion (no source allows it).
    """
    return search_fixes(kb, claim, res, limit, max_checks, engine, timeout).suggestions


def search_fixes(kb: KnowledgeBase, claim: Claim, res: ClaimResult, limit: int = 3, max_checks: int = MAX_FIX_CHECKS,
                 engine=None, timeout: float | None = None, deadline: float | None = None) -> FixSearch:
    """:func:`suggest_fixes` with how far the search went.

    At most :data:`MAX_FIX_TRIES` combinations are built (clashing ones
    counted) and ``max_checks`` re-judged; ``timeout`` (seconds) or
    ``deadline`` (``time.monotonic()``) bounds the whole search, re-judging
    included. A search stopped by either returns the verified fixes found so
    far and says why it was cut short.
    """
    import time

    if deadline is None and timeout is not None:
        deadline = time.monotonic() + timeout
    search = FixSearch([])

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    rejected = [ln for ln in res.lines if ln.status == "rejected"]
    # each line's best few recode/modifier options, and its removal after them
    # (never cut off: it is what is left when none of them verifies)
    per_line = []
    for ln in rejected:
        opts = _line_options(kb, claim, res, ln, engine)
        keep = [o for o in opts if o.kind != "remove"][:4]
        per_line.append(keep + [o for o in opts if o.kind == "remove"][:1] if keep else opts[:3])
    if 1 < len(rejected) <= 4:
        # a line denied only beside others (a duplicate, a limit per date the lines pass together) may stand
        # as billed once they are fixed or gone: "leave it" is its last option (three 62367s over a limit of
        # one got "mark line 1 76 as a repeat of line 2; remove lines 2 and 3": an audit)
        for opts in per_line:
            opts.append(Suggestion([], [], "", False, kind="keep"))
        # and a line whose rule keeps it from being dropped alone may go once another line's merge bills what it
        # billed (a nurse's 95991 beside a nurse's 62368 and a PA's 95990: the PA's 62369 covers the refill; it
        # was "no line can be billed": a regression hunt). Tried last; the fix says a service no line bills.
        for ln, opts in zip(rejected, per_line):
            if not any(o.kind == "remove" for o in opts):
                opts.append(_removal(ln))
    raw = claim.model_dump(mode="json")
    combos = []
    fallback = []
    untried = []  # set when candidates were left unbuilt or un-rechecked (the search is then not complete)
    if 1 < len(rejected) <= 4:
        # a line denied only because of another denied line may stand once that one
        # goes; and the other lines may already bill what the rejected ones should
        # have been (62368 and 95990 beside the 62369 that covers both)
        fallback.extend(_removal(ln) for ln in rejected)
        gone = sorted(ln.line for ln in rejected)
        fallback.append(Suggestion(gone, [], "; ".join(f"remove line {ln.line} ({ln.code})" for ln in rejected), False,
                                   kind="remove", dropped=list(gone)))
    for vec in _choices([len(o) for o in per_line]):
        if search.tried >= MAX_FIX_TRIES:
            search.cut_short = (f"it tries at most {MAX_FIX_TRIES:,} combinations of the fixes of the "
                                f"{len(rejected)} rejected lines")
            break
        if search.tried % 50 == 0 and out_of_time():
            search.cut_short = "the time limit ran out"
            break
        search.tried += 1
        combo = [per_line[i][k] for i, k in enumerate(vec)]
        merged = Suggestion([], [], "", False)
        repeats: list[list[int]] = []
        msgs = []
        kinds, questions, combining = [], [], []
        edits_seen = set()
        clash = False
        # an option whose whole edit another option of the combination makes says nothing of its own: "bill
        # 62369 instead of 62370 on line 1; replace 62370 (line 1) and 95991 (line 2) by 62369" told line 1
        # two things (a coder's audit) where the second alone is the edit
        combo = [s for s in combo if not any(_within(s, t) for t in combo)]
        for s in combo:
            if s.kind == "keep":
                continue
            sig = (tuple(sorted(s.remove_lines)), tuple(sorted(a["code"] for a in s.add_lines)), tuple(s.void_history),
                   tuple(sorted((k, tuple(v)) for k, v in s.add_modifiers.items())),
                   tuple(sorted((k, tuple(v)) for k, v in s.remove_modifiers.items())))
            if sig in edits_seen:
                continue
            edits_seen.add(sig)
            for n in s.remove_lines:
                if n not in merged.remove_lines:
                    merged.remove_lines.append(n)
            for a in s.add_lines:
                if a in merged.add_lines:
                    continue
                if any(x["line"] == a["line"] for x in merged.add_lines):
                    clash = True  # two lines' options put different codes on one line
                    break
                merged.add_lines.append(a)
            if clash:
                break
            merged.void_history += [v for v in s.void_history if v not in merged.void_history]
            for k, v in s.add_modifiers.items():
                merged.add_modifiers.setdefault(k, []).extend(v)
            for k, v in s.remove_modifiers.items():
                merged.remove_modifiers.setdefault(k, []).extend(v)
            merged.dropped += [n for n in s.dropped if n not in merged.dropped]
            merged.unbilled += [u for u in s.unbilled if u not in merged.unbilled]
            merged.said_after += [u for u in s.said_after if u not in merged.said_after]
            merged.asks += [n for n in s.asks if n not in merged.asks]
            if s.repeat_of:
                repeats.append(s.repeat_of)
            kinds.append(s.kind)
            combining.append(s.combines)
            if s.question and s.question not in questions:
                questions.append(s.question)
            if s.message not in msgs:
                msgs.append(s.message)
        if clash or not msgs:
            continue  # two options clash, or every line is left as billed
        if any(set(of) <= set(merged.remove_lines) for of in repeats):
            continue  # "mark it 76 as a repeat of line 2" beside "remove line 2": a repeat of nothing
        merged.remove_lines.sort()
        added = {a["line"] for a in merged.add_lines}
        merged.dropped = sorted(n for n in merged.dropped if n not in added)  # recoded by another edit: not dropped
        merged.kind = "remove" if merged.dropped else _merged_kind(k for k in kinds if k != "remove")
        merged.question = " ".join(questions)
        merged.message = "; ".join(msgs)
        if len(msgs) > 1 and len(merged.add_lines) == 1 and all(combining) \
                and not (merged.void_history or merged.add_modifiers or merged.remove_modifiers):
            # two pair fixes that bill the same one code: one line of it, said once ("replace 62368 (line 1)
            # and 95990 (line 2) by 62370 ...; replace 95991 (line 3) and 62368 (line 1) by 62370" read as two
            # lines of 62370, which would be duplicates: an analyst's audit)
            given = {ln.line: ln for ln in claim.lines}
            gone = [f"{given[n].code if n in given else '?'} (line {n})" for n in merged.remove_lines]
            new = merged.add_lines[0]
            merged.message = (f"replace {', '.join(gone[:-1])} and {gone[-1]} by one line of "
                              f"{new['code']}")
            mine = (new["provider_id"], new["provider_role"])
            lines = [given[n] for n in merged.remove_lines if n in given]
            helped = [ln for ln in lines if (ln.provider_id, ln.provider_role) != mine]
            biller = next((ln for ln in lines if (ln.provider_id, ln.provider_role) == mine), None)
            if helped and biller is not None:
                # lines of several performers: whose line it is, and whose services it reports (a regression
                # hunt: the pair fixes' "billed by ... incident-to" was lost in the one sentence)
                merged.message += (f" billed by {_performer(kb, biller)} (reporting the services of "
                                   f"{_performers(kb, helped)}, incident-to)")
            merged.message += f", which covers all {len(gone)} services"
        combos.append(merged)
        if len(combos) >= 50:
            untried.append(True)
            break
    if 1 < len(rejected) <= 4:
        # one rejected line's fix alone: a line denied only with another (a unit limit per date that the
        # two lines pass together) stands once the other is fixed or goes, with nothing else changed
        combos.extend(o for opts in per_line for o in opts if o.kind not in ("remove", "keep"))
        combos.extend(_removal(ln) for ln in rejected)
    # The smallest change first: a fix that loses fewer billed lines (a
    # recode or a combination replaces what it removes; dropping only the
    # invalid line loses one, dropping two lines loses two) is re-judged
    # before a larger one; among equals, product order keeps each line's
    # preferred option first.
    # A coder's fix before a removal (issue 23, finding 4): fewest lines dropped
    # with nothing in their place first, then an unconditional fix before one
    # that asks a question, then the fewest lines lost and the fewest edits.
    # Among fixes that drop as many lines, one that drops a line with no fix of its own (a component under a
    # pair edit) before one that drops a line its own fix would keep (the comprehensive line of that pair,
    # denied for its units): "bill 1 unit of 11042; remove 97597", not "remove 11042" so that the component
    # it bundles is paid (an edit specialist's audit).
    own_fix = {ln.line for ln, opts in zip(rejected, per_line) if any(o.kind not in ("remove", "keep") for o in opts)}
    combos.sort(key=lambda s: (len(s.dropped), bool(s.question), len(own_fix.intersection(s.dropped)),
                               len(s.remove_lines) - len(s.add_lines), s.size))
    # The candidates in product order (each line's preferred option first), up
    # to the first max_checks that leave lines to judge; those are judged in
    # one engine call where the engine batches (check_claims), and the first
    # ``limit`` that pass are offered, as judging them one by one would.
    order: dict[int, tuple] = {}

    def judge(combos):
        seen, todo, checks = set(), [], 0
        for s in combos:
            key = s.edits()
            if key in seen:
                continue
            seen.add(key)
            fixed = apply_suggestion(raw, s)
            if fixed["lines"]:
                checks += 1
                if checks > max_checks:
                    untried.append(True)
                    break
                try:
                    todo.append((s, parse_claim(fixed, kb=kb)))
                except Exception:  # a fix that does not validate is simply not offered
                    todo.append((s, None))
            else:
                todo.append((s, _EMPTY))
        from cptkg import engines

        eng = engines.resolve(engine)
        to_judge = [c for _, c in todo if c is not None and c is not _EMPTY]
        if out_of_time() and to_judge:
            search.cut_short = search.cut_short or "the time limit ran out"
            return [], next((s for s, c in todo if c is _EMPTY), None)
        kw = {} if deadline is None else {"timeout": max(0.05, deadline - time.monotonic()), "deadline": deadline}
        if eng.batches:
            judged = iter(check_claims(kb, to_judge, engine=eng, **kw))
        else:  # one at a time, only as far as needed
            judged = (check_claims(kb, [c], engine=eng, **kw)[0] for c in to_judge)
        out = []
        empty = None
        for s, c in todo:
            if c is _EMPTY:
                empty = empty or s
                continue
            if c is None:
                continue
            r2 = next(judged)
            search.judged += 1
            if r2.error is not None:  # not judged within the time limit
                search.cut_short = search.cut_short or "the time limit ran out"
                continue
            if r2.status == "accepted":
                s.verified = True
                s.result_status = "accepted"
                s.message = s.message[0].upper() + s.message[1:] + ". Re-checked by the rules: every line is then accepted"
                # a warning the fix brings (removing the refill leaves its drug line "without a refill") is said:
                # "every line is then accepted" alone read as a clean claim
                before = {w.rule for ln in res.lines for w in ln.warnings}
                new = [w for ln in r2.lines for w in ln.warnings if w.rule not in before]
                if new:
                    s.message += f", with a new warning: {new[0].message.rstrip('.')}"
                    s.message += f" (and {len(new) - 1} more)" if len(new) > 1 else ""
                s.message += "."
                lost = _left_unbilled(kb, claim, c, s.dropped) + list(s.unbilled)
                if lost or s.said_after:
                    # "remove line 3 (95990)" alone did not say the refill then goes unbilled (a coder's audit)
                    s.message += " " + " ".join(lost + list(s.said_after))
                out.append(s)
                order[id(s)] = (bool(lost), bool(new))
                if len(out) >= limit:
                    break
        # of the fixes found, those that bill every service and bring no new warning first ("remove line 1;
        # bill 95990 on line 2", which lost the reprogramming and made a duplicate, came before the PA's
        # 62369 that bills all: a regression hunt); the search order otherwise
        out.sort(key=lambda s: order.get(id(s), (False, False)))
        return out, empty

    out, empty = judge(combos)
    if not out and fallback:
        # the rules' own fixes bill nothing: drop rejected lines only, fewest first
        # (a line denied because of another denied line may stand once that goes)
        out, empty2 = judge(sorted(fallback, key=lambda s: len(s.remove_lines)))
        empty = empty or empty2
    sure_fix = {ln.line for ln, opts in zip(rejected, per_line)
                if any(o.kind not in ("remove", "keep") and not o.asks for o in opts)}
    out = _no_needless_edits(_no_needless_removals(out, sure_fix))
    if (empty is not None and out and len(out) < limit and not search.cut_short
            and all(set(s.asks) & set(empty.dropped) for s in out)):
        # every fix asks whether a line is a true repeat (76/77): its "otherwise" is the line's removal, which
        # here leaves the claim nothing to bill (a one-line claim repeating its history had no "otherwise":
        # a coder's audit)
        empty.verified, empty.result_status = True, "empty"
        empty.message = ("Otherwise, " + empty.message[0].lower() + empty.message[1:]
                         + ": the claim then bills nothing, so it is not sent.")
        out.append(empty)
    if not out and untried and not search.cut_short:
        # a recode or modifier fix is searched before a removal, so more candidates
        # are built than re-checked: none found among those re-checked is not "none"
        search.cut_short = (f"it re-checks at most {max_checks} candidate fixes of the "
                            f"{len(rejected)} rejected line{'s' if len(rejected) != 1 else ''}")
    if not out and empty is not None and not search.cut_short:
        # nothing on the claim can be billed: say so rather than offer nothing (only then: beside a
        # fix that bills something, "no line can be billed" would contradict it; and only after a
        # whole search: one cut short does not know)
        empty.verified, empty.result_status = True, "empty"
        included = all(any(str(r.carc or "") == "97" for r in ln.reasons) for ln in res.lines if ln.line in empty.dropped)
        # a line included in a service already billed (CARC 97) was paid with it, not "unbillable" (a coder's audit)
        why = ("each line is included in a service billed with it or before it (CO-97), so the claim then bills "
               "nothing and is not sent" if included else "no line of this claim can be billed as documented")
        empty.message = empty.message[0].upper() + empty.message[1:] + f": {why}."
        out.append(empty)
    search.suggestions = out
    return search


