"""What may not be billed with a code (``cptkg ask not-with``): the two codes judged on one claim."""
from __future__ import annotations

from cptkg.judge.questions.answers import _answer, _focus, _line, _reason, _sources
from cptkg.judge.questions.reading import _code, _edit_name, _edit_pairs, _one, _roles
from cptkg.judge.questions.synthetic import _claim, _judge, _Setup, _setup_for, required_modifiers
from cptkg.judge.questions.wording import _date, _short, _words
from cptkg.knowledge.loader import KnowledgeBase
from cptkg.knowledge.vocabulary import vocabulary


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
            # the edits in words, as the answer names them (the explorer's table showed the ids: an explorer audit)
            "edit_labels": [_edit_name(kb, e) for e in sorted({e for r in reasons for e in r["edits"]})],
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

    needs = required_modifiers(kb).get(code)
    marked = (f" (the line of {code} with modifier{'s' if len(needs) > 1 else ''} {_words(needs)}, which it requires)"
              if needs else "")
    head = (f"Billed with {code} ({_short(kb.descriptor(code)) or 'not in the knowledge base'}) for the same patient on "
            f"{date} by the same provider, as the claim rules judge the two lines{marked}:")
    if rows:
        text = f"{head} {len(rows)} code(s) may not be billed with it: " + "; ".join(map(said, rows)) + "."
        # judged for one provider, the answer read as if another provider's line escaped the edits (an explorer
        # audit): each edit's scope says whose lines it pairs
        edits = sorted({e for r in rows for e in r["edits"]})
        wide = [e for e in edits if _one(kb, "edit_scope", e) == "AnyProvider"]
        if wide and len(wide) == len(edits):
            text += " These edits (scope: any provider) apply whoever bills the other code: another provider too."
        elif wide:
            text += (f" {len(wide)} of these {len(edits)} edits (scope: any provider) apply whoever bills the other "
                     f"code; the others, to the same provider's lines only.")
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
