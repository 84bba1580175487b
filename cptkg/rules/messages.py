"""Fill a rule's message template with its bindings, in billing words.

Format specs keep rule files readable without string building in Datalog:
``{X:entry}`` renders a billed entry id as "line 2" or "history entry 1",
``{X:label}`` renders a KB term (role class, device, service) by its label.
"""
from __future__ import annotations

import string
from typing import Callable


#: claim input predicates whose argument holds a person's identifier: predicate -> {position: noun}.
#: Verdict text never shows such a value (docs/decision-log.md: ids are never in clear in a message):
#: cptkg lint refuses a message field bound there, and an explanation names the value by the first
#: entry that carries it ("the provider of line 1"), so a proof still shows which lines share one.
IDENTIFIER_ARGS = {"billed_provider": {1: "provider"}}
#: how a summary says that several entries share one such identifier: predicate -> the verb phrase before
#: "the same <noun>" ("line 3 and line 2 were performed by the same provider")
SHARED_IDENTIFIER_VERBS = {"billed_provider": "were performed by"}


def identifier_variables(rule) -> dict[str, str]:
    """``rule``'s variables bound at an identifier position of a body literal: name -> noun ("provider")."""
    from cptkg.rules.ast import Literal, Var

    out: dict[str, str] = {}
    for item in rule.body:
        if isinstance(item, Literal) and item.atom.pred in IDENTIFIER_ARGS:
            for i, noun in IDENTIFIER_ARGS[item.atom.pred].items():
                if i < len(item.atom.args) and isinstance(item.atom.args[i], Var) and not item.atom.args[i].anonymous:
                    out[item.atom.args[i].name] = noun
    return out


#: the claim inputs' argument positions that hold a billed entry (a line number, or -1, -2 … for the history)
ENTRY_ARGS = {("line", 0), ("billed", 0), ("in_history", 0), ("billed_provider", 0), ("line_role", 0),
              ("line_units", 0), ("line_route", 0), ("line_modifier", 0)}


def entry_variables(rule) -> set[str]:
    """``rule``'s variables that hold a billed entry: shown ``{X:entry}`` in its message, or bound at an
    entry position of a claim input. A proof says "history entry 1 is not line 2", not "-1 is not 2"."""
    from cptkg.rules.ast import Literal, Var

    out = set(entry_fields(getattr(rule.meta, "message", None)))
    for item in rule.body:
        if isinstance(item, Literal) and not item.negated:
            for i, a in enumerate(item.atom.args):
                if (item.atom.pred, i) in ENTRY_ARGS and isinstance(a, Var) and not a.anonymous:
                    out.add(a.name)
    return out


def entry_name(e: object) -> str:
    """A billed entry id as a message shows it: a line by its number, a history entry by its place.

    >>> entry_name(2), entry_name(-1)
    ('line 2', 'history entry 1')
    """
    if isinstance(e, int) and e < 0:
        return f"history entry {-e}"
    return f"line {e}"


def entry_fields(template: str | None) -> set[str]:
    """The fields ``template`` shows as billed entries (``{X:entry}``): the variables of its rule that hold a
    line or history entry, not a code, date or count.

    >>> sorted(entry_fields("{C} on line {L} is included in {C1} ({E:entry}) on {D}"))
    ['E']
    """
    return {name for _, name, spec, _ in string.Formatter().parse(template or "") if name and spec == "entry"}


class _Formatter(string.Formatter):
    def __init__(self, label: Callable[[str], str], edit: Callable[[str], str] | None = None):
        self.label = label
        self.edit = edit or label

    def format_field(self, value, spec):
        if spec == "entry":
            return entry_name(value)
        if spec == "label":
            return self.label(str(value))
        if spec == "edit":
            return self.edit(str(value))
        # no widths, precisions or conversions from a rule file (cptkg lint refuses them too)
        return super().format_field(value, "")


def fill(template: str, bindings: dict, label: Callable[[str], str], edit: Callable[[str], str] | None = None) -> str:
    """Fill ``template``; an unbound field is shown as '?', never raised.

    ``{X:edit}`` shows an edit where an auditor finds it again: an imported edit by its row, file and release
    (``edit``, :meth:`cptkg.knowledge.kb.KnowledgeBase.edit_location`), any other by its label."""
    safe = {k: v for k, v in bindings.items()}
    for _, name, _, _ in string.Formatter().parse(template):
        if name and name not in safe:
            safe[name] = "?"
    return _Formatter(label, edit).format(template, **safe)


class _Positional(string.Formatter):
    def __init__(self, show: Callable[[object], str]):
        self.show = show

    def format_field(self, value, spec):
        if spec == "entry":
            return entry_name(value)
        return self.show(value)


def phrase(template: str, args: tuple, show: Callable[[object], str]) -> str:
    """Render a predicate phrase: ``{0}`` shows an argument by its label, ``{0:entry}`` as a billed entry.

    >>> phrase("{0:entry} bills {1}", (-1, "10021"), str)
    'history entry 1 bills 10021'
    """
    return _Positional(show).format(template, *args)
