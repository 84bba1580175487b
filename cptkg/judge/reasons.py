"""Reasons: a fired rule, its filled message and the sources it cites."""
from __future__ import annotations

from dataclasses import dataclass, field

# the words of X12's reason codes are knowledge every layer reads (writers, exports): kept there
from cptkg.knowledge.carc import CARC_FILE, carc_description, carc_descriptions  # noqa: F401
from cptkg.knowledge.kb import KnowledgeBase
from cptkg.knowledge.sources import weakest_confidence
from cptkg.rules.messages import fill
from cptkg.rules.ast import Rule


@dataclass
class Reason:
    rule: str
    message: str
    source: str
    confidence: str
    sources: list[dict]
    bindings: dict = field(default_factory=dict)
    rule_index: int = -1
    # the X12 reason of a rejection (rule metadata % carc: / % group: / % rarc:); None on a warning
    carc: str | None = None
    group_code: str | None = None
    rarc: str | None = None
    title: str = ""  # the rule's title in billing words (its `% title:` metadata)

    def to_json(self) -> dict:
        out = {"rule": self.rule, "message": self.message, "source": self.source,
               "confidence": self.confidence, "sources": self.sources, "title": self.title or self.rule}
        if self.carc:
            out["carc"] = self.carc
            out["group_code"] = self.group_code
            out["carc_description"] = carc_description(self.carc)
            if self.rarc:
                out["rarc"] = self.rarc
        return out


def reason_code_text(reason: dict) -> str:
    """A rejection's code as a remittance prints it, then its words: "CO-97 The benefit for ...".

    Reads ``carc_description`` when the dict has it, else looks the code up (results written
    before the field existed). "" for a reason without a CARC (a warning).

    >>> reason_code_text({"carc": "18", "group_code": "CO"})
    'CO-18 Exact duplicate claim/service'
    >>> reason_code_text({"rule": "x"})
    ''
    """
    carc = str(reason.get("carc") or "")
    if not carc:
        return ""
    group = str(reason.get("group_code") or "")
    words = reason.get("carc_description")
    if words is None:
        words = carc_description(carc)
    code = f"{group}-{carc}" if group else carc
    return f"{code} {words}" if words else code


def make_reason(kb: KnowledgeBase, rule: Rule, bindings: dict, index: int) -> Reason:
    srcs = firing_sources(kb, rule, bindings)
    conf = rule.meta.confidence or weakest_confidence(s.confidence for s in srcs)
    return Reason(
        rule=rule.meta.id or rule.head.pred,
        message=fill(rule.meta.message or rule.head.pred, bindings, kb.label, kb.edit_location),
        source="; ".join(dict.fromkeys(s.cite() for s in srcs)),
        confidence=conf,
        sources=[s.to_json() for s in srcs],
        bindings=dict(bindings),
        rule_index=index,
        carc=rule.meta.carc, group_code=rule.meta.group, rarc=rule.meta.rarc,
        title=kb.rule_title(rule.meta.id or rule.head.pred),
    )


def firing_sources(kb: KnowledgeBase, rule: Rule, bindings: dict) -> list:
    """The sources one firing of ``rule`` rests on.

    A rule that ranges over several knowledge-base entities of one kind
    (the four exclusions, the family's codes) cites the sources of all of
    them; one firing rests on the entities it binds. The rule's sources that
    belong only to entities of that kind the firing does not bind are left
    out: a code denied beside the comprehensive code that includes it cites
    that code's descriptor and the sentence behind that exclusion, not the
    sentences that ground the rule's other exclusions, and a code chosen for
    an encounter does not cite the descriptors of the family's other codes.
    For edits the bound entity's own sources
    are added (the sentence that states the edit); a code's own descriptor
    is a fact the proof cites where the code's facts are read.
    """
    values = set(dict.fromkeys(v for v in bindings.values() if isinstance(v, str)))
    # the answer depends on the rule and on which entities and codes the firing binds: remembered
    # per KB (a batch asks the same question thousands of times); firings binding an edit-table
    # edit are not remembered (a table has hundreds of thousands)
    memo = kb.cache.setdefault("firing_sources", {})
    known = kb.cache.get("entity_values")
    if known is None:
        known = kb.cache["entity_values"] = frozenset(kb.codes()).union(*(_entities(kb).values()))
    key = (id(rule), frozenset(values & known))
    if not kb.edit_tables:
        got = memo.get(key)
        if got is not None and got[0] is rule:
            return list(got[1])
    out = _firing_sources(kb, rule, values)
    if not kb.edit_tables:
        memo[key] = (rule, tuple(out))
    return out


def _firing_sources(kb: KnowledgeBase, rule: Rule, values: set) -> list:
    cited = list(rule.meta.source)
    # edits of the edit tables loaded over the pack (--edits) are not KB facts: looked up by value
    imported: dict[str, set[str]] = {}
    if kb.edit_tables:
        idx = kb.edit_index()
        for v in values:
            found = idx.table_edit(v)
            if found:
                imported.setdefault(found[0], set()).update(found[1])
    entities_by_kind = _entities(kb)
    for pred in imported:
        entities_by_kind.setdefault(pred, {})
    for pred, entities in entities_by_kind.items():
        bound = [v for v in entities if v in values]
        if not bound and pred not in imported:
            continue
        own = set().union(*(entities[v] for v in bound), imported.get(pred, set()))
        others = set().union(*(s for e, s in entities.items() if e not in values)) - own
        cited = [s for s in cited if s not in others]
        if pred in _ADDS_OWN:
            cited += [s for s in sorted(own) if s not in cited]
    # a sentence about particular codes (ont:mapsTo) is cited by a firing about one of them only:
    # a code denied for its performer does not cite the sentence about another code the rule also names
    codes = kb.cache.get("code_set")
    if codes is None:
        codes = kb.cache["code_set"] = frozenset(kb.codes())
    bound_codes = values & codes
    if bound_codes:
        kept = [s for s in cited if s not in kb.sources or not (set(kb.sources[s].maps_to) & codes)
                or set(kb.sources[s].maps_to) & bound_codes]
        if any(s in kb.sources for s in kept):
            cited = kept
        else:
            # every sentence the rule cites is about other codes (a sentence about two refill codes cited for a
            # general "a code covers what it describes"): this firing rests on its own codes' descriptors, not
            # on sentences that never name them (a removal code "covers the documented removal" cited a refill
            # sentence; a coder's audit)
            own = _entities(kb).get("code", {})
            described = [s for c in sorted(bound_codes) for s in sorted(own.get(c, ())) if s in kb.sources]
            if described:
                cited = described
    return [kb.sources[s] for s in dict.fromkeys(cited) if s in kb.sources]


_ADDS_OWN = {"pair_edit", "unit_edit"}  # entity kinds whose own sources a firing cites (the edit's sentence)


def _entities(kb: KnowledgeBase) -> dict[str, dict[str, set[str]]]:
    """Entity kinds whose members carry their own sources: unary KB facts with provenance."""
    cache = getattr(kb, "_entity_sources", None)
    if cache is not None:
        return dict(cache)
    if cache is None:
        cache = {}
        for pred in ("pair_edit", "unit_edit", "code"):
            members = {row[0]: set(kb.fact_sources(pred, row)) for row in kb.facts.get(pred, ())}
            if any(members.values()):
                cache[pred] = members
        object.__setattr__(kb, "_entity_sources", cache)
    return dict(cache)


def verdict_reasons_by_key(kb: KnowledgeBase, program, model, head_pred: str) -> dict[object, list[Reason]]:
    """:func:`verdict_reasons` for every key at once: key -> its reasons, in the same order."""
    out: dict[object, list[Reason]] = {}
    seen: dict[object, set[tuple[str, str]]] = {}
    for k, rule in enumerate(program.rules):
        if rule.head.pred != head_pred:
            continue
        arg = rule.head.args[0]
        for b in model.bindings.get(k, []):
            val = b.get(arg.name) if hasattr(arg, "name") else arg.value
            r = make_reason(kb, rule, b, k)
            s = seen.setdefault(val, set())
            if (r.rule, r.message) not in s:
                s.add((r.rule, r.message))
                out.setdefault(val, []).append(r)
    for reasons in out.values():
        reasons.sort(key=_reason_order)
    return out


def _reason_order(r: Reason) -> tuple[int, str]:
    """Reasons in rule order, then by their text: the order ``cptkg batch`` writes them in (it sorts each
    line's messages by rule and text), not the order an engine happened to find the bindings in. A line
    denied under two edits listed them in one order in check and the other in batch: 635 of 30,000 lines of
    an auditor's file differed in nothing else."""
    return r.rule_index, r.message


def verdict_reasons(kb: KnowledgeBase, program, model, head_pred: str, key_var_value) -> list[Reason]:
    """Reasons for ``head_pred(key)``: one per distinct binding of each rule deriving it."""
    out: list[Reason] = []
    seen: set[tuple[str, str]] = set()
    for k, rule in enumerate(program.rules):
        if rule.head.pred != head_pred:
            continue
        arg = rule.head.args[0]
        for b in model.bindings.get(k, []):
            val = b.get(arg.name) if hasattr(arg, "name") else arg.value
            if val != key_var_value:
                continue
            r = make_reason(kb, rule, b, k)
            if (r.rule, r.message) not in seen:
                seen.add((r.rule, r.message))
                out.append(r)
    return sorted(out, key=_reason_order)
