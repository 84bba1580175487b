"""The knowledge base object: what a loaded pack is, apart from how it is loaded and cached.

Why its own module: every layer that judges or explains reads a
:class:`KnowledgeBase` (facts, sources, programs, labels), while only the
faces load one (:mod:`cptkg.knowledge.loader`) and only the loader reads and
writes the KB cache (:mod:`cptkg.knowledge.kb_cache`). Its graphs are
properties: a KB read from the KB cache is given a way to parse them and
parses them the first time a command asks (explanations, exports, the
explorer's graph), once, under a lock.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rdflib import RDF, RDFS, SKOS, Graph, Literal, URIRef

from cptkg.knowledge.namespace import KB, ONT, SRC
from cptkg.knowledge.pack import FamilyPack
from cptkg.rules.ast import Rule
from cptkg.rules.program import Program

NAMESPACES = (str(KB), str(ONT._NS), str(SRC))

_graph_lock = threading.Lock()


@dataclass(frozen=True)
class Source:
    id: str
    document: str
    section: str
    section_title: str
    quote: str
    confidence: str
    normative: bool
    maps_to: tuple[str, ...] = ()
    document_title: str = ""  # the document's ont:shortTitle ("guide", "domain notes"), else its id
    # an edit table read from a file (ont:citation, ont:fileSha256): how to cite it
    citation: str = ""

    def cite(self) -> str:
        """Short citation for a reason line: 'guide §6.2 (Billing Guidelines)' for a numbered
        section, 'domain notes, Who may perform (high confidence)' for a named one, an
        imported edit table's own citation."""
        if self.citation:
            return self.citation
        doc = self.document_title or self.document
        if self.section.replace(".", "").isdigit():
            return f"{doc} §{self.section} ({self.section_title})"
        return f"{doc}, {self.section} ({self.confidence} confidence)"

    def to_json(self) -> dict:
        return {"id": self.id, "document": self.document, "section": self.section,
                "section_title": self.section_title, "quote": self.quote,
                "confidence": self.confidence, "citation": self.cite()}


def local(node) -> object:
    """The Datalog constant for an RDF node.

    >>> local(URIRef("https://w3id.org/cptkg/kb/62367"))
    '62367'
    >>> local(Literal(3))
    3
    """
    if isinstance(node, Literal):
        v = node.toPython()
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return v
        return str(node)
    s = str(node)
    for ns in NAMESPACES:
        if s.startswith(ns):
            return s[len(ns):]
    return s


@dataclass(eq=False)  # hashed by identity: caches key on the loaded KB
class KnowledgeBase:
    """A loaded pack (and the edit tables loaded over it): facts, sources, the two programs, words.

    Built by :func:`cptkg.knowledge.loader.load_kb` only. The ontology graph,
    the KB graph and their union are :attr:`ontology_graph`, :attr:`kb_graph`
    and :attr:`graph`: given as ``parsed_graphs`` when the pack was parsed, or parsed
    by ``parse_graphs`` when first asked for (a KB read from the KB cache,
    which holds facts and rules but no triples).
    """
    root: Path
    facts: dict[str, set[tuple]]
    edb: dict[str, int]
    verdicts: dict[str, str]
    sources: dict[str, Source]
    check_program: Program
    infer_program: Program
    rule_files: list[Path]
    subject_file: dict[str, str] = field(default_factory=dict)
    version: str = ""
    phrases: dict[str, str] = field(default_factory=dict)
    input_predicates: dict = field(default_factory=dict)
    # request kind -> input predicate -> argument types, as the ontology declares them (_input_types)
    input_types: dict = field(default_factory=dict)
    # results derived from this KB by other layers (the static part of the
    # rules per engine, say); dropped with the KB
    cache: dict = field(default_factory=dict)
    properties: dict[str, URIRef] = field(default_factory=dict)
    _fact_sources: dict = field(default_factory=dict)
    # the edit files loaded over the pack (--edits), as edit tables: their facts are not in ``facts``
    # (a quarterly table is millions of them); see edit_index() and all_facts()
    edit_tables: list = field(default_factory=list)
    pack: FamilyPack | None = None
    # edit files loaded over the pack (--edits), in order
    edit_files: list[Path] = field(default_factory=list)
    # several releases loaded together (cptkg.knowledge.edits.releases): one line each for the analyst,
    # and per table the rows a newer release replaced (the rules never see them; ask edit names them)
    edit_notices: list[str] = field(default_factory=list)
    edit_superseded: list = field(default_factory=list)
    # (first day, label) of the oldest loaded release with unit edits: it also judges earlier dates, and
    # check and batch say how many lines it judged so (cptkg.judge.notes.unit_release_note)
    first_unit_release: tuple[str, str] | None = None
    # rule id -> title in billing words, and for warning rules the verdict an accepted line is reported with
    # (each rule's ``% title:`` and ``% verdict:``; a pack's rules/titles.yaml is still read)
    rule_titles: dict[str, str] = field(default_factory=dict)
    rule_verdicts: dict[str, str] = field(default_factory=dict)
    # warning rules whose warning means no rule of the pack judged the line (``% checked: false``)
    rule_unchecked: frozenset = frozenset()
    # (ontology graph, KB graph, their union), or None until ``parse_graphs`` has made them
    parsed_graphs: tuple[Graph, Graph, Graph] | None = field(default=None, repr=False)
    # how a KB read from the KB cache parses its graphs (the loader's Turtle parsing), when first asked for
    parse_graphs: Callable[[], tuple[Graph, Graph, Graph]] | None = field(default=None, repr=False)

    def _graphs(self) -> tuple[Graph, Graph, Graph]:
        graphs = self.parsed_graphs
        if graphs is None:
            with _graph_lock:  # two explorer sessions asking at once parse them once
                if self.parsed_graphs is None:
                    if self.parse_graphs is None:
                        raise AttributeError("this knowledge base was built without its graphs")
                    self.parsed_graphs = tuple(self.parse_graphs())
                graphs = self.parsed_graphs
        return graphs

    @property
    def ontology_graph(self) -> Graph:
        """The core ontology and the pack's ontology extension."""
        return self._graphs()[0]

    @property
    def kb_graph(self) -> Graph:
        """The pack's KB files (and the triples of the edit files loaded over it)."""
        return self._graphs()[1]

    @property
    def graph(self) -> Graph:
        """The ontology and the KB in one graph (labels, descriptors, SPARQL, exports)."""
        return self._graphs()[2]

    @property
    def graphs_parsed(self) -> bool:
        """Whether the graphs are in memory (a KB read from the KB cache has not parsed them yet)."""
        return self.parsed_graphs is not None

    def rule_title(self, rule_id: str) -> str:
        """A rule's title in billing words (its ``% title:``); a rule without one reads as its message's start."""
        title = self.rule_titles.get(rule_id)
        if title:
            return title
        rule = self.rule(rule_id)
        if rule is not None and rule.meta.message:
            import re

            words = re.sub(r"\{[^}]*\}", "…", rule.meta.message).split(":")[0].split(";")[0]
            return words[:1].upper() + words[1:80].rstrip(" .")
        return rule_id

    def edit_location(self, term: str) -> str:
        """Where an auditor finds an edit again (a message's ``{X:edit}``): an imported edit as "row 8 of
        PTP-PRA-f1.txt, release 2026Q2" (the file CMS published, as the edit's source names it), any other
        edit by its label. A CSV of verdicts said "edit table row 8" with no file or release."""
        found = self.edit_index().locate(term) if self.edit_tables else None
        return self.label(term) if found is None else edit_place(*found)

    def label(self, term: str) -> str:
        """Readable name of a KB term (role, device, service …), for messages.

        Remembered per term (a loaded KB's graph does not change): messages
        and proofs ask for the same labels thousands of times.
        """
        if not isinstance(term, str) or any(ch in term for ch in " \"<>{}|^`\\"):
            return str(term)  # text (a phrase of labels, an input value), not a term
        memo = self.cache.setdefault("labels", {})
        out = memo.get(term)
        if out is None:
            out = str(term)
            for ns in NAMESPACES:
                lab = self.graph.value(URIRef(ns + str(term)), RDFS.label) or self.graph.value(URIRef(ns + str(term)), SKOS.prefLabel)
                if lab is not None:
                    out = str(lab)
                    break
            else:  # an input value ("physical_therapist") reads as the label of the term it stands for
                named = [t for t, v in self.facts.get("input_value", ()) if v == term]
                if len(named) == 1:
                    out = self.label(named[0])
                elif getattr(self, "edit_tables", None):
                    # an edit of a loaded table as the analyst names it ("NCCI PTP edit 99213/36415", "MUE
                    # 64483"), as its denial does, not by its IRI (an audit found warnings naming
                    # "https://w3id.org/cptkg/edits/ptp-794463c02606/5")
                    found = self.edit_index().locate(term)
                    if found is not None:
                        table, i = found
                        out = table.describe(i).split(",")[0]
            memo[term] = out
        return out

    def repeat_modifier_sets(self) -> dict[str, str]:
        """Modifier -> the modifier set that marks it a true repeat procedure (the core ontology's
        ``ont:marksRepeat``: 76 and 77 in the pump pack). Read by the claim inputs (a true repeat is no
        duplicate) and the fixes (which repeat modifier to offer); made once per KB."""
        out = self.cache.get("repeat_sets")
        if out is None:
            marks = {st for (st, v) in self.facts.get("modifier_set_marks_repeat", ()) if str(v).lower() == "true"}
            out = self.cache["repeat_sets"] = {str(m): st for (st, m) in self.facts.get("modifier_in_set", ())
                                               if st in marks}
        return out

    def fact_sources(self, pred: str, args: tuple) -> list[str]:
        """Source ids a KB fact rests on (axiom annotation, else its subject's; for a
        fact about an edit read from an edit file, the edit's own dct:source)."""
        found = self._fact_sources.get((pred, tuple(args)))
        if found is None and args and self.edit_tables:
            found = self.edit_index().sources_of(args[0])
        return list(found or [])

    def all_facts(self) -> dict[str, set[tuple]]:
        """The pack's facts and every fact of the edit tables loaded over it (for whole-KB consumers: batch).

        Built once per KB; for a quarterly edit table that is millions of facts.
        """
        if not self.edit_tables:
            return self.facts
        out = self.cache.get("all_facts")
        if out is None:
            out = {p: set(rows) for p, rows in self.facts.items()}
            for t in self.edit_tables:
                for pred, rows in t.facts().items():
                    out.setdefault(pred, set()).update(rows)
            self.cache["all_facts"] = out
        return out

    def unsourced_facts(self) -> list[tuple[str, tuple]]:
        """KB facts no source annotates (neither an axiom annotation nor their subject's dct:source).

        ``cptkg lint`` and ``cptkg sources`` report them; a proof shows such a
        leaf as unsourced, never with a source of its own making.
        """
        from cptkg.knowledge.namespace import KB, ONT

        def pack_fact(key) -> bool:  # a fact the pack states (the core's schema and sources' own metadata aside)
            pred, args = key
            if pred == "subclass_of" and args[0] == args[1]:
                return False
            subj = next((ns + str(args[0]) for ns in (str(KB), str(ONT._NS)) if ns + str(args[0]) in self.subject_file), "")
            if not subj or self.subject_file[subj].startswith("core:"):
                return False
            return (URIRef(subj), RDF.type, ONT.Source) not in self.graph

        return sorted((k for k, v in self._fact_sources.items() if not v and pack_fact(k)),
                      key=lambda k: (k[0], tuple(map(str, k[1]))))

    def describe(self, pred: str, args: tuple) -> str:
        """A fact in words, from the predicate's ont:phrase in the ontology."""
        from cptkg.rules.messages import phrase

        codes = {c for (c,) in self.facts.get("code", ())}
        show = lambda a: str(a) if isinstance(a, int) or a in codes else self.label(str(a))  # noqa: E731
        tpl = self.phrases.get(pred)
        if tpl is None:
            return f"{pred}({', '.join(show(a) for a in args)})"
        # a yes/no property phrased "62365 removes the device: {1}" reads "62365 removes the device" when true and
        # "... : no" when false, not "...: true" (an audit found "removes the device: true" in a proof)
        last = len(args) - 1
        if args and str(args[-1]).lower() in ("true", "false") and tpl.endswith(f": {{{last}}}"):
            head = phrase(tpl[: -len(f": {{{last}}}")], args[:-1], show)
            return head if str(args[-1]).lower() == "true" else f"{head}: no"
        return phrase(tpl, args, show)

    def codes(self) -> list[str]:
        return sorted(c for (c,) in self.facts.get("code", set()))

    def edit_index(self):
        """The facts about edits, indexed by the codes they name (built once per KB)."""
        idx = self.cache.get("edit_index")
        if idx is None:
            from cptkg.knowledge.edits.index import build, column_predicates

            code_preds, group_preds = column_predicates(self.ontology_graph, self.properties)
            idx = self.cache["edit_index"] = build(self.facts, code_preds, group_preds, self.edit_tables)
        return idx

    def family_codes(self, family: str | None = None) -> list[str]:
        """Codes of ``family`` (default: the pack's own code family)."""
        family = family or self.pack.code_family
        return sorted(c for (c, f) in self.facts.get("in_family", set()) if f == family)

    def descriptor(self, code: str) -> str:
        return str(self.graph.value(KB[code], SKOS.prefLabel) or "")

    def rule(self, rule_id: str) -> Rule | None:
        return self.check_program.by_id(rule_id) or self.infer_program.by_id(rule_id)

    def rule_source(self, rule: Rule) -> list[Source]:
        return [self.sources[s] for s in rule.meta.source if s in self.sources]



def edit_place(table, i: int) -> str:
    """Row ``i`` of an imported edit ``table`` as an auditor finds it again: "row 8 of FILE, release R"."""
    rec = table.edit_record(i)
    where = f"row {rec['row']} of {rec['file']}" if rec.get("row") is not None else f"in {rec['file']}"
    return where + (f", release {rec['release']}" if rec.get("release") else "")
