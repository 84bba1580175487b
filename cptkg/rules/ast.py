"""The rule language's syntax tree.

Every backend (pyDatalog for interactive checks, SQL for batches, the
explainer) works from these classes, never from rule text, so that no rule
text is ever handed to a Python-executing loader.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


ANONYMOUS_PREFIX = "_?"  # the parser's name for the n-th '_' of a rule: '_?1', '_?2', ...


@dataclass(frozen=True)
class Var:
    name: str

    @property
    def anonymous(self) -> bool:
        """A '_' of the rule text (a variable named '_1' or '_X' by its writer is a named variable)."""
        return self.name.startswith(ANONYMOUS_PREFIX) or self.name == "_"

    def __str__(self) -> str:
        return "_" if self.anonymous else self.name


@dataclass(frozen=True)
class Const:
    value: Union[str, int]

    def __str__(self) -> str:
        if isinstance(self.value, int):
            return str(self.value)
        return '"' + self.value.replace("\\", "\\\\").replace('"', '\\"') + '"'


Term = Union[Var, Const]


@dataclass(frozen=True)
class Atom:
    pred: str
    args: tuple[Term, ...]

    @property
    def arity(self) -> int:
        return len(self.args)

    def vars(self) -> list[Var]:
        return [a for a in self.args if isinstance(a, Var)]

    def __str__(self) -> str:
        return f"{self.pred}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Literal:
    atom: Atom
    negated: bool = False

    def vars(self) -> list[Var]:
        return self.atom.vars()

    def __str__(self) -> str:
        return ("not " if self.negated else "") + str(self.atom)


COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Comparison:
    op: str
    left: Term
    right: Term

    def vars(self) -> list[Var]:
        return [t for t in (self.left, self.right) if isinstance(t, Var)]

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


BodyItem = Union[Literal, Comparison]


# Kinds of fix a rule may declare (``% fix: kind [Variable]``), and the number
# of rule variables each takes: the explainer implements each kind once, for
# every rule that declares it.
FIX_KINDS = {
    "remove": 0,        # drop the line
    "combine": 1,       # replace the line and line E by the code inference gives for both
    "void": 1,          # void or correct history entry E before billing the line
    "recode": (0, 1),   # bill the code that fits the line's services, performer (and device D)
    "add-modifier": 1,  # add modifier M to the line
    "units": 2,         # bill the line with N - M fewer units (N billed, M the most a unit edit allows)
}


@dataclass
class RuleMeta:
    """What a rule says about itself in its structured comments."""

    id: str | None = None
    message: str | None = None
    source: list[str] = field(default_factory=list)
    confidence: str | None = None
    # What a fix of a line this rule rejects may do (see FIX_KINDS), e.g.
    # ["combine E", "recode Dev"]; removing the line is always allowed.
    fix: list[str] = field(default_factory=list)
    # The X12 reason a denial by this rule is reported with (``% carc:``,
    # ``% group:``, optional ``% rarc:``): every rule deriving a rejection
    # carries one, a warning none.
    carc: str | None = None
    group: str | None = None
    rarc: str | None = None
    # any other ``% key: value`` of the block, among them the rule's wording for
    # analysts (``title``, ``verdict``, ``checked``: see the properties below)
    extra: dict[str, str] = field(default_factory=dict)

    # The rule's wording lives in ``extra`` (kept as written, so the KB cache and
    # the Datalog export carry it without a field of their own); a pack author
    # titles a rule on the rule itself, as OPA's ``# METADATA`` block does.

    @property
    def title(self) -> str | None:
        """``% title:`` the rule in billing words (explanations, the line table, the rules page)."""
        value = " ".join((self.extra.get("title") or "").split())
        return value or None

    @property
    def verdict(self) -> str | None:
        """``% verdict:`` for a warning rule, the verdict an accepted line carrying the warning reads as."""
        value = " ".join((self.extra.get("verdict") or "").split())
        return value or None

    @property
    def checked(self) -> bool:
        """``% checked: false`` on a warning rule: the warning means no rule of the pack judged the line.

        >>> RuleMeta(extra={"checked": "false"}).checked, RuleMeta().checked
        (False, True)
        """
        return (self.extra.get("checked") or "true").strip().lower() != "false"


@dataclass
class Rule:
    head: Atom
    body: tuple[BodyItem, ...]
    meta: RuleMeta = field(default_factory=RuleMeta)
    file: str = "<text>"
    line: int = 0

    @property
    def is_fact(self) -> bool:
        return not self.body

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def positive(self) -> list[Literal]:
        return [b for b in self.body if isinstance(b, Literal) and not b.negated]

    def negative(self) -> list[Literal]:
        return [b for b in self.body if isinstance(b, Literal) and b.negated]

    def comparisons(self) -> list[Comparison]:
        return [b for b in self.body if isinstance(b, Comparison)]

    def variables(self) -> list[Var]:
        """Named variables in order of first appearance (head first)."""
        seen: dict[str, Var] = {}
        for v in self.head.vars():
            seen.setdefault(v.name, v)
        for item in self.body:
            for v in item.vars():
                if not v.anonymous:
                    seen.setdefault(v.name, v)
        return list(seen.values())

    def __str__(self) -> str:
        if not self.body:
            return f"{self.head}."
        return f"{self.head} :- {', '.join(map(str, self.body))}."


# --------------------------------------------------------------- as data
# Parsed rules as plain JSON-able data (the KB cache keeps them so that a
# start need not parse the rule files again): never code, never a pickle.

def _term_data(t: Term) -> list:
    return ["v", t.name] if isinstance(t, Var) else ["c", t.value]


def _term_of(d: list) -> Term:
    kind, value = d
    if kind == "v" and isinstance(value, str):
        return Var(value)
    if kind == "c" and isinstance(value, (str, int)) and not isinstance(value, bool):
        return Const(value)
    raise ValueError(f"not a term: {d!r}")


def _atom_data(a: Atom) -> list:
    return [a.pred, [_term_data(t) for t in a.args]]


def _atom_of(d: list) -> Atom:
    pred, args = d
    if not isinstance(pred, str):
        raise ValueError(f"not a predicate: {pred!r}")
    return Atom(pred, tuple(_term_of(t) for t in args))


def rule_data(rule: Rule) -> dict:
    """A parsed rule as data (:func:`rule_of` gives it back).

    >>> r = Rule(Atom("p", (Var("X"),)), (Literal(Atom("q", (Var("X"), Const(1)))), Comparison("!=", Var("X"), Const("a"))))
    >>> rule_of(rule_data(r)) == r
    True
    """
    body = []
    for b in rule.body:
        if isinstance(b, Literal):
            body.append(["lit", b.negated, _atom_data(b.atom)])
        else:
            body.append(["cmp", b.op, _term_data(b.left), _term_data(b.right)])
    m = rule.meta
    return {"head": _atom_data(rule.head), "body": body, "file": rule.file, "line": rule.line,
            "meta": {"id": m.id, "message": m.message, "source": list(m.source), "confidence": m.confidence,
                     "fix": list(m.fix), "carc": m.carc, "group": m.group, "rarc": m.rarc, "extra": dict(m.extra)}}


def rule_of(d: dict) -> Rule:
    """The rule :func:`rule_data` wrote (ValueError for anything else)."""
    body: list = []
    for b in d["body"]:
        if b[0] == "lit":
            body.append(Literal(_atom_of(b[2]), bool(b[1])))
        elif b[0] == "cmp" and b[1] in COMPARISON_OPS:
            body.append(Comparison(b[1], _term_of(b[2]), _term_of(b[3])))
        else:
            raise ValueError(f"not a body item: {b!r}")
    m = d["meta"]
    meta = RuleMeta(id=m["id"], message=m["message"], source=list(m["source"]), confidence=m["confidence"],
                    fix=list(m["fix"]), carc=m["carc"], group=m["group"], rarc=m["rarc"], extra=dict(m["extra"]))
    return Rule(_atom_of(d["head"]), tuple(body), meta, str(d["file"]), int(d["line"]))
