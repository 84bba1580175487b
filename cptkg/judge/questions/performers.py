"""Who may perform a code (``cptkg ask who-may-perform``): a line of it judged for each performer."""
from __future__ import annotations

from cptkg.judge.questions.answers import _answer, _focus, _reason, _sources
from cptkg.judge.questions.reading import _all, _code, _facts, _roles
from cptkg.judge.questions.synthetic import _claim, _judge, _Setup, _setup_for
from cptkg.judge.questions.wording import _article, _date, _short, _words
from cptkg.knowledge.loader import KnowledgeBase
from cptkg.knowledge.vocabulary import vocabulary


def who_may_perform(kb: KnowledgeBase, code: str, *, date: str | None = None, engine=None) -> dict:
    """Who may perform ``code``: one line of it judged by ``check`` for each performer role of the KB.

    The claim is the smallest the rules accept: the code on one line on
    ``date`` (default today), and where the code applies to a device, that
    device implanted a year before. A rejection every role gets alike (the
    same rule and message) is not about the performer and is reported once
    (``for_every_role``); a role is refused when ``check`` rejects its line
    for a reason of its own. An accepted line is not a source: where no
    source lists who performs the code the rules do not check its performer
    (``performers_listed`` false, each row's ``performer_checked`` false),
    and the answer says that instead of "may perform and report".
    """
    code = _code(kb, code)
    date = _date(date)
    setup = _setup_for(kb, [code]) or _Setup()
    roles = _roles(kb)
    results = _judge(kb, [_claim(f"question-{i}", [(code, role)], date, setup) for i, role in enumerate(roles)],
                     engine)
    lines = [r.lines[0] for r in results]
    keyed = [{(r.rule, r.message) for r in ln.reasons} for ln in lines]
    common = set.intersection(*keyed) if len(keyed) > 1 else set()
    vocab = vocabulary(kb)
    subclass = _facts(kb).get("subclass_of", set())
    listed = _all(kb, "may_be_performed_by", code)
    rows, extra_sources = [], []
    for role, ln in zip(roles, lines):
        term = vocab.term("role", role)
        own = [r for r in ln.reasons if (r.rule, r.message) not in common]
        basis = [p for p in listed if (term, p) in subclass]
        basis_sources = [s for p in basis for s in kb.fact_sources("may_be_performed_by", (code, p))]
        extra_sources += basis_sources if not own else []
        rows.append({
            "role": role, "role_label": kb.label(term), "role_term": term,
            "may_perform": not own, "status": ln.status, "verdict": ln.verdict or ln.status,
            "reasons": [_reason(kb, r) for r in own], "warnings": [_reason(kb, w) for w in ln.warnings],
            "listed_as": [kb.label(p) for p in basis],
            "sources": _sources(kb, basis_sources if not own else [], *(r.sources for r in own),
                                *(w.sources for w in ln.warnings)),
        })
    every = [_reason(kb, r) for r in lines[0].reasons if (r.rule, r.message) in common] if lines else []
    label = lambda row: _article(row["role_label"])  # noqa: E731
    cap = lambda text: text[:1].upper() + text[1:]  # noqa: E731
    # A line the rules accept is not a source saying who may perform the code: where no source lists its
    # performers the rules do not check them, and the answer says so first, never "may perform and report"
    # (issue 23: an implantation read as performed and reported by a nurse and a physical therapist).
    for r in rows:
        r["performer_checked"] = bool(listed)
    ok_rows = [r for r in rows if r["may_perform"] and r["verdict"] == "accepted" and r["listed_as"]]
    # a role the sources name for the code, apart from one they cover through a class of performers ("a nurse
    # practitioner, as a qualified health care professional"): "the sources list them" of the second read as if a
    # source named the role for the code (an audit: a role no source names for the code read as listed)
    via_class = [r for r in ok_rows if r["role_term"] not in listed]
    # the roles named, grouped by the sources that name them: "(guide §6.2)" apart from "(domain notes, Who may
    # perform (medium confidence))", so a role the notes add by a definition is not read as the guide's list
    def cited(term: str, term_label: str) -> str:
        """The sources of ``may_be_performed_by(code, term)`` as the answer cites them."""
        ids = kb.fact_sources("may_be_performed_by", (code, term))
        cite = "; ".join(dict.fromkeys(kb.sources[i].cite() for i in ids if i in kb.sources)) or "the sources list them"
        own = _stated_confidence(kb, code, "mayBePerformedBy", term)
        if own and all(i in kb.sources and kb.sources[i].confidence != own for i in ids):
            # the fact's own confidence, where the KB records one below its source's: a role the sources
            # reach only through a definition (a high-confidence sentence that names no code) is a medium
            # fact, and "(high confidence)" alone overstated it (a coder's audit)
            cite = "; ".join(dict.fromkeys(
                f"{kb.sources[i].document_title or kb.sources[i].document}, {kb.sources[i].section}"
                for i in ids)) + f": {own} confidence, no source names {_article(term_label)} for {code}"
        return cite

    by_cite: dict[str, list[str]] = {}
    for r in ok_rows:
        if r["role_term"] in listed:
            by_cite.setdefault(cited(r["role_term"], r["role_label"]), []).append(label(r))
    unlisted_ok = [label(r) for r in rows if r["may_perform"] and r["verdict"] == "accepted" and not r["listed_as"]]
    qualified = [r for r in rows if r["may_perform"] and r["verdict"] not in ("accepted", "rejected")]
    refused = [r for r in rows if not r["may_perform"]]
    parts = [f"As the claim rules judge one line of {code} ({_short(kb.descriptor(code)) or 'no descriptor'}) on {date}, "
             f"with {setup.words(kb)}:"]
    if not listed:
        parts.append(f"no source here lists who performs {code}, so the rules do not check its performer: a line of "
                     f"it is not denied for its performer, whoever that is, and that does not say who may perform it.")
    for cite, named in by_cite.items():
        parts.append(f"{cap(_words(named))} may perform and report it ({cite}).")
    # a role covered through a class of performers cites the class's fact, with its own confidence: "which the
    # sources list for 95990" said of a class the KB reaches from the QHP definition alone, a sentence naming
    # no code (an analyst's audit)
    by_class: dict[tuple[str, str], list[str]] = {}
    for r in via_class:
        terms = [t for t in listed if (r["role_term"], t) in subclass]
        # and the sentence that makes the role one of the class (NP and PA are QHPs), among the sources
        making = [s for t in terms for s in kb.fact_sources("subclass_of", (r["role_term"], t))]
        extra_sources += making
        # cited beside the class's own source: "a nurse practitioner ... as a QHP (guide §9.1)" cited a section
        # that names no nurse practitioner (an explorer audit); the notes' QHP definition does
        own = "; ".join(dict.fromkeys(cited(t, kb.label(t)) for t in terms))
        more = [kb.sources[i].cite() for i in making if i in kb.sources
                and kb.sources[i].cite().split(" (")[0] not in own]  # a section the class's cite names already
        cite = "; ".join(dict.fromkeys(([own] if own else []) + more)) or "the sources list them"
        by_class.setdefault((_words([_article(c) for c in r["listed_as"]]), cite), []).append(label(r))
    for (classes, cite), named in by_class.items():
        parts.append(f"{cap(_words(named))} may perform and report it as {classes} ({cite}).")
    if unlisted_ok and listed:
        parts.append(f"{cap(_words(unlisted_ok))}: not denied, but no source lists "
                     f"{'them' if len(unlisted_ok) > 1 else 'this performer'} for {code}.")
    for r in qualified:
        if not listed:  # how the line is billed, never read as leave to perform it (analyst walk, issue 23)
            parts.append(f"If {label(r)} is named as the performer, the line is {r['verdict']}: that is how it "
                         f"would be billed, and no source makes {label(r)} a performer of {code}.")
            continue
        listed_too = " may perform it (the sources list this performer)" if r["listed_as"] else ""
        parts.append(f"{cap(label(r))}{listed_too}: {r['verdict']}.")
    if refused:
        parts.append("Refused: " + "; ".join(
            f"{label(r)} ({', '.join(x['title'] + (', ' + x['denial'] if x.get('denial') else '') for x in r['reasons'])})"
            for r in refused) + ".")
    if every:
        parts.append("Whoever performs it, a line of it alone is rejected: "
                     + "; ".join(f"{x['title']}" + (f" ({x['denial']})" if x.get("denial") else "") for x in every) + ".")
    if len(parts) > 1:  # the first sentence goes on after the colon of the setting
        parts[1] = parts[1][:1].lower() + parts[1][1:]
    sources = _sources(kb, extra_sources, *(r["sources"] for r in rows), *(x["sources"] for x in every))
    return _answer(kb, "who-may-perform", {"code": code, "date": date}, " ".join(parts), rows, sources,
                   _focus(kb, code, *(r["role_term"] for r in rows)), for_every_role=every,
                   performers_listed=bool(listed),
                   setup={"device": setup.device, "device_label": kb.label(setup.device) if setup.device else None,
                          "implanted_by": setup.implant})


def _stated_confidence(kb: KnowledgeBase, subject: str, prop: str, obj: str) -> str | None:
    """The confidence an axiom annotation records for one fact (``ont:confidence`` on its ``owl:Axiom``), if any."""
    from rdflib import OWL, RDF, URIRef

    from cptkg.knowledge.namespace import KB

    ont = "https://w3id.org/cptkg/ontology#"  # the namespace object refuses names it does not declare
    g = kb.graph
    for ax in g.subjects(OWL.annotatedSource, KB[subject]):
        if (ax, RDF.type, OWL.Axiom) in g and (ax, OWL.annotatedProperty, URIRef(ont + prop)) in g \
                and (ax, OWL.annotatedTarget, URIRef(ont + obj)) in g:
            level = g.value(ax, URIRef(ont + "confidence"))
            if level is not None:
                return str(level).rsplit("#", 1)[-1].lower()
    return None
