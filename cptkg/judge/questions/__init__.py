"""Questions an analyst asks of the rules, answered without a query language.

Each question is one function returning a JSON-able answer of one shape::

    {"question": "who-may-perform", "asked": {...},
     "answer": "the answer in billing words (labels, not ids)",
     "rows": [...],            # the structured answer, ids as secondary fields
     "sources": [...],         # {id, citation, quote, ...}: the sentences it rests on
     "focus": [...],           # nodes of the knowledge graph (views.knowledge_graph) it names
     "kb_version": "..."}

The answers are computed by the rules, not read from a table kept by hand:
who may perform a code is what ``check`` says of one line of it per
performer; what may not be billed with a code is what ``check`` says of the
two codes on one claim; which codes fit a device, route and performer is
what ``infer`` says of an encounter documenting each code's services. The
rest read the loaded knowledge base (the pack, and edit files loaded over
it) the way ``cptkg sources`` and the claim rules do.

A question the KB cannot answer (an unknown code, role, source or edit)
raises :class:`QuestionError`, one line naming the field and the values it
may take.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rdflib import RDF, RDFS, URIRef
from rdflib.namespace import DCTERMS

from cptkg.judge.check import LineResult, check_claims
from cptkg.claims.models import InputError, parse_claims, parse_encounter
from cptkg.judge.reasons import Reason
from cptkg.knowledge import views
from cptkg.knowledge.loader import KnowledgeBase, local
from cptkg.knowledge.namespace import ONT
from cptkg.knowledge.sources import COMPUTED_FACTS, source_index
from cptkg.knowledge.vocabulary import vocabulary

#: the questions, by the name the CLI and the explorer give them
QUESTIONS = ("who-may-perform", "not-with", "codes-for", "rests-on", "unsupported", "edit")

# the synthetic claims' patient and provider: one of each, so that every edit scope applies
_PATIENT, _PROVIDER = "question-patient", "question-provider"
# how long before the date of service the device of a synthetic claim was implanted
_IMPLANTED_BEFORE = dt.timedelta(days=365)


class QuestionError(ValueError):
    """A question the knowledge base cannot answer; ``str()`` is one line naming the field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(" ".join(f"{field}: {message}".split()))


# ----------------------------------------------------------------- helpers

def _listing(values, most: int = 12) -> str:
    """Values for an error message: the first ``most``, then how many more.

    >>> _listing(["a", "b"]), _listing([str(i) for i in range(5)], most=2)
    ('a, b', '0, 1 … (3 more)')
    """
    values = list(values)
    shown = ", ".join(values[:most])
    return shown + (f" … ({len(values) - most} more)" if len(values) > most else "") if values else "none"


def _words(items: list[str]) -> str:
    """Items joined as a sentence says them.

    >>> _words(["a"]), _words(["a", "b"]), _words(["a", "b", "c"])
    ('a', 'a and b', 'a, b and c')
    """
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _short(text: str, most: int = 70) -> str:
    """A descriptor cut for a sentence.

    >>> _short("Refill and maintenance of a pump", 12)
    'Refill and…'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= most else text[:most].rsplit(" ", 1)[0].rstrip(",;: ") + "…"


def _date(value) -> str:
    if value is None:
        return dt.date.today().isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise QuestionError("date", f"'{str(value)[:40]}' is not a date written YYYY-MM-DD") from None


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _facts(kb: KnowledgeBase) -> dict:
    """The pack's facts with those of the edit tables loaded over it (``--edits``), built once per KB."""
    return kb.all_facts()


def _edit_pairs(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """Every (edit, column 1 code, column 2 code) of the pair edits, groups expanded to their codes.

    The same expansion as the claim rules' reading of ont:column1/ont:column2
    (a code, or every member of a code group).
    """
    members: dict[str, set[str]] = {}
    for grp, code in _facts(kb).get("group_member", ()):
        members.setdefault(grp, set()).add(code)
    cols: dict[str, tuple[set[str], set[str]]] = {}
    for n, (code_pred, group_pred) in enumerate((("edit_column1_code", "edit_column1_group"),
                                                 ("edit_column2_code", "edit_column2_group"))):
        for x, c in _facts(kb).get(code_pred, ()):
            cols.setdefault(x, (set(), set()))[n].add(c)
        for x, grp in _facts(kb).get(group_pred, ()):
            cols.setdefault(x, (set(), set()))[n].update(members.get(grp, ()))
    return sorted((x, a, b) for x, (first, second) in cols.items() for a in first for b in second if a != b)


def _node(kb: KnowledgeBase, name: str, rdf_type) -> URIRef | None:
    """The RDF node of type ``rdf_type`` whose Datalog constant is ``name`` (pack or edit file alike)."""
    return next((s for s in kb.graph.subjects(RDF.type, rdf_type) if str(local(s)) == name), None)


def _pair_edits(kb: KnowledgeBase) -> set[str]:
    return {x for (x,) in _facts(kb).get("pair_edit", ())}


def _unit_edits(kb: KnowledgeBase) -> set[str]:
    return {x for (x,) in _facts(kb).get("unit_edit", ())}


def _one(kb: KnowledgeBase, pred: str, subject: str):
    return next((v for s, v in sorted(_facts(kb).get(pred, ()), key=lambda r: tuple(map(str, r))) if s == subject), None)


def _all(kb: KnowledgeBase, pred: str, subject: str) -> list:
    return sorted((v for s, v in _facts(kb).get(pred, ()) if s == subject), key=str)


def _table_row(kb: KnowledgeBase, edit: str):
    """(table, row index, superseded?) of an edit of a loaded edit table, a row a newer release replaced
    included; None for a pack edit."""
    if kb.edit_tables:
        found = kb.edit_index().locate(edit)
        if found is not None:
            return found[0], found[1], False
    for t in getattr(kb, "edit_superseded", ()):
        memo = kb.cache.setdefault("superseded-rows", {})
        rows = memo.get(id(t))
        if rows is None:
            rows = memo[id(t)] = {e: i for i, e in enumerate(t.ids)}
        if edit in rows:
            return t, rows[edit], True
    return None


def _edit_name(kb: KnowledgeBase, edit: str) -> str:
    """An edit in words: its label, else (an edit of a released table) its release, file and row,
    else its table row, else its id."""
    label = kb.label(edit)
    if label != edit:
        return label
    found = _table_row(kb, edit)
    if found is not None and found[0].release_of(found[1]):
        return found[0].describe(found[1])
    row = _one(kb, "edit_source_row", edit)
    return f"edit table row {row}" if row is not None else edit


def _code(kb: KnowledgeBase, value, *, edited_too: bool = False) -> str:
    """A code the question may name: a code of the KB (or, ``edited_too``, one an edit names)."""
    if not isinstance(value, str) or not value.strip():
        raise QuestionError("code", "give a billing code of this knowledge base: one of "
                            + _listing(kb.family_codes() or kb.codes()))
    code = value.strip().upper()
    known = set(kb.codes())
    if edited_too:
        known |= {c for _, a, b in _edit_pairs(kb) for c in (a, b)}
        known |= {c for _, c in _facts(kb).get("unit_edit_code", ())}
    if code not in known:
        raise QuestionError("code", f"'{code[:40]}' is not a code of this knowledge base: one of "
                            + _listing(kb.family_codes() or sorted(known)))
    return code


def _term(kb: KnowledgeBase, kind: str, value, field: str) -> str:
    """The ontology term an input value of ``kind`` stands for; QuestionError naming ``field`` if none."""
    vocab = vocabulary(kb)
    why = vocab.refusal(kind, value)
    if why:
        raise QuestionError(field, why)
    return vocab.term(kind, value)


def _sources(kb: KnowledgeBase, *lists) -> list[dict]:
    """Sources (as Source.to_json) from source ids or source dicts, each once, in order."""
    out: dict[str, dict] = {}
    for items in lists:
        for s in items:
            sid = s["id"] if isinstance(s, dict) else s
            if sid not in out:
                if isinstance(s, dict):
                    out[sid] = s
                elif sid in kb.sources:
                    out[sid] = kb.sources[sid].to_json()
    return list(out.values())


def _focus(kb: KnowledgeBase, *ids) -> list[str]:
    """The ids that are nodes of the knowledge graph, each once."""
    g = views.knowledge_graph(kb)
    return [n for n in dict.fromkeys(str(i) for i in ids if i is not None) if n in g]


def _answer(kb: KnowledgeBase, question: str, asked: dict, answer: str, rows: list, sources: list[dict],
            focus: list[str], **extra) -> dict:
    return {"question": question, "asked": asked, "answer": answer, "rows": rows, "sources": sources,
            "focus": focus, **extra, "kb_version": kb.version}


def _reason(kb: KnowledgeBase, r: Reason) -> dict:
    edits = kb.cache.get("question-edits")
    if edits is None:
        edits = kb.cache["question-edits"] = frozenset(_pair_edits(kb) | _unit_edits(kb))
    out = {"rule": r.rule, "title": r.title or kb.rule_title(r.rule), "message": r.message, "source": r.source,
           "sources": r.sources,
           "edits": sorted({v for v in r.bindings.values() if isinstance(v, str) and v in edits})}
    if r.carc:
        out["carc"] = r.carc
        out["group_code"] = r.group_code
        out["denial"] = f"{r.group_code}-{r.carc}" if r.group_code else r.carc
    return out


def _line(kb: KnowledgeBase, ln: LineResult) -> dict:
    return {"code": ln.code, "status": ln.status, "verdict": ln.verdict or ln.status,
            "reasons": [_reason(kb, r) for r in ln.reasons], "warnings": [_reason(kb, w) for w in ln.warnings]}


# ---------------------------------------------------- synthetic claims

@dataclass(frozen=True)
class _Setup:
    """What a synthetic claim's patient has on record: a device implanted by ``implant`` before the date."""

    device: str | None = None
    implant: str | None = None

    def words(self, kb: KnowledgeBase) -> str:
        if self.device is None:
            return "no device in the patient's history"
        return f"{_article(kb.label(self.device))} implanted ({self.implant}) a year before in the patient's history"


def _setup_for(kb: KnowledgeBase, codes: list[str]) -> _Setup | None:
    """A history that lets every code of ``codes`` be billed: a device all of them apply to, implanted before.

    None when no device the KB knows an implanting code for fits them all.
    Codes that name no device need none.
    """
    restricted = [{d for c, d in _facts(kb).get("applies_to_device", ()) if c == code} for code in codes]
    restricted = [s for s in restricted if s]
    if not restricted:
        return _Setup()
    for device in sorted(set.intersection(*restricted)):
        implants = sorted(c for c, d in _facts(kb).get("implants_device", ()) if d == device)
        if implants:
            return _Setup(device, implants[0])
    return None


def _claim(cid: str, lines: list[tuple[str, str]], date: str, setup: _Setup) -> dict:
    claim = {"claim_id": cid, "patient_id": _PATIENT,
             "lines": [{"line": i, "code": code, "date_of_service": date, "provider_id": _PROVIDER,
                        "provider_role": role} for i, (code, role) in enumerate(lines, start=1)]}
    if setup.implant:
        before = (dt.date.fromisoformat(date) - _IMPLANTED_BEFORE).isoformat()
        claim["history"] = [{"code": setup.implant, "date_of_service": before, "provider_id": _PROVIDER}]
    return claim


#: claims of one question per engine call: each carries the edits naming its codes, so with a
#: payer's table loaded 500 at once rendered 1,000 edits 500 times over (1.3 GB, then MemoryError)
_ASK_BATCH = 50


def _judge(kb: KnowledgeBase, claims: list[dict], engine=None) -> list:
    """The claims judged by ``check`` (one engine call where the engine batches)."""
    if not claims:
        return []
    parsed, _ = parse_claims(claims, kb=kb)
    bad = next((c for c in parsed if isinstance(c, InputError)), None)
    if bad is not None:  # a code the claim input refuses (never one of the KB's)
        raise QuestionError("code", str(bad))
    import time

    from cptkg.limits import ASK_SECONDS

    try:  # every claim of one question within one time limit (the engine's child is killed at it)
        results = check_claims(kb, parsed, engine=engine, timeout=ASK_SECONDS,
                               deadline=time.monotonic() + ASK_SECONDS, batch_size=_ASK_BATCH)
    except MemoryError:
        raise QuestionError("rules", f"answering needs more memory than this machine gives it ({len(parsed):,} "
                                     f"claims to judge); ask about fewer codes or load fewer edits") from None
    failed = next((r for r in results if r.error is not None), None)
    if failed is not None and "time limit" in failed.error:
        raise QuestionError("rules", f"the question could not be answered within {ASK_SECONDS:g} s (it judges "
                                     f"{len(parsed):,} claims); ask about fewer codes or load fewer edits")
    if failed is not None:
        raise QuestionError("rules", failed.error)
    return results


def _roles(kb: KnowledgeBase) -> list[str]:
    return vocabulary(kb).values("role")


def choices(kb: KnowledgeBase) -> dict:
    """What each question may name in this KB: codes, roles, devices, routes, sources and edits.

    ``codes`` are the KB's codes (the family's first); ``paired_codes`` adds
    the codes only an edit names (for ``not_with``). Forms offer these; the
    questions refuse anything else.
    """
    vocab = vocabulary(kb)
    family = kb.family_codes()
    codes = family + [c for c in kb.codes() if c not in family]
    edited = sorted({c for _, a, b in _edit_pairs(kb) for c in (a, b)} - set(codes))
    return {"codes": codes, "paired_codes": codes + edited, "roles": vocab.values("role"),
            "devices": vocab.values("device"), "routes": vocab.values("route"),
            "default_route": kb.pack.defaults.get("route") if kb.pack else None,
            "sources": sorted(kb.sources), "edits": sorted(_pair_edits(kb) | _unit_edits(kb))}


# ------------------------------------------------------- who may perform

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
    listed_ok = [label(r) for r in rows if r["may_perform"] and r["verdict"] == "accepted" and r["listed_as"]]
    unlisted_ok = [label(r) for r in rows if r["may_perform"] and r["verdict"] == "accepted" and not r["listed_as"]]
    qualified = [r for r in rows if r["may_perform"] and r["verdict"] not in ("accepted", "rejected")]
    refused = [r for r in rows if not r["may_perform"]]
    parts = [f"As the claim rules judge one line of {code} ({_short(kb.descriptor(code)) or 'no descriptor'}) on {date}, "
             f"with {setup.words(kb)}:"]
    if not listed:
        parts.append(f"no source here lists who performs {code}, so the rules do not check its performer: a line of "
                     f"it is not denied for its performer, whoever that is, and that does not say who may perform it.")
    if listed_ok:
        parts.append(f"{cap(_words(listed_ok))} may perform and report it (the sources list them).")
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


# ------------------------------------------------------------- not with

def not_with(kb: KnowledgeBase, code: str, *, date: str | None = None, engine=None) -> dict:
    """What may not be billed with ``code`` on the same date, and which line stands: ``check`` on pairs.

    For every other code of the family, and every code a pair edit names
    beside ``code``, the two are billed on one claim (same patient, date and
    provider, no modifier) by a performer for whom each line alone is
    accepted, with a device both apply to implanted before. A line denied in
    the pair but accepted alone is denied because of the other code; the
    reasons name the rule, its X12 reason code and the edit it applied.
    """
    code = _code(kb, code, edited_too=True)
    date = _date(date)
    partners = {b if a == code else a for _, a, b in _edit_pairs(kb) if code in (a, b)}
    others = sorted((set(kb.family_codes()) | partners) - {code})
    roles = _roles(kb)
    setups: dict[str, _Setup] = {}
    no_device = []
    for other in others:
        s = _setup_for(kb, [code, other])
        if s is None:
            no_device.append(other)
        else:
            setups[other] = s
    # each code alone, per role, under each history it is paired with
    singles = sorted({(c, s) for o, s in setups.items() for c in (code, o)}, key=lambda k: (k[0], str(k[1])))
    asked = [(c, s, role) for c, s in singles for role in roles]
    alone = dict(zip(asked, (r.lines[0] for r in _judge(
        kb, [_claim(f"question-{i}", [(c, role)], date, s) for i, (c, s, role) in enumerate(asked)], engine))))
    plans, no_role = [], []
    for other, s in setups.items():
        fits = [(bool(alone[(code, s, r)].warnings or alone[(other, s, r)].warnings), i, r)
                for i, r in enumerate(roles)
                if alone[(code, s, r)].status == "accepted" and alone[(other, s, r)].status == "accepted"]
        if fits:
            plans.append((other, s, min(fits)[2]))
        else:
            no_role.append(other)
    pairs = _judge(kb, [_claim(f"question-pair-{i}", [(code, role), (other, role)], date, s)
                        for i, (other, s, role) in enumerate(plans)], engine)
    rows, compatible = [], []
    for (other, s, role), res in zip(plans, pairs):
        mine, theirs = res.lines
        denied = [ln for ln in (mine, theirs) if ln.status == "rejected"]
        if not denied:
            compatible.append(other)
            continue
        reasons = [dict(_reason(kb, r), line_code=ln.code) for ln in denied for r in ln.reasons]
        stands = [ln.code for ln in (mine, theirs) if ln.status != "rejected"]
        rows.append({
            "code": other, "descriptor": kb.descriptor(other),
            "denied": [ln.code for ln in denied], "stands": stands,
            "reasons": reasons, "edits": sorted({e for r in reasons for e in r["edits"]}),
            "lines": [_line(kb, mine), _line(kb, theirs)],
            "judged_as": {"role": role, "role_label": kb.label(vocabulary(kb).term("role", role)),
                          "device": s.device, "implanted_by": s.implant},
            "sources": _sources(kb, *(r["sources"] for r in reasons)),
        })

    def said(row) -> str:
        titles = "; ".join(dict.fromkeys(
            r["title"] + (f", {r['denial']}" if r.get("denial") else "")
            + (f", edit “{_edit_name(kb, r['edits'][0])}”" if r["edits"] else "") for r in row["reasons"]))
        if row["stands"]:
            return f"with {row['code']}: {_words(row['stands'])} stands and {_words(row['denied'])} is denied ({titles})"
        return f"with {row['code']}: both are denied ({titles})"

    head = (f"Billed with {code} ({_short(kb.descriptor(code)) or 'not in the knowledge base'}) for the same patient on "
            f"{date} by the same provider, as the claim rules judge the two lines:")
    if rows:
        text = f"{head} {len(rows)} code(s) may not be billed with it: " + "; ".join(map(said, rows)) + "."
    else:
        text = f"{head} no code of the family is denied beside it."
    if compatible:
        text += f" Billed together with {code} without a denial: {_words(compatible)}."
    if no_device:
        text += f" Not paired (no device fits both): {_words(no_device)}."
    if no_role:
        text += f" Not paired (no performer may bill both): {_words(no_role)}."
    sources = _sources(kb, *(r["sources"] for r in rows))
    focus = _focus(kb, code, *(r["code"] for r in rows), *(e for r in rows for e in r["edits"]))
    return _answer(kb, "not-with", {"code": code, "date": date}, text, rows, sources, focus,
                   compatible=compatible, not_paired={"no_common_device": no_device, "no_common_role": no_role})


# ------------------------------------------------------------- codes for

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
    for services in sorted(set(needs.values())):
        if not services:
            continue
        enc = {"encounter_id": "question", "performer_role": role, "device": device, "services": list(services)}
        if route is not None:
            enc["route"] = route
        from cptkg.judge.infer import infer_codes

        inferred[services] = infer_codes(kb, parse_encounter(enc, kb=kb), engine=engine).to_json()
    rows = []
    for c, services in needs.items():
        res = inferred.get(services)
        billed = [x["code"] for x in res["codes"]] if res else []
        fits = c in billed
        why = [] if fits or res is None else next((x["why_not"] for x in res["not_chosen"] if x["code"] == c), [])
        reasons = next((x["reasons"] for x in res["codes"] if x["code"] == c), []) if fits else why
        rows.append({"code": c, "descriptor": kb.descriptor(c), "fits": fits,
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


# -------------------------------------------------------------- sources

def _source(kb: KnowledgeBase, source_id) -> str:
    if not isinstance(source_id, str) or source_id.strip() not in kb.sources:
        shown = str(source_id)[:40] if source_id is not None else ""
        raise QuestionError("source", f"'{shown}' is not a source of this knowledge base: one of "
                            + _listing(sorted(kb.sources), most=8) + " (`cptkg sources` lists them all)")
    return source_id.strip()


def rests_on(kb: KnowledgeBase, source_id: str) -> dict:
    """The rules, edits and facts that rest on one source sentence (``cptkg sources``, one entry)."""
    sid = _source(kb, source_id)
    entry = next(s for s in source_index(kb)["sources"] if s["id"] == sid)
    src = _node(kb, sid, ONT.Source)
    edits = []
    for subj in (kb.graph.subjects(DCTERMS.source, src) if src is not None else ()):
        if any((subj, RDF.type, t) in kb.graph for t in (ONT.PairEdit, ONT.UnitEdit)):
            eid = str(local(subj))
            edits.append({"id": eid, "label": _edit_name(kb, eid)})
    edits.sort(key=lambda e: e["id"])
    rules = [{"id": rid, "title": kb.rule_title(rid),
              "program": "claim" if kb.check_program.by_id(rid) else "encounter"} for rid in entry["rules"]]
    # the facts annotated with it, other than the edits' own (listed above as edits), a conflict's own
    # (said below) and those the loader computes from others (each route would be said twice)
    skip = _pair_edits(kb) | _unit_edits(kb) | {str(local(m)) for t in (ONT.ModifierSet, ONT.SourceConflict)
                                                for m in kb.graph.subjects(RDF.type, t)}
    facts = sorted({kb.describe(p, row) for p, rows in kb.facts.items() for row in rows
                    if row and str(row[0]) not in skip and not (p == "subclass_of" and row[0] == row[1])
                    and p not in COMPUTED_FACTS and sid in kb.fact_sources(p, row)})
    recorded_by = {str(local(c)) for c in kb.graph.subjects(DCTERMS.source, src)} if src is not None else set()
    conflicts = [c for c in views.conflicts(kb) if c["id"] in recorded_by
                 or any(s["id"] == sid for s in c["conflicting"] + c["prevailing"])]
    s = kb.sources[sid]
    parts = [f"{s.cite()}: “{s.quote}”" if s.quote else f"{s.cite()}."]
    if rules:
        parts.append(f"{len(rules)} rule(s) rest on it: " + "; ".join(f"{r['title']} ({r['id']})" for r in rules) + ".")
    if edits:
        parts.append(f"{len(edits)} edit(s): " + "; ".join(e["label"] for e in edits) + ".")
    if facts:
        parts.append(f"{len(facts)} fact(s) of the knowledge base: " + "; ".join(facts[:6])
                     + (" …" if len(facts) > 6 else "") + ".")
    if not (rules or edits or facts or conflicts):
        parts.append("Nothing rests on it" + (" although it states a billing rule." if s.normative else "; it "
                                              "describes rather than states a billing rule."))
    for c in conflicts:
        parts.append(f"It is part of a recorded conflict: {c['label']} ({c['resolution']}).")
    rows = ([{"kind": "rule", **r} for r in rules] + [{"kind": "edit", **e} for e in edits]
            + [{"kind": "fact", "fact": f} for f in facts])
    return _answer(kb, "rests-on", {"source": sid}, " ".join(parts), rows, [s.to_json()],
                   _focus(kb, sid, *(e["id"] for e in edits)), normative=s.normative, maps_to=list(s.maps_to),
                   conflicts=[c["id"] for c in conflicts], unused=entry["unused"])


def unsupported(kb: KnowledgeBase) -> dict:
    """Normative source sentences nothing rests on, and KB facts that rest on no sentence.

    The same lists as ``cptkg sources`` (its "NOT USED" and "UNSOURCED" lines).
    """
    idx = source_index(kb)
    unused = [s for s in idx["sources"] if s["unused"]]
    rows = ([{"kind": "sentence", "id": s["id"], "citation": s["citation"], "quote": s["quote"],
              "maps_to": s["maps_to"]} for s in unused]
            + [{"kind": "fact", "fact": u["fact"], "predicate": u["predicate"], "args": u["args"]}
               for u in idx["unsourced"]])
    normative = sum(1 for s in idx["sources"] if s["normative"])
    if unused:
        text = (f"{len(unused)} of the {normative} sentences that state a billing rule have no rule, edit or fact "
                "resting on them: " + "; ".join(f"{s['citation']} “{s['quote'][:100]}”" for s in unused) + ".")
    else:
        text = f"Every one of the {normative} sentences that state a billing rule has a rule, edit or fact resting on it."
    if idx["unsourced"]:
        text += (f" {len(idx['unsourced'])} fact(s) of the knowledge base rest on no source: "
                 + "; ".join(u["fact"] for u in idx["unsourced"][:6]) + (" …" if len(idx["unsourced"]) > 6 else "") + ".")
    else:
        text += " Every fact of the knowledge base rests on a source."
    return _answer(kb, "unsupported", {}, text, rows, [{k: s[k] for k in ("id", "document", "section",
                                                                          "section_title", "quote", "confidence",
                                                                          "citation")} for s in unused],
                   _focus(kb, *(s["id"] for s in unused)), unused=[s["id"] for s in unused],
                   unsourced=[u["fact"] for u in idx["unsourced"]])


# ------------------------------------------------------------------ edits

def _indicator_meaning(kb: KnowledgeBase, prop, value) -> str:
    """What an indicator value means, from the property's comment in the core ontology ("0: …; 1: …")."""
    comment = str(kb.graph.value(prop, RDFS.comment) or "")
    for part in comment.rstrip(".").split(";"):
        head, _, meaning = part.strip().partition(":")
        if head.strip() == str(value):
            return meaning.strip()
    return ""


def _edit_id(kb: KnowledgeBase, edit_id) -> str:
    known = sorted(_pair_edits(kb) | _unit_edits(kb))
    value = edit_id.strip() if isinstance(edit_id, str) else ""
    if value in known or (value and _table_row(kb, value) is not None):  # (a replaced row is asked about too)
        return value
    # as an analyst names an edit (the explanation's "NCCI PTP edit 27447/20610", "MUE 62367"): by its codes
    named = value.upper().removeprefix("NCCI PTP EDIT").removeprefix("MUE").strip()
    if "/" in named:
        first, _, second = (x.strip() for x in named.partition("/"))
        found = sorted({x for x, a, b in _edit_pairs(kb) if a == first and b == second})
    else:
        found = sorted(x for x, c in _facts(kb).get("unit_edit_code", ()) if c == named) if named else []
    if len(found) == 1:
        return found[0]
    if found:
        raise QuestionError("edit", f"'{str(edit_id)[:60]}' names {len(found)} edits (rows of different dates or "
                            f"tables): ask for one of {_listing(found, most=8)}")
    raise QuestionError("edit", f"'{str(edit_id)[:60]}' is not an edit of this knowledge base"
                        + (f" (nor of the --edits files loaded): one of {_listing(known, most=8)}" if known
                           else ": it has none") + "; `cptkg ask edit` lists them")


def edits(kb: KnowledgeBase) -> dict:
    """Every pair and unit edit of the loaded KB (the pack's and the --edits files'), one row each."""
    pairs = sorted(_pair_edits(kb))
    units = sorted(_unit_edits(kb))
    rows = [{"id": x, "kind": "pair", "label": _edit_name(kb, x),
             "column1": sorted({a for e, a, _ in _edit_pairs(kb) if e == x}),
             "column2": sorted({b for e, _, b in _edit_pairs(kb) if e == x})} for x in pairs]
    rows += [{"id": x, "kind": "unit", "label": _edit_name(kb, x), "code": _one(kb, "unit_edit_code", x),
              "max_units": _one(kb, "unit_edit_max", x)} for x in units]
    text = f"The knowledge base holds {len(pairs)} pair edit(s) and {len(units)} unit edit(s)."
    return _answer(kb, "edit", {}, text, rows, [], _focus(kb, *pairs, *units))


def edit(kb: KnowledgeBase, edit_id: str | None = None, *, date: str | None = None, engine=None) -> dict:
    """An edit's dates, scope, modifier (or adjudication) indicator, codes and sources, and what ``check``
    does with it on ``date`` (default today): each pair of codes it names billed together.

    Without ``edit_id``: the list of every edit (:func:`edits`).
    """
    if edit_id is None:
        return edits(kb)
    x = _edit_id(kb, edit_id)
    date = _date(date)
    located = _table_row(kb, x)
    if located is not None and located[2]:
        return _replaced_edit(kb, x, located[0], located[1], date)
    effective = _one(kb, "edit_effective_date", x)
    deleted = _one(kb, "edit_deletion_date", x)
    in_force = (effective is None or str(effective) <= date) and (deleted is None or date <= str(deleted))
    iri = _node(kb, x, ONT.PairEdit) or _node(kb, x, ONT.UnitEdit)
    # a pack edit is a node of the KB graph; an edit of a loaded edit table is a row of that table
    table = next((t for t in kb.edit_tables if x in t.ids), None)
    source_ids = (sorted(str(local(s)) for s in kb.graph.objects(iri, DCTERMS.source)) if iri is not None
                  else sorted(kb.edit_index().sources_of(x)))
    row = {"id": x, "label": _edit_name(kb, x), "effective": effective, "deleted": deleted, "in_force": in_force,
           "rationale": _one(kb, "edit_rationale", x), "table_row": _one(kb, "edit_source_row", x),
           "file": kb.subject_file.get(str(iri), "") if iri is not None else (table.path.name if table else "")}
    if located is not None:  # the release it belongs to and the file CMS published it in (issue 22)
        rel = located[0].release_of(located[1])
        src = located[0].source_of(located[1])
        row.update(release=rel[0] if rel else None, release_date=rel[1] if rel else None,
                   source_file=src.file if src is not None else located[0].path.name)
    dates = (f"in force from {effective}" if effective else "in force for every date of service") \
        + (f" to {deleted}" if deleted else (" with no deletion date" if effective else "")) \
        + f" (on {date}: {'in force' if in_force else 'not in force'})"
    if x in _unit_edits(kb):
        ind = _one(kb, "unit_edit_adjudication", x)
        row.update(kind="unit", code=_one(kb, "unit_edit_code", x), max_units=_one(kb, "unit_edit_max", x),
                   adjudication_indicator=ind, adjudication=_indicator_meaning(kb, ONT.adjudicationIndicator, ind))
        text = (f"{row['label']}: at most {row['max_units']} unit(s) of {row['code']}"
                + (f", adjudication indicator {ind} ({row['adjudication']})" if ind else "") + f"; {dates}.")
        rows, focus_codes = [row], [row["code"]]
    else:
        ind = _one(kb, "edit_modifier_indicator", x)
        scope, kind = _one(kb, "edit_scope", x), _one(kb, "edit_kind", x)
        bypass = sorted(s for s, i in _facts(kb).get("modifier_set_bypasses", ()) if str(i) == str(ind))
        pairs = [(a, b) for e, a, b in _edit_pairs(kb) if e == x]
        row.update(kind="pair", edit_kind=kind, edit_kind_label=kb.label(kind) if kind else None,
                   scope=scope, scope_label=kb.label(scope) if scope else None,
                   modifier_indicator=ind, modifier=_indicator_meaning(kb, ONT.modifierIndicator, ind),
                   bypassed_by=[kb.label(s) for s in bypass],
                   column1=sorted({a for a, _ in pairs}), column2=sorted({b for _, b in pairs}))
        text = (f"{row['label']}: column 1 {_words(row['column1'])}, column 2 {_words(row['column2'])}"
                + (f" ({row['edit_kind_label']})" if kind else "") + "; "
                + (f"compares {row['scope_label']}; " if scope else "")
                + (f"modifier indicator {ind}" + (f" ({row['modifier']})" if row["modifier"] else "")
                   + (f", bypassed by the {_words(row['bypassed_by'])}" if bypass else "") + "; " if ind else "")
                + f"{dates}.")
        applied = _edit_applied(kb, x, pairs, date if in_force else (str(effective) if effective else date), engine)
        row["applied"] = applied
        if applied:
            text += f" As the claim rules apply it on {applied[0]['date']}: " + "; ".join(
                f"{a['column1']} with {a['column2']}: " + (
                    f"{_words(a['stands'])} stands, {_words(a['denied'])} is denied" if a["stands"] and a["denied"]
                    else f"both are denied" if a["denied"] else "no line is denied under it")
                for a in applied[:6]) + (" …" if len(applied) > 6 else "") + "."
        rows, focus_codes = [row], row["column1"] + row["column2"]
    if row["rationale"]:
        text += f" Rationale: {row['rationale']}"
    sources = _sources(kb, source_ids)
    return _answer(kb, "edit", {"edit": x, "date": date}, text, rows, sources,
                   _focus(kb, x, *focus_codes, *source_ids))


def _replaced_edit(kb: KnowledgeBase, x: str, table, i: int, date: str) -> dict:
    """A pair edit row a newer release replaced: what it said, and the rows of the newer release that decide
    the pair now (cptkg.knowledge.edit_releases: the newest release with the pair wins)."""
    key = table.key_of(i)
    newer = []
    for tab in (kb.edit_index().tables if kb.edit_tables else ()):  # the rows naming its column 1, by index
        t = tab.edits
        for j in sorted(set(tab.by_code.get(key[1], ())) | set(tab.by_group.get(key[1], ()))):
            if t.types[j] == table.types[i] and t.release_of(j) and t.key_of(j) == key:
                newer.append((t, j))
    rel = table.release_of(i)
    src = table.source_of(i)
    row = {"id": x, "kind": "pair", "label": table.describe(i), "release": rel[0], "release_date": rel[1],
           "file": table.path.name, "source_file": src.file if src is not None else table.path.name,
           "table_row": table.column("sourceRow")[i], "effective": table.column("effectiveDate")[i],
           "deleted": table.column("deletionDate")[i], "in_force": False,
           "modifier_indicator": table.column("modifierIndicator")[i],
           "column1": [key[1]], "column2": [key[2]],
           "replaced_by": [t.ids[j] for t, j in newer], "replaced_by_label": [t.describe(j) for t, j in newer]}
    newest = sorted({t.release_of(j) for t, j in newer})
    text = (f"{row['label']} is replaced by release " + ", ".join(f"{r} ({d})" for r, d in newest)
            + f": check judges {key[1]} with {key[2]} by "
            + "; ".join(row["replaced_by_label"][:6]) + (" …" if len(newer) > 6 else "")
            + " (with several releases loaded, the newest release that has a pair decides it).")
    source_ids = sorted(table.sources[i])
    return _answer(kb, "edit", {"edit": x, "date": date}, text, [row], _sources(kb, source_ids),
                   _focus(kb, *[t.ids[j] for t, j in newer], key[1], key[2], *source_ids))


def _edit_applied(kb: KnowledgeBase, x: str, pairs: list[tuple[str, str]], date: str, engine, most: int = 24):
    """Each (column 1, column 2) pair of edit ``x`` billed together, as ``check`` judges it under ``x``.

    Only the first ``most`` pairs are judged (an edit over two large groups
    names many); a pair no device or performer lets be billed is left out.
    """
    roles = _roles(kb)
    plans = []
    for a, b in pairs[:most]:
        s = _setup_for(kb, [a, b])
        if s is None:
            continue
        plans.append((a, b, s))
    asked = [(c, s, r) for a, b, s in plans for c in (a, b) for r in roles]
    alone = dict(zip(asked, (res.lines[0] for res in _judge(
        kb, [_claim(f"question-{i}", [(c, r)], date, s) for i, (c, s, r) in enumerate(asked)], engine))))
    chosen = []
    for a, b, s in plans:
        ok = [(bool(alone[(a, s, r)].warnings or alone[(b, s, r)].warnings), i, r) for i, r in enumerate(roles)
              if alone[(a, s, r)].status == "accepted" and alone[(b, s, r)].status == "accepted"]
        if ok:
            chosen.append((a, b, s, min(ok)[2]))
    results = _judge(kb, [_claim(f"question-pair-{i}", [(a, r), (b, r)], date, s)
                          for i, (a, b, s, r) in enumerate(chosen)], engine)
    out = []
    for (a, b, s, r), res in zip(chosen, results):
        lines = res.lines
        under = [ln for ln in lines if any(x in _reason(kb, rr)["edits"] for rr in ln.reasons)]
        out.append({"column1": a, "column2": b, "date": date, "role": r,
                    "denied": [ln.code for ln in under],
                    "stands": [ln.code for ln in lines if ln not in under] if under else [],
                    "reasons": [dict(_reason(kb, rr), line_code=ln.code) for ln in under for rr in ln.reasons
                                if x in _reason(kb, rr)["edits"]]})
    return out
