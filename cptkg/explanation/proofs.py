"""Explanations: proof trees down to the source sentence, why-not, and fixes.

Proofs are rebuilt generically from the parsed rules and the bindings the
engine recorded for each rule (``rule_k(all variables)``): a derived fact's
proof is a rule that derived it with those bindings, and under it one node
per body item — a derived fact (its own proof), an asserted fact (the claim
line, or the KB triple with the source it cites), an absent fact ("no … was
found", with what was searched) or a comparison. No explanation code is
written per rule, so a new rule is explained the day it is added.

Why-not runs the other way: for a fact that does not hold, each rule that
could derive it is evaluated top-down over the same facts, literal by
literal, and the first literal that leaves no binding is the condition that
failed.
"""
from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any

from cptkg.claims.models import CODE_PATTERN
from cptkg.knowledge.kb import KnowledgeBase
from cptkg.rules.messages import IDENTIFIER_ARGS, entry_name, entry_variables, fill, identifier_variables, phrase
from cptkg.rules.ast import Atom, Comparison, Const, Literal, Rule, Var
from cptkg.rules.program import Program

COMPUTED = {"subclass_of": "rdfs:subClassOf (reflexive-transitive closure)", "input_value": "ont:inputValue",
            "code": "rdf:type ont:BillingCode", "exclusion": "rdf:type ont:Exclusion", "instance_of": "rdf:type"}
_OPS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@dataclass
class ProofNode:
    fact: str
    kind: str  # derived | claim | encounter | kb | absent | comparison
    message: str
    rule: str | None = None
    source: list[dict] = field(default_factory=list)
    children: list["ProofNode"] = field(default_factory=list)
    searched: str | None = None
    why_not: list[dict] = field(default_factory=list)
    truncated: bool = False
    unsourced: str | None = None  # a KB fact no source annotates: where it is stated (file and triple)
    args: tuple | None = field(default=None, repr=False, compare=False)  # an asserted fact's arguments (summaries)
    pred: str | None = field(default=None, repr=False, compare=False)  # an asserted fact's predicate (summaries)

    @property
    def size(self) -> int:
        return 1 + sum(c.size for c in self.children)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"fact": self.fact, "kind": self.kind, "rule": self.rule, "message": self.message,
                               "source": self.source, "children": [c.to_json() for c in self.children]}
        if self.searched:
            out["searched"] = self.searched
        if self.why_not:
            out["why_not"] = self.why_not
        if self.truncated:
            out["truncated"] = True
        if self.unsourced:
            out["unsourced"] = self.unsourced
        return out

    def leaves(self):
        if not self.children:
            yield self
        for c in self.children:
            yield from c.leaves()


def _val(t, b):
    return t.value if isinstance(t, Const) else b.get(t.name)


def _as_entry(term, value, entries: set[str]):
    """A compared value as the proof says it: a billed entry by its name ("history entry 1"), else itself."""
    if isinstance(term, Var) and term.name in entries and isinstance(value, int) and not isinstance(value, bool):
        return entry_name(value)
    return value


def _fact_text(pred: str, args) -> str:
    return f"{pred}({', '.join('_' if a is None else repr(a) if isinstance(a, str) else str(a) for a in args)})"


_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_OP_WORDS = {  # (for dates, for other values)
    "<": ("is before", "is less than"), "<=": ("is on or before", "is at most"),
    ">": ("is after", "is more than"), ">=": ("is on or after", "is at least"),
    "=": ("is", "is"), "!=": ("is not", "is not"),
}


#: the comparison that holds when one fails
_NEGATED_OP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}


def compared(left, op: str, right) -> str:
    """A comparison of two values in words.

    >>> compared("2024-01-10", "<", "2024-01-10"), compared(3, ">", 1), compared(1, "!=", 2)
    ('2024-01-10 is before 2024-01-10', '3 is more than 1', '1 is not 2')
    """
    dates = all(isinstance(v, str) and _DATE_TEXT.match(v) for v in (left, right))
    words = _OP_WORDS.get(op, (op, op))[0 if dates else 1]
    return f"{left} {words} {right}"


#: core predicates whose failed condition an analyst reads in the negative: "no source here makes a nurse a
#: physician or QHP" (what the knowledge base says, not a ruling on scope of practice: for a physical therapist
#: the notes call it unsettled; a coder's audit) where the fact searched for reads "a nurse is a kind of physician" (the ontology's ont:phrase)
NEGATED_PHRASES = {"subclass_of": "no source here makes a {0} a {1}",
                   # a code's device and route, as the denial for a device or route rests on them (an audit: the
                   # why-not of a code on a device it does not fit named "Device replaced since", and the route's had none)
                   "applies_to_device": "no source here makes {0} apply to a {1}",
                   "applies_to_route": "no source here makes {0} apply to {1} delivery"}
#: knowledge-base facts whose absence is itself the reason a line is denied (a rule's "not applies_to_device"):
#: a why-not names them; another negated fact (a subclass the performer is not) is said through its rule
ABSENT_REASONS = ("applies_to_device", "applies_to_route")


class Explainer:
    """Proofs and why-nots over one evaluated model (a claim or an encounter)."""

    def __init__(self, kb: KnowledgeBase, program: Program, model, input_facts: dict, input_name: str,
                 codes=None):
        self.kb, self.program, self.model = kb, program, model
        self.input_facts = input_facts
        self.claim_preds = kb.input_predicates.get("claim", set())
        self.encounter_preds = kb.input_predicates.get("encounter", set())
        self.input_name = input_name
        self.edb = dict(kb.facts)
        if codes is not None and kb.edit_tables:  # the loaded edit tables' edits of these codes
            for pred, rows in kb.edit_index().facts_for(codes).items():
                self.edb[pred] = self.edb.get(pred, set()) | rows
        self.edb.update(input_facts)
        self.derived: dict[str, dict[tuple, list[tuple[int, dict]]]] = {}
        for k, bs in model.bindings.items():
            rule = program.rules[k]
            for b in bs:
                head = tuple(_val(a, b) for a in rule.head.args)
                self.derived.setdefault(rule.head.pred, {}).setdefault(head, []).append((k, b))
        self._memo: dict[tuple, ProofNode] = {}
        self._sorted: dict[str, list[tuple]] = {}
        self._names = self._identifier_names(input_facts)
        self._id_vars: dict[int, dict[str, str]] = {}

    # ------------------------------------------------------------ identifiers
    # A provider id is never shown (docs/decision-log.md): an explanation names
    # it by the first entry that carries it ("the provider of line 1"; claim
    # lines before history entries), so a proof still shows which entries share
    # a provider and which do not, in every writer.
    @staticmethod
    def _identifier_names(facts: dict) -> dict[tuple[str, object], str]:
        names: dict[tuple[str, object], str] = {}

        def order(row):
            e = row[0] if row else 0
            return (1, -e) if isinstance(e, int) and e < 0 else (0, e if isinstance(e, int) else 0)

        for pred, positions in IDENTIFIER_ARGS.items():
            for row in sorted(facts.get(pred, ()), key=order):
                for i, noun in positions.items():
                    if i < len(row):
                        names.setdefault((noun, row[i]), f"the {noun} of {entry_name(row[0])}")
        return names

    def _shown_args(self, pred: str, args: tuple) -> tuple:
        """``args`` as an explanation shows them: identifiers named, never written."""
        positions = IDENTIFIER_ARGS.get(pred)
        if not positions:
            return args
        return tuple(self._shown_id(positions[i], a) if i in positions and a is not None else a
                     for i, a in enumerate(args))

    def _shown_id(self, noun: str, value) -> str:
        return self._names.get((noun, value), f"a {noun} not on the claim")

    def _shown_bindings(self, rule: Rule, b: dict) -> dict:
        """A rule's bindings as messages and comparisons show them: identifier variables named."""
        key = id(rule)
        if key not in self._id_vars:
            self._id_vars[key] = identifier_variables(rule)
        hidden = self._id_vars[key]
        if not hidden:
            return b
        return {k: (self._shown_id(hidden[k], v) if k in hidden and v is not None else v) for k, v in b.items()}

    # ------------------------------------------------------------ facts
    def holds(self, pred: str, pattern: tuple) -> list[tuple]:
        """Facts of ``pred`` matching ``pattern`` (None = any value)."""
        if pred in self.program.idb:
            rows = self.derived.get(pred, {}).keys()
        else:
            # in a fixed order: a set's order depends on how it was built (a KB parsed
            # or read from its cache), and why-not and proofs list rows in this order
            rows = self._sorted.get(pred)
            if rows is None:
                rows = self._sorted[pred] = sorted(self.edb.get(pred, ()), key=repr)
        return [r for r in rows if all(p is None or p == v for p, v in zip(pattern, r))]

    def _rule_sources(self, rule: Rule, bindings: dict | None = None) -> list[dict]:
        """The rule's sources; for one firing (``bindings``), those it rests on (reasons.firing_sources)."""
        if bindings is None:
            return [s.to_json() for s in self.kb.rule_source(rule)]
        from cptkg.judge.reasons import firing_sources

        return [s.to_json() for s in firing_sources(self.kb, rule, bindings)]

    def _asserted(self, pred: str, args: tuple) -> ProofNode:
        args = self._shown_args(pred, args)
        text = self.kb.describe(pred, args)
        if pred in self.claim_preds or pred in self.encounter_preds:
            where = self.input_name
            if pred in self.claim_preds and args and isinstance(args[0], int):
                where = f"{self.input_name}, {entry_name(args[0])}"
            return ProofNode(_fact_text(pred, args), "claim" if pred in self.claim_preds else "encounter", text,
                             source=[{"id": "input", "document": "input", "citation": where, "quote": text}],
                             args=args, pred=pred)
        srcs = [self.kb.sources[s].to_json() for s in self.kb.fact_sources(pred, args) if s in self.kb.sources]
        prop = self.kb.properties.get(pred)
        subj = args[0] if args else ""
        file = self.kb.subject_file.get(self._iri(subj), "the ontology" if pred in COMPUTED else "the knowledge base")
        triple = f"{subj} {prop.n3(self.kb.graph.namespace_manager) if prop is not None else COMPUTED.get(pred, pred)} {args[1] if len(args) > 1 else ''}".strip()
        for s in srcs:
            s.setdefault("triple", triple)
            s["file"] = file
        # a fact no source annotates stays unsourced: the proof says where it is stated, and cites nothing
        return ProofNode(_fact_text(pred, args), "kb", text, source=srcs, args=args,
                         unsourced=None if srcs else f"no source annotates this fact ({file}: {triple})")

    def _iri(self, local_name) -> str:
        from cptkg.knowledge.namespace import KB, ONT
        for ns in (str(KB), str(ONT._NS)):
            iri = ns + str(local_name)
            if iri in self.kb.subject_file:
                return iri
        return ""

    # ------------------------------------------------------------ proofs
    def prove(self, pred: str, args: tuple, depth: int | None = None, _stack=()) -> ProofNode | None:
        """The shortest proof of ``pred(args)``, or None if it does not hold."""
        args = tuple(args)
        if pred not in self.program.idb:
            return self._asserted(pred, args) if args in set(self.edb.get(pred, ())) else None
        key = (pred, args, depth)
        if key in self._memo:
            return self._memo[key]
        if (pred, args) in _stack:
            return None
        best = None
        for k, b in self.derived.get(pred, {}).get(args, []):
            node = self.rule_node(k, b, depth, _stack + ((pred, args),))
            if node is not None and (best is None or node.size < best.size):
                best = node
        self._memo[key] = best
        return best

    def all_proofs(self, pred: str, args: tuple, depth: int | None = None) -> list[ProofNode]:
        out = []
        for k, b in self.derived.get(pred, {}).get(tuple(args), []):
            node = self.rule_node(k, b, depth, ((pred, tuple(args)),))
            if node is not None:
                out.append(node)
        return sorted(out, key=lambda n: n.size)

    def rule_node(self, k: int, b: dict, depth: int | None, stack=()) -> ProofNode | None:
        rule = self.program.rules[k]
        shown = self._shown_bindings(rule, b)
        head = tuple(_val(a, shown) for a in rule.head.args)
        node = ProofNode(_fact_text(rule.head.pred, head), "derived",
                         fill(rule.meta.message or rule.head.pred, shown, self.kb.label, self.kb.edit_location),
                         rule=rule.meta.id, source=self._rule_sources(rule, b))
        if depth is not None and depth <= 0:
            node.truncated = True
            return node
        sub = None if depth is None else depth - 1
        for item in rule.body:
            if isinstance(item, Comparison):
                lv, rv = _val(item.left, shown), _val(item.right, shown)
                entries = entry_variables(rule)
                node.children.append(ProofNode(f"{lv!r} {item.op} {rv!r}", "comparison",
                                               compared(_as_entry(item.left, lv, entries), item.op,
                                                        _as_entry(item.right, rv, entries)), rule=rule.meta.id,
                                               source=self._rule_sources(rule, b)))
                continue
            pattern = tuple(_val(a, b) if not (isinstance(a, Var) and a.anonymous) else None for a in item.atom.args)
            if item.negated:
                node.children.append(self._absent(rule, item.atom.pred, pattern, b))
                continue
            matches = self.holds(item.atom.pred, pattern)
            if not matches:
                return None  # bindings inconsistent with facts (should not happen)
            child = None
            for m in matches[:5]:
                child = self.prove(item.atom.pred, m, sub, stack)
                if child is not None:
                    break
            if child is None:
                return None
            node.children.append(child)
        return node

    def _absent(self, rule: Rule, pred: str, pattern: tuple, bindings: dict | None = None) -> ProofNode:
        text = self._words(pred, pattern)
        if pred in self.claim_preds:
            searched = f"searched the claim's lines and the patient's billed history ({self.input_name})"
        elif pred in self.encounter_preds:
            searched = f"searched the documented encounter ({self.input_name})"
        elif pred in self.program.idb:
            ids = sorted({r.meta.id for r in self.program.rules_for(pred) if r.meta.id})
            searched = f"no rule derives it (rules tried: {', '.join(ids)})"
        else:
            prop = self.kb.properties.get(pred)
            searched = f"searched the ontology and the knowledge base ({prop.n3(self.kb.graph.namespace_manager) if prop is not None else COMPUTED.get(pred, pred)})"
        node = ProofNode("not " + _fact_text(pred, self._shown_args(pred, pattern)), "absent", f"no fact found: {text}",
                         rule=rule.meta.id, source=self._rule_sources(rule, bindings), searched=searched)
        if pred in self.program.idb and None not in pattern:
            node.why_not = self.why_not(pred, pattern)
        return node

    # ------------------------------------------------------------ why not
    def why_not(self, pred: str, args: tuple, limit: int = 200, deeper: int = 2, _stack: tuple = ()) -> list[dict]:
        """For each rule that could derive ``pred(args)``, the first condition that failed.

        A failed condition that is itself a derived fact with every value known
        ("no fact found: 62360 fits the encounter") carries that fact's own
        failed conditions (``why_not``), ``deeper`` levels down: the top rule
        alone told an integrator only that the code does not fit, not why
        (an analyst's audit).
        """
        out = []
        _stack = _stack + ((pred, tuple(args)),)
        for rule in self.program.rules_for(pred):
            b0: dict = {}
            ok = True
            for t, v in zip(rule.head.args, args):
                if isinstance(t, Const):
                    ok = ok and t.value == v
                elif t.name in b0 and b0[t.name] != v:
                    ok = False
                else:
                    b0[t.name] = v
            if not ok:
                continue
            bindings = [b0]
            for item in self.program.ordered_body(rule):
                nxt = []
                if isinstance(item, Comparison):
                    nxt = [b for b in bindings if _OPS[item.op](_val(item.left, b), _val(item.right, b))]
                elif item.negated:
                    nxt = [b for b in bindings if not self.holds(item.atom.pred, self._pattern(item.atom, b))]
                else:
                    for b in bindings:
                        for row in self.holds(item.atom.pred, self._pattern(item.atom, b)):
                            nb = dict(b)
                            for a, v in zip(item.atom.args, row):
                                if isinstance(a, Var) and not a.anonymous:
                                    nb[a.name] = v
                            nxt.append(nb)
                            if len(nxt) >= limit:
                                break
                if not nxt:
                    failure = self._failure(rule, item, bindings)
                    if deeper > 0 and not isinstance(item, Comparison) and not item.negated \
                            and item.atom.pred in self.program.idb and len(bindings) == 1:
                        pattern = self._pattern(item.atom, bindings[0])
                        if None not in pattern and (item.atom.pred, pattern) not in _stack:
                            inner = self.why_not(item.atom.pred, pattern, limit, deeper - 1, _stack)
                            if inner:
                                failure["why_not"] = inner
                    out.append(failure)
                    break
                bindings = nxt
        return out

    def absent(self, rule: Rule, item: Literal, pattern: tuple) -> dict:
        """A knowledge-base fact whose absence a verdict rested on (a negated fact no rule derives), as a why-not
        entry: the fact searched for, where, and the rule that needed it absent."""
        pred = item.atom.pred
        text = self._words(pred, pattern)
        rid = rule.meta.id or rule.head.pred
        title = self.kb.rule_title(rid) if rule.meta.id else rid
        cond = "no fact found: " + text
        out = {"rule": rid, "message": f"“{title}” applies: {cond}", "failed": str(item), "condition": cond,
               "kind": "fact", "title": title, "open": False, "because": None,
               "source": "; ".join(dict.fromkeys(s.cite() for s in self.kb.rule_source(rule))),
               "sources": self._rule_sources(rule)}
        words = self._said_not(pred, [pattern])
        if words:
            out["in_words"] = words
        return out

    def _pattern(self, atom: Atom, b: dict) -> tuple:
        return tuple(a.value if isinstance(a, Const) else (None if a.anonymous else b.get(a.name)) for a in atom.args)

    def _failure(self, rule: Rule, item, bindings: list[dict]) -> dict:
        """The failed condition in words, over every binding that reached it."""
        because = None
        kind = "fact"
        open_value = False  # a value no binding fixed ("the … include modifier JW"), shown as "…"
        if isinstance(item, Comparison):
            kind = "comparison"
            shown = [self._shown_bindings(rule, b) for b in bindings[:5]]
            # the condition failed: what holds instead ("2025-05-02 is on or after 2025-01-01"), not the
            # comparison the rule needed, which read as true ("2025-05-02 is before 2025-01-01"; an audit)
            entries = entry_variables(rule)
            alts = [compared(_as_entry(item.left, _val(item.left, b), entries), _NEGATED_OP.get(item.op, item.op),
                             _as_entry(item.right, _val(item.right, b), entries)) for b in shown]
            alts = list(dict.fromkeys(alts))
            # several bindings: each of them holds, so never "none of these holds" before them (an analyst's
            # audit read "none of these holds: line 1 is at least line 1", two true statements, backwards)
            cond = alts[0] if len(alts) == 1 else "each time it was tried, the opposite holds: " + "; ".join(alts)
        else:
            pats = list(dict.fromkeys(self._pattern(item.atom, b) for b in bindings))[:6]
            open_value = any(None in p for p in pats)
            texts = [self._words(item.atom.pred, p) for p in pats]
            if item.negated:
                cond = "it is the case that " + "; ".join(texts)
                rows = self.holds(item.atom.pred, pats[0])
                proof = self.prove(item.atom.pred, rows[0], depth=2) if rows else None
                because = proof.to_json() if proof else None
            elif len(texts) == 1:
                cond = "no fact found: " + texts[0]
            else:
                cond = "none of these holds: " + "; ".join(texts)
        rid = rule.meta.id or rule.head.pred
        # the rule by its title, as the explorer names it ("“Edit not yet in force” does not apply"): its id read as
        # code to a billing office (a coder's audit); the id stays in "rule"
        title = self.kb.rule_title(rid) if rule.meta.id else rid
        out = {"rule": rid, "message": f"“{title}” does not apply: {cond}", "failed": str(item), "condition": cond,
               "kind": kind, "title": title, "open": open_value,
               "because": because, "source": "; ".join(dict.fromkeys(s.cite() for s in self.kb.rule_source(rule))),
               "sources": self._rule_sources(rule)}
        if not isinstance(item, Comparison) and not item.negated:
            words = self._said_not(item.atom.pred, pats)
            if words:
                out["in_words"] = words
        return out

    def _said_not(self, pred: str, patterns: list[tuple]) -> str | None:
        """A failed condition of the role hierarchy said as an analyst says it, or None.

        ``condition`` keeps the facts searched for ("a physical therapist is a
        kind of physician; … is a kind of qualified health care professional");
        an analyst reads the class hierarchy as jargon (issue 23) and is told
        "no source here makes a physical therapist a physician or qualified health care
        professional (QHP)": one line, the alternatives joined by "or".
        """
        template = NEGATED_PHRASES.get(pred)
        if template is None or not patterns or any(None in p for p in patterns):
            return None
        varying = [i for i in range(len(patterns[0])) if len({p[i] for p in patterns}) > 1]
        if len(varying) > 1:
            return None
        # a billing code reads as itself, not as its descriptor (the label the knowledge base gives it)
        said = lambda a: a if re.fullmatch(CODE_PATTERN, a) else self.kb.label(a)  # noqa: E731
        shown = [said(str(a)) for a in patterns[0]]
        if varying:
            alts = sorted({said(str(p[varying[0]])) for p in patterns})
            shown[varying[0]] = alts[0] if len(alts) == 1 else ", ".join(alts[:-1]) + " or " + alts[-1]
        return phrase(template, tuple(shown), str)

    def _words(self, pred: str, pattern: tuple) -> str:
        # a position the rule leaves open ("_") is said as "…": "line 1 carries modifier …" (it read "line 1
        # carries modifier any", and "is in force from any"; a coder's audit)
        shown = tuple("…" if p is None else p for p in pattern)
        if pred in self.program.idb:
            rows = self.holds(pred, pattern)
            if rows:
                k, b = self.derived[pred][rows[0]][0]
                rule = self.program.rules[k]
                return fill(rule.meta.message or pred, self._shown_bindings(rule, b), self.kb.label, self.kb.edit_location).rstrip(".")
            rules = self.program.rules_for(pred)
            for rule in rules:
                b = {t.name: v for t, v in zip(rule.head.args, pattern) if isinstance(t, Var) and v is not None}
                text = fill(rule.meta.message or pred, b, self.kb.label, self.kb.edit_location)
                if "?" not in text:
                    return text.rstrip(".")
            # no message fills from the pattern alone: the rules' titles, with the values in words
            titles = list(dict.fromkeys(self.kb.rule_title(r.meta.id) for r in rules if r.meta.id))
            if titles:
                values = ", ".join(str(p) if isinstance(p, int) else self.kb.label(str(p)) for p in pattern if p is not None)
                return " or ".join(t[:1].lower() + t[1:] for t in titles) + (f" ({values})" if values else "")
            return _fact_text(pred, pattern)
        return self.kb.describe(pred, self._shown_args(pred, shown))
