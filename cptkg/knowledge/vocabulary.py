"""The values claim and encounter input may use, read from the loaded ontology.

A provider role, a device, a route or a documented service is a term of the
family pack's ontology extension carrying an ``ont:inputValue`` (the text a
claim or encounter writes): roles are the classes below ``ont:ProviderRole``,
devices the instances of ``ont:DeviceType``, routes of ``ont:Route``, services
of ``ont:Service``. No list of them is written in Python, so a new family's
roles and devices are accepted the day its pack is loaded.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

KINDS = {"role": "ProviderRole", "device": "DeviceType", "route": "Route", "service": "Service"}


#: How a written value is matched when it is not a value exactly: "Physician", " Intrathecal " and "Nurse
#: Practitioner" are the roles and routes "physician", "intrathecal" and "nurse_practitioner", as a code or a
#: modifier is read in any case. Only ASCII letters, spaces and hyphens are folded, so that SQL's
#: ``translate`` (the batch path, cptkg.judge.batch) folds a value exactly as Python does.
FOLD_FROM = string.ascii_uppercase + " -"
FOLD_TO = string.ascii_lowercase + "__"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Vocabulary:
    """Input value -> ontology term, per kind (role, device, route, service)."""

    terms: dict[str, dict[str, str]]
    # NUCC taxonomy code -> role input value, and (prefix, role) longest first
    taxonomy: dict[str, str] = None
    taxonomy_prefixes: tuple[tuple[str, str], ...] = ()

    def values(self, kind: str) -> list[str]:
        """The accepted input values of ``kind``, sorted."""
        return sorted(self.terms.get(kind, {}))

    def term(self, kind: str, value: str) -> str | None:
        return self.terms.get(kind, {}).get(value)

    def value_of(self, kind: str, term: str) -> str | None:
        """The input value that stands for ``term`` (e.g. a device term the rules bound)."""
        for v, t in self.terms.get(kind, {}).items():
            if t == term:
                return v
        return None

    def folded(self, kind: str) -> dict[str, str]:
        """Folded value -> the value it stands for, for the values no other value of ``kind`` folds to."""
        seen: dict[str, list[str]] = {}
        for v in self.values(kind):
            seen.setdefault(fold(v), []).append(v)
        return {k: vs[0] for k, vs in seen.items() if len(vs) == 1}

    def canonical(self, kind: str, value: object) -> object:
        """The value ``value`` stands for: itself when it is one, else the one it folds to when trimmed
        (:func:`fold`), else ``value`` unchanged (which :meth:`refusal` then refuses)."""
        if not isinstance(value, str) or value in self.terms.get(kind, {}):
            return value
        from cptkg.controls import CELL_STRIP

        return self.folded(kind).get(fold(value.strip(CELL_STRIP)), value)

    def refusal(self, kind: str, value: object) -> str | None:
        """Why ``value`` is not a ``kind`` of this knowledge base, or None when it is."""
        if isinstance(value, str) and value in self.terms.get(kind, {}):
            return None
        allowed = [f"'{v}'" for v in self.values(kind)]
        listed = ", ".join(allowed[:-1]) + (f" or {allowed[-1]}" if len(allowed) > 1 else (allowed[0] if allowed else "nothing"))
        if not isinstance(value, str):
            return f"must be text naming a {kind}: one of {listed}"
        return f"'{value[:40]}' is not a {kind} of this knowledge base: one of {listed}"


def vocabulary(kb) -> Vocabulary:
    """The KB's input vocabulary, computed once per loaded KB."""
    cached = kb.cache.get("vocabulary")
    if cached is not None:
        return cached
    values = {}
    for term, text in kb.facts.get("input_value", ()):
        values.setdefault(term, []).append(text)
    subclass = kb.facts.get("subclass_of", set())
    instance = kb.facts.get("instance_of", set())
    terms: dict[str, dict[str, str]] = {k: {} for k in KINDS}
    for term, texts in values.items():
        for kind, cls in KINDS.items():
            is_kind = ((term, cls) in subclass and term != cls) if kind == "role" else (term, cls) in instance
            if is_kind:
                for text in texts:
                    terms[kind][text] = term
    taxonomy: dict[str, str] = {}
    prefixes: list[tuple[str, str]] = []
    role_value = {t: v for v, t in terms["role"].items()}
    for term, code in kb.facts.get("nucc_taxonomy", ()):
        if term in role_value:
            taxonomy[str(code).upper()] = role_value[term]
    for term, prefix in kb.facts.get("nucc_taxonomy_prefix", ()):
        if term in role_value:
            prefixes.append((str(prefix).upper(), role_value[term]))
    prefixes.sort(key=lambda p: (-len(p[0]), p[0]))
    kb.cache["vocabulary"] = Vocabulary(terms, taxonomy, tuple(prefixes))
    return kb.cache["vocabulary"]
