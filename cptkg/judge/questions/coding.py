"""Which codes fit a device, route and performer (``cptkg ask codes-for``): ``infer`` on each code's services."""
from __future__ import annotations

from cptkg.claims.models import parse_encounter
from cptkg.judge.questions.answers import _answer, _focus, _sources
from cptkg.judge.questions.reading import _all, _facts, _term
from cptkg.judge.questions.synthetic import billed_alone
from cptkg.judge.questions.wording import _article, _words
from cptkg.knowledge.loader import KnowledgeBase
from cptkg.knowledge.vocabulary import vocabulary


def _instead_of(kb: KnowledgeBase, rule_id: str) -> str | None:
    """The variable a why-not rule names as the code billed instead (its ``% instead:`` metadata, pack data):
    the question reads that code from the rule's bindings, not from its message's words."""
    rule = kb.rule(rule_id)
    return (rule.meta.extra.get("instead") or "").strip() or None if rule is not None else None


def _check_warns(row: dict) -> bool:
    """The code, billed by the performer asked about, is accepted by check only with a warning (or not at all)."""
    billed = row.get("as_billed") or {}
    return bool(billed.get("warnings")) or billed.get("status") not in (None, "accepted")


def codes_for(kb: KnowledgeBase, *, device: str, role: str, route: str | None = None, engine=None) -> dict:
    """Which codes of the family fit a device, route and performer: ``infer`` per code's services.

    For each code, an encounter documents the services the code requires,
    with the device, route (default: the pack's) and performer asked about;
    the code fits when the inference rules bill it. A code not billed comes
    with the rules' why-not (another device, route or performer, or another
    code billed for the same services).
    """
    vocab = vocabulary(kb)
    dev_term = _term(kb, "device", device, "device")
    role_term = _term(kb, "role", role, "role")
    route = route if route is not None else (kb.pack.defaults.get("route") if kb.pack else None)
    route_term = _term(kb, "route", route, "route") if route is not None else None
    needs: dict[str, tuple[str, ...]] = {}
    for c in kb.family_codes():
        services = _all(kb, "requires_service", c)
        needs[c] = tuple(sorted(v for v in (vocab.value_of("service", s) for s in services) if v))
    inferred: dict[tuple[str, ...], dict] = {}
    # the code a why-not rule gives way to: the variable its `% instead:` names, read from its bindings
    gives_way: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for services in sorted(set(needs.values())):
        if not services:
            continue
        enc = {"encounter_id": "question", "performer_role": role, "device": device, "services": list(services)}
        if route is not None:
            enc["route"] = route
        from cptkg.judge.infer import infer_codes

        result = infer_codes(kb, parse_encounter(enc, kb=kb), engine=engine)
        inferred[services] = result.to_json()
        gives_way[services] = {c: [str(r.bindings[v]) for r in rs for v in [_instead_of(kb, r.rule)]
                                   if v and r.bindings.get(v) is not None] for c, rs in result.not_chosen}
    listed_codes = {c for c, _ in _facts(kb).get("may_be_performed_by", ())}
    subclass = _facts(kb).get("subclass_of", set())
    physician_or_qhp = any((role_term, p) in subclass for p in ("Physician", "QualifiedHealthCareProfessional"))
    rows = []
    for c, services in needs.items():
        res = inferred.get(services)
        billed = [x["code"] for x in res["codes"]] if res else []
        fits = c in billed
        why = [] if fits or res is None else next((x["why_not"] for x in res["not_chosen"] if x["code"] == c), [])
        reasons = next((x["reasons"] for x in res["codes"] if x["code"] == c), []) if fits else why
        # a code that fits but gives way to another billed for the same services (a more comprehensive one,
        # or the one for this performer's skill): "fits, bill <the other code> instead", not "does not fit" (a
        # coder's audit: a code the guide lists the physician for read as not allowed for a physician)
        instead = gives_way.get(services, {}).get(c, []) if not fits else []
        included_in = [b for b in billed if b in instead]
        # a code no source lists performers for fits whoever is asked about: for a performer who is neither a
        # physician nor a QHP that is said, as check warns it (role.performer-not-listed), not left as a plain
        # "fits" (an analyst walk: a physical therapist "fits" a pump implant and a removal)
        unchecked = fits and c not in listed_codes and not physician_or_qhp
        # what check says of the code billed by this performer (infer's as_billed): a physical therapist's
        # 95990 "fits", and check accepts it with a scope-of-practice warning (an analyst's audit)
        billed_as = None
        if fits:
            enc = {"encounter_id": "question", "performer_role": role, "device": device}
            if route is not None:
                enc["route"] = route
            billed_as = billed_alone(kb, c, enc, engine=engine)
        rows.append({"code": c, "descriptor": kb.descriptor(c), "fits": fits, "included_in": included_in,
                     "performer_checked": not unchecked,
                     "as_billed": None if billed_as is None else {
                         "status": billed_as.get("status"), "verdict": billed_as.get("verdict"),
                         "warnings": [{"rule": w["rule"], "message": w["message"]}
                                      for w in billed_as.get("warnings", ())]},
                     "services": [kb.label(vocab.term("service", s)) for s in services],
                     "instead": [] if fits else billed,
                     "reasons": [{"rule": r["rule"], "title": r.get("title") or kb.rule_title(r["rule"]),
                                  "message": r["message"], "source": r.get("source", ""),
                                  "sources": r.get("sources", [])} for r in reasons]})
    fit = [r for r in rows if r["fits"]]
    unfit = [r for r in rows if not r["fits"]]
    who = (f"{_article(kb.label(role_term))} with {_article(kb.label(dev_term))}"
           + (f", {kb.label(route_term)} delivery" if route_term else ""))
    text = f"For {who}, as the inference rules code an encounter documenting each code's services: "
    text += (f"{_words([r['code'] for r in fit])} {'fits' if len(fit) == 1 else 'fit'}." if fit
             else "no code of the family fits.")
    unchecked = [r["code"] for r in fit if not r["performer_checked"]]
    if unchecked:
        text += (f" No source here lists who performs {_words(unchecked)}: {'it fits' if len(unchecked) == 1 else 'they fit'}"
                 f" because the rules do not check the performer of {'that code' if len(unchecked) == 1 else 'those codes'}, "
                 f"not because a source names {_article(kb.label(role_term))} for {'it' if len(unchecked) == 1 else 'them'}.")
    warned = [r for r in fit if r["performer_checked"] and _check_warns(r)]
    by_warning: dict[str, list[dict]] = {}
    for r in warned:  # one sentence per warning (rule), its codes together, in the words of its first code
        w = (r["as_billed"]["warnings"] or [{"rule": r["as_billed"]["status"], "message": r["as_billed"]["verdict"]}])[0]
        # the line is the question's own one-line claim: its number names nothing the analyst wrote
        message = w["message"].replace(" on line 1", "").replace(" (line 1)", "")
        by_warning.setdefault(w["rule"], []).append((r["code"], message))
    for said in by_warning.values():
        codes = [c for c, _ in said]
        text += (f" Billed by {_article(kb.label(role_term))}, {_words(codes)} "
                 f"{'is' if len(codes) == 1 else 'are'} accepted by check with a warning"
                 f"{'' if len(codes) == 1 else ' (said here for ' + codes[0] + ')'}: {said[0][1].rstrip('.')}.")
    for r in unfit:
        if r["reasons"]:
            text += f" {r['code']}: {r['reasons'][0]['message'].rstrip('.')}."
        elif r["instead"]:
            text += f" {r['code']}: the rules bill {_words(r['instead'])} instead for the same services."
        elif r["services"]:
            text += f" {r['code']}: not billed (the inference rules give no why-not)."
        elif not r["services"]:
            text += f" {r['code']}: the knowledge base states no service it requires."
    sources = _sources(kb, *(x["sources"] for r in rows for x in r["reasons"]))
    return _answer(kb, "codes-for", {"device": device, "role": role, "route": route}, text, rows, sources,
                   _focus(kb, *(r["code"] for r in fit), dev_term, role_term, route_term),
                   fits=[r["code"] for r in fit])
